"""Held-out evaluation of a WAT checkpoint on freshly generated computation problems.

    python benchmarks/wat_problems_eval.py --checkpoint checkpoints/wat-t5-tiny
        [--count 500] [--seed 20261122] [--levels 1,2,3,4,5] [--kinds chain,expr]
        [--train-count N] [--train-seed S] [--bar-levels 1,2,3] [--bar 0.95]
        [--strategy greedy|beam|sample] [--num-samples K] [--num-beams B]
        [--out benchmarks/results/wat_problems_eval.json] [--markdown PATH]

The held-out set: `generate_problems(M, seed)` with a seed the training data does not use
(the "wat-problems" recipe is `generate_problems(count, seed, levels)`, or the union of its
`parts`, as the checkpoint's train_config.yaml `data.recipe_options` says; read through
`problem_sets`, as the recipe reads it), keeping the first `count` problems whose text (exact,
and normalised as in the data leakage guard) does NOT occur among any of the training recipe's
problems (any split). So no held-out text was ever seen in training. Levels are drawn uniformly.

Each problem is decoded (grammar-constrained; greedy by default, or `--strategy beam
--num-samples K` / `--strategy sample --num-samples K`) through the public
`codegen.generate.Generator` API, WITHOUT the expected answer: where there are several
hypotheses the Generator chooses as it does for a user (valid and ran, agreement of results,
model score), never by the answer. The chosen program is executed in the sandbox and its result
compared with the problem's Python answer.

Metrics per level and overall: result match (the program's result equals the answer),
validity (the chosen program parses, validates and runs), exact match (canonical WAT equal to
the reference). Writes JSON (with every item) and a markdown table; the last stdout line is a
JSON summary.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from codegen.data import normalize_name  # noqa: E402
from languages.wat.problems import Problem, generate_problems, problem_sets  # noqa: E402

DEFAULT_SEED = 20261122  # not used for any training data
DEFAULT_OUT = REPO / "benchmarks" / "results" / "wat_problems_eval.json"


def held_out_problems(count: int, seed: int, levels: Sequence[int], training_sets: Sequence[dict],
                      kinds: Sequence[str] | None = None) -> tuple[list[Problem], dict[str, Any]]:
    """The first `count` problems of `generate_problems(.., seed, levels)` whose text is not in any
    of the training recipe's problem sets (exact or normalised); `training_sets` is
    `problem_sets(...)` of the recipe's options."""
    if any(part["seed"] == seed for part in training_sets):
        raise ValueError("the held-out seed must differ from every training seed")
    seen_exact: set[str] = set()
    for part in training_sets:
        seen_exact.update(p.text for p in generate_problems(part["count"], seed=part["seed"], levels=part["levels"],
                                                            kinds=part.get("kinds"),
                                                            wording=part.get("wording", "classic"),
                                                            templates=part.get("templates", "all")))
    seen_norm = {normalize_name(text) for text in seen_exact}
    size = count
    while True:
        drawn = generate_problems(size, seed=seed, levels=tuple(levels), kinds=kinds)
        kept = [p for p in drawn if p.text not in seen_exact and normalize_name(p.text) not in seen_norm]
        if len(kept) >= count:
            break
        size = int(size * 1.2) + 10
    kept = kept[:count]
    last = drawn.index(kept[-1]) + 1
    dropped = [p for p in drawn[:last] if p not in kept]
    info = {"seed": seed, "kinds": list(kinds) if kinds else "all", "drawn": last,
            "dropped_as_seen_in_training": len(dropped),
            "dropped_examples": [p.text for p in dropped[:10]],
            "training_recipe": [{"count": part["count"], "seed": part["seed"], "levels": list(part["levels"]),
                                 **({"kinds": list(part["kinds"])} if part.get("kinds") else {})}
                                for part in training_sets],
            "overlap_with_training_texts": sum(1 for p in kept if p.text in seen_exact)}
    return kept, info


def training_recipe(checkpoint: Path) -> dict[str, Any] | None:
    """The wat-problems options the checkpoint was trained with (its train_config.yaml, or its
    run's for a `checkpoint-N` folder: `codegen.config.checkpoint_training_config`), so that the
    held-out set excludes exactly the problems it saw; None where there is none."""
    from codegen.config import checkpoint_training_config
    from codegen.data import config_data_options

    found = checkpoint_training_config(checkpoint)
    if found is None:
        return None
    return dict(config_data_options(found[1])["recipe_options"].get("wat-problems") or {})


def skeleton(wat: str) -> str:
    """Canonical WAT with its numeric literals masked: equal skeletons mean the model chose the
    right computation and got (only) numbers wrong, which separates "copying the problem's numbers"
    from "choosing the program" when reading the results."""
    return re.sub(r"(?<![\w$.])-?\d+\b", "N", wat)


def rate(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarize(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"n": len(items), "result_match": rate([i["result_match"] for i in items]),
            "validity": rate([i["valid"] for i in items]), "exact_match": rate([i["exact_match"] for i in items]),
            "skeleton_match": rate([i["skeleton_match"] for i in items])}


def decoding_label(decoding: dict[str, Any]) -> str:
    if decoding["strategy"] == "greedy":
        return "greedy, one sample"
    if decoding["strategy"] == "beam":
        return f"beam search ({decoding['num_beams'] or decoding['num_samples']} beams, {decoding['num_samples']} returned)"
    return f"{decoding['num_samples']} samples"


def markdown(report: dict[str, Any]) -> str:
    kinds = report["held_out"].get("kinds", "all")
    only = "" if kinds == "all" else f" of kinds {', '.join(kinds)} only"
    lines = [f"Held-out generated problems{only} (seed {report['held_out']['seed']}, {report['overall']['n']} problems, "
             f"none of whose texts is in the training data); {decoding_label(report['decoding'])}, "
             f"grammar-constrained, no answer-guided selection.", "",
             "| level | problems | result match | validity | exact match | skeleton match |",
             "|---|---:|---:|---:|---:|---:|"]
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    for level, row in report["by_level"].items():
        lines.append(f"| {level} | {row['n']} | {pct(row['result_match'])} | {pct(row['validity'])} | "
                     f"{pct(row['exact_match'])} | {pct(row['skeleton_match'])} |")
    bar = report["bar"]
    row = bar["summary"]
    lines.append(f"| {bar['levels_label']} | {row['n']} | {pct(row['result_match'])} | {pct(row['validity'])} | "
                 f"{pct(row['exact_match'])} | {pct(row['skeleton_match'])} |")
    row = report["overall"]
    lines.append(f"| all | {row['n']} | {pct(row['result_match'])} | {pct(row['validity'])} | "
                 f"{pct(row['exact_match'])} | {pct(row['skeleton_match'])} |")
    lines.append("")
    lines.append(f"Bar: result match >= {100 * bar['threshold']:.0f}% on every level {bar['levels_label']}: "
                 f"{'met' if bar['met'] else 'NOT met'} (per level: "
                 + ", ".join(f"L{k} {pct(v)}" for k, v in bar["per_level"].items()) + ").")
    worst = sorted(report["by_kind"].items(), key=lambda kv: (kv[1]["result_match"] or 0))[:6]
    lines.append("Weakest kinds: " + ", ".join(f"{k} {pct(v['result_match'])} (n={v['n']})" for k, v in worst) + ".")
    return "\n".join(lines) + "\n"


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
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from codegen.config import ConfigError
    from codegen.generate import Generator, Request

    try:
        recipe = training_recipe(Path(args.checkpoint))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if recipe is None and args.train_count is None and args.train_seed is None:
        # without it the held-out set could hold texts the model was trained on
        print(f"error: {args.checkpoint}: no train_config.yaml here or one level up, so the problems it was "
              "trained on are unknown; pass --train-count N --train-seed S to name them", file=sys.stderr)
        return 2
    recipe = recipe or {}
    if args.train_count is not None or args.train_seed is not None:  # one set, as given
        recipe = {"count": args.train_count if args.train_count is not None else recipe.get("count", 10_000),
                  "seed": args.train_seed if args.train_seed is not None else recipe.get("seed", 0)}
    training_sets = problem_sets(**recipe)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    bar_levels = [int(x) for x in args.bar_levels.split(",") if x.strip()]
    started = time.time()
    kinds = [x.strip() for x in args.kinds.split(",") if x.strip()] if args.kinds else None
    problems, info = held_out_problems(args.count, args.seed, levels, training_sets, kinds)
    print(f"held-out: {len(problems)} problems (seed {args.seed}; {info['dropped_as_seen_in_training']} drawn "
          f"problems dropped because their text is in the training recipe)", file=sys.stderr, flush=True)
    items: list[dict[str, Any]] = []
    decode_seconds = 0.0
    with Generator(args.checkpoint, workers=args.workers) as generator:
        language = generator.language
        for start in range(0, len(problems), args.batch):
            chunk = problems[start:start + args.batch]
            requests = [Request(description=p.text, run_terms=1, id=p.id) for p in chunk]  # no expected answer
            t = time.perf_counter()
            results = generator.generate_many(requests, num_samples=args.num_samples, strategy=args.strategy,
                                              num_beams=args.num_beams, seed=args.seed, constrain=True)
            decode_seconds += time.perf_counter() - t
            for p, result in zip(chunk, results):
                chosen = result.chosen
                first = result.candidates[0] if result.candidates else None
                outputs = list(chosen.outputs or []) if chosen is not None else None
                reference = language.canonicalize(p.wat)
                items.append({
                    "id": p.id, "level": p.level, "kind": p.kind, "text": p.text, "answer": p.answer,
                    "valid": chosen is not None and chosen.usable,
                    "result_match": chosen is not None and chosen.usable and outputs[:1] == [p.answer],
                    "exact_match": chosen is not None and chosen.canonical == reference,
                    "skeleton_match": chosen is not None and chosen.canonical is not None
                    and skeleton(chosen.canonical) == skeleton(reference),
                    "output": outputs[0] if outputs else None,
                    # > 0 where none of the first candidates ran and the Generator sampled more
                    "retry_samples": result.retry_samples,
                    "error_kind": None if chosen is not None else (first.error_kind if first else "no candidate"),
                    "error": None if chosen is not None else (first.error if first else None),
                    "code": chosen.code if chosen is not None else (first.code if first else None),
                })
            done = len(items)
            so_far = summarize(items)
            print(f"  {done}/{len(problems)}: result match {so_far['result_match']}, validity {so_far['validity']} "
                  f"({time.time() - started:.0f}s)", file=sys.stderr, flush=True)

    by_level: dict[str, list] = defaultdict(list)
    by_kind: dict[str, list] = defaultdict(list)
    for item in items:
        by_level[str(item["level"])].append(item)
        by_kind[item["kind"]].append(item)
    by_level_summary = {k: summarize(v) for k, v in sorted(by_level.items(), key=lambda kv: int(kv[0]))}
    bar_items = [i for i in items if i["level"] in bar_levels]
    per_level = {str(level): by_level_summary.get(str(level), {}).get("result_match") for level in bar_levels}
    errors: dict[str, int] = defaultdict(int)
    for item in items:
        if not item["valid"]:
            errors[item["error_kind"] or "unknown"] += 1
    wall = time.time() - started
    meta_file = Path(args.checkpoint) / "codegen.json"
    report = {
        "checkpoint": args.checkpoint,
        "checkpoint_meta": json.loads(meta_file.read_text()) if meta_file.exists() else None,
        "held_out": info,
        "decoding": {"strategy": args.strategy, "num_samples": args.num_samples,
                     "num_beams": args.num_beams if args.strategy == "beam" else None, "constrained": True,
                     "expected_in_selection": False},
        "overall": summarize(items),
        "by_level": by_level_summary,
        "by_kind": {k: summarize(v) for k, v in sorted(by_kind.items())},
        "bar": {"levels": bar_levels, "levels_label": "1-3" if bar_levels == [1, 2, 3] else ",".join(map(str, bar_levels)),
                "threshold": args.bar, "summary": summarize(bar_items), "per_level": per_level,
                "met": all(v is not None and v >= args.bar for v in per_level.values())},
        "invalid_by_error_kind": dict(errors),
        "wall_seconds": round(wall, 1),
        "decode_and_execute_seconds": round(decode_seconds, 1),
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": args.threads, "python": platform.python_version()},
        "command": "python benchmarks/wat_problems_eval.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "items": items,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    md = markdown(report)
    md_path = Path(args.markdown) if args.markdown else out.with_suffix(".md")
    md_path.write_text(md)
    print(md, file=sys.stderr)
    print(json.dumps({"overall": report["overall"], "by_level": by_level_summary, "bar_met": report["bar"]["met"],
                      "wall_seconds": report["wall_seconds"], "out": str(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
