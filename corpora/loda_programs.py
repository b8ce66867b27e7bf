"""The LODA recipes, read from the loda-programs corpus (`corpora.LODA_PROGRAMS`):

- "loda": sequence name -> program;
- "loda-terms": sequence name + its first `terms_count` terms (default 8) -> program.

One record per corpus program, by sequence number; programs listed in `oeis/deny.txt` are left
out unless `include_denied`. The id is the A-number (the split key), the code the program's
canonical text; meta holds the sequences it calls, its operation count and its name.
"""
from __future__ import annotations

import os
from typing import Any, Iterator

from codegen.language import Record
from codegen.prompts import make_prompt
from languages.loda.corpus import Corpus
from languages.loda.language import operation_count

from . import LODA_PROGRAMS, Recipe, register

DEFAULT_TERMS_IN_PROMPT = 8


def load_corpus(corpus: Corpus | str | os.PathLike | None) -> Corpus:
    """`corpus` itself where it is loaded already (training loads it once and passes it on), else
    the corpus at that path (None: $CODEGEN_LODA_CORPUS)."""
    if isinstance(corpus, Corpus):
        return corpus
    return Corpus.load(corpus, progress=False)


def _records(corpus: Corpus | str | os.PathLike | None, recipe: str, terms_count: int | None,
             include_denied: bool) -> Iterator[Record]:
    loaded = load_corpus(corpus)
    for number in sorted(loaded.records):
        entry = loaded.records[number]
        if entry.denied and not include_denied:
            continue
        shown = list(entry.terms[:terms_count]) if terms_count else None
        yield Record(
            id=entry.id,
            prompt=make_prompt("loda", entry.name, shown),
            code=entry.code,
            terms=list(entry.terms),
            offset=entry.offset,
            meta={"calls": list(entry.calls), "length": operation_count(entry.code), "recipe": recipe,
                  "name": entry.name},
        )


def name_records(corpus: Corpus | str | os.PathLike | None = None, *, include_denied: bool = False,
                 **_: Any) -> Iterator[Record]:
    """name -> program, one record per (non-denied) corpus program, by sequence number."""
    return _records(corpus, "loda", None, include_denied)


def terms_records(corpus: Corpus | str | os.PathLike | None = None, *, terms_count: int = DEFAULT_TERMS_IN_PROMPT,
                  include_denied: bool = False, **_: Any) -> Iterator[Record]:
    """name + first `terms_count` terms -> program."""
    if terms_count < 1:
        raise ValueError(f"terms_count must be >= 1, got {terms_count}")
    return _records(corpus, "loda-terms", terms_count, include_denied)


register(Recipe("loda", "loda", name_records, source=LODA_PROGRAMS,
                description="sequence name -> program"))
register(Recipe("loda-terms", "loda", terms_records, source=LODA_PROGRAMS, shows_terms=True,
                description="sequence name and its first terms -> program"))
