"""The compiled VM: exact loop / region / call semantics, limits, errors, and property tests
(random programs end with terms or a LodaError; the VM agrees with the plain interpreter)."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from languages.loda import format_program, parse
from languages.loda.errors import (
    CallArgumentError, CallRecursionError, EvaluationTimeoutError, ForbiddenCallError, LodaError, LoopDepthError,
    MemoryLimitError, NegativeIndexError, NumberOverflowError, StepLimitError, UndefinedResultError,
    UnknownSequenceError,
)
from languages.loda.interpreter import Interpreter
from languages.loda.program import Operand, Operation, Program
from languages.loda.vm import Evaluator, Limits, compile_program, evaluate
from conftest import programs

FIB = """
; A000045: Fibonacci numbers
mov $1,1
lpb $0
  sub $0,1
  mov $2,$1
  add $1,$3
  mov $3,$2
lpe
mov $0,$3
"""


class Library:
    """A minimal library: number -> program text."""

    def __init__(self, programs: dict[int, str]):
        self.programs = {k: parse(v) for k, v in programs.items()}

    def program(self, number: int) -> Program:
        if number not in self.programs:
            raise UnknownSequenceError(f"no program for A{number:06d}")
        return self.programs[number]


def as_dict_mode(text: str) -> Program:
    """The same program forced onto dict memory (an indirect read of $0 into an unused cell)."""
    plain = parse(text)
    extra = Operation("mov", Operand.direct(90), Operand.indirect(91))
    program = Program((extra,) + plain.operations, offset=plain.offset)
    assert compile_program(program).mode == "dict"
    return program


def both_modes(text: str):
    """The program as written (locals mode unless it needs dict memory) and forced onto dict memory."""
    return [parse(text), as_dict_mode(text)]


def run_all(text: str, count: int, **kwargs) -> list[int]:
    """Terms from the VM in both memory modes and from the interpreter; they must agree."""
    results = [evaluate(p, count, **kwargs) for p in both_modes(text)]
    results.append(Interpreter(library=kwargs.get("library"), limits=kwargs.get("limits")).terms(parse(text), count))
    assert results[0] == results[1] == results[2]
    return results[0]


# ---------------------------------------------------------------------------- basics


def test_fibonacci_and_api():
    program = parse(FIB)
    assert compile_program(program).mode == "locals"
    assert run_all(FIB, 12) == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
    ev = Evaluator()
    assert ev.term(program, 30) == 832040
    assert ev.terms(program, 3) == [0, 1, 1]
    offset = parse("#offset 3\nmul $0,2")
    assert evaluate(offset, 3) == [6, 8, 10]


def test_programs_are_compiled_once():
    program = parse(FIB)
    ev = Evaluator()
    first = ev.compile(program)
    assert ev.terms(program, 5) == [0, 1, 1, 2, 3]
    assert ev.compile(program) is first
    library = Library({1: FIB})
    ev = Evaluator(library=library)
    assert ev.terms(parse("seq $0,1\nseq $0,1"), 5) == [0, 1, 1, 1, 2]
    assert list(ev._library) == [1]


def test_loop_last_pass_is_undone():
    # the pass that takes the counter below zero does not count
    assert run_all("lpb $0\n  sub $0,1\n  add $1,1\nlpe\nmov $0,$1", 6) == [0, 1, 2, 3, 4, 5]
    assert run_all("lpb $0\n  sub $0,2\n  add $1,1\nlpe\nmov $0,$1", 7) == [0, 0, 1, 1, 2, 2, 3]
    # a counter that does not decrease: one pass, undone
    assert run_all("mov $1,7\nlpb $0\n  add $1,1\nlpe\nmov $0,$1", 3) == [7, 7, 7]
    # counter reaching exactly zero keeps the pass
    assert run_all("lpb $0\n  mov $0,0\n  mov $1,5\nlpe\nmov $0,$1", 3) == [0, 5, 5]


def test_nested_loops_and_restore_of_untouched_cells():
    text = """
mov $3,$0
lpb $3
  sub $3,1
  mov $4,$3
  lpb $4
    sub $4,1
    add $2,1
  lpe
lpe
mov $0,$2
"""
    # sum_{k<n} k
    assert run_all(text, 6) == [0, 0, 1, 3, 6, 10]


def test_region_loop_compares_lexicographically():
    body = """
mov $1,2
mov $2,2
lpb $1,2
  add $3,1
  sub $2,1
  mov $4,$2
  add $4,1
  equ $4,0
  mul $4,3
  add $2,$4
  div $4,3
  sub $1,$4
lpe
mov $0,$3
"""
    # (2,2) (2,1) (2,0) (1,2) (1,1) (1,0) (0,2) (0,1) (0,0) then (-1,2): 8 passes count + the one reaching (0,0)
    assert run_all(body, 1) == [8]
    # with a one-cell counter the loop stops after the first pass (undone)
    assert run_all(body.replace("lpb $1,2", "lpb $1"), 1) == [0]
    # the length may come from a cell
    assert run_all(body.replace("lpb $1,2", "mov $5,2\nlpb $1,$5"), 1) == [8]


def test_region_loop_length_from_a_cell():
    # At lpe the length is min(its value at the start of the pass, its value now): the rule that
    # reproduces the corpus programs with a cell as length (a length fixed at lpb, or the value at lpe
    # alone, each fail some). A184750: the length is 0 at lpb, 1 at the first lpe: the loop stops.
    a184750 = """
#offset 1
sub $0,1
mov $1,$0
mov $3,$1
trn $0,3
lpb $1,$0
  sub $1,1
  sub $0,1
  add $0,$3
  add $3,1
lpe
"""
    assert run_all(a184750, 10) == [0, 0, 0, 0, 19, 32, 48, 67, 89, 114]
    # A181578: the length drops from 1 to 0 within a pass: the loop stops
    text = """
add $0,1
mov $2,$0
lpb $0
  lpb $2,$2
    lpb $0
      sub $2,$0
      div $0,5
    lpe
    equ $2,1
  lpe
  sub $0,1
lpe
"""
    assert run_all(text, 12) == [0, 1, 2, 3, 4, 0, 5, 6, 7, 8, 9, 0]


def test_region_loop_requires_non_negative_cells():
    text = """
mov $1,1
mov $2,3
lpb $1,2
  add $3,1
  sub $2,4
lpe
mov $0,$3
"""
    # (1,3) -> (1,-1): second cell negative, the pass is undone
    assert run_all(text, 1) == [0]


def test_loop_with_non_positive_length_runs_once_undone():
    assert run_all("lpb $0,0\n  add $1,1\n  sub $0,1\nlpe\nadd $0,$1", 2) == [0, 1]


@pytest.mark.parametrize("text, expected", [
    ("mov $1,1\nmov $2,2\nmov $3,3\nrol $1,3", [2, 3, 1]),
    ("mov $1,1\nmov $2,2\nmov $3,3\nror $1,3", [3, 1, 2]),
    ("mov $1,1\nmov $2,2\nmov $3,3\nrol $3,-3", [2, 3, 1]),
    ("mov $1,1\nmov $2,2\nmov $3,3\nror $3,-2", [1, 3, 2]),
    ("mov $1,1\nmov $2,2\nmov $3,3\nclr $2,2", [1, 0, 0]),
    ("mov $1,1\nmov $2,2\nmov $3,3\nclr $2,-2", [0, 0, 3]),
    ("mov $1,1\nmov $2,2\nmov $3,3\nfil $1,3", [1, 1, 1]),
    ("mov $1,1\nmov $2,2\nmov $3,3\nfil $3,-2", [1, 3, 3]),
    ("mov $1,1\nmov $2,2\nmov $3,3\nfil $2,0\nrol $1,1\nclr $1,0", [1, 2, 3]),
])
def test_region_operations(text, expected):
    program = text + "\nmul $1,100\nmul $2,10\nadd $1,$2\nadd $1,$3\nmov $0,$1"
    value = expected[0] * 100 + expected[1] * 10 + expected[2]
    assert run_all(program, 1) == [value]


def test_region_operations_with_cell_lengths_and_indirect_targets():
    text = ("mov $1,1\nmov $2,2\nmov $3,3\nmov $5,3\nmov $6,1\nrol $$6,$5\nmul $1,100\nmul $2,10\nadd $1,$2\n"
            "add $1,$3\nmov $0,$1")
    assert run_all(text, 1) == [231]


def test_region_below_cell_zero_is_an_error():
    for text in ["clr $1,-3", "mov $2,-3\nfil $1,$2"]:
        for program in [parse(text), as_dict_mode(text)]:
            with pytest.raises(NegativeIndexError, match="line"):
                evaluate(program, 1)


def test_indirect_operands():
    text = "mov $1,5\nmov $$1,7\nmov $2,$$1\nadd $$1,$2\nmov $0,$5"
    assert evaluate(parse(text), 1) == [14]
    assert Interpreter().terms(parse(text), 1) == [14]
    with pytest.raises(NegativeIndexError, match=r"line 2 \(mov \$0,\$\$1\)"):
        evaluate(parse("mov $1,-1\nmov $0,$$1"), 1)
    with pytest.raises(NegativeIndexError):
        evaluate(parse("mov $1,-1\nmov $$1,3"), 1)
    assert evaluate(parse("mov $1,10000000000\nmov $$1,3\nadd $0,$$1"), 1) == [3]


# ---------------------------------------------------------------------------- errors and limits


def test_error_names_operation_and_line():
    with pytest.raises(UndefinedResultError) as info:
        evaluate(parse("mov $1,0\n\ndiv $0,$1\n"), 1)
    assert info.value.line == 3 and info.value.operation == "div $0,$1"
    assert "line 3 (div $0,$1)" in str(info.value)
    for text, line in [("mov $1,5\nlog $0,$1", 2), ("sub $0,1\nnrt $0,2", 2), ("lpb $0\n  sub $0,1\n  mod $1,0\nlpe", 3)]:
        with pytest.raises(UndefinedResultError) as info:
            evaluate(parse(text), 1)
        assert info.value.line == line


def test_overflow_boundary():
    assert evaluate(parse("mov $0,2\npow $0,3839"), 1) == [1 << 3839]
    assert evaluate(parse("mov $0,-2\npow $0,3839"), 1) == [-(1 << 3839)]
    for text in ["mov $0,2\npow $0,3839\nmul $0,2", "mov $0,-2\npow $0,3839\nmul $0,2",
                 "mov $0,2\npow $0,3839\nadd $0,$0", "mov $0,2\npow $0,3839\nmov $1,$0\nmul $1,-1\nsub $1,$0",
                 "mov $0,3\npow $0,100000000000000000000", f"mov $0,{1 << 3840}"]:
        for program in [parse(text), as_dict_mode(text)]:
            with pytest.raises(NumberOverflowError):
                evaluate(program, 1)
        with pytest.raises(NumberOverflowError):
            Interpreter().terms(parse(text), 1)


def test_steps_are_counted_like_the_reference():
    program = parse("lpb $0\n  sub $0,1\nlpe")
    ev = Evaluator()
    ev.term(program, 5)
    interpreter = Interpreter()
    interpreter.term(program, 5)
    # lpb once, then 6 passes of (sub, lpe): the last one undone
    assert ev.steps == interpreter.steps == 1 + 6 * 2
    assert Evaluator(limits=Limits(max_steps=13)).term(program, 5) == 0
    with pytest.raises(StepLimitError):
        Evaluator(limits=Limits(max_steps=12)).term(program, 5)
    with pytest.raises(StepLimitError):
        Interpreter(limits=Limits(max_steps=12)).term(program, 5)


def test_call_steps_count_even_when_cached():
    library = Library({1: "lpb $0\n  sub $0,1\nlpe\nmov $0,7"})
    program = parse("seq $0,1")
    ev = Evaluator(library=library)
    assert ev.term(program, 5) == 7
    first = ev.steps
    assert ev.term(program, 5) == 7
    assert ev.steps == first == 1 + 1 + 6 * 2 + 1
    assert (1, 5) in ev.cache


def test_step_limit_and_timeout():
    spin = parse("mov $0,1000000000000\nlpb $0\n  sub $0,1\nlpe")
    with pytest.raises(StepLimitError, match="steps"):
        Evaluator(limits=Limits(max_steps=100_000)).term(spin, 0)
    started = time.monotonic()
    with pytest.raises(EvaluationTimeoutError):
        Evaluator(limits=Limits(max_steps=10**15, timeout=0.3)).term(spin, 0)
    assert time.monotonic() - started < 3
    heavy = parse("mov $1,1000000000000\nlpb $1\n  sub $1,1\n  mov $2,3\n  pow $2,2000\n  dgs $2,3\nlpe")
    started = time.monotonic()
    with pytest.raises(EvaluationTimeoutError):
        Evaluator(limits=Limits(max_steps=10**15, timeout=0.3)).term(heavy, 0)
    assert time.monotonic() - started < 3


def test_memory_limit():
    with pytest.raises(MemoryLimitError):
        evaluate(parse("fil $0,200000"), 1)
    with pytest.raises(MemoryLimitError):
        evaluate(parse("lpb $0,200000\nlpe"), 1)
    grow = parse("mov $1,10\nmov $2,1000\nlpb $2\n  sub $2,1\n  mov $$1,1\n  add $1,1\nlpe")
    with pytest.raises(MemoryLimitError):
        Evaluator(limits=Limits(max_memory=100)).term(grow, 0)
    with pytest.raises(MemoryLimitError):
        Interpreter(limits=Limits(max_memory=100)).term(grow, 0)
    assert Evaluator(limits=Limits(max_memory=2000)).term(grow, 0) == 0


def test_loop_depth_limit():
    depth = 101
    ops = [Operation("lpb", Operand.direct(0), Operand.constant(1), line=i + 1) for i in range(depth)]
    ops += [Operation("lpe", line=depth + i + 1) for i in range(depth)]
    with pytest.raises(LoopDepthError):
        evaluate(Program(tuple(ops)), 1)
    with pytest.raises(LodaError, match="nested"):
        parse("lpb $0\n" * 101 + "lpe\n" * 101)


def test_deep_nesting_runs_on_the_interpreter_with_same_results():
    depth = 25  # beyond what CPython can compile as nested blocks
    inner = "".join(f"lpb ${i + 3}\n" for i in range(depth)) + "add $2,1\n" + "lpe\n" * depth
    text = f"mov $1,$0\nlpb $1\nsub $1,1\nadd $2,3\n{inner}lpe\nmov $0,$2"
    program = parse(text)
    assert compile_program(program).mode == "interpreter"
    assert evaluate(program, 4) == Interpreter().terms(program, 4) == [0, 3, 6, 9]


def test_calls_offsets_recursion_unknown():
    library = Library({
        10: "#offset 1\nmul $0,3",
        11: "seq $0,12",
        12: "seq $0,11",
        13: "seq $0,10\nadd $0,1",
    })
    assert evaluate(parse("add $0,1\nseq $0,10"), 3, library=library) == [3, 6, 9]
    assert evaluate(parse("add $0,1\nseq $0,13"), 2, library=library) == [4, 7]
    with pytest.raises(CallArgumentError, match=r"line 1 \(seq \$0,10\)"):
        evaluate(parse("seq $0,10"), 1, library=library)
    with pytest.raises(CallRecursionError):
        evaluate(parse("seq $0,11"), 1, library=library)
    with pytest.raises(UnknownSequenceError):
        evaluate(parse("seq $0,99"), 1, library=library)
    with pytest.raises(UnknownSequenceError):
        evaluate(parse("seq $0,10"), 1)
    # an error inside a callee names the callee
    with pytest.raises(CallArgumentError, match="A000013"):
        evaluate(parse("seq $0,13"), 1, library=library)


def test_forbidden_calls_direct_and_indirect():
    library = Library({20: "mul $0,2", 21: "seq $0,20\nadd $0,1", 22: "mov $1,$0\nlpb $1\n  seq $0,21\n  sub $1,1\nlpe"})
    assert evaluate(parse("seq $0,22"), 2, library=library) == [0, 3]
    with pytest.raises(ForbiddenCallError, match=r"line 2 \(seq \$0,20\)"):
        evaluate(parse("mov $1,1\nseq $0,20"), 1, library=library, forbidden={20})
    with pytest.raises(ForbiddenCallError, match="A000020"):
        evaluate(parse("seq $0,22"), 1, library=library, forbidden={20})
    with pytest.raises(ForbiddenCallError):
        Interpreter(library=library, forbidden={20}).terms(parse("seq $0,21"), 1)
    # also where the call would not run for these terms
    with pytest.raises(ForbiddenCallError):
        evaluate(parse("lpb $0\n  seq $0,21\nlpe"), 1, library=library, forbidden={20})
    assert evaluate(parse("seq $0,21"), 1, library=library, forbidden={22}) == [1]


def test_deep_call_chain_is_a_loda_error():
    library = Library({k: f"seq $0,{k + 1}" for k in range(1, 3000)} | {3000: "add $0,1"})
    with pytest.raises(CallRecursionError, match="deep"):
        evaluate(parse("seq $0,1"), 1, library=library)


# ---------------------------------------------------------------------------- properties

LIBRARY = Library({
    1: FIB,
    2: "#offset 1\nmov $1,$0\nlpb $1\n  sub $1,1\n  add $0,$1\nlpe",
    3: "seq $0,1\nadd $0,1",
    4: "seq $0,5",
    5: "seq $0,4",
})
PROPERTY_LIMITS = Limits(max_steps=5_000, timeout=2.0)


def _outcome(evaluator, program, count=5):
    try:
        return ("ok", evaluator.terms(program, count), evaluator.steps)
    except LodaError as error:
        assert error.kind != "internal", str(error)
        return ("error", error.kind)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_random_programs_end_with_terms_or_a_loda_error(program):
    started = time.monotonic()
    outcome = _outcome(Evaluator(library=LIBRARY, limits=PROPERTY_LIMITS), program)
    assert time.monotonic() - started < 2 * PROPERTY_LIMITS.timeout + 1
    if outcome[0] == "ok":
        assert all(isinstance(v, int) for v in outcome[1])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_vm_agrees_with_interpreter(program):
    vm = _outcome(Evaluator(library=LIBRARY, limits=PROPERTY_LIMITS), program)
    plain = _outcome(Interpreter(library=LIBRARY, limits=PROPERTY_LIMITS), program)
    if vm[0] == "ok" or plain[0] == "ok":
        assert vm == plain, format_program(program)  # same terms and the same step count
    elif "step_limit" not in (vm[1], plain[1]):
        assert vm[1] == plain[1], format_program(program)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs, st.integers(-3, 30))
def test_evaluation_is_deterministic_and_cache_independent(program, n):
    shared = Evaluator(library=LIBRARY, limits=PROPERTY_LIMITS)
    first = _outcome(shared, program)
    again = _outcome(shared, program)  # warm caches
    fresh = _outcome(Evaluator(library=LIBRARY, limits=PROPERTY_LIMITS), program)
    assert first == again == fresh
