"""Every failure of validating or running WebAssembly text is a `WatError`.

Callers (the evaluator, the CLI, the data builders) catch `WatError` alone: the
validator and the sandbox promise that nothing else escapes them. `kind` is a
short stable name used as a key in reports:

    parse    syntax error or failed static validation (type mismatch, unknown name...)
    size     text larger than the size cap (checked before parsing)
    import   an import outside the allow-list (or with the wrong type)
    trap     a WebAssembly trap: division by zero, unreachable, stack overflow, ...
    fuel     the instruction budget ran out
    timeout  the wall-clock deadline passed
    memory   a memory / table / instance limit was exceeded
    entry    the entry point is missing, not a function, or has an unusable signature
    args     the arguments do not match the entry point's parameters

`WatError` is a `codegen.language.CodeError`, so the language-generic code can catch it too.
"""
from __future__ import annotations

from codegen.language import CodeError


class WatError(CodeError):
    kind = "error"

    def __init__(self, reason: str, *, line: int | None = None, column: int | None = None,
                 logs: list[int] | None = None):
        self.reason = reason
        self.line = line
        self.column = column
        self.logs = list(logs) if logs else []
        where = ""
        if line is not None:
            where = f"{line}:{column}: " if column is not None else f"{line}: "
        super().__init__(f"{where}{reason}", type(self).kind)

    def __str__(self) -> str:
        return self.args[0]


class WatParseError(WatError):
    kind = "parse"


class WatValidationError(WatParseError):
    """Well-formed text that fails WebAssembly validation (reported with kind "parse")."""


class WatSizeError(WatError):
    kind = "size"


class WatImportError(WatError):
    kind = "import"


class WatTrap(WatError):
    kind = "trap"

    def __init__(self, reason: str, *, trap_code: str | None = None, **kw):
        self.trap_code = trap_code
        super().__init__(reason, **kw)


class WatFuelError(WatError):
    kind = "fuel"


class WatTimeout(WatError):
    kind = "timeout"


class WatMemoryError(WatError):
    kind = "memory"


class WatEntryError(WatError):
    kind = "entry"


class WatArgsError(WatError):
    kind = "args"


ERROR_CLASSES = {cls.kind: cls for cls in (WatParseError, WatSizeError, WatImportError, WatTrap, WatFuelError,
                                           WatTimeout, WatMemoryError, WatEntryError, WatArgsError)}
ERROR_CLASSES["error"] = WatError


def error_from_kind(kind: str, message: str, **kw) -> WatError:
    """Rebuild an error of `kind` (used to carry errors across the worker-process boundary)."""
    return ERROR_CLASSES.get(kind, WatError)(message, **kw)
