"""`python -m languages.loda`: eval, check and fmt.

Exit status: 0 success, 1 a failed evaluation / unreadable or invalid program,
2 a usage problem (bad arguments, no corpus where one is needed).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .canonical import format_program
from .corpus import Corpus, resolve_corpus_path
from .errors import LodaError
from .parser import parse


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    return Path(path).read_text()


def _load_corpus(path: str | None) -> Corpus:
    return Corpus.load(resolve_corpus_path(path), progress=sys.stderr.isatty())


def _limits(args):
    from .vm import Limits

    return Limits(max_steps=args.max_steps, max_memory=args.max_memory, timeout=args.timeout or None)


def _parse_file(path: str):
    """The parsed program, or None after printing why it could not be read or parsed."""
    try:
        return parse(_read(path), source=path)
    except OSError as error:
        print(f"error: cannot read {path}: {error.strerror or error}", file=sys.stderr)
    except LodaError as error:
        print(f"error: {error}", file=sys.stderr)
    return None


def cmd_eval(args) -> int:
    from .vm import Evaluator

    program = _parse_file(args.file)
    if program is None:
        return 1
    library = None
    if program.calls():
        try:
            library = _load_corpus(args.corpus)
        except FileNotFoundError as error:
            print(f"error: {error} (the program calls {len(program.calls())} other sequence(s))", file=sys.stderr)
            return 2
    evaluator = Evaluator(library=library, limits=_limits(args))
    computed: list[str] = []
    try:
        for value in evaluator.iter_terms(program, args.terms):
            computed.append(str(value))
    except LodaError as error:
        if computed:
            print(",".join(computed))
        print(f"error: {args.file}: {error}", file=sys.stderr)
        return 1
    print(",".join(computed))
    return 0


def cmd_fmt(args) -> int:
    program = _parse_file(args.file)
    if program is None:
        return 1
    sys.stdout.write(format_program(program))
    return 0


def cmd_check(args) -> int:
    from .check import collect_tasks, format_summary, run_check, write_report

    try:
        corpus = _load_corpus(args.corpus)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        tasks = collect_tasks(corpus, args.programs, sample=args.sample, seed=args.seed, ids=args.ids)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary, outcomes = run_check(corpus, tasks, terms=args.terms, jobs=args.jobs, limits=_limits(args),
                                  progress=not args.no_progress)
    if args.report:
        write_report(args.report, outcomes)
    print(format_summary(summary, args.terms))
    if args.show:
        shown = [o for o in outcomes if o.status != "match"][: args.show]
        for outcome in shown:
            print(f"  {outcome.id} {outcome.status}: {outcome.error or ','.join(map(str, outcome.computed))}")
    if args.json:
        print(summary.as_json())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m languages.loda", description="LODA tools: eval, check, fmt")
    sub = parser.add_subparsers(dest="command", required=True)

    def limits(p):
        p.add_argument("--max-steps", type=int, default=10_000_000, help="steps per term (default 10^7)")
        p.add_argument("--max-memory", type=int, default=100_000, help="memory cells (default 100000)")
        p.add_argument("--timeout", type=float, default=10.0, help="seconds per program, 0 = none (default 10)")

    p = sub.add_parser("eval", help="print the first terms of a program")
    p.add_argument("file", help="a .asm file, or - for standard input")
    p.add_argument("-t", "--terms", type=int, default=10, help="number of terms (default 10)")
    p.add_argument("--corpus", help="loda-programs checkout or tarball for seq calls "
                                    "(default $CODEGEN_LODA_CORPUS)")
    limits(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("check", help="evaluate programs and compare with their header terms")
    p.add_argument("--programs", help="folder or tarball of .asm files (default: the corpus itself)")
    p.add_argument("--corpus", help="loda-programs checkout or tarball (default $CODEGEN_LODA_CORPUS)")
    p.add_argument("--sample", type=int, help="check a seeded random sample of N programs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--terms", type=int, default=10, help="header terms to compare (default 10)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--report", help="write one JSON line per program to this file")
    p.add_argument("--json", action="store_true", help="end with one JSON line: the summary")
    p.add_argument("--show", type=int, default=0, help="list the first N programs that did not match")
    p.add_argument("--id", dest="ids", action="append", help="check only this sequence (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    limits(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("fmt", help="print the canonical form of a program")
    p.add_argument("file", help="a .asm file, or - for standard input")
    p.set_defaults(func=cmd_fmt)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "terms", 1) < 0:
        print("error: --terms must be non-negative", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
