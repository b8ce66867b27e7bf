"""`python -m languages.wat from-loda` and `check-loda`: the LODA -> WAT compiler on the command line.

    from-loda FILE.asm [--corpus PATH]      print the WAT module of a LODA program
                                            (--corpus resolves its `seq` calls)
    check-loda --corpus PATH [--sample N] [--seed S] [--terms T] [--json]
                                            compile and run corpus programs, compare with
                                            their header terms (JSON on the last line)

Exit codes: 0 done; 1 the program cannot be parsed or compiled (reason on stderr); 2 bad usage
or input (argparse, a FILE that cannot be read or is not UTF-8 text, no corpus or a damaged one).

The WAT CLI gets these verbs from its recipes (the "wat-oeis" recipe's `add_commands` is
`register` here), so `languages/wat` imports nothing of the compiler or of `languages/loda`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from languages.loda.corpus import CORPUS_ENV


def register(subparsers) -> None:
    p = subparsers.add_parser("from-loda", help="compile a LODA program to WebAssembly text",
                              description="Print the WAT module (export a(n: i64) -> i64) of a LODA program.")
    p.add_argument("file", metavar="FILE.asm", help="LODA program ('-' reads stdin)")
    p.add_argument("--corpus", metavar="PATH", default=None,
                   help=f"loda-programs checkout or tarball resolving seq calls (default: ${CORPUS_ENV})")
    p.add_argument("--cell-limit", type=int, default=None, help="cells per function in memory mode")
    p.set_defaults(func=from_loda)

    p = subparsers.add_parser("check-loda", help="compile corpus programs to WAT and check their terms",
                              description="Compile a seeded sample of LODA corpus programs, run them under "
                                          "wasmtime and compare with the terms in their headers. Programs "
                                          "whose first T terms do not all fit in i64 are skipped.")
    p.add_argument("--corpus", metavar="PATH", default=None,
                   help=f"loda-programs checkout or tarball (default: ${CORPUS_ENV})")
    p.add_argument("--sample", type=int, default=None, metavar="N", help="check N programs drawn at random")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the sample (default 0)")
    p.add_argument("--terms", type=int, default=10, metavar="T", help="terms compared per program (default 10)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on the last line")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=check_loda_cmd)


def _error(message: str, status: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


def _library(path: str | None, required: bool):
    from languages.loda.corpus import Corpus

    if path is None and not os.environ.get(CORPUS_ENV):
        if required:
            raise FileNotFoundError(f"no LODA corpus given: pass --corpus PATH or set ${CORPUS_ENV}")
        return None
    return Corpus.load(path, progress=sys.stderr.isatty())


def from_loda(args: argparse.Namespace) -> int:
    from languages.loda.errors import LodaError
    from languages.loda.parser import parse

    from .compiler import DEFAULT_CELL_LIMIT, UnsupportedProgram, compile_program

    source = "<stdin>" if args.file == "-" else args.file
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        text = data.decode("utf-8")
    except OSError as error:
        return _error(f"cannot read {source}: {error.strerror or error}", 2)
    except UnicodeDecodeError as error:
        return _error(f"{source}: not UTF-8 text: {error}", 2)
    try:
        program = parse(text, source=source)
    except LodaError as error:
        return _error(str(error))
    try:
        library = _library(args.corpus, required=False) if program.calls() else None
    except (OSError, ValueError) as error:  # no corpus, or a damaged one (CorpusError)
        return _error(str(error), 2)
    try:
        wat = compile_program(program, library, cell_limit=args.cell_limit or DEFAULT_CELL_LIMIT)
    except UnsupportedProgram as error:
        return _error(f"cannot compile {source}: {error}")
    sys.stdout.write(wat)
    return 0


def check_loda_cmd(args: argparse.Namespace) -> int:
    from corpora.wat_oeis import check_loda

    if args.terms < 1 or (args.sample is not None and args.sample < 1):
        return _error("--terms and --sample must be positive", 2)
    progress = not args.quiet
    try:
        corpus = _library(args.corpus, required=True)
    except (OSError, ValueError) as error:  # no corpus, or a damaged one (CorpusError)
        return _error(str(error), 2)
    result = check_loda(corpus, sample=args.sample, seed=args.seed, terms=args.terms, progress=progress)
    checked = result["checked"]
    share = f" ({100 * result['matched'] / checked:.1f}%)" if checked else ""
    errors = ", ".join(f"{k} {v}" for k, v in result["errors"].items())
    unsupported = sum(result["unsupported"].values())
    reasons = ", ".join(f"{k} {v}" for k, v in result["unsupported"].items())
    print(f"sample {result['sample']}: checked {checked}, matched {result['matched']}{share}, "
          f"mismatched {result['mismatched']}{f' ({errors})' if errors else ''}")
    print(f"unsupported {unsupported}{f' ({reasons})' if reasons else ''}, skipped {result['skipped']} "
          f"(terms beyond i64), {result['seconds']:.1f} s")
    if args.json:
        print(json.dumps(result))
    return 0
