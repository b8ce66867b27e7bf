"""A built raw dataset as one file (codegen.dataset_file): `python -m codegen.data export` and
`codegen.train --data FILE` train where the corpus is not, on the same rows and splits."""
from __future__ import annotations

import gzip
import json
import lzma
from pathlib import Path

import pytest

from codegen.data import SPLITS, build_dataset, build_raw
from codegen.dataset_file import DataFileError, export, load_raw, read_header
from conftest import make_fixture_corpus

REPO = Path(__file__).resolve().parent.parent
TOKENIZER = REPO / "checkpoints" / "tokenizer"
WAT_OPTIONS = {"recipe_options": {"wat-problems": {"count": 1000, "seed": 3}}}  # one problem id moves


@pytest.fixture(scope="module")
def fixture_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("fixture")
    return make_fixture_corpus(root / "loda-programs", count=80)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEGEN_CACHE_DIR", str(tmp_path / "codegen-cache"))
    monkeypatch.delenv("CODEGEN_LODA_CORPUS", raising=False)
    return tmp_path / "data-cache"


def rows(dataset) -> dict[str, list[dict]]:
    return {s: [dict(row) for row in dataset[s]] for s in SPLITS}


@pytest.fixture(scope="module")
def loda_file(fixture_corpus, tmp_path_factory):
    """The fixture corpus's LODA dataset (both recipes) exported, and the dataset built from the corpus."""
    root = tmp_path_factory.mktemp("export")
    built = build_raw(fixture_corpus, "loda", ["loda", "loda-terms"], cache_dir=root / "cache", log=None)
    out = root / "loda.jsonl.xz"
    header = export(fixture_corpus, "loda", ["loda", "loda-terms"], out, cache_dir=root / "cache", log=None)
    return out, header, rows(built), built.leakage_report


def test_export_round_trip(loda_file, cache):
    out, header, built, report = loda_file
    assert header["recipes"] == ["loda", "loda-terms"] and header["rows"] == {s: len(built[s]) for s in SPLITS}
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # an ordinary file, not mkstemp's private one
    assert read_header(out)["corpus_hash"] == header["corpus_hash"]
    loaded = load_raw(out, "loda", ["loda", "loda-terms"], cache_dir=cache, log=None)
    assert rows(loaded) == built
    assert loaded.leakage_report == report
    assert loaded.source_key.startswith("file:")
    again = load_raw(out, "loda", ["loda", "loda-terms"], cache_dir=cache, log=None)  # from the Arrow cache
    assert getattr(again, "from_cache", False) and rows(again) == built
    # one recipe of the two: the rows of that recipe, in the same splits
    only = build_raw(None, "loda", ["loda-terms"], cache_dir=cache, log=None, data_file=out)
    assert rows(only) == {s: [r for r in built[s] if r["recipe"] == "loda-terms"] for s in SPLITS}


def test_training_data_from_the_file_is_the_corpus_data(loda_file, fixture_corpus, cache, tmp_path):
    from codegen.tokenizer import load_tokenizer

    out = loda_file[0]
    tokenizer = load_tokenizer(TOKENIZER)
    kwargs = dict(tokenizer=tokenizer, max_source_length=32, max_target_length=64, log=None)
    from_corpus = build_dataset(fixture_corpus, "loda", ["loda", "loda-terms"], cache_dir=tmp_path / "a", **kwargs)
    from_file = build_dataset(None, "loda", ["loda", "loda-terms"], cache_dir=cache, data_file=out, **kwargs)
    for split in SPLITS:
        assert from_file[split]["input_ids"] == from_corpus[split]["input_ids"]
        assert from_file[split]["labels"] == from_corpus[split]["labels"]
        assert from_file[split]["id"] == from_corpus[split]["id"]
    # tokenized caches key on the file's content: the same rows in another file are another entry
    other = tmp_path / "loda.jsonl.gz"
    with lzma.open(out, "rt") as source, gzip.open(other, "wt") as target:
        target.write(source.read())
    build_dataset(None, "loda", ["loda", "loda-terms"], cache_dir=cache, data_file=other, **kwargs)
    assert len(list(cache.glob("tok-loda-*"))) == 2


def test_a_recipe_that_needs_no_corpus_is_built_where_the_file_is_read(fixture_corpus, cache, tmp_path):
    """WAT: only wat-oeis (compiled from the corpus) travels; wat-problems is generated from code and
    split by the file's partition, so the rows are those built with the corpus, moves included."""
    recipes = ["wat-problems", "wat-oeis"]
    built = build_raw(fixture_corpus, "wat", recipes, cache_dir=tmp_path / "built", log=None, **WAT_OPTIONS)
    out = tmp_path / "wat-oeis.jsonl.xz"
    header = export(fixture_corpus, "wat", ["wat-oeis"], out, cache_dir=tmp_path / "built", log=None,
                    build_recipes=recipes, **WAT_OPTIONS)
    assert header["recipes"] == ["wat-oeis"]
    assert any(i.startswith("wat-L") for i in header["moves"])  # a generated problem whose group moved it
    loaded = load_raw(out, "wat", recipes, cache_dir=cache, log=None, **WAT_OPTIONS)
    assert rows(loaded) == rows(built)
    # other wat-problems options than the partition's: refused, not split differently
    with pytest.raises(DataFileError, match="wat-problems"):
        load_raw(out, "wat", recipes, cache_dir=cache, log=None,
                 recipe_options={"wat-problems": {"count": 999, "seed": 3}})


def test_bad_files_are_one_line_errors(loda_file, cache, tmp_path):
    out = loda_file[0]
    with pytest.raises(DataFileError, match="no such data file"):
        load_raw(tmp_path / "absent.jsonl.xz", "loda", ["loda"], cache_dir=cache)
    text = tmp_path / "notes.jsonl.gz"
    text.write_text("not gzip at all\n")
    with pytest.raises(DataFileError, match="not a data file"):
        load_raw(text, "loda", ["loda"], cache_dir=cache)
    wrong_name = tmp_path / "rows.jsonl"
    wrong_name.write_text("{}\n")
    with pytest.raises(DataFileError, match=r"\.xz or \.gz"):
        load_raw(wrong_name, "loda", ["loda"], cache_dir=cache)
    other = tmp_path / "other.jsonl.gz"
    with gzip.open(other, "wt") as handle:
        handle.write(json.dumps({"hello": 1}) + "\n")
    with pytest.raises(DataFileError, match="no header"):
        load_raw(other, "loda", ["loda"], cache_dir=cache)
    # a file without a recipe that needs the corpus names the file and the recipe
    only = tmp_path / "only-loda.jsonl.xz"
    with lzma.open(out, "rt") as source, lzma.open(only, "wt") as target:
        lines = source.read().splitlines()
        header = json.loads(lines[0])
        header.update(recipes=["loda"], recipe_options={"loda": header["recipe_options"]["loda"]})
        kept = [line for line in lines[1:] if json.loads(line)["recipe"] == "loda"]
        header["rows"] = {s: sum(json.loads(line)["split"] == s for line in kept) for s in SPLITS}
        target.write("\n".join([json.dumps(header)] + kept) + "\n")
    assert len(load_raw(only, "loda", ["loda"], cache_dir=cache, log=None)["train"])
    with pytest.raises(DataFileError, match=r"only-loda\.jsonl\.xz: holds no records of recipe 'loda-terms'"):
        load_raw(only, "loda", ["loda", "loda-terms"], cache_dir=cache)
    # options the file was not exported with (terms shown by loda-terms)
    with pytest.raises(DataFileError, match="loda-terms"):
        load_raw(out, "loda", ["loda-terms"], cache_dir=cache, terms_count=3)
    # a cut file
    cut = tmp_path / "cut.jsonl.xz"
    with lzma.open(out, "rt") as source, lzma.open(cut, "wt") as target:
        target.write("".join(source.readlines()[:-5]))
    with pytest.raises(DataFileError, match="truncated"):
        load_raw(cut, "loda", ["loda", "loda-terms"], cache_dir=cache)


def test_cli_export_and_train_errors(fixture_corpus, cache, tmp_path, capsys):
    from codegen import data, train

    config = tmp_path / "tiny.yaml"
    config.write_text("language: loda\nrecipes: [loda]\ntokenizer: " + str(TOKENIZER) + "\n"
                      "model: {d_model: 16, d_kv: 4, d_ff: 32, num_layers: 1, num_heads: 2}\n")
    out = tmp_path / "tiny.jsonl.gz"
    assert data.main(["export", "--config", str(config), "--corpus", str(fixture_corpus), "--out", str(out),
                      "--cache-dir", str(cache)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["recipes"] == ["loda"] and summary["bytes"] == out.stat().st_size
    assert data.main(["export", "--config", str(config), "--out", str(tmp_path / "x.jsonl.xz")]) == 2
    assert "no corpus for the recipe(s) loda" in capsys.readouterr().err
    assert data.main(["export", "--config", str(config), "--corpus", str(fixture_corpus), "--out",
                      str(tmp_path / "x.jsonl.xz"), "--recipes", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    # training from a file that is absent, or lacks a recipe of the config: exit 2 and one line
    for data_file, message in ((tmp_path / "absent.jsonl.xz", "no such data file"),
                               (out, "holds no records of recipe 'loda-terms'")):
        config.write_text(config.read_text().replace("recipes: [loda]", "recipes: [loda, loda-terms]"))
        assert train.main(["--config", str(config), "--data", str(data_file), "--output-dir",
                           str(tmp_path / "run")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1


def test_a_training_only_file_trains_and_retrieves_as_the_full_one(loda_file, fixture_corpus, cache, tmp_path):
    """`export --training-only` leaves out the listed terms and the meta beyond the name: a file a
    GPU machine can take (the LODA one shrinks from 46 to 13 MiB), with the same training inputs,
    the same retrieval references, and no terms to score against (said in its header)."""
    from codegen.retrieval import RetrievalSpec, choose_references
    from codegen.tokenizer import load_tokenizer

    full = loda_file[0]
    slim = tmp_path / "slim.jsonl.xz"
    header = export(fixture_corpus, "loda", ["loda", "loda-terms"], slim, cache_dir=tmp_path / "built", log=None,
                    training_only=True)
    assert header["training_only"] is True and read_header(slim)["training_only"] is True
    loaded = load_raw(slim, "loda", ["loda", "loda-terms"], cache_dir=cache, log=None)
    assert all(row["terms"] == "" and set(json.loads(row["meta"])) <= {"name"} for row in loaded["train"])
    tokenizer = load_tokenizer(TOKENIZER)
    kwargs = dict(tokenizer=tokenizer, max_source_length=32, max_target_length=64, log=None)
    a = build_dataset(None, "loda", ["loda", "loda-terms"], cache_dir=tmp_path / "a", data_file=full, **kwargs)
    b = build_dataset(None, "loda", ["loda", "loda-terms"], cache_dir=tmp_path / "b", data_file=slim, **kwargs)
    for split in SPLITS:
        assert a[split]["input_ids"] == b[split]["input_ids"] and a[split]["labels"] == b[split]["labels"]
    spec = RetrievalSpec(k=1, pool=2)
    full_raw = load_raw(full, "loda", ["loda", "loda-terms"], cache_dir=tmp_path / "c", log=None)
    assert choose_references(full_raw, spec, cache_dir=tmp_path / "c", log=None) == \
        choose_references(loaded, spec, cache_dir=tmp_path / "d", log=None)
