"""The project's one cache directory: $CODEGEN_CACHE_DIR, default ~/.cache/codegen.

Every cache (datasets, corpus indexes, CTranslate2 conversions, the REPL's history) lives under
it, so a user moves or clears them all with one variable."""
from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "CODEGEN_CACHE_DIR"


def cache_dir() -> Path:
    """$CODEGEN_CACHE_DIR, else ~/.cache/codegen (read at each call: tests and tools set it late)."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "codegen")
