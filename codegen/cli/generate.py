"""Generate programs from descriptions: decode, execute every candidate, select one.

The command line of `python -m codegen.generate`: one request, or a session (`--interactive`,
`codegen.cli.repl`). The library it drives is `codegen.generate` (Request, Generator, selection);
the options it shares with `python -m codegen.evaluate` are `codegen.cli.options`.

    python -m codegen.generate "Fibonacci numbers"
    python -m codegen.generate --terms 1,1,2,3,5 --num-samples 16 "Fibonacci numbers"
    python -m codegen.generate --interactive

Exit status (`codegen.cli`): 0 a program was chosen (and matches the given --terms / --expected
where any are given); 1 no candidate parsed and ran, or a runtime failure; 2 a usage or input
error (bad arguments or numbers, a missing checkpoint, a missing or damaged corpus); 3 --terms or
--expected were given and no candidate matches them (the closest one is still printed); 130
interrupted. At most MAX_NUM_SAMPLES (512) candidates per request: -k decodes K sequences at once.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from ..generate import (DEFAULT_CHECKPOINT, DEFAULT_TERMS, MAX_NUM_SAMPLES, GenerationResult, Generator,
                        checkpoint_language, default_checkpoint, format_result, resolve_checkpoint)
from ..language import DEFAULT_LANGUAGE, InputError, available_languages, get_language
from ..repair import MIN_TERMS
from . import EXIT_FAILURE, EXIT_NO_MATCH, EXIT_OK, EXIT_USAGE, positive_int, run_main
from .options import add_decoding_options, language_arg, parse_terms, set_threads

EXIT_HELP = f"""exit status:
  0    a program was chosen (and matches --terms / --expected where they are given)
  1    no candidate parsed and ran (or a runtime failure)
  2    a usage or input error: bad arguments or numbers, a missing checkpoint, a missing or damaged corpus
  3    --terms or --expected were given and no candidate matches them (the closest is still printed)
  130  interrupted (Ctrl-C; in --interactive, Ctrl-C cancels the request and returns to the prompt)
-k is at most {MAX_NUM_SAMPLES}: K sequences are decoded at once."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m codegen.generate", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_HELP)
    parser.add_argument("description", nargs="*", help="what the program should compute")
    parser.add_argument("--checkpoint", help=f"model directory (default {DEFAULT_CHECKPOINT}, or "
                        "checkpoints/<lang>-t5-tiny for --lang)")
    parser.add_argument("--lang", type=language_arg,
                        help=f"target language (must be the checkpoint's): {', '.join(available_languages())}")
    parser.add_argument("--terms", help="first terms, comma separated: go to the prompt and to selection")
    parser.add_argument("--expected", type=int, help="expected result (problems): used in selection")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--offset", type=int, metavar="K",
                        help="the first given term is a(K) (default: each program's own #offset; the search "
                        "assumes 0)")
    parser.add_argument("--count", type=positive_int, default=DEFAULT_TERMS, help="terms to compute and show")
    parser.add_argument("--corpus", help="LODA corpus for seq calls (default $CODEGEN_LODA_CORPUS)")
    add_decoding_options(parser, per="request", terms="--terms")
    parser.add_argument("--show-all", action="store_true", help="list every candidate")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--interactive", "-i", action="store_true", help="read descriptions line by line")
    return parser


def _load_corpus(language: str, path: str | None) -> Any:
    """The corpus `language` loads from `path` or its default (`Language.load_corpus`); None without one."""
    return get_language(language).load_corpus(path, progress=sys.stderr.isatty())


def make_generator(checkpoint: str, args: argparse.Namespace, corpus: Any) -> Generator:
    """The Generator of the command line's options (also the REPL's, which makes one per :lang)."""
    # the REPL may be given terms later; a one-shot request searches only with --terms
    searching = not args.no_search and (args.interactive or bool(args.terms))
    return Generator(checkpoint, backend=args.backend, corpus=corpus, workers=args.workers, timeout=args.timeout,
                     prepare_search=searching)


def _checkpoint_for(args: argparse.Namespace) -> str:
    if args.checkpoint:
        return args.checkpoint
    return default_checkpoint(args.lang) if args.lang else DEFAULT_CHECKPOINT


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        terms = parse_terms(args.terms)
    except ValueError as error:
        parser.error(str(error))
    description = " ".join(args.description).strip()
    if not description and not args.interactive:
        parser.error("give a description (or --interactive)")
    if args.repair and not args.interactive and len(terms or ()) < MIN_TERMS:
        parser.error(f"--repair checks variants against --terms: give at least {MIN_TERMS} terms")
    checkpoint = _checkpoint_for(args)
    # every argument and input is checked before the model loads (seconds)
    try:
        own = checkpoint_language(resolve_checkpoint(checkpoint))
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.lang and own and own != args.lang:
        print(f"error: {checkpoint} is a {own} model, not {args.lang}; pass --checkpoint for a {args.lang} model",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        corpus = _load_corpus(own or args.lang or DEFAULT_LANGUAGE, args.corpus)
    except (FileNotFoundError, InputError) as error:  # InputError: a damaged corpus (CorpusError)
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    set_threads(args.threads)
    generator = make_generator(checkpoint, args, corpus)
    try:
        if args.lang and args.lang != generator.language.name:
            print(f"error: {checkpoint} is a {generator.language.name} model, not {args.lang}; "
                  f"pass --checkpoint for a {args.lang} model", file=sys.stderr)
            return EXIT_USAGE
        if args.interactive:
            from .repl import Repl  # the REPL runs requests through `run_one` below

            repl = Repl(generator, args, corpus=corpus)
            try:
                return repl.run()
            finally:
                generator = repl.generator
        result = run_one(generator, description, terms, args)
        if args.json:
            print(json.dumps(result.to_dict(all_candidates=args.show_all), indent=2))
        else:
            print(format_result(result, show_all=args.show_all))
        return exit_status(result)
    finally:
        generator.close()


def exit_status(result: GenerationResult) -> int:
    """The documented exit status of one request: 1 where no candidate ran, 3 where terms or an
    expected result were given and the chosen program does not match them (a script can then tell
    a solution from a guess), else 0."""
    if not result.ok:
        return EXIT_FAILURE
    given = result.request.terms or result.request.expected is not None
    if given and result.chosen.match is not True:
        return EXIT_NO_MATCH
    return EXIT_OK


def run_one(generator: Generator, description: str, terms: list[int] | None, args: argparse.Namespace,
            num_samples: int | None = None, constrain: bool | None = None) -> GenerationResult:
    """One request with the command line's options; the REPL passes its own samples and constraint,
    which its commands change during a session."""
    samples = num_samples if num_samples is not None else args.num_samples
    # greedy gives one hypothesis: `--strategy greedy -k 8` falls back to the default for 8
    strategy = None if args.strategy == "greedy" and samples is not None and samples > 1 else args.strategy
    return generator.generate(
        description, terms=terms, expected=args.expected, run_terms=max(args.count, len(terms or ())),
        offset=args.offset, num_samples=samples, strategy=strategy,
        constrain=(not args.no_constrain) if constrain is None else constrain,
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed,
        retry_samples=args.retry_samples, repair=args.repair, search=not args.no_search,
        search_seconds=args.search_time)


if __name__ == "__main__":
    sys.exit(run_main(main))
