"""The data recipes: which records each recipe makes, from which source, with which options.

A recipe turns a source (the loda-programs corpus, or none for generated data) into
`codegen.language.Record`s for one language. Recipes live here rather than in the language
packages because a recipe is about data, not about a language's mechanics, and some recipes
span two languages: `wat-oeis` reads the LODA corpus and needs the LODA->WAT compiler
(`corpora.loda_to_wat`), which is why `languages/wat` can stay free of `languages/loda`.

A language reaches its recipes through `recipes_of(language.name)` (`codegen.language.Language`
does so for `recipes`, `records`, `recipe_parameters`, `check_recipe_options`, `terms_recipes`
and `corpus_recipes`), so generic code asks the language and the language asks this registry:
one way in. Each language's recipe modules are imported on its first lookup, so a language
whose runtime is missing (wasmtime) does not break the others.

The cache key of a recipe's records is built in `codegen.data` from the data version, the
language's name, the source's key (`Language.corpus_key`: file name and content hash; empty for
no source), the recipe names and their options: see corpora/README.md.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

if TYPE_CHECKING:
    from codegen.language import Record

# The sources a recipe can read. A recipe with a source makes no records without it.
LODA_PROGRAMS = "loda-programs"  # https://github.com/loda-lang/loda-programs: a checkout or its tarball
# source -> the language that reads it (its `load_corpus` and `corpus_key`): a language whose
# recipes read another language's source (WAT's "wat-oeis" reads loda-programs) loads it through
# that language, without knowing which one (`Language.load_corpus`'s default, `source_reader`)
SOURCE_READERS: dict[str, str] = {LODA_PROGRAMS: "loda"}


@dataclass(frozen=True)
class Recipe:
    """One data recipe. `build(corpus, **options)` yields the records; `corpus` is the loaded
    source (for `LODA_PROGRAMS` a `languages.loda.Corpus`, or a path to one) or None.

    `options_of` is the function whose keyword parameters are the recipe's options (`build`
    itself unless it is a thin wrapper); options it does not take are dropped before `build` is
    called, as every recipe ignored them before, so one set of data options serves all recipes.
    `check(options)` raises ValueError on malformed option values, so a broken config fails when
    it is read. `shows_terms`: prompts show a sequence's first terms (option `terms_count`).
    `add_commands(subparsers)` registers command-line verbs that belong to the recipe's tools in
    its language's CLI (argparse subparsers), so that CLI needs no import of them."""

    name: str
    language: str
    build: Callable[..., Iterable["Record"]]
    source: str | None = None
    shows_terms: bool = False
    options_of: Callable[..., Any] | None = None
    check: Callable[[Mapping[str, Any]], None] | None = None
    add_commands: Callable[[Any], None] | None = None
    description: str = ""

    def parameters(self) -> set[str]:
        """Names of the keyword options the recipe takes (a config's `data.recipe_options` is
        checked against them, so a misspelt option is an error rather than silently ignored)."""
        signature = inspect.signature(self.options_of or self.build)
        return {p.name for p in signature.parameters.values() if p.name != "corpus"
                and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)}

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Raise ValueError (naming the field) where an option value is malformed."""
        if self.check is not None:
            self.check(options)

    def records(self, corpus: Any = None, **options: Any) -> Iterator["Record"]:
        """The recipe's records from `corpus`, with the options it takes (others are dropped)."""
        accepted = self.parameters()
        return iter(self.build(corpus, **{k: v for k, v in options.items() if k in accepted}))


_RECIPES: dict[str, Recipe] = {}
# The built-in recipes of each language, in order, and the module defining each (imported on the
# language's first lookup). The order is that of `Language.recipes`, whatever order the modules
# happen to be imported in: the split partition reads the recipes in that order, a language's
# first recipe is its default, and a list of all of them is part of a data cache's key.
_BUILTIN: dict[str, dict[str, str]] = {
    "loda": {"loda": "corpora.loda_programs", "loda-terms": "corpora.loda_programs"},
    "wat": {"wat-problems": "corpora.wat_problems", "wat-oeis": "corpora.wat_oeis"},
}
_LOADED: set[str] = set()


def register(recipe: Recipe) -> Recipe:
    """Add `recipe` to the registry (a second recipe of the same name replaces the first)."""
    _RECIPES[recipe.name] = recipe
    return recipe


def _load(language: str) -> None:
    if language in _LOADED:
        return
    for module in dict.fromkeys(_BUILTIN.get(language, {}).values()):
        importlib.import_module(module)
    _LOADED.add(language)


def recipes_of(language: str) -> dict[str, Recipe]:
    """The recipes that make records of `language`: the built-in ones in their declared order,
    then any others in registration order."""
    _load(language)
    ordered = [name for name in _BUILTIN.get(language, {}) if name in _RECIPES]
    ordered += [name for name in _RECIPES if name not in ordered]
    return {name: _RECIPES[name] for name in ordered if _RECIPES[name].language == language}


def get_recipe(name: str) -> Recipe:
    """The recipe called `name`; KeyError names the known ones."""
    for language, recipes in _BUILTIN.items():
        if name in recipes:
            _load(language)
    if name not in _RECIPES:
        for language in _BUILTIN:
            _load(language)
        raise KeyError(f"unknown recipe {name!r}; known: {sorted(_RECIPES)}")
    return _RECIPES[name]


def source_reader(language: str) -> str | None:
    """The language that reads the source `language`'s recipes read (None where they read none),
    so its corpus can be loaded and keyed; ValueError where they read several (a language has one
    corpus argument)."""
    sources = sorted({recipe.source for recipe in recipes_of(language).values() if recipe.source is not None})
    if len(sources) > 1:
        raise ValueError(f"the recipes of {language!r} read several sources: {sources}")
    return SOURCE_READERS[sources[0]] if sources else None
