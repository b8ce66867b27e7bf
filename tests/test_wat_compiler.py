"""The LODA -> WAT compiler: every operation against the semantics vectors, loops with
rollback, regions, indirect cells, seq, refusals, overflow, and the VM as a twin."""
from __future__ import annotations

import csv
import math
import random
from collections import defaultdict

import pytest

from languages.loda import parse
from languages.loda.program import Operation, Operand, Program
from corpora.loda_to_wat.compiler import REASONS, UnsupportedProgram, compile_program
from languages.wat.errors import WatError, WatTrap
from languages.wat.runner import RunLimits, Sandbox

I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1
OPS = ("mov add sub trn mul div dif dir mod pow gcd lex bin fac log nrt dgs dgr equ neq leq geq min max "
       "ban bor bxo").split()
LIMITS = RunLimits(fuel=50_000_000, timeout=5.0, memory_bytes=64 << 20)
ERROR = "error"


def fits(v: int) -> bool:
    return I64_MIN <= v <= I64_MAX


def run_wat(wat: str, ns) -> list:
    """a(n) for each n, or ERROR where the call fails (one instance for all calls)."""
    sandbox = Sandbox(wat, LIMITS)
    out = []
    for n in ns:
        try:
            out.append(sandbox.call("a", n))
        except WatTrap:
            out.append(ERROR)
    return out


def run(src: str, ns, library=None, **kw) -> list:
    return run_wat(compile_program(parse(src), library, **kw), ns)


# ---------------------------------------------------------------- operations vs the semantics vectors


def _vector_rows(semantics_dir, op):
    """(a, b, expected) rows of <op>.csv and grid.csv where a, b and the result fit in i64
    (expected = ERROR where the result is undefined)."""
    rows = []
    with open(semantics_dir / f"{op}.csv") as handle:
        for row in csv.DictReader(handle):
            rows.append((row["Op1"], row["Op2"], row["Result"]))
    if op != "mov":
        with open(semantics_dir / "grid.csv") as handle:
            rows += [(r["a"], r["b"], r["result"]) for r in csv.DictReader(handle) if r["op"] == op]
    out = []
    for a, b, result in rows:
        a, b = int(a), int(b)
        expected = ERROR if result in ("inf", "error") else int(result)
        if fits(a) and fits(b) and (expected == ERROR or fits(expected)):
            out.append((a, b, expected))
    return out


@pytest.mark.parametrize("op", OPS)
def test_operation_matches_semantics_vectors(op, semantics_dir):
    """`op $0,B` for every source B of the vectors, run on every target A of that B."""
    by_source = defaultdict(list)
    for a, b, expected in _vector_rows(semantics_dir, op):
        by_source[b].append((a, expected))
    assert by_source
    for b, cases in sorted(by_source.items()):
        got = run(f"{op} $0,{b}", [a for a, _ in cases])
        want = [e for _, e in cases]
        assert got == want, f"{op} with source {b}: {[(a, g, w) for (a, w), g in zip(cases, got) if g != w]}"


@pytest.mark.parametrize("op", ["add", "mul", "pow", "bin", "fac", "gcd", "nrt", "log", "dif", "lex", "trn"])
def test_direct_source_operand(op, semantics_dir):
    """The same operations with the source in a cell: n encodes (a, b) in [-12, 12]^2."""
    src = f"mov $1,$0\nmod $1,25\nsub $1,12\ndiv $0,25\nsub $0,12\n{op} $0,$1\n"
    rows = [r for r in _vector_rows(semantics_dir, op) if -12 <= r[0] <= 12 and -12 <= r[1] <= 12]
    got = run(src, [(a + 12) * 25 + b + 12 for a, b, _ in rows])
    assert got == [e for _, _, e in rows]


def test_i64_edges():
    assert run(f"mov $0,{I64_MAX}\nadd $0,1", [0]) == [ERROR]
    assert run(f"mov $0,{I64_MIN}\nsub $0,1", [0]) == [ERROR]
    assert run(f"mov $0,{I64_MIN}\nmul $0,-1", [0]) == [ERROR]
    assert run(f"mov $0,{I64_MIN}\ndiv $0,-1", [0]) == [ERROR]
    assert run(f"mov $0,{I64_MIN}\nmod $0,-1", [0]) == [0]
    assert run("pow $0,63", [2, -2]) == [ERROR, I64_MIN]
    assert run("mov $1,2\npow $1,62\nmul $0,$1", [1, -2, 2]) == [1 << 62, I64_MIN, ERROR]
    assert run(f"mov $1,{I64_MIN}\ngcd $0,$1", [0, 6, 3]) == [ERROR, 2, 1]
    assert run(f"mov $1,{I64_MIN}\ntrn $1,$0\nmov $0,$1", [0, 1, -1]) == [0, 0, 0]
    assert run(f"mov $1,{I64_MAX}\ntrn $1,$0\nmov $0,$1", [0, -1, 1]) == [I64_MAX, ERROR, I64_MAX - 1]
    assert run("dgs $0,2", [I64_MIN, I64_MAX]) == [-1, 63]
    assert run("nrt $0,2", [I64_MAX]) == [3037000499]
    # C(n, k) exact where only the result fits (the running products stay in range)
    want = [math.comb(n, 30) if fits(math.comb(n, 30)) else ERROR for n in (62, 66, 67, 68)]
    assert want[1] != ERROR and want[2] == ERROR
    assert run("bin $0,30", [62, 66, 67, 68]) == want
    assert run("fac $0,20", [1, 2]) == [2432902008176640000, ERROR]


def test_overflow_is_a_trap_not_a_wrap():
    wat = compile_program(parse("mov $1,$0\nmul $1,$1\nmul $1,$1\nmov $0,$1"))
    sandbox = Sandbox(wat, LIMITS)
    assert sandbox.call("a", 55108) == 55108 ** 4
    with pytest.raises(WatTrap) as info:
        sandbox.call("a", 55109)
    assert "$op_mul" in str(info.value)
    assert sandbox.call("a", 3) == 81  # the instance stays usable after a trap


# ---------------------------------------------------------------- loops


def test_loop_rolls_back_the_last_pass():
    # passes: 5 -> 3 (kept), 3 -> 1 (kept), 1 -> -1 (negative: undone)
    src = "lpb $0\n  sub $0,2\n  add $1,1\nlpe\nmul $0,100\nadd $0,$1"
    assert run(src, [5, 0, 1, 2, 6]) == [102, 0, 100, 1, 3]


def test_loop_without_decrease_runs_once_and_is_undone():
    src = "mov $1,7\nlpb $1\n  add $2,1\n  mov $0,99\nlpe\nadd $0,$2"
    assert run(src, [0, 3]) == [0, 3]


def test_loop_counter_increasing_stops_and_restores():
    assert run("lpb $0\n  add $0,1\n  mul $1,5\nlpe", [4]) == [4]


def test_nested_loops_fibonacci_and_triangular():
    fib = "mov $3,1\nlpb $0\n  sub $0,1\n  mov $2,$1\n  add $1,$3\n  mov $3,$2\nlpe\nmov $0,$1"
    assert run(fib, range(12)) == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
    tri = "lpb $0\n  mov $2,$0\n  lpb $2\n    sub $2,1\n    add $1,1\n  lpe\n  sub $0,1\nlpe\nmov $0,$1"
    assert run(tri, range(8)) == [n * (n + 1) // 2 for n in range(8)]


def test_region_counter_loop():
    # counter ($1,$2) starts at (2,1): (2,0) (1,3) (1,2) (1,1) (1,0) (0,3) (0,2) (0,1) (0,0) then (-1,3) stops
    src = """mov $1,2
mov $2,1
lpb $1,2
  add $3,1
  sub $2,1
  mov $4,$2
  equ $4,-1
  sub $1,$4
  mul $4,4
  add $2,$4
lpe
mov $0,$3"""
    assert run(src, [0]) == [9]


def test_region_counter_compares_until_the_first_difference():
    # (1,5) -> (1,-1): the first cells are equal, the second compared one is negative: stop
    src = "mov $1,1\nmov $2,5\nlpb $1,2\n  sub $2,6\n  add $3,1\nlpe\nmov $0,$3"
    assert run(src, [0]) == [0]
    # (1,5) -> (1,3) -> (1,1) -> (1,-1): two passes kept
    assert run(src.replace("sub $2,6", "sub $2,2"), [0]) == [2]
    # (1,5) -> (0,-1): smaller at the first cell, the negative second cell is never compared
    src = "mov $1,1\nmov $2,5\nlpb $1,2\n  sub $1,1\n  mov $2,-1\n  add $3,1\nlpe\nmov $0,$3"
    assert run(src, [0]) == [1]


# ---------------------------------------------------------------- cells: regions and indirect addressing


def test_region_operations_on_locals():
    src = ("mov $1,1\nmov $2,2\nmov $3,3\nmov $4,4\n{op}\nmul $1,10\nadd $1,$2\nmul $1,10\nadd $1,$3\nmul $1,10\n"
           "add $1,$4\nmov $0,$1")
    assert run(src.format(op="rol $1,4"), [0]) == [2341]
    assert run(src.format(op="ror $1,4"), [0]) == [4123]
    assert run(src.format(op="rol $4,-3"), [0]) == [1342]
    assert run(src.format(op="fil $2,2"), [0]) == [1224]
    assert run(src.format(op="fil $3,-2"), [0]) == [1334]
    assert run(src.format(op="clr $2,2"), [0]) == [1004]
    assert run(src.format(op="clr $2,-2"), [0]) == [34]
    assert "memory" not in compile_program(parse(src.format(op="rol $1,4")))


def test_region_operations_in_memory():
    src = ("mov $1,1\nmov $2,2\nmov $3,3\nmov $4,4\n{op}\nmul $1,10\nadd $1,$2\nmul $1,10\nadd $1,$3\nmul $1,10\n"
           "add $1,$4\nmov $0,$1")
    for op, want in [("rol $1,$5", 2341), ("ror $1,$5", 4123), ("fil $2,$6", 1224), ("clr $2,$6", 1004)]:
        prog = "mov $5,4\nmov $6,2\n" + src.format(op=op)
        wat = compile_program(parse(prog))
        assert "(memory" in wat and f"$op_{op[:3]}" in wat
        assert run_wat(wat, [0]) == [want]
    assert run("mov $1,3\nmov $2,-2\nror $1,$2\nmov $0,$1", [7]) == [7]  # region $0..$1 rotated
    assert run("mov $1,-1\nclr $0,$1", [5]) == [0]
    assert run("mov $1,-3\nclr $1,$1", [5]) == [ERROR]  # negative index
    assert run("mov $1,30\nfil $0,$1\nmov $0,$29", [7]) == [7]  # a long constant region goes to memory
    assert run("fil $0,30\nmov $0,$29", [7]) == [7]


def test_indirect_cells():
    src = "mov $1,5\nmov $$1,$0\nadd $$1,3\nmov $2,$$1\nmov $0,$5\nmul $0,$2"
    assert run(src, [2, 4]) == [25, 49]
    # a sieve-like program: writes through $$k inside a loop (frame snapshots)
    src = """mov $1,$0
lpb $1
  mov $2,$1
  add $2,10
  mov $$2,$1
  sub $1,1
lpe
mov $3,10
add $3,$0
mov $0,$$3"""
    assert run(src, [0, 1, 5, 9]) == [0, 1, 5, 9]


def test_indirect_writes_in_loops_keep_earlier_passes():
    src = """mov $1,$0
lpb $1
  mov $2,$1
  add $2,10
  mov $$2,$1
  sub $1,1
lpe
mov $0,$11
mul $0,100
add $0,$12"""
    # passes write $(10+k) := k for k = n .. 1; the pass that starts at $1 = 0 is undone
    assert run(src, [0, 1, 2]) == [0, 100, 102]


def test_negative_and_limit_indices_trap():
    assert run("mov $1,-1\nmov $0,$$1", [0]) == [ERROR]
    assert run("mov $1,5000\nmov $0,$$1", [0]) == [ERROR]  # beyond the default cell limit (4096)
    assert run("mov $1,5000\nmov $0,$$1", [0], cell_limit=8192) == [0]
    assert run("mov $1,4095\nmov $$1,7\nmov $0,$$1", [0]) == [7]


# ---------------------------------------------------------------- seq


class FakeLibrary:
    def __init__(self, programs: dict[int, str]):
        self.programs = {k: parse(v) for k, v in programs.items()}

    def program(self, number: int) -> Program:
        from languages.loda.errors import UnknownSequenceError

        if number not in self.programs:
            raise UnknownSequenceError(f"no program for A{number:06d}")
        return self.programs[number]


LIB = FakeLibrary({
    45: "mov $3,1\nlpb $0\n  sub $0,1\n  mov $2,$1\n  add $1,$3\n  mov $3,$2\nlpe\nmov $0,$1",
    290: "pow $0,2",
    7: "#offset 1\nseq $0,290\nadd $0,1",
    8: "mov $1,$0\nadd $1,3\nmov $$1,$0\nlpb $0\n  mov $2,$0\n  seq $2,45\n  add $$1,$2\n  sub $0,1\nlpe\nmov $0,$$1",
    1: "seq $0,2",
    2: "seq $0,1",
    3: "seq $0,404",
})


def test_seq_includes_callees_transitively():
    wat = compile_program(parse("seq $0,7\nmul $0,2"), LIB)
    assert "(func $a7 " in wat and "(func $a290 " in wat
    assert run_wat(wat, [1, 3]) == [4, 20]
    assert run_wat(wat, [0]) == [ERROR]  # below A000007's offset


def test_seq_in_loops_and_memory_callees():
    src = "mov $1,$0\nlpb $1\n  mov $2,$1\n  seq $2,8\n  add $3,$2\n  sub $1,1\nlpe\nmov $0,$3"
    def a8(n):
        return n + sum(fib(k) for k in range(1, n + 1))

    assert run(src, range(6), LIB) == [sum(a8(k) for k in range(1, n + 1)) for n in range(6)]


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def test_seq_with_a_mapping_library():
    assert run("seq $0,290", [7], {290: parse("pow $0,2")}) == [49]


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("src, library, kw, reason", [
    ("seq $0,404", None, {}, "unknown_sequence"),
    ("seq $0,404", LIB, {}, "unknown_sequence"),
    ("seq $0,3", LIB, {}, "unknown_sequence"),
    ("seq $0,1", LIB, {}, "recursion"),
    ("seq $0,45", LIB, {"number": 45}, "recursion"),
    ("seq $0,7", LIB, {"number": 290}, "recursion"),
    ("mov $1,99999999999999999999", None, {}, "big_constant"),
    ("lpb $$1\n  sub $1,1\nlpe", None, {}, "indirect_loop_counter"),
    ("lpb $0,$1\n  sub $0,1\nlpe", None, {}, "dynamic_loop_region"),
    ("lpb $0,100\n  sub $0,1\nlpe", None, {}, "loop_region_too_long"),
    ("mov $$1,1\nmov $5000,1", None, {}, "cell_limit"),
])
def test_refusals_name_a_reason(src, library, kw, reason):
    with pytest.raises(UnsupportedProgram) as info:
        compile_program(parse(src), library, **kw)
    assert info.value.reason == reason
    assert reason in REASONS


def test_unbalanced_program_is_refused():
    program = Program((Operation("lpb", Operand.direct(0), Operand.constant(1)),))
    with pytest.raises(UnsupportedProgram) as info:
        compile_program(program)
    assert info.value.reason == "unbalanced_loop"


# ---------------------------------------------------------------- style


def test_style_names_and_only_used_helpers():
    wat = compile_program(parse("mov $1,$0\nlpb $1\n  sub $1,1\n  add $2,$1\nlpe\nmov $0,$2"))
    assert wat.startswith("(module\n") and wat.endswith(")\n")
    assert '(func (export "a") (param $n i64) (result i64)' in wat
    for name in ("$c0", "$c1", "$c2", "$t0", "$op_add", "$op_sub"):
        assert name in wat
    assert "$op_mul" not in wat and "memory" not in wat and "$hwm" not in wat
    from languages.wat.canonical import format_wat

    assert format_wat(wat) == wat


def test_same_program_same_text():
    src = "mov $1,$0\npow $1,3\nseq $1,290\nmov $0,$1"
    assert compile_program(parse(src), LIB) == compile_program(parse(src), LIB)


# ---------------------------------------------------------------- the VM as a twin


SAFE_OPS = ["mov", "add", "sub", "trn", "mul", "gcd", "equ", "neq", "leq", "geq", "min", "max", "ban", "bor", "bxo"]
# operations undefined somewhere (or fast-growing): mostly given a small positive constant source
PARTIAL_OPS = ["div", "dif", "dir", "mod", "pow", "lex", "bin", "fac", "log", "nrt", "dgs", "dgr"]


def _random_program(rng: random.Random, memory: bool) -> str:
    """A random program over cells $0..$4 (memory: $5, $6 hold small non-negative
    indices used as $$5, $$6 and by region operations)."""
    cells = 5
    lines: list[str] = []
    if memory:
        lines += [f"mov $5,{rng.randint(0, 7)}", f"mov $6,{rng.randint(0, 7)}"]

    def target() -> str:
        if memory and rng.random() < 0.2:
            return f"$${rng.choice([5, 6])}"
        return f"${rng.randrange(cells)}"

    def source() -> str:
        r = rng.random()
        if r < 0.4:
            return str(rng.randint(-3, 6))
        if memory and r > 0.8:
            return f"$${rng.choice([5, 6])}"
        return f"${rng.randrange(cells)}"

    depth = 0

    def block(size: int) -> None:
        nonlocal depth
        for _ in range(size):
            r = rng.random()
            if r < 0.15 and depth < 2:
                counter = rng.randrange(cells)
                length = 1 if rng.random() < 0.8 else 2
                lines.append(f"lpb ${counter}" + (f",{length}" if length > 1 else ""))
                depth += 1
                block(rng.randint(1, 4))
                lines.append(f"{rng.choice(['sub', 'trn'])} ${counter},{rng.randint(1, 2)}")
                lines.append("lpe")
                depth -= 1
            elif r < 0.22:
                cell = target()
                lines.extend([f"max {cell},1", f"min {cell},12", f"seq {cell},{rng.choice([45, 290, 7, 8])}"])
            elif memory and r < 0.32:
                lines.append(f"{rng.choice(['clr', 'fil', 'rol', 'ror'])} {target()},"
                             f"{rng.choice([str(rng.randint(-3, 5)), '$5', '$6'])}")
            elif r < 0.42:
                op = rng.choice(PARTIAL_OPS)
                src = source() if rng.random() < 0.25 else str(rng.randint(2, 4))
                lines.append(f"{op} {target()},{src}")
            else:
                lines.append(f"{rng.choice(SAFE_OPS)} {target()},{source()}")

    block(rng.randint(3, 12))
    lines += [f"bxo $0,${k}" for k in range(1, cells)]  # let every cell count
    return "\n".join(lines)


@pytest.mark.parametrize("memory", [False, True])
def test_random_programs_agree_with_the_vm(memory):
    from languages.loda import vm
    from languages.loda.errors import LodaError

    rng = random.Random(1234 + memory)
    limits = vm.Limits(max_steps=200_000, max_bits=63, timeout=5.0)
    compared = 0
    for _ in range(150):
        src = _random_program(rng, memory)
        program = parse(src)
        try:
            wat = compile_program(program, LIB)
        except UnsupportedProgram:
            continue
        sandbox = Sandbox(wat, LIMITS)
        for n in range(4):
            try:
                want = vm.Evaluator(library=LIB, limits=limits).term(program, n)
            except LodaError as error:
                want = error.kind
            message = ""
            try:
                got = sandbox.call("a", n)
            except WatError as error:
                got, message = ERROR, f"{error.kind} {error}"
            if want in ("step_limit", "timeout") or message.startswith(("fuel", "timeout")):
                continue  # the VM's step limit and the fuel are not comparable
            if got == ERROR and isinstance(want, int) and ("$cell" in message or "$span" in message):
                continue  # the compiled code's cell limit
            if isinstance(want, str):
                want = ERROR
            assert got == want, f"n={n}\n{src}"
            compared += 1
    assert compared > 300
