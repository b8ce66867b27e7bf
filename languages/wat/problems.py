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

Wordings: `wording="classic"` (the default) is the generator every model before issue 25 was
trained and benchmarked with, unchanged; `wording="diverse"` draws each text from a template
family (`DIVERSE`: word problems with objects and units, numbers with separators and in words,
several steps in a sentence, distractor clauses), and `templates="train"` / `"held-out"` split
the families so that held-out ones measure unseen wordings. Each problem names its family
(`Problem.template`). `python -m languages.wat.problems` writes a problems file for
`python -m codegen.evaluate --problems`.
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
    template: str = ""  # template family: "<kind>/classic" or a diverse family (see DIVERSE)

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
    return "sum_range", text, *_sum_range_program(a, b)


def _sum_range_program(a: int, b: int) -> tuple[str, int]:
    body = _for("i", [_c(a)], [_c(b)], [_get("r"), _get("i"), "i64.add", _set("r")]) + [_get("r")]
    return _program("i r", body), (a + b) * (b - a + 1) // 2


def gen_sum_squares(rng: random.Random) -> Generated:
    n = rng.randint(2, 2000)
    text = rng.choice(["What is the sum of the squares of the first {n} positive integers?",
                       "Compute 1^2 + 2^2 + ... + {n}^2.", "Add up the squares of the numbers from 1 to {n}.",
                       "Find the sum of k^2 for k from 1 to {n}."]).format(n=n)
    return "sum_squares", text, *_sum_squares_program(n)


def _sum_squares_program(n: int) -> tuple[str, int]:
    body = _for("i", [_c(1)], [_c(n)], [_get("r"), _get("i"), _get("i"), "i64.mul", "i64.add", _set("r")]) + [
        _get("r")]
    return _program("i r", body), n * (n + 1) * (2 * n + 1) // 6


def gen_factorial(rng: random.Random) -> Generated:
    n = rng.randint(0, 20)
    text = rng.choice(["What is {n} factorial?", "Compute {n}!.", "Find the product of all integers from 1 to {n}.",
                       "Calculate the factorial of {n}.", "What is the value of {n}!?"]).format(n=n)
    return "factorial", text, *_factorial_program(n)


def _factorial_program(n: int) -> tuple[str, int]:
    body = _assign("r", 1) + _for("i", [_c(2)], [_c(n)], [_get("r"), _get("i"), "i64.mul", _set("r")]) + [_get("r")]
    return _program("i r", body), math.factorial(n)


def gen_power(rng: random.Random) -> Generated:
    a = rng.randint(2, 30) * (-1 if rng.random() < 0.15 else 1)
    k_max = max(2, int(62 / math.log2(abs(a))))
    k = rng.randint(2, min(k_max, 40))
    text = rng.choice(["What is {a} to the power of {k}?", "Compute {pa}^{k}.",
                       "Calculate {a} raised to the {kth} power.", "What is the {kth} power of {a}?"]
                      ).format(a=a, pa=_paren(a), k=k, kth=_ordinal(k))
    return "power", text, *_power_program(a, k)


def _power_program(a: int, k: int) -> tuple[str, int]:
    body = _assign("r", 1) + _for("i", [_c(1)], [_c(k)], [_get("r"), _c(a), "i64.mul", _set("r")]) + [_get("r")]
    return _program("i r", body), pow(a, k)


def gen_fibonacci(rng: random.Random) -> Generated:
    n = rng.randint(1, 92)
    text = rng.choice(["What is the {nth} Fibonacci number, counting F(0) = 0 and F(1) = 1?",
                       "Compute F({n}) for the Fibonacci sequence with F(0) = 0 and F(1) = 1.",
                       "With F(0) = 0, F(1) = 1 and F(k) = F(k-1) + F(k-2), find F({n}).",
                       "Find term number {n} of the Fibonacci sequence 0, 1, 1, 2, 3, 5, ..., "
                       "where the first 0 is term number 0."]
                      ).format(n=n, nth=_ordinal(n))
    return "fibonacci", text, *_fibonacci_program(n)


def _fibonacci_program(n: int) -> tuple[str, int]:
    body = _assign("b", 1) + _for("i", [_c(1)], [_c(n)], [
        _get("a"), _get("b"), "i64.add", _set("t"), _get("b"), _set("a"), _get("t"), _set("b")]) + [_get("a")]
    return _program("a b t i", body), _fib(n)


def gen_sum_multiples(rng: random.Random) -> Generated:
    k = rng.randint(2, 20)
    n = rng.randint(k + 1, 5000)
    text = rng.choice(["What is the sum of all positive multiples of {k} below {n}?",
                       "Add up the positive multiples of {k} that are less than {n}.",
                       "Find the sum of every number under {n} that is divisible by {k}, starting from {k}.",
                       "Compute {k} + {k2} + {k3} + ..., summing the multiples of {k} smaller than {n}."]
                      ).format(k=k, n=n, k2=2 * k, k3=3 * k)
    return "sum_multiples", text, *_sum_multiples_program(k, n)


def _sum_multiples_program(k: int, n: int) -> tuple[str, int]:
    """The sum of the positive multiples of k below n."""
    body = _assign("i", k) + _loop([_get("i"), _c(n), "i64.ge_s"], [
        _get("r"), _get("i"), "i64.add", _set("r"), *_inc("i", k)]) + [_get("r")]
    m = (n - 1) // k
    return _program("i r", body), k * m * (m + 1) // 2


# ---------------------------------------------------------------- level 4: conditionals

def _extreme(kind: str, rng: random.Random) -> Generated:
    values = [_num(rng, 4, 0.3) for _ in range(rng.randint(2, 5))]
    word = "smallest" if kind == "min" else "largest"
    text = rng.choice([f"What is the {word} of {{v}}?", f"Find the {kind}imum of {{v}}.",
                       f"Which number is the {word} among {{v}}?", f"Give the {kind}imum value in the list {{v}}."]
                      ).format(v=_listing(values))
    return kind, text, *_extreme_program(kind, values)


def _extreme_program(kind: str, values: Sequence[int]) -> tuple[str, int]:
    cmp = "i64.lt_s" if kind == "min" else "i64.gt_s"
    body = _assign("r", values[0])
    for v in values[1:]:
        body += [_c(v), _get("r"), cmp, "if", *_assign("r", v), "end"]
    body.append(_get("r"))
    return _program("r", body), (min if kind == "min" else max)(values)


def gen_min(rng: random.Random) -> Generated:
    return _extreme("min", rng)


def gen_max(rng: random.Random) -> Generated:
    return _extreme("max", rng)


def gen_abs(rng: random.Random) -> Generated:
    a = _num(rng, 6, 0.6)
    text = rng.choice(["What is the absolute value of {a}?", "Compute |{a}|.", "Find the distance of {a} from zero.",
                       "How far is {a} from 0 on the number line?"]).format(a=a)
    return "abs", text, *_abs_program(a)


def _abs_program(a: int) -> tuple[str, int]:
    body = _assign("a", a) + [_get("a"), _c(0), "i64.lt_s", "if (result i64)", _c(0), _get("a"), "i64.sub", "else",
                              _get("a"), "end"]
    return _program("a", body), abs(a)


def gen_distance(rng: random.Random) -> Generated:
    a, b = _num(rng, 5, 0.3), _num(rng, 5, 0.3)
    text = rng.choice(["What is the absolute difference between {a} and {b}?",
                       "How far apart are {a} and {b} on the number line?", "Compute |{a} - {pb}|.",
                       "Find the distance between the numbers {a} and {b}."]).format(a=a, b=b, pb=_paren(b))
    return "distance", text, *_distance_program(a, b)


def _distance_program(a: int, b: int) -> tuple[str, int]:
    body = _assign("a", a) + _assign("b", b) + [
        _get("a"), _get("b"), "i64.gt_s", "if (result i64)", _get("a"), _get("b"), "i64.sub", "else",
        _get("b"), _get("a"), "i64.sub", "end"]
    return _program("a b", body), abs(a - b)


def gen_parity(rng: random.Random) -> Generated:
    n = _num(rng, 6, 0.2)
    if rng.random() < 0.5:
        text = rng.choice(["Is {n} even? Answer 1 for yes and 0 for no.", "Output 1 if {n} is even and 0 if it is odd.",
                           "Return 1 when {n} is divisible by 2, otherwise 0.",
                           "Is {n} an even number? Give 1 for even, 0 for odd."]).format(n=n)
        even = True
    else:
        text = rng.choice(["Is {n} odd? Answer 1 for yes and 0 for no.", "Output 1 if {n} is odd and 0 if it is even.",
                           "Return 1 when {n} leaves a remainder when divided by 2, otherwise 0.",
                           "Is {n} an odd number? Give 1 for odd, 0 for even."]).format(n=n)
        even = False
    return "parity", text, *_parity_program(n, even)


def _parity_program(n: int, even: bool) -> tuple[str, int]:
    """1 where n is even (odd, with even=False), else 0."""
    yes, no = (1, 0) if even else (0, 1)
    body = [_c(n), _c(2), "i64.rem_s", "i64.eqz", "if (result i64)", _c(yes), "else", _c(no), "end"]
    return _program("", body), int(n % 2 == 0) if even else int(n % 2 != 0)


def gen_gcd(rng: random.Random) -> Generated:
    g = rng.randint(1, 60)
    a, b = g * rng.randint(1, 999), g * rng.randint(1, 999)
    text = rng.choice(["What is the greatest common divisor of {a} and {b}?", "Compute gcd({a}, {b}).",
                       "Find the largest number that divides both {a} and {b}.",
                       "What is the highest common factor of {a} and {b}?"]).format(a=a, b=b)
    return "gcd", text, *_gcd_program(a, b)


def _gcd_program(a: int, b: int) -> tuple[str, int]:
    body = _assign("a", a) + _assign("b", b) + _gcd_loop("a", "b") + [_get("a")]
    return _program("a b t", body), math.gcd(a, b)


def gen_lcm(rng: random.Random) -> Generated:
    a, b = rng.randint(1, 5000), rng.randint(1, 5000)
    text = rng.choice(["What is the least common multiple of {a} and {b}?", "Compute lcm({a}, {b}).",
                       "Find the smallest positive number that is a multiple of both {a} and {b}.",
                       "What is the lowest common multiple of {a} and {b}?"]).format(a=a, b=b)
    return "lcm", text, *_lcm_program(a, b)


def _lcm_program(a: int, b: int) -> tuple[str, int]:
    body = _assign("a", a) + _assign("b", b) + _gcd_loop("a", "b") + [_c(a), _get("a"), "i64.div_s", _c(b), "i64.mul"]
    return _program("a b t", body), math.lcm(a, b)


def gen_clamp(rng: random.Random) -> Generated:
    lo = rng.randint(-500, 500)
    hi = lo + rng.randint(0, 1000)
    x = rng.randint(lo - 1000, hi + 1000)
    text = rng.choice(["Clamp {x} to the range from {lo} to {hi}.",
                       "Limit {x} so that it is at least {lo} and at most {hi}. What is the result?",
                       "If {x} is below {lo} use {lo}, if it is above {hi} use {hi}, otherwise keep it. "
                       "What number do you get?",
                       "Restrict the value {x} to the interval [{lo}, {hi}]."]).format(x=x, lo=lo, hi=hi)
    return "clamp", text, *_clamp_program(x, lo, hi)


def _clamp_program(x: int, lo: int, hi: int) -> tuple[str, int]:
    body = _assign("r", x) + [_get("r"), _c(lo), "i64.lt_s", "if", *_assign("r", lo), "end",
                              _get("r"), _c(hi), "i64.gt_s", "if", *_assign("r", hi), "end", _get("r")]
    return _program("r", body), max(lo, min(x, hi))


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
    return "collatz", text, *_collatz_program(n)


def _collatz_program(n: int) -> tuple[str, int]:
    body = _assign("n", n) + _loop([_get("n"), _c(1), "i64.eq"], [
        _get("n"), _c(2), "i64.rem_s", "i64.eqz", "if", _get("n"), _c(2), "i64.div_s", _set("n"), "else",
        _get("n"), _c(3), "i64.mul", _c(1), "i64.add", _set("n"), "end", *_inc("c")]) + [_get("c")]
    steps, m = 0, n
    while m != 1:
        m = m // 2 if m % 2 == 0 else 3 * m + 1
        steps += 1
    return _program("n c", body), steps


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
    return "is_prime", text, *_is_prime_program(n)


def _is_prime_program(n: int) -> tuple[str, int]:
    body = _assign("n", n) + _prime_test("n", "") + [_get("p")]
    return _program("n p d", body), int(_sieve(_PRIME_LIMIT)[n])


def gen_count_primes(rng: random.Random) -> Generated:
    n = rng.randint(2, 3000)
    text = rng.choice(["How many prime numbers are there that are at most {n}?",
                       "Count the primes less than or equal to {n}.",
                       "Find the number of primes between 1 and {n}, inclusive.",
                       "How many primes p satisfy p <= {n}?"]).format(n=n)
    return "count_primes", text, *_count_primes_program(n)


def _count_primes_program(n: int) -> tuple[str, int]:
    body = _for("m", [_c(2)], [_c(n)], [*_prime_test("m", "1"), _get("c"), _get("p"), "i64.add", _set("c")]) + [
        _get("c")]
    return _program("m c p d", body), sum(_sieve(_PRIME_LIMIT)[:n + 1])


def gen_nth_prime(rng: random.Random) -> Generated:
    k = rng.randint(1, 400)
    text = rng.choice(["What is the {kth} prime number?", "Find the {kth} prime.",
                       "List the primes 2, 3, 5, 7, ... in order. Which one is number {k}?",
                       "Compute the {k}-th prime number, counting 2 as the first."]).format(k=k, kth=_ordinal(k))
    return "nth_prime", text, *_nth_prime_program(k)


def _nth_prime_program(k: int) -> tuple[str, int]:
    body = _assign("m", 1) + _loop([_get("c"), _c(k), "i64.ge_s"], [
        *_inc("m"), *_prime_test("m", "1"), _get("c"), _get("p"), "i64.add", _set("c")]) + [_get("m")]
    return _program("m c p d", body), _primes(_PRIME_LIMIT)[k - 1]


def _divisor_loop(n: int, update: list[str]) -> list[str]:
    return _for("d", [_c(1)], [_c(n)], [_c(n), _get("d"), "i64.rem_s", "i64.eqz", "if", *update, "end"])


def gen_sum_divisors(rng: random.Random) -> Generated:
    n = rng.randint(1, 20000)
    text = rng.choice(["What is the sum of all positive divisors of {n}?",
                       "Add up every divisor of {n}, including 1 and {n}.",
                       "Compute sigma({n}), the sum of the divisors of {n}.",
                       "Find the total of all numbers that divide {n} evenly."]).format(n=n)
    return "sum_divisors", text, *_sum_divisors_program(n)


def _sum_divisors_program(n: int) -> tuple[str, int]:
    body = _divisor_loop(n, [_get("s"), _get("d"), "i64.add", _set("s")]) + [_get("s")]
    return _program("d s", body), math.prod((p ** (e + 1) - 1) // (p - 1) for p, e in _factorize(n).items())


def gen_num_divisors(rng: random.Random) -> Generated:
    n = rng.randint(1, 20000)
    text = rng.choice(["How many positive divisors does {n} have?", "Count the divisors of {n}.",
                       "Find the number of positive integers that divide {n}.",
                       "How many numbers divide {n} without a remainder?"]).format(n=n)
    return "num_divisors", text, *_num_divisors_program(n)


def _num_divisors_program(n: int) -> tuple[str, int]:
    body = _divisor_loop(n, _inc("c")) + [_get("c")]
    return _program("d c", body), math.prod(e + 1 for e in _factorize(n).values())


def _digit_number(rng: random.Random) -> int:
    return rng.randint(1, 10 ** rng.randint(1, 15) - 1)


def gen_digit_sum(rng: random.Random) -> Generated:
    n = _digit_number(rng)
    text = rng.choice(["What is the sum of the digits of {n}?", "Add up the digits of {n}.",
                       "Compute the digit sum of {n}.", "Find the total of the decimal digits of {n}."]).format(n=n)
    return "digit_sum", text, *_digit_sum_program(n)


def _digit_sum_program(n: int) -> tuple[str, int]:
    body = _assign("n", n) + _loop([_get("n"), "i64.eqz"], [
        _get("s"), _get("n"), _c(10), "i64.rem_s", "i64.add", _set("s"), _get("n"), _c(10), "i64.div_s",
        _set("n")]) + [_get("s")]
    return _program("n s", body), sum(int(ch) for ch in str(n))


def gen_digit_count(rng: random.Random) -> Generated:
    n = _digit_number(rng)
    text = rng.choice(["How many digits does {n} have?", "Count the decimal digits of {n}.",
                       "What is the number of digits in {n}?",
                       "Find the length of {n} written in base 10."]).format(n=n)
    return "digit_count", text, *_digit_count_program(n)


def _digit_count_program(n: int) -> tuple[str, int]:
    body = _assign("n", n) + _loop([_get("n"), "i64.eqz"], [
        *_inc("c"), _get("n"), _c(10), "i64.div_s", _set("n")]) + [_get("c")]
    return _program("n c", body), len(str(n))


def gen_reverse_digits(rng: random.Random) -> Generated:
    n = _digit_number(rng)
    while n % 10 == 0:
        n = _digit_number(rng)
    text = rng.choice(["Reverse the digits of {n}.", "What number do you get by writing {n} backwards?",
                       "Write the digits of {n} in reverse order. What is the resulting number?",
                       "Compute the digit reversal of {n}."]).format(n=n)
    return "reverse_digits", text, *_reverse_digits_program(n)


def _reverse_digits_program(n: int) -> tuple[str, int]:
    body = _assign("n", n) + _loop([_get("n"), "i64.eqz"], [
        _get("r"), _c(10), "i64.mul", _get("n"), _c(10), "i64.rem_s", "i64.add", _set("r"), _get("n"), _c(10),
        "i64.div_s", _set("n")]) + [_get("r")]
    return _program("n r", body), int(str(n)[::-1])


def gen_largest_prime_factor(rng: random.Random) -> Generated:
    n = rng.randint(2, 1_000_000)
    text = rng.choice(["What is the largest prime factor of {n}?", "Find the biggest prime that divides {n}.",
                       "Compute the greatest prime divisor of {n}.",
                       "Factor {n} into primes. What is the largest prime in the factorization?"]).format(n=n)
    return "largest_prime_factor", text, *_largest_prime_factor_program(n)


def _largest_prime_factor_program(n: int) -> tuple[str, int]:
    body = _assign("n", n) + _assign("d", 2) + _loop([_get("d"), _get("d"), "i64.mul", _get("n"), "i64.gt_s"], [
        _get("n"), _get("d"), "i64.rem_s", "i64.eqz", "if", _get("n"), _get("d"), "i64.div_s", _set("n"), "else",
        *_inc("d"), "end"]) + [_get("n")]
    return _program("n d", body), max(_factorize(n))


def gen_totient(rng: random.Random) -> Generated:
    n = rng.randint(1, 3000)
    text = rng.choice(["What is Euler's totient of {n}?", "How many integers from 1 to {n} are coprime to {n}?",
                       "Compute phi({n}), the number of k in 1..{n} with gcd(k, {n}) = 1.",
                       "Count the numbers between 1 and {n} that share no common factor with {n} other than 1."]
                      ).format(n=n)
    return "totient", text, *_totient_program(n)


def _totient_program(n: int) -> tuple[str, int]:
    body = _for("k", [_c(1)], [_c(n)], [
        _get("k"), _set("a"), _c(n), _set("b"), *_gcd_loop("a", "b", "1"),
        _get("a"), _c(1), "i64.eq", "if", *_inc("c"), "end"]) + [_get("c")]
    answer = n
    for p in _factorize(n):
        answer = answer // p * (p - 1)
    return _program("k a b t c", body), answer


GENERATORS: dict[int, list[Callable[[random.Random], Generated]]] = {
    1: [gen_add, gen_sub, gen_mul, gen_div, gen_mod, gen_square],
    2: [gen_expr, gen_chain, gen_poly, gen_mean, gen_story],
    3: [gen_sum_range, gen_sum_squares, gen_factorial, gen_power, gen_fibonacci, gen_sum_multiples],
    4: [gen_min, gen_max, gen_abs, gen_distance, gen_parity, gen_gcd, gen_lcm, gen_clamp, gen_collatz],
    5: [gen_is_prime, gen_count_primes, gen_nth_prime, gen_sum_divisors, gen_num_divisors, gen_digit_sum,
        gen_digit_count, gen_reverse_digits, gen_largest_prime_factor, gen_totient],
}


# ---------------------------------------------------------------- diverse wordings (issue 25)
#
# The classic generators above have four or five fixed sentences per kind, and a model trained on
# them learns the sentences rather than the arithmetic. `wording="diverse"` draws each problem's
# text from a *template family*: the kind's classic wordings (one family, "<kind>/classic") or one
# of the families below, which use word-problem frames with objects and units, other verbs
# ("reduced by", "halve", "double", "lots of"), numbers written with thousands separators or in
# words, several steps in one sentence and, now and then, a distractor clause with a number the
# program must ignore. The program for a kind is the same whatever the wording (the `_*_program`
# helpers the classic generators use), so only the reading of the text varies.
#
# About a quarter of the families (`held_out=True`) are never drawn with `templates="train"`, and
# are the only ones drawn with `templates="held-out"`: a model trained on the first and scored on
# the second is measured on wordings it has never seen, not only on problems it has not seen.

WORDINGS = ("classic", "diverse")
TEMPLATE_SPLITS = ("all", "train", "held-out")

_UNIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
               "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS_WORDS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINAL_WORDS = {3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh", 8: "eighth", 9: "ninth",
                  10: "tenth", 11: "eleventh", 12: "twelfth", 20: "twentieth"}


def number_words(n: int) -> str:
    """0 <= n < 10^12 in English words, as people write them: 312 -> "three hundred twelve",
    45 -> "forty-five", 2006 -> "two thousand six"."""
    if not 0 <= n < 10 ** 12:
        raise ValueError(f"number_words: {n} out of range")
    if n < 20:
        return _UNIT_WORDS[n]
    if n < 100:
        return _TENS_WORDS[n // 10] + ("" if n % 10 == 0 else "-" + _UNIT_WORDS[n % 10])
    if n < 1000:
        return _UNIT_WORDS[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    for scale, word in ((10 ** 9, "billion"), (10 ** 6, "million"), (10 ** 3, "thousand")):
        if n >= scale:
            rest = n % scale
            return number_words(n // scale) + " " + word + ("" if rest == 0 else " " + number_words(rest))
    raise AssertionError(n)


def _show(rng: random.Random, value: int, words: bool = True) -> str:
    """A number as people write it: mostly digits, sometimes with thousands separators (",", or a
    space) where it has four digits or more, sometimes in words (non-negative, below a million)."""
    if value < 0:
        return str(value)
    r = rng.random()
    if r < 0.2 and value >= 1000:
        return f"{value:,}".replace(",", rng.choice([",", ",", ",", " "]))
    if r >= 0.8 and words and value < 1_000_000:
        return number_words(value)
    return str(value)


def _ordinal_text(rng: random.Random, k: int) -> str:
    return _ORDINAL_WORDS[k] if k in _ORDINAL_WORDS and rng.random() < 0.4 else _ordinal(k)


_PEOPLE = ["Maya", "Noah", "Ravi", "Sofia", "Liam", "Chloe", "Mateo", "Zara", "Kofi", "Elena", "Hannah", "Yusuf"]
# (items, a container of them)
_GOODS = [("marbles", "bag"), ("eggs", "carton"), ("books", "tray"), ("bottles", "crate"), ("tiles", "box"),
          ("nails", "packet"), ("oranges", "basket"), ("seeds", "pot"), ("pens", "case"), ("buttons", "jar")]
_VEHICLES = ["train", "truck", "ferry", "cyclist", "bus"]
_DISTRACTORS = ["{name} is {n} years old.", "It is a cold morning in {year}.", "The school has {n} classrooms.",
                "{name}'s house number is {n}.", "The shop opened {n} years ago."]


@dataclass(frozen=True)
class _Family:
    """A template family: `text` formatted with the drawn fields (numbers shown by `_show` unless
    `words` is False) and a context (name, items, container, vehicle)."""
    id: str
    text: str
    held_out: bool = False
    words: bool = True
    option: Any = None  # a family-specific choice passed to the draw (e.g. even/odd, positive values)


# a draw: (rng, family) -> (fields, wat, answer); fields are ints (shown as numbers) or strings
Draw = Callable[[random.Random, _Family], tuple[dict[str, Any], str, int]]


def _pos(rng: random.Random, digits_max: int) -> int:
    return _num(rng, digits_max, 0.0, 1)


def _draw_add(rng, family):
    a, b = _pos(rng, 5), _pos(rng, 5)
    return {"a": a, "b": b}, _program("", [_c(a), _c(b), "i64.add"]), a + b


def _draw_sub(rng, family):
    a, b = _pos(rng, 5), _pos(rng, 5)
    a, b = max(a, b), min(a, b)
    return {"a": a, "b": b}, _program("", [_c(a), _c(b), "i64.sub"]), a - b


def _draw_mul(rng, family):
    a, b = _pos(rng, 4), _pos(rng, 3) if family.option is None else family.option
    return {"a": a, "b": b}, _program("", [_c(a), _c(b), "i64.mul"]), a * b


def _draw_div(rng, family):
    b = rng.randint(2, 99) if family.option is None else family.option
    q = _pos(rng, 4)
    return {"a": b * q, "b": b}, _program("", [_c(b * q), _c(b), "i64.div_s"]), q


def _draw_mod(rng, family):
    a, b = _pos(rng, 5), rng.randint(2, 99)
    return {"a": a, "b": b}, _program("", [_c(a), _c(b), "i64.rem_s"]), a % b


def _draw_square(rng, family):
    a = _pos(rng, 4)
    return {"a": a}, _program("", [_c(a), _c(a), "i64.mul"]), a * a


_STEP_PHRASES = {
    "+": ["add {v}", "add on {v}", "increase it by {v}", "put {v} more on it", "raise it by {v}"],
    "-": ["take away {v}", "reduce it by {v}", "subtract {v}", "knock off {v}", "lower it by {v}"],
    "*": ["multiply it by {v}", "times it by {v}", "scale it up {v} times"],
    "/": ["divide it by {v}", "split it into {v} equal parts and keep one part"],
}
_STEP_SPECIAL = {("*", 2): ["double it"], ("*", 3): ["triple it"], ("/", 2): ["halve it", "take half of it"]}
_JOINERS = [", then ", ", and then ", "; after that ", ", next "]


def _draw_chain(rng, family):
    start = rng.randint(1, 999)
    value, body, phrases = start, [_c(start)], []
    for _ in range(rng.randint(2, 4)):
        op = rng.choice("+-*/")
        if op == "/":  # an exact division only (WAT truncates; people divide what divides)
            divisors = [d for d in range(2, 13) if value % d == 0 and value != 0]
            if not divisors:
                op = "+"
            v = rng.choice(divisors) if divisors else rng.randint(1, 99)
        else:
            v = rng.randint(2, 12) if op == "*" else rng.randint(1, 99)
        options = _STEP_SPECIAL.get((op, v), []) * 2 + _STEP_PHRASES[op]
        phrases.append(rng.choice(options).format(v=_show(rng, v)))
        body += [_c(v), {"+": "i64.add", "-": "i64.sub", "*": "i64.mul", "/": "i64.div_s"}[op]]
        value = value + v if op == "+" else value - v if op == "-" else value * v if op == "*" else value // v
    steps = phrases[0]
    for phrase in phrases[1:]:
        steps += rng.choice(_JOINERS) + phrase
    return {"s": start, "steps": steps, "Steps": steps[0].upper() + steps[1:]}, _program("", body), value


def _draw_story(rng, family):
    form = family.option
    if form == "packs":
        a, b, c = rng.randint(0, 500), rng.randint(2, 30), rng.randint(2, 50)
        return {"a": a, "b": b, "c": c}, _program("", [_c(a), _c(b), _c(c), "i64.mul", "i64.add"]), a + b * c
    if form == "spend":
        n, p = rng.randint(2, 20), rng.randint(1, 60)
        m = n * p + rng.randint(0, 300)
        return {"m": m, "n": n, "p": p}, _program("", [_c(m), _c(n), _c(p), "i64.mul", "i64.sub"]), m - n * p
    if form == "seats":
        r, c = rng.randint(3, 40), rng.randint(5, 40)
        t = rng.randint(0, r * c)
        return {"r": r, "c": c, "t": t}, _program("", [_c(r), _c(c), "i64.mul", _c(t), "i64.sub"]), r * c - t
    if form == "wage":
        p, h, b = rng.randint(8, 60), rng.randint(2, 60), rng.randint(5, 500)
        return {"p": p, "h": h, "b": b}, _program("", [_c(p), _c(h), "i64.mul", _c(b), "i64.add"]), p * h + b
    if form == "tank":
        b, d = rng.randint(2, 90), rng.randint(2, 30)
        a = b * d + rng.randint(0, 2000)
        return {"a": a, "b": b, "d": d}, _program("", [_c(a), _c(b), _c(d), "i64.mul", "i64.sub"]), a - b * d
    if form == "tickets":
        x, p, y, q = rng.randint(1, 20), rng.randint(5, 40), rng.randint(1, 20), rng.randint(2, 30)
        body = [_c(x), _c(p), "i64.mul", _c(y), _c(q), "i64.mul", "i64.add"]
        return {"x": x, "p": p, "y": y, "q": q}, _program("", body), x * p + y * q
    if form == "share":
        b, q, c = rng.randint(2, 12), rng.randint(2, 60), rng.randint(1, 30)
        a = b * q
        return {"a": a, "b": b, "c": c}, _program("", [_c(a), _c(b), "i64.div_s", _c(c), "i64.add"]), q + c
    raise AssertionError(form)


def _draw_expr(rng, family):
    tree = _expr_tree(rng, rng.randint(2, 4))
    expression = _render(tree)
    shown = expression.replace("*", rng.choice(["*", "×", "×"]))
    if rng.random() < 0.3:
        shown = shown.replace(" - ", " − ")
    return {"e": shown}, _program("", _postfix(tree)), _eval_expression(expression)


def _draw_mean(rng, family):
    n = rng.randint(2, 5)
    values = [rng.randint(0, 999) for _ in range(n - 1)]
    last_low = -sum(values) % n
    values.append(last_low + n * rng.randint(0, (999 - last_low) // n))
    rng.shuffle(values)
    body = [_c(values[0])]
    for v in values[1:]:
        body += [_c(v), "i64.add"]
    body += [_c(n), "i64.div_s"]
    return {"n": n, "list": _listing(values)}, _program("", body), sum(values) // n


def _draw_poly(rng, family):
    degree = rng.randint(1, 3)
    coeffs = [rng.randint(1, 12) * rng.choice((1, -1))] + [rng.randint(-20, 20) for _ in range(degree)]
    x = rng.randint(-12, 12)
    body = [*_assign("x", x), _c(coeffs[0])]
    for c in coeffs[1:]:
        body += [_get("x"), "i64.mul", _c(c), "i64.add"]
    answer = sum(c * x ** (degree - k) for k, c in enumerate(coeffs))
    return {"p": _poly_text(coeffs), "x": str(x)}, _program("x", body), answer


def _draw_sum_range(rng, family):
    a = rng.randint(0, 500)
    b = a + rng.randint(1, 1500)
    return {"a": a, "b": b}, *_sum_range_program(a, b)


def _draw_sum_squares(rng, family):
    n = rng.randint(2, 2000 if family.option is None else family.option)
    return {"n": n}, *_sum_squares_program(n)


def _draw_factorial(rng, family):
    n = rng.randint(1, 20)
    return {"n": n}, *_factorial_program(n)


def _draw_power(rng, family):
    a = rng.randint(2, 30)
    k = rng.randint(2, min(max(2, int(62 / math.log2(a))), 40))
    return {"a": a, "k": k, "kth": _ordinal_text(rng, k)}, *_power_program(a, k)


def _draw_fibonacci(rng, family):
    n = rng.randint(1, 92)
    return {"n": n}, *_fibonacci_program(n)


def _draw_sum_multiples(rng, family):
    k = rng.randint(2, 20)
    n = rng.randint(k + 1, 5000)
    return {"k": k, "n": n, "k2": str(2 * k), "k3": str(3 * k)}, *_sum_multiples_program(k, n)


def _draw_extreme(rng, family):
    kind, positive = family.option
    values = [_pos(rng, 4) if positive else _num(rng, 4, 0.3) for _ in range(rng.randint(2, 5))]
    return {"list": _listing(values)}, *_extreme_program(kind, values)


def _draw_abs(rng, family):
    a = -_pos(rng, 6) if rng.random() < 0.7 else _pos(rng, 6)
    return {"a": a}, *_abs_program(a)


def _draw_distance(rng, family):
    if family.option == "positive":
        a, b = rng.randint(0, 120), rng.randint(0, 120)
    else:
        a, b = _num(rng, 5, 0.3), _num(rng, 5, 0.3)
    return {"a": a, "b": b}, *_distance_program(a, b)


def _draw_parity(rng, family):
    n = _pos(rng, 6) if family.option == "even-positive" else _num(rng, 6, 0.2)
    return {"n": n}, *_parity_program(n, family.option != "odd")


def _draw_gcd(rng, family):
    g = rng.randint(1, 60)
    a, b = g * rng.randint(1, 999), g * rng.randint(1, 999)
    return {"a": a, "b": b}, *_gcd_program(a, b)


def _draw_lcm(rng, family):
    a, b = rng.randint(1, 5000), rng.randint(1, 5000)
    return {"a": a, "b": b}, *_lcm_program(a, b)


def _draw_clamp(rng, family):
    lo = rng.randint(-500, 500) if family.option is None else rng.randint(0, 500)
    hi = lo + rng.randint(0, 1000)
    x = rng.randint(lo - 1000, hi + 1000)
    return {"x": x, "lo": lo, "hi": hi}, *_clamp_program(x, lo, hi)


def _draw_collatz(rng, family):
    n = rng.randint(1, 20000)
    return {"n": n}, *_collatz_program(n)


def _draw_is_prime(rng, family):
    n = rng.choice(_primes(_PRIME_LIMIT)[:15000]) if rng.random() < 0.4 else rng.randint(2, 150_000)
    return {"n": n}, *_is_prime_program(n)


def _draw_count_primes(rng, family):
    n = rng.randint(2, 3000)
    return {"n": n}, *_count_primes_program(n)


def _draw_nth_prime(rng, family):
    k = rng.randint(1, 400)
    return {"k": k, "kth": _ordinal_text(rng, k)}, *_nth_prime_program(k)


def _draw_divisor_kind(program: Callable[[int], tuple[str, int]]) -> Draw:
    def draw(rng, family):
        n = rng.randint(1, 20000)
        return {"n": n}, *program(n)
    return draw


def _draw_digits(program: Callable[[int], tuple[str, int]], no_trailing_zero: bool = False) -> Draw:
    def draw(rng, family):
        n = _digit_number(rng)
        while no_trailing_zero and n % 10 == 0:
            n = _digit_number(rng)
        return {"n": n}, *program(n)
    return draw


def _draw_largest_prime_factor(rng, family):
    n = rng.randint(2, 1_000_000)
    return {"n": n}, *_largest_prime_factor_program(n)


def _draw_totient(rng, family):
    n = rng.randint(1, 3000)
    return {"n": n}, *_totient_program(n)


def _families(kind: str, rows: Sequence[tuple]) -> list[_Family]:
    """(name, text[, held_out[, option[, words]]]) rows as families with ids "<kind>/<name>"."""
    out = []
    for row in rows:
        name, text, held_out, option, words = (*row, *(False, None, True)[len(row) - 2:])
        out.append(_Family(f"{kind}/{name}", text, held_out, words, option))
    return out


F = _families
DIVERSE: dict[str, tuple[Draw, list[_Family]]] = {
    # level 1
    "add": (_draw_add, F("add", [
        ("plus-question", "How much is {a} plus {b}?"),
        ("together", "{a} and {b} together make what?", True),
        ("raise", "Raise {a} by {b}. What do you get?"),
        ("more-than", "Which number is {b} more than {a}?"),
        ("symbols", "{a} + {b} = ?", False, None, False),
        ("given-more", "{name} has {a} {items} and is given {b} more. How many {items} does {name} have now?"),
        ("container", "A {container} holds {a} {items}. Someone puts in another {b}. How many {items} are in the "
                      "{container} now?", True),
        ("walk", "A hiker walks {a} metres before lunch and {b} metres after it. How many metres is that in all?"),
    ])),
    "sub": (_draw_sub, F("sub", [
        ("minus-question", "How much is {a} minus {b}?"),
        ("reduced", "{a} reduced by {b} gives what?"),
        ("less-than", "What number is {b} less than {a}?", True),
        ("take-away", "Take away {b} from {a}. What remains?"),
        ("symbols", "{a} - {b} = ?", False, None, False),
        ("spend", "{name} had {a} dollars and spent {b} of them. How many dollars are left?"),
        ("drain", "A tank holds {a} litres. After {b} litres are drained, how many litres are left in it?", True),
        ("exceed", "By how much is {a} bigger than {b}?"),
    ])),
    "mul": (_draw_mul, F("mul", [
        ("times-question", "How much is {a} times {b}?"),
        ("product-with", "Find the product of {a} with {b}."),
        ("lots-of", "What are {a} lots of {b}?", True),
        ("symbols", "{a} × {b} = ?", False, None, False),
        ("boxes", "There are {a} {containers} with {b} {items} in each. How many {items} are there in total?"),
        ("price", "One {item} costs {b} dollars. How many dollars do {a} of them cost?", True),
        ("speed", "A {vehicle} covers {b} km each hour. How many km does it cover in {a} hours?"),
        ("double", "Double {a}. What do you get?", False, 2),
        ("triple", "What is {a} tripled?", True, 3),
        ("dozens", "How many eggs are in {a} dozen?", False, 12),
    ])),
    "div": (_draw_div, F("div", [
        ("over", "What is {a} over {b}?"),
        ("equal-parts", "Split {a} into {b} equal parts. How big is each part?", True),
        ("groups-of", "How many groups of {b} can be made from {a}?"),
        ("symbols", "{a} ÷ {b} = ?", False, None, False),
        ("share", "{name} shares {a} {items} equally among {b} friends. How many {items} does each friend get?"),
        ("pack", "{a} {items} are packed {b} to a {container}. How many {containers} are filled?", True),
        ("halve", "Halve {a}. What do you get?", False, 2),
        ("weeks", "{a} days make how many weeks?", False, 7),
        ("hours", "{a} minutes is how many hours?", True, 60),
    ])),
    "mod": (_draw_mod, F("mod", [
        ("left-over-groups", "What is left over when {a} is put into groups of {b}?"),
        ("divide-remainder", "Divide {a} by {b}. What is the remainder?"),
        ("symbols", "{a} % {b} = ?", False, None, False),
        ("pack", "{a} {items} are packed {b} to a {container}. How many {items} are left over?"),
        ("keep", "{name} shares {a} {items} equally among {b} friends and keeps the rest. How many does {name} "
                 "keep?", True),
        ("residue", "Find the residue of {a} modulo {b}.", True),
    ])),
    "square": (_draw_square, F("square", [
        ("square-it", "Square {a}."),
        ("square-of", "What is the square of {a}?"),
        ("by-itself", "Multiply {a} by itself."),
        ("tile", "A square tile has sides of {a} cm. What is its area in square cm?", True),
        ("symbols", "{a}² = ?", False, None, False),
    ])),
    # level 2
    "chain": (_draw_chain, F("chain", [
        ("think-of", "Think of the number {s}. {Steps}. What number do you have now?"),
        ("begin-at", "Begin at {s}, {steps}. What is the result?"),
        ("display", "The display shows {s}. {Steps}. What does the display show now?"),
        ("steps-first", "If you {steps}, starting from {s}, where do you end up?", True),
        ("terse", "{s}: {steps}. Result?"),
    ])),
    "story": (_draw_story, F("story", [
        ("packs", "{name} has {a} {items} and buys {b} packs of {c}. How many {items} does {name} have now?",
         False, "packs"),
        ("spend", "{name} takes {m} dollars to the market and buys {n} {items} at {p} dollars each. How many "
                  "dollars are left?", False, "spend"),
        ("seats", "A hall has {r} rows of {c} chairs and {t} chairs are taken. How many chairs are still free?",
         False, "seats"),
        ("wage", "{name} is paid {p} dollars an hour, works {h} hours and gets a bonus of {b} dollars. How much is "
                 "that in total?", False, "wage"),
        ("tank", "A pond holds {a} litres of water and loses {b} litres each day. How many litres are left after "
                 "{d} days?", True, "tank"),
        ("tickets", "Adult tickets cost {p} dollars and child tickets {q} dollars. What do {x} adults and {y} "
                    "children pay together?", True, "tickets"),
        ("share", "{name} splits {a} {items} evenly into {b} bags and then adds {c} more to one bag. How many "
                  "{items} are in that bag?", False, "share"),
    ])),
    "expr": (_draw_expr, F("expr", [
        ("comes-to", "Tell me what {e} comes to."),
        ("equals", "{e} = ?"),
        ("value", "Find the value of {e}.", True),
        ("single-number", "Simplify {e} to a single number."),
    ])),
    "mean": (_draw_mean, F("mean", [
        ("average-of", "Find the average of {list}."),
        ("sales", "Over {n} days a stall sold {list} {items}. How many {items} is that per day on average?"),
        ("heights", "{n} plants are {list} cm tall. What is their mean height in cm?", True),
        ("have-mean", "The numbers {list} have what mean?"),
    ])),
    "poly": (_draw_poly, F("poly", [
        ("plug-in", "Plug x = {x} into {p}."),
        ("p-of", "If p(x) = {p}, find p({x})."),
        ("substitute", "Substitute {x} for x in {p}. What do you get?", True),
        ("for-x", "For x = {x}, what does {p} equal?"),
    ])),
    # level 3
    "sum_range": (_draw_sum_range, F("sum_range", [
        ("through", "Add the integers {a} through {b}."),
        ("up-to-including", "What is the total of all whole numbers from {a} up to and including {b}?"),
        ("tower", "The steps of a tower are numbered {a} to {b}. What do all the step numbers add up to?", True),
        ("dots", "{a} + ... + {b} = ? (every integer in between included)", False, None, False),
    ])),
    "sum_squares": (_draw_sum_squares, F("sum_squares", [
        ("k-squared", "Add up k squared for every k from 1 to {n}."),
        ("grid", "How many squares of all sizes are there on a {n} by {n} grid?", True, 200),
        ("superscript", "What is 1² + 2² + ... + {n}²?", False, None, False),
        ("total", "Total the squares of the whole numbers 1 to {n}."),
    ])),
    "factorial": (_draw_factorial, F("factorial", [
        ("multiply-up", "Multiply every whole number from 1 up to {n}."),
        ("arrange", "In how many different ways can {n} books be arranged on a shelf?", True),
        ("bang", "{n}! = ?", False, None, False),
        ("of", "Give the factorial of {n}."),
    ])),
    "power": (_draw_power, F("power", [
        ("raise", "Raise {a} to the power {k}."),
        ("caret", "{a}^{k} = ?", False, None, False),
        ("ordinal", "Take {a} to the {kth} power."),
        ("cells", "A cell divides into {a} cells every hour. Starting from one cell, how many cells are there "
                  "after {k} hours?", True),
    ])),
    "fibonacci": (_draw_fibonacci, F("fibonacci", [
        ("term", "The Fibonacci numbers begin 0, 1, 1, 2, 3. Counting 0 as term 0, what is term {n}?", False, None,
         False),
        ("two-before", "With F(0) = 0 and F(1) = 1, each Fibonacci number is the sum of the two before it. What "
                       "is F({n})?", False, None, False),
        ("give", "Give Fibonacci number F({n}) (F(0) = 0, F(1) = 1).", True, None, False),
    ])),
    "sum_multiples": (_draw_sum_multiples, F("sum_multiples", [
        ("add-all", "Add all multiples of {k} that are smaller than {n}."),
        ("divides", "Sum the positive numbers below {n} that {k} divides evenly.", True),
        ("list", "What is {k} + {k2} + {k3} + ..., counting every multiple of {k} under {n}?"),
    ])),
    # level 4
    "min": (_draw_extreme, F("min", [
        ("which", "Which is the smallest number in {list}?", False, ("min", False)),
        ("night", "The night temperatures were {list} degrees. What was the lowest?", True, ("min", False)),
        ("cheapest", "Shops charge {list} dollars for the same lamp. What is the cheapest price?", False,
         ("min", True)),
        ("least", "Pick the least of {list}.", False, ("min", False)),
    ])),
    "max": (_draw_extreme, F("max", [
        ("which", "Which is the biggest number in {list}?", False, ("max", False)),
        ("day", "The day temperatures were {list} degrees. What was the highest?", False, ("max", False)),
        ("bids", "Bids of {list} dollars were made. What is the highest bid?", True, ("max", True)),
        ("greatest", "Pick the greatest of {list}.", False, ("max", False)),
    ])),
    "abs": (_draw_abs, F("abs", [
        ("without-sign", "How big is {a} without its sign?"),
        ("magnitude", "Give the magnitude of {a}.", True),
        ("bars", "|{a}| = ?", False, None, False),
    ])),
    "distance": (_draw_distance, F("distance", [
        ("differ", "By how much do {a} and {b} differ?"),
        ("units-apart", "How many units apart are {a} and {b} on a number line?"),
        ("lift", "A lift goes from floor {a} to floor {b}. How many floors does it travel?", True, "positive"),
    ])),
    "parity": (_draw_parity, F("parity", [
        ("even", "Is {n} even? Reply with 1 for yes or 0 for no.", False, "even"),
        ("odd", "Is {n} an odd number? 1 means yes, 0 means no.", False, "odd"),
        ("pairs", "Can {n} socks be put into pairs with none left over? Answer 1 (yes) or 0 (no).", True,
         "even-positive"),
        ("two-divides", "Does 2 divide {n} evenly? Give 1 if so, else 0.", False, "even"),
    ])),
    "gcd": (_draw_gcd, F("gcd", [
        ("largest-divides", "What is the largest whole number that divides {a} and {b} without a remainder?"),
        ("highest-divisor", "Give the highest common divisor of {a} and {b}."),
        ("bags", "{a} red beads and {b} blue beads are shared into identical bags with nothing left over. What "
                 "is the largest number of bags?", True),
    ])),
    "lcm": (_draw_lcm, F("lcm", [
        ("smallest-common", "What is the smallest positive number divisible by both {a} and {b}?"),
        ("lights", "Two lights flash every {a} and every {b} seconds. They flash together now. After how many "
                   "seconds do they next flash together?", True),
        ("give", "Give the least common multiple of {a} and {b}."),
    ])),
    "clamp": (_draw_clamp, F("clamp", [
        ("keep-inside", "Keep {x} inside the range {lo} to {hi}. What do you get?"),
        ("dial", "A dial can only show values from {lo} to {hi}. If it is set to {x}, what does it show?", True),
        ("limit", "Limit {x} to at least {lo} and at most {hi}."),
    ])),
    "collatz": (_draw_collatz, F("collatz", [
        ("rule", "Take {n}. If it is even, halve it; if it is odd, triple it and add 1. Repeat until you reach 1. "
                 "How many steps is that?"),
        ("3n1", "How many steps of the 3n + 1 rule bring {n} down to 1?", True),
        ("steps-from", "Starting at {n}, count the Collatz steps needed to reach 1."),
    ])),
    # level 5
    "is_prime": (_draw_is_prime, F("is_prime", [
        ("reply", "Is {n} a prime? Reply 1 for yes, 0 for no."),
        ("only-divisors", "Does {n} have no divisors other than 1 and itself? Answer 1 if so, 0 if not.", True),
        ("prime-or-not", "Prime or not: {n}? Give 1 for prime and 0 otherwise."),
    ])),
    "count_primes": (_draw_count_primes, F("count_primes", [
        ("up-to", "How many primes are there up to {n}?"),
        ("not-exceed", "Count the primes that do not exceed {n}.", True),
        ("at-most", "How many prime numbers are less than or equal to {n}?"),
    ])),
    "nth_prime": (_draw_nth_prime, F("nth_prime", [
        ("which", "Which prime is the {kth} one?"),
        ("in-order", "Write the primes in order from 2. What is prime number {k}?", True),
        ("give", "Give the {kth} prime."),
    ])),
    "sum_divisors": (_draw_divisor_kind(_sum_divisors_program), F("sum_divisors", [
        ("total", "What is the total of the divisors of {n}?"),
        ("factors", "Add up all the factors of {n}, including 1 and {n} itself.", True),
        ("divides", "Find the sum of every number that divides {n}."),
    ])),
    "num_divisors": (_draw_divisor_kind(_num_divisors_program), F("num_divisors", [
        ("how-many", "How many whole numbers divide {n} exactly?"),
        ("factors", "Count the factors of {n}.", True),
        ("number-of", "What is the number of divisors of {n}?"),
    ])),
    "digit_sum": (_draw_digits(_digit_sum_program), F("digit_sum", [
        ("add", "Add the digits of {n} together.", False, None, False),
        ("add-up-to", "What do the digits of {n} add up to?", True, None, False),
        ("sum-in", "Find the sum of the digits in {n}.", False, None, False),
    ])),
    "digit_count": (_draw_digits(_digit_count_program), F("digit_count", [
        ("how-many", "How many digits are there in {n}?", False, None, False),
        ("long", "How many digits long is {n}?", True, None, False),
        ("count", "Count the digits of {n}.", False, None, False),
    ])),
    "reverse_digits": (_draw_digits(_reverse_digits_program, no_trailing_zero=True), F("reverse_digits", [
        ("reverse-order", "Write {n} with its digits in reverse order.", False, None, False),
        ("right-to-left", "What number do you get when you read the digits of {n} from right to left?", True,
         None, False),
        ("flip", "Reverse the order of the digits in {n}.", False, None, False),
    ])),
    "largest_prime_factor": (_draw_largest_prime_factor, F("largest_prime_factor", [
        ("biggest", "What is the biggest prime factor of {n}?"),
        ("largest-dividing", "Which is the largest prime number that divides {n}?", True),
        ("greatest", "Give the greatest prime factor of {n}."),
    ])),
    "totient": (_draw_totient, F("totient", [
        ("coprime", "How many numbers from 1 to {n} are coprime with {n}?"),
        ("phi", "What is phi({n}), Euler's totient of {n}?", True),
        ("only-common", "Count the k from 1 to {n} whose only common divisor with {n} is 1."),
    ])),
}
del F


def template_families(kind: str, templates: str = "all") -> list[str]:
    """The template family ids a kind draws from in `wording="diverse"`, for `templates` "all",
    "train" (without the held-out families) or "held-out" (only them); "<kind>/classic" is the
    kind's classic wordings (never held out)."""
    if templates not in TEMPLATE_SPLITS:
        raise ValueError(f"unknown templates {templates!r}; known: {', '.join(TEMPLATE_SPLITS)}")
    families = DIVERSE[kind][1]
    kept = [f.id for f in families if (templates == "all" or f.held_out == (templates == "held-out"))]
    return kept if templates == "held-out" else [f"{kind}/classic", *kept]


def _with_distractor(rng: random.Random, text: str) -> str:
    """A sentence with a number the answer does not use, before the problem, where the text keeps
    a slot free for it (at most 8 numbers: more would get no slot)."""
    from codegen.number_slots import MAX_SLOTS, prompt_numbers

    if len(prompt_numbers(text, "words")) >= MAX_SLOTS - 1:
        return text
    clause = rng.choice(_DISTRACTORS).format(name=rng.choice(_PEOPLE), n=_show(rng, rng.randint(2, 90)),
                                             year=rng.randint(1990, 2030))
    return f"{clause} {text}"


def _diverse_generator(classic: Callable[[random.Random], Generated], templates: str) -> Callable:
    """A level generator for `wording="diverse"`: a family of the classic generator's kind, drawn
    uniformly among those `templates` allows; returns (kind, text, wat, answer, family id)."""
    kind = classic.__name__.removeprefix("gen_")
    draw, families = DIVERSE[kind]
    allowed = set(template_families(kind, templates))
    choices: list[_Family | None] = [None] if f"{kind}/classic" in allowed else []
    choices += [f for f in families if f.id in allowed]

    def generate(rng: random.Random) -> tuple[str, str, str, int, str]:
        family = rng.choice(choices)
        if family is None:
            return (*classic(rng), f"{kind}/classic")
        fields, wat, answer = draw(rng, family)
        goods = rng.choice(_GOODS)
        context = {"name": rng.choice(_PEOPLE), "items": goods[0], "item": goods[0].rstrip("s"),
                   "container": goods[1], "containers": goods[1] + ("es" if goods[1].endswith(("x", "s", "ch"))
                                                                     else "s"),
                   "vehicle": rng.choice(_VEHICLES)}
        shown = {key: _show(rng, value, family.words) if isinstance(value, int) else value
                 for key, value in fields.items()}
        text = family.text.format(**shown, **context)
        text = text[0].upper() + text[1:]  # a number in words may open the sentence
        if rng.random() < 0.2:
            text = _with_distractor(rng, text)
        return kind, text, wat, answer, family.id
    generate.__name__ = classic.__name__
    return generate


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
                      max_attempts: int | None = None, kinds: Sequence[str] | None = None,
                      wording: str = "classic", templates: str = "all") -> list[Problem]:
    """`count` problems with distinct texts, levels drawn uniformly from `levels`, then a kind
    uniformly within the level (a duplicate text is redrawn at the same level). `kinds` keeps
    only those kinds (e.g. ["chain", "expr"] for more practice where a model is weak); a level
    left with none is dropped. Deterministic for a given (seed, levels, kinds): a smaller count
    gives a prefix of a larger one, and `kinds=None` draws exactly as before it existed.

    `wording="classic"` (the default) is the generator every model before issue 25 was trained and
    benchmarked with, drawn exactly as before; `"diverse"` draws each text from a template family
    (`DIVERSE`, the classic wordings being one family per kind), and `templates` keeps "all"
    families, those for "train" (held-out families left out) or only the "held-out" ones. Every
    problem's family is its `template`."""
    if wording not in WORDINGS:
        raise ValueError(f"unknown wording {wording!r}; known: {', '.join(WORDINGS)}")
    if templates not in TEMPLATE_SPLITS:
        raise ValueError(f"unknown templates {templates!r}; known: {', '.join(TEMPLATE_SPLITS)}")
    if wording == "classic" and templates == "held-out":
        raise ValueError("templates='held-out' needs wording='diverse' (the classic wordings are never held out)")
    levels = tuple(sorted(set(int(x) for x in levels)))
    unknown = [x for x in levels if x not in GENERATORS]
    if unknown or not levels:
        raise ValueError(f"unknown levels {unknown or list(levels)}; known: {sorted(GENERATORS)}")
    generators = level_generators(levels, kinds)
    if wording == "diverse":
        generators = {level: [_diverse_generator(g, templates) for g in found] for level, found in generators.items()}
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
        kind, text, wat, answer, *family = rng.choice(generators[level])(rng)
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
        out.append(Problem(problem_id(level, kind, text), level, kind, text, wat, answer,
                           family[0] if family else f"{kind}/classic"))
    return out


def problem_sets(count: int = 10_000, seed: int = 0, levels: Sequence[int] | str = (1, 2, 3, 4, 5),
                 parts: Sequence[dict] | None = None, wording: str = "classic", templates: str = "all",
                 **_: Any) -> list[dict]:
    """The generated sets a "wat-problems" recipe joins, as [{count, seed, levels, kinds, wording,
    templates}], from its options: `count`/`seed`/`levels`/`wording`/`templates` describe one set;
    `parts` lists several (and then replaces them), each may name `kinds` (default: all of its
    levels' kinds), `wording` and `templates` (default: the recipe's; see `generate_problems`:
    `templates: train` with `wording: diverse` trains without the held-out template families, so
    that they measure unseen wordings); the recipe's
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

    def wording_of(value: Any, options: Sequence[str], field: str, where: str) -> str:
        if value not in options:
            raise ValueError(f"{where}: {field} must be one of {', '.join(options)}, got {value!r}")
        return value

    def check(one: dict, where: str) -> dict:
        if one["wording"] == "classic" and one["templates"] == "held-out":
            raise ValueError(f"{where}: templates 'held-out' needs wording 'diverse'")
        return one

    wording = wording_of(wording, WORDINGS, "wording", "wat-problems")
    templates = wording_of(templates, TEMPLATE_SPLITS, "templates", "wat-problems")
    if parts is None:
        return [check({"count": int(count), "seed": int(seed), "levels": levels_of(levels, "wat-problems"),
                       "kinds": None, "wording": wording, "templates": templates}, "wat-problems")]
    if isinstance(parts, (str, bytes)) or not isinstance(parts, Sequence) or not parts:
        raise ValueError(f"wat-problems.parts must be a non-empty list of {{count, seed, levels}}, got {parts!r}")
    sets = []
    for i, part in enumerate(parts):
        where = f"wat-problems.parts[{i}]"
        if not isinstance(part, dict):
            raise ValueError(f"{where} must be a mapping with count, seed and levels, got {part!r}")
        unknown = sorted(set(part) - {"count", "seed", "levels", "kinds", "wording", "templates"})
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {unknown}; known: count, seed, levels, kinds, wording, "
                             "templates")
        if "count" not in part:
            raise ValueError(f"{where}: missing field 'count'")
        try:
            n, s = int(part["count"]), int(part.get("seed", 0))
        except (TypeError, ValueError):
            raise ValueError(f"{where}: count and seed must be integers, got {part!r}") from None
        if n < 0:
            raise ValueError(f"{where}.count must be >= 0, got {n}")
        levels = levels_of(part.get("levels", (1, 2, 3, 4, 5)), where)
        sets.append(check({"count": n, "seed": s, "levels": levels, "kinds": kinds_of(part.get("kinds"), levels, where),
                           "wording": wording_of(part.get("wording", wording), WORDINGS, "wording", where),
                           "templates": wording_of(part.get("templates", templates), TEMPLATE_SPLITS, "templates",
                                                   where)}, where))
    return sets


def main(argv: Sequence[str] | None = None) -> int:
    """Write generated problems as a JSONL problems file (`{"id", "text", "answer", "level", "kind",
    "template"}` a line), e.g. the unseen-template split for `python -m codegen.evaluate --problems`."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(prog="python -m languages.wat.problems", description=main.__doc__)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--levels", default="1,2,3,4,5")
    parser.add_argument("--kinds", help="only these kinds, e.g. chain,expr")
    parser.add_argument("--wording", choices=WORDINGS, default="classic")
    parser.add_argument("--templates", choices=TEMPLATE_SPLITS, default="all",
                        help="with --wording diverse: 'held-out' gives only the template families a "
                        "'train' recipe never draws (unseen wordings)")
    parser.add_argument("--out", help="JSONL file (default: stdout)")
    args = parser.parse_args(argv)
    try:
        problems = generate_problems(args.count, seed=args.seed, levels=[int(x) for x in args.levels.split(",")],
                                     kinds=args.kinds.split(",") if args.kinds else None, wording=args.wording,
                                     templates=args.templates)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    lines = "".join(json.dumps({"id": p.id, "text": p.text, "answer": p.answer, "level": p.level, "kind": p.kind,
                                "template": p.template}, ensure_ascii=False) + "\n" for p in problems)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(lines)
    else:
        sys.stdout.write(lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
