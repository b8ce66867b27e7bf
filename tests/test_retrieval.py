"""Retrieval-augmented prompts (codegen.retrieval): the index never returns the query's own group,
references are chosen the same way in training and generation, prompts with context encode the
request as before and the references' programs as code tokens, and a checkpoint trained with
retrieval generates with the same prompt by itself."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from codegen.language import Record
from codegen.prompts import make_prompt, split_context, with_context
from codegen.retrieval import NameIndex, RetrievalSpec, choose_references

REPO = Path(__file__).resolve().parent.parent
TOKENIZER = REPO / "checkpoints" / "tokenizer"


def _record(record_id: str, name: str, code: str) -> Record:
    return Record(id=record_id, prompt=make_prompt("loda", name), code=code, meta={"name": name})


def test_context_round_trip_and_slots_only_from_the_request():
    from codegen.tokenizer import add_context_tokens, encode_prompts, load_tokenizer, slot_values

    prompt = make_prompt("loda", "Decimal expansion of 1/389", [2, 5, 7])
    refs = [("Decimal expansion of 1/387", "mov $1,10\nmul $0,$1\nmod $0,387"), ("Powers of 2", "pow $0,2")]
    full = with_context(prompt, refs)
    assert split_context(full) == (prompt, refs)
    assert split_context(prompt) == (prompt, [])
    tokenizer = load_tokenizer(REPO / "checkpoints" / "loda-t5-tiny")  # a tokenizer with number slots
    add_context_tokens(tokenizer, prompt_tokens=64, name_tokens=8, code_tokens=5)
    # the references' numbers (387, 2) get no slots: only the request's are copied into code
    assert slot_values(tokenizer, full) == slot_values(tokenizer, prompt) == [1, 389]
    plain = encode_prompts(tokenizer, [prompt])["input_ids"][0]
    ids = encode_prompts(tokenizer, [full])["input_ids"][0]
    assert ids[:len(plain) - 1] == plain[:-1] and ids[-1] == tokenizer.eos_token_id
    ref_id, code_id = tokenizer.convert_tokens_to_ids(["<ref>", "<code>"])
    assert ids.count(ref_id) == 2 and ids.count(code_id) == 2
    first_code = ids[ids.index(code_id) + 1:ids.index(ref_id, ids.index(code_id))]
    from codegen.tokenizer import encode_code

    assert first_code == encode_code(tokenizer, "loda", refs[0][1])[:5]  # the code budget cuts it
    batch = encode_prompts(tokenizer, [full, prompt], padding=True, return_tensors="pt")
    assert batch["input_ids"].shape[0] == 2 and int(batch["attention_mask"][1].sum()) == len(plain)


def test_index_never_returns_the_query_group_or_program():
    records = [
        _record("A1", "Squares of n", "pow $0,2"),
        _record("A2", "squares OF n!", "mul $0,$0"),  # same normalised name as A1: one group
        _record("A3", "Squares of n plus one", "pow $0,2\nadd $0,1"),
        _record("A4", "Cubes of n", "pow $0,3"),
        _record("A5", "Number of divisors of n", "seq $0,5"),
    ]
    index = NameIndex.from_records(records)
    assert index.groups[0] == index.groups[1] != index.groups[2]
    found = index.nearest(["Squares of n"], 3, exclude_groups=[index.groups[0]])[0]
    assert [index.ids[i] for i in found][0] == "A3"
    assert not {"A1", "A2"} & {index.ids[i] for i in found}
    found = index.nearest(["Squares of n plus one"], 4, exclude_codes=["pow $0,2"])[0]
    assert "A1" not in {index.ids[i] for i in found}
    assert index.nearest(["zzz qqq"], 2) == [[]]  # no word in common: no reference


def test_spec_errors_name_the_field():
    with pytest.raises(ValueError, match="retrieval.k"):
        RetrievalSpec.from_mapping({"k": 9, "pool": 8})
    with pytest.raises(ValueError, match="retrieval.weak_rate"):
        RetrievalSpec.from_mapping({"weak_rate": 2})
    with pytest.raises(ValueError, match="unknown field"):
        RetrievalSpec.from_mapping({"neighbours": 2})
    assert RetrievalSpec.from_mapping({"k": "1"}).k == 1


@pytest.fixture(scope="module")
def fixture_raw(tmp_path_factory):
    from conftest import make_fixture_corpus

    from codegen.data import build_raw

    root = tmp_path_factory.mktemp("retrieval")
    corpus = make_fixture_corpus(root / "loda-programs", count=120)
    raw = build_raw(str(corpus), "loda", ["loda", "loda-terms"], cache_dir=root / "cache", log=None)
    return raw, root / "cache", corpus


def test_references_come_from_train_only_and_never_from_the_own_group(fixture_raw):
    from codegen.data import leakage_groups, record_from_row

    raw, cache, _ = fixture_raw
    spec = RetrievalSpec(k=2, pool=4, weak_rate=0.5, random_rate=0.2, seed=1)
    chosen = choose_references(raw, spec, cache_dir=cache, log=None)
    train_ids = set(raw["train"]["id"])
    every = [record_from_row(row) for split in ("train", "validation", "test") for row in raw[split]]
    groups = leakage_groups(every)
    assert set(chosen) == {r.id for r in every}
    for record_id, refs in chosen.items():
        assert refs, record_id
        assert set(refs) <= train_ids
        assert all(groups[ref] != groups[record_id] for ref in refs)
    # the shared program of the fixture (A000050 / A000051) is one group: never each other's reference
    assert "A000051" not in chosen.get("A000050", []) and "A000050" not in chosen.get("A000051", [])
    # cached and deterministic
    files = list(Path(cache).glob("references-*.json.gz"))
    assert len(files) == 1
    assert choose_references(raw, spec, cache_dir=cache, log=None) == chosen


def test_training_with_retrieval_records_it_and_generation_builds_the_same_prompt(fixture_raw, tmp_path, monkeypatch):
    from codegen.generate import Generator, Request
    from codegen.train import main

    _, _, corpus = fixture_raw
    monkeypatch.setenv("CODEGEN_CACHE_DIR", str(tmp_path / "cache"))
    config = {
        "language": "loda", "recipes": ["loda", "loda-terms"], "terms_count": 4, "tokenizer": str(TOKENIZER),
        "retrieval": {"k": 1, "pool": 3, "prompt_tokens": 40, "name_tokens": 8, "code_tokens": 24},
        "model": {"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 1, "num_decoder_layers": 1, "num_heads": 2},
        "data": {"max_source_length": 40, "max_target_length": 64, "eval_limit": 4},
        "training": {"torch_threads": 1, "per_device_train_batch_size": 4, "max_steps": 2, "save_steps": 2,
                     "eval_steps": 2, "logging_steps": 1, "report_to": "none", "warmup_steps": 0},
    }
    path = tmp_path / "retrieval.yaml"
    path.write_text(yaml.safe_dump(config))
    # the budgets do not fit in max_source_length: a clear error, before any data is built
    assert main(["--config", str(path), "--corpus", str(corpus), "--output-dir", str(tmp_path / "bad")]) != 0
    config["data"]["max_source_length"] = 120
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    assert main(["--config", str(path), "--corpus", str(corpus), "--output-dir", str(out)]) == 0
    meta = json.loads((out / "codegen.json").read_text())
    assert meta["retrieval"]["k"] == 1
    tokenizer_meta = json.loads((out / "codegen_tokenizer.json").read_text())
    assert tokenizer_meta["context"] == {"prompt_tokens": 40, "name_tokens": 8, "code_tokens": 24}
    with Generator(out, backend="hf", corpus=str(corpus), workers=1) as generator:
        prompt = generator.prompt(Request(description="a(n) = 5*n + 3"))
        head, refs = split_context(prompt)
        assert head == make_prompt("loda", "a(n) = 5*n + 3") and len(refs) == 1
        assert refs[0][0].startswith("a(n) = 5*n +")  # its nearest training name
        result = generator.generate("a(n) = 5*n + 3", num_samples=2)
        assert result.candidates
