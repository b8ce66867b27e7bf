"""`python -m languages.loda` through a subprocess: eval, fmt, check, and the error paths."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def cli(*args, env_extra=None, input=None):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("CODEGEN_LODA_CORPUS", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "languages.loda", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, input=input)


@pytest.fixture()
def fib(tmp_path):
    path = tmp_path / "fib.asm"
    path.write_text("; A000045: Fibonacci\nmov $1,1\nlpb $0\n sub $0,1\n mov $2,$1\n add $1,$3\n mov $3,$2\nlpe\n"
                    "mov $0,$3\n")
    return path


def test_eval_prints_terms(fib):
    result = cli("eval", fib, "-t", 8)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0,1,1,2,3,5,8,13"
    assert cli("eval", "-", "-t", 3, input="#offset 2\nmul $0,3\n").stdout.strip() == "6,9,12"


def test_eval_errors_exit_1(tmp_path):
    # a file that cannot be read is an input error (2, as in every tool); a bad program fails (1)
    missing = cli("eval", tmp_path / "nope.asm")
    assert missing.returncode == 2 and "nope.asm" in missing.stderr
    bad = tmp_path / "bad.asm"
    bad.write_text("mov $0,1\n  frob $1,2\n")
    result = cli("eval", bad)
    assert result.returncode == 1
    assert f"{bad}:2:3:" in result.stderr and "frob" in result.stderr
    div = tmp_path / "div.asm"
    div.write_text("sub $0,2\nmov $1,1\ndiv $1,$0\n")
    result = cli("eval", div, "-t", 5)
    assert result.returncode == 1
    assert "line 3 (div $1,$0)" in result.stderr
    assert result.stdout.strip() == "-2,-1"  # the terms before the failing one


def test_eval_with_calls_needs_a_corpus(tmp_path):
    calls = tmp_path / "calls.asm"
    calls.write_text("seq $0,45\n")
    result = cli("eval", calls)
    assert result.returncode == 2 and "corpus" in result.stderr
    result = cli("eval", calls, "--corpus", tmp_path / "missing.tar.gz")
    assert result.returncode == 2 and "not found" in result.stderr


def test_fmt(tmp_path):
    path = tmp_path / "p.asm"
    path.write_text("; c\nmov $1,$0 ; x\nlpb $1,1\nsub $1,1\nlpe\n")
    result = cli("fmt", path)
    assert result.returncode == 0
    assert result.stdout == "mov $1,$0\nlpb $1\n  sub $1,1\nlpe\n"
    path.write_text("lpb $0\n")
    result = cli("fmt", path)
    assert result.returncode == 1 and "lpb without matching lpe" in result.stderr


def test_check_without_corpus_exits_2(tmp_path):
    result = cli("check", "--corpus", tmp_path / "missing.tar.gz", "--sample", 3)
    assert result.returncode == 2 and "not found" in result.stderr
    result = cli("check", "--sample", 3)
    assert result.returncode == 2 and "CODEGEN_LODA_CORPUS" in result.stderr


@pytest.mark.corpus
def test_eval_and_check_with_corpus(corpus_path, tmp_path):
    result = cli("eval", "-", "-t", 5, input="seq $0,45\nadd $0,1\n", env_extra={"CODEGEN_LODA_CORPUS": str(corpus_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1,2,2,3,4"
    report = tmp_path / "out" / "report.jsonl"
    result = cli("check", "--corpus", corpus_path, "--sample", 40, "--seed", 3, "--terms", 8, "--jobs", 2,
                 "--json", "--report", report)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary) == {"checked", "matched", "mismatched", "errors", "seconds"}
    assert summary["checked"] == 40
    assert summary["matched"] + summary["mismatched"] + sum(summary["errors"].values()) == 40
    assert summary["matched"] >= 38
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(lines) == 40 and all(set(x) == {"id", "status", "error", "computed"} for x in lines)
    assert sum(x["status"] == "match" for x in lines) == summary["matched"]
    assert not list(report.parent.glob("*.tmp"))


@pytest.mark.corpus
def test_check_external_programs(corpus_path, tmp_path):
    folder = tmp_path / "progs"
    folder.mkdir()
    (folder / "A000045.asm").write_text("; A000045: Fibonacci\n; 0,1,1,2,3,5,8,13\nmov $1,1\nlpb $0\n sub $0,1\n"
                                        " mov $2,$1\n add $1,$3\n mov $3,$2\nlpe\nmov $0,$3\n")
    (folder / "A000027.asm").write_text("; A000027: n\n; 1,2,3,4\n#offset 1\nadd $0,1\n")  # wrong on purpose
    (folder / "A000004.asm").write_text("; A000004: zeros\n; 0,0,0\nseq $0,45\nmul $0,0\n")
    (folder / "A000005.asm").write_text("; A000005: broken\n; 1,2,2\nfoo $0\n")
    (folder / "A000006.asm").write_text("; A000006: no terms\nmov $0,1\n")
    result = cli("check", "--programs", folder, "--corpus", corpus_path, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["checked"] == 4
    assert summary["matched"] == 2 and summary["mismatched"] == 1 and summary["errors"] == {"parse": 1}
