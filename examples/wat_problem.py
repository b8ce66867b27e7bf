"""WebAssembly text end to end: a word problem -> a WAT program -> validated and run in
the wasmtime sandbox -> its result checked against the expected answer. Then a LODA program
compiled to WAT and run in the same sandbox, term by term.

    python examples/wat_problem.py                       # the generator's reference solution
    python examples/wat_problem.py --level 5 --seed 3    # another problem
    python examples/wat_problem.py --checkpoint checkpoints/wat-t5-tiny   # the shipped WAT model writes it

Without `--checkpoint` no model is involved: the WAT is the problem generator's reference solution.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from corpora.loda_to_wat import compile_program  # LODA -> WAT
from languages.loda import evaluate, parse
from languages.wat import RunLimits, Sandbox, WatError, generate_problems, run, validate

FIBONACCI = "mov $3,1\nlpb $0\n  sub $0,1\n  mov $2,$1\n  add $1,$3\n  mov $3,$2\nlpe\nmov $0,$1\n"
LIMITS = RunLimits(fuel=10_000_000, timeout=2.0)  # instructions and seconds per call


def model_solution(checkpoint: str, text: str, answer: int, num_samples: int) -> str | None:
    from codegen.generate import Generator

    with Generator(checkpoint) as generator:
        if generator.language.name != "wat":
            raise SystemExit(f"error: {checkpoint} is a {generator.language.name} model; give a WAT model")
        # the expected answer is used for selection only: the prompt is the problem text
        result = generator.generate(text, expected=answer, num_samples=num_samples, seed=0)
    print(f"WAT from {checkpoint} ({len(result.candidates)} distinct candidate(s) of {num_samples}):")
    if result.chosen is None:
        print("no valid, runnable program; errors:", ", ".join(f"{c.error_kind} x{c.count}" for c in result.candidates))
    return result.chosen.code if result.chosen else None


def check(wat: str, answer: int) -> bool:
    """Validate `wat`, run its main() in the sandbox and compare with the answer."""
    print(wat)
    try:
        validate(wat)  # wasmtime's parser and validator
        result = run(wat, "main", limits=LIMITS)  # fuel, deadline and memory limits; no imports but env.log_i64
    except WatError as error:
        print(f"rejected ({error.kind}): {error}")
        return False
    print(f"sandbox result: main() = {result}: " + ("correct" if result == answer else f"WRONG (expected {answer})"))
    return result == answer


def loda_to_wat() -> None:
    print("\nLODA -> WAT: a Fibonacci program compiled to a module exporting a(n)")
    module = compile_program(parse(FIBONACCI))
    print("\n".join(module.splitlines()[:4]) + f"\n  ... ({len(module.splitlines())} lines in all)")
    sandbox = Sandbox(module, LIMITS)
    print(f"WAT a(0..11):  {[sandbox.call('a', n) for n in range(12)]}")
    print(f"LODA VM:       {evaluate(parse(FIBONACCI), 12)}")
    try:  # LODA numbers are unbounded; compiled code traps where a value leaves i64
        sandbox.call("a", 93)
    except WatError as error:
        print(f"a(93) = F(93) > 2^63 - 1, the sandbox reports: {error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", type=int, default=3, choices=range(1, 6), help="problem level 1-5 (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="which problem of the level (default 0)")
    parser.add_argument("--checkpoint", help="a WAT model directory (default: show the reference solution)")
    parser.add_argument("--num-samples", type=int, default=1, help="model candidates (with --checkpoint)")
    args = parser.parse_args(argv)

    problem = generate_problems(1, seed=args.seed, levels=(args.level,))[0]
    print(f"problem ({problem.kind}, level {problem.level}): {problem.text}")
    print(f"expected answer (computed in Python): {problem.answer}\n")
    if args.checkpoint:
        wat = model_solution(args.checkpoint, problem.text, problem.answer, args.num_samples)
    else:
        print("no --checkpoint: showing the problem generator's reference solution")
        wat = problem.wat
    solved = wat is not None and check(wat, problem.answer)
    loda_to_wat()
    return 0 if solved else 2


if __name__ == "__main__":
    sys.exit(main())
