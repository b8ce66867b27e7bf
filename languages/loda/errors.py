"""Every failure of parsing or evaluating LODA is a `LodaError`.

Callers (the evaluator, the CLI, the data builders) catch `LodaError` alone: the
VM promises that nothing else escapes it. `kind` is a short stable name used as a
key in reports (``check --json`` counts errors by kind).
"""
from __future__ import annotations


class LodaError(Exception):
    kind = "error"

    def __init__(self, message: str, *, line: int | None = None, operation: str | None = None):
        self.line = line
        self.operation = operation
        where = ""
        if operation is not None and line is not None:
            where = f" at line {line} ({operation})"
        elif line is not None:
            where = f" at line {line}"
        super().__init__(message + where)
        self.message = message


class ParseError(LodaError):
    kind = "parse"

    def __init__(self, message: str, *, line: int, column: int = 1, source: str | None = None):
        self.column = column
        self.source = source
        prefix = f"{source}:" if source else ""
        LodaError.__init__(self, message)
        self.line = line
        self.args = (f"{prefix}{line}:{column}: {message}",)

    def __str__(self) -> str:
        return self.args[0]


class UndefinedResultError(LodaError):
    kind = "undefined"


class NumberOverflowError(LodaError):
    kind = "overflow"


class StepLimitError(LodaError):
    kind = "step_limit"


class MemoryLimitError(LodaError):
    kind = "memory_limit"


class UnknownSequenceError(LodaError):
    kind = "unknown_sequence"


class CallRecursionError(LodaError):
    kind = "recursion"


class ForbiddenCallError(LodaError):
    kind = "forbidden_call"


class EvaluationTimeoutError(LodaError):
    kind = "timeout"


class LoopDepthError(LodaError):
    kind = "loop_depth"


class NegativeIndexError(LodaError):
    kind = "negative_index"


class CallArgumentError(LodaError):
    """`seq` argument below the callee's offset."""

    kind = "call_argument"


__all__ = [
    "LodaError", "ParseError", "UndefinedResultError", "NumberOverflowError", "StepLimitError",
    "MemoryLimitError", "UnknownSequenceError", "CallRecursionError", "ForbiddenCallError",
    "EvaluationTimeoutError", "LoopDepthError", "NegativeIndexError", "CallArgumentError",
]
