"""LODA text for the corpus families: `seq` calls, loops for sums and binomial transforms,
and an exact affine form (p*x + b)/q at the end.

Every writer returns the program's lines (without `#offset`); `program` joins them under
the target's offset. Loop bodies clamp the index they call with, because LODA runs a loop
body once more than it keeps (the last pass, which fails to decrease the counter, is undone
but still executed) and a `seq` argument below the callee's offset is an error.
"""
from __future__ import annotations

from fractions import Fraction
from math import lcm

from .index import DIFF, ID, NTIMES, PAIRSUM, PRIMEPOS, PRIMES, SECTIONS, SQUARE


def view_lines(view: int, number: int, cell: int, scratch: int) -> list[str]:
    """$cell := view(s)(m) where $cell holds m; $scratch may be overwritten."""
    c, t = f"${cell}", f"${scratch}"
    if view == ID:
        return [f"seq {c},{number}"]
    if view == DIFF:
        return [f"mov {t},{c}", f"add {c},1", f"seq {c},{number}", f"seq {t},{number}", f"sub {c},{t}"]
    if view in SECTIONS:
        m, j = SECTIONS[view]
        return [f"mul {c},{m}", *([f"add {c},{j}"] if j else []), f"seq {c},{number}"]
    if view == SQUARE:
        return [f"seq {c},{number}", f"pow {c},2"]
    if view == NTIMES:
        return [f"mov {t},{c}", f"seq {c},{number}", f"mul {c},{t}"]
    if view == PRIMEPOS:
        return [f"seq {c},{PRIMES}", f"seq {c},{number}"]
    if view == PAIRSUM:
        return [f"mov {t},{c}", f"add {c},1", f"seq {c},{number}", f"seq {t},{number}", f"add {c},{t}"]
    raise ValueError(f"unknown view {view}")


def add_const(cell: int, value: int) -> list[str]:
    if value == 0:
        return []
    return [f"add ${cell},{value}" if value > 0 else f"sub ${cell},{-value}"]


def affine_lines(a: Fraction, b: Fraction, cell: int = 0) -> list[str]:
    """$cell := a*$cell + b, written as (p*x + r)/q with integers (exact where the fit is)."""
    q = lcm(a.denominator, b.denominator)
    p, r = int(a * q), int(b * q)
    lines = [] if p == 1 else [f"mul ${cell},{p}"]
    lines += add_const(cell, r)
    if q != 1:
        lines.append(f"div ${cell},{q}")
    return lines


def shifted_view(view: int, number: int, shift: int) -> list[str]:
    """$0 := view(s)(n + shift)."""
    return add_const(0, shift) + view_lines(view, number, 0, 2)


def partial_sums(view: int, number: int, first: int, count_shift: int) -> list[str]:
    """$0 := sum of view(s)(m) for m = first .. first + n + count_shift - 1."""
    return [
        "mov $1,$0",
        *add_const(1, count_shift),
        "lpb $1",
        "mov $3,$1",
        *add_const(3, first - 1),
        f"max $3,{first}",
        *view_lines(view, number, 3, 4),
        "add $2,$3",
        "sub $1,1",
        "lpe",
        "mov $0,$2",
    ]


def binomial(view: int, number: int, offset: int, first: int, inverse: bool) -> list[str]:
    """$0 := sum over j = 0..i of C(i, j) * view(s)(first + j), i = n - offset; with
    (-1)^(i-j) for the inverse transform."""
    sign = ["mov $6,$0", "sub $6,$3", "mod $6,2", "mul $6,-2", "add $6,1", "mul $5,$6"] if inverse else []
    return [
        *add_const(0, -offset),
        "mov $1,$0",
        "add $1,1",
        "lpb $1",
        "sub $1,1",
        "mov $3,$1",
        "max $3,0",
        "mov $5,$0",
        "bin $5,$3",
        *sign,
        *add_const(3, first),
        *view_lines(view, number, 3, 4),
        "mul $3,$5",
        "add $2,$3",
        "lpe",
        "mov $0,$2",
    ]


def plus_multiple_of_n(c: int) -> tuple[list[str], list[str]]:
    """Lines before and after the body that add c*n to the result ($1 keeps n)."""
    if c == 0:
        return [], []
    return ["mov $1,$0"], ([] if c == 1 else [f"mul $1,{c}"]) + ["add $0,$1"]


def combination(first: tuple[int, int, int], second: tuple[int, int], a: Fraction, b: Fraction,
                product: bool) -> list[str]:
    """$0 := c1*s1(n+k1) + a*s2(n+k2) + b, or s1(n+k1) * (a*s2(n+k2) + b) where `product`;
    `first` = (number, shift, c1), `second` = (number, shift)."""
    n1, k1, c1 = first
    n2, k2 = second
    lines = ["mov $1,$0", *add_const(1, k1), f"seq $1,{n1}"]
    if not product and c1 != 1:
        lines.append(f"mul $1,{c1}")
    lines += add_const(0, k2) + [f"seq $0,{n2}"] + affine_lines(a, b)
    lines.append("mul $0,$1" if product else "add $0,$1")
    return lines


def composition(outer: int, inner: int, shift: int, a: Fraction, b: Fraction) -> list[str]:
    """$0 := outer(a*inner(n + shift) + b)."""
    return add_const(0, shift) + [f"seq $0,{inner}"] + affine_lines(a, b) + [f"seq $0,{outer}"]


def first_term_apart(offset: int, lines: list[str], correction: int) -> list[str]:
    """`lines` (written for the terms from a(offset + 1)) run at max(n, offset + 1), plus
    `correction` at n = offset: a sequence whose first term breaks the rule of the others."""
    if correction == 0:  # the first term repeats the second
        return [f"max $0,{offset + 1}", *lines]
    return [
        "mov $9,$0",
        f"equ $9,{offset}",
        f"max $0,{offset + 1}",
        *lines,
        f"mul $9,{correction}",
        "add $0,$9",
    ]


def program(offset: int, lines: list[str]) -> str:
    head = [f"#offset {offset}"] if offset else []
    return "\n".join(head + lines) + "\n"
