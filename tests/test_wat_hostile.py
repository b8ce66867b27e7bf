"""Hostile modules: each ends with a clear error in under 5 s, through the API (default
limits) and through the CLI (exit status 1, the message on stderr)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from languages.wat.errors import WatError
from languages.wat.runner import RunLimits, run

REPO = Path(__file__).resolve().parent.parent
BUDGET = 5.0

HOSTILE = {
    # name: (text, expected kind(s), words the message must contain (one of))
    # (a failed memory.grow returns -1, it does not trap: the bomb spins until fuel or time runs out)
    "infinite_loop": ('(module (func (export "main") (result i64) (loop $l (br $l)) (i64.const 0)))',
                      "fuel", "fuel exhausted"),
    "memory_grow_bomb": ('''(module (memory 1)
        (func (export "main") (result i64)
          (loop $l (drop (memory.grow (i32.const 1000))) (br $l)) (i64.const 0)))''', ("fuel", "timeout"),
                         ("fuel exhausted", "time limit exceeded")),
    "huge_initial_memory": ('(module (memory 65536) (func (export "main") (result i64) (i64.const 0)))',
                            "memory", "exceeds memory limits"),
    "unbounded_recursion": ('(module (func $f (export "main") (result i64) (i64.add (call $f) (i64.const 1))))',
                            "trap", "stack overflow"),
    "forbidden_import": ('''(module
        (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
        (func (export "main") (result i64) (i64.const 0)))''', "import",
                         "import not allowed: wasi_snapshot_preview1.fd_write"),
    "division_by_zero": ('(module (func $main (export "main") (result i64) (i64.div_s (i64.const 1) (i64.const 0))))',
                         "trap", "integer divide by zero"),
    "malformed_text": ('(module\n  (func (export "main") (result i64)\n    (i64.const 1)', "parse",
                       "3:18: parse error: expected `)`"),
}


def _options(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _api_message(error: WatError) -> str:
    # the CLI's line is "FILE:LINE:COL: KIND error: REASON"; the API's str() is "LINE:COL: REASON"
    return f"{error.line}:{error.column}: {error.kind} error: {error.reason}" if error.line else str(error)


def _sixty_megabytes() -> str:
    body = "    i64.const 1\n    drop\n"
    return '(module\n  (func (export "main") (result i64)\n' + body * (60_000_000 // len(body)) + "    i64.const 0))\n"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_module_api(name):
    text, kind, words = HOSTILE[name]
    started = time.perf_counter()
    with pytest.raises(WatError) as info:
        run(text)
    elapsed = time.perf_counter() - started
    assert info.value.kind in _options(kind)
    assert any(w in _api_message(info.value) for w in _options(words))
    assert elapsed < BUDGET


def test_hostile_sixty_megabyte_text_api():
    text = _sixty_megabytes()
    started = time.perf_counter()
    with pytest.raises(WatError) as info:
        run(text)
    assert info.value.kind == "size" and "too large" in str(info.value)
    assert time.perf_counter() - started < BUDGET


def test_infinite_loop_with_unlimited_fuel_hits_the_deadline():
    text = HOSTILE["infinite_loop"][0]
    started = time.perf_counter()
    with pytest.raises(WatError) as info:
        run(text, limits=RunLimits(fuel=1 << 62, timeout=1.0))
    assert info.value.kind == "timeout" and "time limit" in str(info.value)
    assert time.perf_counter() - started < BUDGET


def _cli(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "languages.wat", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)
    return proc, time.perf_counter() - started


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_module_cli(name, tmp_path):
    text, kind, words = HOSTILE[name]
    path = tmp_path / f"{name}.wat"
    path.write_text(text)
    proc, elapsed = _cli("run", str(path))
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert any(w in proc.stderr for w in _options(words)) and str(path) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1  # one clear line, no traceback
    assert elapsed < BUDGET


def test_hostile_sixty_megabyte_file_cli(tmp_path):
    path = tmp_path / "huge.wat"
    path.write_text(_sixty_megabytes())
    assert path.stat().st_size > 59_000_000
    for command in ("run", "fmt", "validate"):
        proc, elapsed = _cli(command, str(path))
        assert proc.returncode == 1 and "too large" in proc.stderr, proc.stderr
        assert elapsed < BUDGET


def test_infinite_loop_isolated_cli(tmp_path):
    path = tmp_path / "loop.wat"
    path.write_text(HOSTILE["infinite_loop"][0])
    proc, elapsed = _cli("run", str(path), "--isolate", "--fuel", str(1 << 62), "--timeout", "1")
    assert proc.returncode == 1 and "time limit" in proc.stderr, proc.stderr
    assert elapsed < BUDGET
