"""The LODA VM on its own: parse a program, print its canonical form, compute terms,
and see two errors the VM reports instead of running forever or cheating.

    python examples/loda_vm.py                  # the Fibonacci program below, 15 terms
    python examples/loda_vm.py --program my.asm --terms 20 --max-steps 100000

No model and no corpus are needed (a program that calls `seq` needs a corpus: pass
`--corpus PATH` to a loda-programs checkout or tarball).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from languages.loda import Corpus, Limits, LodaError, evaluate, format_program, parse

FIBONACCI = """\
; A000045: Fibonacci numbers: F(n) = F(n-1) + F(n-2) with F(0) = 0 and F(1) = 1.
; 0,1,1,2,3,5,8,13,21,34
mov $3,1     ; comments and spacing are not part of the canonical form
lpb $0
  sub $0,1
  mov $2,$1
  add $1,$3
  mov  $3 , $2
lpe
mov $0,$1
"""
# A program for A000045 that just calls A000045: evaluation forbids the target's own sequence.
SELF_CALL = "; A000045: Fibonacci numbers\nseq $0,45\n"
# Counts to a million one step at a time: three operations per pass.
SLOW = "mov $1,1000000\nlpb $1\n  sub $1,1\n  add $0,1\nlpe\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--program", help="a LODA .asm file (default: a Fibonacci program)")
    parser.add_argument("--terms", type=int, default=15, help="terms to compute (default 15)")
    parser.add_argument("--max-steps", type=int, default=10_000, help="step limit per term for the demo")
    parser.add_argument("--corpus", help="loda-programs checkout or .tar.gz, for programs that call seq")
    args = parser.parse_args(argv)

    text = Path(args.program).read_text() if args.program else FIBONACCI
    library = Corpus.load(args.corpus, progress=False) if args.corpus else None
    try:
        program = parse(text, source=args.program or "<fibonacci>")
    except LodaError as error:
        print(f"parse error: {error}")
        return 1
    print("canonical form:")
    print(format_program(program), end="")
    print(f"offset {program.offset}, {len(program)} operations, calls {program.calls() or 'none'}")
    try:
        print(f"first {args.terms} terms:", ", ".join(map(str, evaluate(program, args.terms, library=library))))
    except LodaError as error:
        print(f"evaluation failed ({error.kind}): {error}")
        return 1

    print("\nforbidden self-call (the program for A000045 may not call A000045):")
    try:
        evaluate(parse(SELF_CALL), 5, forbidden={45})
    except LodaError as error:
        print(f"  {type(error).__name__} [{error.kind}]: {error}")

    print(f"\nstep limit (a loop of about 3,000,000 steps, limit {args.max_steps:,} per term):")
    try:
        evaluate(parse(SLOW), 1, limits=Limits(max_steps=args.max_steps))
    except LodaError as error:
        print(f"  {type(error).__name__} [{error.kind}]: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
