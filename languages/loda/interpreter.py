"""A plain AST-walking LODA interpreter: the correctness twin of the compiled VM.

It follows the reference interpreter step by step (a program counter, a stack of
loops with memory snapshots, a dict as memory) and is deliberately simple: tests
compare the compiled VM against it on random programs, and `benchmarks/loda_vm.py`
uses it as the baseline. It shares only the arithmetic (`semantics.py`) and the
limit settings with the VM.
"""
from __future__ import annotations

import time
from typing import Callable

from . import semantics
from .errors import (
    CallArgumentError, CallRecursionError, EvaluationTimeoutError, ForbiddenCallError, LodaError, LoopDepthError,
    MemoryLimitError, NegativeIndexError, NumberOverflowError, StepLimitError, UnknownSequenceError,
)
from .program import Operand, OperandKind, Program
from .runtime import MAX_INDEX, InternalError, Limits, annotate, reachable_forbidden

MAX_LOOP_DEPTH = 100
REGION_OPS = frozenset(("clr", "fil", "rol", "ror"))
_TICK_EVERY = 1024

Call = Callable[[int, int], "tuple[int, int]"]


def _index(value: int) -> int:
    if value < 0:
        raise NegativeIndexError(f"negative cell index {value}")
    if value > MAX_INDEX:
        raise MemoryLimitError("cell index too large")
    return value


def _address(mem: dict, operand: Operand) -> int:
    """The cell index an operand names (direct or indirect)."""
    if operand.kind is OperandKind.DIRECT:
        return _index(operand.value)
    if operand.kind is OperandKind.INDIRECT:
        return _index(mem.get(_index(operand.value), 0))
    raise LodaError("a constant is not a cell")


def _read(mem: dict, operand: Operand, bound: int) -> int:
    if operand.kind is OperandKind.CONSTANT:
        if not -bound < operand.value < bound:
            raise NumberOverflowError("constant out of range")
        return operand.value
    return mem.get(_address(mem, operand), 0)


def _region_less(cur: dict, old: dict, start: int, length: int) -> bool:
    """True where cur's region is lexicographically smaller than old's and every
    compared cell of cur is non-negative."""
    for i in range(start, start + length) if length > 0 else ():
        a = cur.get(i, 0)
        if a < 0:
            return False
        b = old.get(i, 0)
        if a < b:
            return True
        if a > b:
            return False
    return False


def _region_bounds(start: int, length: int, limits: Limits) -> tuple[int, int]:
    if abs(length) > limits.max_memory:
        raise MemoryLimitError(f"region length {length} exceeds the memory limit")
    if length >= 0:
        lo, hi = start, start + length
    else:
        lo, hi = start + length + 1, start + 1
    if lo < 0:
        raise NegativeIndexError(f"region starts at negative cell index {lo}")
    return lo, hi


def _region_op(mem: dict, name: str, start: int, length: int, limits: Limits) -> None:
    lo, hi = _region_bounds(start, length, limits)
    if hi <= lo:
        return
    if name == "clr":
        for i in range(lo, hi):
            mem.pop(i, None)
    elif name == "fil":
        value = mem.get(start, 0)
        for i in range(lo, hi):
            mem[i] = value
    else:
        values = [mem.get(i, 0) for i in range(lo, hi)]
        values = values[1:] + values[:1] if name == "rol" else values[-1:] + values[:-1]
        for i, value in zip(range(lo, hi), values):
            mem[i] = value


def execute(program: Program, n: int, limits: Limits, call: Call, tick: Callable[[int], None]) -> tuple[int, int]:
    """Run `program` with $0 = n; returns ($0 at the end, steps). `call(number, arg)` evaluates
    `seq` (returning value and steps); `tick(steps)` is called at least every 1024 steps and may
    raise (timeout)."""
    ops = program.operations
    count = len(ops)
    bound = 1 << limits.max_bits
    max_steps = limits.max_steps
    max_memory = limits.max_memory
    mem: dict[int, int] = {0: n} if n else {}
    loops: list[tuple[int, dict]] = []  # (pc of lpb, memory at the start of the pass)
    steps = 0
    next_tick = _TICK_EVERY
    pc = 0
    while pc < count:
        op = ops[pc]
        name = op.op
        following = pc + 1
        try:
            if name == "lpb":
                if len(loops) >= MAX_LOOP_DEPTH:
                    raise LoopDepthError(f"more than {MAX_LOOP_DEPTH} nested loops")
                length = _read(mem, op.source, bound)
                if length > max_memory:
                    raise MemoryLimitError(f"loop region length {length} exceeds the memory limit")
                _address(mem, op.target)
                loops.append((pc, dict(mem)))
            elif name == "lpe":
                if not loops:
                    raise LoopDepthError("lpe without matching lpb")
                begin, saved = loops[-1]
                # The region is evaluated again now: its start on the current memory, its length as
                # the smaller of its values on the memory at the start of the pass and now (see
                # vm.py: this is what reproduces the corpus' programs with a cell as length).
                length = _read(mem, ops[begin].source, bound)
                if length > max_memory:
                    raise MemoryLimitError(f"loop region length {length} exceeds the memory limit")
                length = min(length, _read(saved, ops[begin].source, bound))
                start = _address(mem, ops[begin].target)
                if _region_less(mem, saved, start, length):
                    loops[-1] = (begin, dict(mem))
                    following = begin + 1
                else:
                    mem = saved
                    loops.pop()
            elif name == "seq":
                target = _address(mem, op.target)
                value, callee_steps = call(op.source.value, mem.get(target, 0))
                steps += callee_steps
                mem[target] = value
            elif name in REGION_OPS:
                length = _read(mem, op.source, bound)
                _region_op(mem, name, _address(mem, op.target), length, limits)
                if abs(length) > 1000:
                    tick(steps)
            elif name == "nop":
                pass
            else:
                target = _address(mem, op.target)
                source = _read(mem, op.source, bound)
                result = semantics.calc(name, mem.get(target, 0), source, limits.max_bits)
                if not -bound < result < bound:
                    raise NumberOverflowError(f"{name}: result magnitude reaches 2^{limits.max_bits}")
                mem[target] = result
            steps += 1
            if steps > max_steps:
                raise StepLimitError(f"more than {max_steps} steps")
            if len(mem) > max_memory:
                raise MemoryLimitError(f"more than {max_memory} memory cells")
            if steps >= next_tick:
                tick(steps)
                next_tick = steps + _TICK_EVERY
        except LodaError as error:
            if error.line is None:
                annotate(error, op.line, str(op))
            raise
        pc = following
    return mem.get(0, 0), steps


class Interpreter:
    """Same interface as `vm.Evaluator`, executed by walking the parsed program."""

    def __init__(self, library=None, limits: Limits | None = None, forbidden=frozenset()):
        self.library = library
        self.limits = limits or Limits()
        self.forbidden = frozenset(int(x) for x in forbidden)
        self.cache: dict[tuple[int, int], tuple[int, int]] = {}
        self.running: set[int] = set()
        self.deadline = float("inf")
        self.steps = 0  # steps of the last term

    def _tick(self, steps: int = 0) -> None:
        if time.monotonic() > self.deadline:
            raise EvaluationTimeoutError(f"evaluation took longer than {self.limits.timeout} s")

    def _call(self, number: int, arg: int) -> tuple[int, int]:
        if number in self.forbidden:
            raise ForbiddenCallError(f"call of forbidden sequence A{number:06d}")
        key = (number, arg)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        if number in self.running:
            raise CallRecursionError(f"recursive call of A{number:06d}")
        if self.library is None:
            raise UnknownSequenceError(f"no library to call A{number:06d}")
        program = self.library.program(number)
        if arg < program.offset:
            raise CallArgumentError(f"argument {arg} of A{number:06d} is below its offset {program.offset}")
        self.running.add(number)
        try:
            result = execute(program, arg, self.limits, self._call, self._tick)
        except LodaError as error:
            annotate(error, error.line, error.operation, number)
            raise
        finally:
            self.running.discard(number)
        self.cache[key] = result
        return result

    def term(self, program: Program, n: int) -> int:
        return self.terms_from(program, n, 1)[0]

    def terms(self, program: Program, count: int) -> list[int]:
        return self.terms_from(program, program.offset, count)

    def terms_from(self, program: Program, start: int, count: int) -> list[int]:
        if self.forbidden:
            reachable_forbidden(program, self.library, self.forbidden)
        timeout = self.limits.timeout
        self.deadline = time.monotonic() + timeout if timeout else float("inf")
        out = []
        try:
            for n in range(start, start + count):
                value, self.steps = execute(program, n, self.limits, self._call, self._tick)
                out.append(value)
        except LodaError:
            raise
        except RecursionError:
            raise CallRecursionError("call chain too deep") from None
        except MemoryError:
            raise MemoryLimitError("out of memory") from None
        except Exception as error:  # a bug: still report it as a LodaError
            raise InternalError(f"internal error: {type(error).__name__}: {error}") from error
        finally:
            self.running.clear()
        return out
