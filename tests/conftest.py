"""Shared fixtures. Tests that need the LODA corpus read it from ../shared (or
$CODEGEN_LODA_CORPUS) and skip where it is absent, except under CI=true, where a
missing corpus is a failure: CI always has it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from languages.loda.corpus import find_default_corpus

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def load_benchmark(name: str):
    """A script of benchmarks/ as a module (the folder is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def corpus_path() -> Path:
    path = find_default_corpus()
    if path is None:
        message = "LODA corpus not found: expected ../shared/corpora/loda-programs-*.tar.gz or $CODEGEN_LODA_CORPUS"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def corpus(corpus_path):
    from languages.loda import Corpus

    # the user's cache ($CODEGEN_CACHE_DIR or ~/.cache/codegen): built once, then loads in about a second
    return Corpus.load(corpus_path, progress=False)


@pytest.fixture(scope="session")
def semantics_dir() -> Path:
    path = SHARED / "loda" / "semantics"
    if not path.is_dir():
        message = f"LODA semantics CSVs not found at {path}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path
