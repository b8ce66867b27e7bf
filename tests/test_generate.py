"""Generation API, selection, CLI and the interactive REPL (driven through stdin)."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from codegen.language import get_language
from codegen.cli.generate import main
from codegen.cli.options import parse_terms
from codegen.generate import Generator, Request, choose, resolve_checkpoint, run_candidates
from codegen.selection import Candidate, candidate_source, select
from conftest import RecordingBackend, build_tiny_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # they decode: one torch thread, as the CLIs do
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("gen") / "loda-tiny", seed=1, max_target_length=32)


def _candidate(code, confidence, outputs, count=1, ran=True):
    return Candidate(code=code, canonical=code, count=count, confidence=confidence, valid=True, ran=ran,
                     outputs=outputs)


def test_selection_prefers_term_matching_candidates():
    likely = _candidate("a", -0.1, [1, 2, 3, 4])
    matching = _candidate("b", -3.0, [0, 1, 1, 2])
    broken = Candidate(code="c", confidence=0.0, valid=False, error_kind="parse")
    failing = _candidate("d", -0.01, None, ran=False)
    assert select([likely, matching, broken, failing]) is likely
    assert select([likely, matching, broken, failing], terms=[0, 1, 1]) is matching
    assert matching.match is True and likely.match is False and broken.match is False
    # nothing matches: the best runnable one, flagged as not matching
    chosen = select([likely, failing], terms=[9, 9])
    assert chosen is likely and chosen.match is False
    assert select([broken, failing]) is None
    # expected result (problems)
    assert select([_candidate("x", -0.1, [41]), _candidate("y", -2.0, [42])], expected=42).code == "y"


def test_selection_agreement_outvotes_a_lone_confident_candidate():
    lone = _candidate("a", -0.50, [1, 2, 3])
    group = [_candidate("b", -0.70, [0, 1, 4], count=3), _candidate("c", -0.75, [0, 1, 4], count=2)]
    chosen = select([lone] + group)
    assert chosen.code == "b" and chosen.agreement == 5 and lone.agreement == 1


def test_selection_with_loda_execution():
    from codegen.execution import ExecutionPool
    from codegen.language import get_language

    language = get_language("loda")
    request = Request("squares", terms=[0, 1, 4, 9], run_terms=6, forbidden=("A000290",))
    candidates = [Candidate(code=c, canonical=c, confidence=conf, valid=True)
                  for c, conf in (("mov $1,$0\n", -0.1), ("pow $0,2\n", -1.5), ("seq $0,290\n", -0.05))]
    with ExecutionPool(language, workers=1, timeout=10) as pool:
        run_candidates(pool, [request], [candidates])
    chosen = choose(request, candidates)
    assert chosen.code == "pow $0,2\n" and chosen.outputs == [0, 1, 4, 9, 16, 25] and chosen.match
    assert candidates[0] is chosen
    self_call = next(c for c in candidates if c.code.startswith("seq"))
    assert not self_call.usable and self_call.error_kind in ("forbidden_call", "unknown_sequence")


def test_generator_api(checkpoint):
    with Generator(str(checkpoint), workers=1, timeout=5) as generator:
        result = generator.generate("Fibonacci numbers", terms=[0, 1, 1, 2], num_samples=6, seed=0)
        assert result.strategy == "sample" and result.constrained and result.num_samples == 6
        # the first samples (retries and search programs may join them)
        sampled = [c for c in result.candidates if candidate_source(c) == "model" and not c.extra.get("retry")]
        assert sum(c.count for c in sampled) == 6
        assert all(c.valid for c in sampled)  # constrained: every sample parses
        assert result.chosen is not None and result.candidates[0] is result.chosen
        assert len(result.chosen.outputs) >= 10 and result.chosen.match in (True, False)
        assert set(result.timings) >= {"generation", "execution", "selection"}
        json.dumps(result.to_dict())
        greedy = generator.generate("Fibonacci numbers", retry_samples=0)
        assert greedy.strategy == "greedy" and greedy.num_samples == 1
        [only] = greedy.candidates  # one hypothesis, constrained: it parses
        assert only.valid and only.match is None  # no terms given: nothing to match against
        # a random model's program may fail at run time (the error is kept); one that ran is chosen
        assert (greedy.chosen is only) == only.ran and (only.ran or only.error_kind)
        beams = generator.generate("Powers of 2", num_samples=3, strategy="beam", retry_samples=0)
        assert sum(c.count for c in beams.candidates) == 3


class _FixedBackend:
    """Returns the same hypotheses for every prompt, as a decoder that found them would."""

    def __init__(self, hypotheses):
        self.hypotheses = hypotheses

    def decode(self, prompts, options):
        return [list(self.hypotheses) for _ in prompts]


def test_beams_are_ranked_by_score_samples_by_agreement(checkpoint):
    from codegen.decoding import Hypothesis
    from codegen.tokenizer import encode_code

    with Generator(str(checkpoint), workers=1, timeout=5) as generator:
        def hypothesis(code, logprob):
            ids = encode_code(generator.tokenizer, "loda", code)[:-1]  # without EOS
            return Hypothesis(token_ids=ids, logprob=logprob * (len(ids) + 1), n_tokens=len(ids) + 1, finished=True)

        # two near-identical low-scoring programs agree on their values; a lone one scores best
        generator.backend = _FixedBackend([hypothesis("mov $0,7\n", -0.5), hypothesis("mov $0,3\n", -0.9),
                                           hypothesis("mov $0,1\nadd $0,2\n", -0.95)])
        beams = generator.generate("Seven", num_samples=3, strategy="beam")
        assert beams.chosen.code == "mov $0,7\n"  # beams are the model's modes, not votes
        samples = generator.generate("Seven", num_samples=3, strategy="sample")
        assert samples.chosen.outputs[0] == 3 and samples.chosen.agreement == 2  # self-consistency
        forced = generator.generate("Seven", num_samples=3, strategy="beam", agreement_weight=1.0)
        assert forced.chosen.outputs[0] == 3


def test_requests_whose_candidates_all_fail_get_retry_samples(checkpoint, capsys):
    from codegen.decoding import Hypothesis
    from codegen.tokenizer import encode_code

    with Generator(str(checkpoint), workers=1, timeout=5) as generator:
        def hypothesis(code, logprob=-0.5):
            ids = encode_code(generator.tokenizer, "loda", code)[:-1]
            return Hypothesis(token_ids=ids, logprob=logprob * (len(ids) + 1), n_tokens=len(ids) + 1, finished=True)

        failing = hypothesis("mov $1,0\ndiv $0,$1\n")  # division by zero: parses, does not run
        backend = RecordingBackend({"greedy": [failing],
                                     "sample": [failing, hypothesis("mov $0,3\n", -0.9),
                                                hypothesis("mov $0,3\n", -0.8), hypothesis("mov $0,5\n", -0.4)]})
        generator.backend = backend
        result = generator.generate("Three", retry_samples=4, seed=0)
        assert [c[1:] for c in backend.calls] == [("greedy", 1), ("sample", 4)]
        assert result.num_samples == 1 and result.retry_samples == 4
        # the retry samples vote: the two agreeing on 3 beat the more confident lone 5
        assert result.chosen.outputs[0] == 3 and result.chosen.extra["retry"] and result.chosen.count == 2
        [first] = [c for c in result.candidates if not c.extra.get("retry")]
        assert first.count == 1 and not first.usable and first.error_kind  # the failed program is not re-run
        assert sum(c.count for c in result.candidates if c.extra.get("retry")) == 3  # its repeat dropped
        assert json.loads(json.dumps(result.to_dict()))["retry_samples"] == 4

        backend.calls.clear()  # retries off: the failure is what the user gets
        off = generator.generate("Three", retry_samples=0)
        assert off.chosen is None and off.retry_samples == 0 and len(off.candidates) == 1
        assert [c[1] for c in backend.calls] == ["greedy"]

        backend.by_strategy["greedy"] = [hypothesis("mov $0,7\n")]  # a first candidate that runs: no retry
        backend.calls.clear()
        fine = generator.generate("Seven", retry_samples=4)
        assert fine.chosen.outputs[0] == 7 and fine.retry_samples == 0 and len(backend.calls) == 1

        backend.by_strategy["greedy"] = [failing]
        generator.backend = backend
        many = generator.generate_many([Request("Seven"), Request("Three")], retry_samples=2)
        assert all(r.chosen is not None and r.retry_samples == 2 for r in many)
        assert len(backend.calls[-1][0]) == 2  # the retry batch holds exactly the failed requests


def test_checkpoint_recommending_beams_makes_them_the_default(checkpoint, tmp_path, capsys):
    import shutil

    beams = tmp_path / "beams"
    shutil.copytree(checkpoint, beams)
    config = json.loads((beams / "generation_config.json").read_text())
    (beams / "generation_config.json").write_text(json.dumps({**config, "num_beams": 3}))
    with Generator(str(beams), workers=1, timeout=5) as generator:
        default = generator.generate("Powers of 2", retry_samples=0)  # the beams alone, whether they run or not
        assert default.strategy == "beam" and default.num_samples == 3
        assert sum(c.count for c in default.candidates) == 3
        assert generator.generate("Powers of 2", strategy="greedy").strategy == "greedy"
        assert generator.generate("Powers of 2", num_samples=1).strategy == "greedy"
        several = generator.generate("Powers of 2", num_samples=4, retry_samples=0)  # the recommendation holds for any count
        assert several.strategy == "beam" and sum(c.count for c in several.candidates) == 4
        assert generator.generate("Powers of 2", num_samples=4, strategy="sample", seed=0).strategy == "sample"
    with Generator(str(checkpoint), workers=1, timeout=5) as generator:  # no recommendation: greedy / samples
        assert generator.generate("Powers of 2").strategy == "greedy"
        assert generator.generate("Powers of 2", num_samples=4, seed=0).strategy == "sample"
    assert main(["--checkpoint", str(beams), "--json", "--strategy", "greedy", "Powers of 2"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["strategy"] == "greedy"
    assert main(["--checkpoint", str(beams), "--json", "Powers of 2"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["num_samples"] == 3


def test_cli_without_checkpoint_explains_how_to_train(tmp_path, capsys):
    assert main(["--checkpoint", str(tmp_path / "missing"), "Fibonacci numbers"]) == 2  # an input error
    err = capsys.readouterr().err
    assert "python -m codegen.train --config configs/loda-tiny.yaml" in err and "--checkpoint" in err


@pytest.mark.parametrize("layout, reason", [("missing", "no checkpoint at"), ("file", "no checkpoint at"),
                                            ("empty", "no config.json"), ("no-meta", "no codegen.json")])
def test_cli_rejects_a_wrong_checkpoint_before_importing_torch(tmp_path, layout, reason):
    """A wrong --checkpoint is reported from the file system alone: exit 2, the path named, and
    neither torch nor transformers imported (their import is what made the error take seconds)."""
    path = tmp_path / "model"
    if layout == "file":
        path.write_text("not a directory")
    elif layout != "missing":
        path.mkdir()
    if layout == "no-meta":
        (path / "config.json").write_text("{}")
    script = ("import sys\n"
              "from codegen.cli.generate import main\n"
              f"code = main(['--checkpoint', {str(path)!r}, 'Fibonacci numbers'])\n"
              "print(code, 'torch' in sys.modules, 'transformers' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["2", "False", "False"], done.stdout + done.stderr
    assert str(path) in done.stderr and reason in done.stderr and "Traceback" not in done.stderr


def test_resolve_checkpoint_accepts_a_trainer_subcheckpoint(tmp_path):
    """checkpoint-N/ of a run has the model's config.json; its codegen.json is the run directory's."""
    run = tmp_path / "run"
    (run / "checkpoint-20").mkdir(parents=True)
    (run / "checkpoint-20" / "config.json").write_text("{}")
    (run / "codegen.json").write_text("{}")
    assert resolve_checkpoint(run / "checkpoint-20") == run / "checkpoint-20"


def test_cli_json(checkpoint, capsys):
    code = main(["--checkpoint", str(checkpoint), "--json", "--terms", "0,1,4", "-k", "4", "--seed", "1",
                 "--workers", "1", "--show-all", "Squares"])
    out = json.loads(capsys.readouterr().out)
    # 0: a program matching the terms; 3: none matches them (exit_status); 1: none ran
    assert code == (1 if out["chosen"] is None else 0 if out["chosen"]["match"] else 3)
    assert out["terms"] == [0, 1, 4] and out["num_samples"] == 4 and len(out["candidates"]) >= 1
    if out["chosen"]:
        assert len(out["chosen"]["outputs"]) == 10 and out["chosen"]["canonical"]


def test_negative_retry_samples_are_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--retry-samples", "-2", "Fibonacci numbers"])
    assert exit_info.value.code == 2 and "--retry-samples: -2 is negative" in capsys.readouterr().err


def test_parse_terms():
    assert parse_terms("1, 1,2 3") == [1, 1, 2, 3]
    assert parse_terms("") is None
    with pytest.raises(ValueError):
        parse_terms("1,x")


def test_interactive_mode_through_stdin(checkpoint, monkeypatch, capsys):
    """`--interactive` reads the piped stdin line by line (in-process: `python -m` would only add
    the imports)."""
    script = "\n".join([":help", ":terms 1,2,3", ":samples 8", ":count 5", "The positive integers",
                        ":show all", ":samples 1", ":retry 0", ":terms", "Powers of 2", ":bogus", ":quit",
                        "never read"]) + "\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(script))
    assert main(["--checkpoint", str(checkpoint), "--interactive", "--workers", "1", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert ":terms 1,1,2,3" in out  # the help text
    assert "terms: 1, 2, 3" in out and "samples: 8" in out and "show: all" in out and "terms: (none)" in out
    assert out.count("; generation ") == 2  # both descriptions answered
    first = out.split("samples: 8")[1].split("show: all")[0]
    # a program (constrained: all 8 samples parse; the random model's best runnable one is shown)
    # and its first 5 computed terms
    terms_line = next(line for line in first.splitlines() if line.startswith("; terms: "))
    assert len(terms_line[len("; terms: "):].split(", ")) == 5
    assert first.splitlines()[2].split()[0] in get_language("loda").structural_tokens()  # after "count: 5"
    assert "retry: 0" in out
    assert "all 1 distinct candidate(s):" in out  # :show all on the second answer (greedy, no retry)
    assert "unknown command :bogus" in out
    assert "never read" not in out


def test_generate_and_evaluate_declare_the_decoding_options_once():
    """`codegen.cli.options` declares the decoding options for both tools (issue 27): each parser
    has every one of them, with the same defaults, so an evaluation decodes as a user's request."""
    import argparse

    from codegen import evaluate
    from codegen.cli import generate as generate_cli
    from codegen.cli.options import add_decoding_options

    shared = argparse.ArgumentParser()
    add_decoding_options(shared, per="request", terms="--terms")
    names = {action.dest: action.default for action in shared._actions if action.dest != "help"}
    assert {"num_samples", "strategy", "retry_samples", "repair", "no_search", "backend", "workers"} <= set(names)
    for parser in (generate_cli.build_parser(), evaluate.build_parser()):
        defaults = {action.dest: action.default for action in parser._actions}
        assert {name: defaults.get(name, "missing") for name in names} == names
