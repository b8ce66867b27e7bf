"""The recipe registry (`corpora`): every recipe a language offers is registered there, in the
order the split partition reads them, and `Language` reaches recipes only through it."""
from __future__ import annotations

import pytest

import corpora
from codegen.language import available_languages, get_language, recipe_language
from corpora import LODA_PROGRAMS, Recipe


def test_each_language_reaches_its_recipes_through_the_registry():
    expected = {"loda": ["loda", "loda-terms"], "wat": ["wat-problems", "wat-oeis"]}
    for name in available_languages():
        language = get_language(name)
        assert list(language.recipes) == expected[name] == list(corpora.recipes_of(name))
        for recipe_name, recipe in language.recipes.items():
            assert isinstance(recipe, Recipe) and recipe.name == recipe_name and recipe.language == name
            assert corpora.get_recipe(recipe_name) is recipe and recipe_language(recipe_name) == name
            assert recipe.description


def test_sources_and_terms_recipes():
    assert {name: corpora.get_recipe(name).source for name in ("loda", "loda-terms", "wat-problems", "wat-oeis")} == {
        "loda": LODA_PROGRAMS, "loda-terms": LODA_PROGRAMS, "wat-problems": None, "wat-oeis": LODA_PROGRAMS}
    assert get_language("loda").terms_recipes == {"loda-terms"} and not get_language("wat").terms_recipes
    assert get_language("wat").corpus_recipes == {"wat-oeis"}


def test_unknown_recipe():
    with pytest.raises(KeyError, match="unknown recipe 'nope'"):
        corpora.get_recipe("nope")
    with pytest.raises(KeyError, match="has no recipe 'wat-oeis'"):
        get_language("loda").records("wat-oeis")


def test_options_a_recipe_does_not_take_are_dropped():
    seen = []

    def build(corpus, *, size: int = 1, **_):
        seen.append((corpus, size, _))
        return iter(())

    def wrapper(corpus, **options):
        seen.append(("wrapper", options))
        return iter(())

    recipe = Recipe("test-recipe", "none", build)
    assert recipe.parameters() == {"size"}
    assert list(recipe.records("C", size=3, include_denied=True)) == [] and seen == [("C", 3, {})]
    seen.clear()
    thin = Recipe("test-thin", "none", wrapper, options_of=build)
    assert thin.parameters() == {"size"}
    list(thin.records(None, size=2, terms_count=8))
    assert seen == [("wrapper", {"size": 2})]


def test_check_options():
    recipe = corpora.get_recipe("wat-problems")
    recipe.check_options({"parts": [{"count": 5, "levels": [2]}]})
    with pytest.raises(ValueError, match="levels"):
        recipe.check_options({"parts": [{"count": 5, "levels": [9]}]})
    corpora.get_recipe("loda").check_options({"anything": 1})  # no checker: nothing to say


def test_wat_cli_gets_the_compiler_verbs_from_the_recipe():
    from corpora.loda_to_wat import cli
    from languages.wat.cli import build_parser

    assert corpora.get_recipe("wat-oeis").add_commands is cli.register
    assert build_parser().parse_args(["from-loda", "x.asm"]).func is cli.from_loda
    assert build_parser().parse_args(["check-loda", "--sample", "3"]).func is cli.check_loda_cmd


@pytest.mark.corpus
def test_a_language_without_a_corpus_of_its_own_reads_its_recipes_source(corpus_path):
    """WAT's corpus is the loda-programs source its "wat-oeis" recipe reads, loaded and keyed by the
    language that reads it: the same key, so WAT's data caches keep their names."""
    assert corpora.source_reader("wat") == corpora.source_reader("loda") == "loda"
    wat, loda = get_language("wat"), get_language("loda")
    assert wat.corpus_key(corpus_path) == loda.corpus_key(corpus_path) != ("", "")
    assert type(wat.load_corpus(corpus_path)) is type(loda.load_corpus(corpus_path))


def test_recipe_order_does_not_follow_import_order():
    """A script that imports the wat-oeis module first (benchmarks/wat_vs_vm.py does) still sees the
    declared order: the partition reads recipes in it and a list of all of them keys the caches."""
    import subprocess
    import sys

    code = ("import corpora.wat_oeis, corpora.loda_programs\n"
            "from codegen.language import get_language\n"
            "print(list(get_language('wat').recipes), list(get_language('loda').recipes))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['wat-problems', 'wat-oeis'] ['loda', 'loda-terms']"
