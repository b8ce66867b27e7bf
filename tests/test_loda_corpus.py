"""The VM against the corpus: header terms are the oracle (skipped where the corpus is absent)."""
from __future__ import annotations

import random

import pytest

from languages.loda.check import collect_tasks, run_check
from languages.loda.interpreter import Interpreter
from languages.loda.vm import Evaluator, Limits

pytestmark = pytest.mark.corpus


def test_corpus_sample_matches_header_terms(corpus):
    tasks = collect_tasks(corpus, sample=200, seed=2024)
    assert len(tasks) == 200
    summary, outcomes = run_check(corpus, tasks, terms=10, progress=False)
    assert summary.checked == 200
    failing = [f"{o.id}: {o.status} {o.error or o.computed}" for o in outcomes if o.status != "match"]
    assert summary.matched >= 198, "\n".join(failing)


def test_programs_with_calls_loops_and_indirection(corpus):
    """A sample biased to the harder features, compiled VM and interpreter side by side."""
    rng = random.Random(5)
    records = sorted((r for r in corpus if r.terms and len(r.code) < 600), key=lambda r: r.number)
    picks = rng.sample([r for r in records if r.calls], 30) + rng.sample([r for r in records if "$$" in r.code], 30)
    vm = Evaluator(library=corpus)
    plain = Interpreter(library=corpus, limits=Limits(timeout=0.5))  # the plain interpreter is much slower
    matched = 0
    for record in picks:
        program = corpus.program(record.number)
        count = min(6, len(record.terms))
        try:
            got = vm.terms(program, count)
        except Exception as error:  # a LodaError is a failed match here
            got = repr(error)
        try:
            again = plain.terms(program, count)
        except Exception as error:
            again = repr(error)
        if "EvaluationTimeoutError" not in str(again):
            assert type(got) is type(again) and (got == again or isinstance(got, str)), record.id
        matched += got == list(record.terms[:count])
    assert matched >= 58


def test_known_sequences(corpus):
    ev = Evaluator(library=corpus)
    assert ev.terms(corpus.program(45), 12) == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
    assert ev.terms(corpus.program(40), 10) == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    assert ev.terms(corpus.program(142), 6) == [1, 1, 2, 6, 24, 120]
