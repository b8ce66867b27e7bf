"""`find_default_corpus`: the one lookup of the corpus that scripts and tests use when none is given."""
from __future__ import annotations

from pathlib import Path

import pytest

from languages.loda import corpus as corpus_module
from languages.loda.corpus import CORPUS_ENV, find_default_corpus


@pytest.fixture
def shared(tmp_path, monkeypatch) -> Path:
    """An empty stand-in for ../shared/corpora, and no $CODEGEN_LODA_CORPUS."""
    folder = tmp_path / "corpora"
    folder.mkdir()
    monkeypatch.setattr(corpus_module, "SHARED_CORPORA", folder)
    monkeypatch.delenv(CORPUS_ENV, raising=False)
    return folder


def test_the_shared_folder_is_beside_the_checkout():
    repo = Path(__file__).resolve().parent.parent
    assert corpus_module.SHARED_CORPORA == repo.parent / "shared" / "corpora"


def test_nothing_found(shared):
    assert find_default_corpus() is None


def test_a_tarball_in_the_shared_folder(shared):
    (shared / "loda-programs-aaa1111.tar.gz").write_bytes(b"")
    (shared / "loda-programs-bbb2222.tar.gz").write_bytes(b"")
    (shared / "other.tar.gz").write_bytes(b"")
    assert find_default_corpus() == shared / "loda-programs-bbb2222.tar.gz"


def test_the_environment_wins_where_it_names_an_existing_path(shared, tmp_path, monkeypatch):
    (shared / "loda-programs-aaa1111.tar.gz").write_bytes(b"")
    checkout = tmp_path / "loda-programs"
    checkout.mkdir()
    monkeypatch.setenv(CORPUS_ENV, str(checkout))
    assert find_default_corpus() == checkout
    monkeypatch.setenv(CORPUS_ENV, str(tmp_path / "missing"))  # a stale setting: the shared snapshot
    assert find_default_corpus() == shared / "loda-programs-aaa1111.tar.gz"
