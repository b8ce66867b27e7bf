"""WebAssembly text as a `codegen` target language (`get_language("wat")`).

- canonical form: `format_wat` (layout-only; comments dropped, integers in decimal);
- validation: wasmtime's WAT parser and validator, imports restricted to the sandbox's
  allow-list, and an exported function `main` (problems) or `a` (sequences);
- execution in the sandbox (`runner.Sandbox`): a module exporting `a` is a sequence
  program, run as a(n) for n = offset .. offset+terms-1 (offset defaults to 0); otherwise
  `main()` is called once and its result is the single output;
- structural tokens, tokenize / detokenize: `tokens.py`; grammar: `grammar.py`;
- recipes: "wat-problems" (generated natural-language problems, `corpora.wat_problems` over
  the generator `problems.py`) and "wat-oeis" (LODA programs compiled to WAT, `corpora.wat_oeis`).
- corpus: none of its own (WAT programs call nothing by id); `load_corpus` and `corpus_key` are
  the defaults, which give the source its recipes read ("wat-oeis": loda-programs), loaded by
  the language that reads it (`corpora.source_reader`).
"""
from __future__ import annotations

import re
import time
from typing import Any, Mapping, Sequence

from codegen.language import CodeError, ExecutionResult, Grammar, Language, register

from . import tokens as T
from .canonical import format_wat
from .errors import WatEntryError, WatError
from .grammar import WatGrammar
from .runner import RunLimits, Sandbox, check_imports
from .validator import validate

SEQUENCE_ENTRY = "a"
PROBLEM_ENTRY = "main"
_SEQUENCE_ID = re.compile(r"A?0*(\d+)\Z")


def _forbidden_names(forbidden: Sequence[str]) -> set[str]:
    """Sequence ids (A000045 or 45) -> the compiler's function names ($a45); other
    entries are taken as identifiers (with or without `$`)."""
    names = set()
    for item in forbidden:
        text = str(item).strip()
        m = _SEQUENCE_ID.match(text)
        if m:
            names.add(f"$a{int(m.group(1))}")
        elif text:
            names.add(text if text.startswith("$") else f"${text}")
    return names


@register
class WatLanguage(Language):
    name = "wat"
    default_recipe = "wat-problems"
    tokenizer_recipes = ("wat-problems",)  # the problem texts, as for every WAT tokenizer so far

    def __init__(self) -> None:
        self._grammar: WatGrammar | None = None

    # -------------------------------------------------------------- code forms
    def canonicalize(self, code: str) -> str:
        return format_wat(code)

    def validate(self, code: str) -> None:
        module = validate(code)
        check_imports(module)
        functions = {e.name for e in module.exports if type(e.type).__name__ == "FuncType"}
        if SEQUENCE_ENTRY not in functions and PROBLEM_ENTRY not in functions:
            raise WatEntryError(f"the module exports no function {PROBLEM_ENTRY!r} or {SEQUENCE_ENTRY!r}")

    def execute(self, code: str, *, terms: int = 10, offset: int | None = None, forbidden: Sequence[str] = (),
                limits: Mapping[str, Any] | None = None) -> ExecutionResult:
        started = time.perf_counter()
        outputs: list[int] = []
        try:
            run_limits = RunLimits.from_mapping(limits)
            if forbidden:
                banned = _forbidden_names(forbidden)
                from .canonical import lex
                used = {text for kind, text, _ in lex(code) if kind == "atom" and text in banned}
                if used:
                    return ExecutionResult(ok=False, error=f"uses forbidden {', '.join(sorted(used))}",
                                           error_kind="forbidden", seconds=time.perf_counter() - started)
            sandbox = Sandbox(code, run_limits)
            exports = {e.name for e in sandbox.module.exports}
            if SEQUENCE_ENTRY in exports:
                start = int(offset or 0)
                for n in range(start, start + int(terms)):
                    value = sandbox.call(SEQUENCE_ENTRY, n)
                    outputs.append(int(value))
            elif PROBLEM_ENTRY in exports:
                value = sandbox.call(PROBLEM_ENTRY)
                if value is None:
                    raise WatEntryError(f"function {PROBLEM_ENTRY!r} returns no value")
                outputs.append(int(value))
            else:
                raise WatEntryError(f"the module exports no function {PROBLEM_ENTRY!r} or {SEQUENCE_ENTRY!r}")
            return ExecutionResult(ok=True, outputs=outputs, seconds=time.perf_counter() - started)
        except (WatError, CodeError) as error:
            return ExecutionResult(ok=False, outputs=outputs, error=str(error), error_kind=error.kind,
                                   seconds=time.perf_counter() - started)
        except Exception as error:  # the sandbox promises WatError only; never let anything else escape
            return ExecutionResult(ok=False, outputs=outputs, error=f"{type(error).__name__}: {error}",
                                   error_kind="internal", seconds=time.perf_counter() - started)

    # -------------------------------------------------------------- tokens
    def structural_tokens(self) -> list[str]:
        return list(T.TOKENS)

    def tokenize(self, code: str) -> list[str]:
        return T.tokenize(code)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return T.detokenize(tokens)

    def constant_spans(self, tokens: Sequence[str]) -> list[tuple[int, int, int]]:
        return T.constant_spans(tokens)

    negation_token = T.MINUS

    def constant_tokens(self, value: int) -> list[str]:
        return T.integer_tokens(str(int(value)))

    def grammar(self) -> Grammar:
        if self._grammar is None:
            self._grammar = WatGrammar()
        return self._grammar
