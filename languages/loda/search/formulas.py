"""Formula families: exact fits of the given terms, written as LODA.

For terms t[i] = a(offset + i), simplest first:

1. **polynomials** in n of degree <= MAX_DEGREE (the least degree whose next differences all
   vanish), written with Horner's rule on integer coefficients and one final `div` by their
   common denominator (exact: a polynomial integral at d + 1 consecutive integers is integral
   at every integer);
2. **linear recurrences** with constant coefficients of order <= MAX_ORDER, homogeneous or with
   a constant term, solved exactly over the rationals (the least-order fit first), written as a
   loop that steps a window of the last r terms; a common denominator becomes one exact `div`;
3. **hypergeometric terms** a(n) = a(n-1) * (p*n + q) / (u*n + v): factorials, double
   factorials, central binomials, Catalan numbers and their kin, which no low-order recurrence
   with constant coefficients fits.

A fit is `weak` where the given terms cannot check it: it has no equation beyond its unknowns
(a recurrence of order r fitted on <= 2r terms, a polynomial of degree d on <= d + 1 terms).
Every program runs in the VM from `$0 = n` for n >= offset (the orchestrator verifies them).
"""
from __future__ import annotations

import time
from fractions import Fraction
from math import gcd, lcm
from typing import Iterator, Sequence

from . import Proposal

MAX_ORDER = 6
MAX_DEGREE = 5
MAX_WEAK = 2  # weak recurrence fits proposed at most (any few terms fit some high order)
MIN_TERMS = 3  # fewer terms fit every formula; nothing to propose


# ---------------------------------------------------------------------------- exact linear algebra


def solve(rows: Sequence[Sequence[int]], rhs: Sequence[int]) -> list[Fraction] | None:
    """A rational x with rows . x = rhs on every row (free unknowns 0), None where the system is
    inconsistent."""
    return solve_with_rank(rows, rhs)[0]


def solve_with_rank(rows: Sequence[Sequence[int]], rhs: Sequence[int]) -> tuple[list[Fraction] | None, int]:
    """(solve's answer, the rank of `rows`). Eliminates on integers (rows scaled, divided by their
    gcd) so that long inputs stay fast; only back-substitution uses fractions."""
    width = len(rows[0]) if rows else 0
    matrix = [list(row) + [value] for row, value in zip(rows, rhs)]
    pivots: list[tuple[int, int]] = []  # (row, column)
    top = 0
    for column in range(width):
        pivot = next((r for r in range(top, len(matrix)) if matrix[r][column]), None)
        if pivot is None:
            continue
        matrix[top], matrix[pivot] = matrix[pivot], matrix[top]
        head = matrix[top]
        for r in range(len(matrix)):
            if r != top and matrix[r][column]:
                matrix[r] = _eliminate(matrix[r], head, column)
        pivots.append((top, column))
        top += 1
    if any(row[-1] for row in matrix[top:]):
        return None, top
    solution = [Fraction(0)] * width
    for row, column in pivots:
        solution[column] = Fraction(matrix[row][-1], matrix[row][column])
    return solution, top


def _eliminate(row: list[int], head: list[int], column: int) -> list[int]:
    """row * head[column] - head * row[column], divided by the gcd of its entries."""
    a, b = head[column], row[column]
    combined = [x * a - y * b for x, y in zip(row, head)]
    divisor = 0
    for value in combined:
        divisor = gcd(divisor, value)
    return [value // divisor for value in combined] if divisor > 1 else combined


def _integral(values: Sequence[Fraction]) -> tuple[list[int], int]:
    """(integers p, q) with values = p / q, q > 0 the least common denominator."""
    q = 1
    for value in values:
        q = lcm(q, value.denominator)
    return [int(value * q) for value in values], q


# ---------------------------------------------------------------------------- LODA text helpers


def _add(cell: str, value: int) -> list[str]:
    if value == 0:
        return []
    return [f"add {cell},{value}" if value > 0 else f"sub {cell},{-value}"]


def _mul(cell: str, value: int) -> list[str]:
    return [] if value == 1 else [f"mul {cell},{value}"]


def _div(cell: str, value: int) -> list[str]:
    return [] if value == 1 else [f"div {cell},{value}"]


def _program(offset: int, lines: list[str]) -> str:
    head = [f"#offset {offset}"] if offset else []
    return "\n".join(head + lines) + "\n"


def _signed(value: int, symbol: str, first: bool) -> str:
    """`+ 3*a(n-1)` style text of one term of a formula, for the family name."""
    magnitude = abs(value)
    body = symbol if magnitude == 1 and symbol else (f"{magnitude}*{symbol}" if symbol else str(magnitude))
    if first:
        return body if value > 0 else f"-{body}"
    return f" + {body}" if value > 0 else f" - {body}"


# ---------------------------------------------------------------------------- polynomials


def polynomial_fit(terms: Sequence[int], offset: int) -> tuple[list[Fraction], bool] | None:
    """(coefficients c_0..c_d of a(n) = sum c_k n^k, weak) of the least degree d <= MAX_DEGREE
    fitting every term; weak where no term is left to check it (len(terms) <= d + 1)."""
    differences, degree = list(terms), None
    for d in range(MAX_DEGREE + 1):
        following = [b - a for a, b in zip(differences, differences[1:])]
        # degree d fits where the (d+1)-th differences vanish (or none can be formed)
        if not any(following):
            degree = d
            break
        differences = following
    if degree is None:
        return None
    points = [offset + i for i in range(degree + 1)]
    rows = [[x ** k for k in range(degree + 1)] for x in points]
    coefficients = solve(rows, terms[:degree + 1])
    if coefficients is None:
        return None
    return coefficients, len(terms) <= degree + 1


def polynomial_lines(coefficients: Sequence[Fraction]) -> list[str]:
    """$0 := sum c_k $0^k with Horner's rule on integers and one final division."""
    numerators, q = _integral(coefficients)
    while len(numerators) > 1 and numerators[-1] == 0:
        numerators.pop()
    degree = len(numerators) - 1
    if degree == 0:
        return [f"mov $0,{numerators[0] // q}"]
    if degree == 1:
        return _mul("$0", numerators[1]) + _add("$0", numerators[0]) + _div("$0", q)
    if not any(numerators[1:degree]):  # c*n^d + b: one power instead of d multiplications
        return [f"pow $0,{degree}", *_mul("$0", numerators[degree]), *_add("$0", numerators[0]), *_div("$0", q)]
    lines = ["mov $1,$0", f"mov $0,{numerators[degree]}"]
    for k in range(degree - 1, -1, -1):
        lines += ["mul $0,$1", *_add("$0", numerators[k])]
    return lines + _div("$0", q)


def _polynomial_text(coefficients: Sequence[Fraction]) -> str:
    numerators, q = _integral(coefficients)
    parts = []
    for k in range(len(numerators) - 1, -1, -1):
        if numerators[k]:
            symbol = "" if k == 0 else ("n" if k == 1 else f"n^{k}")
            parts.append(_signed(numerators[k], symbol, not parts))
    body = "".join(parts) or "0"
    return body if q == 1 else f"({body})/{q}"


def polynomial_proposals(terms: Sequence[int], offset: int) -> list[tuple[int, Proposal]]:
    """The least-degree polynomial, as [(its non-zero coefficients, proposal)] (or [])."""
    fit = polynomial_fit(terms, offset)
    if fit is None:
        return []
    coefficients, weak = fit
    degree = max((k for k, c in enumerate(coefficients) if c), default=0)
    proposal = Proposal(_program(offset, polynomial_lines(coefficients)),
                        f"polynomial degree {degree}: a(n) = {_polynomial_text(coefficients)}", "polynomial", weak)
    return [(_parameters(coefficients), proposal)]


def _parameters(numbers: Sequence) -> int:
    """How many numbers a fit chose (its non-zero ones): fewer is the more believable fit."""
    return sum(1 for value in numbers if value)


# ---------------------------------------------------------------------------- linear recurrences


def recurrence_fit(terms: Sequence[int], order: int, constant: bool) -> tuple[list[Fraction], bool] | None:
    """([c_1, ..., c_order(, d)], weak) with t[i] = sum c_j t[i-j] (+ d) for every i >= order;
    None where no such recurrence fits, or fewer equations than unknowns (nothing determines it).
    Weak: no equation is left to check the fit, or the terms leave it undetermined."""
    unknowns = order + (1 if constant else 0)
    equations = len(terms) - order
    if equations < unknowns:
        return None
    rows = [[terms[i - j] for j in range(1, order + 1)] + ([1] if constant else [])
            for i in range(order, len(terms))]
    solution, rank = solve_with_rank(rows, terms[order:])
    if solution is None:
        return None
    return solution, equations <= unknowns or rank < unknowns


def recurrence_lines(initial: Sequence[int], coefficients: Sequence[Fraction], constant: Fraction,
                     offset: int) -> list[str]:
    """$1..$r hold a window of r consecutive terms, stepped n - offset times; a(n) is $1.
    The new term is built in $(r+1) (products in $(r+2)), divided once by the common
    denominator (exact on the sequence the fit describes)."""
    r = len(initial)
    numerators, q = _integral([*coefficients, constant])
    *weights, shift = numerators
    new, scratch = f"${r + 1}", f"${r + 2}"
    body: list[str] = [f"mov {new},0"]
    for j, weight in enumerate(weights, start=1):
        source = f"${r + 1 - j}"  # a(n-j) for the new term a(n)
        if weight == 0:
            continue
        if weight in (1, -1):
            body.append(f"{'add' if weight == 1 else 'sub'} {new},{source}")
        else:
            body += [f"mov {scratch},{source}", f"mul {scratch},{weight}", f"add {new},{scratch}"]
    body += _add(new, shift) + _div(new, q)
    body += [f"mov ${k},${k + 1}" for k in range(1, r + 1)]
    return [*_add("$0", -offset), *[f"mov ${k + 1},{value}" for k, value in enumerate(initial) if value],
            "lpb $0", "sub $0,1", *body, "lpe", "mov $0,$1"]


def _recurrence_text(coefficients: Sequence[Fraction], constant: Fraction) -> str:
    numerators, q = _integral([*coefficients, constant])
    *weights, shift = numerators
    parts: list[str] = []
    for j, weight in enumerate(weights, start=1):
        if weight:
            parts.append(_signed(weight, f"a(n-{j})", not parts))
    if shift:
        parts.append(_signed(shift, "", not parts))
    body = "".join(parts) or "0"
    return f"a(n) = {body}" if q == 1 else f"a(n) = ({body})/{q}"


def recurrence_proposals(terms: Sequence[int], offset: int, deadline: float) -> Iterator[tuple[int, Proposal]]:
    """(parameters: non-zero coefficients and the initial values, proposal), least order first,
    homogeneous before a constant term; stops after the first fit the terms check (a higher order
    fitting as well says nothing more), and after MAX_WEAK weak ones."""
    weak_left = MAX_WEAK
    for order in range(1, MAX_ORDER + 1):
        for constant in (False, True):
            if time.monotonic() > deadline:
                return
            found = recurrence_fit(terms, order, constant)
            if found is None:
                continue
            fit, weak = found
            coefficients = fit[:order]
            shift = fit[order] if constant else Fraction(0)
            if constant and shift == 0:
                continue  # the homogeneous fit of this order, already proposed
            if weak and weak_left == 0:
                return
            weak_left -= weak
            lines = recurrence_lines(terms[:order], coefficients, shift, offset)
            proposal = Proposal(_program(offset, lines), f"recurrence order {order}: "
                                f"{_recurrence_text(coefficients, shift)}", "recurrence", weak)
            yield order + _parameters(fit), proposal
            if not weak:
                return


# ---------------------------------------------------------------------------- hypergeometric terms


def hypergeometric_fit(terms: Sequence[int], offset: int) -> tuple[int, int, int, int, bool] | None:
    """(p, q, u, v, weak) with a(n) * (u*n + v) = a(n-1) * (p*n + q) on every term, u*n + v
    never 0 for n > offset (the loop divides by it), in lowest terms with u*n + v positive
    for large n; None where no such ratio fits or it is not unique (too few non-zero terms)."""
    if len(terms) < 5 or not any(terms):
        return None
    rows = [[-terms[i - 1] * (offset + i), -terms[i - 1], terms[i] * (offset + i), terms[i]]
            for i in range(1, len(terms))]
    # normalise v = 1 or u = 1 (a nonzero denominator), then solve the inhomogeneous system
    for fixed in (3, 2):
        reduced = [[row[k] for k in range(4) if k != fixed] for row in rows]
        solution, rank = solve_with_rank(reduced, [-row[fixed] for row in rows])
        if solution is None:
            continue
        solution.insert(fixed, Fraction(1))
        if solution[2] == 0 and solution[3] == 0:
            continue
        p, q, u, v = _primitive(solution)
        if p == u and q == v:
            return None  # a constant sequence: a polynomial
        if _divides_to_zero(u, v, offset):
            continue
        return p, q, u, v, len(rows) <= 3 or rank < 3
    return None


def _primitive(values: Sequence[Fraction]) -> list[int]:
    numerators, _ = _integral(values)
    divisor = 0
    for value in numerators:
        divisor = gcd(divisor, value)
    numerators = [value // divisor for value in numerators]
    u, v = numerators[2], numerators[3]
    if u < 0 or (u == 0 and v < 0):
        numerators = [-value for value in numerators]
    return numerators


def _divides_to_zero(u: int, v: int, offset: int) -> bool:
    """Whether u*n + v = 0 for some integer n > offset (a division by zero in the loop; it also
    runs the undone last pass, one index further than the term asked for)."""
    if u == 0:
        return v == 0
    return -v % u == 0 and -v // u > offset


def hypergeometric_lines(first: int, p: int, q: int, u: int, v: int, offset: int) -> list[str]:
    """$1 := a(offset), then n - offset times: $2 := the next index, $1 := $1 * (p*$2 + q) / (u*$2 + v)."""
    factor = ["mov $3,$2", *_mul("$3", p), *_add("$3", q), "mul $1,$3"]
    if u == 0:
        divide = _div("$1", v)
    else:
        divide = ["mov $3,$2", *_mul("$3", u), *_add("$3", v), "div $1,$3"]
    return [*_add("$0", -offset), f"mov $1,{first}", f"mov $2,{offset}",
            "lpb $0", "sub $0,1", "add $2,1", *factor, *divide, "lpe", "mov $0,$1"]


def hypergeometric_proposals(terms: Sequence[int], offset: int) -> list[tuple[int, Proposal]]:
    """[(parameters: the ratio's non-zero numbers but one, and a(offset); proposal)] (or [])."""
    fit = hypergeometric_fit(terms, offset)
    if fit is None:
        return []
    p, q, u, v, weak = fit
    if p == 0 and q == 0:
        return []  # zero after the first term: a polynomial or recurrence says it simpler
    if u == 0 and p == 0:
        return []  # a geometric sequence: the order-1 recurrence
    ratio = _factor_text(p, q) if u == 0 and v == 1 else f"{_factor_text(p, q)}/{_factor_text(u, v)}"
    proposal = Proposal(_program(offset, hypergeometric_lines(terms[0], p, q, u, v, offset)),
                        f"recurrence a(n) = a(n-1)*{ratio}", "recurrence", weak)
    # the ratio's numbers are chosen up to a common scale (one fewer), plus the initial a(offset)
    return [(_parameters((p, q, u, v)), proposal)]


def _factor_text(slope: int, intercept: int) -> str:
    """`slope*n + intercept` as a factor: bracketed where it has two terms."""
    parts = [_signed(slope, "n", True)] if slope else []
    if intercept or not parts:
        parts.append(_signed(intercept, "", not parts))
    text = "".join(parts)
    return f"({text})" if len(parts) > 1 or text.startswith("-") else text


# ---------------------------------------------------------------------------- the family


def formula_proposals(terms: Sequence[int], offset: int, deadline: float) -> Iterator[Proposal]:
    """Polynomials, linear recurrences and hypergeometric terms fitting `terms` from a(`offset`),
    the fits the terms check before the weak ones, each by how few numbers it chose (a fit with
    fewer free numbers is less likely a coincidence). Stops at `deadline` (time.monotonic())."""
    terms = [int(t) for t in terms]
    if len(terms) < MIN_TERMS:
        return
    found: list[tuple[bool, int, int, Proposal]] = []
    makers = [lambda: polynomial_proposals(terms, offset)]
    if len(set(terms)) > 1:  # a constant is a polynomial; its recurrences would only repeat it
        makers += [lambda: recurrence_proposals(terms, offset, deadline),
                   lambda: hypergeometric_proposals(terms, offset)]
    for make in makers:
        if time.monotonic() > deadline:
            return
        found += [(proposal.weak, parameters, len(found), proposal) for parameters, proposal in make()]
    for *_, proposal in sorted(found, key=lambda entry: entry[:3]):
        yield proposal


__all__ = ["formula_proposals", "hypergeometric_fit", "polynomial_fit", "recurrence_fit", "solve", "solve_with_rank"]
