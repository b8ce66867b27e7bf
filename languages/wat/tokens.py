"""Structural tokens of WebAssembly text: a fixed vocabulary, lossless on canonical text.

Canonical WAT (see `canonical.py`) is a function of its atom sequence alone: layout
(newlines, indentation, spaces) is not tokenized, `detokenize` re-creates it. So the
tokens are just the atoms and parentheses:

- `(` and `)`;
- keywords and instructions, one token each (`module`, `func`, `local.get`, `i64.add`, ...;
  the i32 / i64 integer instruction set, control, locals, globals, memory);
- integers: a constant in `CONSTANTS` (-16..128 and a few powers) is one token (`1`,
  `-1`, `1024`); any other integer is a sign token (`+` / `-`) followed by digit
  tokens `d0..d9` (no leading zero): `3037000499` -> `+ d3 d0 d3 ...`;
- `offset=N` / `align=N` memory arguments: the token `offset=` / `align=` then the number;
- identifiers: a name token (`$n`, `$main`, `$op_add`, ... and the bare `$`) followed by
  suffix tokens, digits `d0..d9` or letters `#a..#z`, `#_`: `$c12` -> `$c d1 d2`,
  `$a45` -> `$a d4 d5`, `$foo` -> `$f #o #o`. The split is greedy (the longest name
  token whose remainder is all suffix characters), so every identifier made of
  lowercase letters, digits and `_` is representable;
- strings: only those in `STRINGS` (export and import names the project uses).

A digit or suffix token never starts an atom (constants are whole tokens and long
numbers start with a sign token), so detokenizing is unambiguous. Anything else (float
literals, upper-case identifiers, other strings, data segments) raises `CodeError`
(kind "tokenize").
"""
from __future__ import annotations

import re
from typing import Sequence

from codegen.language import CodeError

from .canonical import Atom, SList, format_tree, lex
from .errors import WatError

OPEN, CLOSE = "(", ")"

KEYWORDS = ("module", "func", "param", "result", "local", "global", "mut", "export", "import", "memory", "type",
            "start", "then", "i32", "i64")

CONTROL = ("unreachable", "nop", "block", "loop", "if", "else", "end", "br", "br_if", "br_table", "return", "call",
           "drop", "select")
VARIABLE = ("local.get", "local.set", "local.tee", "global.get", "global.set")
MEMORY = ("memory.size", "memory.grow", "memory.fill", "memory.copy")
LOADS = ("i32.load", "i64.load", "i32.load8_s", "i32.load8_u", "i32.load16_s", "i32.load16_u", "i64.load8_s",
         "i64.load8_u", "i64.load16_s", "i64.load16_u", "i64.load32_s", "i64.load32_u")
STORES = ("i32.store", "i64.store", "i32.store8", "i32.store16", "i64.store8", "i64.store16", "i64.store32")
_INT_OPS = ("const", "eqz", "eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u", "clz", "ctz",
            "popcnt", "add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl", "shr_s",
            "shr_u", "rotl", "rotr")
NUMERIC = tuple(f"{t}.{op}" for t in ("i32", "i64") for op in _INT_OPS) + (
    "i32.wrap_i64", "i64.extend_i32_s", "i64.extend_i32_u", "i32.extend8_s", "i32.extend16_s", "i64.extend8_s",
    "i64.extend16_s", "i64.extend32_s")
INSTRUCTIONS = CONTROL + VARIABLE + MEMORY + LOADS + STORES + NUMERIC
MEMARG = ("offset=", "align=")

PLUS, MINUS = "+", "-"
DIGITS = tuple(f"d{i}" for i in range(10))
LETTERS = tuple(f"#{c}" for c in "abcdefghijklmnopqrstuvwxyz_")
SUFFIXES = DIGITS + LETTERS
CONSTANTS = tuple(range(-16, 129)) + (255, 256, 512, 1000, 1024, 4096, 10000, 32768, 65535, 65536, 100000, 1000000)
CONSTANT_TOKENS = tuple(str(v) for v in CONSTANTS)

# identifiers that are one token (the problem generator's and the LODA compiler's names)
_NAME_WORDS = (
    list("abcdefghijklmnopqrstuvwxyz")
    + ["main", "exit", "loop", "log", "acc", "tmp", "res", "len", "cnt", "done", "next", "outer", "inner",
       "hwm", "abs", "span", "lo", "hi", "base", "search", "cell", "cellw", "power", "over", "sign", "quot", "rem",
       "op_"]
    + [f"op_{op}" for op in ("mov", "add", "sub", "trn", "mul", "div", "dif", "dir", "mod", "pow", "gcd", "lex", "bin",
                             "fac", "log", "nrt", "dgs", "dgr", "equ", "neq", "leq", "geq", "min", "max", "ban",
                             "bor", "bxo", "clr", "fil", "rol", "ror", "seq")]
)
NAMES = ("$",) + tuple(f"${w}" for w in _NAME_WORDS)
STRINGS = ('"main"', '"a"', '"env"', '"log_i64"', '"memory"')

TOKENS: tuple[str, ...] = ((OPEN, CLOSE) + KEYWORDS + INSTRUCTIONS + MEMARG + CONSTANT_TOKENS + (PLUS, MINUS)
                           + SUFFIXES + NAMES + STRINGS)
assert len(set(TOKENS)) == len(TOKENS), "WAT structural tokens must be distinct"

_WORDS = frozenset(KEYWORDS + INSTRUCTIONS)
_CONSTANT_SET = frozenset(CONSTANTS)
_CONSTANT_VALUE = {t: v for t, v in zip(CONSTANT_TOKENS, CONSTANTS)}
_NAME_SET = frozenset(NAMES)
_NAMES_LONGEST_FIRST = sorted(NAMES, key=len, reverse=True)
_SUFFIX_CHAR = {**{str(i): DIGITS[i] for i in range(10)}, **{t[1]: t for t in LETTERS}}
_SUFFIX_TEXT = {t: c for c, t in _SUFFIX_CHAR.items()}
_DIGIT_SET = frozenset(DIGITS)
_STRING_SET = frozenset(STRINGS)
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")


def _error(message: str) -> CodeError:
    return CodeError(message, kind="tokenize")


def integer_tokens(text: str) -> list[str]:
    """Tokens of a canonical decimal integer literal."""
    if not _INTEGER.match(text) or text == "-0":
        raise _error(f"not a canonical integer literal: {text!r}")
    value = int(text)
    if value in _CONSTANT_SET:
        return [str(value)]
    return [MINUS if value < 0 else PLUS] + [DIGITS[int(c)] for c in text.lstrip("-")]


def name_tokens(text: str) -> list[str]:
    """Tokens of an identifier `$...` (greedy: longest name token, then suffix characters)."""
    if text in _NAME_SET:
        return [text]
    for name in _NAMES_LONGEST_FIRST:
        if text.startswith(name):
            rest = text[len(name):]
            if all(c in _SUFFIX_CHAR for c in rest):
                return [name] + [_SUFFIX_CHAR[c] for c in rest]
    raise _error(f"identifier {text!r} is not representable (only lowercase letters, digits and _)")


def atom_tokens(text: str) -> list[str]:
    if text in _WORDS:
        return [text]
    c = text[0]
    if c == "$":
        return name_tokens(text)
    if c == '"':
        if text in _STRING_SET:
            return [text]
        raise _error(f"string {text} is not representable (known strings: {', '.join(STRINGS)})")
    if c.isdigit() or c == "-":
        return integer_tokens(text)
    for prefix in MEMARG:
        if text.startswith(prefix):
            return [prefix] + integer_tokens(text[len(prefix):])
    raise _error(f"unknown keyword or instruction {text!r}")


def tokenize(code: str) -> list[str]:
    """Canonical WAT -> structural tokens. Raises `CodeError` on what is not representable."""
    out: list[str] = []
    try:
        for kind, text, _ in lex(code):
            if kind == "open":
                out.append(OPEN)
            elif kind == "close":
                out.append(CLOSE)
            else:
                out.extend(atom_tokens(text))
    except WatError as error:
        raise CodeError(str(error), kind="tokenize") from None
    return out


def constant_spans(tokens: Sequence[str]) -> list[tuple[int, int, int]]:
    """(start, end, value) of the integer after each `i32.const` / `i64.const` of a valid token list."""
    spans: list[tuple[int, int, int]] = []
    for i, token in enumerate(tokens[:-1]):
        if token not in ("i32.const", "i64.const"):
            continue
        first = tokens[i + 1]
        if first in _CONSTANT_VALUE:
            spans.append((i + 1, i + 2, _CONSTANT_VALUE[first]))
        elif first in (PLUS, MINUS):
            end = i + 2
            while end < len(tokens) and tokens[end] in _DIGIT_SET:
                end += 1
            value = int("".join(_SUFFIX_TEXT[t] for t in tokens[i + 2:end]) or "0")
            spans.append((i + 1, end, -value if first == MINUS else value))
    return spans


def atoms(tokens: Sequence[str]) -> list[str]:
    """Join tokens back into atoms and parentheses."""
    out: list[str] = []
    i, n = 0, len(tokens)

    def digits_from(j: int, what: str) -> tuple[str, int]:
        k = j
        while k < n and tokens[k] in _DIGIT_SET:
            k += 1
        if k == j or tokens[j] == DIGITS[0]:
            raise _error(f"{what} must be followed by digits without a leading zero")
        return "".join(_SUFFIX_TEXT[t] for t in tokens[j:k]), k

    def number_from(j: int, what: str) -> tuple[str, int]:
        if j < n and tokens[j] in _CONSTANT_VALUE:
            return tokens[j], j + 1
        if j < n and tokens[j] in (PLUS, MINUS):
            text, k = digits_from(j + 1, f"sign {tokens[j]!r}")
            return ("-" if tokens[j] == MINUS else "") + text, k
        raise _error(f"{what} must be followed by a number")

    while i < n:
        tok = tokens[i]
        if tok == OPEN or tok == CLOSE or tok in _WORDS or tok in _STRING_SET:
            out.append(tok)
            i += 1
        elif tok in _CONSTANT_VALUE or tok == PLUS or tok == MINUS:
            text, i = number_from(i, "")
            out.append(text)
        elif tok in MEMARG:
            text, i = number_from(i + 1, repr(tok))
            out.append(tok + text)
        elif tok in _NAME_SET:
            j = i + 1
            while j < n and tokens[j] in _SUFFIX_TEXT:
                j += 1
            out.append(tok + "".join(_SUFFIX_TEXT[t] for t in tokens[i + 1:j]))
            i = j
        elif tok in _SUFFIX_TEXT:
            raise _error(f"suffix token {tok!r} without a name or sign before it (position {i})")
        else:
            raise _error(f"unknown WAT token {tok!r} (position {i})")
    return out


def detokenize(tokens: Sequence[str]) -> str:
    """Structural tokens -> canonical WAT text."""
    root: list = []
    stack: list[SList] = []
    items = root
    for tok in atoms(tokens):
        if tok == OPEN:
            node = SList([], 0)
            items.append(node)
            stack.append(node)
            items = node.items
        elif tok == CLOSE:
            if not stack:
                raise _error("unbalanced `)`")
            stack.pop()
            items = stack[-1].items if stack else root
        else:
            items.append(Atom(tok, 0))
    if stack:
        raise _error(f"{len(stack)} unclosed `(`")
    return format_tree(root)
