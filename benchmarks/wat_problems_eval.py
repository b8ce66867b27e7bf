"""Held-out evaluation of a WAT checkpoint on freshly generated computation problems: the command
line of the "wat-held-out" evaluation task (`languages.wat.heldout`, registered in `codegen.tasks`),
run by `codegen.evaluate.run_model` like every other evaluation.

    python benchmarks/wat_problems_eval.py --checkpoint checkpoints/wat-t5-tiny
        [--count 500] [--seed 20261122] [--levels 1,2,3,4,5] [--kinds chain,expr]
        [--train-count N] [--train-seed S] [--bar-levels 1,2,3] [--bar 0.95]
        [--strategy greedy|beam|sample] [--num-samples K] [--num-beams B]
        [--out benchmarks/results/wat_problems_eval.json] [--markdown PATH] [--report-dir DIR]

The held-out set: `generate_problems(M, seed)` with a seed the training data does not use, keeping
the first `count` problems whose text (exact, and normalised as in the data leakage guard) does NOT
occur among any of the training recipe's problems (every part of the checkpoint's train_config.yaml
`data.recipe_options.wat-problems`, each with its own wording and template split). So no held-out
text was ever seen in training. Levels are drawn uniformly.

Each problem is decoded (grammar-constrained; greedy by default, or `--strategy beam
--num-samples K` / `--strategy sample --num-samples K`) through the public
`codegen.generate.Generator` API, WITHOUT the expected answer: where there are several
hypotheses the Generator chooses as it does for a user (valid and ran, agreement of results,
model score), never by the answer. The chosen program is executed in the sandbox and its result
compared with the problem's Python answer.

Metrics per level, kind and overall: result match (the program's result equals the answer),
validity (the chosen program parses, validates and runs), exact match (canonical WAT equal to
the reference), skeleton match. Writes JSON (the evaluation's report.json figures, the held-out
ones and every item) and a markdown table; with --report-dir also the report of
`codegen.evaluate` (`codegen.reports.write_report`). The last stdout line is a JSON summary.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# held_out_problems and training_recipe are the task's; named here for callers of this script
from languages.wat.heldout import (DEFAULT_SEED, HeldOutTask, held_out_problems, markdown,  # noqa: E402, F401
                                   training_recipe)

DEFAULT_OUT = REPO / "benchmarks" / "results" / "wat_problems_eval.json"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="checkpoints/wat-t5-tiny")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--levels", default="1,2,3,4,5")
    parser.add_argument("--kinds", default=None, help="only these kinds of problem, e.g. chain,expr,poly")
    parser.add_argument("--train-count", type=int, help="exclude one training set of this many problems "
                        "instead of the checkpoint's recipe (default: the sets of its train_config.yaml, "
                        "data.recipe_options.wat-problems; required where it has none)")
    parser.add_argument("--train-seed", type=int, help="seed of the training recipe (default: from the "
                        "checkpoint's train_config.yaml, else 0)")
    parser.add_argument("--bar-levels", default="1,2,3")
    parser.add_argument("--bar", type=float, default=0.95)
    parser.add_argument("--strategy", choices=("greedy", "beam", "sample"), default="greedy")
    parser.add_argument("--num-samples", type=int, default=1,
                        help="hypotheses per problem (beams or samples); the Generator picks one by "
                             "validity, agreement of results and model score, never by the answer")
    parser.add_argument("--num-beams", type=int, help="beam width (default: --num-samples)")
    parser.add_argument("--batch", type=int, default=64, help="problems decoded together")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--workers", type=int, default=1, help="execution worker processes")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--markdown", help="markdown table path (default: OUT with .md)")
    parser.add_argument("--report-dir", help="also write report.json, items.jsonl, report.md and report.html "
                        "here, as `python -m codegen.evaluate --report-dir` does")
    args = parser.parse_args(argv)

    started = time.time()
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    bar_levels = [int(x) for x in args.bar_levels.split(",") if x.strip()]
    kinds = [x.strip() for x in args.kinds.split(",") if x.strip()] if args.kinds else None
    try:  # before the model loads: a checkpoint whose training problems are unknown is refused
        task = HeldOutTask("wat", checkpoint=args.checkpoint, count=args.count, seed=args.seed, levels=levels,
                           kinds=kinds, train_count=args.train_count, train_seed=args.train_seed,
                           bar_levels=bar_levels, bar=args.bar)
    except ValueError as error:  # also ConfigError: an unreadable train_config.yaml
        print(f"error: {error}", file=sys.stderr)
        return 2
    info = task.info
    print(f"held-out: {len(task.problems)} problems (seed {args.seed}; {info['dropped_as_seen_in_training']} drawn "
          f"problems dropped because their text is in the training recipe)", file=sys.stderr, flush=True)

    import torch

    torch.set_num_threads(args.threads)
    from codegen.evaluate import run_model
    from codegen.generate import Generator

    with Generator(args.checkpoint, workers=args.workers) as generator:
        items, figures = run_model(generator, task, num_samples=args.num_samples, batch_size=args.batch,
                                   seed=args.seed, strategy=args.strategy, num_beams=args.num_beams, constrain=True)
    wall = time.time() - started
    meta_file = Path(args.checkpoint) / "codegen.json"
    decoding = {"strategy": args.strategy, "num_samples": args.num_samples,
                "num_beams": args.num_beams if args.strategy == "beam" else None, "constrained": True,
                "expected_in_selection": False}
    command = "python benchmarks/wat_problems_eval.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = {
        "checkpoint": args.checkpoint,
        "checkpoint_meta": json.loads(meta_file.read_text()) if meta_file.exists() else None,
        "decoding": decoding,
        **figures,
        "wall_seconds": round(wall, 1),
        "decode_and_execute_seconds": round(figures["seconds"], 1),
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": args.threads, "python": platform.python_version()},
        "command": command,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**report, "items": items}, indent=1) + "\n")
    md = markdown(report)
    md_path = Path(args.markdown) if args.markdown else out.with_suffix(".md")
    md_path.write_text(md)
    if args.report_dir:
        from codegen.reports import write_report

        config = {"checkpoint": args.checkpoint, "language": "wat", **task.source(), "n_targets": len(items),
                  "seed": args.seed, **decoding, "threads": args.threads, "batch_size": args.batch,
                  "cpu_count": os.cpu_count(), "command": command}
        write_report(args.report_dir, {"label": Path(args.checkpoint).name, **figures, "config": config}, items)
    print(md, file=sys.stderr)
    print(json.dumps({"overall": report["overall"], "by_level": report["by_level"], "bar_met": report["bar"]["met"],
                      "wall_seconds": report["wall_seconds"], "out": str(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
