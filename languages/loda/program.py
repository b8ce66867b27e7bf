"""The parsed form of a LODA program: operations with typed operands.

Equality ignores source positions and comments, so `parse(format(p)) == p` holds
for any program and two texts that differ only in layout compare equal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class OperandKind(str, Enum):
    CONSTANT = "constant"
    DIRECT = "direct"
    INDIRECT = "indirect"


@dataclass(frozen=True)
class Operand:
    kind: OperandKind
    value: int

    def __str__(self) -> str:
        if self.kind is OperandKind.CONSTANT:
            return str(self.value)
        if self.kind is OperandKind.DIRECT:
            return f"${self.value}"
        return f"$${self.value}"

    @staticmethod
    def constant(value: int) -> "Operand":
        return Operand(OperandKind.CONSTANT, value)

    @staticmethod
    def direct(index: int) -> "Operand":
        return Operand(OperandKind.DIRECT, index)

    @staticmethod
    def indirect(index: int) -> "Operand":
        return Operand(OperandKind.INDIRECT, index)


# target := f(target, source)
ARITHMETIC_OPS = (
    "mov", "add", "sub", "trn", "mul", "div", "dif", "dir", "mod", "pow", "gcd", "lex", "bin",
    "fac", "log", "nrt", "dgs", "dgr", "equ", "neq", "leq", "geq", "min", "max", "ban", "bor", "bxo",
)
REGION_OPS = ("clr", "fil", "rol", "ror")
# name -> (min operands, max operands)
OPERAND_COUNTS: dict[str, tuple[int, int]] = {
    **{op: (2, 2) for op in ARITHMETIC_OPS},
    **{op: (2, 2) for op in REGION_OPS},
    "seq": (2, 2),
    "lpb": (1, 2),
    "lpe": (0, 0),
    "nop": (0, 0),
}
ALL_OPS = tuple(OPERAND_COUNTS)

ONE = Operand(OperandKind.CONSTANT, 1)


@dataclass(frozen=True)
class Operation:
    """One instruction. `lpb $c` is stored as `lpb $c,1` (its meaning); the canonical
    form prints it back without the default length."""

    op: str
    target: Operand | None = None
    source: Operand | None = None
    line: int = field(default=0, compare=False)
    comment: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        if self.target is None:
            return self.op
        if self.source is None or (self.op == "lpb" and self.source == ONE):
            return f"{self.op} {self.target}"
        return f"{self.op} {self.target},{self.source}"


@dataclass(frozen=True)
class Program:
    operations: tuple[Operation, ...]
    offset: int = 0
    # `; ...` lines before the first operation (name, terms, formula), without the `; `
    header: tuple[str, ...] = field(default=(), compare=False)

    def __len__(self) -> int:
        return len(self.operations)

    def calls(self) -> list[int]:
        """Sequence numbers this program calls with `seq`, in order of first use."""
        seen: dict[int, None] = {}
        for operation in self.operations:
            if operation.op == "seq" and operation.source is not None:
                seen.setdefault(operation.source.value, None)
        return list(seen)

    def max_direct_index(self) -> int:
        indices = [
            operand.value
            for operation in self.operations
            for operand in (operation.target, operation.source)
            if operand is not None and operand.kind is not OperandKind.CONSTANT
        ]
        return max(indices, default=0)
