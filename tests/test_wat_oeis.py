"""Corpus programs compiled to WAT: check_loda, oeis_records, the CLI, and the VM as a twin."""
from __future__ import annotations

import argparse
import json

import pytest

from corpora.loda_to_wat.compiler import UnsupportedProgram, compile_program
from corpora.wat_oeis import check_loda, error_kind, fits_i64, oeis_records, run_terms
from languages.wat.canonical import format_wat
from languages.wat.errors import WatError
from languages.wat.runner import Sandbox

pytestmark = pytest.mark.corpus


def test_check_loda_sample(corpus):
    result = check_loda(corpus, sample=100, seed=11, terms=10, progress=False)
    assert set(result) >= {"checked", "matched", "mismatched", "unsupported", "seconds"}
    assert result["checked"] == result["matched"] + result["mismatched"]
    unsupported = sum(result["unsupported"].values())
    assert result["checked"] + unsupported + result["skipped"] == result["sample"] == 100
    assert unsupported <= 12
    # LODA numbers are unbounded: some programs need intermediate values beyond i64 even
    # where their first terms fit; they trap and count as unsupported ("i64_overflow"), never
    # as matches. Every mismatch left is a bug or a corpus program that disagrees with its header.
    assert "overflow" not in result["errors"]
    assert result["matched"] >= 0.97 * result["checked"]


def test_check_loda_is_reproducible(corpus):
    a = check_loda(corpus, sample=15, seed=3, progress=False)
    b = check_loda(corpus, sample=15, seed=3, progress=False)
    a.pop("seconds"), b.pop("seconds")
    assert a == b


def test_corpus_programs_agree_with_the_vm(corpus):
    """On a corpus sample, the compiled module and the VM restricted to 63-bit numbers give
    the same terms, or both fail (i64 overflow in the one is a 63-bit overflow in the other)."""
    from languages.loda import vm
    from languages.loda.errors import LodaError
    from corpora.wat_oeis import _sample

    limits = vm.Limits(max_bits=63, timeout=3.0)
    compared = 0
    for number in _sample(corpus, 150, 21):
        record = corpus.records[number]
        try:
            wat = compile_program(corpus.program(number), corpus, number=number)
        except UnsupportedProgram:
            continue
        try:
            want = vm.Evaluator(library=corpus, limits=limits).terms(corpus.program(number), 8)
        except LodaError as error:
            if error.kind in ("timeout", "step_limit"):
                continue
            want = error.kind
        sandbox = Sandbox(wat)
        got: list | str = []
        try:
            for i in range(8):
                got.append(sandbox.call("a", record.offset + i))
        except WatError as error:
            got = error_kind(error)
            if got in ("fuel", "timeout"):
                continue
        if isinstance(want, str):
            assert isinstance(got, str), record.id
            if want == "overflow":
                assert got == "overflow", record.id
        else:
            assert got == want, record.id
        compared += 1
    assert compared >= 110


def test_oeis_records(corpus):
    records = list(oeis_records(corpus, sample=25, seed=4, terms=6, progress=False))
    assert len(records) >= 20
    for record in records:
        source = corpus.records[int(record.id[1:])]
        assert record.id == source.id and record.prompt == source.name
        assert record.offset == source.offset
        assert 1 <= len(record.terms) <= 6 and all(fits_i64(t) for t in record.terms)
        assert list(source.terms[:len(record.terms)]) == record.terms
        assert record.meta["loda_id"] == source.id
        assert record.meta["calls"] == [f"A{k:06d}" for k in source.calls]
        assert format_wat(record.code) == record.code
        assert run_terms(record.code, record.offset, len(record.terms)) == record.terms


def test_oeis_records_short_self_contained(corpus):
    """`max_instructions` / `calls=False` select before compiling: every record kept is short and
    calls nothing, and nothing that qualifies (and compiles) is lost."""
    from languages.loda.language import operation_count

    records = list(oeis_records(corpus, sample=300, seed=4, terms=6, progress=False, max_instructions=6,
                                calls=False))
    everything = list(oeis_records(corpus, sample=300, seed=4, terms=6, progress=False))
    assert records, "the sample holds short self-contained programs"
    for record in records:
        source = corpus.records[int(record.id[1:])]
        assert not source.calls and operation_count(source.code) <= 6
    expected = [r.id for r in everything
                if not corpus.records[int(r.id[1:])].calls and operation_count(corpus.records[int(r.id[1:])].code) <= 6]
    assert [r.id for r in records] == expected
    assert len(records) < len(everything)


def test_operation_count_of_canonical_code():
    """The count `max_instructions` compares against: operations, not the `#offset` line."""
    from languages.loda.language import operation_count

    assert operation_count("#offset 1\nmov $1,1\nlpb $0\n  sub $0,1\nlpe\n") == 4


def _cli():
    from corpora.loda_to_wat import cli as loda_cli

    parser = argparse.ArgumentParser(prog="wat")
    loda_cli.register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_check_loda_json(corpus_path, capsys):
    args = _cli().parse_args(["check-loda", "--corpus", str(corpus_path), "--sample", "12", "--seed", "2",
                              "--terms", "5", "--json", "--quiet"])
    assert args.func(args) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert summary["sample"] == 12 and summary["checked"] == summary["matched"] + summary["mismatched"]


def test_cli_from_loda(tmp_path, corpus_path, capsys, monkeypatch):
    path = tmp_path / "fib.asm"
    path.write_text("; A000045: Fibonacci\nmov $3,1\nlpb $0\n  sub $0,1\n  mov $2,$1\n  add $1,$3\n"
                    "  mov $3,$2\nlpe\nmov $0,$1\n")
    args = _cli().parse_args(["from-loda", str(path)])
    assert args.func(args) == 0
    wat = capsys.readouterr().out
    assert run_terms(wat, 0, 10) == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]

    path.write_text("seq $0,40\n")  # a(n) = prime(n), resolved through the corpus
    args = _cli().parse_args(["from-loda", str(path), "--corpus", str(corpus_path)])
    assert args.func(args) == 0
    wat = capsys.readouterr().out
    assert "(func $a40 " in wat
    assert run_terms(wat, 1, 5) == [2, 3, 5, 7, 11]

    monkeypatch.delenv("CODEGEN_LODA_CORPUS", raising=False)
    args = _cli().parse_args(["from-loda", str(path)])
    assert args.func(args) == 1  # no library: the call cannot be resolved
    assert "unknown_sequence" in capsys.readouterr().err
