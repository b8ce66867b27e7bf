"""WebAssembly text (WAT) as a target language: validator, sandboxed runner, canonical
form, problem generator, structural tokens and grammar, and the `codegen` adapter
(`languages.wat.language.WatLanguage`, registered as "wat").

    from languages.wat.errors import WatError
    from languages.wat.validator import validate
    from languages.wat.runner import RunLimits, Sandbox, run
    from languages.wat.canonical import format_wat
    from languages.wat.problems import Problem, generate_problems

The names above are also importable from `languages.wat` itself (loaded on first use,
so importing the package stays cheap).
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "WatError": "errors", "validate": "validator", "RunLimits": "runner", "Sandbox": "runner", "run": "runner",
    "format_wat": "canonical", "Problem": "problems", "generate_problems": "problems",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
