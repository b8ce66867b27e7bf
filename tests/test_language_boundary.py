"""The house's boundaries (issue 27): `codegen/` knows a language only through `codegen.language`
(the `Language` interface and its registry), so a third language edits no generic code;
`languages/wat` stands on its own, importing nothing of `languages/loda`; and the languages import
nothing of `corpora/` (the recipes build on the languages, not the other way round: a language
reaches its recipes through the registry, `Language.recipes`)."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _modules(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import, module level or inside a function; relative ones are skipped
    (they stay inside their own package)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append((node.lineno, node.module))
    return found


def _is_under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _name_comparisons(tree: ast.AST, names: set[str]) -> list[int]:
    """Lines comparing something with a language's name: `x == "loda"`, `"wat" != x`,
    `x in ("loda", "wat")` (a literal name on either side, alone or inside a tuple, list or set)."""

    def literal_names(node: ast.AST) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in names
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(literal_names(element) for element in node.elts)
        return False

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn, ast.Is, ast.IsNot)) for op in node.ops) \
                    and any(literal_names(operand) for operand in operands):
                lines.append(node.lineno)
        elif isinstance(node, ast.MatchValue) and literal_names(node.value):
            lines.append(node.lineno)
    return lines


def _language_names() -> set[str]:
    from codegen.language import available_languages

    return set(available_languages())


def test_codegen_imports_no_language_package():
    offenders = [f"{path.relative_to(REPO)}:{line}: import {module}"
                 for path in _modules("codegen")
                 for line, module in _imports(ast.parse(path.read_text(), str(path)))
                 if _is_under(module, "languages")]
    assert not offenders, "codegen/ must reach languages through codegen.language only:\n" + "\n".join(offenders)


def test_codegen_compares_no_language_name():
    names = _language_names()
    offenders = [f"{path.relative_to(REPO)}:{line}"
                 for path in _modules("codegen")
                 for line in _name_comparisons(ast.parse(path.read_text(), str(path)), names)]
    assert not offenders, ("codegen/ compares a language's name with a literal; give the Language "
                           "interface what it needs instead:\n" + "\n".join(offenders))


def test_wat_imports_nothing_of_loda():
    offenders = [f"{path.relative_to(REPO)}:{line}: import {module}"
                 for path in _modules("languages/wat")
                 for line, module in _imports(ast.parse(path.read_text(), str(path)))
                 if _is_under(module, "languages.loda")]
    assert not offenders, "languages/wat must not import languages/loda:\n" + "\n".join(offenders)


def test_languages_import_nothing_of_corpora():
    offenders = [f"{path.relative_to(REPO)}:{line}: import {module}"
                 for path in _modules("languages")
                 for line, module in _imports(ast.parse(path.read_text(), str(path)))
                 if _is_under(module, "corpora")]
    assert not offenders, ("languages/ must not import corpora/ (reach recipes through Language.recipes):\n"
                           + "\n".join(offenders))


def test_the_checks_catch_what_they_look_for():
    """The detectors themselves, on code that breaks each rule (else a broken detector passes all)."""
    tree = ast.parse(
        "import languages.loda\n"
        "from languages.wat.runner import Sandbox\n"
        "def f(language, name):\n"
        "    from languages import loda\n"
        "    if language.name == 'loda' or 'wat' != name or name in ('loda', 'x'):\n"
        "        return 1\n"
        "    from . import data\n"
        "    return name == 'lodax'\n")
    assert [line for line, module in _imports(tree) if _is_under(module, "languages")] == [1, 2, 4]
    assert _name_comparisons(tree, {"loda", "wat"}) == [5, 5, 5]
