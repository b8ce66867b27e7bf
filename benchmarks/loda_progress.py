"""Quality of the shipped LODA model against training: the curve issue 6 asks to keep.

    python benchmarks/loda_progress.py                      # table + benchmarks/results/loda_progress.png
    python benchmarks/loda_progress.py --add "LABEL" --config configs/X.yaml --examples N \\
        --cpu-hours H [--gpu-hours H] --name-report runs/A/report.json --terms-report runs/B/report.json

Each point is one shipped (or measured) stage of the model: the training examples it has seen
in all (steps x batch, summed over stages), its training time, and the two figures of the bar,
measured on the same 400 test targets (`codegen.evaluate --split test --limit 400`):
sequence match@1 from the name alone and verified solve with 8 terms x 32 candidates (the
model's candidates alone: targets verified only through `--repair` variants do not count).
`--add` reads those figures from the two evaluations' report.json files (and the TF-IDF
baseline, where the name-only run scored one), so a new point is a measurement, not typing;
the earlier points were measured the same way and are copied from the README's figures table.
Writes benchmarks/results/loda_progress.json (the history) and loda_progress.png.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from codegen.reports import atomic_write, figure_png  # noqa: E402

HISTORY = REPO / "benchmarks" / "results" / "loda_progress.json"
BARS = {"sequence_match": 0.05, "verified_solve": 0.15}


def model_alone_verified(items_path: Path) -> float:
    """Verified solve without the targets only a repaired variant solved (same run)."""
    items = [json.loads(line) for line in items_path.read_text().splitlines() if line.strip()]
    if not items:
        raise ValueError(f"{items_path}: no items")
    return sum(bool(i.get("verified_solve")) and not i.get("chosen_from_repair") for i in items) / len(items)


def point_from_reports(name_report: Path, terms_report: Path) -> dict:
    name, terms = (json.loads(Path(p).read_text()) for p in (name_report, terms_report))
    for path, report, want_terms in ((name_report, name, False), (terms_report, terms, True)):
        config = report.get("config", {})
        if bool(config.get("with_terms")) != want_terms:
            raise ValueError(f"{path}: config.with_terms is {config.get('with_terms')!r}; expected "
                             f"{'8 terms' if want_terms else 'a name-only run'}")
        if config.get("split") != "test":
            raise ValueError(f"{path}: config.split is {config.get('split')!r}; the curve is on the test split")
    if name["n"] != terms["n"]:
        raise ValueError(f"{name_report} scored {name['n']} targets, {terms_report} {terms['n']}")
    point = {
        "targets": name["n"],
        "validity": name["validity"],
        "sequence_match": name["sequence_match"],
        "exact_match": name["exact_match"],
        "verified_solve": model_alone_verified(Path(terms_report).parent / "items.jsonl"),
        "verified_solve_with_repair": terms["verified_solve"] if terms["config"].get("repair") else None,
        "num_samples": terms["config"]["num_samples"],
        "source": [str(name_report), str(terms_report)],
    }
    baseline = name.get("baseline_model")
    if isinstance(baseline, dict) and "sequence_match" in baseline:
        point["baseline_sequence_match"] = baseline["sequence_match"]
    return point


def plot(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    models = list(dict.fromkeys(p["model"] for p in history))
    markers = "os^Dv"
    for key, label, colour in (("sequence_match", "sequence match@1 (name only)", "tab:blue"),
                               ("verified_solve", "verified solve (8 terms x 32)", "tab:orange")):
        for m, model in enumerate(models):  # a new model starts again from 0 examples: its own line
            points = [p for p in history if p["model"] == model]
            ax.plot([p["examples"] / 1e6 for p in points], [100 * p[key] for p in points],
                    marker=markers[m % len(markers)], color=colour, label=f"{label}, {model}")
        ax.axhline(100 * BARS[key], color=colour, linestyle="--", linewidth=0.8)
        ax.annotate(f"bar {100 * BARS[key]:.0f}%", (1, 100 * BARS[key]), xycoords=("axes fraction", "data"),
                    color=colour, fontsize=8, ha="right", xytext=(-2, 2), textcoords="offset points")
    # stages sit close together on the x axis: each point carries its number, and the key lists them
    key = []
    for i, p in enumerate(history, start=1):
        hours = ", ".join(f"{p[k]:g} h {k.split('_')[0].upper()}" for k in ("cpu_hours", "gpu_hours") if p.get(k))
        ax.annotate(str(i), (p["examples"] / 1e6, 100 * p["verified_solve"]), fontsize=7, ha="center",
                    xytext=(0, 7), textcoords="offset points")
        key.append(f"{i}  {p['model']}: {p['label']} ({hours})")
    ax.text(0.01, 0.98, "\n".join(key), transform=ax.transAxes, fontsize=7, va="top", ha="left",
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.8"})
    ax.set_xlabel("training examples seen (millions; hours are cumulative)")
    ax.set_ylabel("% of 400 held-out test targets")
    ax.set_title("loda-t5-tiny: quality against training")
    ax.set_ylim(0, max(17, 100 * max(p["verified_solve"] for p in history) + 5))
    ax.set_xlim(-0.2, max(p["examples"] for p in history) / 1e6 * 1.08)
    ax.legend(loc="center left", bbox_to_anchor=(0.0, 0.42), fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    png = figure_png(fig)
    plt.close(fig)
    atomic_write(path, png)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=Path, default=HISTORY)
    parser.add_argument("--add", metavar="LABEL", help="append a point measured by the two reports below")
    parser.add_argument("--model", help="the model the stage trained (one line per model in the plot)")
    parser.add_argument("--config", help="the training preset of the new stage")
    parser.add_argument("--examples", type=int, help="training examples seen in all, this stage included")
    parser.add_argument("--cpu-hours", type=float, default=0.0, help="CPU training hours in all")
    parser.add_argument("--gpu-hours", type=float, default=0.0, help="GPU training hours in all")
    parser.add_argument("--name-report", type=Path, help="report.json of the name-only evaluation")
    parser.add_argument("--terms-report", type=Path, help="report.json of the 8 terms x 32 evaluation")
    args = parser.parse_args(argv)

    history = json.loads(args.history.read_text()) if args.history.exists() else []
    if args.add:
        missing = [f"--{n.replace('_', '-')}" for n in ("model", "config", "examples", "name_report", "terms_report")
                   if getattr(args, n) is None]
        if missing:
            parser.error(f"--add needs {', '.join(missing)}")
        if any(p["label"] == args.add for p in history):
            parser.error(f"{args.history}: a point labelled {args.add!r} exists already")
        try:
            point = point_from_reports(args.name_report, args.terms_report)
        except (OSError, ValueError, KeyError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        history.append({"label": args.add, "model": args.model, "config": args.config, "examples": args.examples,
                        "cpu_hours": args.cpu_hours, "gpu_hours": args.gpu_hours, **point})
        atomic_write(args.history, json.dumps(history, indent=1) + "\n")
    if not history:
        print(f"error: {args.history}: no points", file=sys.stderr)
        return 2
    print("| model | stage | examples | CPU h | GPU h | validity | sequence match@1 | verified solve (8 x 32) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for p in history:
        print(f"| {p['model']} | {p['label']} | {p['examples']:,} | {p.get('cpu_hours', 0):g} | {p.get('gpu_hours', 0):g} | "
              f"{100 * p['validity']:.1f}% | {100 * p['sequence_match']:.2f}% | {100 * p['verified_solve']:.2f}% |")
    out = args.history.with_suffix(".png")
    plot(history, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
