"""LODA as a `codegen` language: canonical form via the parser, execution via the VM,
structural tokens (`tokens.py`), a decoding grammar (`grammar.py`). Its data recipes ("loda",
"loda-terms") are in `corpora.loda_programs`.

The corpus behind `seq` calls is the one given to `set_corpus`, else the one named by
$CODEGEN_LODA_CORPUS (loaded on first need); without a corpus, programs that call `seq`
fail with error kind "unknown_sequence".
"""
from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from codegen.data import leakage_groups
from codegen.language import CodeError, ExecutionResult, Language, Record, SearchHit, register
from codegen.prompts import make_prompt

from . import tokens as _tokens
from .canonical import format_program
from .corpus import (CORPUS_ENV, Corpus, corpus_hash, iter_program_files, parse_sequence_id, record_from_text,
                     resolve_corpus_path)
from .errors import LodaError
from .grammar import LodaGrammar
from .parser import parse


def _load_corpus(corpus: "Corpus | str | os.PathLike | None") -> Corpus:
    if isinstance(corpus, Corpus):
        return corpus
    return Corpus.load(corpus, progress=False)


@functools.lru_cache(maxsize=8)
def _tarball_hash(path: Path, size: int, mtime_ns: int) -> str:
    """`corpus_hash` of a tarball, once per file version: a training run asks for the key of its
    corpus several times (data caches, the checkpoint's record), and hashing reads the whole file."""
    return corpus_hash(path)


def operation_count(code: str) -> int:
    """Number of operations of canonical code (lines other than `#offset`)."""
    return sum(1 for line in code.splitlines() if line.strip() and not line.startswith("#"))


class Twins:
    """Sequences of a corpus in one leakage group, by sequence number: those sharing a program or a
    normalised name, transitively (`codegen.data.leakage_groups`, the very groups the split keeps
    together), so a search never reaches a held-out target through any member of its group."""

    def __init__(self, corpus: Corpus):
        self.corpus = corpus
        records = [Record(id=r.id, prompt="", code=r.code, meta={"name": r.name}) for r in corpus.records.values()]
        self._group = {parse_sequence_id(record_id): group for record_id, group in leakage_groups(records).items()}
        self._members: dict[str, list[int]] = {}
        for number, group in self._group.items():
            self._members.setdefault(group, []).append(number)

    def of(self, numbers: frozenset[int]) -> frozenset[int]:
        found: set[int] = set()
        for number in numbers:
            group = self._group.get(number)
            if group is not None:
                found.update(self._members[group])
        return frozenset(found - numbers)


@register
class LodaLanguage(Language):
    name = "loda"
    default_recipe = "loda"
    tokenizer_recipes = ("loda",)  # names; "loda-terms" adds only digits and commas
    calls_by_id = True  # `seq` calls a corpus program by its sequence number

    def __init__(self) -> None:
        self._grammar: LodaGrammar | None = None
        self._corpus: Corpus | None = None
        self._grammar_key: int | None = None
        self._evaluators: dict[Any, Any] = {}
        self._index: tuple[Corpus, Any] | None = None
        self._twins_of: Twins | None = None
        self._names = None

    # -- code -------------------------------------------------------------------------
    def canonicalize(self, code: str) -> str:
        try:
            return format_program(parse(code))
        except LodaError as error:
            raise CodeError(str(error), kind="parse") from error

    def validate(self, code: str) -> None:
        self.canonicalize(code)

    def structural_tokens(self) -> list[str]:
        return list(_tokens.TOKENS)

    def tokenize(self, code: str) -> list[str]:
        try:
            return _tokens.tokenize(code)
        except _tokens.TokenError:
            # not canonical text (comments, odd layout): canonicalize, then tokenize
            return _tokens.tokenize(self.canonicalize(code))

    def detokenize(self, tokens: Sequence[str]) -> str:
        try:
            return _tokens.detokenize(tokens)
        except _tokens.TokenError as error:
            raise CodeError(str(error), kind="tokens") from error

    def constant_spans(self, tokens: Sequence[str]) -> list[tuple[int, int, int]]:
        return _tokens.constant_spans(tokens)

    negation_token = _tokens.MINUS

    def constant_tokens(self, value: int) -> list[str]:
        return _tokens.integer_tokens(int(value))

    def grammar(self) -> LodaGrammar:
        """With a corpus (set_corpus or $CODEGEN_LODA_CORPUS), `seq` may only call its programs;
        without one there is nothing a call could run, so `seq` is ruled out."""
        corpus = self.corpus()
        key = id(corpus) if corpus is not None else None
        if self._grammar is None or self._grammar_key != key:
            self._grammar = LodaGrammar(corpus.records.keys() if corpus is not None else ())
            self._grammar_key = key
        return self._grammar

    # -- corpus -----------------------------------------------------------------------
    def load_corpus(self, path: str | os.PathLike | None = None, *, progress: bool = False,
                    required: bool = False) -> Corpus | None:
        """The loda-programs corpus at `path` (a checkout or its tarball), else $CODEGEN_LODA_CORPUS;
        None where neither is given, unless `required` (then FileNotFoundError says how to give one)."""
        if not path and not required and not os.environ.get(CORPUS_ENV):
            return None
        return Corpus.load(path, progress=progress)

    def corpus_key(self, path: str | os.PathLike | None = None) -> tuple[str, str]:
        if not path and not os.environ.get(CORPUS_ENV):
            return "", ""
        resolved = resolve_corpus_path(path)
        if resolved.is_file():
            stat = resolved.stat()
            return resolved.name, _tarball_hash(resolved.resolve(), stat.st_size, stat.st_mtime_ns)
        return resolved.name, corpus_hash(resolved)

    def read_programs(self, path: str | os.PathLike) -> tuple[list[Record], list[tuple[str, str]]]:
        """The .asm files of a folder, a tarball or one file, each with its header's name, terms and
        offset; a file that does not parse or lists no terms is skipped."""
        records: list[Record] = []
        skipped: list[tuple[str, str]] = []
        for name, text in iter_program_files(Path(path)):
            try:
                entry = record_from_text(text, name)
            except (LodaError, ValueError) as error:
                skipped.append((name, str(error)))
                continue
            if not entry.terms:
                skipped.append((name, "no terms in the header"))
                continue
            records.append(Record(id=entry.id, prompt=make_prompt(self.name, entry.name), code=entry.code,
                                  terms=list(entry.terms), offset=entry.offset,
                                  meta={"calls": list(entry.calls), "length": operation_count(entry.code),
                                        "path": name, "name": entry.name}))
        return records, skipped

    # -- execution --------------------------------------------------------------------
    def set_corpus(self, corpus: "Corpus | str | os.PathLike | None") -> None:
        """The programs `seq` calls resolve to (a `Corpus`, a path, or None to forget it)."""
        self._corpus = None if corpus is None else _load_corpus(corpus)
        self._evaluators.clear()

    def corpus(self) -> Corpus | None:
        if self._corpus is None and os.environ.get(CORPUS_ENV):
            try:
                self._corpus = _load_corpus(None)
            except (OSError, ValueError):
                self._corpus = None
        return self._corpus

    def _evaluator(self, forbidden: frozenset[int], limits: Mapping[str, Any] | None):
        from .vm import Evaluator, Limits

        key = (forbidden, tuple(sorted((limits or {}).items())))
        evaluator = self._evaluators.get(key)
        if evaluator is None:
            if len(self._evaluators) > 64:
                self._evaluators.clear()
            vm_limits = Limits(**dict(limits)) if limits else None
            evaluator = Evaluator(library=self.corpus(), limits=vm_limits, forbidden=forbidden)
            self._evaluators[key] = evaluator
        return evaluator

    def execute(self, code: str, *, terms: int = 10, offset: int | None = None, forbidden: Sequence[str] = (),
                limits: Mapping[str, Any] | None = None) -> ExecutionResult:
        """a(n) for `terms` values of n from `offset` (default: the program's own `#offset`).
        `forbidden`: sequence ids (A000045 or 45) the program may not call, directly or not."""
        started = time.perf_counter()
        try:
            program = parse(code)
            start = program.offset if offset is None else int(offset)
            banned = frozenset(parse_sequence_id(str(f)) for f in forbidden)
            values = list(self._evaluator(banned, limits).iter_terms(program, int(terms), start=start))
            return ExecutionResult(ok=True, outputs=[int(v) for v in values],
                                   seconds=time.perf_counter() - started)
        except LodaError as error:
            return ExecutionResult(ok=False, error=str(error), error_kind=getattr(error, "kind", "error"),
                                   seconds=time.perf_counter() - started)
        except Exception as error:  # the VM promises LodaError only; never let anything else escape
            return ExecutionResult(ok=False, error=f"{type(error).__name__}: {error}", error_kind="internal",
                                   seconds=time.perf_counter() - started)

    # -- search -----------------------------------------------------------------------
    has_search = True

    def search_programs(self, terms: Sequence[int], *, offset: int = 0, forbidden: Sequence[str] = (),
                        seeds: Sequence[tuple[str, str]] = (), time_limit: float = 2.0,
                        max_results: int = 5, description: str | None = None) -> list[SearchHit]:
        """`languages.loda.search` over this language's corpus (without one: formulas and
        mutations only). Besides `forbidden`, the search may not use their twins: sequences with
        the same program or the same normalised name, which the split puts beside them (for a
        held-out target, such a twin is the target under another number)."""
        from .search import search

        corpus = self.corpus()
        banned = frozenset(parse_sequence_id(str(f)) for f in forbidden)
        index = None
        if corpus is not None:
            banned |= self._twins().of(banned)
            index = self._search_index(corpus)
        found = search(list(terms), offset=offset, corpus=corpus, index=index, forbidden=banned, seeds=seeds,
                       time_limit=time_limit, max_results=max_results, name=description,
                       names=self._names_index(corpus) if corpus is not None and description else None)
        return [SearchHit(code=p.code, family=p.family, kind=p.kind, checked_terms=p.checked_terms, weak=p.weak)
                for p in found]

    def prepare_search(self) -> None:
        from .search import excluded_sequences

        corpus = self.corpus()
        if corpus is not None:
            self._search_index(corpus)
            self._names_index(corpus)
            self._twins()
            excluded_sequences(corpus, ())  # builds the callers table once

    def _search_index(self, corpus: Corpus):
        from .search.index import TermsIndex

        if self._index is None or self._index[0] is not corpus:
            self._index = (corpus, TermsIndex.load(corpus, progress=False))
        return self._index[1]

    def _names_index(self, corpus: Corpus):
        from .search.names import load_names

        if self._names is None or self._names[0] is not corpus:
            self._names = (corpus, load_names(corpus))
        return self._names[1]

    def _twins(self) -> "Twins":
        corpus = self.corpus()
        if self._twins_of is None or self._twins_of.corpus is not corpus:
            self._twins_of = Twins(corpus)
        return self._twins_of
