"""Natural-language arithmetic and algorithmic problems with WAT solutions.

    generate_problems(count, seed=0, levels=(1, 2, 3, 4, 5)) -> list[Problem]

Curriculum levels:
  1  one operation: add, sub, mul, div (exact), mod, square
  2  multi-step: expressions, chains of operations, polynomials, means, word problems
  3  loops: sums over ranges, sums of squares, factorials, powers, Fibonacci, sums of multiples
  4  conditionals: min, max, abs, distance, parity, gcd, lcm, clamp, Collatz steps
  5  number theory: primality, prime counting, n-th prime, divisor sums and counts,
     digit sums / counts / reversal, largest prime factor, Euler's totient

Every program exports `main() -> i64`, written in one simple style the model can learn:
`(local $x i64)` declarations, flat instructions, loops as `block $exit loop $loop ...
br_if $exit ... br $loop end end` (inner loops `$exit1` / `$loop1`), conditionals as flat
`if ... else ... end`; locals rely on their zero initialisation. The text is canonical
(`format_wat`).

The expected `answer` is computed independently in Python (closed forms, `math`, a sieve,
factorisation, string operations, `ast` evaluation of the problem's own expression), never
by running the WAT; the tests check that both agree. Generation is deterministic by seed,
every kind has several wordings, texts are unique within a set (duplicates are redrawn),
and every answer and intermediate value fits in a signed 64-bit integer.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import math
import random
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

from .canonical import format_wat

I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1


@dataclass(frozen=True)
class Problem:
    id: str
    level: int
    kind: str
    text: str
    wat: str
    answer: int

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- WAT building blocks

def _c(v: int) -> str:
    return f"i64.const {v}"


def _get(v: str) -> str:
    return f"local.get ${v}"


def _set(v: str) -> str:
    return f"local.set ${v}"


def _assign(v: str, value: int) -> list[str]:
    return [_c(value), _set(v)]


def _inc(v: str, step: int = 1) -> list[str]:
    return [_get(v), _c(step), "i64.add", _set(v)]


def _loop(exit_if: list[str], body: list[str], tag: str = "") -> list[str]:
    """while not exit_if: body"""
    return [f"block $exit{tag}", f"loop $loop{tag}", *exit_if, f"br_if $exit{tag}", *body, f"br $loop{tag}",
            "end", "end"]


def _for(i: str, lo: list[str], hi: list[str], body: list[str], tag: str = "") -> list[str]:
    """for i in lo..hi (inclusive): body"""
    return [*lo, _set(i), *_loop([_get(i), *hi, "i64.gt_s"], [*body, *_inc(i)], tag)]


def _program(local_names: str, body: list[str]) -> str:
    decls = " ".join(f"(local ${v} i64)" for v in local_names.split())
    return format_wat('(module (func $main (export "main") (result i64) ' + decls + " " + " ".join(body) + "))")


def _prime_test(m: str, tag: str) -> list[str]:
    """$p = 1 if $m (>= 2) is prime else 0, by trial division with $d."""
    return [*_assign("p", 1), *_assign("d", 2),
            *_loop([_get("d"), _get("d"), "i64.mul", _get(m), "i64.gt_s"],
                   [_get(m), _get("d"), "i64.rem_s", "i64.eqz", "if", *_assign("p", 0), f"br $exit{tag}", "end",
                    *_inc("d")], tag)]


def _gcd_loop(a: str, b: str, tag: str = "") -> list[str]:
    """Euclid on locals $a, $b (>= 0); the gcd ends in $a."""
    return _loop([_get(b), "i64.eqz"], [_get(a), _get(b), "i64.rem_s", _set("t"), _get(b), _set(a), _get("t"),
                                          _set(b)], tag)


# ---------------------------------------------------------------- independent Python answers

@functools.lru_cache(maxsize=None)
def _sieve(limit: int) -> bytearray:
    is_prime = bytearray([1]) * (limit + 1)
    is_prime[0:2] = b"\x00\x00"
    for p in range(2, math.isqrt(limit) + 1):
        if is_prime[p]:
            is_prime[p * p::p] = bytearray(len(range(p * p, limit + 1, p)))
    return is_prime


@functools.lru_cache(maxsize=None)
def _primes(limit: int) -> list[int]:
    s = _sieve(limit)
    return [i for i in range(limit + 1) if s[i]]


def _factorize(n: int) -> dict[int, int]:
    factors: dict[int, int] = {}
    for p in _primes(1100):
        if p * p > n:
            break
        while n % p == 0:
            factors[p] = factors.get(p, 0) + 1
            n //= p
    if n > 1:
        factors[n] = factors.get(n, 0) + 1
    return factors


def _fib(n: int) -> int:
    def pair(k: int) -> tuple[int, int]:  # (F(k), F(k+1)), fast doubling
        if k == 0:
            return 0, 1
        a, b = pair(k >> 1)
        c = a * (2 * b - a)
        d = a * a + b * b
        return (d, c + d) if k & 1 else (c, d)
    return pair(n)[0]


def _eval_expression(text: str) -> int:
    """Evaluate the problem's own +, -, * expression (Python's parser and precedence)."""
    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: lambda x, y: x + y, ast.Sub: lambda x, y: x - y, ast.Mult: lambda x, y: x * y}
            return ops[type(node.op)](ev(node.left), ev(node.right))
        raise ValueError(f"unexpected expression node {ast.dump(node)}")
    return ev(ast.parse(text.replace("×", "*"), mode="eval"))


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _num(rng: random.Random, digits_max: int = 4, negative: float = 0.0, minimum: int = 0) -> int:
    digits = rng.randint(1, digits_max)
    v = rng.randint(max(minimum, 10 ** (digits - 1) if digits > 1 else 0), 10 ** digits - 1)
    return -v if v and rng.random() < negative else v


def _paren(v: int) -> str:
    return f"({v})" if v < 0 else str(v)


def _listing(values: Sequence[int]) -> str:
    items = [str(v) for v in values]
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]


# a generator returns (kind, text, wat, answer)
Generated = tuple[str, str, str, int]


# ---------------------------------------------------------------- level 1: one operation

def _binary(kind: str, a: int, b: int, op: str, answer: int, wordings: list[str], rng: random.Random) -> Generated:
    text = rng.choice(wordings).format(a=a, b=b, pa=_paren(a), pb=_paren(b))
    return kind, text, _program("", [_c(a), _c(b), op]), answer


def gen_add(rng: random.Random) -> Generated:
    a, b = _num(rng, 5, 0.15), _num(rng, 5, 0.15)
    return _binary("add", a, b, "i64.add", a + b, [
        "What is {a} plus {b}?", "Add {a} and {b}.", "Compute the sum of {a} and {b}.", "Calculate {pa} + {pb}.",
        "What do you get when you add {b} to {a}?", "Find the total of {a} and {b}."], rng)


def gen_sub(rng: random.Random) -> Generated:
    a, b = _num(rng, 5, 0.15), _num(rng, 5, 0.15)
    return _binary("sub", a, b, "i64.sub", a - b, [
        "What is {a} minus {b}?", "Subtract {b} from {a}.", "Compute {pa} - {pb}.", "Calculate {a} decreased by {b}.",
        "What is left when you take {b} away from {a}?"], rng)


def gen_mul(rng: random.Random) -> Generated:
    a, b = _num(rng, 4, 0.15), _num(rng, 4, 0.15)
    return _binary("mul", a, b, "i64.mul", a * b, [
        "What is {a} times {b}?", "Multiply {a} by {b}.", "Compute the product of {a} and {b}.",
        "Calculate {pa} * {pb}.", "What is {a} multiplied by {b}?"], rng)


def gen_div(rng: random.Random) -> Generated:
    b = rng.randint(1, 99) * (-1 if rng.random() < 0.1 else 1)
    q = _num(rng, 4, 0.1)
    a = b * q
    return _binary("div", a, b, "i64.div_s", q, [
        "What is {a} divided by {b}?", "Divide {a} by {b}.", "Compute {pa} / {pb}.",
        "What is the quotient of {a} and {b}?", "How many times does {b} go into {a}?"], rng)


def gen_mod(rng: random.Random) -> Generated:
    a, b = _num(rng, 5), rng.randint(2, 99)
    return _binary("mod", a, b, "i64.rem_s", a % b, [
        "What is the remainder when {a} is divided by {b}?", "Compute {a} mod {b}.", "Find {a} modulo {b}.",
        "What is left over when {a} is divided by {b}?", "Calculate the remainder of {a} / {b}."], rng)


def gen_square(rng: random.Random) -> Generated:
    a = _num(rng, 4, 0.15)
    text = rng.choice(["What is {a} squared?", "Compute the square of {a}.", "What is {a} multiplied by itself?",
                       "Find {pa}^2.", "Calculate {pa} * {pa}."]).format(a=a, pa=_paren(a))
    return "square", text, _program("", [_c(a), _c(a), "i64.mul"]), a * a


# ---------------------------------------------------------------- level 2: multi-step

_OPS = {"+": "i64.add", "-": "i64.sub", "*": "i64.mul"}
_PREC = {"+": 1, "-": 1, "*": 2}


def _expr_tree(rng: random.Random, ops: int):
    if ops == 0:
        v = rng.randint(1, 99)
        return -v if rng.random() < 0.1 else v
    left_ops = rng.randint(0, ops - 1)
    return (rng.choice("+-*"), _expr_tree(rng, left_ops), _expr_tree(rng, ops - 1 - left_ops))


def _render(tree, parent_prec: int = 0, right: bool = False) -> str:
    if isinstance(tree, int):
        return _paren(tree)
    op, left, r = tree
    prec = _PREC[op]
    text = f"{_render(left, prec)} {op} {_render(r, prec, True)}"
    # parentheses where precedence or left-associativity need them
    if prec < parent_prec or (right and prec == parent_prec):
        text = f"({text})"
    return text


def _postfix(tree) -> list[str]:
    if isinstance(tree, int):
        return [_c(tree)]
    op, left, right = tree
    return [*_postfix(left), *_postfix(right), _OPS[op]]


def gen_expr(rng: random.Random) -> Generated:
    tree = _expr_tree(rng, rng.randint(2, 4))
    expression = _render(tree)
    text = rng.choice(["What is {e}?", "Compute {e}.", "Evaluate the expression {e}.",
                       "Calculate the value of {e}.", "Work out {e}."]).format(e=expression)
    return "expr", text, _program("", _postfix(tree)), _eval_expression(expression)


_STEP_WORDS = {
    "+": ["add {v}", "increase it by {v}", "add {v} to it"],
    "-": ["subtract {v}", "decrease it by {v}", "take away {v}"],
    "*": ["multiply by {v}", "multiply it by {v}", "multiply the result by {v}"],
}


def gen_chain(rng: random.Random) -> Generated:
    start = rng.randint(1, 999)
    steps = [(rng.choice("+-*"), rng.randint(1, 99)) for _ in range(rng.randint(2, 4))]
    phrases = [rng.choice(_STEP_WORDS[op]).format(v=v) for op, v in steps]
    joined = ", then ".join(phrases)
    text = rng.choice([
        "Start with {s}, {p}. What is the result?", "Take {s}; {p}. What number do you get?",
        "Begin with the number {s}. Then {p}. What is the final value?",
        "A counter starts at {s}. You {p}. What does the counter show at the end?"]).format(s=start, p=joined)
    # Straight stack code, one `i64.const v; op` pair per phrase in the order of the text: the
    # running value stays on the stack, so the program has no local to carry it between steps
    # (the local form was three times longer and models lost their place in it).
    body = [_c(start)]
    value = start
    for op, v in steps:
        body += [_c(v), _OPS[op]]
        value = value + v if op == "+" else value - v if op == "-" else value * v
    return "chain", text, _program("", body), value


def _poly_text(coeffs: list[int]) -> str:
    """coeffs from the highest power down, e.g. [3, -2, 5] -> 3x^2 - 2x + 5"""
    degree = len(coeffs) - 1
    parts: list[str] = []
    for k, c in enumerate(coeffs):
        power = degree - k
        if c == 0:
            continue
        mag = abs(c)
        var = "" if power == 0 else "x" if power == 1 else f"x^{power}"
        term = f"{mag}{var}" if (mag != 1 or power == 0) else var
        if not parts:
            parts.append(f"-{term}" if c < 0 else term)
        else:
            parts.append(f"- {term}" if c < 0 else f"+ {term}")
    return " ".join(parts)


def gen_poly(rng: random.Random) -> Generated:
    degree = rng.randint(1, 3)
    coeffs = [rng.randint(1, 12) * rng.choice((1, -1))] + [rng.randint(-20, 20) for _ in range(degree)]
    x = rng.randint(-12, 12)
    p = _poly_text(coeffs)
    text = rng.choice(["Evaluate {p} for x = {x}.", "What is the value of {p} when x is {x}?",
                       "Let x = {x}. Compute {p}.", "Compute f({x}) where f(x) = {p}."]).format(p=p, x=x)
    # Horner: ((c0 * x + c1) * x + c2) ...
    body = [*_assign("x", x), _c(coeffs[0])]
    for c in coeffs[1:]:
        body += [_get("x"), "i64.mul", _c(c), "i64.add"]
    answer = sum(c * x ** (degree - k) for k, c in enumerate(coeffs))
    return "poly", text, _program("x", body), answer


def gen_mean(rng: random.Random) -> Generated:
    n = rng.randint(2, 5)
    values = [rng.randint(0, 999) for _ in range(n - 1)]
    last_low = -sum(values) % n
    values.append(last_low + n * rng.randint(0, (999 - last_low) // n))
    rng.shuffle(values)
    text = rng.choice(["What is the average of {v}?", "Compute the mean of {v}.",
                       "Find the arithmetic mean of the numbers {v}.", "What is the mean value of {v}?"]
                      ).format(v=_listing(values))
    body = [_c(values[0])]
    for v in values[1:]:
        body += [_c(v), "i64.add"]
    body += [_c(n), "i64.div_s"]
    return "mean", text, _program("", body), sum(values) // n


_NAMES = ["Ann", "Ben", "Carla", "David", "Emma", "Felix", "Grace", "Hugo", "Iris", "Jack", "Lena", "Omar", "Priya",
          "Sam", "Tara", "Yuki"]
_ITEMS = ["apples", "marbles", "stickers", "cards", "coins", "books", "pencils", "stamps", "shells", "cookies"]


def gen_story(rng: random.Random) -> Generated:
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    form = rng.randrange(4)
    if form == 0:
        a, b, c = rng.randint(0, 500), rng.randint(2, 30), rng.randint(2, 50)
        text = (f"{name} has {a} {item}. {name} buys {b} boxes with {c} {item} in each box. "
                f"How many {item} does {name} have now?")
        body, answer = [_c(a), _c(b), _c(c), "i64.mul", "i64.add"], a + b * c
    elif form == 1:
        b, c = rng.randint(2, 30), rng.randint(2, 20)
        a = b * c + rng.randint(0, 300)
        text = f"{name} had {a} {item} and gave {b} to each of {c} friends. How many {item} are left?"
        body, answer = [_c(a), _c(b), _c(c), "i64.mul", "i64.sub"], a - b * c
    elif form == 2:
        p, n = rng.randint(1, 60), rng.randint(1, 20)
        m = p * n + rng.randint(0, 200)
        text = (f"A shop sells {item} at {p} dollars each. {name} buys {n} of them and pays with {m} dollars. "
                f"How many dollars of change does {name} get?")
        body, answer = [_c(m), _c(p), _c(n), "i64.mul", "i64.sub"], m - p * n
    else:
        p, d, q = rng.randint(2, 80), rng.randint(2, 60), rng.randint(1, 200)
        text = (f"{name} reads {p} pages a day for {d} days and then {q} more pages. "
                f"How many pages has {name} read in total?")
        body, answer = [_c(p), _c(d), "i64.mul", _c(q), "i64.add"], p * d + q
    return "story", text, _program("", body), answer


# ---------------------------------------------------------------- level 3: loops

def gen_sum_range(rng: random.Random) -> Generated:
    a = rng.randint(-100, 500)
    b = a + rng.randint(1, 1500)
    text = rng.choice(["What is the sum of all integers from {a} to {b}?",
                       "Add up every whole number from {a} through {b}.",
                       "Find the sum of the integers between {a} and {b}, inclusive.",
                       "Compute {a} + {a1} + ... + {b}."]).format(a=a, b=b, a1=a + 1)
    body = _for("i", [_c(a)], [_c(b)], [_get("r"), _get("i"), "i64.add", _set("r")]) + [_get("r")]
    return "sum_range", text, _program("i r", body), (a + b) * (b - a + 1) // 2


def gen_sum_squares(rng: random.Random) -> Generated:
    n = rng.randint(2, 2000)
    text = rng.choice(["What is the sum of the squares of the first {n} positive integers?",
                       "Compute 1^2 + 2^2 + ... + {n}^2.", "Add up the squares of the numbers from 1 to {n}.",
                       "Find the sum of k^2 for k from 1 to {n}."]).format(n=n)
    body = _for("i", [_c(1)], [_c(n)], [_get("r"), _get("i"), _get("i"), "i64.mul", "i64.add", _set("r")]) + [
        _get("r")]
    return "sum_squares", text, _program("i r", body), n * (n + 1) * (2 * n + 1) // 6


def gen_factorial(rng: random.Random) -> Generated:
    n = rng.randint(0, 20)
    text = rng.choice(["What is {n} factorial?", "Compute {n}!.", "Find the product of all integers from 1 to {n}.",
                       "Calculate the factorial of {n}.", "What is the value of {n}!?"]).format(n=n)
    body = _assign("r", 1) + _for("i", [_c(2)], [_c(n)], [_get("r"), _get("i"), "i64.mul", _set("r")]) + [_get("r")]
    return "factorial", text, _program("i r", body), math.factorial(n)


def gen_power(rng: random.Random) -> Generated:
    a = rng.randint(2, 30) * (-1 if rng.random() < 0.15 else 1)
    k_max = max(2, int(62 / math.log2(abs(a))))
    k = rng.randint(2, min(k_max, 40))
    text = rng.choice(["What is {a} to the power of {k}?", "Compute {pa}^{k}.",
                       "Calculate {a} raised to the {kth} power.", "What is the {kth} power of {a}?"]
                      ).format(a=a, pa=_paren(a), k=k, kth=_ordinal(k))
    body = _assign("r", 1) + _for("i", [_c(1)], [_c(k)], [_get("r"), _c(a), "i64.mul", _set("r")]) + [_get("r")]
    return "power", text, _program("i r", body), pow(a, k)


def gen_fibonacci(rng: random.Random) -> Generated:
    n = rng.randint(1, 92)
    text = rng.choice(["What is the {nth} Fibonacci number, counting F(0) = 0 and F(1) = 1?",
                       "Compute F({n}) for the Fibonacci sequence with F(0) = 0 and F(1) = 1.",
                       "With F(0) = 0, F(1) = 1 and F(k) = F(k-1) + F(k-2), find F({n}).",
                       "Find term number {n} of the Fibonacci sequence 0, 1, 1, 2, 3, 5, ..., "
                       "where the first 0 is term number 0."]
                      ).format(n=n, nth=_ordinal(n))
    body = _assign("b", 1) + _for("i", [_c(1)], [_c(n)], [
        _get("a"), _get("b"), "i64.add", _set("t"), _get("b"), _set("a"), _get("t"), _set("b")]) + [_get("a")]
    return "fibonacci", text, _program("a b t i", body), _fib(n)


def gen_sum_multiples(rng: random.Random) -> Generated:
    k = rng.randint(2, 20)
    n = rng.randint(k + 1, 5000)
    text = rng.choice(["What is the sum of all positive multiples of {k} below {n}?",
                       "Add up the positive multiples of {k} that are less than {n}.",
                       "Find the sum of every number under {n} that is divisible by {k}, starting from {k}.",
                       "Compute {k} + {k2} + {k3} + ..., summing the multiples of {k} smaller than {n}."]
                      ).format(k=k, n=n, k2=2 * k, k3=3 * k)
    body = _assign("i", k) + _loop([_get("i"), _c(n), "i64.ge_s"], [
        _get("r"), _get("i"), "i64.add", _set("r"), *_inc("i", k)]) + [_get("r")]
    m = (n - 1) // k
    return "sum_multiples", text, _program("i r", body), k * m * (m + 1) // 2


# ---------------------------------------------------------------- level 4: conditionals

def _extreme(kind: str, rng: random.Random) -> Generated:
    values = [_num(rng, 4, 0.3) for _ in range(rng.randint(2, 5))]
    word = "smallest" if kind == "min" else "largest"
    text = rng.choice([f"What is the {word} of {{v}}?", f"Find the {kind}imum of {{v}}.",
                       f"Which number is the {word} among {{v}}?", f"Give the {kind}imum value in the list {{v}}."]
                      ).format(v=_listing(values))
    cmp = "i64.lt_s" if kind == "min" else "i64.gt_s"
    body = _assign("r", values[0])
    for v in values[1:]:
        body += [_c(v), _get("r"), cmp, "if", *_assign("r", v), "end"]
    body.append(_get("r"))
    return kind, text, _program("r", body), (min if kind == "min" else max)(values)


def gen_min(rng: random.Random) -> Generated:
    return _extreme("min", rng)


def gen_max(rng: random.Random) -> Generated:
    return _extreme("max", rng)


def gen_abs(rng: random.Random) -> Generated:
    a = _num(rng, 6, 0.6)
    text = rng.choice(["What is the absolute value of {a}?", "Compute |{a}|.", "Find the distance of {a} from zero.",
                       "How far is {a} from 0 on the number line?"]).format(a=a)
    body = _assign("a", a) + [_get("a"), _c(0), "i64.lt_s", "if (result i64)", _c(0), _get("a"), "i64.sub", "else",
                              _get("a"), "end"]
    return "abs", text, _program("a", body), abs(a)


def gen_distance(rng: random.Random) -> Generated:
    a, b = _num(rng, 5, 0.3), _num(rng, 5, 0.3)
    text = rng.choice(["What is the absolute difference between {a} and {b}?",
                       "How far apart are {a} and {b} on the number line?", "Compute |{a} - {pb}|.",
                       "Find the distance between the numbers {a} and {b}."]).format(a=a, b=b, pb=_paren(b))
    body = _assign("a", a) + _assign("b", b) + [
        _get("a"), _get("b"), "i64.gt_s", "if (result i64)", _get("a"), _get("b"), "i64.sub", "else",
        _get("b"), _get("a"), "i64.sub", "end"]
    return "distance", text, _program("a b", body), abs(a - b)


def gen_parity(rng: random.Random) -> Generated:
    n = _num(rng, 6, 0.2)
    if rng.random() < 0.5:
        text = rng.choice(["Is {n} even? Answer 1 for yes and 0 for no.", "Output 1 if {n} is even and 0 if it is odd.",
                           "Return 1 when {n} is divisible by 2, otherwise 0.",
                           "Is {n} an even number? Give 1 for even, 0 for odd."]).format(n=n)
        yes, no, answer = 1, 0, int(n % 2 == 0)
    else:
        text = rng.choice(["Is {n} odd? Answer 1 for yes and 0 for no.", "Output 1 if {n} is odd and 0 if it is even.",
                           "Return 1 when {n} leaves a remainder when divided by 2, otherwise 0.",
                           "Is {n} an odd number? Give 1 for odd, 0 for even."]).format(n=n)
        yes, no, answer = 0, 1, int(n % 2 != 0)
    body = [_c(n), _c(2), "i64.rem_s", "i64.eqz", "if (result i64)", _c(yes), "else", _c(no), "end"]
    return "parity", text, _program("", body), answer


def gen_gcd(rng: random.Random) -> Generated:
    g = rng.randint(1, 60)
    a, b = g * rng.randint(1, 999), g * rng.randint(1, 999)
    text = rng.choice(["What is the greatest common divisor of {a} and {b}?", "Compute gcd({a}, {b}).",
                       "Find the largest number that divides both {a} and {b}.",
                       "What is the highest common factor of {a} and {b}?"]).format(a=a, b=b)
    body = _assign("a", a) + _assign("b", b) + _gcd_loop("a", "b") + [_get("a")]
    return "gcd", text, _program("a b t", body), math.gcd(a, b)


def gen_lcm(rng: random.Random) -> Generated:
    a, b = rng.randint(1, 5000), rng.randint(1, 5000)
    text = rng.choice(["What is the least common multiple of {a} and {b}?", "Compute lcm({a}, {b}).",
                       "Find the smallest positive number that is a multiple of both {a} and {b}.",
                       "What is the lowest common multiple of {a} and {b}?"]).format(a=a, b=b)
    body = _assign("a", a) + _assign("b", b) + _gcd_loop("a", "b") + [_c(a), _get("a"), "i64.div_s", _c(b), "i64.mul"]
    return "lcm", text, _program("a b t", body), math.lcm(a, b)


def gen_clamp(rng: random.Random) -> Generated:
    lo = rng.randint(-500, 500)
    hi = lo + rng.randint(0, 1000)
    x = rng.randint(lo - 1000, hi + 1000)
    text = rng.choice(["Clamp {x} to the range from {lo} to {hi}.",
                       "Limit {x} so that it is at least {lo} and at most {hi}. What is the result?",
                       "If {x} is below {lo} use {lo}, if it is above {hi} use {hi}, otherwise keep it. "
                       "What number do you get?",
                       "Restrict the value {x} to the interval [{lo}, {hi}]."]).format(x=x, lo=lo, hi=hi)
    body = _assign("r", x) + [_get("r"), _c(lo), "i64.lt_s", "if", *_assign("r", lo), "end",
                              _get("r"), _c(hi), "i64.gt_s", "if", *_assign("r", hi), "end", _get("r")]
    return "clamp", text, _program("r", body), max(lo, min(x, hi))


def gen_collatz(rng: random.Random) -> Generated:
    n = rng.randint(1, 20000)
    text = rng.choice([
        "How many steps does the Collatz process take to reach 1 from {n}? "
        "(Halve an even number, turn an odd number k into 3k + 1.)",
        "Starting at {n}, repeatedly halve the number if it is even or replace it by 3 times it plus 1 if it is odd. "
        "How many steps until you reach 1?",
        "Count the steps of the Collatz sequence starting from {n} until it reaches 1.",
        "Apply n -> n/2 for even n and n -> 3n + 1 for odd n, starting with n = {n}. "
        "After how many steps is n equal to 1?"]
    ).format(n=n)
    body = _assign("n", n) + _loop([_get("n"), _c(1), "i64.eq"], [
        _get("n"), _c(2), "i64.rem_s", "i64.eqz", "if", _get("n"), _c(2), "i64.div_s", _set("n"), "else",
        _get("n"), _c(3), "i64.mul", _c(1), "i64.add", _set("n"), "end", *_inc("c")]) + [_get("c")]
    steps, m = 0, n
    while m != 1:
        m = m // 2 if m % 2 == 0 else 3 * m + 1
        steps += 1
    return "collatz", text, _program("n c", body), steps


# ---------------------------------------------------------------- level 5: number theory

_PRIME_LIMIT = 200_000


def gen_is_prime(rng: random.Random) -> Generated:
    if rng.random() < 0.4:
        n = rng.choice(_primes(_PRIME_LIMIT)[:15000])
    else:
        n = rng.randint(2, 150_000)
    text = rng.choice(["Is {n} a prime number? Answer 1 for yes and 0 for no.",
                       "Output 1 if {n} is prime, otherwise 0.",
                       "Determine whether {n} is prime (1 means prime, 0 means not prime).",
                       "Return 1 if {n} has exactly two positive divisors and 0 otherwise."]).format(n=n)
    body = _assign("n", n) + _prime_test("n", "") + [_get("p")]
    return "is_prime", text, _program("n p d", body), int(_sieve(_PRIME_LIMIT)[n])


def gen_count_primes(rng: random.Random) -> Generated:
    n = rng.randint(2, 3000)
    text = rng.choice(["How many prime numbers are there that are at most {n}?",
                       "Count the primes less than or equal to {n}.",
                       "Find the number of primes between 1 and {n}, inclusive.",
                       "How many primes p satisfy p <= {n}?"]).format(n=n)
    body = _for("m", [_c(2)], [_c(n)], [*_prime_test("m", "1"), _get("c"), _get("p"), "i64.add", _set("c")]) + [
        _get("c")]
    return "count_primes", text, _program("m c p d", body), sum(_sieve(_PRIME_LIMIT)[:n + 1])


def gen_nth_prime(rng: random.Random) -> Generated:
    k = rng.randint(1, 400)
    text = rng.choice(["What is the {kth} prime number?", "Find the {kth} prime.",
                       "List the primes 2, 3, 5, 7, ... in order. Which one is number {k}?",
                       "Compute the {k}-th prime number, counting 2 as the first."]).format(k=k, kth=_ordinal(k))
    body = _assign("m", 1) + _loop([_get("c"), _c(k), "i64.ge_s"], [
        *_inc("m"), *_prime_test("m", "1"), _get("c"), _get("p"), "i64.add", _set("c")]) + [_get("m")]
    return "nth_prime", text, _program("m c p d", body), _primes(_PRIME_LIMIT)[k - 1]


def _divisor_loop(n: int, update: list[str]) -> list[str]:
    return _for("d", [_c(1)], [_c(n)], [_c(n), _get("d"), "i64.rem_s", "i64.eqz", "if", *update, "end"])


def gen_sum_divisors(rng: random.Random) -> Generated:
    n = rng.randint(1, 20000)
    text = rng.choice(["What is the sum of all positive divisors of {n}?",
                       "Add up every divisor of {n}, including 1 and {n}.",
                       "Compute sigma({n}), the sum of the divisors of {n}.",
                       "Find the total of all numbers that divide {n} evenly."]).format(n=n)
    body = _divisor_loop(n, [_get("s"), _get("d"), "i64.add", _set("s")]) + [_get("s")]
    answer = math.prod((p ** (e + 1) - 1) // (p - 1) for p, e in _factorize(n).items())
    return "sum_divisors", text, _program("d s", body), answer


def gen_num_divisors(rng: random.Random) -> Generated:
    n = rng.randint(1, 20000)
    text = rng.choice(["How many positive divisors does {n} have?", "Count the divisors of {n}.",
                       "Find the number of positive integers that divide {n}.",
                       "How many numbers divide {n} without a remainder?"]).format(n=n)
    body = _divisor_loop(n, _inc("c")) + [_get("c")]
    answer = math.prod(e + 1 for e in _factorize(n).values())
    return "num_divisors", text, _program("d c", body), answer


def _digit_number(rng: random.Random) -> int:
    return rng.randint(1, 10 ** rng.randint(1, 15) - 1)


def gen_digit_sum(rng: random.Random) -> Generated:
    n = _digit_number(rng)
    text = rng.choice(["What is the sum of the digits of {n}?", "Add up the digits of {n}.",
                       "Compute the digit sum of {n}.", "Find the total of the decimal digits of {n}."]).format(n=n)
    body = _assign("n", n) + _loop([_get("n"), "i64.eqz"], [
        _get("s"), _get("n"), _c(10), "i64.rem_s", "i64.add", _set("s"), _get("n"), _c(10), "i64.div_s",
        _set("n")]) + [_get("s")]
    return "digit_sum", text, _program("n s", body), sum(int(ch) for ch in str(n))


def gen_digit_count(rng: random.Random) -> Generated:
    n = _digit_number(rng)
    text = rng.choice(["How many digits does {n} have?", "Count the decimal digits of {n}.",
                       "What is the number of digits in {n}?",
                       "Find the length of {n} written in base 10."]).format(n=n)
    body = _assign("n", n) + _loop([_get("n"), "i64.eqz"], [
        *_inc("c"), _get("n"), _c(10), "i64.div_s", _set("n")]) + [_get("c")]
    return "digit_count", text, _program("n c", body), len(str(n))


def gen_reverse_digits(rng: random.Random) -> Generated:
    n = _digit_number(rng)
    while n % 10 == 0:
        n = _digit_number(rng)
    text = rng.choice(["Reverse the digits of {n}.", "What number do you get by writing {n} backwards?",
                       "Write the digits of {n} in reverse order. What is the resulting number?",
                       "Compute the digit reversal of {n}."]).format(n=n)
    body = _assign("n", n) + _loop([_get("n"), "i64.eqz"], [
        _get("r"), _c(10), "i64.mul", _get("n"), _c(10), "i64.rem_s", "i64.add", _set("r"), _get("n"), _c(10),
        "i64.div_s", _set("n")]) + [_get("r")]
    return "reverse_digits", text, _program("n r", body), int(str(n)[::-1])


def gen_largest_prime_factor(rng: random.Random) -> Generated:
    n = rng.randint(2, 1_000_000)
    text = rng.choice(["What is the largest prime factor of {n}?", "Find the biggest prime that divides {n}.",
                       "Compute the greatest prime divisor of {n}.",
                       "Factor {n} into primes. What is the largest prime in the factorization?"]).format(n=n)
    body = _assign("n", n) + _assign("d", 2) + _loop([_get("d"), _get("d"), "i64.mul", _get("n"), "i64.gt_s"], [
        _get("n"), _get("d"), "i64.rem_s", "i64.eqz", "if", _get("n"), _get("d"), "i64.div_s", _set("n"), "else",
        *_inc("d"), "end"]) + [_get("n")]
    return "largest_prime_factor", text, _program("n d", body), max(_factorize(n))


def gen_totient(rng: random.Random) -> Generated:
    n = rng.randint(1, 3000)
    text = rng.choice(["What is Euler's totient of {n}?", "How many integers from 1 to {n} are coprime to {n}?",
                       "Compute phi({n}), the number of k in 1..{n} with gcd(k, {n}) = 1.",
                       "Count the numbers between 1 and {n} that share no common factor with {n} other than 1."]
                      ).format(n=n)
    body = _for("k", [_c(1)], [_c(n)], [
        _get("k"), _set("a"), _c(n), _set("b"), *_gcd_loop("a", "b", "1"),
        _get("a"), _c(1), "i64.eq", "if", *_inc("c"), "end"]) + [_get("c")]
    answer = n
    for p in _factorize(n):
        answer = answer // p * (p - 1)
    return "totient", text, _program("k a b t c", body), answer


GENERATORS: dict[int, list[Callable[[random.Random], Generated]]] = {
    1: [gen_add, gen_sub, gen_mul, gen_div, gen_mod, gen_square],
    2: [gen_expr, gen_chain, gen_poly, gen_mean, gen_story],
    3: [gen_sum_range, gen_sum_squares, gen_factorial, gen_power, gen_fibonacci, gen_sum_multiples],
    4: [gen_min, gen_max, gen_abs, gen_distance, gen_parity, gen_gcd, gen_lcm, gen_clamp, gen_collatz],
    5: [gen_is_prime, gen_count_primes, gen_nth_prime, gen_sum_divisors, gen_num_divisors, gen_digit_sum,
        gen_digit_count, gen_reverse_digits, gen_largest_prime_factor, gen_totient],
}


def problem_id(level: int, kind: str, text: str) -> str:
    """Content-derived id: the same text gets the same id in any set (so splits never leak)."""
    return f"wat-L{level}-{kind}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}"


def kind_names(level: int) -> list[str]:
    """The kinds of problem a level draws from, in the order its generators are listed."""
    return [generator.__name__.removeprefix("gen_") for generator in GENERATORS[level]]


def level_generators(levels: Sequence[int], kinds: Sequence[str] | None = None) -> dict[int, list[Callable]]:
    """The generators each of `levels` draws from, only those of `kinds` where given; a level
    left with none is absent. An unknown kind (or none) is a ValueError listing the known ones."""
    if kinds is None:
        return {level: GENERATORS[level] for level in levels}
    wanted = set(kinds)
    known = {kind for level in levels for kind in kind_names(level)}
    if not wanted or wanted - known:
        raise ValueError(f"unknown kinds {sorted(wanted - known)} for levels {list(levels)}; known: {sorted(known)}")
    narrowed = {level: [g for g, kind in zip(GENERATORS[level], kind_names(level)) if kind in wanted]
                for level in levels}
    return {level: found for level, found in narrowed.items() if found}


def generate_problems(count: int, seed: int = 0, levels: Sequence[int] = (1, 2, 3, 4, 5),
                      max_attempts: int | None = None, kinds: Sequence[str] | None = None) -> list[Problem]:
    """`count` problems with distinct texts, levels drawn uniformly from `levels`, then a kind
    uniformly within the level (a duplicate text is redrawn at the same level). `kinds` keeps
    only those kinds (e.g. ["chain", "expr"] for more practice where a model is weak); a level
    left with none is dropped. Deterministic for a given (seed, levels, kinds): a smaller count
    gives a prefix of a larger one, and `kinds=None` draws exactly as before it existed."""
    levels = tuple(sorted(set(int(x) for x in levels)))
    unknown = [x for x in levels if x not in GENERATORS]
    if unknown or not levels:
        raise ValueError(f"unknown levels {unknown or list(levels)}; known: {sorted(GENERATORS)}")
    generators = level_generators(levels, kinds)
    levels = tuple(generators)
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[Problem] = []
    attempts = 0
    limit = max_attempts if max_attempts is not None else 50 * count + 1000
    pending: int | None = None  # a duplicate is redrawn at the same level (keeps the level mix uniform)
    misses = 0
    while len(out) < count:
        attempts += 1
        if attempts > limit:
            raise ValueError(f"could only generate {len(out)} distinct problems of levels {list(levels)} "
                             f"in {limit} attempts")
        level = pending if pending is not None else rng.choice(levels)
        kind, text, wat, answer = rng.choice(generators[level])(rng)
        if text in seen:
            misses += 1
            pending = level if misses < 100 else None  # a level whose problems run out gives way
            if pending is None:
                misses = 0
            continue
        pending, misses = None, 0
        if not I64_MIN <= answer <= I64_MAX:
            raise AssertionError(f"answer out of i64 range for {text!r}")
        seen.add(text)
        out.append(Problem(problem_id(level, kind, text), level, kind, text, wat, answer))
    return out


def problem_sets(count: int = 10_000, seed: int = 0, levels: Sequence[int] | str = (1, 2, 3, 4, 5),
                 parts: Sequence[dict] | None = None, **_: Any) -> list[dict]:
    """The generated sets a "wat-problems" recipe joins, as [{count, seed, levels, kinds}], from
    its options: `count`/`seed`/`levels` describe one set; `parts` lists several (and then
    replaces them), each may name `kinds` (default: all of its levels' kinds); the recipe's
    other options do not change the sets. Both the recipe and the held-out
    benchmark read a config through this, so the benchmark excludes exactly the texts a model
    was trained on. A malformed part is a ValueError naming its index and field."""
    def levels_of(value: Any, where: str) -> tuple[int, ...]:
        items = value.split(",") if isinstance(value, str) else value
        try:
            out = tuple(int(x) for x in items if str(x).strip())
        except (TypeError, ValueError):
            raise ValueError(f"{where}: levels must be a list of level numbers, got {value!r}") from None
        unknown = [x for x in out if x not in GENERATORS]
        if unknown or not out:
            raise ValueError(f"{where}: unknown levels {unknown or list(out)}; known: {sorted(GENERATORS)}")
        return out

    def kinds_of(value: Any, levels: tuple[int, ...], where: str) -> tuple[str, ...] | None:
        if value is None:
            return None
        items = value.split(",") if isinstance(value, str) else value
        if isinstance(items, (bytes, dict)) or not isinstance(items, Sequence):
            raise ValueError(f"{where}: kinds must be a list of kind names, got {value!r}")
        out = tuple(str(x).strip() for x in items if str(x).strip())
        try:
            level_generators(levels, out)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        return out

    if parts is None:
        return [{"count": int(count), "seed": int(seed), "levels": levels_of(levels, "wat-problems"), "kinds": None}]
    if isinstance(parts, (str, bytes)) or not isinstance(parts, Sequence) or not parts:
        raise ValueError(f"wat-problems.parts must be a non-empty list of {{count, seed, levels}}, got {parts!r}")
    sets = []
    for i, part in enumerate(parts):
        where = f"wat-problems.parts[{i}]"
        if not isinstance(part, dict):
            raise ValueError(f"{where} must be a mapping with count, seed and levels, got {part!r}")
        unknown = sorted(set(part) - {"count", "seed", "levels", "kinds"})
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {unknown}; known: count, seed, levels, kinds")
        if "count" not in part:
            raise ValueError(f"{where}: missing field 'count'")
        try:
            n, s = int(part["count"]), int(part.get("seed", 0))
        except (TypeError, ValueError):
            raise ValueError(f"{where}: count and seed must be integers, got {part!r}") from None
        if n < 0:
            raise ValueError(f"{where}.count must be >= 0, got {n}")
        levels = levels_of(part.get("levels", (1, 2, 3, 4, 5)), where)
        sets.append({"count": n, "seed": s, "levels": levels, "kinds": kinds_of(part.get("kinds"), levels, where)})
    return sets
