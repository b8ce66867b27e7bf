"""`python -m languages.loda`: eval, check, fmt and search.

Exit status (as every tool of the project, `codegen.cli`): 0 success, 1 a failed evaluation or
an invalid program, 2 a usage or input problem (bad arguments or numbers, a file that cannot be
read or is not UTF-8 text, no corpus or a damaged one where one is needed), 130 interrupted.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codegen.cli import non_negative_int, positive_float, positive_int
from codegen.language import InputError

from .canonical import format_program
from .corpus import Corpus, CorpusError, resolve_corpus_path
from .errors import LodaError
from .parser import parse


class _Unreadable(Exception):
    """A program file that cannot be read as text: the message says why (exit 2)."""


def _read(path: str) -> str:
    """The file's text (standard input for "-"); raises `_Unreadable` for a missing or binary file."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        raise _Unreadable(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _Unreadable(f"{path}: not UTF-8 text: {error}") from None


def _load_corpus(path: str | None) -> Corpus:
    return Corpus.load(resolve_corpus_path(path), progress=sys.stderr.isatty())


def _limits(args):
    from .vm import Limits

    return Limits(max_steps=args.max_steps, max_memory=args.max_memory, timeout=args.timeout or None)


def _parse_file(path: str):
    """(the parsed program, 0), or (None, exit status) after printing why it could not be read (2)
    or parsed (1)."""
    try:
        return parse(_read(path), source=path), 0
    except _Unreadable as error:
        print(f"error: {error}", file=sys.stderr)
        return None, 2
    except LodaError as error:
        print(f"error: {error}", file=sys.stderr)
    return None, 1


def cmd_eval(args) -> int:
    from .vm import Evaluator

    program, status = _parse_file(args.file)
    if program is None:
        return status
    library = None
    if program.calls():
        try:
            library = _load_corpus(args.corpus)
        except (FileNotFoundError, CorpusError) as error:
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
    program, status = _parse_file(args.file)
    if program is None:
        return status
    sys.stdout.write(format_program(program))
    return 0


def cmd_check(args) -> int:
    from .check import collect_tasks, format_summary, run_check, write_report

    if args.report and Path(args.report).is_dir():
        # found before the corpus is read and the programs are run, not after
        print(f"error: --report {args.report} is a directory; give a file name", file=sys.stderr)
        return 2
    try:
        corpus = _load_corpus(args.corpus)
    except (FileNotFoundError, CorpusError) as error:
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
        try:
            write_report(args.report, outcomes)
        except OSError as error:
            print(f"error: cannot write --report {args.report}: {error.strerror or error}", file=sys.stderr)
            return 2
    print(format_summary(summary, args.terms))
    if args.show:
        shown = [o for o in outcomes if o.status != "match"][: args.show]
        for outcome in shown:
            print(f"  {outcome.id} {outcome.status}: {outcome.error or ','.join(map(str, outcome.computed))}")
    if args.json:
        print(summary.as_json())
    return 0


def _int_list(text: str, what: str) -> list[int]:
    """Comma-separated integers; ValueError naming `what` and the bad item."""
    items = [item.strip() for item in text.replace(" ", ",").split(",") if item.strip()]
    if not items:
        raise ValueError(f"{what}: no terms given")
    try:
        return [int(item) for item in items]
    except ValueError:
        bad = next(item for item in items if not item.lstrip("+-").isdigit())
        raise ValueError(f"{what} must be comma-separated integers, not {bad!r}") from None


def cmd_search(args) -> int:
    import json

    from .corpus import find_default_corpus, parse_sequence_id, sequence_id
    from .search import search
    from .search.index import TermsIndex

    try:
        terms = _int_list(args.term_list, "--terms")
        forbidden = [parse_sequence_id(item) for item in args.forbid.split(",") if item.strip()]
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        corpus = _load_corpus(args.corpus or find_default_corpus())
    except (FileNotFoundError, CorpusError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    index = TermsIndex.load(corpus, progress=sys.stderr.isatty())
    found = search(terms, offset=args.offset, corpus=corpus, index=index, forbidden=forbidden,
                   time_limit=args.time_limit, max_results=args.max_results, name=args.name)
    if args.json:
        print(json.dumps({"terms": terms, "offset": args.offset, "forbidden": [sequence_id(n) for n in forbidden],
                          "programs": [{"code": p.code, "family": p.family, "kind": p.kind, "weak": p.weak,
                                        "checked_terms": p.checked_terms, "operations": p.operations,
                                        "calls": p.calls, "steps": p.steps} for p in found]}))
    else:
        for rank, proposal in enumerate(found, 1):
            print(f"# {rank}. {proposal.family} ({proposal.kind}): reproduces all {proposal.checked_terms} "
                  f"given terms from a({args.offset})")
            if proposal.weak:
                print(f"# warning: weak match: {len(terms)} terms cannot confirm this program; "
                      "check it on more terms before trusting it")
            print(proposal.code)
    if not found:
        print(f"no verified program found for these {len(terms)} terms within {args.time_limit:g} s", file=sys.stderr)
        return 1
    return 0


def _timeout(text: str) -> float:
    """argparse type of --timeout: seconds, 0 for none."""
    return 0.0 if text.strip() in ("0", "0.0") else positive_float(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m languages.loda", description="LODA tools: eval, check, fmt, search")
    sub = parser.add_subparsers(dest="command", required=True)

    def limits(p):
        p.add_argument("--max-steps", type=positive_int, default=10_000_000, help="steps per term (default 10^7)")
        p.add_argument("--max-memory", type=positive_int, default=100_000, help="memory cells (default 100000)")
        p.add_argument("--timeout", type=_timeout, default=10.0, help="seconds per program, 0 = none (default 10)")

    p = sub.add_parser("eval", help="print the first terms of a program")
    p.add_argument("file", help="a .asm file, or - for standard input")
    p.add_argument("-t", "--terms", type=non_negative_int, default=10, help="number of terms (default 10)")
    p.add_argument("--corpus", help="loda-programs checkout or tarball for seq calls "
                                    "(default $CODEGEN_LODA_CORPUS)")
    limits(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("check", help="evaluate programs and compare with their header terms")
    p.add_argument("--programs", help="folder or tarball of .asm files (default: the corpus itself)")
    p.add_argument("--corpus", help="loda-programs checkout or tarball (default $CODEGEN_LODA_CORPUS)")
    p.add_argument("--sample", type=positive_int, help="check a seeded random sample of N programs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--terms", type=non_negative_int, default=10, help="header terms to compare (default 10)")
    p.add_argument("--jobs", type=positive_int, default=1, help="worker processes (default 1)")
    p.add_argument("--report", help="write one JSON line per program to this file")
    p.add_argument("--json", action="store_true", help="end with one JSON line: the summary")
    p.add_argument("--show", type=non_negative_int, default=0, help="list the first N programs that did not match")
    p.add_argument("--id", dest="ids", action="append", help="check only this sequence (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    limits(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("fmt", help="print the canonical form of a program")
    p.add_argument("file", help="a .asm file, or - for standard input")
    p.set_defaults(func=cmd_fmt)

    p = sub.add_parser("search", help="programs for given terms, found in the corpus and by formulas (no model)")
    p.add_argument("--terms", dest="term_list", required=True, metavar="T1,T2,...",
                   help="the known terms, a(offset) first")
    p.add_argument("--offset", type=int, default=0, help="index of the first given term (default 0)")
    p.add_argument("--time-limit", type=positive_float, default=2.0, help="seconds to search (default 2)")
    p.add_argument("--max-results", type=positive_int, default=5, help="programs to print at most (default 5)")
    p.add_argument("--forbid", default="", metavar="A000290,...", help="sequences no program may call")
    p.add_argument("--name", default=None, metavar="TEXT",
                   help="what the sequence is, in words: the programs of the nearest named corpus sequences "
                        "are mutated too")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--corpus", help="loda-programs checkout or tarball (default $CODEGEN_LODA_CORPUS, "
                                    "else ../shared/corpora)")
    p.set_defaults(func=cmd_search)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as error:  # e.g. a damaged corpus met where a subcommand did not expect one
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
