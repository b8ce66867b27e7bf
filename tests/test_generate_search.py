"""Term search as a candidate source of generation and evaluation: candidates record their
source, search programs are scored and selected with the model's own, figures are given per
source, and weak fits rank last."""
from __future__ import annotations

import io

import pytest

from codegen.evaluate import Target, check_count, solves_by_source
from codegen.cli.repl import Repl
from codegen.generate import (GenerationResult, Generator, Request, candidate_source, format_result,
                              merge_search_hits)
from codegen.language import SearchHit, get_language
from codegen.metrics import summarize
from codegen.selection import Candidate, select
from conftest import build_tiny_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # they decode: one torch thread, as the CLIs do
SQUARES = [1, 4, 9, 16, 25, 36, 49, 64]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return build_tiny_checkpoint(tmp_path_factory.mktemp("search") / "loda-tiny", seed=3, max_target_length=32)


def _ran(code, outputs, confidence=-1.0, **extra):
    return Candidate(code=code, canonical=code, confidence=confidence, valid=True, ran=True, outputs=outputs,
                     extra=dict(extra))


def test_a_model_without_a_program_for_the_squares_gets_one_from_the_search(checkpoint):
    with Generator(str(checkpoint), workers=1, timeout=5) as generator:
        result = generator.generate("The squares", terms=SQUARES, offset=1, num_samples=2, seed=0)
        assert result.search_hits and result.search_hits >= 1
        assert result.chosen is not None and result.chosen.match
        assert result.chosen.outputs[:10] == [n * n for n in range(1, 11)]
        searched = [c for c in result.candidates if candidate_source(c).startswith("search:")]
        assert searched and all(c.match and c.extra["family"] for c in searched)
        # scored by the model teacher-forced, like its own candidates
        assert all(c.confidence > float("-inf") and c.n_tokens > 0 for c in searched)
        if candidate_source(result.chosen).startswith("search:"):
            assert "source: search" in format_result(result)
        plain = generator.generate("The squares", terms=SQUARES, offset=1, num_samples=2, seed=0, search=False)
        assert plain.search_hits is None
        assert all(candidate_source(c) == "model" for c in plain.candidates)


def test_no_search_without_terms(checkpoint):
    with Generator(str(checkpoint), workers=1, timeout=5) as generator:
        result = generator.generate("The squares", num_samples=2, seed=0, retry_samples=0)
        assert result.search_hits is None


def test_a_search_program_the_model_also_wrote_stays_the_models():
    model = _ran("mul $0,$0\n", [0, 1, 4])
    hits = [SearchHit(code="mul $0,$0\n", family="polynomial degree 2", kind="polynomial", checked_terms=3),
            SearchHit(code="pow $0,2\n", family="other", kind="polynomial", checked_terms=3, weak=True)]
    fresh = merge_search_hits([model], hits)
    assert [c.code for c in fresh] == ["pow $0,2\n"]
    assert candidate_source(model) == "model" and model.extra["search"]["family"] == "polynomial degree 2"
    assert candidate_source(fresh[0]) == "search:polynomial" and fresh[0].extra["weak"]


def test_a_weak_fit_ranks_after_every_other_match():
    weak = _ran("a\n", [1, 2, 3], confidence=-0.01, weak=True, source="search:recurrence")
    strong = _ran("b\n", [1, 2, 3], confidence=-3.0, source="search:affine")
    assert select([weak, strong], terms=[1, 2, 3], agreement_weight=0.0) is strong
    assert select([weak], terms=[1, 2, 3], agreement_weight=0.0) is weak  # still a match where alone


def _result(candidates, terms, chosen=None, strategy="beam"):
    request = Request(description="x", terms=terms)
    return GenerationResult(request=request, prompt="x", language="loda", strategy=strategy, constrained=True,
                            num_samples=len(candidates), candidates=candidates, chosen=chosen, search_hits=1)


def test_solves_are_counted_per_source_on_every_listed_term():
    target = Target(id="A1", description="x", code=None, terms=[1, 2, 3, 4, 5, 6])
    right = _ran("r\n", [1, 2, 3, 4, 5, 6], source="search:affine")
    wrong = _ran("w\n", [1, 2, 3, 4, 5, 7], confidence=-0.5)  # matches the 4 given terms, fails the 6th
    solved = solves_by_source(target, _result([wrong, right], [1, 2, 3, 4]), None)
    assert solved == {"model": False, "search": True}
    assert check_count(target, None) == 6 and check_count(target, 4) == 4
    found_by_both = _ran("r\n", [1, 2, 3, 4, 5, 6], search={"family": "f", "kind": "affine", "weak": False})
    assert solves_by_source(target, _result([found_by_both], [1, 2, 3, 4]), None) == {"model": True, "search": True}


def test_summary_gives_the_models_figure_beside_the_searchs():
    items = [{"valid": True, "verified_solve": m or s, "verified_by_source": {"model": m, "search": s}}
             for m, s in ((True, True), (True, False), (False, True), (False, True), (False, False))]
    summary = summarize(items)
    assert summary["verified_solve_by_source"] == {"model": 0.4, "search": 0.6}
    assert summary["solved_by"] == {"both": 1, "model_only": 1, "search_only": 2, "neither": 1}


def test_format_result_says_a_weak_fit_and_few_terms_plainly():
    weak = _ran("a\n", [1, 2, 3, 5, 8, 13, 21, 34], weak=True, source="search:recurrence",
                family="recurrence order 4")
    weak.match, weak.agreement = True, 1
    text = format_result(_result([weak], [1, 2, 3, 5, 8, 13, 21, 34], chosen=weak))
    assert "source: search (recurrence order 4)" in text and "WEAK" in text
    few = _ran("b\n", [1, 2, 3], source="search:affine", family="affine of A000027")
    few.match, few.agreement = True, 1
    assert "only 3 terms given" in format_result(_result([few], [1, 2, 3], chosen=few))


def test_repl_sets_the_offset_and_turns_search_off(checkpoint):
    from codegen.cli.generate import build_parser

    args = build_parser().parse_args(["--interactive"])
    out = io.StringIO()
    with Generator(str(checkpoint), workers=1, timeout=5) as generator:
        repl = Repl(generator, args, stdin=io.StringIO(":offset 1\n:search off\n:settings\n"), stdout=out)
        assert repl.run() == 0
    text = out.getvalue()
    assert "offset: 1" in text and "search: off" in text and '"search": false' in text
    assert args.offset == 1 and args.no_search


def test_languages_without_a_search_offer_none():
    wat = get_language("wat")
    assert not wat.has_search and wat.search_programs([1, 2, 3]) == []
    assert get_language("loda").has_search


def test_of_programs_computing_the_same_sequence_the_shortest_is_chosen():
    long = _ran("add $0,1\nseq $0,27\npow $0,2\n", [1, 4, 9, 16], confidence=-0.5, source="search:transform",
                search_rank=0)
    long.n_tokens = 12
    short = _ran("pow $0,2\n", [1, 4, 9, 16], confidence=-2.0, source="search:polynomial", search_rank=1)
    short.n_tokens = 5
    other = _ran("mul $0,3\n", [0, 3, 6, 9], confidence=-1.0)
    other.n_tokens = 4
    assert select([long, short, other], terms=[1, 4, 9], agreement_weight=0.0) is short
    # a single result says nothing about equivalence: the score decides
    a = _ran("x\n", [7], confidence=-0.5)
    a.n_tokens = 9
    b = _ran("y\n", [7], confidence=-2.0)
    b.n_tokens = 2
    assert select([a, b], expected=7, agreement_weight=0.0) is a


def test_a_match_the_model_wrote_ranks_before_the_searchs_and_search_hits_keep_their_order():
    model = _ran("m\n", [1, 2, 3, 5], confidence=-3.0)
    first = _ran("s1\n", [1, 2, 3, 4], confidence=-5.0, source="search:affine", search_rank=0)
    second = _ran("s2\n", [1, 2, 3, 6], confidence=-0.1, source="search:corpus", search_rank=1)
    assert select([first, second, model], terms=[1, 2, 3], agreement_weight=0.0) is model
    assert select([second, first], terms=[1, 2, 3], agreement_weight=0.0) is first
    repaired = _ran("r\n", [1, 2, 3, 7], confidence=-0.1, repair={"from": "m\n", "constant": 1, "value": 2})
    assert select([repaired, second], terms=[1, 2, 3], agreement_weight=0.0) is second


def test_searches_run_in_the_pools_workers_and_a_failing_one_says_why():
    from codegen.execution import ExecutionPool, SearchOutcome, SearchTask

    with ExecutionPool(get_language("loda"), workers=2, timeout=5) as pool:
        found, failed = pool.run([SearchTask(terms=(1, 4, 9, 16, 25, 36, 49), offset=1, time_limit=1.0),
                                  SearchTask(terms=(), time_limit=1.0)])
    assert isinstance(found, SearchOutcome) and found.ok and found.hits
    assert any(hit.code == "#offset 1\npow $0,2\n" for hit in found.hits)
    assert isinstance(failed, SearchOutcome) and not failed.ok and "no terms" in failed.error


def test_candidates_missing_a_given_term_are_not_run_to_the_last_checked_term():
    """Evaluation checks every listed term: only the candidates that reproduce the given terms are
    run that far; the others stop at the given terms (they can be no match, whatever follows)."""
    from codegen.execution import ExecutionPool
    from codegen.generate import run_candidates

    language = get_language("loda")
    request = Request(description="odd numbers", terms=[1, 3, 5, 7], offset=0, run_terms=30, given_terms_first=True)
    right = Candidate(code="mul $0,2\nadd $0,1\n", canonical="mul $0,2\nadd $0,1\n", valid=True)
    wrong = Candidate(code="mul $0,3\nadd $0,1\n", canonical="mul $0,3\nadd $0,1\n", valid=True)
    late = Candidate(code="mov $1,$0\nsub $1,4\nmov $2,10\ndiv $2,$1\nmul $0,2\nadd $0,1\n",
                     canonical=None, valid=True)  # right on the 4 given terms, divides by zero at n = 4
    late.canonical = language.canonicalize(late.code)
    with ExecutionPool(language, workers=1, timeout=5) as pool:
        run_candidates(pool, [request], [[right, wrong, late]])
    assert right.usable and right.outputs == [2 * n + 1 for n in range(30)]
    assert wrong.usable and wrong.outputs == [1, 4, 7, 10]  # stopped at the given terms
    assert not late.usable and late.error_kind  # its later terms were checked, and failed
    # without it (a user's request), every candidate shows all the terms asked for
    shown = Candidate(code=wrong.code, canonical=wrong.canonical, valid=True)
    with ExecutionPool(language, workers=1, timeout=5) as pool:
        run_candidates(pool, [Request(description="x", terms=[1, 3, 5, 7], offset=0, run_terms=30)], [[shown]])
    assert shown.outputs == [3 * n + 1 for n in range(30)]


def test_without_a_search_there_is_no_search_figure():
    target = Target(id="A1", description="x", code=None, terms=[1, 2, 3, 4, 5, 6])
    result = _result([_ran("m\n", [1, 2, 3, 4, 5, 6])], [1, 2, 3, 4])
    result.search_hits = None  # --no-search
    solved = solves_by_source(target, result, None)
    assert solved == {"model": True}
    summary = summarize([{"valid": True, "verified_solve": True, "verified_by_source": solved}])
    assert summary["verified_solve_by_source"] == {"model": 1.0} and "solved_by" not in summary
