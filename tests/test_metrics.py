"""Metric arithmetic (pass@k estimator, matching, summaries) and the `evaluate` modules."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from codegen.metrics import (breakdowns, default_ks, length_bucket, mean_pass_at_k, pass_at_k, speed, summarize,
                             terms_match)

REPO = Path(__file__).resolve().parent.parent


def _brute_pass_at_k(n, c, k):
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@pytest.mark.parametrize("n,c,k,expected", [
    (1, 0, 1, 0.0), (1, 1, 1, 1.0), (5, 1, 1, 0.2), (10, 3, 1, 0.3), (10, 10, 5, 1.0),
    (10, 3, 5, 1 - 21 / 252), (32, 1, 32, 1.0), (32, 0, 16, 0.0), (4, 2, 2, 1 - 1 / 6),
])
def test_pass_at_k_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_matches_the_combinatorial_definition():
    for n in range(1, 25):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(_brute_pass_at_k(n, c, k), abs=1e-12)
    # large n: the product form stays finite where the binomials are huge
    assert pass_at_k(1000, 1, 100) == pytest.approx(0.1)


def test_pass_at_k_rejects_bad_input():
    for n, c, k in ((5, 6, 1), (5, -1, 1), (5, 1, 0), (5, 1, 6)):
        with pytest.raises(ValueError):
            pass_at_k(n, c, k)


def test_mean_pass_at_k_and_ks():
    assert mean_pass_at_k([(10, 3), (10, 0)], [1, 5]) == {1: pytest.approx(0.15), 5: pytest.approx((1 - 21 / 252) / 2)}
    assert mean_pass_at_k([(4, 1), (2, 1)], [1, 2, 4]) == {1: pytest.approx(0.375), 2: pytest.approx(0.75)}
    assert default_ks(1) == [1] and default_ks(32) == [1, 5, 10, 20, 32] and default_ks(12) == [1, 5, 10, 12]


def test_terms_match():
    assert terms_match([0, 1, 1, 2, 3], [0, 1, 1])
    assert terms_match([0, 1, 1], [0, 1, 1, 2, 3], 3)
    assert not terms_match([0, 1], [0, 1, 1])  # too few computed
    assert not terms_match(None, [1])
    assert not terms_match([1], [])  # nothing to verify is never a match
    big = 10**40
    assert terms_match([big], [big]) and not terms_match([big], [big + 1])


def test_length_buckets():
    assert [length_bucket(n) for n in (1, 5, 6, 10, 11, 20, 21, 40, 41, 500)] == \
        ["1-5", "1-5", "6-10", "6-10", "11-20", "11-20", "21-40", "21-40", "41+", "41+"]


def test_summary_and_breakdowns():
    items = [
        {"valid": True, "exact_match": True, "sequence_match": True, "num_samples": 4, "num_correct": 4,
         "parsed_samples": 4, "target_length": 3, "uses_seq": False, "verified_solve": True},
        {"valid": True, "exact_match": False, "sequence_match": False, "num_samples": 4, "num_correct": 1,
         "parsed_samples": 3, "target_length": 30, "uses_seq": True, "verified_solve": False},
        {"valid": False, "exact_match": False, "sequence_match": False, "num_samples": 4, "num_correct": 0,
         "parsed_samples": 0, "target_length": 30, "uses_seq": False, "verified_solve": False, "level": 2},
    ]
    summary = summarize(items)
    assert summary["n"] == 3 and summary["validity"] == pytest.approx(2 / 3)
    assert summary["exact_match"] == pytest.approx(1 / 3) and summary["verified_solve"] == pytest.approx(1 / 3)
    assert summary["parse_rate"] == pytest.approx(7 / 12)
    assert summary["pass_at_k"]["1"] == pytest.approx((1 + 0.25 + 0) / 3)
    assert summary["pass_at_k"]["4"] == pytest.approx(2 / 3)
    tables = breakdowns(items)
    assert list(tables["length"]) == ["1-5", "21-40"]
    assert tables["length"]["21-40"] == {"n": 2, "validity": 0.5, "exact_match": 0.0, "sequence_match": 0.0,
                                         "verified_solve": 0.0}
    assert tables["uses_seq"]["seq"]["n"] == 1 and tables["level"] == {"2": {
        "n": 1, "validity": 0.0, "exact_match": 0.0, "sequence_match": 0.0, "verified_solve": 0.0}}
    figures = speed(targets=3, programs=12, tokens=600, seconds=4.0, generation_seconds=3.0, execution_seconds=1.0)
    assert figures["programs_per_second"] == 3.0 and figures["tokens_per_second"] == 200.0
    assert figures["generation_share"] == 0.75


def test_evaluate_modules_load_from_a_local_path(monkeypatch):
    import evaluate  # a declared dependency: a broken install must fail here, not skip
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sequence_match = evaluate.load(str(REPO / "metrics" / "sequence_match"))
    result = sequence_match.compute(predictions=[[0, 1, 1, 2, 3], [1, 2], []], references=[[0, 1, 1, 2], [1, 3], [1]])
    assert result == {"sequence_match": pytest.approx(1 / 3)}
    assert sequence_match.compute(predictions=[[0, 1, 1, 9]], references=[[0, 1, 1, 2]], num_terms=3) == \
        {"sequence_match": 1.0}
    big = str(10**30)
    assert sequence_match.compute(predictions=[["1", big]], references=[["1", big]]) == {"sequence_match": 1.0}
    passk = evaluate.load(str(REPO / "metrics" / "pass_at_k"))
    result = passk.compute(num_samples=[10, 10], num_correct=[3, 0], k=[1, 5, 20])
    assert result == {"pass@1": pytest.approx(0.15), "pass@5": pytest.approx((1 - 21 / 252) / 2)}


def test_atomic_write_replaces_whole_files_readable_like_any_other(tmp_path):
    import os

    from codegen.reports import atomic_write

    target = atomic_write(tmp_path / "sub" / "report.json", "{}\n")
    atomic_write(target, "{\"n\": 1}\n")
    assert target.read_text() == "{\"n\": 1}\n"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
