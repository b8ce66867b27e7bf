"""Datasets: splits, leakage guard (fixture and real corpus), caching, tokenization, curriculum."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from codegen.data import (
    SPLITS, build_dataset, build_raw, check_leakage, load_split, normalize_name, partition, split_assignment, split_of,
)
from codegen.language import Record, get_language
from conftest import make_fixture_corpus

REPO = Path(__file__).resolve().parent.parent
TOKENIZER = REPO / "checkpoints" / "tokenizer"


@pytest.fixture(scope="module")
def fixture_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("fixture")
    return make_fixture_corpus(root / "loda-programs"), root / "cache"


@pytest.fixture
def fixture_env(fixture_corpus, monkeypatch):
    """The fixture corpus, with every cache (corpus index, datasets) in a temporary dir."""
    monkeypatch.setenv("CODEGEN_CACHE_DIR", str(fixture_corpus[1]))
    return fixture_corpus


def test_split_of_is_stable_and_proportional():
    assert split_of("A000045") == split_of("A000045")
    counts = {s: 0 for s in SPLITS}
    for number in range(20000):
        counts[split_of(f"A{number:06d}")] += 1
    assert 0.95 < counts["train"] / 20000 < 0.97
    assert 0.015 < counts["validation"] / 20000 < 0.025 and 0.015 < counts["test"] / 20000 < 0.025


def test_normalize_name():
    assert normalize_name("Shared name, punctuated!") == normalize_name("shared   NAME punctuated") \
        == "shared name punctuated"


def test_partition_moves_groups_together():
    # pick ids whose base splits differ, then make them share a program / a name
    ids = [f"A{n:06d}" for n in range(1, 3000)]
    test_id = next(i for i in ids if split_of(i) == "test")
    train_id = next(i for i in ids if split_of(i) == "train")
    valid_id = next(i for i in ids if split_of(i) == "validation")
    records = [
        Record(id=test_id, prompt="<loda> alpha", code="mov $0,1\n"),
        Record(id=train_id, prompt="<loda> beta", code="mov $0,1\n"),  # same program as test_id
        Record(id=valid_id, prompt="<loda> Beta.", code="mov $0,2\n"),  # same name as train_id
        Record(id=valid_id, prompt="<loda> Beta. <terms> 1, 2", code="mov $0,2\n"),  # same id, other recipe
    ]
    assignment, report = partition(records)
    smallest = min(test_id, train_id, valid_id)
    assert assignment[test_id] == assignment[train_id] == assignment[valid_id] == split_of(smallest)
    assert report["moved"] == 2 and report["largest_group"] == 3
    assert check_leakage(records, assignment) == {"programs_in_two_splits": 0, "names_in_two_splits": 0}


def test_build_fixture_dataset(fixture_env):
    corpus, cache = fixture_env
    raw = build_raw(corpus, "loda", ["loda", "loda-terms"], log=None)
    total = sum(len(raw[s]) for s in SPLITS)
    assert total == 2 * 159  # A000002 is denied
    report = raw.leakage_report
    assert report["programs_in_two_splits"] == 0 and report["names_in_two_splits"] == 0
    # same id -> same split across recipes; every program and name in one split
    where: dict[str, set[str]] = {}
    for split in SPLITS:
        for row in raw[split]:
            where.setdefault(row["id"], set()).add(split)
            where.setdefault(row["code"], set()).add(split)
    assert all(len(v) == 1 for v in where.values())
    assert next(iter(where["A000050"])) == next(iter(where["A000051"]))
    assert next(iter(where["A000060"])) == next(iter(where["A000061"]))
    # load_split is the truth, for either recipe
    for split in SPLITS:
        for recipe in ("loda", "loda-terms"):
            records = load_split(corpus, "loda", split, recipe=recipe)
            assert {r.id for r in records} == {row["id"] for row in raw[split] if row["recipe"] == recipe}
    test_records = load_split(corpus, "loda", "train", recipe="loda-terms")
    assert test_records[0].terms and "<terms>" in test_records[0].prompt and test_records[0].meta["recipe"] == "loda-terms"
    # cached: a second build reads the Arrow files
    again = build_raw(corpus, "loda", ["loda", "loda-terms"], log=None)
    assert getattr(again, "from_cache", False)
    assert list(cache.glob("data/raw-loda-*"))


def test_tokenized_dataset_and_curriculum(fixture_env):
    from codegen.tokenizer import decode_code, load_tokenizer

    corpus, _ = fixture_env
    tokenizer = load_tokenizer(TOKENIZER)
    data = build_dataset(corpus, "loda", ["loda", "loda-terms"], tokenizer=tokenizer, max_source_length=24,
                         max_target_length=64, log=None)
    row = data["train"][0]
    assert len(row["input_ids"]) <= 24 and row["input_ids"][-1] == tokenizer.eos_token_id
    assert decode_code(tokenizer, "loda", row["labels"], row["prompt"]) == row["code"]
    assert row["length"] == len(row["input_ids"]) + len(row["labels"])
    staged = build_dataset(corpus, "loda", ["loda", "loda-terms"], tokenizer=tokenizer, max_source_length=24,
                           max_target_length=64, curriculum="length", curriculum_stages=2, log=None)
    lengths = staged["train"]["target_length"]
    half = sorted(lengths)[len(lengths) // 2]
    boundary = next(i for i, n in enumerate(lengths) if n > half)
    assert boundary > 0 and max(lengths[:boundary]) <= half < min(lengths[boundary:])


def test_data_cli_build(fixture_env, capsys):
    from codegen.data import main

    corpus, _ = fixture_env
    assert main(["build", "--corpus", str(corpus), "--lang", "loda"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert any("leakage guard" in line for line in out)
    summary = json.loads(out[-1])
    assert summary["programs_in_two_splits"] == 0 and summary["names_in_two_splits"] == 0


def test_real_corpus_no_leakage(corpus_path, corpus):
    """On the real corpus: no canonical program and no normalised name in two splits."""
    assignment, report = split_assignment(corpus_path, "loda", corpus=corpus)
    assert report["programs_in_two_splits"] == 0 and report["names_in_two_splits"] == 0
    loda = get_language("loda")
    records = list(loda.records("loda", corpus))
    assert check_leakage(records, assignment) == {"programs_in_two_splits": 0, "names_in_two_splits": 0}
    sizes = {s: sum(1 for v in assignment.values() if v == s) for s in SPLITS}
    assert sizes["test"] > 0.015 * len(assignment) and sizes["validation"] > 0.015 * len(assignment)


def test_build_raw_builds_each_recipe_once(fixture_corpus, tmp_path, monkeypatch):
    """The partition needs every recipe's records and the dataset needs them again: a fresh
    build makes them once (for WAT, compiling and verifying the OEIS programs takes minutes)."""
    from codegen.language import Language

    monkeypatch.setenv("CODEGEN_CACHE_DIR", str(tmp_path / "cache"))
    calls: dict[str, int] = {}
    original = Language.records

    def counting(self, recipe, corpus=None, **options):
        calls[recipe] = calls.get(recipe, 0) + 1
        return original(self, recipe, corpus, **options)

    monkeypatch.setattr(Language, "records", counting)
    raw = build_raw(fixture_corpus[0], "loda", ["loda"], log=None)
    assert calls == {"loda": 1, "loda-terms": 1}  # the partition covers both recipes, the dataset reuses one
    assert sum(len(raw[s]) for s in SPLITS) == 159


def test_cached_dataset_with_an_empty_split_loads_back(tmp_path):
    """A small corpus can leave a split empty; its cached Arrow copy must still load (the
    second run of a config reads the cache)."""
    from datasets import Dataset, DatasetDict, Features, Value

    from codegen.data import _atomic_save, _load_saved

    features = Features({"id": Value("string"), "target_length": Value("int32")})
    saved = DatasetDict({"train": Dataset.from_dict({"id": ["A1", "A2"], "target_length": [3, 4]}, features=features),
                         "test": Dataset.from_dict({"id": [], "target_length": []}, features=features)})
    _atomic_save(saved, tmp_path / "cache")
    loaded = _load_saved(tmp_path / "cache")
    assert loaded["train"]["id"] == ["A1", "A2"] and len(loaded["test"]) == 0
    assert loaded["test"].features == features
