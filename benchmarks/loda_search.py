"""Model-free search (languages.loda.search) on held-out sequences, and the classics.

    python benchmarks/loda_search.py [--corpus PATH] [--limit 400] [--terms 8] [--seed 0]
        [--time-limit 2.0] [--families corpus,formulas] [--no-build] [--output PATH]

Targets: a seeded sample of the test split's ids (`codegen.data.split_assignment`). Each
target's first `--terms` listed terms go to `search` at its offset, with the target and its
twins forbidden (sequences with the same program or the same normalised name, which the split
keeps beside it: as `codegen.evaluate` does through the language). The first proposal counts
as solved where it reproduces **every** listed term of the target in the VM. Reported: index
build seconds (a fresh build, unless --no-build), the search's seconds per target (median,
90th percentile; index loaded), solve rate (first proposal; any returned proposal), solved
targets by family kind, and each classic's time and first program, found from 8 terms at
offsets 0 and 1 with its own program forbidden. Writes benchmarks/results/loda_search.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from codegen.data import normalize_name, split_assignment  # noqa: E402
from codegen.reports import atomic_write  # noqa: E402
from languages.loda.corpus import Corpus, find_default_corpus, parse_sequence_id, resolve_corpus_path  # noqa: E402
from languages.loda.errors import LodaError  # noqa: E402
from languages.loda.parser import parse  # noqa: E402
from languages.loda.search import search  # noqa: E402
from languages.loda.search.index import TermsIndex  # noqa: E402
from languages.loda.vm import Evaluator, Limits  # noqa: E402

# the classics: squares, odd numbers, primes, factorials, Fibonacci, triangular numbers,
# powers of 2, Catalan numbers, and the Pell numbers (g.f. x/(1 - 2x - x^2))
CLASSICS = (290, 5408, 40, 142, 45, 217, 79, 108, 129)
CHECK_LIMITS = Limits(max_steps=10_000_000, timeout=10.0)


def classic_terms(corpus: Corpus, number: int, offset: int, count: int = 8) -> list[int]:
    """a(offset), ..., as a user would type them: the listed terms from a(offset), or, for an
    offset below the sequence's own, its first listed terms renumbered from `offset`."""
    record = corpus.get(number)
    skip = max(0, offset - record.offset)
    return list(record.terms[skip:skip + count])


def twins(corpus: Corpus) -> dict[int, frozenset[int]]:
    """number -> the other sequences with the same program or the same normalised name."""
    by_code: dict[str, set[int]] = {}
    by_name: dict[str, set[int]] = {}
    for number, record in corpus.records.items():
        by_code.setdefault(record.code, set()).add(number)
        by_name.setdefault(normalize_name(record.name), set()).add(number)
    return {number: frozenset((by_code[record.code] | by_name[normalize_name(record.name)]) - {number})
            for number, record in corpus.records.items()}


def reproduces_all(corpus: Corpus, code: str, terms, offset: int, forbidden) -> bool:
    """Whether the program reproduces every one of `terms` from a(offset) in the VM."""
    evaluator = Evaluator(library=corpus, limits=CHECK_LIMITS, forbidden=forbidden)
    try:
        for expected, value in zip(terms, evaluator.iter_terms(parse(code), len(terms), start=offset)):
            if value != expected:
                return False
    except LodaError:
        return False
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus")
    parser.add_argument("--limit", type=int, default=400, help="test targets (default 400)")
    parser.add_argument("--terms", type=int, default=8, help="terms given to the search (default 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=2.0, help="seconds per target (default 2)")
    parser.add_argument("--max-results", type=int, default=10)
    parser.add_argument("--families", default="corpus,formulas", help="comma-separated (default corpus,formulas)")
    parser.add_argument("--no-build", action="store_true", help="do not time a fresh index build")
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "loda_search.json"))
    args = parser.parse_args(argv)
    try:
        corpus_path = resolve_corpus_path(args.corpus or find_default_corpus())
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    corpus = Corpus.load(corpus_path, progress=False)
    families = tuple(f for f in args.families.split(",") if f)

    build_seconds = None
    if not args.no_build:
        started = time.perf_counter()
        TermsIndex.build(corpus)
        build_seconds = round(time.perf_counter() - started, 2)
        print(f"index build: {build_seconds} s", file=sys.stderr)
    index = TermsIndex.load(corpus, progress=False)

    classics = []
    for number in CLASSICS:
        for offset in (0, 1):
            terms = classic_terms(corpus, number, offset)
            started = time.perf_counter()
            found = search(terms, offset=offset, corpus=corpus, index=index, forbidden=[number],
                           time_limit=args.time_limit, max_results=args.max_results, families=families)
            seconds = time.perf_counter() - started
            top = found[0] if found else None
            row = {"id": f"A{number:06d}", "offset": offset, "terms": terms, "seconds": round(seconds, 3),
                   "found": top is not None, "family": top.family if top else None,
                   "code": top.code if top else None, "checked_terms": top.checked_terms if top else 0}
            classics.append(row)
            print(f"classic A{number:06d} offset {offset}: {seconds:.2f} s {row['family']}", file=sys.stderr)

    assignment, _ = split_assignment(corpus_path, "loda", corpus=corpus)
    test_ids = sorted(parse_sequence_id(i) for i, split in assignment.items() if split == "test")
    test_ids = [n for n in test_ids if n in corpus and len(corpus.get(n).terms) > args.terms]
    targets = sorted(random.Random(args.seed).sample(test_ids, min(args.limit, len(test_ids))))
    twin = twins(corpus)

    rows, seconds = [], []
    for done, number in enumerate(targets, 1):
        record = corpus.get(number)
        forbidden = frozenset({number}) | twin[number]
        started = time.perf_counter()
        found = search(record.terms[:args.terms], offset=record.offset, corpus=corpus, index=index,
                       forbidden=forbidden, time_limit=args.time_limit, max_results=args.max_results,
                       families=families)
        seconds.append(time.perf_counter() - started)
        correct = [reproduces_all(corpus, p.code, record.terms, record.offset, forbidden) for p in found]
        rows.append({"id": record.id, "seconds": round(seconds[-1], 3), "proposals": len(found),
                     "solved": bool(correct and correct[0]), "solved_any": any(correct),
                     "family": found[0].family if found else None, "kind": found[0].kind if found else None,
                     "weak": found[0].weak if found else None, "listed_terms": len(record.terms)})
        if done % 50 == 0:
            solved = sum(r["solved"] for r in rows)
            print(f"  {done}/{len(targets)}: solved {solved} ({solved / done:.1%})", file=sys.stderr)

    n = len(rows)
    solved = sum(r["solved"] for r in rows)
    with_hit = sum(r["proposals"] > 0 for r in rows)
    result = {
        "corpus": corpus_path.name,
        "corpus_hash": corpus.hash,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "settings": {"targets": n, "terms_given": args.terms, "seed": args.seed, "time_limit": args.time_limit,
                     "max_results": args.max_results, "families": list(families),
                     "checked_on": "every listed term of the target"},
        "index": {"build_seconds": build_seconds, "entries": len(index)},
        "seconds_per_target": {"median": round(statistics.median(seconds), 3) if seconds else None,
                               "p90": round(sorted(seconds)[int(0.9 * (n - 1))], 3) if seconds else None,
                               "max": round(max(seconds), 3) if seconds else None},
        "solve_rate": round(solved / n, 4) if n else None,
        "solve_rate_any_proposal": round(sum(r["solved_any"] for r in rows) / n, 4) if n else None,
        "targets_with_a_verified_proposal": with_hit,
        "false_first_proposals": with_hit - solved,
        "solved_by_kind": dict(Counter(r["kind"] for r in rows if r["solved"]).most_common()),
        "classics": classics,
        "classics_all_found": all(c["found"] for c in classics),
        "classics_max_seconds": max(c["seconds"] for c in classics),
        "targets": rows,
    }
    atomic_write(args.output, json.dumps(result, indent=1) + "\n")
    print(f"index build {build_seconds} s; median {result['seconds_per_target']['median']} s/target; "
          f"solved {solved}/{n} ({result['solve_rate']:.1%}; any proposal {result['solve_rate_any_proposal']:.1%}); "
          f"{with_hit} with a verified proposal; classics found: {result['classics_all_found']}, "
          f"slowest {result['classics_max_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
