"""The formula and mutation families of languages.loda.search, without the corpus: random linear
recurrences, polynomials and hypergeometric terms are found and their programs reproduce the
sequence well past the given terms; fits the terms cannot check are weak; mutations reach a
program one change away and never call an excluded sequence."""
from __future__ import annotations

import time
from dataclasses import replace
from fractions import Fraction
from math import comb, factorial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from languages.loda.canonical import format_program
from languages.loda.errors import LodaError, UnknownSequenceError
from languages.loda.parser import parse
from languages.loda.program import Operand, OperandKind, Program
from languages.loda.search import search
from languages.loda.search.formulas import formula_proposals, recurrence_fit, solve
from languages.loda.search.mutation import mutation_proposals
from languages.loda.vm import Evaluator, Limits

LIMITS = Limits(max_steps=200_000, timeout=2.0)
CHECK = 20  # terms every found program must reproduce (more than it was given)


def run(code: str, count: int, offset: int) -> list[int] | None:
    try:
        return list(Evaluator(limits=LIMITS).iter_terms(parse(code), count, start=offset))
    except LodaError:
        return None


def proposals(terms: list[int], offset: int) -> list:
    return list(formula_proposals(terms, offset, time.monotonic() + 5))


def found(terms: list[int], offset: int, expected: list[int], kind: str | None = None) -> list:
    """The checkable proposals for `terms` whose program reproduces `expected` (from a(offset))."""
    return [p for p in proposals(terms, offset)
            if not p.weak and (kind is None or p.kind == kind) and run(p.code, len(expected), offset) == expected]


def linear(initial: list[int], coefficients: list[int], count: int, constant: int = 0) -> list[int]:
    values = list(initial)
    while len(values) < count:
        values.append(sum(c * values[-j] for j, c in enumerate(coefficients, start=1)) + constant)
    return values[:count]


offsets = st.sampled_from([0, 1])


@settings(max_examples=40, deadline=None)
@given(order=st.integers(1, 4), data=st.data(), offset=offsets, constant=st.sampled_from([0, 0, 1, -3]))
def test_random_linear_recurrences_are_found(order, data, offset, constant):
    coefficients = data.draw(st.lists(st.integers(-3, 3), min_size=order, max_size=order))
    initial = data.draw(st.lists(st.integers(-5, 5), min_size=order, max_size=order))
    # given with enough terms to check an order-(order+1) fit (the constant adds a root 1)
    given_count = 2 * (order + 1) + 2
    expected = linear(initial, coefficients, CHECK, constant)
    hits = found(expected[:given_count], offset, expected)
    assert hits, (expected[:given_count], [p.family for p in proposals(expected[:given_count], offset)])


@settings(max_examples=40, deadline=None)
@given(degree=st.integers(0, 5), data=st.data(), offset=offsets)
def test_random_polynomials_are_found(degree, data, offset):
    # rational coefficients that still give integers: integer combinations of binomials C(n, k)
    weights = data.draw(st.lists(st.integers(-20, 20), min_size=degree + 1, max_size=degree + 1))
    weights[-1] = weights[-1] or 1
    expected = [sum(w * comb(n, k) for k, w in enumerate(weights)) for n in range(offset, offset + CHECK)]
    hits = found(expected[:degree + 3], offset, expected, kind="polynomial")
    assert hits, expected[:degree + 3]
    assert f"degree {degree}" in hits[0].family


@pytest.mark.parametrize("offset", [0, 1])
def test_classic_formulas(offset):
    cases = {
        "fibonacci": [0, 1] + linear([0, 1], [1, 1], 30)[2:],
        "squares": [n * n for n in range(30)],
        "triangular": [n * (n + 1) // 2 for n in range(30)],
        "factorials": [factorial(n) for n in range(30)],
        "catalan": [comb(2 * n, n) // (n + 1) for n in range(30)],
        "central binomials": [comb(2 * n, n) for n in range(30)],
        "pell": linear([0, 1], [2, 1], 30),
        "3^n - 2^n": [3 ** n - 2 ** n for n in range(30)],
    }
    for name, values in cases.items():
        expected = values[offset:offset + CHECK]
        assert found(expected[:8], offset, expected), name


def test_recurrence_family_names_its_coefficients():
    families = [p.family for p in proposals(linear([0, 1], [1, 1], 10), 0)]
    assert families[0] == "recurrence order 2: a(n) = a(n-1) + a(n-2)"


def test_rational_recurrence_divides_exactly():
    # 1024 * (1 + 2^-n): a(n) = (3a(n-1) - a(n-2))/2, integral on these terms (an integer sequence
    # has an integral minimal recurrence, so a denominator only shows on a finite stretch)
    values = [1024 + 2 ** (10 - n) for n in range(11)]
    fit = recurrence_fit(values, 2, False)
    assert fit is not None and fit[0] == [Fraction(3, 2), Fraction(-1, 2)] and not fit[1]
    assert found(values, 0, values)


def test_fits_on_too_few_terms_are_weak():
    # any 4 terms fit an order-2 recurrence, and any 3 a quadratic: nothing left to check them
    for terms in ([3, 1, 4, 1], [2, 7, 1, 8], [5, -2, 9]):
        props = proposals(terms, 0)
        assert props and all(p.weak for p in props), [(p.family, p.weak) for p in props]
        for p in props:
            assert run(p.code, len(terms), 0) == terms
    # the same order-2 fit is checkable with 5 terms
    fib = linear([0, 1], [1, 1], 5)
    assert any(not p.weak and p.kind == "recurrence" for p in proposals(fib, 0))
    assert all(p.weak for p in proposals(fib[:4], 0) if "order 2" in p.family)


def test_simplest_first():
    squares = [n * n for n in range(1, 11)]
    props = proposals(squares, 1)
    assert props[0].family.startswith("polynomial degree 2")
    # the least-order recurrence only: a higher order fitting as well says nothing more
    assert sum(1 for p in props if p.family.startswith("recurrence order")) <= 1


def test_nothing_for_noise_and_fast():
    noise = [922889, 424049, 460684, -182928, 950849, -966987, -915944, -405446, 578039, -948457,
             112233, -445566, 778899, 123, -456, 789, 1011, -1213, 1415, -1617]
    for count in (8, 14, 20):
        started = time.perf_counter()
        props = proposals(noise[:count], 0)
        assert time.perf_counter() - started < 0.1
        # 8 terms fit an order-4 recurrence, which they cannot check: weak at best
        assert all(p.weak for p in props)


def test_deadline_in_the_past_stops_at_once():
    assert list(formula_proposals([1, 2, 3, 4, 5, 6], 0, time.monotonic() - 1)) == []


def test_solve_exact_and_inconsistent():
    assert solve([[1, 1], [1, -1]], [3, 1]) == [2, 1]
    assert solve([[1, 1], [2, 2]], [1, 3]) is None
    assert solve([[2, 0], [0, 3], [6, 6]], [1, 1, 5]) == [Fraction(1, 2), Fraction(1, 3)]
    assert solve([[2, 0], [0, 3], [6, 6]], [1, 1, 4]) is None


def test_programs_are_canonical_loda():
    for p in proposals([1, 1, 2, 6, 24, 120, 720, 5040], 3):
        assert format_program(parse(p.code)).startswith("#offset 3\n")


# ---------------------------------------------------------------------------- mutation


class Library:
    """A corpus stand-in: `number in library` and `library.program(number)`."""

    def __init__(self, programs: dict[int, str]):
        self.programs = {number: parse(code) for number, code in programs.items()}

    def __contains__(self, number: int) -> bool:
        return number in self.programs

    def program(self, number: int):
        if number not in self.programs:
            raise UnknownSequenceError(f"no program for A{number:06d}")
        return self.programs[number]


def first_hit(seeds, terms, offset=0, library=None, excluded=frozenset(), seconds=3.0):
    """The first mutation proposal whose program reproduces `terms` in the VM, with the
    proposals seen up to it."""
    seen = []
    for proposal in mutation_proposals(seeds, terms, offset, library, excluded, time.monotonic() + seconds):
        seen.append(proposal)
        try:
            outputs = list(Evaluator(library=library, limits=LIMITS, forbidden=excluded)
                           .iter_terms(parse(proposal.code), len(terms), start=offset))
        except LodaError:
            continue
        if outputs == terms:
            return proposal, seen
    return None, seen


TARGETS = {
    # name: (target program, its terms from a(0) need the loop, the constant or the operation)
    "affine": "mul $0,3\nadd $0,2\n",
    "fibonacci": "mov $3,1\nlpb $0\n  sub $0,1\n  mov $2,$1\n  add $1,$3\n  mov $3,$2\nlpe\nmov $0,$1\n",
    "triangular": "mov $1,$0\nadd $1,1\nmul $0,$1\ndiv $0,2\n",
    "powers": "mov $1,2\npow $1,$0\nmov $0,$1\nsub $0,1\n",
}


def one_change(code: str, kind: str, choice: int) -> str:
    """`code` with one constant moved, one operation type swapped or one operation deleted."""
    ops = parse(code).operations
    if kind == "constant":
        slots = [i for i, op in enumerate(ops) if op.source is not None and op.source.kind is OperandKind.CONSTANT
                 and op.op not in ("lpb", "seq")]
        i = slots[choice % len(slots)]
        value = ops[i].source.value
        new = replace(ops[i], source=Operand.constant(value + (1, -1, 2, -2, 3)[choice % 5]))
        ops = ops[:i] + (new,) + ops[i + 1:]
    elif kind == "operation":
        slots = [i for i, op in enumerate(ops) if op.op in ("add", "sub", "mul", "div", "mov")]
        i = slots[choice % len(slots)]
        other = [name for name in ("add", "sub", "mul", "div", "mod", "trn") if name != ops[i].op]
        ops = ops[:i] + (replace(ops[i], op=other[choice % len(other)]),) + ops[i + 1:]
    else:
        slots = [i for i, op in enumerate(ops) if op.op not in ("lpb", "lpe")]
        i = slots[choice % len(slots)]
        ops = ops[:i] + ops[i + 1:]
    return format_program(Program(ops))


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(sorted(TARGETS)), kind=st.sampled_from(["constant", "operation", "deletion"]),
       choice=st.integers(0, 50), offset=offsets)
def test_mutations_reach_a_program_one_change_away(name, kind, choice, offset):
    target = parse(TARGETS[name])
    terms = list(Evaluator(limits=LIMITS).iter_terms(target, 10, start=offset))
    seed = one_change(TARGETS[name], kind, choice)
    hit, _ = first_hit([("model candidate 1", seed)], terms, offset)
    assert hit is not None, (seed, terms)
    assert hit.kind == "mutation" and hit.family == "mutation of model candidate 1"
    assert run(hit.code, 10, offset) == terms


def test_mutations_climb_two_changes():
    # n(n+3)/3 is two constants from the triangular numbers; no single change gets closer
    hit, _ = first_hit([("near-miss", "mov $1,$0\nadd $1,3\nmul $0,$1\ndiv $0,3\n")],
                       [n * (n + 1) // 2 for n in range(10)], seconds=8.0)
    assert hit is not None


def test_mutations_never_call_an_excluded_sequence():
    library = Library({
        1: "mul $0,2\n",  # the target's own program: excluded
        2: "seq $0,1\nadd $0,1\n",  # reaches the target: excluded too
        3: "mul $0,2\nadd $0,1\n",  # the same terms, allowed
    })
    excluded = frozenset({1, 2})
    terms = [2 * n + 1 for n in range(10)]
    seeds = [("model candidate 1", "seq $0,2\n"), ("model candidate 2", "seq $0,1\nadd $0,2\n"),
             ("model candidate 3", "seq $0,3\nadd $0,1\n")]
    hit, seen = first_hit(seeds, terms, library=library, excluded=excluded)
    assert hit is not None and seen
    for proposal in seen:
        assert not set(parse(proposal.code).calls()) & excluded, proposal.code
    # exhaust them all: still nothing calls 1 or 2
    for proposal in mutation_proposals(seeds, terms, 0, library, excluded, time.monotonic() + 0.5):
        assert not set(parse(proposal.code).calls()) & excluded, proposal.code


def test_mutation_respects_the_deadline():
    seeds = [("model candidate 1", TARGETS["fibonacci"].replace("add $1,$3", "sub $1,$3"))]
    terms = [n ** 5 - 7 for n in range(12)]  # nothing one change away
    assert list(mutation_proposals(seeds, terms, 0, None, frozenset(), time.monotonic() - 1)) == []
    started = time.monotonic()
    for _ in mutation_proposals(seeds, terms, 0, None, frozenset(), started + 0.3):
        pass
    assert time.monotonic() - started < 0.45


def test_search_verifies_mutations():
    seeds = [("model candidate 3", "mul $0,3\nadd $0,1\n")]
    found = search([2 * n + 1 for n in range(1, 9)], offset=1, seeds=seeds, families=["mutation"], time_limit=2,
                   max_results=1)
    assert found and found[0].family == "mutation of model candidate 3" and not found[0].weak
    assert found[0].code.startswith("#offset 1\n")
