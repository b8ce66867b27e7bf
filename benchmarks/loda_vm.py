"""Compiled LODA VM vs the plain interpreter on a fixed corpus sample.

    python benchmarks/loda_vm.py [--corpus PATH] [--sample 2000] [--seed 42] [--terms 10]

Both engines evaluate the same programs (a seeded sample of the corpus, programs
with listed terms) with the same limits, each with its own call cache kept across
programs (as `check` does). Times include compilation for the VM. Throughput is
reported over the programs that both engines finished without a timeout; steps are
counted as the reference counts them (a `seq` adds the callee's steps, cached or not).
Prints a table and writes benchmarks/results/loda_vm.json.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from languages.loda.check import collect_tasks  # noqa: E402
from languages.loda.corpus import Corpus, find_default_corpus, resolve_corpus_path  # noqa: E402
from languages.loda.errors import LodaError  # noqa: E402
from languages.loda.interpreter import Interpreter  # noqa: E402
from languages.loda.vm import Evaluator, Limits  # noqa: E402


def measure(engine, program, count: int):
    """(seconds, outcome) for `count` terms; outcome is the terms or the error kind."""
    values = []
    started = time.perf_counter()
    try:
        for value in engine.iter_terms(program, count) if hasattr(engine, "iter_terms") else engine.terms(program, count):
            values.append(value)
        outcome = tuple(values)
    except LodaError as error:
        outcome = error.kind
    return time.perf_counter() - started, outcome


def run_pass(engine, programs, label: str):
    """Evaluate every (id, program, count); returns {id: (seconds, outcome, steps)}."""
    results = {}
    for index, (ident, program, count) in enumerate(programs):
        before = getattr(engine, "total_steps", 0)
        seconds, outcome = measure(engine, program, count)
        steps = getattr(engine, "total_steps", 0) - before
        results[ident] = (seconds, outcome, steps)
        if (index + 1) % 500 == 0:
            print(f"  {label}: {index + 1}/{len(programs)}", file=sys.stderr)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=None)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--terms", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per program and engine")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "loda_vm.json"))
    args = parser.parse_args(argv)

    try:
        corpus_path = resolve_corpus_path(args.corpus or find_default_corpus())
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    corpus = Corpus.load(corpus_path, progress=False)
    tasks = collect_tasks(corpus, sample=args.sample, seed=args.seed)
    programs = [(t.id, corpus.program(t.number), min(args.terms, len(t.expected))) for t in tasks]
    for number in {k for t in tasks for k in corpus.dependencies(t.number)}:
        if number in corpus:
            corpus.program(number)  # parse every callee up front: parsing is timed for neither engine
    limits = Limits(timeout=args.timeout)

    # 1. compiled, cold: compilation of every program and callee included
    vm = Evaluator(library=corpus, limits=limits)
    cold = run_pass(vm, programs, "compiled (cold)")
    # 2. compiled, warm: same evaluator (programs compiled), call cache emptied: execution only
    vm.cache.clear()
    warm = run_pass(vm, programs, "compiled (warm)")
    # 3. the plain interpreter (its own call cache, built the same way)
    plain = run_pass(Interpreter(library=corpus, limits=limits), programs, "plain")

    timeouts = sorted(i for i in cold if "timeout" in (cold[i][1], warm[i][1], plain[i][1]))
    common = [i for i, _, _ in programs if i not in timeouts]
    disagree = [i for i in common if not cold[i][1] == warm[i][1] == plain[i][1]]
    steps = sum(cold[i][2] for i in common)

    def row(results):
        seconds = sum(results[i][0] for i in common)
        return {"seconds": round(seconds, 3), "programs_per_s": round(len(common) / seconds, 1),
                "steps_per_s": round(steps / seconds)}

    ratios = [plain[i][0] / cold[i][0] for i in common if cold[i][0] > 0]
    hot = [i for i in common if plain[i][0] > 0.05]  # programs that take the interpreter some time
    result = {
        "corpus": corpus_path.name,
        "sample": len(tasks),
        "seed": args.seed,
        "terms": args.terms,
        "programs_compared": len(common),
        "excluded_timeouts": timeouts,
        "outcomes_disagree": disagree,
        "steps": steps,
        "plain": row(plain),
        "compiled": row(cold),
        "compiled_warm": row(warm),
        "speedup": round(sum(plain[i][0] for i in common) / sum(cold[i][0] for i in common), 2),
        "speedup_warm": round(sum(plain[i][0] for i in common) / sum(warm[i][0] for i in common), 2),
        "speedup_median_per_program": round(statistics.median(ratios), 2) if ratios else None,
        "hot_programs": len(hot),
        "speedup_hot_programs": round(sum(plain[i][0] for i in hot) / sum(cold[i][0] for i in hot), 2) if hot else None,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")

    print(f"LODA VM benchmark: {len(common)} programs of a {len(tasks)}-program sample (seed {args.seed}), "
          f"{args.terms} terms, {steps:,} steps (reference count: calls add the callee's steps, cached or not)")
    print(f"{'engine':<34}{'seconds':>9}{'programs/s':>12}{'steps/s':>14}{'speed-up':>10}")
    for name, label, speedup in [("plain", "plain interpreter", 1.0),
                                 ("compiled", "compiled VM (compile included)", result["speedup"]),
                                 ("compiled_warm", "compiled VM (warm: execution only)", result["speedup_warm"])]:
        r = result[name]
        print(f"{label:<34}{r['seconds']:>9.2f}{r['programs_per_s']:>12.1f}{r['steps_per_s']:>14,}{speedup:>9.2f}x")
    print(f"median per-program speed-up {result['speedup_median_per_program']}x; "
          f"on the {len(hot)} programs taking the interpreter > 50 ms: {result['speedup_hot_programs']}x")
    if timeouts:
        print(f"excluded (timeout in an engine): {', '.join(timeouts)}")
    if disagree:
        print(f"WARNING: outcomes differ for {', '.join(disagree)}")
    print(f"wrote {out}")
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
