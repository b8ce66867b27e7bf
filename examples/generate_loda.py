"""Generate LODA programs with a trained model: from a description alone, then from a
description plus the first terms of the sequence. Every candidate the model proposes is
run in the LODA VM; the printed terms are computed by the program, not guessed by the model.
With terms, the term search proposes programs too (the corpus and formulas: `--corpus`), and
where no candidate reproduces them, one-constant variants of the best candidates are tried
(`--repair N`, 0: off; see codegen/repair.py); each program says where it came from.

    python examples/generate_loda.py
    python examples/generate_loda.py --checkpoint runs/loda-tiny --num-samples 16
    python examples/generate_loda.py --description "Powers of 2" --terms-description "The cubes" \\
        --terms 0,1,8,27,64,125

The default checkpoint is the shipped `checkpoints/loda-t5-tiny`; any directory written by
`python -m codegen.train` works. Programs that call other sequences (`seq`) need the corpus:
`--corpus PATH` or `export CODEGEN_LODA_CORPUS=PATH`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from codegen.generate import DEFAULT_CHECKPOINT, Generator, GenerationResult, describe_source
from codegen.repair import describe_repair


def show(title: str, result: GenerationResult) -> None:
    print(f"== {title}")
    print(f"   prompt: {result.prompt!r}, {result.num_samples} sample(s), {len(result.candidates)} distinct")
    chosen = result.chosen
    if chosen is None:
        kinds = sorted({c.error_kind or "error" for c in result.candidates})
        print(f"   no candidate parsed and ran (errors: {', '.join(kinds)})\n")
        return
    print("   " + chosen.code.rstrip("\n").replace("\n", "\n   "))
    print(f"   computed terms: {', '.join(map(str, chosen.outputs or []))}")
    given = result.request.terms
    verdict = {None: "nothing to check (no terms given)", True: f"matches all {len(given or [])} given terms",
               False: f"does NOT match the given terms {given}"}[chosen.match]
    repaired = describe_repair(chosen)
    if repaired:
        print(f"   {repaired} ({result.repair_programs} variants run)")
    for line in describe_source(chosen, result):
        print(f"   {line}")
    print(f"   {verdict}; confidence {chosen.confidence:.2f}, agreement {chosen.agreement}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help=f"model dir (default {DEFAULT_CHECKPOINT})")
    parser.add_argument("--description", default="Fibonacci numbers", help="asked without terms")
    parser.add_argument("--terms-description", default="The squares", help="asked with --terms")
    parser.add_argument("--terms", default="0,1,4,9,16,25,36,49", help="first terms, comma separated")
    parser.add_argument("--num-samples", type=int, default=8, help="candidates per request (1: greedy)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repair", type=int, default=256, metavar="N",
                        help="with terms no candidate reproduces, run up to N one-constant variants (0: off)")
    parser.add_argument("--corpus", help="LODA corpus for seq calls (default $CODEGEN_LODA_CORPUS)")
    args = parser.parse_args(argv)
    try:
        terms = [int(t) for t in args.terms.split(",") if t.strip()]
    except ValueError:
        parser.error(f"--terms: integers separated by commas, got {args.terms!r}")

    try:
        generator = Generator(args.checkpoint, corpus=args.corpus, prepare_search=True)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    with generator:
        if generator.language.name != "loda":
            print(f"error: {args.checkpoint} is a {generator.language.name} model, not a LODA one", file=sys.stderr)
            return 1
        options = dict(num_samples=args.num_samples, seed=args.seed, run_terms=max(10, len(terms)))
        show(f"{args.description!r} (description only)", generator.generate(args.description, **options))
        show(f"{args.terms_description!r} with terms {args.terms}",
             generator.generate(args.terms_description, terms=terms, repair=max(0, args.repair), **options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
