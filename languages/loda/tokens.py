"""Structural tokens of LODA: short, lossless, and decodable by a tiny state machine.

Every canonical program is written as a flat token list:

    [#offset INT] (OP [TARGET SOURCE])*

- one token per opcode (`mov`, `lpb`, `lpe`, ...); the operand count is implied by the
  opcode, so no separators, commas, newlines or indentation are emitted;
- `lpb` always carries two operands (`lpb $c 1`); the default length 1 is printed
  back as `lpb $c` by the canonical form;
- cells `$0..$127` and `$$0..$$15` are single tokens; any other cell index is the prefix
  `$` / `$$` followed by decimal digit tokens `d0..d9` (no leading zero);
- constants in `CONSTANTS` (-16..128 and a few powers) are single tokens (`1`, `-1`,
  `100`); any other integer is a sign token (`+` / `-`) followed by digit tokens.

Digit tokens are distinct from constant tokens and every multi-token number starts
with a prefix token, so the split is unambiguous: a digit run ends at the first token
that is not a digit. Every integer (and every cell index) is representable.
"""
from __future__ import annotations

from typing import Sequence

from .program import ALL_OPS, OPERAND_COUNTS

OFFSET = "#offset"
DIRECT_MAX = 127
INDIRECT_MAX = 15
DIRECT_PREFIX = "$"
INDIRECT_PREFIX = "$$"
PLUS = "+"
MINUS = "-"
DIGITS = tuple(f"d{i}" for i in range(10))
NONZERO_DIGITS = DIGITS[1:]
DIRECT = tuple(f"${i}" for i in range(DIRECT_MAX + 1))
INDIRECT = tuple(f"$${i}" for i in range(INDIRECT_MAX + 1))
CONSTANTS = tuple(range(-16, 129)) + (256, 512, 1000, 1024, 10000, 100000, 1000000)
CONSTANT_TOKENS = tuple(str(v) for v in CONSTANTS)
NONNEG_CONSTANT_TOKENS = tuple(str(v) for v in CONSTANTS if v >= 0)
OPS = tuple(ALL_OPS)
NULLARY_OPS = frozenset(op for op, (lo, hi) in OPERAND_COUNTS.items() if hi == 0)

_CONSTANT_SET = frozenset(CONSTANTS)
_DIGIT_VALUE = {token: i for i, token in enumerate(DIGITS)}
_CONSTANT_VALUE = {token: v for token, v in zip(CONSTANT_TOKENS, CONSTANTS)}
_DIRECT_VALUE = {token: i for i, token in enumerate(DIRECT)}
_INDIRECT_VALUE = {token: i for i, token in enumerate(INDIRECT)}
_OPS_SET = frozenset(OPS)

TOKENS: tuple[str, ...] = (
    OPS + (OFFSET,) + DIRECT + INDIRECT + (DIRECT_PREFIX, INDIRECT_PREFIX) + CONSTANT_TOKENS
    + (PLUS, MINUS) + DIGITS
)
assert len(set(TOKENS)) == len(TOKENS), "LODA structural tokens must be distinct"


class TokenError(ValueError):
    """A token list that is not a LODA program, or text that cannot be tokenized."""


def _digits(value: int) -> list[str]:
    return [DIGITS[int(c)] for c in str(value)]


def integer_tokens(value: int) -> list[str]:
    """A constant: one token when common, else sign + digits."""
    if value in _CONSTANT_SET:
        return [str(value)]
    return [PLUS if value >= 0 else MINUS] + _digits(abs(value))


def cell_tokens(index: int, indirect: bool) -> list[str]:
    if index < 0:
        raise TokenError(f"negative cell index {index}")
    if indirect:
        return [INDIRECT[index]] if index <= INDIRECT_MAX else [INDIRECT_PREFIX] + _digits(index)
    return [DIRECT[index]] if index <= DIRECT_MAX else [DIRECT_PREFIX] + _digits(index)


def _operand_tokens(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("$$"):
        return cell_tokens(_parse_index(text[2:], text), True)
    if text.startswith("$"):
        return cell_tokens(_parse_index(text[1:], text), False)
    try:
        return integer_tokens(int(text))
    except ValueError:
        raise TokenError(f"malformed operand {text!r}") from None


def _parse_index(digits: str, text: str) -> int:
    if not digits.isdigit():
        raise TokenError(f"malformed cell {text!r}")
    return int(digits)


def tokenize(code: str) -> list[str]:
    """Canonical LODA text -> tokens. Raises `TokenError` on lines that are not
    `#offset N`, `op`, `op a` (lpb) or `op a,b` (comments are not allowed: canonicalize first)."""
    tokens: list[str] = []
    for line in code.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            name, _, value = line.partition(" ")
            if name != OFFSET or tokens:
                raise TokenError(f"unexpected directive {line!r}")
            try:
                tokens.append(OFFSET)
                tokens.extend(integer_tokens(int(value)))
            except ValueError:
                raise TokenError(f"malformed directive {line!r}") from None
            continue
        op, _, rest = line.partition(" ")
        if op not in _OPS_SET:
            raise TokenError(f"unknown operation {op!r}")
        operands = [part for part in rest.split(",")] if rest.strip() else []
        lo, hi = OPERAND_COUNTS[op]
        if not lo <= len(operands) <= hi:
            raise TokenError(f"{op} expects {lo}..{hi} operands: {line!r}")
        tokens.append(op)
        for part in operands:
            tokens.extend(_operand_tokens(part))
        if op == "lpb" and len(operands) == 1:
            tokens.append("1")
    return tokens


def constant_spans(tokens: Sequence[str]) -> list[tuple[int, int, int]]:
    """(start, end, value) of each constant source operand of a valid token list, except the
    loop length of `lpb` and the sequence number of `seq` (structure, not parameters)."""
    reader = _Reader(tokens)
    spans: list[tuple[int, int, int]] = []
    if reader.peek() == OFFSET:
        reader.pos += 1
        reader.integer()
    while reader.peek() is not None:
        op = reader.take()
        if op in NULLARY_OPS:
            continue
        reader.cell()
        start = reader.pos
        operand = reader.operand()
        if not operand.startswith("$") and op not in ("lpb", "seq"):
            spans.append((start, reader.pos, int(operand)))
    return spans


class _Reader:
    """Cursor over a token list, used by `detokenize`."""

    def __init__(self, tokens: Sequence[str]):
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise TokenError("token list ends inside an operation")
        self.pos += 1
        return token

    def number(self, first_nonzero: bool = True) -> int:
        token = self.take()
        if token not in _DIGIT_VALUE:
            raise TokenError(f"expected a digit after a prefix, got {token!r}")
        if first_nonzero and token == DIGITS[0]:
            raise TokenError("leading zero in a multi-token number")
        value = _DIGIT_VALUE[token]
        while self.peek() in _DIGIT_VALUE:
            value = value * 10 + _DIGIT_VALUE[self.take()]
        return value

    def integer(self) -> int:
        token = self.take()
        if token in _CONSTANT_VALUE:
            return _CONSTANT_VALUE[token]
        if token == PLUS:
            return self.number()
        if token == MINUS:
            return -self.number()
        raise TokenError(f"expected a constant, got {token!r}")

    def operand(self) -> str:
        token = self.peek()
        if token in _DIRECT_VALUE or token in _INDIRECT_VALUE:
            self.pos += 1
            return token
        if token == DIRECT_PREFIX:
            self.pos += 1
            return f"${self.number()}"
        if token == INDIRECT_PREFIX:
            self.pos += 1
            return f"$${self.number()}"
        return str(self.integer())

    def cell(self) -> str:
        token = self.peek()
        if token in _DIRECT_VALUE or token in _INDIRECT_VALUE or token in (DIRECT_PREFIX, INDIRECT_PREFIX):
            return self.operand()
        raise TokenError(f"expected a cell ($k or $$k), got {token!r}")


def detokenize(tokens: Sequence[str]) -> str:
    """Tokens -> canonical LODA text (the exact inverse of `tokenize` on canonical text).
    A trailing end-of-sequence token `</s>` is ignored. Raises `TokenError` on token lists
    that are not a well-formed program (unknown token, missing operand, unbalanced loops)."""
    if tokens and tokens[-1] == "</s>":
        tokens = tokens[:-1]
    reader = _Reader(tokens)
    lines: list[str] = []
    depth = 0
    if reader.peek() == OFFSET:
        reader.pos += 1
        offset = reader.integer()
        if offset != 0:
            lines.append(f"{OFFSET} {offset}")
    while reader.peek() is not None:
        op = reader.take()
        if op not in _OPS_SET:
            raise TokenError(f"expected an operation, got {op!r}")
        if op in NULLARY_OPS:
            if op == "lpe":
                if depth == 0:
                    raise TokenError("lpe without matching lpb")
                depth -= 1
            lines.append("  " * depth + op)
            continue
        target = reader.cell()
        if op == "seq":
            source = reader.integer()
            if source < 0:
                raise TokenError("seq: second operand must be a non-negative sequence number")
            source_text = str(source)
        else:
            source_text = reader.operand()
        if op == "lpb":
            line = f"lpb {target}" if source_text == "1" else f"lpb {target},{source_text}"
            lines.append("  " * depth + line)
            depth += 1
            if depth > 100:
                raise TokenError("more than 100 nested loops")
        else:
            lines.append("  " * depth + f"{op} {target},{source_text}")
    if depth:
        raise TokenError("lpb without matching lpe")
    return "\n".join(lines) + "\n"
