"""`python -m languages.wat`: run, fmt, validate, problems (in process, plus one subprocess)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from languages.wat.cli import build_parser, main
from languages.wat.problems import generate_problems

REPO = Path(__file__).resolve().parent.parent
SUB = '(module (func (export "f") (param i64 i64) (result i64) (i64.sub (local.get 0) (local.get 1))))'


@pytest.fixture
def wat(tmp_path):
    def write(text: str, name: str = "m.wat") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


def test_run_prints_the_result(wat, capsys):
    path = wat('(module (func (export "main") (result i64) (i64.const 42)))')
    assert main(["run", path]) == 0
    assert capsys.readouterr().out == "42\n"


def test_run_entry_and_arguments(wat, capsys):
    path = wat(SUB)
    assert main(["run", path, "--entry", "f", "5", "-7"]) == 0
    assert main(["run", path, "5", "-7", "--entry", "f"]) == 0
    assert capsys.readouterr().out == "12\n12\n"
    assert main(["run", path, "--entry", "f", "5"]) == 1
    assert "takes 2 argument(s)" in capsys.readouterr().err
    assert main(["run", path]) == 1
    assert "no export named 'main'" in capsys.readouterr().err


def test_run_errors_have_file_line_and_column(wat, capsys):
    path = wat('(module\n  (func (export "main") (result i64)\n    i64.cnst 1))')
    assert main(["run", path]) == 1
    err = capsys.readouterr().err
    assert err == f"{path}:3:5: parse error: unknown operator or unexpected token\n"


def test_run_prints_logs_on_stderr(wat, capsys):
    path = wat('''(module (import "env" "log_i64" (func $log (param i64)))
      (func (export "main") (result i64) (call $log (i64.const 3)) (i64.const 4)))''')
    assert main(["run", path]) == 0
    out = capsys.readouterr()
    assert out.out == "4\n" and out.err == "log: 3\n"


def test_run_limits_options(wat, capsys):
    path = wat('(module (func (export "main") (result i64) (loop $l (br $l)) (i64.const 0)))')
    assert main(["run", path, "--fuel", "1000"]) == 1
    assert "more than 1000 instructions" in capsys.readouterr().err
    assert main(["run", path, "--fuel", str(1 << 62), "--timeout", "0.2"]) == 1
    assert "time limit" in capsys.readouterr().err


def test_fmt(wat, capsys):
    path = wat('(module ;; c\n (func (export "main") (result i64) i64.const 0x10))')
    assert main(["fmt", path]) == 0
    canonical = '(module\n  (func (export "main") (result i64)\n    i64.const 16))\n'
    assert capsys.readouterr().out == canonical
    assert main(["fmt", "--check", path]) == 1
    assert main(["fmt", "-i", path]) == 0
    assert Path(path).read_text() == canonical
    assert main(["fmt", "--check", path]) == 0
    assert main(["fmt", wat("(module (func", "bad.wat")]) == 1
    assert "1:9: parse error: unclosed" in capsys.readouterr().err


def test_validate(wat, capsys):
    assert main(["validate", wat(SUB)]) == 0
    assert capsys.readouterr().out == "ok (exports: f)\n"
    assert main(["validate", wat('(module (import "a" "b" (func)))')]) == 1
    assert "import not allowed: a.b" in capsys.readouterr().err


def test_problems_jsonl(tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    assert main(["problems", "--count", "30", "--seed", "4", "--levels", "1,4", "--jsonl", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    expected = [p.to_dict() for p in generate_problems(30, seed=4, levels=(1, 4))]
    assert rows == expected
    assert main(["problems", "--count", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_problems_verify(capsys):
    assert main(["problems", "--count", "40", "--seed", "2", "--verify"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    summary = json.loads(captured.err.strip().splitlines()[-1])
    assert summary["count"] == 40 and summary["wat_equals_python"] == 40
    assert summary["mismatches"] == 0 and summary["duplicate_texts"] == 0


def test_problems_of_chosen_kinds(capsys):
    assert main(["problems", "--count", "12", "--levels", "2,3", "--kinds", "chain,factorial"]) == 0
    kinds = {json.loads(line)["kind"] for line in capsys.readouterr().out.splitlines()}
    assert kinds == {"chain", "factorial"}
    assert main(["problems", "--count", "3", "--levels", "1", "--kinds", "chain"]) == 1
    assert "unknown kinds ['chain']" in capsys.readouterr().err


def test_bad_levels_are_a_usage_error():
    with pytest.raises(SystemExit) as info:
        main(["problems", "--levels", "0,7"])
    assert info.value.code == 2


def test_every_subcommand_sets_func():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert {"run", "fmt", "validate", "problems", "from-loda", "check-loda"} <= set(subparsers.choices)
    for name, sub in subparsers.choices.items():
        assert callable(sub.get_default("func")), name


def test_module_entry_point(tmp_path):
    path = tmp_path / "m.wat"
    path.write_text(SUB)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run([sys.executable, "-m", "languages.wat", "run", str(path), "--entry", "f", "1", "2"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "-1\n"
    proc = subprocess.run([sys.executable, "-m", "languages.wat", "run", "-"], input="(module", cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr == "-:1:8: parse error: expected `)`\n"
