"""The scripts in examples/ run as a user runs them (a subprocess, from outside the checkout)
and print what their docstrings promise. The model example runs the shipped LODA model."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path


REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def run_example(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180)


def test_loda_vm(tmp_path):
    done = run_example("loda_vm.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "canonical form:\nmov $3,1\nlpb $0\n  sub $0,1\n" in out
    assert "comments" not in out.split("canonical form:")[1].split("offset")[0]  # comments are dropped
    assert "first 15 terms: 0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377" in out
    assert "ForbiddenCallError [forbidden_call]: call of forbidden sequence A000045 at line 2 (seq $0,45)" in out
    assert "StepLimitError [step_limit]: more than 10000 steps" in out


def test_loda_vm_parse_error(tmp_path):
    bad = tmp_path / "bad.asm"
    bad.write_text("mov $0,1\nfoo $1,2\n")
    done = run_example("loda_vm.py", "--program", str(bad), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.startswith("parse error:") and "bad.asm:2" in done.stdout


def test_wat_problem(tmp_path):
    from languages.wat import generate_problems

    problem = generate_problems(1, seed=0, levels=(3,))[0]
    done = run_example("wat_problem.py", "--level", "3", "--seed", "0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert problem.text in out and "reference solution" in out
    assert f"sandbox result: main() = {problem.answer}: correct" in out
    assert "WAT a(0..11):  [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89]" in out
    assert "LODA VM:       [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89]" in out
    assert "a(93) = F(93) > 2^63 - 1, the sandbox reports: trap:" in out


def test_finetune_codet5_fails_cleanly_without_the_model(tmp_path):
    # a name that is neither a directory nor a valid hub id: refused before any download or training
    done = run_example("finetune_codet5.py", "--pretrained", str(tmp_path / "missing-model"), cwd=tmp_path)
    assert done.returncode == 1
    assert "error: cannot load" in done.stderr and "--pretrained DIR" in done.stderr
    assert "Traceback" not in done.stderr


def test_generate_loda_with_the_shipped_model(tmp_path, corpus_path):
    done = run_example("generate_loda.py", "--corpus", str(corpus_path), "--num-samples", "4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    sections = out.split("== ")[1:]
    assert len(sections) == 2 and sections[0].startswith("'Fibonacci numbers' (description only)")
    # the shipped model writes the Fibonacci program; nothing is checked without terms
    assert "computed terms: 0, 1, 1, 2, 3, 5, 8, 13, 21, 34" in sections[0]
    assert "nothing to check (no terms given)" in sections[0]
    assert "prompt: '<loda> The squares <terms> 0, 1, 4, 9, 16, 25, 36, 49'" in sections[1]
    # with terms a program reproducing them is found (by the model or the search), and says where from
    assert "matches all 8 given terms" in sections[1] and "source: " in sections[1]
    assert "computed terms: 0, 1, 4, 9, 16, 25, 36, 49, 64, 81" in sections[1]


def test_generate_loda_missing_checkpoint(tmp_path):
    done = run_example("generate_loda.py", "--checkpoint", str(tmp_path / "nothing"), cwd=tmp_path)
    assert done.returncode == 1
    assert "no checkpoint at" in done.stderr and "Traceback" not in done.stderr
