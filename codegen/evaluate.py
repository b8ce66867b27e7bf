"""Evaluate a checkpoint (and/or the retrieval baseline) on the test split or on a set of programs.

    python -m codegen.evaluate --checkpoint DIR --corpus PATH [--split test | --programs PATH | --problems FILE.jsonl
        | --task NAME --task-options JSON] [--limit N] [--seed S] [--num-samples K] [--with-terms M]
        [--check-terms T] [--report-dir DIR] [--baseline report.json] [--baseline-model tfidf] [--no-constrain]

Each set is a task of `codegen.tasks` (a recipe's split, a programs folder, a problems file, or a
registered task such as `wat-held-out`, the generated WAT problems the checkpoint never saw); one
runner (`run_model`) decodes, runs and scores them all and one writer (`codegen.reports`) writes
the report.

Per target, the model's candidates are executed at the target's offset, with the target
itself forbidden as a `seq` callee (directly or through other programs: a program that
calls its own sequence is never a match), and one is selected. Metrics (see
`codegen.metrics`): validity, exact match, sequence match on the first T listed terms,
pass@k over the K samples, verified solve (with --with-terms M: the first M terms go to the
prompt where the model was trained with terms, and to selection), speed, with breakdowns
by program length, use of `seq` and problem level. The report splits the time between
generation and execution.

Exit status (`codegen.cli`): 0 done, 1 a runtime failure (e.g. no targets), 2 a usage or input
error, found before the model loads (bad arguments or numbers, a missing checkpoint, a missing or
damaged corpus, an unreadable --baseline), 130 interrupted.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from .cli import non_negative_int, positive_int, run_main
from .cli.options import add_decoding_options, language_arg, set_threads
from .execution import ExecutionPool
from .language import DEFAULT_LANGUAGE, CodeError, InputError, Language, Record, get_language, recipe_language
from .metrics import breakdowns, speed, summarize, terms_match
from .repair import MIN_TERMS
from .generate import (GenerationResult, Request, attach_corpus, candidate_source, choose, default_decoding,
                       recommended_beams, run_candidates)
from .selection import select, strategy_agreement_weight
from .tasks import ProblemsTask, ProgramsTask, SplitTask, Task, available_tasks, get_task

# terms a program must reproduce to count as correct: None, every listed term of the target
DEFAULT_CHECK_TERMS: int | None = None


@dataclass
class Target:
    """What a program should be: the description, its reference code and its terms (sequences)
    or expected result (problems)."""

    id: str
    description: str
    code: str | None
    terms: list[int] | None = None
    offset: int = 0
    expected: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def length(self) -> int | None:
        if self.meta.get("length") is not None:
            return int(self.meta["length"])
        if not self.code:
            return None
        return sum(1 for line in self.code.splitlines() if line.strip() and not line.lstrip().startswith(("#", ";")))

    @property
    def uses_seq(self) -> bool | None:
        if "calls" in self.meta:
            return bool(self.meta["calls"])
        return None

    @property
    def sequence_number(self) -> int | None:
        """The OEIS number of a target named Annnnnn, else None."""
        if len(self.id) > 1 and self.id[0] in "Aa" and self.id[1:].isdigit():
            return int(self.id[1:])
        return None


def training_data_options(checkpoint_dir, meta: dict[str, Any]) -> dict[str, Any]:
    """The data options the checkpoint was trained with (its train_config.yaml), so that its
    splits are rebuilt as in training: recipe options such as WAT's `wat-oeis: {max_instructions:
    8}` change the records, hence the partition, hence which targets are held out. A checkpoint
    made elsewhere (no train_config.yaml) gets the recipes' defaults, with a warning where
    codegen.json says it was trained on our recipes. Raises `ConfigError` (a ValueError) for an
    unreadable train_config.yaml."""
    from .config import checkpoint_training_config
    from .data import config_data_options

    found = checkpoint_training_config(checkpoint_dir)
    if found is None:
        if meta.get("recipes"):
            print(f"warning: {checkpoint_dir}: no train_config.yaml here or one level up: the splits are "
                  "rebuilt with the recipes' default options, which may not be those the model was trained "
                  "with", file=sys.stderr)
        return {}
    return config_data_options(found[1])


def target_from_record(record: Record) -> Target:
    from .data import record_name

    return Target(id=record.id, description=record_name(record), code=record.code, terms=record.terms,
                  offset=record.offset, expected=record.expected, meta=dict(record.meta))


# -- targets ----------------------------------------------------------------------------------

def load_program_targets(path: str | os.PathLike, language: Language | str = DEFAULT_LANGUAGE,
                         ) -> tuple[list[Target], list[tuple[str, str]]]:
    """The programs of a directory, tarball or file as targets (`Language.read_programs`: for LODA,
    each file's header names it and lists its terms and offset); returns (targets, skipped files
    with the reason). Raises `InputError` where `path` holds no programs the language reads."""
    language = get_language(language) if isinstance(language, str) else language
    records, skipped = language.read_programs(path)
    return [target_from_record(record) for record in records], skipped


class ProblemsFileError(ValueError):
    """A problems file line that is not `{"text", "answer", "level"}` (message: file, line, field)."""


def load_problem_targets(path: str | os.PathLike) -> list[Target]:
    """Problems with known answers from a JSONL file, one `{"text": str, "answer": int, "level":
    int, "id": str (optional)}` a line (other fields are ignored; blank lines skipped), as targets
    scored by result match. A bad line raises ProblemsFileError naming the file, line and field,
    so a typo in a hand-written set is never silently skipped or scored as wrong."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ProblemsFileError(f"{path}: cannot read: {error}") from None
    targets: list[Target] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ProblemsFileError(f"{where}: not valid JSON ({error.msg})") from None
        if not isinstance(row, dict):
            raise ProblemsFileError(f"{where}: expected an object with text, answer and level")
        for name, kind in (("text", str), ("answer", int), ("level", int)):
            value = row.get(name)
            if name not in row:
                raise ProblemsFileError(f"{where}: field '{name}' missing")
            # bool is an int in Python; `true` as an answer or level is a mistake in the file
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ProblemsFileError(f"{where}: field '{name}' must be {'a string' if kind is str else 'an integer'}"
                                        f", got {value!r}")
        if not row["text"].strip():
            raise ProblemsFileError(f"{where}: field 'text' is empty")
        ident = row.get("id", f"line-{number}")
        if not isinstance(ident, str) or not ident:
            raise ProblemsFileError(f"{where}: field 'id' must be a non-empty string, got {ident!r}")
        if ident in seen:
            raise ProblemsFileError(f"{where}: field 'id' repeats {ident!r}")
        seen.add(ident)
        targets.append(Target(id=ident, description=row["text"], code=None, expected=row["answer"],
                              meta={"level": row["level"]}))
    if not targets:
        raise ProblemsFileError(f"{path}: no problems in it")
    return targets


def choose_targets(targets: Sequence[Target], limit: int | None, seed: int) -> list[Target]:
    """A seeded random subset of `limit` targets (all where limit is None), in their original order."""
    if limit is None or limit >= len(targets):
        return list(targets)
    picked = sorted(random.Random(seed).sample(range(len(targets)), limit))
    return [targets[i] for i in picked]


# -- requests and scoring ---------------------------------------------------------------------

def check_count(target: Target, check_terms: int | None) -> int:
    """Terms a program must reproduce: `check_terms` of the listed ones, all where None."""
    if not target.terms:
        return 0
    return len(target.terms) if check_terms is None else min(check_terms, len(target.terms))


def make_request(target: Target, language: Language, *, check_terms: int | None, with_terms: int | None) -> Request:
    """The request for a target: the description; with `with_terms` M, the first M terms (or the
    expected result of a problem) for prompt and selection; run at the target's offset for
    max(T, M) terms; the target's own sequence forbidden."""
    count = check_count(target, check_terms)
    shown = list(target.terms[:with_terms]) if with_terms and target.terms else None
    forbidden = (target.id,) if language.calls_by_id and target.sequence_number is not None else ()
    return Request(description=target.description, terms=shown,
                   expected=target.expected if with_terms and target.expected is not None else None,
                   offset=target.offset if target.terms else None,
                   run_terms=max(count, len(shown or ()), 1), forbidden=forbidden, id=target.id,
                   given_terms_first=True)


def is_correct(candidate: Any, target: Target, check_terms: int | None) -> bool:
    """Functional correctness: the first T terms at the target's offset, or the expected result."""
    if candidate is None or not candidate.usable:
        return False
    if target.terms:
        return terms_match(candidate.outputs, target.terms, check_count(target, check_terms))
    if target.expected is not None:
        return terms_match(candidate.outputs, [target.expected])
    return False


def solves_by_source(target: Target, result: GenerationResult, check_terms: int | None) -> dict[str, bool]:
    """Per candidate source ("model", "search", "repair"), whether choosing among that source's
    candidates alone gives a verified solve: a program matching the given terms that is correct
    on the checked terms. A program the model wrote and the search found too counts for both.
    Selection runs on copies, so the candidates keep the marks of the real choice. "search"
    is there only where a search ran (a run with --no-search has no search figure, not 0%)."""
    groups: dict[str, list[Any]] = {"model": []}
    if result.search_hits is not None:
        groups["search"] = []
    for candidate in result.candidates:
        source = candidate_source(candidate)
        group = "search" if source.startswith("search:") else source
        groups.setdefault(group, []).append(copy.copy(candidate))
        if candidate.extra.get("search") and group != "search":
            groups.setdefault("search", []).append(copy.copy(candidate))
    solved = {}
    for group, members in groups.items():
        chosen = select(members, result.request.terms, result.request.expected,
                        agreement_weight=strategy_agreement_weight(result.strategy))
        solved[group] = bool(chosen is not None and chosen.match and is_correct(chosen, target, check_terms))
    return solved


def score_item(target: Target, result: GenerationResult, language: Language, *, check_terms: int | None,
               with_terms: int | None) -> dict[str, Any]:
    chosen = result.chosen
    try:
        reference = language.canonicalize(target.code) if target.code else None
    except CodeError:
        reference = target.code
    # figures over samples (pass@k, parse rate, errors) count the first `num_samples` candidates;
    # retry samples, drawn only where none of those ran, count in `retry_samples`; repaired
    # programs (`--repair`) in `repair_programs`; search programs in `search_hits`
    first = [c for c in result.candidates if not c.extra.get("retry") and candidate_source(c) == "model"]
    samples = sum(c.count for c in first)
    count = check_count(target, check_terms)
    item: dict[str, Any] = {
        "id": target.id,
        "description": target.description,
        "offset": target.offset,
        "target_length": target.length,
        "uses_seq": target.uses_seq,
        "level": target.meta.get("level"),
        "valid": chosen is not None,
        # None where there is no reference program (a problems file): nothing to match, not a miss
        "exact_match": (chosen is not None and chosen.canonical == reference) if reference is not None else None,
        "sequence_match": is_correct(chosen, target, check_terms),
        "num_samples": samples,
        "parsed_samples": sum(c.count for c in first if c.valid),
        "runnable_samples": sum(c.count for c in first if c.usable),
        "num_correct": sum(c.count for c in first if is_correct(c, target, check_terms)),
        "num_distinct": sum(1 for c in first if c.valid),
        "checked_terms": count,
        "expected_terms": list(target.terms[:count]) if target.terms else None,
        "expected_result": target.expected,
        "chosen": chosen.code if chosen else None,
        "chosen_outputs": (chosen.outputs or [])[:max(count, 1)] if chosen else None,
        "confidence": chosen.confidence if chosen else None,
        "agreement": chosen.agreement if chosen else None,
        "selection_match": chosen.match if chosen else None,
        "target": reference,
        "retry_samples": result.retry_samples,
        "chosen_from_retry": bool(chosen is not None and chosen.extra.get("retry")),
        "repair_programs": result.repair_programs,
        "chosen_from_repair": bool(chosen is not None and chosen.extra.get("repair")),
        "chosen_source": candidate_source(chosen) if chosen is not None else None,
        "chosen_family": (chosen.extra.get("family") or (chosen.extra.get("search") or {}).get("family"))
        if chosen is not None else None,
        "chosen_weak": bool(chosen is not None and chosen.extra.get("weak")),
        "search_hits": result.search_hits,
        "errors": _error_counts(first),
        "first_error": next((c.error for c in first if not c.usable and c.error), None),
        "generation_seconds": result.timings.get("generation", 0.0),
        "execution_seconds": result.timings.get("execution", 0.0),
    }
    if with_terms:
        item["verified_solve"] = bool(chosen is not None and chosen.match and item["sequence_match"])
        item["verified_by_source"] = solves_by_source(target, result, check_terms)
    return item


def _error_counts(candidates: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for candidate in candidates:
        if not candidate.usable:
            kind = candidate.error_kind or "error"
            counts[kind] = counts.get(kind, 0) + candidate.count
    return counts


def figures(items: Sequence[dict[str, Any]], *, seconds: float, generation_seconds: float,
            execution_seconds: float, tokens: int, search_seconds: float = 0.0) -> dict[str, Any]:
    """report.json's figures for one run."""
    report = summarize(items)
    report.update(speed(targets=len(items), programs=sum(int(i["num_samples"]) for i in items), tokens=tokens,
                        seconds=seconds, generation_seconds=generation_seconds, execution_seconds=execution_seconds))
    if search_seconds:
        report["search_seconds"] = search_seconds
    report["breakdowns"] = breakdowns(items)
    errors: dict[str, int] = {}
    for item in items:
        for kind, count in (item.get("errors") or {}).items():
            errors[kind] = errors.get(kind, 0) + count
    report["sample_errors"] = dict(sorted(errors.items(), key=lambda kv: -kv[1]))
    return report


# -- runs -------------------------------------------------------------------------------------

def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), max(1, size)):
        yield items[start:start + max(1, size)]


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=" targets", disable=not enabled, file=sys.stderr, mininterval=1.0)


def run_model(generator: Any, task: Task, targets: Sequence[Target] | None = None, *, num_samples: int,
              batch_size: int, seed: int, progress: bool = True,
              **generate_options: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Items and figures of the model on `targets` (default: all of the task's): the task builds
    each request and scores each result; the figures are the common ones (`figures`) and the
    task's own (`Task.figures`, `Task.tables`). Every evaluation runs through here."""
    targets = task.targets() if targets is None else targets
    items: list[dict[str, Any]] = []
    generation = execution = searching = 0.0
    tokens_before = generator.backend.stats.tokens
    start = time.perf_counter()
    with _progress(len(targets), "evaluating", progress) as bar:
        for number, batch in enumerate(_batches(targets, batch_size)):
            requests = [task.request(t) for t in batch]
            results = generator.generate_many(requests, num_samples=num_samples, seed=task.batch_seed(seed, number),
                                              **generate_options)
            for target, result in zip(batch, results):
                items.append(task.score(target, result))
                generation += result.timings.get("generation", 0.0) + result.timings.get("decode", 0.0)
                execution += result.timings.get("execution", 0.0)
                searching += result.timings.get("search", 0.0)
            bar.update(len(batch))
            bar.set_postfix(seq_match=f"{sum(i['sequence_match'] for i in items) / len(items):.1%}")
    seconds = time.perf_counter() - start
    return items, task_figures(task, items, seconds=seconds, generation_seconds=generation,
                               execution_seconds=execution, tokens=generator.backend.stats.tokens - tokens_before,
                               search_seconds=searching)


def task_figures(task: Task, items: Sequence[dict[str, Any]], **timings: Any) -> dict[str, Any]:
    """The common figures (`figures`), then the task's own and its tables (`Task.figures`,
    `Task.tables`), which `codegen.reports` renders beside the common ones."""
    report = figures(items, **timings)
    report.update(task.figures(items))
    tables = task.tables(report)
    if tables:
        report["tables"] = tables
    return report


def run_baseline(retriever: Any, task: Task, pool: ExecutionPool, targets: Sequence[Target], *,
                 num_samples: int, batch_size: int, progress: bool = True,
                 limits: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Items and figures of a retrieval baseline, requested and scored by the task exactly like the model."""
    from .baseline import candidates_from_retrieved

    language = task.language
    items: list[dict[str, Any]] = []
    retrieval = execution = 0.0
    start = time.perf_counter()
    with _progress(len(targets), f"baseline {retriever.name}", progress) as bar:
        for batch in _batches(targets, batch_size):
            requests = [task.request(t) for t in batch]
            began = time.perf_counter()
            hits = retriever.query([t.description for t in batch], num_samples, exclude=[t.id for t in batch])
            per_request = [candidates_from_retrieved(language, found, num_samples) for found in hits]
            spent = time.perf_counter() - began
            retrieval += spent
            seconds = run_candidates(pool, requests, per_request, limits=limits)
            execution += seconds
            for target, request, candidates in zip(batch, requests, per_request):
                chosen = choose(request, candidates)
                result = GenerationResult(request=request, prompt=request.description, language=language.name,
                                          strategy=retriever.name, constrained=False, num_samples=num_samples,
                                          candidates=candidates, chosen=chosen,
                                          timings={"generation": spent / len(batch),
                                                   "execution": seconds / len(batch)})
                items.append(task.score(target, result))
            bar.update(len(batch))
    total = time.perf_counter() - start
    return items, task_figures(task, items, seconds=total, generation_seconds=retrieval, execution_seconds=execution,
                               tokens=0)


# -- command line -----------------------------------------------------------------------------

def _limits_arg(text: str) -> dict[str, Any]:
    """argparse type of --limits: a JSON object of numbers (the language checks the names)."""
    try:
        value = json.loads(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON; e.g. '{{\"max_steps\": 1000000}}'") from None
    if not isinstance(value, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                              for v in value.values()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a JSON object of numbers, e.g. '{{\"max_steps\": 1000000}}'")
    return value


def _options_arg(text: str) -> dict[str, Any]:
    """argparse type of --task-options: a JSON object (the task checks the names)."""
    try:
        value = json.loads(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON; e.g. '{{\"count\": 300}}'") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r} is not a JSON object")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m codegen.evaluate", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="model directory (optional with --baseline-model: baseline only)")
    parser.add_argument("--corpus", help="LODA corpus: the splits, and the programs `seq` calls resolve to "
                        "(default $CODEGEN_LODA_CORPUS)")
    parser.add_argument("--lang", type=language_arg, help="language (default: the checkpoint's, else loda)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--split", default="test", choices=("train", "validation", "test"))
    source.add_argument("--programs", help="evaluate every LODA program in this directory / tarball instead")
    source.add_argument("--problems", metavar="FILE.jsonl",
                        help='evaluate problems with known answers instead: one {"text", "answer", "level"} '
                        '(optional "id") a JSON line, scored by result match, with a by-level breakdown '
                        "(e.g. corpora/wat-handwritten/problems.jsonl)")
    source.add_argument("--task", help=f"evaluate a registered task instead (codegen.tasks: {', '.join(available_tasks())}"
                        "), made with --task-options, e.g. --task wat-held-out --task-options "
                        "'{\"count\": 300, \"levels\": [1, 2, 3]}'")
    parser.add_argument("--task-options", type=_options_arg, default={}, metavar="JSON",
                        help="the options of --task as a JSON object")
    parser.add_argument("--recipe", help="data recipe of the split (default: the checkpoint's, else the "
                        "language's first)")
    parser.add_argument("--limit", type=positive_int, help="evaluate a seeded random subset of N targets")
    parser.add_argument("--seed", type=int, default=0)
    add_decoding_options(parser, per="target", terms="--with-terms M")
    parser.add_argument("--with-terms", type=non_negative_int, metavar="M",
                        help="give the first M terms to the prompt (if the model takes terms) and to selection")
    parser.add_argument("--check-terms", type=positive_int, default=DEFAULT_CHECK_TERMS, metavar="T",
                        help="terms a program must reproduce (default: every listed term of the target)")
    parser.add_argument("--batch-size", type=positive_int, help="targets decoded together (default: 256 rows / K)")
    parser.add_argument("--limits", type=_limits_arg, help='the language\'s execution limits as JSON, e.g. '
                        '\'{"max_steps": 1000000}\' for LODA (default: the language\'s own)')
    parser.add_argument("--report-dir", help="write report.json, items.jsonl, report.md, report.html here")
    parser.add_argument("--baseline", help="a previous report.json to compare with")
    parser.add_argument("--baseline-model", choices=("tfidf",), help="also score a retrieval baseline")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _recipe(args: argparse.Namespace, language: str, meta: dict[str, Any]) -> str:
    if args.recipe:
        return args.recipe
    recipes = meta.get("recipes") or []
    if isinstance(recipes, str):
        recipes = [recipes]
    for recipe in recipes:
        if (recipe_language(recipe) or language) == language:
            return recipe
    return get_language(language).default_recipe


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.checkpoint and not args.baseline_model:
        print("error: give --checkpoint DIR (a model from codegen.train) and/or --baseline-model tfidf",
              file=sys.stderr)
        return 2
    if args.repair and (args.with_terms or 0) < MIN_TERMS:
        # repair verifies against the shown terms: without them it would silently do nothing
        print(f"error: --repair needs --with-terms M with M >= {MIN_TERMS}", file=sys.stderr)
        return 2
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    progress = not args.no_progress
    corpus_path = args.corpus or os.environ.get("CODEGEN_LODA_CORPUS")

    # Every argument and input is checked from the file system before the model loads (seconds):
    # the checkpoint's path and language (its codegen.json), --recipe, --baseline, --programs, the corpus.
    checkpoint = None
    checkpoint_dir: Path | None = None
    meta: dict[str, Any] = {}
    split_options: dict[str, Any] = {}  # a baseline alone: the recipes' defaults
    own: str | None = None
    if args.checkpoint:
        from .generate import checkpoint_language, resolve_checkpoint

        try:
            checkpoint_dir = resolve_checkpoint(args.checkpoint)
        except FileNotFoundError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        own = checkpoint_language(checkpoint_dir)
    lang_name = args.lang or own or DEFAULT_LANGUAGE
    if own and own != lang_name:
        print(f"error: the checkpoint is a {own} model, not {lang_name}", file=sys.stderr)
        return 2
    language = get_language(lang_name)
    if args.recipe and args.recipe not in language.recipes:
        print(f"error: --recipe {args.recipe}: {lang_name} has the recipes {', '.join(language.recipes)}",
              file=sys.stderr)
        return 2
    programs_task: ProgramsTask | None = None
    if args.programs:
        try:  # read now (no model or corpus needed), so a bad path fails before the model loads
            programs_task = ProgramsTask(language, path=args.programs)
        except InputError as error:
            print(f"error: --programs {error}", file=sys.stderr)
            return 2
    named_task: Task | None = None
    if args.task:
        # made now, so an unknown task or a bad option fails before the model loads; a task beside
        # its data (e.g. wat-held-out) reads the checkpoint's training options itself
        try:
            named_task = get_task(args.task, language, checkpoint=checkpoint_dir, **args.task_options)
        except KeyError as error:
            print(f"error: --task {error.args[0]}", file=sys.stderr)
            return 2
        except (TypeError, ValueError) as error:
            print(f"error: --task {args.task}: {error}", file=sys.stderr)
            return 2
    if args.report_dir and Path(args.report_dir).exists() and not Path(args.report_dir).is_dir():
        print(f"error: --report-dir {args.report_dir} is a file; give a directory", file=sys.stderr)
        return 2
    previous_report: dict[str, Any] | None = None
    if args.baseline:
        from .reports import load_report

        try:
            previous_report = load_report(args.baseline)
        except (OSError, ValueError) as error:  # missing, a directory without report.json, not JSON
            print(f"error: --baseline {args.baseline}: not a readable report.json ({error})", file=sys.stderr)
            return 2

    if language.calls_by_id and (corpus_path or not args.programs):
        try:
            attach_corpus(language, language.load_corpus(corpus_path, progress=progress, required=True))
        except (FileNotFoundError, InputError) as error:  # InputError: a damaged corpus (CorpusError)
            print(f"error: {error}", file=sys.stderr)
            return 2
    elif language.calls_by_id:
        print("warning: no --corpus: programs that call seq cannot run", file=sys.stderr)

    set_threads(args.threads)  # imports torch (seconds): after the checks above
    if checkpoint_dir is not None:
        from .model import load_checkpoint

        checkpoint = load_checkpoint(checkpoint_dir)
        meta = dict(checkpoint.meta or {})
        try:
            split_options = training_data_options(checkpoint_dir, meta)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        loaded = checkpoint.language if isinstance(checkpoint.language, str) else checkpoint.language.name
        if loaded != lang_name:  # a checkpoint whose codegen.json names no language
            print(f"error: the checkpoint is a {loaded} model, not {lang_name}", file=sys.stderr)
            return 2

    recipe = _recipe(args, lang_name, meta)
    with_terms = args.with_terms
    recipes = meta.get("recipes") or []
    if with_terms is None and meta.get("terms_in_prompt") and recipes and \
            all(r in language.terms_recipes for r in recipes):
        # a model trained only with terms in its prompts gets as many; a mixed one is asked by name
        with_terms = int(meta["terms_in_prompt"])
    task: Task
    if programs_task is not None:
        task = programs_task
        skipped = programs_task.skipped
        if skipped:
            print(f"{len(skipped)} program file(s) skipped, e.g. {skipped[0][0]}: {skipped[0][1]}", file=sys.stderr)
    elif named_task is not None:
        task = named_task
    elif args.problems:
        try:
            task = ProblemsTask(language, path=args.problems)
        except ProblemsFileError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    else:
        task = SplitTask(language, corpus=corpus_path, split=args.split, recipe=recipe, options=split_options)
    task.check_terms, task.with_terms = args.check_terms, with_terms  # with_terms may come from the checkpoint
    source = task.source()
    targets = choose_targets(task.targets(), args.limit, args.seed)
    if not targets:
        print("error: no targets to evaluate", file=sys.stderr)
        return 1

    limits = args.limits
    strategy, K = default_decoding(args.num_samples, args.strategy,
                                   recommended_beams(checkpoint.model) if checkpoint else 1)
    batch_size = args.batch_size or max(1, min(64, 256 // max(1, K)))
    config = {
        "checkpoint": args.checkpoint, "language": lang_name, **source, "corpus": corpus_path,
        "n_targets": len(targets), "limit": args.limit, "seed": args.seed, "num_samples": K,
        "with_terms": with_terms, "check_terms": args.check_terms, "limits": limits, "threads": args.threads,
        "batch_size": batch_size, "timeout": args.timeout, "baseline_model": args.baseline_model,
        "cpu_count": os.cpu_count(),
    }
    if checkpoint is not None:
        config.update({"strategy": strategy, "temperature": args.temperature, "retry_samples": args.retry_samples,
                       "repair": args.repair, "search": not args.no_search and language.has_search,
                       "search_time": args.search_time,
                       "constrained": not args.no_constrain, "terms_in_prompt": int(meta.get("terms_in_prompt") or 0),
                       "backend": args.backend})
    if checkpoint is not None and with_terms and not args.no_search and language.has_search:
        language.prepare_search()  # before the workers fork, so they share it
    pool = ExecutionPool(language, workers=args.workers, timeout=args.timeout).start()
    config["workers"] = pool.workers
    extra_items: dict[str, list[dict[str, Any]]] = {}
    try:
        report: dict[str, Any]
        items: list[dict[str, Any]]
        if checkpoint is not None:
            from .generate import Generator

            generator = Generator(checkpoint, backend=args.backend, pool=pool, limits=limits, retrieval_corpus=corpus_path)
            config["backend"] = generator.backend.name  # the one decoding (auto picks)
            items, report = run_model(
                generator, task, targets, num_samples=K, batch_size=batch_size, seed=args.seed, progress=progress,
                strategy=strategy,
                constrain=not args.no_constrain, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                retry_samples=args.retry_samples, repair=args.repair, search=not args.no_search,
                search_seconds=args.search_time)
            report = {"label": Path(args.checkpoint).name + ("" if not args.no_constrain else " (unconstrained)"),
                      **report}
        if args.baseline_model:
            from .baseline import build_baseline
            from .data import load_split, record_name

            train = load_split(corpus_path, lang_name, "train", recipe=recipe, **split_options)
            retriever = build_baseline(args.baseline_model, train, record_name)
            base_items, base_report = run_baseline(
                retriever, task, pool, targets, num_samples=K, batch_size=max(batch_size, 64), progress=progress,
                limits=limits)
            base_report = {"label": f"baseline {args.baseline_model}", **base_report}
            if checkpoint is None:
                items, report = base_items, base_report
            else:
                report["baseline_model"] = base_report
                extra_items["baseline"] = base_items
    finally:
        pool.close()
    if previous_report is not None:
        previous = {key: value for key, value in previous_report.items() if key not in ("baseline", "baseline_model")}
        previous.setdefault("label", f"baseline ({args.baseline})")
        report["baseline"] = previous
    report["config"] = config
    summary = {key: report.get(key) for key in ("n", "validity", "exact_match", "sequence_match", "pass_at_k",
                                                "verified_solve", "verified_solve_by_source",
                                                "solved_by", "retried", "chosen_from_retry", "chosen_from_repair",
                                                "parse_rate",
                                                "programs_per_second",
                                                "seconds", "generation_seconds", "search_seconds",
                                                "execution_seconds")
               if key in report}
    if "baseline_model" in report:
        summary["baseline_model"] = {key: report["baseline_model"].get(key) for key in
                                     ("validity", "exact_match", "sequence_match", "pass_at_k", "verified_solve")}
    print(json.dumps(summary, indent=2))
    if args.report_dir:
        from .reports import write_report

        out = write_report(args.report_dir, report, items, extra_items)
        print(f"report written to {out}/report.md, report.html, report.json, items.jsonl", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
