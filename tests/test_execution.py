"""The execution pool: results in order, hard timeouts that kill and replace a hanging worker."""
from __future__ import annotations

import os
import time

import pytest

from codegen.execution import ExecutionPool, ExecutionTask
from codegen.language import ExecutionResult, Grammar, Language


class _Toy(Language):
    """Programs are commands: 'echo N' returns [N, N+1, ...], 'hang' never returns, 'die' kills
    the process, 'boom' raises."""

    name = "toy-exec"

    def canonicalize(self, code):
        return code.strip()

    def validate(self, code):
        pass

    def execute(self, code, *, terms=10, offset=0, forbidden=(), limits=None):
        if code == "hang":
            while True:
                time.sleep(0.05)
        if code == "die":
            os._exit(3)
        if code == "boom":
            raise RuntimeError("bug")
        value = int(code.split()[1])
        return ExecutionResult(ok=True, outputs=[value + i for i in range(terms)])

    def structural_tokens(self):
        return []

    def tokenize(self, code):
        return code.split()

    def detokenize(self, tokens):
        return " ".join(tokens)

    def grammar(self) -> Grammar:
        raise NotImplementedError


def test_pool_kills_a_hanging_candidate_within_its_timeout():
    tasks = [ExecutionTask("echo 1", terms=3), ExecutionTask("hang"), ExecutionTask("echo 5", terms=2),
             ExecutionTask("hang"), ExecutionTask("echo 7", terms=1)]
    with ExecutionPool(_Toy(), workers=2, timeout=0.5) as pool:
        start = time.monotonic()
        results = pool.run(tasks)
        elapsed = time.monotonic() - start
        assert [r.outputs for r in results if r.ok] == [[1, 2, 3], [5, 6], [7]]
        assert [r.error_kind for r in results] == [None, "timeout", None, "timeout", None]
        assert pool.killed == 2
        assert elapsed < 3.0  # two hangs of 0.5 s on two workers, not an unbounded wait
        # the replaced workers keep serving
        assert [r.outputs for r in pool.run([ExecutionTask("echo 2", terms=2)] * 3)] == [[2, 3]] * 3
        assert all(w.process.is_alive() for w in pool._pool)


def test_pool_survives_crashes_and_exceptions():
    with ExecutionPool(_Toy(), workers=1, timeout=5) as pool:
        results = pool.run([ExecutionTask("die"), ExecutionTask("boom"), ExecutionTask("echo 4", terms=1)])
    assert results[0].error_kind == "crash" and not results[0].ok
    assert results[1].error_kind == "crash" and "bug" in results[1].error
    assert results[2].outputs == [4]


def test_inline_mode_and_progress():
    seen = []
    pool = ExecutionPool(_Toy(), workers=0)
    results = pool.run([ExecutionTask("echo 3", terms=2)] * 4, progress=seen.append)
    assert [r.outputs for r in results] == [[3, 4]] * 4 and sum(seen) == 4


def test_loda_candidates_run_in_workers():
    from codegen.language import get_language

    language = get_language("loda")
    tasks = [ExecutionTask("mov $1,$0\nmul $0,$1\n", terms=5), ExecutionTask("#offset 1\nadd $0,1\n", terms=3),
             ExecutionTask("mov $1,$0\nmul $0,$1\n", terms=3, offset=2),
             ExecutionTask("div $0,0\n", terms=2)]
    with ExecutionPool(language, workers=2, timeout=10) as pool:
        results = pool.run(tasks)
    assert results[0].outputs == [0, 1, 4, 9, 16]
    assert results[1].outputs == [2, 3, 4]  # the program's own offset
    assert results[2].outputs == [4, 9, 16]  # the requested offset
    assert not results[3].ok and results[3].error_kind == "undefined"


def test_loda_endless_loop_is_stopped_by_the_hard_timeout():
    from codegen.language import get_language

    language = get_language("loda")
    endless = "mov $1,1000000000000\nlpb $1\n  sub $1,1\n  add $2,$1\nlpe\n"
    limits = {"max_steps": 10**15, "timeout": None}
    with ExecutionPool(language, workers=1, timeout=1.0) as pool:
        start = time.monotonic()
        result, = pool.run([ExecutionTask(endless, terms=1, limits=limits)])
        assert time.monotonic() - start < 4.0
        assert result.error_kind == "timeout"
        ok, = pool.run([ExecutionTask("add $0,2\n", terms=2)])
    assert ok.outputs == [2, 3]


@pytest.mark.parametrize("workers", [1, 2])
def test_results_keep_task_order(workers):
    tasks = [ExecutionTask(f"echo {i}", terms=1) for i in range(25)]
    with ExecutionPool(_Toy(), workers=workers, timeout=5) as pool:
        assert [r.outputs for r in pool.run(tasks)] == [[i] for i in range(25)]
