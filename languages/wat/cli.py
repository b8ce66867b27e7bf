"""`python -m languages.wat`: run, format and validate WebAssembly text; generate problems.

    run FILE [--entry NAME] [ARGS...]   print the result of ENTRY(ARGS) (default `main`)
    fmt FILE [--check | --in-place]     print the canonical text
    validate FILE                       parse + validate (+ imports), print "ok"
    problems --count N --seed S [--levels 1,2,3] [--kinds chain,expr] [--jsonl OUT] [--verify]

FILE may be `-` for standard input. On an error, the message (with line and column where
there is one) goes to standard error. Exit status (as every tool of the project, `codegen.cli`):
0 done, 1 a program that does not parse, validate or run, 2 a usage or input error (bad
arguments or limits, a FILE that cannot be read or is not UTF-8 text, an output that cannot be
written), 130 interrupted. The WAT recipes add subcommands of their own (`add_commands` of a
`corpora.Recipe`): "wat-oeis" adds the LODA compiler's `from-loda` and `check-loda`
(`corpora.loda_to_wat.cli`), so this package imports nothing of the compiler or of LODA.
Every subcommand sets `func`: handler(args) -> exit code.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import Counter
from typing import Any, Callable, Sequence

from codegen.cli import non_negative_int, positive_float, positive_int
from codegen.language import InputError, get_language

from .canonical import DEFAULT_MAX_BYTES, format_wat
from .errors import WatError, WatSizeError


def _read(path: str, max_bytes: int | None = DEFAULT_MAX_BYTES) -> str:
    """The file's text; the size cap is checked on the file size before reading it. A file that
    cannot be read or is not UTF-8 text raises `InputError` (exit 2)."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(max_bytes + 1 if max_bytes else -1)
        else:
            if max_bytes is not None:
                size = os.stat(path).st_size
                if size > max_bytes:
                    raise WatSizeError(f"module text too large: {size} bytes > limit of {max_bytes} bytes")
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise WatSizeError(f"module text too large: more than {max_bytes} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text: {error}") from None


def _fail(path: str, error: Exception) -> int:
    """Print the error (file, line and column where known); 2 for input and argument errors, else 1."""
    if isinstance(error, (InputError, OSError)):
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        sys.stderr.write(f"{path}: {reason}\n")
        return 2
    if isinstance(error, WatError):
        where = f"{error.line}:{error.column}:" if error.line is not None else ""
        reason = error.reason if error.reason.startswith(f"{error.kind}:") else f"{error.kind} error: {error.reason}"
        sys.stderr.write(f"{path}:{where} {reason}\n")
    else:
        sys.stderr.write(f"{path}: error: {error}\n")
    return 1


def _interruptible(call: Callable[[], Any]) -> Any:
    """`call()` on a daemon thread while the main thread waits for it. A wasm call runs in native
    code, where Python handles Ctrl-C only when the call returns (at its --timeout); waiting here,
    the main thread takes Ctrl-C at once and the CLI ends, the thread with it."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # handed to the main thread as if raised there
            outcome["error"] = error

    thread = threading.Thread(target=target, name="wat-run", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.1)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def cmd_run(args: argparse.Namespace) -> int:
    from .runner import RunLimits, run

    logs: list[int] = []
    try:
        limits = RunLimits(fuel=args.fuel, timeout=args.timeout, memory_bytes=args.memory)
        text = _read(args.file, limits.max_bytes)
        result = _interruptible(lambda: run(text, entry=args.entry, args=list(args.args), limits=limits,
                                            isolate=args.isolate, logs=logs))
    except (WatError, InputError, OSError) as error:
        for value in logs:
            sys.stderr.write(f"log: {value}\n")
        return _fail(args.file, error)
    for value in logs:
        sys.stderr.write(f"log: {value}\n")
    if result is not None:
        print(result)
    return 0


def cmd_fmt(args: argparse.Namespace) -> int:
    try:
        text = _read(args.file)
        canonical = format_wat(text)
    except (WatError, InputError, OSError) as error:
        return _fail(args.file, error)
    if args.check:
        if text != canonical:
            sys.stderr.write(f"{args.file}: not in canonical form\n")
            return 1
        return 0
    if args.in_place and args.file != "-":
        if text != canonical:
            try:
                with open(args.file, "w", encoding="utf-8") as handle:
                    handle.write(canonical)
            except OSError as error:
                return _fail(args.file, error)
        return 0
    sys.stdout.write(canonical)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .runner import check_imports
    from .validator import validate

    try:
        module = validate(_read(args.file))
        check_imports(module)
    except (WatError, InputError, OSError) as error:
        return _fail(args.file, error)
    exports = ", ".join(e.name for e in module.exports) or "none"
    print(f"ok (exports: {exports})")
    return 0


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"levels must be comma-separated integers, got {text!r}") from None
    if not levels or any(x not in (1, 2, 3, 4, 5) for x in levels):
        raise argparse.ArgumentTypeError(f"levels must be among 1,2,3,4,5, got {text!r}")
    return levels


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(x.strip() for x in text.split(",") if x.strip())
    if not kinds:
        raise argparse.ArgumentTypeError(f"kinds must be comma-separated names, got {text!r}")
    return kinds  # generate_problems names an unknown kind, with the known ones


def cmd_problems(args: argparse.Namespace) -> int:
    from .problems import generate_problems

    started = time.perf_counter()
    try:
        problems = generate_problems(args.count, seed=args.seed, levels=args.levels, kinds=args.kinds)
    except ValueError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    generated = time.perf_counter() - started
    lines = (json.dumps(p.to_dict()) + "\n" for p in problems)
    if args.jsonl and args.jsonl != "-":
        try:
            with open(args.jsonl, "w", encoding="utf-8") as handle:
                handle.writelines(lines)
        except OSError as error:
            return _fail(args.jsonl, error)
    elif not args.verify or args.jsonl == "-":
        sys.stdout.writelines(lines)
    if not args.verify:
        return 0
    from .runner import run

    started = time.perf_counter()
    equal = 0
    failures: list[str] = []
    for p in problems:
        try:
            value = run(p.wat)
        except WatError as error:
            failures.append(f"{p.id}: {error.kind}: {error}")
            continue
        if value == p.answer:
            equal += 1
        else:
            failures.append(f"{p.id}: WAT gave {value}, Python answer {p.answer}")
    verified = time.perf_counter() - started
    duplicates = len(problems) - len({p.text for p in problems})
    by_level = Counter(p.level for p in problems)
    summary = {
        "count": len(problems), "seed": args.seed, "levels": list(args.levels),
        "per_level": {str(k): by_level[k] for k in sorted(by_level)}, "kinds": len({p.kind for p in problems}),
        "wat_equals_python": equal, "mismatches": len(failures), "duplicate_texts": duplicates,
        "generate_seconds": round(generated, 2), "verify_seconds": round(verified, 2),
    }
    for line in failures[:20]:
        sys.stderr.write(line + "\n")
    sys.stderr.write(json.dumps(summary) + "\n")
    return 0 if not failures and not duplicates else 1


def _is_int(text: str) -> bool:
    try:
        int(text, 0)
        return True
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m languages.wat",
                                     description="Run, format and validate WebAssembly text; generate problems.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run an exported function in the sandbox and print its result")
    p.add_argument("file", metavar="FILE", help="WAT file, or - for standard input")
    p.add_argument("args", metavar="ARGS", nargs="*", help="integer arguments")
    p.add_argument("--entry", default="main", help="exported function to call (default: main)")
    p.add_argument("--fuel", type=non_negative_int, default=100_000_000, help="instruction budget (default: 100000000)")
    p.add_argument("--timeout", type=positive_float, default=2.0, help="wall-clock limit in seconds (default: 2)")
    p.add_argument("--memory", type=non_negative_int, default=16 << 20,
                   help="linear memory limit in bytes (default: 16 MiB)")
    p.add_argument("--isolate", action="store_true", help="run in a worker process that is killed on timeout")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("fmt", help="print the canonical form")
    p.add_argument("file", metavar="FILE", help="WAT file, or - for standard input")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="exit 1 if FILE is not in canonical form")
    group.add_argument("-i", "--in-place", action="store_true", help="rewrite FILE in canonical form")
    p.set_defaults(func=cmd_fmt)

    p = sub.add_parser("validate", help="parse and validate; print ok or the error")
    p.add_argument("file", metavar="FILE", help="WAT file, or - for standard input")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("problems", help="generate natural-language problems with WAT solutions (JSONL)")
    p.add_argument("--count", type=positive_int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--levels", type=_levels, default=(1, 2, 3, 4, 5), help="comma-separated, e.g. 1,2,3")
    p.add_argument("--kinds", type=_kinds, default=None, help="only these kinds, comma-separated, e.g. chain,expr")
    p.add_argument("--jsonl", metavar="OUT", help="write JSONL here (default: standard output)")
    p.add_argument("--verify", action="store_true",
                   help="run every program, compare with the Python answers, print a JSON summary on stderr "
                        "(JSONL then goes to --jsonl only; --jsonl - for standard output)")
    p.set_defaults(func=cmd_problems)

    for recipe in get_language("wat").recipes.values():  # e.g. the LODA compiler's from-loda, check-loda
        if recipe.add_commands is not None:
            recipe.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # `run FILE --entry f 5 -7`: argparse stops filling ARGS at the first option
        if getattr(args, "func", None) is cmd_run and all(_is_int(x) for x in extra):
            args.args = list(args.args) + extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.func(args) or 0)
    except InputError as error:  # e.g. a damaged corpus met by from-loda / check-loda
        sys.stderr.write(f"error: {error}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return 130
    except BrokenPipeError:
        return 0
