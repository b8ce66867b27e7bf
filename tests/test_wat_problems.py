"""The problem generator: WAT results equal the Python answers, unique texts, determinism,
levels, wordings. (10,000 problems are measured by `python -m languages.wat problems
--count 10000 --seed 0 --verify`; the tests run a few hundred.)"""
from __future__ import annotations

import hashlib
import re
from collections import defaultdict

import pytest

from languages.wat.canonical import format_wat
from languages.wat.problems import GENERATORS, I64_MAX, I64_MIN, Problem, generate_problems
from languages.wat.runner import Sandbox

# the first 40 texts of seed 11, joined by newlines, as generated before `kinds` existed: the
# shipped model's training sets are named by (count, seed, levels) and must stay those texts
UNFILTERED_SEED11_SHA1 = "ef763845cf054274ace21c4db687639b8c6c0ad8"

SAMPLE = generate_problems(500, seed=0)


def test_every_wat_result_equals_the_python_answer():
    mismatches = []
    for p in SAMPLE:
        value = Sandbox(p.wat).call("main")
        if value != p.answer:
            mismatches.append((p.id, p.text, value, p.answer))
    assert not mismatches


def test_all_levels_and_kinds_appear_and_texts_are_unique():
    assert {p.level for p in SAMPLE} == {1, 2, 3, 4, 5}
    assert len({p.text for p in SAMPLE}) == len(SAMPLE)
    assert len({p.id for p in SAMPLE}) == len(SAMPLE)
    kinds = {p.kind for p in SAMPLE}
    assert len(kinds) >= 30


def test_problems_are_canonical_and_fit_i64():
    for p in SAMPLE[:100]:
        assert isinstance(p, Problem)
        assert format_wat(p.wat) == p.wat
        assert '(export "main")' in p.wat and "(result i64)" in p.wat
        assert I64_MIN <= p.answer <= I64_MAX


def test_deterministic_by_seed():
    a = generate_problems(200, seed=7)
    assert a == generate_problems(200, seed=7)
    assert a != generate_problems(200, seed=8)
    assert generate_problems(50, seed=7) == a[:50]  # a prefix of a longer set


def test_levels_filter():
    problems = generate_problems(150, seed=3, levels=(2, 4))
    assert {p.level for p in problems} == {2, 4}
    with pytest.raises(ValueError):
        generate_problems(5, levels=(9,))


def test_exhausted_space_is_reported():
    with pytest.raises(ValueError, match="distinct"):
        generate_problems(10, levels=(3,), max_attempts=5)


def _shape(text: str) -> str:
    """The wording: numbers, names and items blanked out."""
    text = re.sub(r"-?\d+(st|nd|rd|th)?", "#", text)
    return re.sub(r"\b[A-Z][a-z]+\b(?! [a-z]+\?)", "N", text)


def test_several_wordings_per_kind():
    shapes = defaultdict(set)
    for level in GENERATORS:
        for p in generate_problems(600, seed=level, levels=(level,)):
            shapes[p.kind].add(_shape(p.text))
    assert len(shapes) == sum(len(g) for g in GENERATORS.values())
    too_few = {kind: len(s) for kind, s in shapes.items() if len(s) < 4}
    assert not too_few


def test_answers_are_computed_independently_of_the_wat():
    # spot checks of the Python side against hand-computed values
    by_kind = defaultdict(list)
    for p in generate_problems(400, seed=5, levels=(3, 5)):
        by_kind[p.kind].append(p)
    for p in by_kind["factorial"]:
        n = int(re.findall(r"\d+", p.text)[-1])
        expected = 1
        for k in range(2, n + 1):
            expected *= k
        assert p.answer == expected
    for p in by_kind["digit_count"]:
        assert p.answer == len(re.search(r"\d+", p.text).group())


def test_heldout_benchmark_excludes_what_a_run_checkpoint_trained_on(tmp_path):
    """benchmarks/wat_problems_eval.py reads the training problem set (count, seed) from the
    checkpoint, so that no held-out text was trained on; a `checkpoint-N` folder of a run has no
    train_config.yaml of its own and must use the run's."""
    module = _benchmark_module()
    run = tmp_path / "run"
    (run / "checkpoint-200").mkdir(parents=True)
    (run / "train_config.yaml").write_text("data:\n  recipe_options:\n    wat-problems: {count: 60000, seed: 0}\n")
    assert module.training_recipe(run) == {"count": 60000, "seed": 0}
    assert module.training_recipe(run / "checkpoint-200") == {"count": 60000, "seed": 0}
    assert module.training_recipe(tmp_path) is None
    # a checkpoint whose training problems are unknown is refused, not scored against a guess
    assert module.main(["--checkpoint", str(tmp_path), "--count", "5"]) == 2


def _benchmark_module():
    from conftest import load_benchmark

    return load_benchmark("wat_problems_eval")


def test_chains_are_straight_stack_code_in_the_order_of_the_text():
    """A chain's program pushes the start and then one `i64.const v; op` per phrase, in order:
    no local carries the value (the shorter target is what a model learns to write)."""
    words = {"add": "i64.add", "increase": "i64.add", "subtract": "i64.sub", "decrease": "i64.sub",
             "take": "i64.sub", "multiply": "i64.mul"}
    chains = [p for p in generate_problems(400, seed=5, levels=(2,)) if p.kind == "chain"]
    assert len(chains) > 30
    for p in chains:
        lines = [line.strip() for line in p.wat.splitlines()[2:]]
        assert not any(line.startswith(("local", "(local")) for line in lines), p.wat
        numbers = [int(n) for n in re.findall(r"(?<![\w^])\d+", p.text)]
        steps = re.findall(r"\b(add|increase|subtract|decrease|take|multiply)\b", p.text.split(",", 1)[1]
                           if p.text.startswith("Start") else p.text.split(numbers and str(numbers[0]), 1)[1])
        expected = [f"i64.const {numbers[0]}"]
        for word, value in zip(steps, numbers[1:]):
            expected += [f"i64.const {value}", words[word]]
        assert [line.rstrip(")") for line in lines] == expected, (p.text, p.wat)


def test_kinds_narrow_a_set_without_changing_the_unfiltered_draws():
    chains = generate_problems(60, seed=4, levels=(2, 3), kinds=["chain", "factorial"])
    assert {p.kind for p in chains} == {"chain", "factorial"}
    assert [p.level for p in chains if p.kind == "chain"] and all(
        p.level == 2 for p in chains if p.kind == "chain")
    # a level none of whose kinds is asked for is not drawn at all
    assert {p.level for p in generate_problems(20, seed=4, levels=(1, 2), kinds=["poly"])} == {2}
    assert generate_problems(30, seed=4, kinds=["chain"])[:10] == generate_problems(10, seed=4, kinds=["chain"])
    # no filter: the same draws as a set written before kinds existed (a stored hash of the texts)
    texts = "\n".join(p.text for p in generate_problems(40, seed=11))
    assert hashlib.sha1(texts.encode()).hexdigest() == UNFILTERED_SEED11_SHA1
    with pytest.raises(ValueError, match="unknown kinds"):
        generate_problems(5, levels=(2,), kinds=["factorial"])


def test_problem_sets_join_parts_and_name_a_malformed_one():
    from languages.wat.problems import problem_sets

    assert problem_sets(count=5, seed=2, levels="1,3") == [{"count": 5, "seed": 2, "levels": (1, 3), "kinds": None}]
    assert problem_sets(parts=[{"count": 4}, {"count": 3, "seed": 1, "levels": [2], "kinds": "chain, expr"}]) == [
        {"count": 4, "seed": 0, "levels": (1, 2, 3, 4, 5), "kinds": None},
        {"count": 3, "seed": 1, "levels": (2,), "kinds": ("chain", "expr")}]
    for parts, field in [([{"count": 4, "sed": 1}], "parts[0]: unknown field(s) ['sed']"),
                         ([{"count": 4, "levels": [1], "kinds": ["chain"]}], "parts[0]: unknown kinds ['chain']"),
                         ([{"count": 4, "kinds": 7}], "parts[0]: kinds must be a list"),
                         ([{"count": 4}, {"seed": 1}], "parts[1]: missing field 'count'"),
                         ([{"count": 4, "levels": [9]}], "parts[0]: unknown levels [9]"),
                         ([{"count": "many"}], "parts[0]: count and seed must be integers"),
                         ([], "non-empty list"), ([3], "parts[0] must be a mapping")]:
        with pytest.raises(ValueError, match=re.escape(field)):
            problem_sets(parts=parts)


def test_a_config_with_malformed_parts_fails_when_read(tmp_path):
    from codegen.config import ConfigError, load_config

    path = tmp_path / "bad.yaml"
    path.write_text("language: wat\nrecipes: [wat-problems]\ndata:\n  recipe_options:\n    wat-problems:\n"
                    "      parts:\n        - {count: 10}\n        - {count: 10, levels: [7]}\n")
    with pytest.raises(ConfigError, match=re.escape("data.recipe_options.wat-problems': wat-problems.parts[1]")):
        load_config(path)


def test_the_recipe_joins_parts_without_repeating_a_text():
    from languages.wat.language import WatLanguage

    lang = WatLanguage()
    first = [r.meta["text"] for r in lang.records("wat-problems", None, count=30, seed=0)]
    joined = [r.meta["text"] for r in lang.records("wat-problems", None, parts=[
        {"count": 30, "seed": 0}, {"count": 20, "seed": 0}, {"count": 25, "seed": 1, "levels": [2]}])]
    extra = [p.text for p in generate_problems(25, seed=1, levels=(2,))]
    assert joined[:30] == first  # the second part is a prefix of the first: nothing new
    assert joined[30:] == [t for t in extra if t not in set(first)]
    assert len(set(joined)) == len(joined)


def test_heldout_benchmark_excludes_the_texts_of_every_part():
    module = _benchmark_module()
    from languages.wat.problems import problem_sets

    sets = problem_sets(parts=[{"count": 300, "seed": 0}, {"count": 3000, "seed": 1, "levels": [1]}])
    kept, info = module.held_out_problems(300, 7, [1], sets)
    first = {p.text for p in generate_problems(300, seed=0)}
    second = {p.text for p in generate_problems(3000, seed=1, levels=(1,))}
    assert len(kept) == 300 and not {p.text for p in kept} & (first | second)
    drawn = generate_problems(info["drawn"], seed=7, levels=(1,))
    assert any(p.text in second and p.text not in first for p in drawn)  # the second part did exclude
    with pytest.raises(ValueError, match="seed must differ"):
        module.held_out_problems(10, 1, [2], sets)
