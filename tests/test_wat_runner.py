"""The WAT validator and sandbox: results, errors with positions, limits, logs, isolation."""
from __future__ import annotations

import time

import pytest
import wasmtime

from codegen.language import CodeError
from languages.wat import validator
from languages.wat.errors import WatError
from languages.wat.runner import IsolatedRunner, RunLimits, Sandbox, check_imports, run
from languages.wat.validator import validate

SQUARE = '(module (func (export "a") (param $n i64) (result i64) local.get $n local.get $n i64.mul))'


def kind_of(fn, *args, **kw) -> WatError:
    with pytest.raises(WatError) as info:
        fn(*args, **kw)
    return info.value


# ---------------------------------------------------------------- validator

def test_validate_returns_a_module():
    module = validate('(module (func (export "main") (result i64) i64.const 7))')
    assert isinstance(module, wasmtime.Module)
    assert [e.name for e in module.exports] == ["main"]


def test_syntax_error_has_line_column_and_one_line_reason():
    text = '(module\n  (func (export "main") (result i64)\n    i64.cnst 1))'
    error = kind_of(validate, text)
    assert error.kind == "parse" and (error.line, error.column) == (3, 5)
    assert "\n" not in error.reason and "unknown operator" in error.reason
    assert str(error).startswith("3:5: ")
    assert isinstance(error, CodeError)


def test_unbalanced_text_is_a_parse_error():
    error = kind_of(validate, "(module (func")
    assert error.kind == "parse" and error.line == 1


@pytest.mark.parametrize("text, line, column, snippet", [
    # flat: the failing instruction
    ('(module\n  (func (export "main") (result i64)\n    i64.const 1\n    i32.const 2\n    i64.add))',
     5, 5, "type mismatch"),
    # folded: the folded instruction whose operand has the wrong type
    ('(module\n  (func $f (result i32)\n    i32.const 1)\n  (func (export "main") (result i64)\n'
     '    (i64.add\n      (i64.const 1)\n      (i32.const 2))))', 5, 5, "type mismatch"),
    # a flat block leaving a value behind: its `end`
    ('(module\n  (func (export "main") (result i64)\n    block $b\n      i64.const 1\n    end\n    i64.const 2))',
     5, 5, "values remaining"),
    # outside code: the global field
    ('(module\n  (global $g i32 (i64.const 0))\n  (func (export "main") (result i64) i64.const 1))', 2, 3,
     "type mismatch"),
])
def test_validation_errors_point_at_the_source(text, line, column, snippet):
    error = kind_of(validate, text)
    assert error.kind == "parse"
    assert (error.line, error.column) == (line, column), error
    assert snippet in error.reason and "offset" not in error.reason and "\n" not in error.reason


def test_size_cap_is_checked_before_parsing():
    huge = "(module " + " " * (3 << 20) + ")"
    started = time.perf_counter()
    error = kind_of(validate, huge)
    assert error.kind == "size" and time.perf_counter() - started < 0.5
    assert validate("(module)", max_bytes=8) is not None
    assert kind_of(validate, "(module )", max_bytes=8).kind == "size"


def test_modules_are_cached_by_text():
    text = '(module (func (export "main") (result i64) i64.const 12345))'
    assert validate(text) is validate(text)


# ---------------------------------------------------------------- running

def test_run_main_and_entry_with_args():
    assert run('(module (func (export "main") (result i64) i64.const 42))') == 42
    assert run(SQUARE, "a", [12]) == 144
    assert run('(module (func (export "f") (param i32 i64) (result i32) local.get 0))', "f", (-5, 1)) == -5
    assert run('(module (func (export "f")))', "f") is None


def test_sandbox_is_reused_and_rearmed_per_call():
    counter = '''(module (global $c (mut i64) (i64.const 0))
      (func (export "next") (result i64) (global.set $c (i64.add (global.get $c) (i64.const 1))) (global.get $c))
      (func (export "spin") (param $k i64) (result i64)
        (block $done (loop $l (br_if $done (i64.eqz (local.get $k)))
          (local.set $k (i64.sub (local.get $k) (i64.const 1))) (br $l)))
        (i64.const 0)))'''
    sb = Sandbox(counter, RunLimits(fuel=100_000))
    assert [sb.call("next") for _ in range(3)] == [1, 2, 3]  # one instance, state kept
    for _ in range(5):  # each call gets its full budget again
        assert sb.call("spin", 5_000) == 0
    assert kind_of(sb.call, "spin", 50_000).kind == "fuel"
    assert sb.call("next") == 4  # still usable after a trap


def test_entry_and_argument_errors():
    sb = Sandbox(SQUARE)
    assert kind_of(sb.call, "main").kind == "entry"
    assert kind_of(sb.call, "a").kind == "args"
    assert kind_of(sb.call, "a", 1, 2).kind == "args"
    assert kind_of(sb.call, "a", "x").kind == "args"
    assert kind_of(sb.call, "a", 1 << 64).kind == "args"
    assert kind_of(sb.call, "a", True).kind == "args"
    assert sb.call("a", "7") == 49  # numeric strings are accepted (CLI)
    memory = Sandbox('(module (memory (export "mem") 1))')
    assert "not a function" in str(kind_of(memory.call, "mem"))
    floats = Sandbox('(module (func (export "f") (result f64) f64.const 1))')
    assert kind_of(floats.call, "f").kind == "entry"


def test_i32_unsigned_arguments_wrap():
    assert run('(module (func (export "f") (param i32) (result i32) local.get 0))', "f", [0xFFFFFFFF]) == -1


def test_log_i64_is_captured():
    text = '''(module (import "env" "log_i64" (func $log (param i64)))
      (func (export "main") (result i64) (call $log (i64.const 7)) (call $log (i64.const -8)) (i64.const 1)))'''
    logs: list[int] = []
    assert run(text, logs=logs) == 1 and logs == [7, -8]
    sb = Sandbox(text, RunLimits(max_log=1))
    sb.call("main")
    assert sb.logs == [7] and sb.logs_dropped == 1


def test_logs_are_attached_to_errors():
    text = '''(module (import "env" "log_i64" (func $log (param i64)))
      (func (export "main") (result i64) (call $log (i64.const 3)) unreachable))'''
    error = kind_of(run, text)
    assert error.kind == "trap" and error.logs == [3]


def test_import_checks():
    bad_type = '(module (import "env" "log_i64" (func (param i32))))'
    error = kind_of(run, bad_type)
    assert error.kind == "import" and "must be (func (param i64))" in str(error)
    assert check_imports(validate('(module (import "env" "log_i64" (func (param i64))))'))


@pytest.mark.parametrize("body, message", [
    ("i64.const 1 i64.const 0 i64.div_s", "integer divide by zero"),
    ("i64.const -9223372036854775808 i64.const -1 i64.div_s", "integer overflow"),
    ("unreachable", "unreachable"),
])
def test_traps_have_clear_messages(body, message):
    error = kind_of(run, f'(module (func $main (export "main") (result i64) {body}))')
    assert error.kind == "trap" and message in str(error) and "$main" in str(error)


def test_out_of_bounds_memory():
    error = kind_of(run, '(module (memory 1) (func (export "main") (result i64) (i64.load (i32.const 70000))))')
    assert error.kind == "trap" and "out of bounds memory access" in str(error)


def test_memory_limit_and_grow():
    assert kind_of(run, '(module (memory 300))').kind == "memory"  # 300 pages > 16 MiB
    grow = '(module (memory 1) (func (export "main") (result i64) (i64.extend_i32_s (memory.grow (i32.const {}))))) '
    assert run(grow.format(100)) == 1  # old size in pages
    assert run(grow.format(300)) == -1  # refused by the store limit
    assert run(grow.format(300), limits={"memory_bytes": 1 << 30}) == 1


def test_limits_from_mapping():
    assert RunLimits.from_mapping(None) == RunLimits()
    assert RunLimits.from_mapping({"fuel": 5}).fuel == 5
    assert kind_of(RunLimits.from_mapping, {"nope": 1}).kind == "args"


def test_timeout_is_wall_clock():
    spin = '(module (func (export "main") (result i64) (loop $l (br $l)) (i64.const 0)))'
    started = time.perf_counter()
    error = kind_of(run, spin, limits=RunLimits(fuel=1 << 62, timeout=0.3))
    elapsed = time.perf_counter() - started
    assert error.kind == "timeout" and 0.25 < elapsed < 2.0


def test_engine_reserves_little_address_space():
    # the evaluation workers run under RLIMIT_AS: no 4 GiB reservations per memory
    assert validator.MEMORY_RESERVATION <= 64 << 20


# ---------------------------------------------------------------- worker process

def test_isolated_runner_runs_and_kills():
    with IsolatedRunner(grace=0.2) as runner:
        assert runner.run(SQUARE, "a", [9]) == 81
        logs: list[int] = []
        text = '''(module (import "env" "log_i64" (func $log (param i64)))
          (func (export "main") (result i64) (call $log (i64.const 5)) (i64.const 1) (i64.const 0) (i64.div_s)))'''
        error = kind_of(runner.run, text, logs=logs)
        assert error.kind == "trap" and error.logs == [5] and logs == [5]
        # a worker that does not answer in time is killed and replaced
        started = time.perf_counter()
        assert kind_of(runner.sleep, 30, 0.5).kind == "timeout"
        assert time.perf_counter() - started < 3 and runner.kills == 1
        assert runner.run(SQUARE, "a", [3]) == 9


def test_run_isolated():
    assert run(SQUARE, "a", [4], isolate=True) == 16
    assert kind_of(run, "(module (func", isolate=True).kind == "parse"
