"""The canonical text of a program: exact match between programs is computed on it."""
from __future__ import annotations

from .parser import parse
from .program import Program


def format_program(program: Program) -> str:
    """One operation per line as `op $a,$b`, two spaces per open loop, no comments,
    `#offset N` first when N != 0. Ends with a newline."""
    lines = []
    if program.offset != 0:
        lines.append(f"#offset {program.offset}")
    depth = 0
    for operation in program.operations:
        if operation.op == "lpe":
            depth -= 1
        lines.append("  " * depth + str(operation))
        if operation.op == "lpb":
            depth += 1
    return "\n".join(lines) + "\n"


def canonicalize(text: str, *, source: str | None = None) -> str:
    """Canonical text of LODA source; raises `ParseError` on invalid input."""
    return format_program(parse(text, source=source))
