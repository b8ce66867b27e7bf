"""Run candidate programs in worker processes with hard timeouts.

`language.execute` never raises and enforces the language's own limits (steps, memory,
fuel), but a bug, a pathological input or a limit set too high must still not stall a
run: every task has a wall-clock deadline, and a worker that overruns it is killed
(SIGKILL) and replaced; its task gets an `ExecutionResult` with `error_kind="timeout"`.
A worker that dies (crash, out of memory) is replaced the same way (`error_kind="crash"`).

Workers are forked where the platform allows it, so they share the parent's loaded
state (the LODA corpus behind `seq` calls) without pickling it. A worker also runs a
language's term searches (`SearchTask`), so the searches of many requests run side by side.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Mapping, Sequence

from .language import ExecutionResult, Language, SearchHit, get_language

DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class ExecutionTask:
    """One program to run: `language.execute(code, terms=..., offset=..., forbidden=..., limits=...)`.
    `offset=None` leaves the language's default (the program's own offset)."""

    code: str
    terms: int = 10
    offset: int | None = None
    forbidden: tuple[str, ...] = ()
    limits: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)

    def key(self) -> tuple:
        return (self.code, self.terms, self.offset, self.forbidden,
                tuple(sorted((self.limits or {}).items())))


@dataclass(frozen=True)
class SearchTask:
    """One term search: `language.search_programs(terms, offset=..., forbidden=..., seeds=...,
    time_limit=...)`. Its hard deadline in the pool is at least `time_limit` plus `SEARCH_GRACE`
    (a worker loads the language's search index on its first search)."""

    terms: tuple[int, ...]
    offset: int = 0
    forbidden: tuple[str, ...] = ()
    seeds: tuple[tuple[str, str], ...] = ()
    time_limit: float = 2.0
    description: str | None = None

    @property
    def hard_timeout(self) -> float:
        return self.time_limit + SEARCH_GRACE


SEARCH_GRACE = 60.0  # seconds beyond a search's own limit before its worker is killed


@dataclass
class SearchOutcome:
    """What a search task gave: its hits, or why it failed."""

    ok: bool
    hits: list[SearchHit] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def run_task(language: Language, task: ExecutionTask | SearchTask) -> ExecutionResult | SearchOutcome:
    """Run one task in this process, timing it; converts any escaping exception into a failed result."""
    if isinstance(task, SearchTask):
        return _run_search(language, task)
    kwargs: dict[str, Any] = {"terms": task.terms, "forbidden": task.forbidden}
    if task.offset is not None:
        kwargs["offset"] = task.offset
    if task.limits is not None:
        kwargs["limits"] = task.limits
    start = time.perf_counter()
    try:
        result = language.execute(task.code, **kwargs)
    except Exception as error:  # execute promises not to raise; a bug must not kill the worker
        result = ExecutionResult(ok=False, error=f"{type(error).__name__}: {error}", error_kind="crash")
    if not result.seconds:
        result.seconds = time.perf_counter() - start
    return result


def _run_search(language: Language, task: SearchTask) -> SearchOutcome:
    start = time.perf_counter()
    try:
        hits = language.search_programs(list(task.terms), offset=task.offset, forbidden=task.forbidden,
                                        seeds=task.seeds, time_limit=task.time_limit, description=task.description)
        return SearchOutcome(ok=True, hits=list(hits), seconds=time.perf_counter() - start)
    except Exception as error:  # a search bug costs this request its search, not the run
        return SearchOutcome(ok=False, error=f"{type(error).__name__}: {error}", seconds=time.perf_counter() - start)


def _worker_main(language_source: Any, connection: Connection, memory_mb: int | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and kills workers
    if memory_mb:
        try:
            import resource

            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):
            pass
    try:
        language = language_source() if callable(language_source) and not isinstance(language_source, Language) \
            else language_source
        if isinstance(language, str):
            language = get_language(language)
    except Exception:  # report the failure on every task rather than hanging the parent
        load_error = traceback.format_exc(limit=3)
        language = None
    while True:
        try:
            message_in = connection.recv()
        except (EOFError, OSError):
            return
        if message_in is None:
            return
        index, task = message_in
        if language is None:
            result = ExecutionResult(ok=False, error=f"worker could not load its language: {load_error}",
                                     error_kind="crash")
        else:
            try:
                result = run_task(language, task)
            except MemoryError:
                result = ExecutionResult(ok=False, error="out of memory", error_kind="memory_limit")
        try:
            connection.send((index, result))
        except (BrokenPipeError, OSError):
            return


class _Worker:
    def __init__(self, context: Any, language_source: Any, memory_mb: int | None):
        parent, child = context.Pipe(duplex=True)
        self.connection: Connection = parent
        self.process = context.Process(target=_worker_main, args=(language_source, child, memory_mb), daemon=True)
        self.process.start()
        child.close()
        self.task: int | None = None
        self.deadline = 0.0

    def kill(self) -> None:
        try:
            self.process.kill()
        except (OSError, AttributeError):
            pass
        self.process.join(timeout=5)
        self.connection.close()

    def stop(self) -> None:
        try:
            self.connection.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.process.join(timeout=1)
        if self.process.is_alive():
            self.kill()
        else:
            self.connection.close()


def _default_context() -> str:
    return "fork" if sys.platform.startswith("linux") else "spawn"


class ExecutionPool:
    """A fixed number of worker processes running `ExecutionTask`s with a hard timeout each.

    `language` is a `Language` (inherited by forked workers), a registered language name, or a
    picklable zero-argument callable returning one (for the spawn start method).
    `workers=0` runs tasks in this process: no parallelism and no hard timeout (for debugging).
    `memory_mb` caps each worker's address space (RLIMIT_AS); off by default, as the languages
    bound memory themselves and wasmtime reserves far more address space than it uses.

        with ExecutionPool(language, workers=2, timeout=5) as pool:
            results = pool.run(tasks)
    """

    def __init__(self, language: Language | str | Callable[[], Language], *, workers: int | None = None,
                 timeout: float = DEFAULT_TIMEOUT, memory_mb: int | None = None, context: str | None = None):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # forking after the tokenizer ran
        self.language_source = language
        self.workers = max(1, min(2, os.cpu_count() or 1)) if workers is None else max(0, workers)
        self.timeout = float(timeout)
        self.memory_mb = memory_mb
        self._context = multiprocessing.get_context(context or _default_context())
        self._pool: list[_Worker] = []
        self.killed = 0  # workers killed for overrunning their deadline
        self.crashed = 0  # workers that died on their own
        self._inline_language: Language | None = None

    # -- lifecycle
    def _spawn(self) -> _Worker:
        return _Worker(self._context, self.language_source, self.memory_mb)

    def start(self) -> "ExecutionPool":
        while len(self._pool) < self.workers:
            self._pool.append(self._spawn())
        return self

    def close(self) -> None:
        for worker in self._pool:
            worker.stop()
        self._pool = []

    def __enter__(self) -> "ExecutionPool":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            for worker in self._pool:
                worker.kill()
        except Exception:
            pass

    # -- running
    def _language(self) -> Language:
        if self._inline_language is None:
            source = self.language_source
            if isinstance(source, Language):
                self._inline_language = source
            elif isinstance(source, str):
                self._inline_language = get_language(source)
            else:
                self._inline_language = source()
        return self._inline_language

    def run(self, tasks: Sequence[ExecutionTask | SearchTask],
            progress: Callable[[int], None] | None = None) -> list[ExecutionResult | SearchOutcome]:
        """Results in the order of `tasks` (a search task's is a `SearchOutcome`, or a failed
        `ExecutionResult` where its worker timed out or died). `progress(n)` is called as n more
        tasks finish."""
        tasks = list(tasks)
        results: list[ExecutionResult | SearchOutcome | None] = [None] * len(tasks)
        if not tasks:
            return []
        if self.workers == 0:
            for index, task in enumerate(tasks):
                results[index] = run_task(self._language(), task)
                if progress:
                    progress(1)
            return results  # type: ignore[return-value]
        self.start()
        pending = iter(range(len(tasks)))
        remaining = len(tasks)
        exhausted = False

        def assign(worker: _Worker) -> bool:
            nonlocal exhausted
            if exhausted:
                return False
            index = next(pending, None)
            if index is None:
                exhausted = True
                return False
            try:
                worker.connection.send((index, tasks[index]))
            except (BrokenPipeError, OSError):
                # the idle worker died; replace it and retry on the new one
                worker = self._replace(worker, killed=False)
                worker.connection.send((index, tasks[index]))
            worker.task = index
            worker.deadline = time.monotonic() + max(self.timeout, getattr(tasks[index], "hard_timeout", 0.0))
            return True

        try:
            for worker in list(self._pool):
                assign(worker)
            self._collect(tasks, results, remaining, assign, progress)
        except BaseException:
            # Ctrl-C (the REPL cancels a request and goes on) or an error mid-run: a busy worker's
            # result would arrive during the next run and be taken for one of its tasks, so every
            # busy worker is replaced and the pool stays usable.
            for number, worker in enumerate(self._pool):
                if worker.task is not None:
                    worker.kill()
                    self._pool[number] = self._spawn()
            raise
        return results  # type: ignore[return-value]

    def _collect(self, tasks: Sequence[ExecutionTask], results: list[ExecutionResult | None], remaining: int,
                 assign: Callable[[_Worker], bool], progress: Callable[[int], None] | None) -> None:
        """Receive results (and enforce deadlines) until `remaining` tasks have finished."""
        while remaining:
            busy = [worker for worker in self._pool if worker.task is not None]
            now = time.monotonic()
            wait_for = max(0.0, min(worker.deadline for worker in busy) - now)
            ready = wait([worker.connection for worker in busy], timeout=wait_for)
            finished: list[_Worker] = []
            for worker in busy:
                if worker.connection in ready:
                    try:
                        index, result = worker.connection.recv()
                    except (EOFError, OSError):
                        index = worker.task
                        code = worker.process.exitcode
                        result = ExecutionResult(ok=False, error=f"worker died (exit code {code})",
                                                 error_kind="crash", seconds=self.timeout)
                        worker = self._replace(worker, killed=False)
                    results[index] = result
                    worker.task = None
                    finished.append(worker)
                elif time.monotonic() >= worker.deadline:
                    index = worker.task
                    limit = max(self.timeout, getattr(tasks[index], "hard_timeout", 0.0))
                    results[index] = ExecutionResult(
                        ok=False, error=f"no result within the hard timeout of {limit:g} s",
                        error_kind="timeout", seconds=limit)
                    finished.append(self._replace(worker, killed=True))
            remaining -= len(finished)
            if progress and finished:
                progress(len(finished))
            for worker in finished:
                assign(worker)

    def _replace(self, worker: _Worker, *, killed: bool) -> _Worker:
        worker.kill()
        if killed:
            self.killed += 1
        else:
            self.crashed += 1
        fresh = self._spawn()
        self._pool[self._pool.index(worker)] = fresh
        return fresh

