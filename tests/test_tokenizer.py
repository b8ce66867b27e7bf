"""The HF fast tokenizer: build, save/load, prompt tokenization, exact code encode/decode."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from codegen.language import CodeError, get_language
from codegen.number_slots import SLOT_TOKENS
from codegen.prompts import make_prompt
from codegen.tokenizer import (
    add_language_tokens, decode_code, encode_code, fast_tokenizer_from_spm, load_tokenizer, save_tokenizer,
    structural_token_ids, train_sentencepiece,
)

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "checkpoints" / "tokenizer"

NAMES = [
    "Fibonacci numbers: F(n) = F(n-1) + F(n-2) with F(0) = 0 and F(1) = 1.",
    "The prime numbers.", "Squares: a(n) = n^2.", "Number of divisors of n.", "Triangular numbers: a(n) = n*(n+1)/2.",
    "Powers of 2: a(n) = 2^n.", "Catalan numbers: C(n) = binomial(2n,n)/(n+1).", "Sum of divisors of n.",
    "Number of partitions of n into distinct parts.", "Expansion of (1-x)/(1-2x-x^2).", "Decimal expansion of Pi.",
] * 20


@pytest.fixture(scope="module")
def small_tokenizer(tmp_path_factory):
    texts = [f"{name} variant {i}" for i, name in enumerate(NAMES)]
    tokenizer = fast_tokenizer_from_spm(train_sentencepiece(texts, 150))
    tokenizer.codegen_meta = {"languages": []}
    add_language_tokens(tokenizer, ["loda"], tag_languages=["loda", "wat"])
    out = save_tokenizer(tokenizer, tmp_path_factory.mktemp("tok") / "tokenizer")
    return out


def test_save_load_round_trip(small_tokenizer):
    from transformers import AutoTokenizer

    loaded = load_tokenizer(small_tokenizer)
    plain = AutoTokenizer.from_pretrained(str(small_tokenizer))
    prompt = make_prompt("loda", "Squares of primes: a(n) = prime(n)^2.", [4, 9, 25, 49, 121, -1234567])
    assert loaded(prompt)["input_ids"] == plain(prompt)["input_ids"]
    ids = loaded(prompt)["input_ids"]
    assert ids[-1] == loaded.eos_token_id and ids[0] == loaded.convert_tokens_to_ids("<loda>")
    assert loaded.convert_tokens_to_ids("<terms>") in ids and loaded.convert_tokens_to_ids("<wat>") != loaded.unk_token_id
    # decoding loses only the space before an added token; re-encoding gives the same ids
    assert loaded(loaded.decode(ids, skip_special_tokens=True))["input_ids"] == ids
    assert loaded.pad_token_id == 0 and loaded.eos_token_id == 1


def test_digits_always_representable(small_tokenizer):
    tokenizer = load_tokenizer(small_tokenizer)
    rng = random.Random(3)
    for _ in range(50):
        number = str(rng.randint(-10 ** 15, 10 ** 15))
        ids = tokenizer(f"a {number} b", add_special_tokens=False)["input_ids"]
        assert tokenizer.unk_token_id not in ids
        pieces = tokenizer.convert_ids_to_tokens(ids)
        assert all(sum(c.isdigit() for c in p) <= 1 for p in pieces)  # digits split
        assert tokenizer.decode(ids) == f"a {number} b"


def test_code_ids_exact(small_tokenizer):
    tokenizer = load_tokenizer(small_tokenizer)
    loda = get_language("loda")
    code = "#offset 1\nmov $1,$0\nlpb $1\n  seq $1,165190\n  mov $150,-99999999999\nlpe\nmov $0,$1\n"
    ids = encode_code(tokenizer, "loda", code)
    assert len(ids) == len(loda.tokenize(code)) + 1 and ids[-1] == tokenizer.eos_token_id
    table = structural_token_ids(tokenizer, loda)
    assert set(table) == set(loda.structural_tokens()) | set(SLOT_TOKENS) and len(set(table.values())) == len(table)
    assert ids[:-1] == [table[t] for t in loda.tokenize(code)]
    assert decode_code(tokenizer, "loda", ids) == code
    # as generated: a leading decoder-start pad, padding after EOS
    assert decode_code(tokenizer, loda, [tokenizer.pad_token_id] + ids + [0, 0]) == code
    # code tokens never come out of prompt text
    prompt_ids = set(tokenizer("mov $0,1 lpb lpe add")["input_ids"])
    assert not prompt_ids & set(table.values())
    with pytest.raises(CodeError):
        decode_code(tokenizer, "loda", [table["mov"], table["$0"], tokenizer.eos_token_id])  # missing operand
    with pytest.raises(CodeError):
        decode_code(tokenizer, "loda", [tokenizer.convert_tokens_to_ids("<loda>")])  # not a code token


def test_shipped_tokenizer():
    assert SHIPPED.is_dir(), "checkpoints/tokenizer must be shipped"
    size = sum(f.stat().st_size for f in SHIPPED.iterdir() if f.is_file())
    assert size < 2 * 1024 * 1024
    tokenizer = load_tokenizer(SHIPPED)
    loda = get_language("loda")
    assert len(structural_token_ids(tokenizer, loda)) == len(loda.structural_tokens())
    prompt = make_prompt("loda", "Fibonacci numbers: F(n) = F(n-1) + F(n-2).", [0, 1, 1, 2, 3, 5, 8, 13])
    ids = tokenizer(prompt)["input_ids"]
    assert tokenizer.unk_token_id not in ids and len(ids) < 50


def test_shipped_tokenizer_on_corpus(corpus):
    tokenizer = load_tokenizer(SHIPPED)
    records = list(corpus)
    for record in random.Random(5).sample(records, min(3000, len(records))):
        assert decode_code(tokenizer, "loda", encode_code(tokenizer, "loda", record.code)) == record.code


def test_cli_build(tmp_path, monkeypatch, capsys):
    """`python -m codegen.tokenizer build` on a fixture corpus (no network, small vocab)."""
    import json

    from codegen.tokenizer import main
    from conftest import make_fixture_corpus

    corpus = make_fixture_corpus(tmp_path / "loda-programs", count=60)
    monkeypatch.setenv("CODEGEN_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "tok"
    assert main(["build", "--corpus", str(corpus), "--langs", "loda", "--out", str(out), "--vocab-size", "60"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["languages"] == ["loda"]
    tokenizer = load_tokenizer(out)
    code = "mul $0,7\nadd $0,1000\n"
    assert decode_code(tokenizer, "loda", encode_code(tokenizer, "loda", code)) == code
    assert tokenizer.codegen_meta["corpus_hash"]
