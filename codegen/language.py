"""The one interface through which `codegen` knows a target language.

A language lives in its own package (`languages/<name>/`) and registers a
`Language` subclass here. Everything in `codegen` (tokenizer, data, training,
generation, evaluation) is generic over this interface, after
bigcode-evaluation-harness' Task + registry.

Code is handled in three forms:
- text: what a user or the model writes;
- canonical text: `canonicalize(text)`, on which exact match is computed;
- tokens: `tokenize(canonical)` -> list of strings, each one entry of
  `structural_tokens()`; `detokenize(tokens)` gives back the canonical text exactly.
  Targets are encoded token by token (never through subword merges), so
  tokenization is lossless by construction and the grammar can constrain
  decoding on these same strings.
"""
from __future__ import annotations

import abc
import importlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Hashable, Iterator, Mapping, Sequence

if TYPE_CHECKING:
    from corpora import Recipe


class CodeError(Exception):
    """Code that does not validate or fails to run. `kind` is a stable short name for reports."""

    def __init__(self, message: str, kind: str = "error"):
        super().__init__(message)
        self.kind = kind


class InputError(ValueError):
    """A user's input (a file, a corpus, a number) cannot be used. The message names the input and
    what is wrong with it in one line; command-line tools print it and exit 2 (`codegen.cli`)."""


@dataclass
class ExecutionResult:
    """What running a program gave: `outputs` (terms of a sequence, or one result) or an error."""

    ok: bool
    outputs: list[int] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None
    seconds: float = 0.0


@dataclass
class Record:
    """One training / evaluation example, as produced by a corpus recipe.

    `id` is the split key (sequence id for OEIS data, problem id otherwise): records
    sharing an id always land in the same split."""

    id: str
    prompt: str
    code: str  # canonical
    terms: list[int] | None = None  # sequences: first listed terms, starting at `offset`
    offset: int = 0
    expected: int | None = None  # problems: the expected result
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "prompt": self.prompt, "code": self.code, "terms": self.terms,
            "offset": self.offset, "expected": self.expected, "meta": self.meta,
        }


@dataclass
class SearchHit:
    """A program a language's own search found for given terms, without the model (see
    `Language.search_programs`). It reproduces every given term, checked by the language's
    executor; `weak` where the given terms cannot check it (too few of them for the fit)."""

    code: str  # canonical
    family: str  # what a user reads: "affine of A000290", "recurrence order 2"
    kind: str  # the family's short name, for reports: "affine", "recurrence", "mutation", ...
    checked_terms: int
    weak: bool = False


class Grammar(abc.ABC):
    """A deterministic state machine over a language's structural tokens.

    Constrained decoding asks `allowed(state)` before each step and masks every
    other token; any token sequence the grammar accepts detokenizes to valid code."""

    @abc.abstractmethod
    def start(self) -> Hashable:
        ...

    @abc.abstractmethod
    def allowed(self, state: Hashable) -> frozenset[str]:
        """Tokens that may come next; includes `END` when the code may stop here."""

    @abc.abstractmethod
    def advance(self, state: Hashable, token: str) -> Hashable:
        """The state after `token`; raises ValueError if the token is not allowed."""

    def completion_distance(self, state: Hashable) -> int | None:
        """The fewest tokens after which `state` allows END, where the grammar can tell cheaply;
        None otherwise. Constrained decoding keeps a length budget with it, and searches the
        grammar breadth-first where this is None; an answer must be exact, not a guess."""
        return None

    END = "</s>"


class Language(abc.ABC):
    """Subclass in `languages/<name>/language.py`, then `register(MyLanguage)`.

    Its data recipes are not part of the language: they live in `corpora/` (the recipe registry,
    `corpora.recipes_of`), where a recipe may read another language's corpus. The methods below
    about recipes look them up there, so generic code asks the language, and only the language
    asks the registry."""

    name: str = ""

    @property
    def recipes(self) -> Mapping[str, "Recipe"]:
        """The data recipes that make this language's records: recipe name -> `corpora.Recipe`,
        in the registry's order (the split partition reads them in that order)."""
        from corpora import recipes_of

        return recipes_of(self.name)

    @property
    def terms_recipes(self) -> frozenset[str]:
        """Recipes whose prompts show a sequence's first terms (they take the option `terms_count`)."""
        return frozenset(name for name, recipe in self.recipes.items() if recipe.shows_terms)

    @property
    def corpus_recipes(self) -> frozenset[str]:
        """Recipes that read the corpus (`load_corpus`): without one they make no records."""
        return frozenset(name for name, recipe in self.recipes.items() if recipe.source is not None)

    @property
    def default_recipe(self) -> str:
        """The recipe an evaluation's split comes from where neither the user nor the checkpoint
        names one; the first of `recipes` unless a language says otherwise."""
        return next(iter(self.recipes))

    @property
    def tokenizer_recipes(self) -> tuple[str, ...]:
        """The recipes whose prompt texts train the tokenizer (one per kind of text: a recipe that
        only adds terms adds digits and commas, which every tokenizer has); the first by default."""
        return tuple(self.recipes)[:1]

    # The corpus: a library of programs that this language's programs call by id (LODA's `seq`)
    # and that its recipes read. Loaded once by the caller and passed on, so it is not re-read.
    # The defaults below are those of a language without one.
    # True: programs call corpus programs by their record's id, so an evaluation loads the corpus
    # and forbids each target its own id (a program calling its own sequence solves nothing).
    calls_by_id: bool = False

    def load_corpus(self, path: str | os.PathLike | None = None, *, progress: bool = False,
                    required: bool = False) -> Any | None:
        """The corpus at `path` (None: the language's default, e.g. from an environment variable),
        for `set_corpus` and for `records`. None where the language has none, or where none is given
        and it is not `required`. Raises FileNotFoundError (none given though required, or a missing
        path) or `InputError` (an unreadable corpus), naming the path.
        The default is for a language without a corpus of its own: where its recipes read another
        language's source (WAT's "wat-oeis" reads loda-programs), that language loads it; else None."""
        reader = self._source_reader()
        return None if reader is None else reader.load_corpus(path, progress=progress, required=required)

    def corpus_key(self, path: str | os.PathLike | None = None) -> tuple[str, str]:
        """(file name, content hash) of the corpus `load_corpus(path)` would load, for cache keys and
        a checkpoint's record; ("", "") where there is none. Raises as `load_corpus` does for a bad
        path, without reading the programs. The default asks the language that reads the source, as
        `load_corpus` does."""
        reader = self._source_reader()
        return ("", "") if reader is None else reader.corpus_key(path)

    def _source_reader(self) -> "Language | None":
        """The language reading the source of this language's recipes (`corpora.source_reader`),
        where that is another language; None where the recipes read none (or this language would
        ask itself: a language reading its own source overrides `load_corpus` and `corpus_key`)."""
        from corpora import source_reader

        reader = source_reader(self.name)
        return None if reader is None or reader == self.name else get_language(reader)

    def set_corpus(self, corpus: Any) -> None:
        """Resolve program calls through `corpus` (as `load_corpus` returns it) from now on; None
        forgets it. The default has no calls to resolve."""

    def read_programs(self, path: str | os.PathLike) -> tuple[list[Record], list[tuple[str, str]]]:
        """Programs of a file, folder or archive (`codegen.evaluate --programs`) as records with what
        checks them (terms or an expected result), and (file, reason) for each one skipped. Raises
        `InputError` where `path` holds no programs this language can read."""
        raise InputError(f"{path}: {self.name} reads no program files")

    @abc.abstractmethod
    def canonicalize(self, code: str) -> str:
        """Canonical text; raises CodeError (kind "parse") on invalid code."""

    @abc.abstractmethod
    def validate(self, code: str) -> None:
        """Raises CodeError if `code` is not a valid program (syntax and static checks)."""

    @abc.abstractmethod
    def execute(self, code: str, *, terms: int = 10, offset: int = 0, forbidden: Sequence[str] = (),
                limits: Mapping[str, Any] | None = None) -> ExecutionResult:
        """Run `code`. Sequence languages return `terms` values a(offset..offset+terms-1);
        problem programs return their single result. Never raises on bad code."""

    @abc.abstractmethod
    def structural_tokens(self) -> list[str]:
        """The complete, fixed vocabulary of code tokens."""

    @abc.abstractmethod
    def tokenize(self, code: str) -> list[str]:
        """Canonical code -> structural tokens (exactly invertible by `detokenize`)."""

    @abc.abstractmethod
    def detokenize(self, tokens: Sequence[str]) -> str:
        """Structural tokens -> canonical code."""

    @abc.abstractmethod
    def grammar(self) -> Grammar:
        ...

    # Number slots (codegen.number_slots): a language whose constants a model may copy from the
    # prompt says where constants are and how one is spelled; its grammar then accepts a slot
    # token wherever a constant may go. The defaults take no part.
    # The sign token that, written just before a slot, negates it ("- <n2>" is -20 where the
    # prompt's third number is 20: "4x^3 - 20x^2" has Horner constant -20); its grammar then
    # accepts a slot after that sign too. None: no negated slots.
    negation_token: str | None = None

    def constant_spans(self, tokens: Sequence[str]) -> list[tuple[int, int, int]]:
        """(start, end, value) of each constant operand in a valid token list (end exclusive)."""
        return []

    def constant_tokens(self, value: int) -> list[str]:
        """The tokens of the constant `value`."""
        raise CodeError(f"language {self.name!r} has no number slots", kind="slot")

    # Search (codegen.generate's other candidate source): a language that can find programs for
    # given terms without the model (its corpus, formulas, mutations of seed programs) says so
    # here; the default finds nothing.
    has_search: bool = False

    def prepare_search(self) -> None:
        """Load what searches need (indexes over the corpus) now: worker processes forked after
        this share it instead of each loading it on its first search."""

    def search_programs(self, terms: Sequence[int], *, offset: int = 0, forbidden: Sequence[str] = (),
                        seeds: Sequence[tuple[str, str]] = (), time_limit: float = 2.0,
                        max_results: int = 5, description: str | None = None) -> list[SearchHit]:
        """Programs reproducing every one of `terms` from a(`offset`), simplest first, found within
        about `time_limit` seconds; none calls a `forbidden` id, directly or not. `seeds`:
        (label, code) programs to search around (e.g. the model's candidates); `description`: the
        request's words, where a language's search can use them (e.g. to search around the
        programs of similarly named sequences)."""
        return []

    def _recipe(self, recipe: str) -> "Recipe":
        recipes = self.recipes
        if recipe not in recipes:
            raise KeyError(f"language {self.name!r} has no recipe {recipe!r}; known: {sorted(recipes)}")
        return recipes[recipe]

    def recipe_parameters(self, recipe: str) -> set[str]:
        """Names of the keyword options a recipe takes (`data.recipe_options` in a config is
        checked against them, so a misspelt option is an error rather than silently ignored)."""
        return self._recipe(recipe).parameters()

    def check_recipe_options(self, recipe: str, options: Mapping[str, Any]) -> None:
        """Raise ValueError (naming the field) where a recipe's option values are malformed, so a
        broken config fails when it is read, not an hour into data preparation."""
        self._recipe(recipe).check_options(options)

    def records(self, recipe: str, corpus: Any = None, **options: Any) -> Iterator[Record]:
        """Records of one corpus recipe (see `recipes`); options the recipe does not take are
        dropped, so one set of data options serves every recipe of a mix."""
        return self._recipe(recipe).records(corpus, **options)


# the language a command uses where neither the user nor a checkpoint names one
DEFAULT_LANGUAGE = "loda"
_REGISTRY: dict[str, type[Language]] = {}
_INSTANCES: dict[str, Language] = {}
# Built-in languages, imported on first lookup so that `codegen` has no import-time dependency on them.
_BUILTIN = {"loda": "languages.loda.language", "wat": "languages.wat.language"}


def register(cls: type[Language]) -> type[Language]:
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    _REGISTRY[cls.name] = cls
    return cls


def get_language(name: str) -> Language:
    if name not in _REGISTRY and name in _BUILTIN:
        importlib.import_module(_BUILTIN[name])
    if name not in _REGISTRY:
        raise KeyError(f"unknown language {name!r}; registered: {sorted(set(_REGISTRY) | set(_BUILTIN))}")
    if name not in _INSTANCES:
        _INSTANCES[name] = _REGISTRY[name]()
    return _INSTANCES[name]


def available_languages() -> list[str]:
    return sorted(set(_REGISTRY) | set(_BUILTIN))


def recipe_language(recipe: str) -> str | None:
    """The language that offers `recipe` (each language's `recipes`), None where none does; a
    language that cannot be imported here (a missing runtime) offers none."""
    for name in available_languages():
        try:
            language = get_language(name)
        except ImportError:
            continue
        if recipe in language.recipes:
            return name
    return None
