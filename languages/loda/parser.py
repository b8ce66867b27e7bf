"""LODA text -> `Program`, with errors that name line, column and what was expected."""
from __future__ import annotations

import re

from .errors import ParseError
from .program import ONE, OPERAND_COUNTS, Operand, OperandKind, Operation, Program

_OPERAND = re.compile(r"(\$\$|\$)?(-?\d+)\Z")
_OFFSET = re.compile(r"#offset\s+(-?\d+)\s*\Z")
MAX_LOOP_DEPTH = 100


def _parse_operand(text: str, line: int, column: int, source: str | None) -> Operand:
    match = _OPERAND.match(text)
    if not match:
        raise ParseError(f"malformed operand {text!r}: expected a constant, $k or $$k",
                         line=line, column=column, source=source)
    prefix, number = match.groups()
    try:
        value = int(number)
    except ValueError:  # beyond Python's int-from-text digit limit: far beyond LODA's 2^3840 anyway
        raise ParseError(f"number too long ({len(number)} digits)", line=line, column=column,
                         source=source) from None
    if prefix is None:
        return Operand(OperandKind.CONSTANT, value)
    if value < 0 or number.startswith("-"):
        raise ParseError(f"malformed operand {text!r}: cell index must be non-negative",
                         line=line, column=column, source=source)
    return Operand(OperandKind.DIRECT if prefix == "$" else OperandKind.INDIRECT, value)


def parse(text: str, *, source: str | None = None) -> Program:
    """Parse LODA source. `source` (a file name) is only used in error messages."""
    operations: list[Operation] = []
    header: list[str] = []
    offset = 0
    seen_offset = False
    open_loops: list[int] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        code, sep, comment = raw.partition(";")
        comment_text = comment.strip() if sep else None
        stripped = code.strip()
        if not stripped:
            if comment_text is not None and not operations:
                header.append(comment.rstrip()[1:] if comment.startswith(" ") else comment.rstrip())
            continue
        column = len(code) - len(code.lstrip()) + 1
        if stripped.startswith("#"):
            match = _OFFSET.match(stripped)
            if not match:
                raise ParseError(f"malformed directive {stripped!r}: expected '#offset N'",
                                 line=line_no, column=column, source=source)
            if seen_offset:
                raise ParseError("duplicate #offset directive", line=line_no, column=column, source=source)
            if operations:
                raise ParseError("#offset must come before the first operation",
                                 line=line_no, column=column, source=source)
            if len(match.group(1)) > 100:
                raise ParseError("#offset out of range", line=line_no, column=column, source=source)
            offset = int(match.group(1))
            seen_offset = True
            continue
        name, _, rest = stripped.partition(" ")
        name = name.strip()
        if name not in OPERAND_COUNTS:
            raise ParseError(f"unknown operation {name!r}", line=line_no, column=column, source=source)
        rest = rest.strip()
        texts = [part.strip() for part in rest.split(",")] if rest else []
        lo, hi = OPERAND_COUNTS[name]
        if not lo <= len(texts) <= hi:
            expected = str(lo) if lo == hi else f"{lo} or {hi}"
            raise ParseError(f"{name} expects {expected} operand(s), got {len(texts)}",
                             line=line_no, column=column, source=source)
        operands = []
        search_from = len(code) - len(code.lstrip()) + len(name)
        for part in texts:
            col = code.find(part, search_from) + 1 if part else search_from + 1
            search_from = max(col, search_from)
            operands.append(_parse_operand(part, line_no, col, source))
        target = operands[0] if operands else None
        src = operands[1] if len(operands) > 1 else None
        if target is not None and target.kind is OperandKind.CONSTANT:
            raise ParseError(f"{name}: target must be a cell ($k or $$k), not the constant {target.value}",
                             line=line_no, column=column + len(name) + 1, source=source)
        if name == "seq" and src is not None and (src.kind is not OperandKind.CONSTANT or src.value < 0):
            raise ParseError("seq: second operand must be a non-negative sequence number",
                             line=line_no, column=column, source=source)
        if name == "lpb":
            if src is None:
                src = ONE
            open_loops.append(line_no)
            if len(open_loops) > MAX_LOOP_DEPTH:
                raise ParseError(f"more than {MAX_LOOP_DEPTH} nested loops", line=line_no,
                                 column=column, source=source)
        elif name == "lpe":
            if not open_loops:
                raise ParseError("lpe without matching lpb", line=line_no, column=column, source=source)
            open_loops.pop()
        operations.append(Operation(name, target, src, line=line_no, comment=comment_text))
    if open_loops:
        raise ParseError("lpb without matching lpe", line=open_loops[-1], column=1, source=source)
    return Program(tuple(operations), offset=offset, header=tuple(header))
