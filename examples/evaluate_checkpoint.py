"""Evaluate a checkpoint on a few targets of the test split and write its HTML report.

    python examples/evaluate_checkpoint.py                                  # shipped LODA model, 8 targets
    python examples/evaluate_checkpoint.py --checkpoint runs/loda-tiny --limit 50 --num-samples 8
    python examples/evaluate_checkpoint.py --checkpoint checkpoints/wat-t5-tiny   # the WAT model: its problems

This is `python -m codegen.evaluate` called from Python: every target's candidates are run
(the target's own sequence forbidden as a `seq` callee), one is selected, and validity, exact
match, sequence match and pass@k are reported. The corpus defines the splits (for WAT models
too): `--corpus PATH`, `export CODEGEN_LODA_CORPUS=PATH`, or a tarball in ../shared/corpora.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from codegen import evaluate  # noqa: E402
from codegen.generate import DEFAULT_CHECKPOINT  # noqa: E402
from codegen.reports import load_report  # noqa: E402
from languages.loda.corpus import find_default_corpus  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help=f"model dir (default {DEFAULT_CHECKPOINT})")
    parser.add_argument("--corpus", default=find_default_corpus(), help="LODA corpus (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=8, help="test targets, a seeded random subset (default 8)")
    parser.add_argument("--num-samples", type=int, default=1, help="candidates per target (1: greedy)")
    parser.add_argument("--with-terms", type=int, metavar="M", help="give the first M terms to prompt and selection")
    parser.add_argument("--report-dir", help="where to write the report (default runs/eval-<checkpoint name>)")
    args = parser.parse_args(argv)
    report_dir = Path(args.report_dir or f"runs/eval-{Path(args.checkpoint).name}")

    command = ["--checkpoint", args.checkpoint, "--split", "test", "--limit", str(args.limit),
               "--num-samples", str(args.num_samples), "--report-dir", str(report_dir), "--no-progress"]
    if args.corpus:
        command += ["--corpus", str(args.corpus)]  # the default is a Path
    if args.with_terms:
        command += ["--with-terms", str(args.with_terms)]
    print("python -m codegen.evaluate " + " ".join(command) + "\n")
    status = evaluate.main(command)  # prints a JSON summary of the figures
    if status != 0:
        return status

    report = load_report(report_dir / "report.json")
    print(f"\n{report['n']} targets: validity {report['validity']:.0%}, exact match {report['exact_match']:.0%}, "
          f"sequence match {report['sequence_match']:.0%}")
    for line in (report_dir / "items.jsonl").read_text().splitlines()[:3]:  # one JSON object per target
        row = json.loads(line)
        print(f"  {row['id']}: {row['description'][:60]!r} -> "
              f"{'match' if row['sequence_match'] else 'valid' if row['valid'] else 'invalid'}")
    print(f"\nHTML report: {(report_dir / 'report.html').resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
