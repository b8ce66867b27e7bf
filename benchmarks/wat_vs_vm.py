"""LODA compiled to WebAssembly (run by wasmtime) vs the LODA VM, on the same corpus sample.

    python benchmarks/wat_vs_vm.py [--corpus PATH] [--sample 500] [--seed 5] [--terms 10]

For each program of a seeded corpus sample whose first `terms` header terms fit in i64
and that the WAT compiler accepts, both engines compute those terms:

- VM: a fresh `Evaluator` per program (its call cache lives for that program's terms);
  "with compile" = `terms()` from scratch (code generation + `compile()` of the program
  and its callees, then evaluation); "run only" = the same terms again on the same
  evaluator with its call cache cleared (compiled code kept);
- WAT: "with compile" = `compile_program` (LODA -> WAT text, canonical layout) + wasmtime
  compile + instantiation + the calls of `a`; "run only" = the calls again on the same
  instance.

Throughput (programs/s) is reported over the programs where both engines reproduce the
header terms (equal work); the others are counted by outcome. Wall-clock and thread CPU
times are both recorded (the CPU time is less sensitive to other load on the machine).
Prints a table and writes benchmarks/results/wat_vs_vm.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from corpora.loda_to_wat.compiler import UnsupportedProgram, compile_program  # noqa: E402
from corpora.wat_oeis import DEFAULT_LIMITS, _sample, error_kind, fits_i64  # noqa: E402
from languages.loda.corpus import Corpus, find_default_corpus, resolve_corpus_path  # noqa: E402
from languages.loda.errors import LodaError  # noqa: E402
from languages.loda.vm import Evaluator, Limits  # noqa: E402
from languages.wat.errors import WatError  # noqa: E402
from languages.wat.runner import Sandbox  # noqa: E402


class Clock:
    """Wall-clock and thread CPU seconds of a block."""

    def __enter__(self) -> "Clock":
        self.wall, self.cpu = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.thread_time() - self.cpu


def run_vm(corpus: Corpus, number: int, count: int, limits: Limits):
    program = corpus.program(number)
    evaluator = Evaluator(library=corpus, limits=limits)
    try:
        with Clock() as full:
            first = evaluator.terms(program, count)
        evaluator.cache.clear()
        with Clock() as run:
            second = evaluator.terms(program, count)
        assert first == second
        return first, full, run
    except LodaError as error:
        return error.kind, None, None


def run_wat(corpus: Corpus, number: int, offset: int, count: int):
    try:
        with Clock() as full:
            wat = compile_program(corpus.program(number), corpus, number=number)
            sandbox = Sandbox(wat, DEFAULT_LIMITS)
            first = [sandbox.call("a", offset + i) for i in range(count)]
        with Clock() as run:
            second = [sandbox.call("a", offset + i) for i in range(count)]
        assert first == second
        return first, full, run
    except UnsupportedProgram as error:
        return f"unsupported:{error.reason}", None, None
    except WatError as error:
        return error_kind(error), None, None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=None)
    parser.add_argument("--sample", type=int, default=500)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--terms", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=10.0, help="VM seconds per program")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "wat_vs_vm.json"))
    args = parser.parse_args(argv)

    try:
        corpus_path = resolve_corpus_path(args.corpus or find_default_corpus())
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    corpus = Corpus.load(corpus_path, progress=False)
    limits = Limits(timeout=args.timeout)
    totals = {key: 0.0 for key in ("vm_full", "vm_run", "wat_full", "wat_run",
                                   "vm_full_cpu", "vm_run_cpu", "wat_full_cpu", "wat_run_cpu")}
    outcomes: Counter[str] = Counter()
    both = 0
    numbers = _sample(corpus, args.sample, args.seed)
    for index, number in enumerate(numbers):
        record = corpus.records[number]
        expected = list(record.terms[:args.terms])
        if not expected or not all(fits_i64(t) for t in expected):
            outcomes["skipped: terms beyond i64"] += 1
            continue
        wat_result, wat_full, wat_run = run_wat(corpus, number, record.offset, len(expected))
        vm_result, vm_full, vm_run = run_vm(corpus, number, len(expected), limits)
        wat_ok, vm_ok = wat_result == expected, vm_result == expected
        if wat_ok and vm_ok:
            both += 1
            for name, clock in (("vm_full", vm_full), ("vm_run", vm_run), ("wat_full", wat_full), ("wat_run", wat_run)):
                totals[name] += clock.wall
                totals[name + "_cpu"] += clock.cpu
            outcomes["both match"] += 1
        else:
            wat_state = "match" if wat_ok else (wat_result if isinstance(wat_result, str) else "wrong")
            vm_state = "match" if vm_ok else (vm_result if isinstance(vm_result, str) else "wrong")
            outcomes[f"wat {wat_state} / vm {vm_state}"] += 1
        if (index + 1) % 100 == 0:
            print(f"  {index + 1}/{len(numbers)} programs", file=sys.stderr)

    def rate(seconds: float) -> float:
        return round(both / seconds, 1) if seconds else 0.0

    result = {
        "corpus": corpus_path.name, "sample": len(numbers), "seed": args.seed, "terms": args.terms,
        "programs_timed": both, "outcomes": dict(sorted(outcomes.items())),
        "programs_per_second": {
            "vm_with_compile": rate(totals["vm_full"]), "vm_run_only": rate(totals["vm_run"]),
            "wat_with_compile": rate(totals["wat_full"]), "wat_run_only": rate(totals["wat_run"]),
        },
        "programs_per_cpu_second": {
            "vm_with_compile": rate(totals["vm_full_cpu"]), "vm_run_only": rate(totals["vm_run_cpu"]),
            "wat_with_compile": rate(totals["wat_full_cpu"]), "wat_run_only": rate(totals["wat_run_cpu"]),
        },
        "seconds": {key: round(value, 3) for key, value in totals.items()},
        "speedup_wat_over_vm": {
            "with_compile": round(totals["vm_full"] / totals["wat_full"], 2) if totals["wat_full"] else None,
            "run_only": round(totals["vm_run"] / totals["wat_run"], 2) if totals["wat_run"] else None,
        },
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "wasmtime": _version("wasmtime")},
    }
    pps, cpu = result["programs_per_second"], result["programs_per_cpu_second"]
    print(f"{both} programs where both engines reproduce the first {args.terms} terms "
          f"(sample {len(numbers)}, seed {args.seed})")
    print(f"{'engine':<8} {'with compile':>14} {'run only':>10}   programs/s (wall; per CPU second)")
    for engine in ("vm", "wat"):
        print(f"{engine:<8} {pps[f'{engine}_with_compile']:>14} {pps[f'{engine}_run_only']:>10}   "
              f"({cpu[f'{engine}_with_compile']}; {cpu[f'{engine}_run_only']})")
    speed = result["speedup_wat_over_vm"]
    print(f"wat / vm speed-up: {speed['with_compile']}x with compile, {speed['run_only']}x run only")
    for key, value in result["outcomes"].items():
        print(f"  {key}: {value}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


def _version(package: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(package)
    except Exception:
        return None


if __name__ == "__main__":
    sys.exit(main())
