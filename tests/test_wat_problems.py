"""The problem generator: WAT results equal the Python answers, unique texts, determinism,
levels, wordings. (10,000 problems are measured by `python -m languages.wat problems
--count 10000 --seed 0 --verify`; the tests run a few hundred.)"""
from __future__ import annotations

import re
from collections import defaultdict

import pytest

from languages.wat.canonical import format_wat
from languages.wat.problems import GENERATORS, I64_MAX, I64_MIN, Problem, generate_problems
from languages.wat.runner import Sandbox

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
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "wat_problems_eval.py"
    spec = importlib.util.spec_from_file_location("wat_problems_eval", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run = tmp_path / "run"
    (run / "checkpoint-200").mkdir(parents=True)
    (run / "train_config.yaml").write_text("data:\n  recipe_options:\n    wat-problems: {count: 60000, seed: 0}\n")
    assert module.training_recipe(run) == {"count": 60000, "seed": 0}
    assert module.training_recipe(run / "checkpoint-200") == {"count": 60000, "seed": 0}
    assert module.training_recipe(tmp_path) == {}
