"""What the LODA VM and the plain interpreter share: limits, the bound on cell indices, error
annotation and the forbidden-call check. Both executors import it; neither imports the other
at module level (the VM falls back on the interpreter only for programs it cannot compile)."""
from __future__ import annotations

from dataclasses import dataclass

from . import semantics
from .errors import ForbiddenCallError, LodaError
from .program import Program

MAX_INDEX = (1 << 63) - 1  # cell indices are 64-bit in the reference


@dataclass(frozen=True)
class Limits:
    """Resource limits of one evaluation. `max_steps` is per term (calls included),
    `max_memory` in cells, `max_bits`: |value| must stay below 2**max_bits, `timeout`:
    wall-clock seconds for one `terms()` / `term()` call (None: no limit)."""

    max_steps: int = 10_000_000
    max_memory: int = 100_000
    max_bits: int = semantics.MAX_BITS
    timeout: float | None = 10.0
    max_cache: int = 500_000  # entries of the call-result cache before it is cleared


class InternalError(LodaError):
    """A bug in the VM surfaced as a LodaError (so callers still only catch LodaError)."""

    kind = "internal"


def annotate(error: LodaError, line: int | None, operation: str | None, sequence: int | None = None) -> LodaError:
    """Attach the failing operation (and the program it belongs to) to an error."""
    error.line = line
    error.operation = operation
    if sequence is not None and getattr(error, "sequence", None) is None:
        error.sequence = sequence
    where = ""
    if operation is not None and line is not None:
        where = f" at line {line} ({operation})"
    elif line is not None:
        where = f" at line {line}"
    elif operation is not None:
        where = f" ({operation})"
    seq = getattr(error, "sequence", None)
    if seq is not None:
        where += f" in A{seq:06d}"
    error.args = (error.message + where,)
    return error


def reachable_forbidden(program: Program, library, forbidden: frozenset[int]) -> None:
    """Raise ForbiddenCallError where `program` can reach a forbidden sequence through
    `seq`, directly or through library programs (whether or not the call would run)."""
    roots = {}
    for operation in program.operations:
        if operation.op == "seq" and operation.source is not None:
            roots.setdefault(operation.source.value, operation)
    for root, operation in roots.items():
        stack = [(root, (root,))]
        seen: set[int] = set()
        while stack:
            number, path = stack.pop()
            if number in forbidden:
                via = " through " + " -> ".join(f"A{k:06d}" for k in path[:-1]) if len(path) > 1 else ""
                error = ForbiddenCallError(f"call of forbidden sequence A{number:06d}{via}")
                raise annotate(error, operation.line, str(operation))
            if number in seen:
                continue
            seen.add(number)
            if library is None:
                continue
            try:
                callee = library.program(number)
            except LodaError:
                continue
            for k in callee.calls():
                stack.append((k, path + (k,)))
