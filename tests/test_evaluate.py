"""Evaluation: scoring (a self-call is never a match), --programs end to end, the baseline, reports."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from codegen.evaluate import (Target, load_program_targets, main, make_request, choose_targets, score_item)
from codegen.execution import ExecutionPool
from codegen.generate import GenerationResult, choose, run_candidates
from codegen.language import get_language
from codegen.selection import Candidate
from conftest import build_tiny_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # they decode: one torch thread, as the CLIs do
FIB = "mov $1,1\nlpb $0\n  sub $0,1\n  mov $2,$1\n  add $1,$3\n  mov $3,$2\nlpe\nmov $0,$3\n"
FIB_TERMS = [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181, 6765]


def _score(target, codes, *, with_terms=None, check_terms=20, pool_language=None):
    language = get_language("loda")
    request = make_request(target, language, check_terms=check_terms, with_terms=with_terms)
    candidates = [Candidate(code=c, canonical=language.canonicalize(c), confidence=-0.1 * i, valid=True)
                  for i, c in enumerate(codes)]
    with ExecutionPool(pool_language or language, workers=1, timeout=10) as pool:
        run_candidates(pool, [request], [candidates])
    chosen = choose(request, candidates)
    result = GenerationResult(request=request, prompt="", language="loda", strategy="sample", constrained=True,
                              num_samples=len(codes), candidates=candidates, chosen=chosen)
    return request, score_item(target, result, language, check_terms=check_terms, with_terms=with_terms)


def _fib_target():
    return Target(id="A000045", description="Fibonacci numbers", code=FIB, terms=FIB_TERMS, offset=0,
                  meta={"calls": [], "length": 7})


def test_correct_program_scores():
    request, item = _score(_fib_target(), [FIB, "mul $0,2\n"])
    assert request.forbidden == ("A000045",) and request.offset == 0 and request.run_terms == 20
    assert item["valid"] and item["exact_match"] and item["sequence_match"]
    assert item["num_samples"] == 2 and item["num_correct"] == 1 and item["checked_terms"] == 20


def test_retry_samples_are_scored_apart_from_the_first_candidates():
    """A program chosen among retry samples counts for validity and match@1, but pass@k, the parse
    rate and the error counts stay over the first num_samples candidates."""
    from codegen.metrics import summarize

    language = get_language("loda")
    target = _fib_target()
    request = make_request(target, language, check_terms=20, with_terms=None)
    first = Candidate(code="mov $1,0\ndiv $0,$1\n", canonical=language.canonicalize("mov $1,0\ndiv $0,$1\n"),
                      valid=True, count=2)
    retry = Candidate(code=FIB, canonical=language.canonicalize(FIB), valid=True, extra={"retry": True})
    with ExecutionPool(language, workers=1, timeout=10) as pool:
        run_candidates(pool, [request], [[first, retry]])
    chosen = choose(request, [first, retry])
    result = GenerationResult(request=request, prompt="", language="loda", strategy="beam", constrained=True,
                              num_samples=2, candidates=[first, retry], chosen=chosen, retry_samples=8)
    item = score_item(target, result, language, check_terms=20, with_terms=None)
    assert item["valid"] and item["sequence_match"] and item["chosen_from_retry"] and item["retry_samples"] == 8
    assert item["num_samples"] == 2 and item["num_correct"] == 0 and item["runnable_samples"] == 0
    assert item["errors"] == {"undefined": 2}
    summary = summarize([item, {**item, "retry_samples": 0, "chosen_from_retry": False}])
    assert summary["retried"] == 0.5 and summary["chosen_from_retry"] == 0.5
    assert summary["pass_at_k"]["1"] == 0.0 and summary["sequence_match"] == 1.0


def test_self_call_is_never_a_match():
    """`seq $0,45` computes Fibonacci for A000045 only by calling the target: never a match."""
    from languages.loda import Corpus
    from languages.loda.corpus import record_from_text

    language = get_language("loda")
    library = Corpus([record_from_text("; A000045: Fibonacci numbers.\n; 0,1,1,2,3,5\n\n" + FIB,
                                       "oeis/000/A000045.asm")])
    previous = language.corpus()
    language.set_corpus(library)
    try:
        # the control: without the ban the call runs and would reproduce the terms
        assert language.execute("seq $0,45\n", terms=5).outputs == [0, 1, 1, 2, 3]
        _, item = _score(_fib_target(), ["seq $0,45\n", "mov $1,$0\nseq $1,45\nmov $0,$1\n"])
        assert not item["sequence_match"] and not item["exact_match"] and item["num_correct"] == 0
        assert not item["valid"] and item["errors"] == {"forbidden_call": 2}
        _, item = _score(_fib_target(), ["seq $0,45\n"], with_terms=5)
        assert item["verified_solve"] is False
    finally:
        language.set_corpus(previous)


@pytest.mark.corpus
def test_transitive_self_call_is_never_a_match(corpus):
    """A program that reaches the target through another corpus program is rejected too."""
    language = get_language("loda")
    caller = next(r for r in corpus if 45 in r.calls and len(r.calls) == 1 and not r.denied)
    language.set_corpus(corpus)
    try:
        target = _fib_target()
        _, item = _score(target, [f"seq $0,{caller.number}\n"])
        assert item["num_correct"] == 0 and item["errors"] == {"forbidden_call": 1}
        allowed = Target(id="A000290", description="squares", code="pow $0,2\n", terms=[0, 1, 4, 9])
        request, item = _score(allowed, ["seq $0,45\n"])
        assert item["valid"]  # calling another sequence is fine
    finally:
        language.set_corpus(None)


def test_with_terms_goes_to_selection():
    likely_wrong = "mul $0,2\n"
    request, item = _score(_fib_target(), [likely_wrong, FIB], with_terms=6)
    assert request.terms == FIB_TERMS[:6]
    assert item["sequence_match"] and item["verified_solve"] and item["selection_match"]
    _, item = _score(_fib_target(), [likely_wrong, FIB])
    assert not item["sequence_match"] and "verified_solve" not in item  # most confident, unverified


def test_choose_targets_is_seeded():
    targets = [Target(id=str(i), description="", code=None) for i in range(50)]
    first = [t.id for t in choose_targets(targets, 10, seed=3)]
    assert first == [t.id for t in choose_targets(targets, 10, seed=3)]
    assert first != [t.id for t in choose_targets(targets, 10, seed=4)]
    assert first == sorted(first, key=int) and len(choose_targets(targets, None, 0)) == 50


def _write_programs(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "A000045.asm").write_text(
        "; A000045: Fibonacci numbers.\n; 0,1,1,2,3,5,8,13,21,34,55,89,144,233,377,610,987\n\n" + FIB)
    (folder / "A000290.asm").write_text("; A000290: The squares: a(n) = n^2.\n; 0,1,4,9,16,25,36,49\n\npow $0,2\n")
    (folder / "A000027.asm").write_text(
        "; A000027: The positive integers.\n; 1,2,3,4,5,6,7,8,9,10\n\n#offset 1\n\nmov $0,$0\n")
    (folder / "broken.asm").write_text("; A999999: broken\n; 1,2\n\nlpb $0\n")
    return folder


def test_load_program_targets(tmp_path):
    targets, skipped = load_program_targets(_write_programs(tmp_path / "progs"))
    assert [t.id for t in targets] == ["A000027", "A000045", "A000290"]
    assert targets[0].offset == 1 and targets[0].terms[:3] == [1, 2, 3] and targets[0].description.startswith("The")
    assert len(skipped) == 1 and Path(skipped[0][0]).name == "broken.asm"


def test_evaluate_programs_end_to_end(tmp_path, capsys):
    checkpoint = build_tiny_checkpoint(tmp_path / "ckpt", seed=2, max_target_length=24)
    programs = _write_programs(tmp_path / "progs")
    baseline = tmp_path / "previous.json"
    baseline.write_text(json.dumps({"n": 3, "validity": 1.0, "exact_match": 0.0, "sequence_match": 0.5,
                                    "pass_at_k": {"1": 0.4}, "breakdowns": {"length": {"1-5": {
                                        "n": 3, "sequence_match": 0.5}}}}))
    out = tmp_path / "report"
    code = main(["--checkpoint", str(checkpoint), "--programs", str(programs), "--num-samples", "3",
                 "--with-terms", "4", "--check-terms", "8", "--report-dir", str(out), "--baseline", str(baseline),
                 "--no-progress", "--workers", "1", "--seed", "1"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    for key in ("n", "validity", "exact_match", "sequence_match", "pass_at_k", "verified_solve",
                "programs_per_second", "seconds", "generation_seconds", "execution_seconds", "config",
                "breakdowns", "baseline"):
        assert key in report, key
    assert report["n"] == 3 and set(report["pass_at_k"]) == {"1", "3"}
    assert report["config"]["constrained"] and report["config"]["with_terms"] == 4
    assert report["config"]["strategy"] == "sample"  # the checkpoint recommends no beams
    assert report["parse_rate"] == 1.0  # constrained: every sample of the random model parses
    assert report["baseline"]["sequence_match"] == 0.5
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    assert [i["id"] for i in items] == ["A000027", "A000045", "A000290"]
    assert all(i["num_samples"] == 3 for i in items)
    assert items[0]["checked_terms"] == 8 and items[0]["offset"] == 1
    assert (out / "report.md").read_text().count("|") > 20
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and "sequence_match" in page
    assert (out / "by-length.png").stat().st_size > 1000
    summary = json.loads(capsys.readouterr().out)
    assert summary["n"] == 3


def test_evaluate_follows_the_checkpoints_recommended_beams(tmp_path, capsys):
    checkpoint = build_tiny_checkpoint(tmp_path / "ckpt", seed=2, max_target_length=24)
    config = json.loads((checkpoint / "generation_config.json").read_text())
    (checkpoint / "generation_config.json").write_text(json.dumps({**config, "num_beams": 4}))
    programs = _write_programs(tmp_path / "progs")
    out = tmp_path / "report"
    common = ["--checkpoint", str(checkpoint), "--programs", str(programs), "--report-dir", str(out),
              "--no-progress", "--workers", "1"]
    assert main(common + ["--num-samples", "3"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["strategy"] == "beam" and set(report["pass_at_k"]) == {"1", "3"}
    assert main(common + ["--num-samples", "3", "--strategy", "sample"]) == 0
    assert json.loads((out / "report.json").read_text())["config"]["strategy"] == "sample"
    # no -k: what `python -m codegen.generate` does, its 4 beams and the best runnable one
    assert main(common) == 0
    config = json.loads((out / "report.json").read_text())["config"]
    assert (config["strategy"], config["num_samples"]) == ("beam", 4)
    assert main(common + ["-k", "1"]) == 0  # one candidate asked for: greedy
    config = json.loads((out / "report.json").read_text())["config"]
    assert (config["strategy"], config["num_samples"]) == ("greedy", 1)
    capsys.readouterr()


def test_evaluate_requires_a_model_or_baseline(capsys):
    assert main(["--programs", "x"]) == 2
    assert "--baseline-model" in capsys.readouterr().err


def test_tfidf_baseline_retrieves_nearest_name():
    from codegen.baseline import TfidfRetriever, candidates_from_retrieved

    retriever = TfidfRetriever(["A1", "A2", "A3"], ["Fibonacci numbers", "The prime numbers", "Squares of primes"],
                               ["mov $0,1\n", "add $0,2\n", "mul $0,$0\n"])
    hits = retriever.query(["the squares of primes", "numbers of Fibonacci"], k=2)
    assert hits[0][0].id == "A3" and hits[1][0].id == "A1"
    assert hits[0][0].similarity > hits[0][1].similarity > 0
    assert [h.id for h in retriever.query(["Fibonacci numbers"], k=1, exclude=["A1"])[0]] != ["A1"]
    candidates = candidates_from_retrieved(get_language("loda"), hits[0], num_samples=4)
    assert sum(c.count for c in candidates) == 4 and sum(c.valid for c in candidates) == 2


# -- the held-out split is rebuilt with the training's data options ------------------------------
def test_training_data_options_come_from_the_checkpoints_train_config(tmp_path):
    from codegen.evaluate import training_data_options

    (tmp_path / "train_config.yaml").write_text(
        "language: wat\nterms_count: 5\ndata:\n  recipe_options:\n    wat-oeis: {max_instructions: 8, calls: false}\n")
    assert training_data_options(tmp_path, {"recipes": ["wat-oeis"]}) == {
        "terms_count": 5, "include_denied": False,
        "recipe_options": {"wat-oeis": {"max_instructions": 8, "calls": False}}}


def test_training_data_options_of_a_runs_checkpoint_folder_are_the_runs(tmp_path):
    from codegen.evaluate import training_data_options

    (tmp_path / "train_config.yaml").write_text("data:\n  recipe_options:\n    wat-oeis: {calls: false}\n")
    (tmp_path / "checkpoint-200").mkdir()
    assert training_data_options(tmp_path / "checkpoint-200", {})["recipe_options"] == {"wat-oeis": {"calls": False}}


def test_training_data_options_of_the_shipped_models():
    from codegen.evaluate import training_data_options

    repo = Path(__file__).resolve().parent.parent / "checkpoints"
    # the LODA model was trained with the recipes' defaults, so its split is the default one
    assert training_data_options(repo / "loda-t5-tiny", {}) == {
        "terms_count": 8, "include_denied": False, "recipe_options": {}}
    wat = training_data_options(repo / "wat-t5-tiny", {})
    assert wat["recipe_options"]["wat-oeis"] == {"max_instructions": 8, "calls": False}


def test_training_data_options_missing_or_broken(tmp_path, capsys):
    from codegen.evaluate import training_data_options

    assert training_data_options(tmp_path, {"recipes": ["loda"]}) == {}
    assert "no train_config.yaml here or one level up" in capsys.readouterr().err
    assert training_data_options(tmp_path, {}) == {}  # not one of ours: nothing to warn about
    assert capsys.readouterr().err == ""
    (tmp_path / "train_config.yaml").write_text("data: [unclosed\n")
    with pytest.raises(ValueError, match="train_config.yaml: unreadable training config"):
        training_data_options(tmp_path, {})
    (tmp_path / "train_config.yaml").write_text("- a list\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        training_data_options(tmp_path, {})


def test_every_evaluation_set_is_a_registered_task(tmp_path):
    """One harness (issue 27): a recipe's split, a programs folder, a problems file and the WAT
    held-out problems are tasks of one registry, each building its requests and scoring its items."""
    from codegen.tasks import ProgramsTask, SplitTask, available_tasks, get_task, task_class

    assert {"split", "programs", "problems", "wat-held-out"} <= set(available_tasks())
    with pytest.raises(KeyError, match="unknown evaluation task 'nope'"):
        task_class("nope")
    task = get_task("programs", "loda", path=_write_programs(tmp_path / "progs"), check_terms=8, with_terms=4)
    assert isinstance(task, ProgramsTask) and task.source() == {"programs": str(tmp_path / "progs")}
    assert [t.id for t in task.targets()] == ["A000027", "A000045", "A000290"] and len(task.skipped) == 1
    request = task.request(task.targets()[1])
    assert request.terms == FIB_TERMS[:4] and request.run_terms == 8 and request.forbidden == ("A000045",)
    split = get_task("split", "loda", corpus=None, split="validation")
    assert isinstance(split, SplitTask) and split.source() == {"split": "validation", "recipe": "loda"}
    assert split.batch_seed(5, 2) == 7 and task_class("wat-held-out").seed_per_batch is False


def test_evaluate_runs_the_wat_held_out_task_and_writes_its_table(tmp_path, capsys):
    """`--task wat-held-out` runs the benchmark's task through the one runner and report writer:
    its figures (by level and kind, the bar) and its table come beside the common ones."""
    out = tmp_path / "report"
    options = {"count": 4, "levels": [1], "train_count": 50, "train_seed": 0}
    checkpoint = str(Path(__file__).resolve().parent.parent / "checkpoints" / "wat-t5-tiny")
    assert main(["--checkpoint", checkpoint,
                 "--task", "wat-held-out", "--task-options", json.dumps(options), "-k", "1",
                 "--report-dir", str(out), "--no-progress", "--workers", "1"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["n"] == 4 and report["overall"]["n"] == 4 and list(report["by_level"]) == ["1"]
    assert report["config"]["task"] == "wat-held-out" and report["held_out"]["training_recipe"][0]["count"] == 50
    assert report["overall"]["result_match"] == report["sequence_match"]
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    assert all(i["result_match"] == i["sequence_match"] and i["answer"] == i["expected_result"] for i in items)
    assert "## Held-out generated problems by level" in (out / "report.md").read_text()
    assert "Bar: result match" in (out / "report.html").read_text()
    capsys.readouterr()
    assert main(["--checkpoint", checkpoint, "--task", "wat-held-out", "--task-options", '{"cuont": 4}']) == 2
    assert main(["--checkpoint", checkpoint, "--task", "nope"]) == 2
    err = capsys.readouterr().err
    assert "--task wat-held-out:" in err and "unknown evaluation task 'nope'" in err
