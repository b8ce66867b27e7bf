"""The LODA -> WebAssembly text compiler (`compiler.py`) and its command-line verbs (`cli.py`:
`python -m languages.wat from-loda` / `check-loda`).

It lives with the recipe that needs it (`corpora.wat_oeis`) rather than in `languages/wat`, as it
reads LODA programs: the language packages stay independent of each other.

    from corpora.loda_to_wat import compile_program, UnsupportedProgram
"""
from __future__ import annotations

from .compiler import DEFAULT_CELL_LIMIT, I64_MAX, I64_MIN, REASONS, UnsupportedProgram, compile_program

__all__ = ["DEFAULT_CELL_LIMIT", "I64_MAX", "I64_MIN", "REASONS", "UnsupportedProgram", "compile_program"]
