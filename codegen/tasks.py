"""Evaluation tasks: what is evaluated and how each item is scored, after the task registry of
bigcode-evaluation-harness. `codegen.evaluate.run_model` (the one runner) asks a task for its
targets, for the request of each target and for the score of each result, and
`codegen.reports.write_report` (the one report writer) writes what comes back, with the tables a
task adds of its own. So every figure the project publishes, whichever set it is over, is made
by the same decoding, selection and scoring.

Registered tasks (`get_task(name, **options)`):

    split         a split (train / validation / test) of a data recipe, rebuilt as in training
    programs      the programs of a folder, tarball or file (`Language.read_programs`)
    problems      a JSONL file of problems with known answers (`load_problem_targets`)
    wat-held-out  generated WAT problems none of whose texts the checkpoint was trained on
                  (`languages.wat.heldout`; `benchmarks/wat_problems_eval.py` is its command)

A language or a corpus adds a task by subclassing `Task` and calling `register_task`; a task
that lives outside `codegen/` is named in `_BUILTIN` (module path) and imported on first lookup,
so that `codegen` has no import-time dependency on any language (as `codegen.language` does).
"""
from __future__ import annotations

import importlib
import os
from typing import Any, Mapping, Sequence

from .generate import GenerationResult, Request
from .language import Language, get_language


class Task:
    """One evaluation set. Subclasses give `targets`; `request` and `score` default to the
    sequence/problem scoring of `codegen.evaluate` (terms at the target's offset, or the expected
    result), which a task extends rather than replaces, so the common figures (validity, exact and
    sequence match, pass@k, speed) mean the same for every task.

    `check_terms` and `with_terms` are the scoring options of `codegen.evaluate` (terms a program
    must reproduce; terms shown to the prompt and to selection). `checkpoint` is the one under
    evaluation, for a task whose set depends on what it was trained on (wat-held-out leaves out
    every text it saw); `python -m codegen.evaluate --task` passes it to every task."""

    # the name it is registered under
    name: str = ""
    # seed of batch `number`: `seed + number` by default, so batches draw differently; a task whose
    # published figures were made with one seed for every batch says False (sampling and the retry
    # samples draw from it), so they are made again the same
    seed_per_batch: bool = True

    def __init__(self, language: Language | str, *, checkpoint: str | os.PathLike | None = None,
                 check_terms: int | None = None, with_terms: int | None = None):
        self.language = get_language(language) if isinstance(language, str) else language
        self.checkpoint = checkpoint
        self.check_terms = check_terms
        self.with_terms = with_terms

    def targets(self) -> list[Any]:
        """The targets (`codegen.evaluate.Target`), in a fixed order."""
        raise NotImplementedError

    def source(self) -> dict[str, Any]:
        """What the report's config says this set is (e.g. {"split": "test", "recipe": "loda"})."""
        return {"task": self.name}

    def batch_seed(self, seed: int, number: int) -> int:
        """The decoding seed of batch `number` (see `seed_per_batch`)."""
        return seed + number if self.seed_per_batch else seed

    def request(self, target: Any) -> Request:
        """The request for a target, without anything that would give its answer away unless
        `with_terms` asks for it."""
        from .evaluate import make_request

        return make_request(target, self.language, check_terms=self.check_terms, with_terms=self.with_terms)

    def score(self, target: Any, result: GenerationResult) -> dict[str, Any]:
        """The item of one target (a row of items.jsonl)."""
        from .evaluate import score_item

        return score_item(target, result, self.language, check_terms=self.check_terms, with_terms=self.with_terms)

    def figures(self, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Figures of the task's own, merged into the report beside the common ones; a task whose
        items carry more than the common fields reports on them here. None by default."""
        return {}

    def tables(self, report: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Tables of the task's own for report.md and report.html: `{"title", "rows" (header row
        first), "notes" (lines below)}`; stored in report.json (`report["tables"]`), so a report
        read back renders the same. None by default."""
        return []


class SplitTask(Task):
    """A split of a data recipe, rebuilt with the options the checkpoint was trained with
    (`codegen.evaluate.training_data_options`), so the held-out targets are the ones it never saw."""

    name = "split"

    def __init__(self, language: Language | str, *, corpus: str | os.PathLike | None, split: str = "test",
                 recipe: str | None = None, options: Mapping[str, Any] | None = None, **scoring: Any):
        super().__init__(language, **scoring)
        self.corpus = corpus
        self.split = split
        self.recipe = recipe or self.language.default_recipe
        self.options = dict(options or {})

    def targets(self) -> list[Any]:
        from .data import load_split
        from .evaluate import target_from_record

        records = load_split(self.corpus, self.language.name, self.split, recipe=self.recipe, **self.options)
        return [target_from_record(record) for record in records]

    def source(self) -> dict[str, Any]:
        return {"split": self.split, "recipe": self.recipe}


class ProgramsTask(Task):
    """The programs of a folder, tarball or file, each checked by its own terms or result. They are
    read when the task is made, so a bad path fails before a model loads (raises `InputError`)."""

    name = "programs"

    def __init__(self, language: Language | str, *, path: str | os.PathLike, **scoring: Any):
        from .evaluate import load_program_targets

        super().__init__(language, **scoring)
        self.path = path
        self._targets, self.skipped = load_program_targets(path, self.language)

    def targets(self) -> list[Any]:
        return list(self._targets)

    def source(self) -> dict[str, Any]:
        return {"programs": str(self.path)}


class ProblemsTask(Task):
    """Problems with known answers from a JSONL file, scored by result match, with a by-level
    breakdown. Read when the task is made (raises `ProblemsFileError` for a bad line)."""

    name = "problems"

    def __init__(self, language: Language | str, *, path: str | os.PathLike, **scoring: Any):
        from .evaluate import load_problem_targets

        super().__init__(language, **scoring)
        self.path = path
        self._targets = load_problem_targets(path)

    def targets(self) -> list[Any]:
        return list(self._targets)

    def source(self) -> dict[str, Any]:
        return {"problems": str(self.path)}


_REGISTRY: dict[str, type[Task]] = {}
# tasks that live beside their data, outside codegen/: imported on first lookup
_BUILTIN = {"wat-held-out": "languages.wat.heldout"}


def register_task(cls: type[Task]) -> type[Task]:
    """Make `cls` available as `get_task(cls.name)`; usable as a class decorator."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    _REGISTRY[cls.name] = cls
    return cls


for _task in (SplitTask, ProgramsTask, ProblemsTask):
    register_task(_task)


def task_class(name: str) -> type[Task]:
    if name not in _REGISTRY and name in _BUILTIN:
        importlib.import_module(_BUILTIN[name])
    if name not in _REGISTRY:
        raise KeyError(f"unknown evaluation task {name!r}; there are: {', '.join(available_tasks())}")
    return _REGISTRY[name]


def get_task(name: str, language: Language | str, **options: Any) -> Task:
    """The task `name` over `language`, made with its own options (see each class)."""
    return task_class(name)(language, **options)


def available_tasks() -> list[str]:
    return sorted(set(_REGISTRY) | set(_BUILTIN))
