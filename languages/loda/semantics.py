"""Exact LODA arithmetic on Python ints: one pure function per operation.

`target := f(target, source)`. Every function takes two ints and returns an int, or
raises `UndefinedResultError` where the reference yields infinity (division by zero,
log of a non-positive number, ...) and `NumberOverflowError` where the result's
magnitude reaches 2**MAX_BITS. The vectors in shared/loda/semantics/*.csv are the
specification; tests check every row.

The functions never do unbounded work: pow, bin and fac estimate the size of the
result before computing it, and the digit/divisor loops are bounded by the bit length
of bounded inputs. Inputs are assumed to be bounded (|x| < 2**MAX_BITS) as they are in
the VM; the functions stay correct (if slower) for larger inputs.
"""
from __future__ import annotations

import math

from .errors import NumberOverflowError, UndefinedResultError

MAX_BITS = 3840
BOUND = 1 << MAX_BITS  # |value| must stay strictly below this


def _overflow(name: str, bits: int = MAX_BITS) -> NumberOverflowError:
    return NumberOverflowError(f"{name}: result magnitude reaches 2^{bits}")


def check(value: int, name: str = "result", bits: int = MAX_BITS) -> int:
    """`value` itself, or NumberOverflowError where |value| >= 2**bits."""
    bound = BOUND if bits == MAX_BITS else 1 << bits
    if -bound < value < bound:
        return value
    raise _overflow(name, bits)


def mov(a: int, b: int) -> int:
    return b


def add(a: int, b: int, bits: int = MAX_BITS) -> int:
    return check(a + b, "add", bits)


def sub(a: int, b: int, bits: int = MAX_BITS) -> int:
    return check(a - b, "sub", bits)


def trn(a: int, b: int, bits: int = MAX_BITS) -> int:
    """Truncated subtraction: max(a - b, 0)."""
    r = a - b
    return check(r, "trn", bits) if r > 0 else 0


def mul(a: int, b: int, bits: int = MAX_BITS) -> int:
    return check(a * b, "mul", bits)


def div(a: int, b: int) -> int:
    """Division truncating toward zero."""
    if b == 0:
        raise UndefinedResultError("div: division by zero")
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def mod(a: int, b: int) -> int:
    """Remainder with the sign of the dividend (a - b*div(a, b))."""
    if b == 0:
        raise UndefinedResultError("mod: division by zero")
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def dif(a: int, b: int) -> int:
    """Conditional division: a/b if b divides a, else a (and a for b = 0)."""
    if b == 0:
        return a
    q = div(a, b)
    return q if q * b == a else a


def dir(a: int, b: int) -> int:  # LODA's name
    """Repeated conditional division: divide by b while b divides."""
    if a == 0 or b in (-1, 0, 1):
        return a
    while True:
        q = div(a, b)
        if q * b != a:
            return a
        a = q


def pow(a: int, b: int, bits: int = MAX_BITS) -> int:  # LODA's name
    """a**b; 0**0 = 1, 0**negative undefined, other negative exponents give 0
    except for bases 1 and -1."""
    if a == 0:
        if b > 0:
            return 0
        if b == 0:
            return 1
        raise UndefinedResultError("pow: zero to a negative power")
    if a == 1:
        return 1
    if a == -1:
        return -1 if b & 1 else 1
    if b < 0:
        return 0
    # |a| >= 2: |a**b| >= 2**((bits-1)*b); refuse before computing anything huge
    if (abs(a).bit_length() - 1) * b >= bits:
        raise _overflow("pow", bits)
    return check(a ** b, "pow", bits)


def gcd(a: int, b: int) -> int:
    return math.gcd(a, b)


def lex(a: int, b: int) -> int:
    """Largest k such that b**k divides a (0 for a = 0 or |b| <= 1)."""
    if a == 0:
        return 0
    a = abs(a)
    b = abs(b)
    if b <= 1:
        return 0
    k = 0
    while a % b == 0:
        a //= b
        k += 1
    return k


def bin(n: int, k: int, bits: int = MAX_BITS) -> int:  # LODA's name
    """Binomial coefficient, extended to negative arguments (Kronenburg, arXiv:1105.3689)."""
    sign = 1
    if n < 0:
        if k >= 0:
            sign = -1 if k & 1 else 1
            n = k - n - 1
        elif k <= n:
            sign = -1 if (n - k) & 1 else 1
            n, k = -k - 1, n - k
        else:
            return 0
    if k < 0 or n < k:
        return 0
    if n < 2 * k:
        k = n - k
    # here 0 <= k <= n/2, so C(n, k) >= 2**k and the running product below only grows
    if k >= bits:
        raise _overflow("bin", bits)
    if n.bit_length() * k <= 4 * bits:
        return check(sign * math.comb(n, k), "bin", bits)
    bound = 1 << bits
    r = 1
    for i in range(k):
        r = r * (n - i) // (i + 1)
        if r >= bound:
            raise _overflow("bin", bits)
    return sign * r


def fac(n: int, k: int, bits: int = MAX_BITS) -> int:
    """Rising factorial n(n+1)...(n+k-1) for k >= 0, falling n(n-1)...(n+k+1) for k < 0."""
    if k == 0:
        return 1
    if k > 0:
        lo, hi = n, n + k - 1
    else:
        lo, hi = n + k + 1, n
    if lo <= 0 <= hi:
        return 0
    count = hi - lo + 1
    # no factor is zero, every factor has magnitude >= 1 and at most one has magnitude 1
    if count > bits + 1:
        raise _overflow("fac", bits)
    small = lo if lo > 0 else -hi  # the factor of least magnitude
    if (count - 1) * (small.bit_length() - 1) >= bits:
        raise _overflow("fac", bits)
    bound = 1 << bits
    r = 1
    for f in range(lo, hi + 1):
        r *= f
        if not -bound < r < bound:
            raise _overflow("fac", bits)
    return r


def log(a: int, b: int) -> int:
    """floor(log_b(a)) for a >= 1, b >= 2."""
    if a < 1 or b < 2:
        raise UndefinedResultError("log: undefined for a value below 1 or a base below 2")
    if a < b:
        return 0
    if b == 2:
        return a.bit_length() - 1
    # estimate from bit lengths, then correct
    k = int((a.bit_length() - 1) / math.log2(b))
    k = max(k - 1, 0)
    p = b ** k
    while p > a:
        k -= 1
        p //= b
    while p * b <= a:
        p *= b
        k += 1
    return k


def nrt(a: int, b: int) -> int:
    """floor(a^(1/b)) for a >= 0, b >= 1."""
    if a < 0 or b < 1:
        raise UndefinedResultError("nrt: undefined for a negative radicand or a non-positive degree")
    if b == 1 or a < 2:
        return a
    if b == 2:
        return math.isqrt(a)
    if b >= a.bit_length():
        return 1  # 2**b > a
    # Newton's method from an upper bound
    x = 1 << (-(-a.bit_length() // b))  # >= a^(1/b)
    while True:
        y = ((b - 1) * x + a // x ** (b - 1)) // b
        if y >= x:
            break
        x = y
    while x ** b > a:
        x -= 1
    while (x + 1) ** b <= a:
        x += 1
    return x


def _check_base(b: int, name: str) -> None:
    if b < 2:
        raise UndefinedResultError(f"{name}: base must be at least 2")


def dgs(a: int, b: int) -> int:
    """Digit sum of |a| in base b, with the sign of a."""
    _check_base(b, "dgs")
    x = abs(a)
    if b == 10:
        r = sum(map(int, str(x)))
    elif b == 2:
        r = x.bit_count()
    else:
        r = 0
        while x:
            x, d = divmod(x, b)
            r += d
    return -r if a < 0 else r


def dgr(a: int, b: int) -> int:
    """Digital root of |a| in base b, with the sign of a."""
    _check_base(b, "dgr")
    if a == 0:
        return 0
    r = 1 + (abs(a) - 1) % (b - 1)
    return -r if a < 0 else r


def equ(a: int, b: int) -> int:
    return 1 if a == b else 0


def neq(a: int, b: int) -> int:
    return 1 if a != b else 0


def leq(a: int, b: int) -> int:
    return 1 if a <= b else 0


def geq(a: int, b: int) -> int:
    return 1 if a >= b else 0


def min(a: int, b: int) -> int:  # LODA's name
    return b if b < a else a


def max(a: int, b: int) -> int:  # LODA's name
    return b if b > a else a


def ban(a: int, b: int, bits: int = MAX_BITS) -> int:
    """Bitwise and (two's complement, as Python ints)."""
    return check(a & b, "ban", bits)


def bor(a: int, b: int, bits: int = MAX_BITS) -> int:
    return check(a | b, "bor", bits)


def bxo(a: int, b: int, bits: int = MAX_BITS) -> int:
    return check(a ^ b, "bxo", bits)


OPERATIONS = {
    "mov": mov, "add": add, "sub": sub, "trn": trn, "mul": mul, "div": div, "dif": dif, "dir": dir,
    "mod": mod, "pow": pow, "gcd": gcd, "lex": lex, "bin": bin, "fac": fac, "log": log, "nrt": nrt,
    "dgs": dgs, "dgr": dgr, "equ": equ, "neq": neq, "leq": leq, "geq": geq, "min": min, "max": max,
    "ban": ban, "bor": bor, "bxo": bxo,
}


# the operations whose result can exceed their arguments' magnitude take `bits`
GROWING = frozenset(("add", "sub", "trn", "mul", "pow", "bin", "fac", "ban", "bor", "bxo"))


def calc(op: str, a: int, b: int, bits: int = MAX_BITS) -> int:
    """Apply arithmetic operation `op` (KeyError for a non-arithmetic name); results of
    magnitude >= 2**bits raise NumberOverflowError."""
    if op in GROWING:
        return OPERATIONS[op](a, b, bits)
    return OPERATIONS[op](a, b)
