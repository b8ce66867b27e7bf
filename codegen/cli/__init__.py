"""What every command-line tool of the project shares: exit statuses, argparse number types and
the wrapper that turns Ctrl-C and input errors into one line instead of a traceback. The package
also holds the command line of `python -m codegen.generate` (`codegen.cli.generate`), its REPL
(`codegen.cli.repl`) and the decoding options generate and evaluate share (`codegen.cli.options`).

Exit statuses, the same in `codegen.train`, `generate`, `evaluate`, `tokenizer`, `data` and
`python -m languages.loda` / `languages.wat`:

    0    done
    1    a runtime failure (a program that does not run, a failed training step, ...)
    2    a usage or input error: bad arguments or numbers (argparse), a missing or damaged corpus,
         an unreadable file
    3    `codegen.generate` only: terms or --expected were given and no candidate matches them
    130  interrupted (Ctrl-C)
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

from ..language import InputError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NO_MATCH = 3
EXIT_INTERRUPTED = 130


def fail(message: object, status: int = EXIT_USAGE) -> int:
    """Print `error: message` on standard error; returns `status` for `return fail(...)`."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    return status


def run_main(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """`main(argv)`'s status, with the ordinary ways out of a tool made quiet: Ctrl-C is one line and
    130, an `InputError` that escaped the tool's own checks one line and 2, a closed output pipe
    (`... | head`) 0. Every `python -m codegen.<tool>` entry point runs through here."""
    try:
        return int(main(argv) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except InputError as error:
        return fail(error)
    except BrokenPipeError:
        # the reader went away; point stdout at /dev/null so the flush at exit does not complain again
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_OK


def _number(text: str, kind: type, name: str) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {name}") from None


def positive_int(text: str) -> int:
    """argparse type for counts that must be at least 1 (samples, workers, terms to show)."""
    value = int(_number(text, int, "an integer"))
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive; give 1 or more")
    return value


def non_negative_int(text: str) -> int:
    """argparse type for counts where 0 means off or none."""
    value = int(_number(text, int, "an integer"))
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
    return value


def positive_float(text: str) -> float:
    """argparse type for durations and temperatures: a finite number above 0."""
    value = float(_number(text, float, "a number"))
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def probability(text: str) -> float:
    """argparse type for top-p: a number in (0, 1]."""
    value = float(_number(text, float, "a number"))
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not in (0, 1]")
    return value
