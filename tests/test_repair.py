"""Constant repair (codegen.repair): one-constant variants of the model's programs, kept only
where they reproduce the given terms; never without enough terms, never for a lone result."""
from __future__ import annotations

import json

from codegen.execution import ExecutionPool
from codegen.generate import Generator, Request, format_result, run_candidates
from codegen.language import get_language
from codegen.number_slots import prompt_numbers
from codegen.repair import MIN_TERMS, repair_parents, repair_variants, should_repair, substitute_values
from codegen.selection import Candidate, mark_matches
from conftest import RecordingBackend, build_tiny_checkpoint

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # they decode: one torch thread, as the CLIs do
LODA = get_language("loda")
TIMES_THREE = "mul $0,3\n"


def _parent(code: str, confidence: float = -0.5, ran: bool = True) -> Candidate:
    canonical = LODA.canonicalize(code)
    return Candidate(code=canonical, canonical=canonical, confidence=confidence, valid=True, ran=ran)


def test_substitutes_start_with_neighbours_and_skip_the_value_itself():
    values = substitute_values(3, hints=[17, 3])
    assert values[:6] == [4, 2, 5, 1, 6, 0]
    assert 3 not in values and 17 in values and len(values) == len(set(values))


def test_prompt_numbers_in_order_without_repeats():
    assert prompt_numbers("a(n) = 7*n + 12, 7 again and 3") == [7, 12, 3]


def test_variants_change_exactly_one_constant_and_are_valid():
    parent = _parent("mov $1,2\nmul $0,3\nadd $0,$1\n")
    variants = repair_variants(LODA, [parent], budget=40)
    assert 0 < len(variants) <= 40
    assert len({v.canonical for v in variants}) == len(variants)
    for variant in variants:
        LODA.validate(variant.canonical)
        info = variant.extra["repair"]
        assert info["from"] == parent.canonical and info["constant"] != info["value"]
        before = [line for line in parent.canonical.splitlines()]
        after = [line for line in variant.canonical.splitlines()]
        # one operation differs, in its constant only
        assert len(after) == len(before) and sum(a != b for a, b in zip(before, after)) <= 1
        assert "$1" in variant.canonical  # registers are not constants
    # breadth first: both constants get their first substitute within the first two variants
    assert {v.extra["repair"]["constant"] for v in variants[:2]} == {2, 3}


def test_variants_skip_programs_already_tried():
    parent = _parent(TIMES_THREE)
    tried = {LODA.canonicalize("mul $0,4\n")}
    variants = repair_variants(LODA, [parent], budget=5, tried=tried)
    assert LODA.canonicalize("mul $0,4\n") not in {v.canonical for v in variants}
    assert all(v.canonical in tried for v in variants)  # extended in place


def test_repair_only_with_enough_unmatched_terms():
    matching = _parent("mul $0,4\n")
    matching.outputs = [0, 4, 8, 12, 16]
    other = _parent("mul $0,5\n")
    other.outputs = [0, 5, 10, 15, 20]
    assert should_repair([0, 4, 8, 12], [other])
    assert not should_repair([0, 4, 8, 12], [other, matching])  # something already matches
    assert not should_repair([0, 4, 8][:MIN_TERMS - 1], [other])  # too few terms to verify against
    assert not should_repair(None, [other])


def test_parents_are_the_valid_candidates_best_first():
    broken = Candidate(code="mul $0", valid=False, confidence=0.0)
    failed = _parent("div $0,0\n", confidence=-0.1, ran=False)
    good, worse = _parent(TIMES_THREE, -0.3), _parent("mul $0,5\n", -0.9)
    assert repair_parents([broken, worse, failed, good], count=2) == [good, worse]


def test_a_repaired_variant_reproduces_terms_the_model_missed():
    terms = [0, 4, 8, 12, 16]
    variants = repair_variants(LODA, [_parent(TIMES_THREE)], budget=20)
    request = Request("Multiples of 4.", terms=terms, offset=0, run_terms=8)
    with ExecutionPool(LODA, workers=1, timeout=5) as pool:
        run_candidates(pool, [request], [variants])
    mark_matches(variants, terms)
    [found] = [v for v in variants if v.match]
    assert found.canonical == LODA.canonicalize("mul $0,4\n") and found.outputs[:8] == [4 * n for n in range(8)]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return build_tiny_checkpoint(tmp_path_factory.mktemp("repair") / "loda-tiny", seed=1, max_target_length=32)


def test_generator_repairs_only_when_asked_and_only_against_terms(checkpoint):
    from codegen.decoding import Hypothesis
    from codegen.tokenizer import encode_code

    with Generator(str(checkpoint), workers=1, timeout=5) as generator:
        ids = encode_code(generator.tokenizer, "loda", TIMES_THREE)[:-1]
        hypothesis = Hypothesis(token_ids=ids, logprob=-0.5 * (len(ids) + 1), n_tokens=len(ids) + 1, finished=True)
        generator.backend = RecordingBackend({"greedy": [hypothesis]})
        terms = [0, 4, 8, 12, 16, 20]

        # repair alone (the term search would find these programs itself)
        plain = generator.generate("Multiples of 4.", terms=terms, offset=0, search=False)
        assert plain.chosen.match is False and plain.repair_programs == 0  # off by default

        repaired = generator.generate("Multiples of 4.", terms=terms, offset=0, repair=64, search=False)
        assert repaired.chosen.match and repaired.chosen.extra["repair"]["value"] == 4
        assert 0 < repaired.repair_programs <= 64
        # only the matching variant joins the model's own candidate
        assert len(repaired.candidates) == 2 and not repaired.candidates[1].extra.get("repair")
        assert "repaired: constant 3 -> 4" in format_result(repaired)
        assert json.loads(json.dumps(repaired.to_dict()))["repair_programs"] == repaired.repair_programs

        # a single expected result proves nothing: no repair, whatever the budget
        lone = generator.generate("Four.", expected=4, repair=64)
        assert lone.repair_programs == 0 and not any(c.extra.get("repair") for c in lone.candidates)
        # a candidate that already matches: nothing to repair
        fine = generator.generate("Multiples of 3.", terms=[0, 3, 6, 9, 12], offset=0, repair=64, search=False)
        assert fine.repair_programs == 0 and fine.chosen.canonical == LODA.canonicalize(TIMES_THREE)


def test_repaired_programs_are_scored_apart_from_the_models_candidates():
    """A repaired program counts for match@1 and verified solve (checked on all T terms, not only
    the M shown), but pass@k and the sample counts stay the model's."""
    from codegen.evaluate import Target, make_request, score_item
    from codegen.generate import GenerationResult, choose
    from codegen.metrics import summarize

    terms = [4 * n for n in range(20)]
    target = Target(id="A008586", description="Multiples of 4.", code="mul $0,4\n", terms=terms, offset=0)
    request = make_request(target, LODA, check_terms=20, with_terms=8)
    model = _parent(TIMES_THREE)
    variants = repair_variants(LODA, [model], budget=20)
    with ExecutionPool(LODA, workers=1, timeout=5) as pool:
        run_candidates(pool, [request], [[model] + variants])
    mark_matches(variants, request.terms)
    candidates = [model] + [v for v in variants if v.match]
    chosen = choose(request, candidates)
    result = GenerationResult(request=request, prompt="", language="loda", strategy="beam", constrained=True,
                              num_samples=1, candidates=candidates, chosen=chosen, repair_programs=len(variants))
    item = score_item(target, result, LODA, check_terms=20, with_terms=8)
    assert item["chosen_from_repair"] and item["sequence_match"] and item["verified_solve"]
    assert item["num_samples"] == 1 and item["num_correct"] == 0 and item["repair_programs"] == len(variants)
    summary = summarize([item, {**item, "chosen_from_repair": False, "repair_programs": 0}])
    assert summary["chosen_from_repair"] == 0.5 and summary["repair_programs"] == len(variants)
    assert summary["pass_at_k"]["1"] == 0.0


def test_clis_refuse_repair_without_enough_terms(capsys):
    from codegen import evaluate
    from codegen.cli import generate

    assert evaluate.main(["--programs", "x", "--baseline-model", "tfidf", "--repair", "64",
                          "--with-terms", "3"]) == 2
    assert "--repair needs --with-terms" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        generate.main(["--repair", "64", "--terms", "1,2,3", "Three terms"])
    assert exit_info.value.code == 2 and "at least 4 terms" in capsys.readouterr().err
