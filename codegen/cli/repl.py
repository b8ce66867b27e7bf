"""The interactive session of `python -m codegen.generate --interactive`: a line is a
description, `:cmd` lines set options; each request runs as a one-shot one does
(`codegen.cli.generate.run_one`)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Iterable

from ..cache import cache_dir
from ..generate import Generator, default_checkpoint, format_result, resolve_checkpoint
from . import non_negative_int
from .generate import make_generator, run_one
from .options import language_arg, num_samples_arg, parse_terms

REPL_HELP = """Type a description to generate a program. Commands:
  :terms 1,1,2,3     first terms (prompt + selection + search); ':terms' alone clears them
  :offset K          the first term is a(K); ':offset' alone: each program's own
  :search on|off     term search beside the model where terms are given
  :expected N        expected result (problems); ':expected' alone clears it
  :samples K         candidates per request (1 = greedy)
  :strategy S        greedy | beam | sample | auto
  :retry N           where no candidate runs, sample N more (0: off)
  :repair N          with terms none reproduces, try N one-constant variants (0: off)
  :constrain on|off  grammar-constrained decoding
  :count N           terms to compute and show
  :lang L            switch language (loads checkpoints/<L>-t5-tiny; clears terms, offset, expected)
  :checkpoint DIR    load another checkpoint
  :show all|best     list every candidate, or only the chosen one
  :json on|off       print results as JSON
  :settings          show the current settings
  :help              this text
  :quit              leave (also Ctrl-D)
Ctrl-C cancels the request in flight and returns to the prompt."""


class Repl:
    """The interactive loop of `--interactive`: a line is a description, `:cmd` lines set options.
    Reads stdin line by line (with readline history where stdin is a terminal), so it can be
    driven by a pipe."""

    HISTORY = cache_dir() / "repl_history"

    def __init__(self, generator: Generator, args: argparse.Namespace, *, corpus: Any = None,
                 stdin: Any = None, stdout: Any = None):
        self.generator = generator
        self.args = args
        self.corpus = corpus
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.terms: list[int] | None = parse_terms(args.terms)
        self.samples = args.num_samples
        self.show_all = args.show_all
        self.as_json = args.json
        self.constrain = not args.no_constrain
        self.tty = hasattr(self.stdin, "isatty") and self.stdin.isatty()

    def say(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def _setup_history(self) -> None:
        try:
            import atexit
            import readline
        except ImportError:
            return
        try:
            self.HISTORY.parent.mkdir(parents=True, exist_ok=True)
            if self.HISTORY.exists():
                readline.read_history_file(str(self.HISTORY))
            readline.set_history_length(1000)
            atexit.register(readline.write_history_file, str(self.HISTORY))
        except OSError:
            pass

    def _lines(self) -> Iterable[str]:
        if self.tty and self.stdin is sys.stdin:
            self._setup_history()
            while True:
                try:
                    yield input(f"{self.generator.language.name}> ")
                except EOFError:
                    self.say("")
                    return
                except KeyboardInterrupt:  # Ctrl-C at the prompt drops the line, as a shell does
                    self.say("\n(:quit or Ctrl-D to leave)")
        else:
            for line in self.stdin:
                yield line.rstrip("\n")

    def run(self) -> int:
        if self.tty:
            self.say(f"codegen: {self.generator.language.name} model; :help for commands, :quit to leave")
        for line in self._lines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith(":"):
                try:
                    if self.command(line) is False:
                        break
                except KeyboardInterrupt:  # e.g. while :lang loads a model
                    self.say("cancelled")
                continue
            try:
                result = run_one(self.generator, line, self.terms, self.args, num_samples=self.samples,
                                 constrain=self.constrain)
            except (ValueError, RuntimeError) as error:
                self.say(f"error: {error}")
                continue
            except KeyboardInterrupt:
                # Ctrl-C cancels this request only; the execution pool replaced its busy workers
                self.say("cancelled")
                continue
            if self.as_json:
                self.say(json.dumps(result.to_dict(all_candidates=self.show_all)))
            else:
                self.say(format_result(result, show_all=self.show_all))
        return 0

    def command(self, line: str) -> bool:
        name, _, value = line[1:].partition(" ")
        value = value.strip()
        name = name.lower()
        try:
            if name in ("q", "quit", "exit"):
                return False
            if name in ("h", "help", "?"):
                self.say(REPL_HELP)
            elif name == "terms":
                self.terms = parse_terms(value)
                self.say(f"terms: {', '.join(map(str, self.terms)) if self.terms else '(none)'}")
            elif name == "offset":
                self.args.offset = int(value) if value else None
                self.say(f"offset: {self.args.offset if self.args.offset is not None else '(each program its own)'}")
            elif name == "search":
                self.args.no_search = not _on_off(value)
                self.say(f"search: {'off' if self.args.no_search else 'on'}")
            elif name == "expected":
                self.args.expected = int(value) if value else None
                self.say(f"expected: {self.args.expected}")
            elif name in ("samples", "k"):
                samples = num_samples_arg(value)
                self.samples = samples
                self.say(f"samples: {samples}")
            elif name == "strategy":
                if value not in ("greedy", "beam", "sample", "auto"):
                    raise ValueError("strategy: greedy, beam, sample or auto")
                self.args.strategy = None if value == "auto" else value
                self.say(f"strategy: {value}")
            elif name == "retry":
                self.args.retry_samples = non_negative_int(value)
                self.say(f"retry: {self.args.retry_samples}")
            elif name == "repair":
                self.args.repair = non_negative_int(value)
                self.say(f"repair: {self.args.repair}")
            elif name == "constrain":
                self.constrain = _on_off(value)
                self.say(f"constrain: {'on' if self.constrain else 'off'}")
            elif name == "count":
                self.args.count = max(1, int(value))
                self.say(f"count: {self.args.count}")
            elif name == "show":
                if value not in ("all", "best"):
                    raise ValueError(":show all or :show best")
                self.show_all = value == "all"
                self.say(f"show: {value}")
            elif name == "json":
                self.as_json = _on_off(value)
                self.say(f"json: {'on' if self.as_json else 'off'}")
            elif name in ("lang", "checkpoint"):
                if name == "lang" and value == self.generator.language.name:
                    self.say(f"language: {value}")
                elif not value:
                    raise ValueError(f":{name} needs a value")
                else:
                    self._switch(default_checkpoint(language_arg(value)) if name == "lang" else value)
            elif name == "settings":
                self.say(json.dumps({"language": self.generator.language.name, "terms": self.terms,
                                     "expected": self.args.expected, "samples": self.samples or "checkpoint default",
                                     "strategy": self.args.strategy or "auto", "retry": self.args.retry_samples,
                                     "repair": self.args.repair, "offset": self.args.offset,
                                     "search": not self.args.no_search,
                                     "constrain": self.constrain,
                                     "count": self.args.count, "show_all": self.show_all, "json": self.as_json}))
            else:
                self.say(f"unknown command :{name}; :help lists them")
        except (ValueError, argparse.ArgumentTypeError) as error:
            self.say(f"error: {error}")
        return True

    def _switch(self, checkpoint: str) -> None:
        try:
            resolve_checkpoint(checkpoint)
        except FileNotFoundError as error:
            self.say(f"error: {error}")
            return
        fresh = make_generator(checkpoint, self.args, self.corpus)
        before = self.generator.language.name
        self.generator.close()
        self.generator = fresh
        self.say(f"loaded {checkpoint} ({fresh.language.name})")
        if fresh.language.name != before:
            self._clear_problem(before)

    def _clear_problem(self, before: str) -> None:
        """Forget what described the previous language's problem (its terms, offset and expected
        result), saying what went: LODA terms must not be checked against a WAT program."""
        cleared = []
        if self.terms:
            cleared.append(f"terms {', '.join(map(str, self.terms))}")
            self.terms = None
        if self.args.offset is not None:
            cleared.append(f"offset {self.args.offset}")
            self.args.offset = None
        if self.args.expected is not None:
            cleared.append(f"expected {self.args.expected}")
            self.args.expected = None
        if cleared:
            self.say(f"cleared {'; '.join(cleared)} (they were for {before})")


def _on_off(value: str) -> bool:
    if value.lower() in ("on", "yes", "true", "1"):
        return True
    if value.lower() in ("off", "no", "false", "0"):
        return False
    raise ValueError(f"expected on or off, got {value!r}")
