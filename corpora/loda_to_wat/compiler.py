"""LODA program -> WebAssembly text: one module exporting `(func (export "a") (param $n i64) (result i64))`.

Semantics are LODA's (shared/loda/LODA.md and the operation vectors in
shared/loda/semantics/*.csv) on 64-bit integers: every arithmetic operation is a
helper function (`$op_add`, `$op_pow`, ...) that computes the exact result and traps
(`unreachable`) where the result is undefined (division by zero, log of a non-positive
number, ...) or does not fit in i64 (LODA numbers are unbounded: an i64 overflow is a
trap, never a wrap). Only the helpers a program uses are emitted.

Cells. A program without indirect operands (`$$k`) whose region operations all have a
direct target and a small constant length keeps its cells in i64 locals `$c0 $c1 ...`
("locals mode"). Otherwise every cell lives in linear memory ("memory mode"): cell `i`
of a function is the i64 at byte `base + 8*i` of that function's frame, `i` below
`cell_limit` (an index out of range traps: negative indices are LODA errors, indices
past the limit are a resource limit). Frames are static: recursion is refused, so no
function is active twice and each one owns a fixed slice of memory. A global `$hwm`
holds the byte size of the frame prefix that may be non-zero (the high-water mark of
the running function); callees save and restore it, zero their frame prefix when they
return, and the exported function zeroes all memory when it starts (so a trap never
leaves stale cells behind for the next call).

Loops. `lpb $c,len` ... `lpe`: at `lpb` the cells the body may write and the counter
are saved; at `lpe` the loop goes on when the counter region is lexicographically
smaller and non-negative (one cell: 0 <= new < old), saving again; otherwise the saved
cells are written back (the last pass is undone). The saved cells are temps `$t0 ...`
when the written cells are known statically; where the body writes through `$$k` or a
dynamic region, the whole frame prefix is copied to a snapshot area of the frame
(one per nesting level of such loops), its size kept in an i32 local `$h0 ...`.

Calls. `seq $t,K` calls `$a<K>`, the program of A-number K from `library`
(`library.program(K)`, e.g. a `languages.loda.Corpus`, or a mapping number -> Program),
compiled into the same module with its own dependencies; an argument below the callee's
offset traps; a cycle of calls is refused as `recursion`.

What cannot be compiled raises `UnsupportedProgram(reason)` with a short stable reason
(see `REASONS`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Iterable

from languages.loda.errors import LodaError
from languages.loda.program import ARITHMETIC_OPS, REGION_OPS, Operand, OperandKind, Operation, Program

I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1
DEFAULT_CELL_LIMIT = 4096  # cells per function frame in memory mode
REGION_UNROLL = 16  # region ops with a constant length up to this are unrolled on locals
MAX_STATIC_SNAPSHOT = 32  # memory mode: more written cells than this -> copy the frame prefix
MAX_LOOP_REGION = 64  # `lpb $c,len`: longest counter region
MAX_FUNCTIONS = 1000  # callees in one module

REASONS = {
    "unknown_sequence": "seq calls a sequence with no program in the library",
    "recursion": "a cycle of seq calls (a program calling itself, directly or through others)",
    "big_constant": "a constant that does not fit in i64",
    "indirect_loop_counter": "lpb with an indirect counter ($$k)",
    "dynamic_loop_region": "lpb whose region length is not a constant",
    "loop_region_too_long": f"lpb with a counter region longer than {MAX_LOOP_REGION} cells",
    "cell_limit": "a direct cell index at or beyond the memory-mode cell limit",
    "unbalanced_loop": "lpb / lpe do not match",
    "unknown_operation": "an operation the compiler does not know",
    "too_many_functions": f"more than {MAX_FUNCTIONS} sequences called",
}


class UnsupportedProgram(Exception):
    """The program cannot be compiled; `reason` is a short stable key (see `REASONS`)."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


# ---------------------------------------------------------------- helper functions

_H: dict[str, tuple[str, tuple[str, ...]]] = {}  # name -> (WAT text, helpers it calls)


def _helper(name: str, text: str, deps: tuple[str, ...] = (), table: dict | None = None) -> None:
    (_H if table is None else table)[name] = (text.strip("\n"), deps)


_BIN = "(param $a i64) (param $b i64) (result i64)"

_helper("op_add", f"""
(func $op_add {_BIN}
  (local $r i64)
  (local.set $r (i64.add (local.get $a) (local.get $b)))
  (if (i64.lt_s (i64.and (i64.xor (local.get $a) (local.get $r)) (i64.xor (local.get $b) (local.get $r))) (i64.const 0))
    (then unreachable))
  (local.get $r))""")

_helper("op_sub", f"""
(func $op_sub {_BIN}
  (local $r i64)
  (local.set $r (i64.sub (local.get $a) (local.get $b)))
  (if (i64.lt_s (i64.and (i64.xor (local.get $a) (local.get $b)) (i64.xor (local.get $a) (local.get $r))) (i64.const 0))
    (then unreachable))
  (local.get $r))""")

_helper("op_trn", f"""
(func $op_trn {_BIN}
  (if (i64.le_s (local.get $a) (local.get $b))
    (then (return (i64.const 0))))
  (call $op_sub (local.get $a) (local.get $b)))""", ("op_sub",))

_helper("op_mul", f"""
(func $op_mul {_BIN}
  (local $r i64)
  (local.set $r (i64.mul (local.get $a) (local.get $b)))
  (if (i64.ne (local.get $b) (i64.const 0))
    (then
      (if (i64.ne (i64.div_s (local.get $r) (local.get $b)) (local.get $a))
        (then unreachable))))
  (local.get $r))""")

_helper("op_div", f"""
(func $op_div {_BIN}
  (i64.div_s (local.get $a) (local.get $b)))""")

_helper("op_mod", f"""
(func $op_mod {_BIN}
  (i64.rem_s (local.get $a) (local.get $b)))""")

_helper("op_dif", f"""
(func $op_dif {_BIN}
  (if (i64.eqz (local.get $b))
    (then (return (local.get $a))))
  (if (i64.eqz (i64.rem_s (local.get $a) (local.get $b)))
    (then (return (i64.div_s (local.get $a) (local.get $b)))))
  (local.get $a))""")

_helper("op_dir", f"""
(func $op_dir {_BIN}
  (if (i32.or (i64.eqz (local.get $a)) (i32.and (i64.ge_s (local.get $b) (i64.const -1)) (i64.le_s (local.get $b) (i64.const 1))))
    (then (return (local.get $a))))
  (loop $l
    (if (i64.eqz (i64.rem_s (local.get $a) (local.get $b)))
      (then
        (local.set $a (i64.div_s (local.get $a) (local.get $b)))
        (br $l))))
  (local.get $a))""")

_helper("op_pow", f"""
(func $op_pow {_BIN}
  (local $r i64)
  (if (i64.eqz (local.get $a))
    (then
      (if (i64.lt_s (local.get $b) (i64.const 0))
        (then unreachable))
      (return (i64.extend_i32_u (i64.eqz (local.get $b))))))
  (if (i64.eq (local.get $a) (i64.const 1))
    (then (return (i64.const 1))))
  (if (i64.eq (local.get $a) (i64.const -1))
    (then (return (select (i64.const -1) (i64.const 1) (i32.wrap_i64 (i64.and (local.get $b) (i64.const 1)))))))
  (if (i64.lt_s (local.get $b) (i64.const 0))
    (then (return (i64.const 0))))
  (local.set $r (i64.const 1))
  (loop $l
    (if (i32.wrap_i64 (i64.and (local.get $b) (i64.const 1)))
      (then (local.set $r (call $op_mul (local.get $r) (local.get $a)))))
    (local.set $b (i64.shr_u (local.get $b) (i64.const 1)))
    (if (i64.ne (local.get $b) (i64.const 0))
      (then
        (local.set $a (call $op_mul (local.get $a) (local.get $a)))
        (br $l))))
  (local.get $r))""", ("op_mul",))

# |x| as an unsigned 64-bit number (|-2^63| = 2^63 is the bit pattern of -2^63)
_helper("abs", """
(func $abs (param $a i64) (result i64)
  (select (i64.sub (i64.const 0) (local.get $a)) (local.get $a) (i64.lt_s (local.get $a) (i64.const 0))))""")

_helper("op_gcd", f"""
(func $op_gcd {_BIN}
  (local $r i64)
  (local.set $a (call $abs (local.get $a)))
  (local.set $b (call $abs (local.get $b)))
  (loop $l
    (if (i64.ne (local.get $b) (i64.const 0))
      (then
        (local.set $r (i64.rem_u (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $r))
        (br $l))))
  (if (i64.lt_s (local.get $a) (i64.const 0))
    (then unreachable))
  (local.get $a))""", ("abs",))

_helper("op_lex", f"""
(func $op_lex {_BIN}
  (local $r i64)
  (local.set $a (call $abs (local.get $a)))
  (local.set $b (call $abs (local.get $b)))
  (if (i32.or (i64.eqz (local.get $a)) (i64.le_u (local.get $b) (i64.const 1)))
    (then (return (i64.const 0))))
  (loop $l
    (if (i64.eqz (i64.rem_u (local.get $a) (local.get $b)))
      (then
        (local.set $a (i64.div_u (local.get $a) (local.get $b)))
        (local.set $r (i64.add (local.get $r) (i64.const 1)))
        (br $l))))
  (local.get $r))""", ("abs",))

# binomial coefficient, extended to negative arguments (Kronenburg); the running value
# C(n, i) only grows (i <= n/2), and the gcd step keeps every product exact
_helper("op_bin", """
(func $op_bin (param $n i64) (param $k i64) (result i64)
  (local $s i64) (local $r i64) (local $i i64) (local $g i64)
  (local.set $s (i64.const 1))
  (if (i64.lt_s (local.get $n) (i64.const 0))
    (then
      (if (i64.ge_s (local.get $k) (i64.const 0))
        (then
          (if (i32.wrap_i64 (i64.and (local.get $k) (i64.const 1)))
            (then (local.set $s (i64.const -1))))
          (local.set $n (call $op_sub (call $op_sub (local.get $k) (local.get $n)) (i64.const 1))))
        (else
          (if (i64.lt_s (local.get $n) (local.get $k))
            (then (return (i64.const 0))))
          (if (i32.wrap_i64 (i64.and (i64.sub (local.get $n) (local.get $k)) (i64.const 1)))
            (then (local.set $s (i64.const -1))))
          (local.set $i (local.get $n))
          (local.set $n (i64.sub (i64.const -1) (local.get $k)))
          (local.set $k (i64.sub (local.get $i) (local.get $k))))))
    (else
      (if (i32.or (i64.lt_s (local.get $k) (i64.const 0)) (i64.lt_s (local.get $n) (local.get $k)))
        (then (return (i64.const 0))))))
  (if (i64.lt_s (i64.sub (local.get $n) (local.get $k)) (local.get $k))
    (then (local.set $k (i64.sub (local.get $n) (local.get $k)))))
  (local.set $r (i64.const 1))
  (local.set $i (i64.const 0))
  (loop $l
    (if (i64.lt_s (local.get $i) (local.get $k))
      (then
        (local.set $g (call $op_gcd (local.get $r) (i64.add (local.get $i) (i64.const 1))))
        (local.set $r (call $op_mul
          (i64.div_s (local.get $r) (local.get $g))
          (i64.div_s (i64.sub (local.get $n) (local.get $i)) (i64.div_s (i64.add (local.get $i) (i64.const 1)) (local.get $g)))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $l))))
  (i64.mul (local.get $s) (local.get $r)))""", ("op_sub", "op_mul", "op_gcd"))

# falling (k < 0) or rising (k > 0) factorial: n (n+1) ... (n+k-1)
_helper("op_fac", """
(func $op_fac (param $n i64) (param $k i64) (result i64)
  (local $d i64) (local $r i64)
  (local.set $d (i64.const 1))
  (local.set $r (i64.const 1))
  (if (i64.lt_s (local.get $k) (i64.const 0))
    (then
      (local.set $d (i64.const -1))
      (local.set $k (i64.sub (i64.const 0) (local.get $k)))))
  (loop $l
    (if (i64.ne (local.get $k) (i64.const 0))
      (then
        (local.set $r (call $op_mul (local.get $r) (local.get $n)))
        (if (i64.eqz (local.get $r))
          (then (return (i64.const 0))))
        (local.set $k (i64.sub (local.get $k) (i64.const 1)))
        (if (i64.ne (local.get $k) (i64.const 0))
          (then
            (local.set $n (call $op_add (local.get $n) (local.get $d)))
            (br $l))))))
  (local.get $r))""", ("op_mul", "op_add"))

_helper("op_log", f"""
(func $op_log {_BIN}
  (local $r i64)
  (if (i32.or (i64.le_s (local.get $a) (i64.const 0)) (i64.lt_s (local.get $b) (i64.const 2)))
    (then unreachable))
  (loop $l
    (if (i64.ge_s (local.get $a) (local.get $b))
      (then
        (local.set $a (i64.div_s (local.get $a) (local.get $b)))
        (local.set $r (i64.add (local.get $r) (i64.const 1)))
        (br $l))))
  (local.get $r))""")

# floor of the b-th root: binary search on m with m^b <= a (computed without overflow)
_helper("op_nrt", f"""
(func $op_nrt {_BIN}
  (local $lo i64) (local $hi i64) (local $m i64) (local $p i64) (local $j i64)
  (if (i32.or (i64.lt_s (local.get $a) (i64.const 0)) (i64.le_s (local.get $b) (i64.const 0)))
    (then unreachable))
  (if (i32.or (i64.le_s (local.get $a) (i64.const 1)) (i64.eq (local.get $b) (i64.const 1)))
    (then (return (local.get $a))))
  (if (i64.ge_s (local.get $b) (i64.const 63))
    (then (return (i64.const 1))))
  (local.set $lo (i64.const 1))
  (local.set $hi (select (local.get $a) (i64.const 3037000499) (i64.lt_s (local.get $a) (i64.const 3037000499))))
  (loop $search
    (if (i64.lt_s (local.get $lo) (local.get $hi))
      (then
        (local.set $m (i64.sub (local.get $hi) (i64.div_s (i64.sub (local.get $hi) (local.get $lo)) (i64.const 2))))
        (local.set $p (i64.const 1))
        (local.set $j (local.get $b))
        (block $over
          (loop $power
            (if (i64.ne (local.get $j) (i64.const 0))
              (then
                (br_if $over (i64.gt_s (local.get $p) (i64.div_s (local.get $a) (local.get $m))))
                (local.set $p (i64.mul (local.get $p) (local.get $m)))
                (local.set $j (i64.sub (local.get $j) (i64.const 1)))
                (br $power))))
          (local.set $lo (local.get $m))
          (br $search))
        (local.set $hi (i64.sub (local.get $m) (i64.const 1)))
        (br $search))))
  (local.get $lo))""")

_helper("op_dgs", f"""
(func $op_dgs {_BIN}
  (local $x i64) (local $r i64)
  (if (i64.lt_s (local.get $b) (i64.const 2))
    (then unreachable))
  (local.set $x (call $abs (local.get $a)))
  (loop $l
    (if (i64.ne (local.get $x) (i64.const 0))
      (then
        (local.set $r (i64.add (local.get $r) (i64.rem_u (local.get $x) (local.get $b))))
        (local.set $x (i64.div_u (local.get $x) (local.get $b)))
        (br $l))))
  (select (i64.sub (i64.const 0) (local.get $r)) (local.get $r) (i64.lt_s (local.get $a) (i64.const 0))))""", ("abs",))

_helper("op_dgr", f"""
(func $op_dgr {_BIN}
  (local $r i64)
  (if (i64.lt_s (local.get $b) (i64.const 2))
    (then unreachable))
  (if (i64.eqz (local.get $a))
    (then (return (i64.const 0))))
  (local.set $r (i64.add (i64.rem_u (i64.sub (call $abs (local.get $a)) (i64.const 1)) (i64.sub (local.get $b) (i64.const 1))) (i64.const 1)))
  (select (i64.sub (i64.const 0) (local.get $r)) (local.get $r) (i64.lt_s (local.get $a) (i64.const 0))))""", ("abs",))

for _name, _instr in (("equ", "i64.eq"), ("neq", "i64.ne"), ("leq", "i64.le_s"), ("geq", "i64.ge_s")):
    _helper(f"op_{_name}", f"""
(func $op_{_name} {_BIN}
  (i64.extend_i32_u ({_instr} (local.get $a) (local.get $b))))""")

_helper("op_min", f"""
(func $op_min {_BIN}
  (select (local.get $a) (local.get $b) (i64.lt_s (local.get $a) (local.get $b))))""")
_helper("op_max", f"""
(func $op_max {_BIN}
  (select (local.get $a) (local.get $b) (i64.gt_s (local.get $a) (local.get $b))))""")

for _name, _instr in (("ban", "i64.and"), ("bor", "i64.or"), ("bxo", "i64.xor")):
    _helper(f"op_{_name}", f"""
(func $op_{_name} {_BIN}
  ({_instr} (local.get $a) (local.get $b)))""")


@functools.lru_cache(maxsize=8)
def _memory_helpers(cell_limit: int) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The helpers of memory mode, which depend on the cell limit."""
    m = cell_limit
    table: dict[str, tuple[str, tuple[str, ...]]] = {}
    add = functools.partial(_helper, table=table)
    # byte offset of cell i in the frame (bounds-checked)
    add("cell", f"""
(func $cell (param $i i64) (result i32)
  (if (i64.ge_u (local.get $i) (i64.const {m}))
    (then unreachable))
  (i32.wrap_i64 (i64.shl (local.get $i) (i64.const 3))))""")
    # the same for a cell about to be written: raises the high-water mark
    add("cellw", """
(func $cellw (param $i i64) (result i32)
  (local $p i32)
  (local.set $p (call $cell (local.get $i)))
  (if (i32.ge_u (local.get $p) (global.get $hwm))
    (then (global.set $hwm (i32.add (local.get $p) (i32.const 8)))))
  (local.get $p))""", ("cell",))
    # region of n cells from cell a (n < 0: the |n| cells ending at a): byte offset of its
    # first cell, bounds-checked, high-water mark raised
    add("span", f"""
(func $span (param $a i64) (param $n i64) (result i32)
  (if (i64.lt_s (local.get $n) (i64.const 0))
    (then
      (local.set $a (i64.add (i64.add (local.get $a) (local.get $n)) (i64.const 1)))
      (local.set $n (i64.sub (i64.const 0) (local.get $n)))))
  (if (i32.or (i64.ge_u (local.get $a) (i64.const {m})) (i64.gt_u (local.get $n) (i64.sub (i64.const {m}) (local.get $a))))
    (then unreachable))
  (if (i32.gt_u (i32.wrap_i64 (i64.shl (i64.add (local.get $a) (local.get $n)) (i64.const 3))) (global.get $hwm))
    (then (global.set $hwm (i32.wrap_i64 (i64.shl (i64.add (local.get $a) (local.get $n)) (i64.const 3))))))
  (i32.wrap_i64 (i64.shl (local.get $a) (i64.const 3))))""")
    region = "(param $base i32) (param $a i64) (param $n i64)"
    add("op_clr", f"""
(func $op_clr {region}
  (memory.fill
    (i32.add (local.get $base) (call $span (local.get $a) (local.get $n)))
    (i32.const 0)
    (i32.wrap_i64 (i64.shl (call $abs (local.get $n)) (i64.const 3)))))""", ("span", "abs"))
    add("op_fil", f"""
(func $op_fil {region}
  (local $p i32) (local $e i32) (local $v i64)
  (local.set $v (i64.load (i32.add (local.get $base) (call $cell (local.get $a)))))
  (local.set $p (i32.add (local.get $base) (call $span (local.get $a) (local.get $n))))
  (local.set $e (i32.add (local.get $p) (i32.wrap_i64 (i64.shl (call $abs (local.get $n)) (i64.const 3)))))
  (loop $l
    (if (i32.lt_u (local.get $p) (local.get $e))
      (then
        (i64.store (local.get $p) (local.get $v))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $l)))))""", ("span", "cell", "abs"))
    add("op_rol", f"""
(func $op_rol {region}
  (local $p i32) (local $e i32) (local $v i64)
  (if (i64.eqz (local.get $n))
    (then (return)))
  (local.set $p (i32.add (local.get $base) (call $span (local.get $a) (local.get $n))))
  (local.set $e (i32.add (local.get $p) (i32.wrap_i64 (i64.shl (i64.sub (call $abs (local.get $n)) (i64.const 1)) (i64.const 3)))))
  (local.set $v (i64.load (local.get $p)))
  (memory.copy (local.get $p) (i32.add (local.get $p) (i32.const 8)) (i32.sub (local.get $e) (local.get $p)))
  (i64.store (local.get $e) (local.get $v)))""", ("span", "abs"))
    add("op_ror", f"""
(func $op_ror {region}
  (local $p i32) (local $e i32) (local $v i64)
  (if (i64.eqz (local.get $n))
    (then (return)))
  (local.set $p (i32.add (local.get $base) (call $span (local.get $a) (local.get $n))))
  (local.set $e (i32.add (local.get $p) (i32.wrap_i64 (i64.shl (i64.sub (call $abs (local.get $n)) (i64.const 1)) (i64.const 3)))))
  (local.set $v (i64.load (local.get $e)))
  (memory.copy (i32.add (local.get $p) (i32.const 8)) (local.get $p) (i32.sub (local.get $e) (local.get $p)))
  (i64.store (local.get $p) (local.get $v)))""", ("span", "abs"))
    return table


_HELPER_ORDER = [f"op_{op}" for op in ARITHMETIC_OPS if op != "mov"] + [
    f"op_{op}" for op in REGION_OPS] + ["abs", "cell", "cellw", "span"]


# ---------------------------------------------------------------- analysis


def _loop_ends(ops: tuple[Operation, ...]) -> dict[int, int]:
    """lpb index -> matching lpe index."""
    ends: dict[int, int] = {}
    stack: list[int] = []
    for i, op in enumerate(ops):
        if op.op == "lpb":
            stack.append(i)
        elif op.op == "lpe":
            if not stack:
                raise UnsupportedProgram("unbalanced_loop", "lpe without lpb")
            ends[stack.pop()] = i
    if stack:
        raise UnsupportedProgram("unbalanced_loop", "lpb without lpe")
    return ends


def _region_cells(a: int, n: int) -> range:
    return range(a, a + n) if n >= 0 else range(a + n + 1, a + 1)


def _check_program(program: Program) -> None:
    known = set(ARITHMETIC_OPS) | set(REGION_OPS) | {"seq", "lpb", "lpe", "nop"}
    for op in program.operations:
        if op.op not in known:
            raise UnsupportedProgram("unknown_operation", op.op)
        for operand in (op.target, op.source):
            if operand is not None and operand.kind is OperandKind.CONSTANT and op.op != "seq":
                if not I64_MIN <= operand.value <= I64_MAX:
                    raise UnsupportedProgram("big_constant", str(operand.value))
        if op.op == "lpb":
            if op.target.kind is not OperandKind.DIRECT:
                raise UnsupportedProgram("indirect_loop_counter", str(op))
            if op.source.kind is not OperandKind.CONSTANT:
                raise UnsupportedProgram("dynamic_loop_region", str(op))
            if op.source.value > MAX_LOOP_REGION:
                raise UnsupportedProgram("loop_region_too_long", str(op))
    _loop_ends(program.operations)


def _uses_memory(program: Program) -> bool:
    for op in program.operations:
        for operand in (op.target, op.source):
            if operand is not None and operand.kind is OperandKind.INDIRECT:
                return True
        if op.op in REGION_OPS:
            if op.source.kind is not OperandKind.CONSTANT or abs(op.source.value) > REGION_UNROLL:
                return True
            if min(_region_cells(op.target.value, op.source.value), default=0) < 0:
                return True
    return False


def _static_cells(program: Program) -> set[int]:
    """Every cell a program names statically: direct operands, constant regions, loop counters."""
    cells = {0}
    for op in program.operations:
        for operand in (op.target, op.source):
            if operand is not None and operand.kind is not OperandKind.CONSTANT:
                cells.add(operand.value)
        if op.op == "lpb":
            cells.update(range(op.target.value, op.target.value + max(op.source.value, 1)))
        elif (op.op in REGION_OPS and op.target.kind is OperandKind.DIRECT
              and op.source.kind is OperandKind.CONSTANT and abs(op.source.value) <= REGION_UNROLL):
            cells.update(c for c in _region_cells(op.target.value, op.source.value) if c >= 0)
    return cells


def _written(ops: Iterable[Operation]) -> set[int] | None:
    """The cells a run of operations may write, or None where that is not static."""
    cells: set[int] = set()
    for op in ops:
        if op.op in ("lpb", "lpe", "nop"):
            continue
        if op.target.kind is not OperandKind.DIRECT:
            return None
        if op.op in REGION_OPS:
            if op.source.kind is not OperandKind.CONSTANT or abs(op.source.value) > REGION_UNROLL:
                return None
            region = _region_cells(op.target.value, op.source.value)
            if region and region[0] < 0:
                return None
            cells.update(region)
        else:
            cells.add(op.target.value)
    return cells


def _resolve(library: Any, number: int) -> Program:
    if library is None:
        raise UnsupportedProgram("unknown_sequence", f"A{number:06d} (no library)")
    try:
        if hasattr(library, "program"):
            program = library.program(number)
        else:
            program = library[number]
    except (LookupError, LodaError):  # UnknownSequenceError, KeyError, a malformed program
        raise UnsupportedProgram("unknown_sequence", f"A{number:06d}") from None
    if program is None:
        raise UnsupportedProgram("unknown_sequence", f"A{number:06d}")
    return program


def _callees(program: Program, library: Any, number: int | None) -> list[tuple[int, Program]]:
    """Every sequence reachable through seq, in order of first use (depth first);
    UnsupportedProgram on cycles (or a call back to `number`) and unknown sequences."""
    order: list[tuple[int, Program]] = []
    done: set[int] = set()
    active: list[int] = [number] if number is not None else []

    def visit(prog: Program) -> None:
        for k in prog.calls():
            if k in active:
                chain = " -> ".join(f"A{x:06d}" for x in active[active.index(k):] + [k])
                raise UnsupportedProgram("recursion", chain)
            if k in done:
                continue
            callee = _resolve(library, k)
            active.append(k)
            visit(callee)
            active.pop()
            done.add(k)
            order.append((k, callee))
            if len(order) > MAX_FUNCTIONS:
                raise UnsupportedProgram("too_many_functions")

    visit(program)
    return order


# ---------------------------------------------------------------- layout
#
# Instructions are built as trees: a tuple (head, *items), items being atoms (str) or
# trees. `_layout` writes them in the canonical layout of `languages.wat.canonical`
# (`format_wat`), which is a function of the tree alone: a folded instruction stays on
# one line when it holds no block and its flat text is at most 72 characters, else its
# leading atoms stay on the first line and its operands follow one per line, indented;
# block / loop / if / then / else put their label and type use on the first line and
# their body below. Laying out directly avoids re-parsing the text (tests check that
# `format_wat` leaves the output unchanged).

INLINE_WIDTH = 72
INDENT = "  "
_BLOCKS = frozenset({"block", "loop", "if", "then", "else"})
_TYPEUSE = frozenset({"type", "param", "result"})
_FUNC_HEADER = frozenset({"export", "import", "type", "param", "result"})

Node = Any  # str | tuple


def _flat(node: Node) -> str:
    if isinstance(node, str):
        return node
    return "(" + " ".join(_flat(x) for x in node) + ")"


def _has_block(node: tuple) -> bool:
    return any(not isinstance(x, str) and (x[0] in _BLOCKS or _has_block(x)) for x in node[1:])


def _layout(node: Node, depth: int, out: list[str]) -> None:
    pad = INDENT * depth
    if isinstance(node, str):  # a plain instruction (`unreachable`)
        out.append(pad + node)
        return
    if node[0] in _BLOCKS:
        i = 1
        while i < len(node) and isinstance(node[i], str) and node[i].startswith("$"):
            i += 1
        while i < len(node) and not isinstance(node[i], str) and node[i][0] in _TYPEUSE:
            i += 1
        out.append(pad + "(" + " ".join(_flat(x) for x in node[:i]))
        if i == len(node):
            out[-1] += ")"
            return
        for item in node[i:]:
            _layout(item, depth + 1, out)
        out[-1] += ")"
        return
    flat = _flat(node)
    if len(flat) <= INLINE_WIDTH and not _has_block(node):
        out.append(pad + flat)
        return
    i = 1
    while i < len(node) and isinstance(node[i], str):
        i += 1
    out.append(pad + "(" + " ".join(node[:i]))
    for item in node[i:]:
        _layout(item, depth + 1, out)
    out[-1] += ")"


def _layout_func(node: tuple, depth: int, out: list[str]) -> None:
    i = 1
    if isinstance(node[1], str):
        i = 2
    while i < len(node) and not isinstance(node[i], str) and node[i][0] in _FUNC_HEADER:
        i += 1
    out.append(INDENT * depth + "(" + " ".join(_flat(x) for x in node[:i]))
    while i < len(node) and not isinstance(node[i], str) and node[i][0] == "local":
        out.append(INDENT * (depth + 1) + _flat(node[i]))
        i += 1
    for item in node[i:]:
        _layout(item, depth + 1, out)
    out[-1] += ")"


@functools.lru_cache(maxsize=256)
def _helper_lines(text: str) -> tuple[str, ...]:
    """A helper's text in the canonical layout, one module level down (formatted once)."""
    try:
        from languages.wat.canonical import format_wat
    except ImportError:  # the formatter is optional: the helper texts are laid out by hand
        formatted = text
    else:
        formatted = format_wat(text, max_bytes=None)
    return tuple(INDENT + line for line in formatted.rstrip("\n").split("\n"))


# ---------------------------------------------------------------- code generation


def _const(value: int) -> tuple:
    return ("i64.const", str(value))


def _i32(value: int) -> tuple:
    return ("i32.const", str(value))


@dataclass
class _Module:
    cell_limit: int
    helpers: set[str] = field(default_factory=set)
    memory_bytes: int = 0  # frames allocated so far

    def __post_init__(self) -> None:
        self.table = {**_H, **_memory_helpers(self.cell_limit)}

    def use(self, name: str) -> str:
        if name not in self.helpers:
            self.helpers.add(name)
            for dep in self.table[name][1]:
                self.use(dep)
        return f"${name}"


class _Function:
    """Code of one program as one function."""

    def __init__(self, module: _Module, program: Program, name: str | None, callee: bool):
        self.m = module
        self.program = program
        self.name = name
        self.callee = callee
        self.ops = program.operations
        self.ends = _loop_ends(self.ops)
        self.memory = _uses_memory(program)
        self.cells = sorted(_static_cells(program))
        self.temps = 0  # temps in use
        self.max_temps = 0
        self.marks = 0  # i32 snapshot-size locals in use
        self.max_marks = 0
        self.labels = 0
        self.base = 0
        self.frame_bytes = 0
        if self.memory:
            limit = module.cell_limit
            if self.cells[-1] >= limit:
                raise UnsupportedProgram("cell_limit", f"${self.cells[-1]} with a limit of {limit} cells")
            levels = self._snapshot_depth(0, len(self.ops))
            self.base = module.memory_bytes
            self.frame_bytes = 8 * limit * (1 + levels)
            module.memory_bytes += self.frame_bytes

    # -- analysis

    def _snapshot_depth(self, start: int, stop: int) -> int:
        """Nesting depth of loops in ops[start:stop] that need a frame snapshot."""
        depth = 0
        i = start
        while i < stop:
            if self.ops[i].op == "lpb":
                end = self.ends[i]
                inner = self._snapshot_depth(i + 1, end)
                depth = max(depth, inner + (1 if self._dynamic(i) else 0))
                i = end
            i += 1
        return depth

    def _dynamic(self, lpb: int) -> bool:
        written = _written(self.ops[lpb + 1:self.ends[lpb]])
        return written is None or (self.memory and len(written) > MAX_STATIC_SNAPSHOT)

    # -- cells

    def _mem(self, op: str, where: Node, *value: Node) -> tuple:
        if self.base:
            return (op, f"offset={self.base}", where, *value)
        return (op, where, *value)

    def read(self, operand: Operand) -> tuple:
        if operand.kind is OperandKind.CONSTANT:
            return _const(operand.value)
        if operand.kind is OperandKind.DIRECT:
            return self.read_cell(operand.value)
        return self._mem("i64.load", ("call", self.m.use("cell"), self.read_cell(operand.value)))

    def read_cell(self, index: int) -> tuple:
        if not self.memory:
            return ("local.get", f"$c{index}")
        return self._mem("i64.load", _i32(8 * index))

    def write(self, operand: Operand, value: Node) -> tuple:
        if operand.kind is OperandKind.DIRECT:
            return self.write_cell(operand.value, value)
        return self._mem("i64.store", ("call", self.m.use("cellw"), self.read_cell(operand.value)), value)

    def write_cell(self, index: int, value: Node) -> tuple:
        if not self.memory:
            return ("local.set", f"$c{index}", value)
        return self._mem("i64.store", _i32(8 * index), value)

    def cell_index(self, operand: Operand) -> tuple:
        """The cell index an operand names, as an i64 expression (region ops)."""
        if operand.kind is OperandKind.DIRECT:
            return _const(operand.value)
        return self.read_cell(operand.value)

    def temp(self) -> str:
        name = f"$t{self.temps}"
        self.temps += 1
        self.max_temps = max(self.max_temps, self.temps)
        return name

    # -- operations

    def body(self, start: int, stop: int) -> list[Node]:
        code: list[Node] = []
        i = start
        while i < stop:
            op = self.ops[i]
            if op.op == "lpb":
                end = self.ends[i]
                code += self.loop(i, end)
                i = end + 1
                continue
            code += self.operation(op)
            i += 1
        return code

    def operation(self, op: Operation) -> list[Node]:
        name = op.op
        if name == "nop":
            return []
        if name == "mov":
            return [self.write(op.target, self.read(op.source))]
        if name == "seq":
            return [self.write(op.target, ("call", f"$a{op.source.value}", self.read(op.target)))]
        if name in REGION_OPS:
            return self.region(op)
        helper = self.m.use(f"op_{name}")
        return [self.write(op.target, ("call", helper, self.read(op.target), self.read(op.source)))]

    def region(self, op: Operation) -> list[Node]:
        if self.memory:
            helper = self.m.use(f"op_{op.op}")
            return [("call", helper, _i32(self.base), self.cell_index(op.target), self.read(op.source))]
        a, n = op.target.value, op.source.value
        cells = list(_region_cells(a, n))
        if op.op == "clr":
            return [self.write_cell(c, _const(0)) for c in cells]
        if op.op == "fil":
            return [self.write_cell(c, self.read_cell(a)) for c in cells if c != a]
        if len(cells) < 2:
            return []
        if op.op == "ror":
            cells.reverse()
        t = self.temp()
        self.temps -= 1
        code: list[Node] = [("local.set", t, self.read_cell(cells[0]))]
        code += [self.write_cell(c, self.read_cell(d)) for c, d in zip(cells, cells[1:])]
        code.append(self.write_cell(cells[-1], ("local.get", t)))
        return code

    # -- loops

    def loop(self, lpb: int, lpe: int) -> list[Node]:
        op = self.ops[lpb]
        counter = list(range(op.target.value, op.target.value + op.source.value))
        label = f"$l{self.labels}"
        self.labels += 1
        if self._dynamic(lpb):
            return self.frame_loop(lpb, lpe, counter, label)
        written = _written(self.ops[lpb + 1:lpe])
        saved = sorted(written | set(counter))
        temps = {c: self.temp() for c in saved}
        save = [("local.set", temps[c], self.read_cell(c)) for c in saved]
        restore = [self.write_cell(c, ("local.get", temps[c])) for c in saved]
        cond = self.less([self.read_cell(c) for c in counter], [("local.get", temps[c]) for c in counter])
        body = self.body(lpb + 1, lpe)
        self.temps -= len(saved)
        return [*save, ("loop", label, *body, ("if", cond, ("then", *save, ("br", label)))), *restore]

    def frame_loop(self, lpb: int, lpe: int, counter: list[int], label: str) -> list[Node]:
        """A loop whose body writes cells not known statically: snapshot the frame prefix."""
        mark = f"$h{self.marks}"
        self.marks += 1
        self.max_marks = max(self.max_marks, self.marks)
        snap = self.base + 8 * self.m.cell_limit * self.marks
        base = _i32(self.base)
        save = [("local.set", mark, ("global.get", "$hwm")), ("memory.copy", _i32(snap), base, ("local.get", mark))]
        old = [("i64.load", f"offset={snap}", _i32(8 * c)) for c in counter]
        cond = self.less([self.read_cell(c) for c in counter], old)
        body = self.body(lpb + 1, lpe)
        start = ("i32.add", base, ("local.get", mark)) if self.base else ("local.get", mark)
        self.marks -= 1
        return [*save, ("loop", label, *body, ("if", cond, ("then", *save, ("br", label)))),
                ("memory.copy", base, _i32(snap), ("local.get", mark)),
                ("memory.fill", start, _i32(0), ("i32.sub", ("global.get", "$hwm"), ("local.get", mark)))]

    @staticmethod
    def less(new: list[Node], old: list[Node]) -> Node:
        """i32 condition: the region `new` is lexicographically smaller than `old`, every
        compared cell of `new` non-negative (the LODA loop test)."""
        if not new:
            return _i32(0)
        if len(new) == 1:
            return ("i32.and", ("i64.ge_s", new[0], _const(0)), ("i64.lt_s", new[0], old[0]))
        return ("if", ("result", "i32"), ("i64.lt_s", new[0], _const(0)), ("then", _i32(0)),
                ("else", ("if", ("result", "i32"), ("i64.ne", new[0], old[0]),
                          ("then", ("i64.lt_s", new[0], old[0])),
                          ("else", _Function.less(new[1:], old[1:])))))

    # -- the whole function

    def emit(self, clear_memory: int) -> tuple:
        title = (f"${self.name}",) if self.name else (("export", '"a"'),)
        pre: list[Node] = []
        if self.callee:
            pre.append(("if", ("i64.lt_s", ("local.get", "$n"), _const(self.program.offset)), ("then", "unreachable")))
        if clear_memory:
            pre.append(("memory.fill", _i32(0), _i32(0), _i32(clear_memory)))
        if self.memory:
            if self.callee:
                pre.append(("local.set", "$s", ("global.get", "$hwm")))
            pre.append(("global.set", "$hwm", _i32(8 * (self.cells[-1] + 1))))
        pre.append(self.write_cell(0, ("local.get", "$n")))
        code = self.body(0, len(self.ops))
        post: list[Node] = [self.read_cell(0)]
        if self.memory and self.callee:
            post.append(("memory.fill", _i32(self.base), _i32(0), ("global.get", "$hwm")))
            post.append(("global.set", "$hwm", ("local.get", "$s")))
        locals_: list[Node] = []
        if not self.memory:
            locals_ += [("local", f"$c{c}", "i64") for c in self.cells]
        locals_ += [("local", f"$t{i}", "i64") for i in range(self.max_temps)]
        locals_ += [("local", f"$h{i}", "i32") for i in range(self.max_marks)]
        if self.memory and self.callee:
            locals_.append(("local", "$s", "i32"))
        return ("func", *title, ("param", "$n", "i64"), ("result", "i64"), *locals_, *pre, *code, *post)


def compile_program(program: Program, library: Any = None, *, number: int | None = None,
                    cell_limit: int = DEFAULT_CELL_LIMIT) -> str:
    """WebAssembly text of `program`: a module exporting `a(n: i64) -> i64`, in the canonical
    layout of `languages.wat.canonical.format_wat`.

    `library` resolves `seq` calls (`library.program(K)` or `library[K]`); `number` is the
    program's own A-number, where known, so that a call back to it is refused as recursion.
    Raises `UnsupportedProgram` with a reason from `REASONS`."""
    if cell_limit < 1 or cell_limit > (1 << 24):
        raise ValueError("cell_limit must be in [1, 2^24]")
    _check_program(program)
    callees = _callees(program, library, number)
    for _, callee in callees:
        _check_program(callee)
    module = _Module(cell_limit)
    functions = [_Function(module, program, None, callee=False)]
    functions += [_Function(module, callee, f"a{k}", callee=True) for k, callee in callees]
    memory_bytes = module.memory_bytes
    trees = [functions[0].emit(memory_bytes)] + [f.emit(0) for f in functions[1:]]
    out = ["(module"]
    if memory_bytes:
        out.append(f"{INDENT}(memory {max(1, -(-memory_bytes // 65536))})")
        out.append(f"{INDENT}(global $hwm (mut i32) (i32.const 0))")
    for tree in trees:
        _layout_func(tree, 1, out)
    for name in _HELPER_ORDER:
        if name in module.helpers:
            out += _helper_lines(module.table[name][0])
    out[-1] += ")"
    return "\n".join(out) + "\n"
