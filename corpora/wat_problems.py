"""The "wat-problems" recipe: generated natural-language arithmetic problems with WAT solutions.

No source: the records come from the curriculum generator (`languages.wat.problems`, levels 1-5,
its wordings and template families), which stays with the WAT language because the WAT tools
(`python -m languages.wat problems`), the tests and the benchmarks use it on its own. This module
says what the recipe makes of it: id = the problem id (content-derived), prompt = `<wat> text`,
code = canonical WAT, expected = the answer (computed in Python).
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

from codegen.language import Record
from codegen.prompts import make_prompt
from languages.wat.problems import generate_problems, problem_sets

from . import Recipe, register


def problem_records(corpus: Any = None, *, count: int = 10_000, seed: int = 0,
                    levels: Sequence[int] | str = (1, 2, 3, 4, 5),
                    parts: Sequence[dict] | None = None, wording: str = "classic", templates: str = "all",
                    **_: Any) -> Iterator[Record]:
    """Generated problems, one record each.
    `parts` (a list of {count, seed, levels, kinds} sets, in place of the three options) joins
    several generated sets, e.g. an earlier stage's set plus extra level-2 problems; a text
    already yielded by an earlier part is skipped. `wording`/`templates` (also per part) choose
    the generator's wordings: "classic" (the default, as every model before issue 25 saw) or
    "diverse" template families, all of them, those for "train" or only the "held-out" ones
    (`problems.generate_problems`); each record's meta names its template family. `corpus` and
    other options (e.g. `include_denied`) are ignored."""
    seen: set[str] = set()
    for options in problem_sets(count=count, seed=seed, levels=levels, parts=parts, wording=wording,
                                templates=templates):
        for p in generate_problems(options["count"], seed=options["seed"], levels=options["levels"],
                                   kinds=options["kinds"], wording=options["wording"],
                                   templates=options["templates"]):
            if p.text in seen:
                continue
            seen.add(p.text)
            yield Record(id=p.id, prompt=make_prompt("wat", p.text), code=p.wat, expected=p.answer,
                         meta={"level": p.level, "kind": p.kind, "text": p.text, "recipe": "wat-problems",
                               "template": p.template})


def check_options(options: Mapping[str, Any]) -> None:
    """A malformed part, level, kind or wording is a ValueError naming it (`problem_sets`)."""
    problem_sets(**options)


register(Recipe("wat-problems", "wat", problem_records, check=check_options,
                description="generated arithmetic problems (curriculum levels 1-5) -> WAT"))
