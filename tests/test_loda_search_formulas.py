"""The formula and mutation families of languages.loda.search, without the corpus: random linear
recurrences, polynomials and hypergeometric terms are found and their programs reproduce the
sequence well past the given terms; fits the terms cannot check are weak; mutations reach a
program one change away and never call an excluded sequence."""
from __future__ import annotations

import time
from fractions import Fraction
from math import comb, factorial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from languages.loda.canonical import format_program
from languages.loda.errors import LodaError
from languages.loda.parser import parse
from languages.loda.search.formulas import formula_proposals, recurrence_fit, solve
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
