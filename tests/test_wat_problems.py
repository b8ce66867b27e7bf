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
    from codegen.tasks import get_task

    with pytest.raises(ValueError, match="no train_config.yaml"):
        get_task("wat-held-out", "wat", checkpoint=tmp_path, count=5)


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

    classic = {"wording": "classic", "templates": "all"}
    assert problem_sets(count=5, seed=2, levels="1,3") == [{"count": 5, "seed": 2, "levels": (1, 3), "kinds": None,
                                                            **classic}]
    assert problem_sets(parts=[{"count": 4}, {"count": 3, "seed": 1, "levels": [2], "kinds": "chain, expr"}]) == [
        {"count": 4, "seed": 0, "levels": (1, 2, 3, 4, 5), "kinds": None, **classic},
        {"count": 3, "seed": 1, "levels": (2,), "kinds": ("chain", "expr"), **classic}]
    # wording and templates: the recipe's default, overridden per part
    assert [(s["wording"], s["templates"]) for s in problem_sets(
        wording="diverse", templates="train", parts=[{"count": 4}, {"count": 2, "templates": "all"}])] == [
        ("diverse", "train"), ("diverse", "all")]
    for parts, field in [([{"count": 4, "sed": 1}], "parts[0]: unknown field(s) ['sed']"),
                         ([{"count": 4, "levels": [1], "kinds": ["chain"]}], "parts[0]: unknown kinds ['chain']"),
                         ([{"count": 4, "kinds": 7}], "parts[0]: kinds must be a list"),
                         ([{"count": 4}, {"seed": 1}], "parts[1]: missing field 'count'"),
                         ([{"count": 4, "levels": [9]}], "parts[0]: unknown levels [9]"),
                         ([{"count": "many"}], "parts[0]: count and seed must be integers"),
                         ([{"count": 4, "wording": "fancy"}], "parts[0]: wording must be one of classic"),
                         ([{"count": 4, "templates": "held-out"}], "parts[0]: templates 'held-out' needs"),
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
    from languages.wat import heldout as module
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



# -- diverse wordings and template families (issue 25) ------------------------------------------

# the shipped model's benchmark set (seed 20261122) and training parts are named by (count, seed,
# levels): the classic generation must stay byte for byte what it was before template families
CLASSIC_SEED0_SHA1 = "89681676248e1dbe944e5de79046c434f5b6ddc7"


def _classic_digest(problems) -> str:
    digest = hashlib.sha1()
    for p in problems:
        digest.update(repr((p.id, p.level, p.kind, p.text, p.wat, p.answer)).encode())
    return digest.hexdigest()


def test_classic_generation_is_unchanged_and_named():
    problems = generate_problems(300, seed=0)
    assert _classic_digest(problems) == CLASSIC_SEED0_SHA1
    assert all(p.template == f"{p.kind}/classic" for p in problems)
    with pytest.raises(ValueError, match="needs wording='diverse'"):
        generate_problems(5, templates="held-out")
    with pytest.raises(ValueError, match="unknown wording"):
        generate_problems(5, wording="fancy")


DIVERSE_SAMPLE = generate_problems(1200, seed=21, wording="diverse")


def test_diverse_programs_give_the_python_answers():
    mismatches = [(p.text, p.answer) for p in DIVERSE_SAMPLE[:400] if Sandbox(p.wat).call("main") != p.answer]
    assert not mismatches
    for p in DIVERSE_SAMPLE:
        assert format_wat(p.wat) == p.wat and I64_MIN <= p.answer <= I64_MAX


def test_diverse_wordings_are_many_and_varied():
    from languages.wat.problems import DIVERSE, kind_names

    kinds = {kind for level in GENERATORS for kind in kind_names(level)}
    assert set(DIVERSE) == kinds  # every kind has diverse families
    for kind, (_, families) in DIVERSE.items():
        assert len(families) >= 3, kind
        assert any(f.held_out for f in families) and not all(f.held_out for f in families), kind
        assert len({f.id for f in families}) == len(families)
    seen = {p.template for p in DIVERSE_SAMPLE}
    assert len(seen) >= 150  # nearly every family appears in 1,200 problems
    texts = [p.text for p in DIVERSE_SAMPLE]
    assert len(set(texts)) == len(texts)
    joined = "\n".join(texts)
    assert re.search(r"\d,\d{3}\b", joined) and re.search(r"\d \d{3}\b", joined)  # separators
    assert re.search(r"\b(hundred|thousand|twenty|forty)\b", joined)  # numbers in words
    assert re.search(r"years old|classrooms|house number|opened", joined)  # distractor clauses
    assert re.search(r"(, then |; after that |, next ).*(, then |; after that |, next |, and then )", joined)


def test_diverse_numbers_are_read_by_the_words_reading():
    """Every number a diverse text shows is one the prompt's slots can carry: in words or with
    separators, the words reading gives back the value the program uses (at most 8 slots)."""
    from codegen.number_slots import MAX_SLOTS, prompt_numbers
    from languages.wat.problems import number_words

    for n in [0, 7, 12, 19, 20, 45, 100, 101, 312, 1000, 2006, 19999, 70010, 999999, 1234567, 10 ** 9 + 7]:
        assert prompt_numbers(number_words(n), "words") == [n], number_words(n)
    for p in DIVERSE_SAMPLE:
        numbers = prompt_numbers(p.text, "words")
        assert len(numbers) <= MAX_SLOTS, p.text
        if p.kind in ("add", "sub", "mul", "mod", "square", "gcd", "lcm", "is_prime", "digit_sum", "totient"):
            constants = {int(v) for v in re.findall(r"i64\.const (-?\d+)", p.wat)}
            shown = set(numbers)
            # the problem's operands (not the program's structural 0, 1, 2, 10) are read from the text
            operands = {v for v in constants if abs(v) > 12}
            assert operands <= shown, (p.text, operands, shown)


def test_template_split_holds_out_whole_families():
    from languages.wat.problems import DIVERSE, template_families

    held = {f.id for _, families in DIVERSE.values() for f in families if f.held_out}
    train = generate_problems(800, seed=3, wording="diverse", templates="train")
    unseen = generate_problems(300, seed=4, wording="diverse", templates="held-out")
    assert not {p.template for p in train} & held
    assert {p.template for p in unseen} <= held and len({p.template for p in unseen}) >= 30
    assert not {p.text for p in train} & {p.text for p in unseen}
    assert template_families("add", "held-out") == ["add/together", "add/container"]
    assert "add/classic" in template_families("add", "train") and "add/together" not in template_families(
        "add", "train")


def test_recipe_reads_wording_and_names_the_template():
    from languages.wat.language import WatLanguage

    records = list(WatLanguage().records("wat-problems", None, count=40, seed=2, wording="diverse",
                                         templates="train"))
    assert len(records) == 40 and all(r.meta["template"].split("/")[0] == r.meta["kind"] for r in records)
    assert any(not r.meta["template"].endswith("/classic") for r in records)
    classic = list(WatLanguage().records("wat-problems", None, count=10, seed=2))
    assert [r.meta["text"] for r in classic] == [p.text for p in generate_problems(10, seed=2)]


def test_problems_cli_writes_a_problems_file(tmp_path):
    import json

    from languages.wat.problems import main

    out = tmp_path / "unseen.jsonl"
    assert main(["--count", "12", "--seed", "5", "--wording", "diverse", "--templates", "held-out",
                 "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 12 and {"id", "text", "answer", "level", "template"} <= set(rows[0])
    assert main(["--count", "3", "--templates", "held-out"]) == 2


def test_heldout_benchmark_excludes_diverse_training_texts(monkeypatch):
    # a model trained on diverse wordings: the benchmark regenerates each part with its own wording
    # and template split, so the texts it excludes are the ones trained on
    from languages.wat import heldout as module
    from languages.wat.problems import problem_sets

    calls = []

    def recording(*args, **kwargs):
        calls.append((kwargs.get("wording", "classic"), kwargs.get("templates", "all")))
        return generate_problems(*args, **kwargs)

    monkeypatch.setattr(module, "generate_problems", recording)
    sets = problem_sets(parts=[{"count": 50, "seed": 0}, {"count": 300, "seed": 6, "levels": [1],
                                                           "wording": "diverse", "templates": "train"}])
    kept, _ = module.held_out_problems(100, 8, [1], sets)
    assert calls[:2] == [("classic", "all"), ("diverse", "train")]
    trained = {p.text for p in generate_problems(300, seed=6, levels=(1,), wording="diverse", templates="train")}
    assert not {p.text for p in kept} & trained
