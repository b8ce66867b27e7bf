"""`check`: evaluate programs and compare them with the terms listed in their headers.

Programs come from the corpus itself (default) or from a folder / tarball of `.asm`
files; `seq` calls are resolved through the corpus. Programs whose header lists no
terms are not counted. With several jobs, worker processes evaluate one program at
a time and a worker that overruns the hard timeout is killed and replaced.
"""
from __future__ import annotations

import gc
import json
import multiprocessing
import os
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from codegen.reports import atomic_write

from .corpus import Corpus, iter_program_files, parse_sequence_id, sequence_id
from .errors import LodaError
from .parser import parse
from .vm import Evaluator, Limits

_TERMS = re.compile(r"\s*-?\d+(?:\s*,\s*-?\d+)*\s*\Z")
_NAME = re.compile(r"\s*A(\d+)\s*:")


@dataclass(frozen=True)
class Task:
    id: str
    expected: tuple[int, ...]
    number: int | None = None  # a corpus program
    text: str | None = None  # an external program
    source: str | None = None  # its file name


@dataclass
class Outcome:
    id: str
    status: str  # "match" | "mismatch" | "error"
    error: str | None = None
    kind: str | None = None
    computed: list[int] = field(default_factory=list)

    def report_line(self) -> str:
        return json.dumps({"id": self.id, "status": self.status, "error": self.error, "computed": self.computed})


@dataclass
class Summary:
    checked: int
    matched: int
    mismatched: int
    errors: dict[str, int]
    seconds: float

    def as_json(self) -> str:
        return json.dumps({"checked": self.checked, "matched": self.matched, "mismatched": self.mismatched,
                           "errors": self.errors, "seconds": round(self.seconds, 3)})


# ---------------------------------------------------------------------------- collecting programs


def _header_terms(header) -> tuple[int, ...]:
    for line in header:
        if _TERMS.match(line):
            return tuple(int(t) for t in line.split(","))
    return ()


def _external_task(name: str, text: str) -> Task:
    """A task for a program file outside the corpus: id from its header or file name."""
    header = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith(";"):
            break
        header.append(stripped[1:].strip())
    ident = Path(name).stem
    for line in header:
        match = _NAME.match(line)
        if match:
            ident = sequence_id(int(match.group(1)))
            break
    return Task(id=ident, expected=_header_terms(header), text=text, source=name)


def collect_tasks(corpus: Corpus, programs: str | os.PathLike | None = None, *, sample: int | None = None,
                  seed: int = 0, ids: list[str] | None = None) -> list[Task]:
    """The programs to check (only those listing terms), a seeded sample where asked."""
    same = programs is None or (corpus.path is not None and Path(programs).resolve() == Path(corpus.path).resolve())
    if same:
        numbers = sorted(number for number, record in corpus.records.items() if record.terms)
        if ids:
            wanted_numbers = {parse_sequence_id(i) for i in ids}
            numbers = [n for n in numbers if n in wanted_numbers]
        if sample is not None and sample < len(numbers):
            numbers = sorted(random.Random(seed).sample(numbers, sample))
        records = corpus.records
        return [Task(id=records[n].id, expected=tuple(records[n].terms), number=n) for n in numbers]
    else:
        path = Path(programs)
        if not path.exists():
            raise FileNotFoundError(f"programs not found: {path}")
        tasks = [task for task in (_external_task(n, t) for n, t in iter_program_files(path)) if task.expected]
        tasks.sort(key=lambda t: t.id)
    if ids:
        wanted = {sequence_id(parse_sequence_id(i)) for i in ids}
        tasks = [t for t in tasks if t.id in wanted]
    if sample is not None and sample < len(tasks):
        tasks = sorted(random.Random(seed).sample(tasks, sample), key=lambda t: t.id)
    return tasks


# ---------------------------------------------------------------------------- evaluating


def check_one(evaluator: Evaluator, corpus: Corpus, task: Task, terms: int) -> Outcome:
    expected = task.expected[:terms]
    computed: list[int] = []
    try:
        if task.number is not None:
            # parsed here rather than through corpus.program(): that cache is kept for callees,
            # and a whole-corpus run would otherwise hold every parsed program in memory
            record = corpus.records[task.number]
            program = parse(record.code, source=record.path)
        else:
            program = parse(task.text, source=task.source)
        for value, want in zip(evaluator.iter_terms(program, len(expected)), expected):
            computed.append(value)
            if value != want:
                return Outcome(task.id, "mismatch", computed=computed)
    except LodaError as error:
        return Outcome(task.id, "error", f"{error.kind}: {error}", error.kind, computed)
    return Outcome(task.id, "match", computed=computed)


# worker state, inherited through fork
_STATE: dict = {}


def _worker(conn, terms: int, limits: Limits) -> None:
    corpus = _STATE["corpus"]
    evaluator = Evaluator(library=corpus, limits=limits)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            outcome = check_one(evaluator, corpus, task, terms)
        except BaseException as error:  # report, never die silently
            outcome = Outcome(task.id, "error", f"internal: {type(error).__name__}: {error}", "internal")
        conn.send(outcome)


class _Pool:
    """Worker processes fed one task at a time; an overrunning worker is killed."""

    def __init__(self, jobs: int, terms: int, limits: Limits, hard_timeout: float):
        self.context = multiprocessing.get_context("fork")
        self.terms = terms
        self.limits = limits
        self.hard_timeout = hard_timeout
        self.workers = [self._start() for _ in range(jobs)]

    def _start(self):
        parent, child = self.context.Pipe()
        process = self.context.Process(target=_worker, args=(child, self.terms, self.limits), daemon=True)
        process.start()
        child.close()
        return {"process": process, "conn": parent, "task": None, "since": 0.0}

    def run(self, tasks: list[Task]):
        pending = list(reversed(tasks))
        busy = 0
        while pending or busy:
            for index, worker in enumerate(self.workers):
                if worker["task"] is None and pending:
                    task = pending.pop()
                    try:
                        worker["conn"].send(task)
                    except (BrokenPipeError, OSError):
                        self._replace(index)
                        worker = self.workers[index]
                        worker["conn"].send(task)
                    worker["task"], worker["since"] = task, time.monotonic()
                    busy += 1
            ready = wait([w["conn"] for w in self.workers if w["task"] is not None], timeout=0.5)
            for conn in ready:
                index = next(i for i, w in enumerate(self.workers) if w["conn"] is conn)
                worker = self.workers[index]
                try:
                    outcome = conn.recv()
                except (EOFError, OSError):
                    task = worker["task"]
                    outcome = Outcome(task.id, "error", "internal: worker died", "internal")
                    self._replace(index)
                    worker = self.workers[index]
                worker["task"] = None
                busy -= 1
                yield outcome
            now = time.monotonic()
            for index, worker in enumerate(self.workers):
                task = worker["task"]
                if task is not None and now - worker["since"] > self.hard_timeout:
                    self._replace(index)
                    busy -= 1
                    yield Outcome(task.id, "error", f"timeout: killed after {self.hard_timeout:.0f} s", "timeout")

    def _replace(self, index: int) -> None:
        worker = self.workers[index]
        worker["process"].kill()
        worker["process"].join(5)
        worker["conn"].close()
        self.workers[index] = self._start()

    def close(self) -> None:
        for worker in self.workers:
            try:
                worker["conn"].send(None)
            except (BrokenPipeError, OSError):
                pass
        for worker in self.workers:
            worker["process"].join(2)
            if worker["process"].is_alive():
                worker["process"].kill()
                worker["process"].join(2)


def run_check(corpus: Corpus, tasks: list[Task], *, terms: int = 10, jobs: int = 1, limits: Limits | None = None,
              hard_timeout: float | None = None, progress: bool = True) -> tuple[Summary, list[Outcome]]:
    from tqdm import tqdm

    limits = limits or Limits()
    if hard_timeout is None:
        hard_timeout = 2 * (limits.timeout or 60.0) + 5.0
    gc.freeze()  # the corpus index is long-lived: keep it out of the collector's way
    started = time.monotonic()
    outcomes: list[Outcome] = []
    bar = tqdm(total=len(tasks), desc="checking", unit=" programs", disable=not progress, mininterval=0.5,
               file=sys.stderr)
    try:
        if jobs <= 1 or len(tasks) < 2:
            evaluator = Evaluator(library=corpus, limits=limits)
            for task in tasks:
                outcomes.append(check_one(evaluator, corpus, task, terms))
                bar.update()
        else:
            _STATE["corpus"] = corpus
            pool = _Pool(min(jobs, len(tasks)), terms, limits, hard_timeout)
            try:
                for outcome in pool.run(tasks):
                    outcomes.append(outcome)
                    bar.update()
            finally:
                pool.close()
                _STATE.clear()
    finally:
        bar.close()
    seconds = time.monotonic() - started
    outcomes.sort(key=lambda o: o.id)
    counts = Counter(o.status for o in outcomes)
    errors = Counter(o.kind for o in outcomes if o.status == "error")
    summary = Summary(checked=len(outcomes), matched=counts["match"], mismatched=counts["mismatch"],
                      errors=dict(sorted(errors.items())), seconds=seconds)
    return summary, outcomes


def write_report(path: str | os.PathLike, outcomes: list[Outcome]) -> None:
    """One JSON line per program, written to a temporary file then renamed into place."""
    atomic_write(path, "".join(outcome.report_line() + "\n" for outcome in outcomes))


def format_summary(summary: Summary, terms: int) -> str:
    checked = summary.checked or 1
    rate = summary.checked / summary.seconds if summary.seconds > 0 else float("inf")
    lines = [f"checked {summary.checked} programs ({terms} terms) in {summary.seconds:.1f} s, {rate:.1f} programs/s",
             f"  match     {summary.matched:8d}  {100 * summary.matched / checked:6.2f}%",
             f"  mismatch  {summary.mismatched:8d}  {100 * summary.mismatched / checked:6.2f}%"]
    errors = sum(summary.errors.values())
    lines.append(f"  error     {errors:8d}  {100 * errors / checked:6.2f}%")
    for kind, count in sorted(summary.errors.items(), key=lambda kv: -kv[1]):
        lines.append(f"    {kind:14s}{count:6d}")
    return "\n".join(lines)
