"""The LODA VM: each `Program` is compiled once into a Python function.

The code generator walks the parsed program (never the raw text) and emits Python
source that is `compile()`d:

* programs without indirect operands (`$$k`) and with constant region lengths keep
  every cell in a local variable (`c0`, `c1`, ...); a loop snapshot is the tuple of
  the cells its body can write;
* the others keep memory in a dict (direct cells pre-created so reads are plain
  subscripts) and snapshot it with `dict.copy()`;
* steps are counted per straight-line segment (every executed operation is one
  step, a `seq` adds the callee's steps, cached or not, like the reference), the
  step limit and the wall-clock deadline are checked at every `lpe`, after every
  `seq` and at the end;
* arithmetic uses inline fast paths for the common cases and falls back on the
  exact functions of `semantics.py`; results that can grow are range-checked.

Errors raised inside generated code are mapped back to the LODA operation and
line through the generated line numbers. A program the generator cannot handle
(too deeply nested for CPython) runs on the plain interpreter instead.

Public API: `Limits`, `Evaluator`, `evaluate`.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Callable

from . import semantics
from .errors import (
    CallArgumentError, CallRecursionError, EvaluationTimeoutError, ForbiddenCallError, LodaError,
    MemoryLimitError, NegativeIndexError, NumberOverflowError, StepLimitError, UndefinedResultError,
    UnknownSequenceError,
)
from .program import Operand, OperandKind, Operation, Program
from .runtime import MAX_INDEX, InternalError, Limits, annotate, reachable_forbidden  # public here too

MAX_LOOP_DEPTH = 100
CHECK_EVERY = 2048  # steps between two wall-clock checks (at the latest)
_MAX_LOCAL_CELLS = 256  # programs needing more cells use a dict
_MAX_NESTING = 18  # CPython allows 20 nested blocks; deeper programs use the interpreter
_REGION_OPS = frozenset(("clr", "fil", "rol", "ror"))
_LONG_REGION = 1000  # region operations longer than this also check the clock


# ---------------------------------------------------------------------------- runtime helpers


def _div(a: int, b: int) -> int:
    if b == 0:
        raise UndefinedResultError("div: division by zero")
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _mod(a: int, b: int) -> int:
    if b == 0:
        raise UndefinedResultError("mod: division by zero")
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _ovf(bits: int):
    raise NumberOverflowError(f"result magnitude reaches 2^{bits}")


def _undef(message: str):
    raise UndefinedResultError(message)


def _raise(error: LodaError):
    raise error


def _ix(i: int) -> int:
    """A cell index read from memory (indirect operand), validated."""
    if i < 0:
        raise NegativeIndexError(f"negative cell index {i}")
    if i > MAX_INDEX:
        raise MemoryLimitError("cell index too large")
    return i


def _memerr(limit: int):
    raise MemoryLimitError(f"more than {limit} memory cells")


def _lex_less(cur: tuple, old: tuple) -> bool:
    for a, b in zip(cur, old):
        if a < 0:
            return False
        if a != b:
            return a < b
    return False


def _dict_less(cur: dict, old: dict, start: int, length: int) -> bool:
    for i in range(start, start + length) if length > 0 else ():
        a = cur.get(i, 0)
        if a < 0:
            return False
        b = old.get(i, 0)
        if a != b:
            return a < b
    return False


def _region_bounds(start: int, length: int, max_memory: int) -> tuple[int, int]:
    if abs(length) > max_memory:
        raise MemoryLimitError(f"region length {length} exceeds the memory limit")
    if length >= 0:
        lo, hi = start, start + length
    else:
        lo, hi = start + length + 1, start + 1
    if lo < 0:
        raise NegativeIndexError(f"region starts at negative cell index {lo}")
    return lo, hi


def _region(m: dict, name: str, start: int, length: int, max_memory: int) -> None:
    """clr/fil/rol/ror on dict memory (keys of direct cells must stay present)."""
    lo, hi = _region_bounds(start, length, max_memory)
    if hi <= lo:
        return
    value = m.get(start, 0)
    if name == "clr" or (name == "fil" and value == 0):
        if hi - lo > len(m):
            for k in [k for k in m if lo <= k < hi]:
                m[k] = 0
        else:
            for i in range(lo, hi):
                if i in m:
                    m[i] = 0
    elif name == "fil":
        for i in range(lo, hi):
            m[i] = value
    else:
        values = [m.get(i, 0) for i in range(lo, hi)]
        values = values[1:] + values[:1] if name == "rol" else values[-1:] + values[:-1]
        for i, v in zip(range(lo, hi), values):
            if v or i in m:
                m[i] = v
    if len(m) > max_memory:
        _memerr(max_memory)


def _loop_length(length: int, max_memory: int) -> int:
    if length > max_memory:
        raise MemoryLimitError(f"loop region length {length} exceeds the memory limit")
    return length


# ---------------------------------------------------------------------------- code generation


@dataclass
class Compiled:
    """A program ready to run: `run(n, call, slow) -> (value, steps)`."""

    program: Program
    run: Callable
    name: str
    mode: str  # "locals", "dict" or "interpreter"
    source: str = ""
    filename: str = ""
    linemap: tuple = ()  # generated line (1-based) -> operation index or -1

    def operation_at(self, lineno: int) -> Operation | None:
        if 0 < lineno < len(self.linemap) and self.linemap[lineno] >= 0:
            return self.program.operations[self.linemap[lineno]]
        return None


_counter = itertools.count()


class _Unsupported(Exception):
    pass


class _Generator:
    def __init__(self, program: Program, limits: Limits):
        self.program = program
        self.ops = program.operations
        self.limits = limits
        self.bound = 1 << limits.max_bits
        self.lines: list[str] = []
        self.linemap: list[int] = [-1]  # generated line numbers are 1-based
        self.consts: dict[str, object] = {}
        self.loop_ids = itertools.count()
        self.match = self._match_loops()
        self.mode = self._choose_mode()

    # -- analysis
    def _match_loops(self) -> dict[int, int]:
        match, stack, depth = {}, [], 0
        for i, op in enumerate(self.ops):
            if op.op == "lpb":
                stack.append(i)
                depth = max(depth, len(stack))
            elif op.op == "lpe":
                if not stack:
                    raise _Unsupported("unbalanced loops")
                match[stack.pop()] = i
        if stack or depth > _MAX_NESTING:
            raise _Unsupported("unbalanced or deeply nested loops")
        return match

    def _direct_ok(self, operand: Operand | None) -> bool:
        return operand is not None and operand.kind is OperandKind.DIRECT and 0 <= operand.value <= MAX_INDEX

    def _choose_mode(self) -> str:
        top = 0
        for op in self.ops:
            for operand in (op.target, op.source):
                if operand is None:
                    continue
                if operand.kind is OperandKind.INDIRECT:
                    return "dict"
                if operand.kind is OperandKind.DIRECT and operand.value >= 0:
                    top = max(top, operand.value)
            if op.op in _REGION_OPS or (op.op == "lpb" and op.source is not None):
                if op.source.kind is not OperandKind.CONSTANT:
                    return "dict"
                length = op.source.value
                if abs(length) > _MAX_LOCAL_CELLS:
                    if op.op == "lpb" and length <= 0:
                        continue
                    return "dict"
                if self._direct_ok(op.target):
                    if op.op == "lpb" or length > 0:
                        top = max(top, op.target.value + max(length, 1) - 1)
        if top >= _MAX_LOCAL_CELLS or top >= self.limits.max_memory:
            return "dict"
        self.cells = top + 1
        return "locals"

    def _written(self, start: int, end: int) -> list[int]:
        """Cells an operation in ops[start:end] can write (locals mode)."""
        cells: set[int] = set()
        for op in self.ops[start:end]:
            if op.op in ("lpb", "lpe", "nop") or not self._direct_ok(op.target):
                continue
            t = op.target.value
            if op.op in _REGION_OPS:
                length = op.source.value
                lo, hi = (t, t + length) if length >= 0 else (t + length + 1, t + 1)
                cells.update(range(max(lo, 0), hi))
            else:
                cells.add(t)
        return sorted(c for c in cells if c < self.cells)

    # -- emission
    def emit(self, indent: int, text: str, index: int = -1) -> int:
        self.lines.append("    " * indent + text)
        self.linemap.append(index)
        return len(self.lines) - 1

    def const(self, value: object, prefix: str = "_k") -> str:
        name = f"{prefix}{len(self.consts)}"
        self.consts[name] = value
        return name

    def raise_stmt(self, error: LodaError) -> str:
        return f"_raise({self.const(error, '_e')})"

    def cell(self, k: int) -> str:
        return f"c{k}" if self.mode == "locals" else f"m[{k}]"

    def literal(self, value: int) -> str:
        return repr(value) if abs(value) < 1 << 64 else self.const(value)

    def bad_operand(self, operand: Operand | None) -> LodaError | None:
        """An error that an operand raises whenever it is evaluated, if any."""
        if operand is None:
            return None
        if operand.kind is OperandKind.CONSTANT:
            if not -self.bound < operand.value < self.bound:
                return NumberOverflowError("constant out of range")
            return None
        if operand.value < 0:
            return NegativeIndexError(f"negative cell index {operand.value}")
        if operand.value > MAX_INDEX:
            return MemoryLimitError("cell index too large")
        return None

    def read(self, operand: Operand, indent: int, index: int, temp: str, memory: str = "m") -> str:
        """Emit what is needed to read `operand` (from dict `memory` in dict mode); returns a
        cheap expression."""
        if operand.kind is OperandKind.CONSTANT:
            return self.literal(operand.value)
        if operand.kind is OperandKind.DIRECT:
            if self.mode == "locals":
                return f"c{operand.value}"
            self.emit(indent, f"{temp} = {memory}[{operand.value}]", index)
            return temp
        self.emit(indent, f"{temp} = {memory}.get(_ix({memory}[{operand.value}]), 0)", index)
        return temp

    def address(self, operand: Operand, indent: int, index: int) -> str:
        """Dict mode: emit code for the target's address; returns the expression of the index."""
        if operand.kind is OperandKind.DIRECT:
            return str(operand.value)
        self.emit(indent, f"_t = _ix(m[{operand.value}])", index)
        return "_t"

    def steps_placeholder(self, indent: int) -> int:
        return self.emit(indent, "pass")

    def set_steps(self, line: int, count: int) -> None:
        if count:
            indent = self.lines[line][: len(self.lines[line]) - len(self.lines[line].lstrip())]
            self.lines[line] = f"{indent}steps += {count}"

    def check_steps(self, indent: int, index: int) -> None:
        self.emit(indent, "if steps > chk:", index)
        self.emit(indent + 1, "chk = _slow(steps)", index)

    def block(self, start: int, end: int, indent: int, extra: int = 0) -> None:
        """ops[start:end]; `extra` steps are added to the last segment (the lpe)."""
        placeholder = self.steps_placeholder(indent)
        count = 0
        i = start
        while i < end:
            op = self.ops[i]
            count += 1
            if op.op == "lpb":
                self.set_steps(placeholder, count)
                close = self.match[i]
                self.loop(i, close, indent)
                i = close + 1
                placeholder = self.steps_placeholder(indent)
                count = 0
                continue
            self.operation(i, indent)
            i += 1
        self.set_steps(placeholder, count + extra)

    def loop(self, begin: int, end: int, indent: int) -> None:
        op = self.ops[begin]
        lid = next(self.loop_ids)
        error = self.bad_operand(op.target) or self.bad_operand(op.source)
        if error is not None:
            self.emit(indent, self.raise_stmt(error), begin)
            return
        source = op.source if op.source is not None else Operand(OperandKind.CONSTANT, 1)
        if self.mode == "locals":
            self._loop_locals(begin, end, indent, lid, op.target.value, source.value)
        else:
            self._loop_dict(begin, end, indent, lid, op.target, source)

    def _loop_locals(self, begin: int, end: int, indent: int, lid: int, counter: int, length: int) -> None:
        if length > self.limits.max_memory:
            self.emit(indent, self.raise_stmt(MemoryLimitError(
                f"loop region length {length} exceeds the memory limit")), begin)
            return
        written = self._written(begin + 1, end)
        saved = ", ".join(f"c{k}" for k in written)
        snapshot = f"_s{lid} = ({saved},)" if written else None
        restore = f"{saved}, = _s{lid}" if written else None
        region = [f"c{k}" if k < self.cells else "0" for k in range(counter, counter + max(length, 0))]
        if length == 1:
            current = f"c{counter}"
        elif length > 1:
            current = f"({', '.join(region)},)"
        else:
            current = None
        if current is not None:
            self.emit(indent, f"_o{lid} = {current}", begin)
        if snapshot:
            self.emit(indent, snapshot, begin)
        self.emit(indent, "while True:", begin)
        self.block(begin + 1, end, indent + 1, extra=1)
        self.check_steps(indent + 1, end)
        if current is not None:
            test = f"0 <= {current} < _o{lid}" if length == 1 else f"_lex_less({current}, _o{lid})"
            self.emit(indent + 1, f"if {test}:", end)
            self.emit(indent + 2, f"_o{lid} = {current}", end)
            if snapshot:
                self.emit(indent + 2, snapshot, end)
            self.emit(indent + 2, "continue", end)
        if restore:
            self.emit(indent + 1, restore, end)
        self.emit(indent + 1, "break", end)

    def _loop_dict(self, begin: int, end: int, indent: int, lid: int, target: Operand, source: Operand) -> None:
        simple = target.kind is OperandKind.DIRECT and source.kind is OperandKind.CONSTANT and source.value == 1
        if source.kind is OperandKind.CONSTANT:
            if source.value > self.limits.max_memory:
                self.emit(indent, self.raise_stmt(MemoryLimitError(
                    f"loop region length {source.value} exceeds the memory limit")), begin)
                return
            length = str(source.value)
        else:
            value = self.read(source, indent, begin, "_b")
            length = f"_L{lid}"
            self.emit(indent, f"{length} = _loop_length({value}, MAXMEM)", begin)
        start = self.address(target, indent, begin)  # validates an indirect target now
        if simple:
            self.emit(indent, f"_o{lid} = m[{target.value}]", begin)
        self.emit(indent, f"_s{lid} = m.copy()", begin)
        self.emit(indent, "while True:", begin)
        self.block(begin + 1, end, indent + 1, extra=1)
        self.check_steps(indent + 1, end)
        if simple:
            self.emit(indent + 1, f"if 0 <= m[{target.value}] < _o{lid}:", end)
            self.emit(indent + 2, f"_o{lid} = m[{target.value}]", end)
        else:
            # The region is evaluated again at lpe: its start on the current memory, its length as
            # the smaller of its values on the memory at the start of the pass and now. On the corpus
            # (9 programs with a cell as length) this reproduces every header; a length fixed at lpb
            # reproduces 2 of them, the current value alone 8.
            if source.kind is not OperandKind.CONSTANT:
                value = self.read(source, indent + 1, end, "_b")
                self.emit(indent + 1, f"{length} = _loop_length({value}, MAXMEM)", end)
                before = self.read(source, indent + 1, end, "_a", memory=f"_s{lid}")
                self.emit(indent + 1, f"if {before} < {length}: {length} = {before}", end)
            start = self.address(target, indent + 1, end)
            if source.kind is not OperandKind.CONSTANT or source.value > _LONG_REGION:
                self.emit(indent + 1, f"if {length} > {_LONG_REGION}: chk = _slow(steps)", end)
            self.emit(indent + 1, f"if _dict_less(m, _s{lid}, {start}, {length}):", end)
        self.emit(indent + 2, f"_s{lid} = m.copy()", end)
        self.emit(indent + 2, "continue", end)
        self.emit(indent + 1, f"m = _s{lid}", end)
        self.emit(indent + 1, "break", end)

    def operation(self, index: int, indent: int) -> None:
        op = self.ops[index]
        name = op.op
        if name in ("nop", "lpe"):
            return
        error = self.bad_operand(op.target) or self.bad_operand(op.source)
        if error is not None:
            self.emit(indent, self.raise_stmt(error), index)
            return
        if name == "seq":
            self._seq(index, indent)
        elif name in _REGION_OPS:
            self._region(index, indent)
        else:
            self._arithmetic(index, indent)

    def _seq(self, index: int, indent: int) -> None:
        op = self.ops[index]
        number = op.source.value
        if self.mode == "locals":
            t = f"c{op.target.value}"
            self.emit(indent, f"{t}, _st = _call({number}, {t})", index)
        else:
            addr = self.address(op.target, indent, index)
            self.emit(indent, f"m[{addr}], _st = _call({number}, m.get({addr}, 0))", index)
            if op.target.kind is OperandKind.INDIRECT:
                self.emit(indent, "if len(m) > MAXMEM: _memerr(MAXMEM)", index)
        self.emit(indent, "steps += _st", index)
        self.check_steps(indent, index)

    def _region(self, index: int, indent: int) -> None:
        op = self.ops[index]
        name = op.op
        if self.mode == "dict":
            length = self.read(op.source, indent, index, "_b")
            addr = self.address(op.target, indent, index)
            self.emit(indent, f"_region(m, {name!r}, {addr}, {length}, MAXMEM)", index)
            # a long region costs more than a step: look at the clock now rather than steps later
            if op.source.kind is not OperandKind.CONSTANT:
                self.emit(indent, f"if {length} > {_LONG_REGION} or {length} < -{_LONG_REGION}: chk = _slow(steps)",
                          index)
            elif abs(op.source.value) > _LONG_REGION:
                self.emit(indent, "chk = _slow(steps)", index)
            return
        start, length = op.target.value, op.source.value
        if abs(length) > self.limits.max_memory:
            self.emit(indent, self.raise_stmt(MemoryLimitError(
                f"region length {length} exceeds the memory limit")), index)
            return
        lo, hi = (start, start + length) if length >= 0 else (start + length + 1, start + 1)
        if lo < 0:
            self.emit(indent, self.raise_stmt(NegativeIndexError(
                f"region starts at negative cell index {lo}")), index)
            return
        if hi <= lo:
            return
        cells = [f"c{k}" for k in range(lo, hi)]
        if name == "clr":
            self.emit(indent, " = ".join(cells) + " = 0", index)
        elif name == "fil":
            others = [c for c in cells if c != f"c{start}"]
            if others:
                self.emit(indent, " = ".join(others) + f" = c{start}", index)
        elif len(cells) > 1:
            rotated = cells[1:] + cells[:1] if name == "rol" else cells[-1:] + cells[:-1]
            self.emit(indent, f"{', '.join(cells)} = {', '.join(rotated)}", index)

    def _arithmetic(self, index: int, indent: int) -> None:
        op = self.ops[index]
        name = op.op
        e = lambda text: self.emit(indent, text, index)  # noqa: E731
        K = op.source.value if op.source.kind is OperandKind.CONSTANT else None
        locals_mode = self.mode == "locals"
        # the source first (an indirect source is read before the target, as in the reference)
        if name == "mov":
            s = self.read(op.source, indent, index, "_b")
            if locals_mode:
                e(f"c{op.target.value} = {s}")
            else:
                addr = self.address(op.target, indent, index)
                e(f"m[{addr}] = {s}")
                if op.target.kind is OperandKind.INDIRECT:
                    e("if len(m) > MAXMEM: _memerr(MAXMEM)")
            return
        s = self.read(op.source, indent, index, "_b")
        if locals_mode:
            a = v = f"c{op.target.value}"
            addr = None
        else:
            addr = self.address(op.target, indent, index)
            e(f"_a = m{'.get(_t, 0)' if addr == '_t' else f'[{addr}]'}")
            a, v = "_a", "_v"
        upper = f"if {v} >= B: _ovf(BITS)"
        lower = f"if {v} <= NB: _ovf(BITS)"
        both = f"if {v} >= B or {v} <= NB: _ovf(BITS)"
        if name in ("add", "sub"):
            e(f"{v} = {a} {'+' if name == 'add' else '-'} {s}")
            if K is None:
                e(both)
            elif K != 0:
                e(upper if (K > 0) == (name == "add") else lower)
        elif name == "trn":
            e(f"{v} = {a} - {s}")
            e(f"if {v} < 0: {v} = 0")
            if K is None or K < 0:
                e(f"elif {v} >= B: _ovf(BITS)")
        elif name == "mul":
            e(f"{v} = {a} * {s}")
            if K is None or abs(K) > 1:
                e(both)
        elif name in ("div", "mod"):
            sym = "//" if name == "div" else "%"
            if K == 0:
                e(f"_undef({name + ': division by zero'!r})")
                return
            if K is None:
                e(f"{v} = {a} {sym} {s} if {a} >= 0 and {s} > 0 else _{name}({a}, {s})")
            elif name == "div":
                if K > 0:
                    e(f"{v} = {a} // {K} if {a} >= 0 else -(-{a} // {K})")
                else:
                    e(f"{v} = -({a} // {-K}) if {a} >= 0 else -{a} // {-K}")
            else:
                k = abs(K)
                e(f"{v} = {a} % {k} if {a} >= 0 else -(-{a} % {k})")
        elif name == "pow" and K == 2:
            e(f"{v} = {a} * {a}")
            e(upper)
        elif name in ("equ", "neq", "leq", "geq"):
            cmp = {"equ": "==", "neq": "!=", "leq": "<=", "geq": ">="}[name]
            e(f"{v} = 1 if {a} {cmp} {s} else 0")
        elif name == "min":
            e(f"{v} = {s} if {s} < {a} else {a}")
        elif name == "max":
            e(f"{v} = {s} if {s} > {a} else {a}")
        elif name in ("ban", "bor", "bxo"):
            e(f"{v} = {a} {dict(ban='&', bor='|', bxo='^')[name]} {s}")
            e(both)
        elif name == "gcd":
            e(f"{v} = _gcd({a}, {s})")
        elif name in semantics.GROWING:
            e(f"{v} = _sem_{name}({a}, {s}, BITS)")
        else:
            e(f"{v} = _sem_{name}({a}, {s})")
        if not locals_mode:
            e(f"m[{addr}] = _v")
            if op.target.kind is OperandKind.INDIRECT:
                e("if len(m) > MAXMEM: _memerr(MAXMEM)")

    # -- the function
    def generate(self) -> str:
        self.emit(0, "def _run(n, _call, _slow, B=B, NB=NB, BITS=BITS, MAXMEM=MAXMEM):")
        if self.mode == "locals":
            rest = [f"c{k}" for k in range(1, self.cells)]
            self.emit(1, "c0 = n")
            if rest:
                self.emit(1, " = ".join(rest) + " = 0")
        else:
            direct = sorted({operand.value for op in self.ops for operand in (op.target, op.source)
                             if operand is not None and operand.kind is not OperandKind.CONSTANT
                             and 0 <= operand.value <= MAX_INDEX} | {0})
            self.emit(1, f"m = dict.fromkeys({direct!r}, 0)" if len(direct) < 64
                      else f"m = dict.fromkeys({self.const(direct)}, 0)")
            self.emit(1, "m[0] = n")
        self.emit(1, "steps = 0")
        self.emit(1, f"chk = {min(CHECK_EVERY, self.limits.max_steps)}")
        self.block(0, len(self.ops), 1)
        self.check_steps(1, len(self.ops) - 1)  # a step limit found at the end is reported at the last operation
        self.emit(1, f"return {self.cell(0)}, steps")
        return "\n".join(self.lines) + "\n"


def _namespace(limits: Limits) -> dict:
    bound = 1 << limits.max_bits
    namespace = {
        "B": bound, "NB": -bound, "BITS": limits.max_bits, "MAXMEM": limits.max_memory,
        "_div": _div, "_mod": _mod, "_ovf": _ovf, "_undef": _undef, "_raise": _raise, "_ix": _ix,
        "_memerr": _memerr, "_lex_less": _lex_less, "_dict_less": _dict_less, "_region": _region,
        "_loop_length": _loop_length, "_gcd": math.gcd,
    }
    for name, function in semantics.OPERATIONS.items():
        namespace[f"_sem_{name}"] = function
    return namespace


def compile_program(program: Program, limits: Limits | None = None, name: str = "program") -> Compiled:
    """Compile `program`; falls back on the interpreter where generated code is not possible."""
    limits = limits or Limits()
    filename = f"<loda {name} #{next(_counter)}>"
    try:
        generator = _Generator(program, limits)
        source = generator.generate()
        namespace = _namespace(limits)
        namespace.update(generator.consts)
        exec(compile(source, filename, "exec"), namespace)
        return Compiled(program, namespace["_run"], name, generator.mode, source, filename, tuple(generator.linemap))
    except (_Unsupported, SyntaxError, RecursionError, MemoryError, OverflowError, ValueError):
        return _interpreted(program, limits, name)


def _interpreted(program: Program, limits: Limits, name: str) -> Compiled:
    from .interpreter import execute

    def run(n: int, call, slow) -> tuple[int, int]:
        return execute(program, n, limits, call, lambda steps: slow(0))

    return Compiled(program, run, name, "interpreter")


# ---------------------------------------------------------------------------- evaluator


class Evaluator:
    """Evaluates programs with compiled code, a call-result cache, recursion detection
    and forbidden sequences. `library` is anything with `.program(number) -> Program`
    (a `Corpus`), or None (then every `seq` fails with UnknownSequenceError)."""

    def __init__(self, library=None, limits: Limits | None = None, forbidden=frozenset()):
        self.library = library
        self.limits = limits or Limits()
        self.forbidden = frozenset(int(x) for x in forbidden)
        self.cache: dict[tuple[int, int], tuple[int, int]] = {}
        self.running: set[int] = set()
        self.deadline = float("inf")
        self.steps = 0  # steps of the last term evaluated
        self.total_steps = 0  # steps of all terms evaluated (top level, calls included)
        self._programs: dict[int, tuple[Program, Compiled]] = {}  # by id(program), holding the program
        self._library: dict[int, Compiled] = {}

    # -- compilation
    def compile(self, program: Program) -> Compiled:
        """The compiled form of `program` (compiled on first use, then cached)."""
        hit = self._programs.get(id(program))
        if hit is not None and hit[0] is program:
            return hit[1]
        if len(self._programs) > 10_000:
            self._programs.clear()
        compiled = compile_program(program, self.limits)
        self._programs[id(program)] = (program, compiled)
        return compiled

    def _callee(self, number: int) -> Compiled:
        compiled = self._library.get(number)
        if compiled is None:
            if self.library is None:
                raise UnknownSequenceError(f"no library to call A{number:06d}")
            compiled = compile_program(self.library.program(number), self.limits, f"A{number:06d}")
            self._library[number] = compiled
        return compiled

    # -- runtime hooks
    def _slow(self, steps: int) -> int:
        if steps > self.limits.max_steps:
            raise StepLimitError(f"more than {self.limits.max_steps} steps")
        if time.monotonic() > self.deadline:
            raise EvaluationTimeoutError(f"evaluation took longer than {self.limits.timeout} s")
        return min(steps + CHECK_EVERY, self.limits.max_steps)

    def _call(self, number: int, arg: int) -> tuple[int, int]:
        hit = self.cache.get((number, arg))
        if hit is not None:
            return hit
        if number in self.forbidden:
            raise ForbiddenCallError(f"call of forbidden sequence A{number:06d}")
        if number in self.running:
            raise CallRecursionError(f"recursive call of A{number:06d}")
        compiled = self._callee(number)
        if arg < compiled.program.offset:
            raise CallArgumentError(
                f"argument {arg} of A{number:06d} is below its offset {compiled.program.offset}")
        self.running.add(number)
        try:
            result = compiled.run(arg, self._call, self._slow)
        except LodaError as error:
            if error.line is None or getattr(error, "sequence", None) is None:
                _locate(error, compiled, number)
            raise
        finally:
            self.running.discard(number)
        if len(self.cache) >= self.limits.max_cache:
            self.cache.clear()
        self.cache[(number, arg)] = result
        return result

    # -- public
    def term(self, program: Program, n: int) -> int:
        """a(n) (n need not be at least the offset)."""
        return list(self.iter_terms(program, 1, start=n))[0]

    def terms(self, program: Program, count: int) -> list[int]:
        """a(offset), ..., a(offset + count - 1); raises the first failing term's LodaError."""
        return list(self.iter_terms(program, count))

    def iter_terms(self, program: Program, count: int, *, start: int | None = None):
        """Yield the terms one by one (the consumer may stop early); the timeout covers them all."""
        if start is None:
            start = program.offset
        try:
            compiled = self.compile(program)
            if self.forbidden:
                reachable_forbidden(program, self.library, self.forbidden)
            timeout = self.limits.timeout
            self.deadline = time.monotonic() + timeout if timeout else float("inf")
            call, slow = self._call, self._slow
            for n in range(start, start + count):
                try:
                    value, steps = compiled.run(n, call, slow)
                except LodaError as error:
                    if error.line is None:
                        _locate(error, compiled, None)
                    raise
                finally:
                    self.running.clear()
                self.steps = steps
                self.total_steps += steps
                yield value
        except LodaError:
            raise
        except RecursionError:
            raise CallRecursionError("call chain too deep") from None
        except MemoryError:
            raise MemoryLimitError("out of memory") from None
        except Exception as error:  # a bug; still honour "only LodaError escapes"
            raise InternalError(f"internal error: {type(error).__name__}: {error}") from error


def _locate(error: LodaError, compiled, number: int | None) -> None:
    """Name the operation (from the generated line numbers) and the program of an error."""
    if error.line is not None:
        if number is not None and getattr(error, "sequence", None) is None:
            annotate(error, error.line, error.operation, number)
        return
    lineno = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == compiled.filename:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    operation = compiled.operation_at(lineno) if lineno is not None else None
    if operation is not None:
        annotate(error, operation.line, str(operation), number)
    elif number is not None:
        annotate(error, None, None, number)


def evaluate(program: Program, count: int, *, library=None, forbidden=(), limits: Limits | None = None) -> list[int]:
    """The first `count` terms of `program` (see `Evaluator.terms`)."""
    return Evaluator(library=library, limits=limits, forbidden=forbidden).terms(program, count)


__all__ = ["Compiled", "Evaluator", "InternalError", "Limits", "compile_program", "evaluate"]
