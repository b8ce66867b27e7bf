"""Canonical text of WebAssembly text (WAT): a layout-only s-expression formatter.

What `format_wat` does:
- drops comments (`;; ...` to the end of the line and nested `(; ... ;)` blocks);
- normalises whitespace: one space between atoms, layout decided by the tree alone;
- writes integer literals in decimal (`0x10`, `1_000`, `+5` -> `16`, `1000`, `5`),
  also in `offset=` / `align=`; everything else (identifiers, keywords, strings, float
  literals) is kept byte for byte;
- keeps the instruction style as written: folded stays folded, flat stays flat.

Layout (readable, and a function of the token sequence only, so that the structural
tokens determine the text exactly):

    (module
      (import "env" "log_i64" (func $log (param i64)))
      (func $main (export "main") (result i64)
        (local $i i64)
        i64.const 1
        local.set $i
        block $exit
          loop $loop
            ...
          end
        end
        local.get $i))

- one module-level field per line, indented by two spaces; closing parentheses are
  attached to the last line (Lisp style);
- a function: its header (name, export, import, type, param, result) on the first line,
  one `(local ...)` per line, then one instruction per line; a flat `block`, `loop`,
  `if` indents what follows by two spaces until its `else` / `end`;
- a folded instruction stays on one line when it has no nested block and its text is at
  most `INLINE_WIDTH` characters; otherwise its operands go one per line, indented;
  folded `block` / `loop` / `if` / `then` / `else` put their bodies one instruction per line;
- the text ends with a newline.

`format_wat` is idempotent: `format_wat(format_wat(x)) == format_wat(x)`.
"""
from __future__ import annotations

import bisect
import re
from typing import Iterator, Union

from .errors import WatParseError, WatSizeError

DEFAULT_MAX_BYTES = 1 << 20
INLINE_WIDTH = 72
INDENT = "  "


class Atom:
    __slots__ = ("text", "pos")

    def __init__(self, text: str, pos: int):
        self.text = text
        self.pos = pos

    def __repr__(self) -> str:
        return f"Atom({self.text!r})"


class SList:
    __slots__ = ("items", "pos", "end")

    def __init__(self, items: list, pos: int, end: int = -1):
        self.items = items
        self.pos = pos  # offset of "("
        self.end = end  # offset of ")"

    @property
    def head(self) -> str | None:
        if self.items and isinstance(self.items[0], Atom):
            return self.items[0].text
        return None

    def __repr__(self) -> str:
        return f"SList({self.items!r})"


Node = Union[Atom, SList]

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<lc>;;[^\n]*)
  | (?P<bc>\(;)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<atom>[^\s()";]+(?:"(?:[^"\\\n]|\\.)*")?)
""", re.VERBOSE)


class SourceMap:
    """Offset -> (line, column), both 1-based."""

    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def position(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.starts, offset) - 1
        return i + 1, offset - self.starts[i] + 1


def _parse_error(text: str, offset: int, reason: str) -> WatParseError:
    line, col = SourceMap(text).position(offset)
    return WatParseError(reason, line=line, column=col)


def check_size(text: str, max_bytes: int | None) -> None:
    """Raise `WatSizeError` if `text` is over `max_bytes` bytes of UTF-8 (cheap: no parsing)."""
    if max_bytes is None:
        return
    if len(text) > max_bytes:  # at least one byte a character
        raise WatSizeError(f"module text too large: at least {len(text)} bytes > limit of {max_bytes} bytes")
    if len(text) * 4 > max_bytes:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > max_bytes:
            raise WatSizeError(f"module text too large: {size} bytes > limit of {max_bytes} bytes")


def lex(text: str) -> Iterator[tuple[str, str, int]]:
    """(kind, text, offset) for "(", ")", atoms and strings; comments and whitespace skipped."""
    pos = 0
    n = len(text)
    match = _TOKEN.match
    while pos < n:
        m = match(text, pos)
        if m is None:
            ch = text[pos]
            if ch == '"':
                raise _parse_error(text, pos, "unterminated string")
            raise _parse_error(text, pos, f"unexpected character {ch!r}")
        kind = m.lastgroup
        if kind == "bc":
            depth, i = 1, pos + 2
            while depth:
                j = text.find(";)", i)
                k = text.find("(;", i)
                if j < 0:
                    raise _parse_error(text, pos, "unterminated block comment")
                if 0 <= k < j:
                    depth += 1
                    i = k + 2
                else:
                    depth -= 1
                    i = j + 2
            pos = i
            continue
        if kind == "atom" and '"' in m.group() and not m.group().endswith('"'):
            raise _parse_error(text, pos, "unterminated string")
        if kind not in ("ws", "lc"):
            yield kind, m.group(), pos
        pos = m.end()


def parse_sexpr(text: str) -> list[Node]:
    """The top-level s-expressions of `text`; raises `WatParseError` on unbalanced parentheses."""
    root: list[Node] = []
    stack: list[SList] = []
    items = root
    for kind, tok, pos in lex(text):
        if kind == "open":
            node = SList([], pos)
            items.append(node)
            stack.append(node)
            items = node.items
        elif kind == "close":
            if not stack:
                raise _parse_error(text, pos, "unexpected `)`")
            stack.pop().end = pos
            items = stack[-1].items if stack else root
        else:
            items.append(Atom(tok, pos))
    if stack:
        raise _parse_error(text, stack[-1].pos, "unclosed `(`: expected `)` before the end of the text")
    return root


# ---------------------------------------------------------------- classification

_INT = re.compile(r"[+-]?(?:\d(?:_?\d)*|0x[0-9a-fA-F](?:_?[0-9a-fA-F])*)\Z")
_MEMARG = re.compile(r"(offset=|align=)(.*)\Z", re.S)

BLOCK_INSTRS = frozenset({"block", "loop", "if", "try", "try_table"})
MIDDLE_INSTRS = frozenset({"else", "catch", "catch_all", "delegate"})
TYPEUSE_INSTRS = BLOCK_INSTRS | {"call_indirect", "return_call_indirect", "select", "call_ref", "return_call_ref"}
TYPEUSE_HEADS = frozenset({"type", "param", "result"})
FOLDED_BLOCKS = frozenset({"block", "loop", "if", "then", "else", "try", "try_table", "do", "catch", "catch_all"})
FUNC_HEADER_HEADS = frozenset({"export", "import", "type", "param", "result"})
# keyword atoms that are immediates of the instruction before them, not instructions
IMMEDIATE_KEYWORDS = frozenset({
    "inf", "+inf", "-inf", "nan", "+nan", "-nan", "func", "extern", "any", "eq", "i31", "struct", "array",
    "none", "noextern", "nofunc", "exn", "noexn", "null", "i8x16", "i16x8", "i32x4", "i64x2", "f32x4", "f64x2",
})


def normalize_atom(tok: str) -> str:
    """Integer literals in decimal; everything else unchanged."""
    c = tok[0]
    if c.isdigit() or ((c == "-" or c == "+") and len(tok) > 1 and tok[1].isdigit()):
        if _INT.match(tok):
            sign = "-" if c == "-" else ""
            body = tok.lstrip("+-").replace("_", "")
            return sign + str(int(body, 16 if body[:2] == "0x" else 10))
        return tok
    if c in "oa":
        m = _MEMARG.match(tok)
        if m and _INT.match(m.group(2)) and m.group(2)[0] not in "+-":
            return m.group(1) + normalize_atom(m.group(2))
    return tok


def is_instruction_atom(tok: str) -> bool:
    """A keyword that starts an instruction (as opposed to an immediate)."""
    c = tok[0]
    if not ("a" <= c <= "z"):
        return False
    if tok in IMMEDIATE_KEYWORDS or tok.startswith(("offset=", "align=", "nan:")):
        return False
    return True


def instruction_groups(items: list[Node]) -> list[list[Node]]:
    """Split an instruction sequence into instructions: a flat keyword with its immediates
    (and type-use lists for block / call_indirect / select), or one folded list."""
    groups: list[list[Node]] = []
    current: list[Node] | None = None
    for item in items:
        if isinstance(item, Atom):
            if current is not None and not is_instruction_atom(item.text):
                current.append(item)
                continue
            current = [item]
            groups.append(current)
        else:
            if (current is not None and isinstance(current[0], Atom) and current[0].text in TYPEUSE_INSTRS
                    and item.head in TYPEUSE_HEADS):
                current.append(item)
                continue
            current = None
            groups.append([item])
    return groups


# ---------------------------------------------------------------- printing


def _flat(node: Node) -> str:
    if isinstance(node, Atom):
        return normalize_atom(node.text)
    return "(" + " ".join(_flat(x) for x in node.items) + ")"


def _has_block(node: SList) -> bool:
    for x in node.items:
        if isinstance(x, Atom):
            if x.text in BLOCK_INSTRS:
                return True
        elif x.head in FOLDED_BLOCKS or _has_block(x):
            return True
    return False


def _format_body(items: list[Node], depth: int, out: list[str]) -> None:
    """Append the lines of an instruction sequence at indentation `depth`."""
    level = depth
    for group in instruction_groups(items):
        first = group[0]
        if isinstance(first, Atom):
            op = first.text
            if op == "end" or op in MIDDLE_INSTRS:
                level = max(depth, level - 1)
            out.append(INDENT * level + " ".join(_flat(x) for x in group))
            if op in BLOCK_INSTRS or op in MIDDLE_INSTRS:
                level += 1
        else:
            _format_folded(first, level, out)


def _format_folded(node: SList, depth: int, out: list[str]) -> None:
    head = node.head
    pad = INDENT * depth
    if head in FOLDED_BLOCKS:
        # header: the keyword with its label and type-use lists, then the body
        items = node.items
        i = 1
        while i < len(items) and (isinstance(items[i], Atom) and not is_instruction_atom(items[i].text)):
            i += 1
        while i < len(items) and isinstance(items[i], SList) and items[i].head in TYPEUSE_HEADS:
            i += 1
        out.append(pad + "(" + " ".join(_flat(x) for x in items[:i]))
        if i == len(items):
            out[-1] += ")"
            return
        _format_body(items[i:], depth + 1, out)
        out[-1] += ")"
        return
    if not _has_block(node):
        flat = _flat(node)
        if len(flat) <= INLINE_WIDTH:
            out.append(pad + flat)
            return
    items = node.items
    i = 1 if head is not None else 0
    while i < len(items) and isinstance(items[i], Atom):
        i += 1
    out.append(pad + "(" + " ".join(_flat(x) for x in items[:i]))
    rest = items[i:]
    if not rest:
        out[-1] += ")"
        return
    _format_body(rest, depth + 1, out)
    out[-1] += ")"


def _format_func(node: SList, depth: int, out: list[str]) -> None:
    items = node.items
    i = 1
    if i < len(items) and isinstance(items[i], Atom) and items[i].text.startswith("$"):
        i += 1
    while i < len(items) and isinstance(items[i], SList) and items[i].head in FUNC_HEADER_HEADS:
        i += 1
    out.append(INDENT * depth + "(" + " ".join(_flat(x) for x in items[:i]))
    if i == len(items):
        out[-1] += ")"
        return
    while i < len(items) and isinstance(items[i], SList) and items[i].head == "local":
        out.append(INDENT * (depth + 1) + _flat(items[i]))
        i += 1
    _format_body(items[i:], depth + 1, out)
    out[-1] += ")"


def _format_field(node: Node, depth: int, out: list[str]) -> None:
    if isinstance(node, SList) and node.head == "func":
        _format_func(node, depth, out)
    else:
        out.append(INDENT * depth + _flat(node))


def _format_top(node: Node, out: list[str]) -> None:
    if isinstance(node, SList) and node.head == "module":
        items = node.items
        i = 1
        while i < len(items) and isinstance(items[i], Atom):
            i += 1  # `$name`, or `binary` / `quote` followed by strings
        out.append("(" + " ".join(_flat(x) for x in items[:i]))
        if i == len(items):
            out[-1] += ")"
            return
        for field in items[i:]:
            _format_field(field, 1, out)
        out[-1] += ")"
    else:
        _format_field(node, 0, out)


def format_tree(nodes: list[Node]) -> str:
    out: list[str] = []
    for node in nodes:
        _format_top(node, out)
    return "\n".join(out) + "\n" if out else ""


def format_wat(text: str, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> str:
    """The canonical text of `text` (see the module docstring).

    Raises `WatSizeError` over `max_bytes` (checked before parsing) and `WatParseError`
    (with line and column) on unbalanced parentheses, unterminated strings or comments,
    or an empty text. Does not validate the module: see `languages.wat.validator.validate`."""
    check_size(text, max_bytes)
    nodes = parse_sexpr(text)
    if not nodes:
        raise WatParseError("empty module text: expected `(module ...)`", line=1, column=1)
    return format_tree(nodes)


canonicalize = format_wat
