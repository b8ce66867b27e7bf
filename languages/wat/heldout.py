"""The WAT held-out task (`codegen.tasks` name "wat-held-out"): freshly generated computation
problems none of whose texts the checkpoint was trained on, scored by result match per level and
kind. `benchmarks/wat_problems_eval.py` is its command line; `python -m codegen.evaluate --task
wat-held-out --task-options '{"count": 300}'` runs the same task.

The held-out set: `generate_problems(M, seed)` with a seed the training data does not use (the
"wat-problems" recipe is `generate_problems(count, seed, levels)`, or the union of its `parts`, as
the checkpoint's train_config.yaml `data.recipe_options` says; read through `problem_sets`, as the
recipe reads it, each part with its own wording and template split), keeping the first `count`
problems whose text (exact, and normalised as in the data leakage guard) does NOT occur among any
of the training recipe's problems (any split). So no held-out text was ever seen in training.
Levels are drawn uniformly.

Each problem is requested WITHOUT its answer (`codegen.evaluate.make_request`): where there are
several hypotheses the Generator chooses as it does for a user (valid and ran, agreement of results,
model score), never by the answer. Beside the common figures, per level and kind: result match (the
chosen program's result equals the answer), validity, exact match (canonical WAT equal to the
reference) and skeleton match (equal up to numeric literals).

The problems come from the curriculum generator the wat-problems recipe reads
(`languages.wat.problems`, which stays with the WAT language; the recipe is `corpora.wat_problems`).
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Mapping, Sequence

from codegen.data import normalize_name
from codegen.evaluate import Target
from codegen.generate import GenerationResult
from codegen.language import Language
from codegen.tasks import Task, register_task

from .problems import Problem, generate_problems, problem_sets

DEFAULT_SEED = 20261122  # not used for any training data
DEFAULT_LEVELS = (1, 2, 3, 4, 5)
DEFAULT_BAR_LEVELS = (1, 2, 3)
DEFAULT_BAR = 0.95


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
    held-out set excludes exactly the problems it saw; None where there is none. Raises
    `ConfigError` (a ValueError) for an unreadable train_config.yaml."""
    from codegen.config import checkpoint_training_config
    from codegen.data import config_data_options

    found = checkpoint_training_config(checkpoint)
    if found is None:
        return None
    return dict(config_data_options(found[1])["recipe_options"].get("wat-problems") or {})


def training_sets(checkpoint: str | Path | None, train_count: int | None = None,
                  train_seed: int | None = None) -> list[dict[str, Any]]:
    """The problem sets to exclude: the checkpoint's recipe, or one set of `train_count` problems
    with `train_seed` where either is given. Raises ValueError where neither the checkpoint nor the
    caller names them: without them the held-out set could hold texts the model was trained on."""
    recipe = training_recipe(Path(checkpoint)) if checkpoint is not None else None
    if recipe is None and train_count is None and train_seed is None:
        raise ValueError(f"{checkpoint}: no train_config.yaml here or one level up, so the problems it was "
                         "trained on are unknown; pass --train-count N --train-seed S to name them")
    recipe = recipe or {}
    if train_count is not None or train_seed is not None:  # one set, as given
        recipe = {"count": train_count if train_count is not None else recipe.get("count", 10_000),
                  "seed": train_seed if train_seed is not None else recipe.get("seed", 0)}
    return problem_sets(**recipe)


def skeleton(wat: str) -> str:
    """Canonical WAT with its numeric literals masked: equal skeletons mean the model chose the
    right computation and got (only) numbers wrong, which separates "copying the problem's numbers"
    from "choosing the program" when reading the results."""
    return re.sub(r"(?<![\w$.])-?\d+\b", "N", wat)


def rate(values: list[bool]) -> float | None:
    """A share rounded to 4 places, as the published held-out figures are; None for no values."""
    return round(sum(values) / len(values), 4) if values else None


def rates(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The held-out figures of a group of items (a level, a kind, all)."""
    return {"n": len(items), "result_match": rate([i["result_match"] for i in items]),
            "validity": rate([i["valid"] for i in items]), "exact_match": rate([i["exact_match"] for i in items]),
            "skeleton_match": rate([i["skeleton_match"] for i in items])}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _rows(report: Mapping[str, Any]) -> list[list[str]]:
    """The held-out table, header first: one row per level, the bar's levels, all."""
    def row(label: str, figures: Mapping[str, Any]) -> list[str]:
        return [label, str(figures["n"])] + [_pct(figures[key]) for key in
                                             ("result_match", "validity", "exact_match", "skeleton_match")]

    bar = report["bar"]
    return ([["level", "problems", "result match", "validity", "exact match", "skeleton match"]]
            + [row(level, figures) for level, figures in report["by_level"].items()]
            + [row(bar["levels_label"], bar["summary"]), row("all", report["overall"])])


def _notes(report: Mapping[str, Any]) -> list[str]:
    """The lines below the table: the bar and the weakest kinds."""
    bar = report["bar"]
    worst = sorted(report["by_kind"].items(), key=lambda kv: (kv[1]["result_match"] or 0))[:6]
    return [f"Bar: result match >= {100 * bar['threshold']:.0f}% on every level {bar['levels_label']}: "
            f"{'met' if bar['met'] else 'NOT met'} (per level: "
            + ", ".join(f"L{k} {_pct(v)}" for k, v in bar["per_level"].items()) + ").",
            "Weakest kinds: " + ", ".join(f"{k} {_pct(v['result_match'])} (n={v['n']})" for k, v in worst) + "."]


def decoding_label(decoding: Mapping[str, Any]) -> str:
    if decoding["strategy"] == "greedy":
        return "greedy, one sample"
    if decoding["strategy"] == "beam":
        return f"beam search ({decoding['num_beams'] or decoding['num_samples']} beams, {decoding['num_samples']} returned)"
    return f"{decoding['num_samples']} samples"


def markdown(report: Mapping[str, Any]) -> str:
    """The benchmark's markdown: a sentence naming the set and the decoding (`report["decoding"]`),
    the held-out table and its notes (as model cards quote it)."""
    kinds = report["held_out"].get("kinds", "all")
    only = "" if kinds == "all" else f" of kinds {', '.join(kinds)} only"
    rows = _rows(report)
    lines = [f"Held-out generated problems{only} (seed {report['held_out']['seed']}, {report['overall']['n']} problems, "
             f"none of whose texts is in the training data); {decoding_label(report['decoding'])}, "
             f"grammar-constrained, no answer-guided selection.", "",
             "| " + " | ".join(rows[0]) + " |", "|---|" + "---:|" * (len(rows[0]) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    lines += [""] + _notes(report)
    return "\n".join(lines) + "\n"


@register_task
class HeldOutTask(Task):
    """Held-out generated problems (see the module). Options: `checkpoint` (whose train_config.yaml
    names the training problems), `count`, `seed`, `levels`, `kinds`, `train_count` and
    `train_seed` (one training set instead of the checkpoint's), `bar_levels` and `bar` (the
    levels whose result match must reach `bar`). The problems are drawn when the task is made;
    raises ValueError where the training problems are unknown or an option is malformed."""

    name = "wat-held-out"
    # the published held-out figures decoded every batch with the run's seed
    seed_per_batch = False

    def __init__(self, language: Language | str = "wat", *, checkpoint: str | Path | None = None,
                 count: int = 500, seed: int = DEFAULT_SEED, levels: Sequence[int] = DEFAULT_LEVELS,
                 kinds: Sequence[str] | None = None, train_count: int | None = None, train_seed: int | None = None,
                 bar_levels: Sequence[int] = DEFAULT_BAR_LEVELS, bar: float = DEFAULT_BAR, **scoring: Any):
        super().__init__(language, checkpoint=checkpoint, **scoring)
        self.levels = [int(level) for level in levels]
        self.bar_levels = [int(level) for level in bar_levels]
        self.bar = float(bar)
        self.problems, self.info = held_out_problems(count, seed, self.levels,
                                                     training_sets(checkpoint, train_count, train_seed),
                                                     list(kinds) if kinds else None)

    def targets(self) -> list[Target]:
        return [Target(id=p.id, description=p.text, code=p.wat, expected=p.answer,
                       meta={"level": p.level, "kind": p.kind}) for p in self.problems]

    def source(self) -> dict[str, Any]:
        return {"task": self.name, "held_out": {key: self.info[key] for key in ("seed", "kinds", "drawn")}}

    def score(self, target: Target, result: GenerationResult) -> dict[str, Any]:
        item = super().score(target, result)
        chosen = result.chosen
        first = result.candidates[0] if result.candidates else None
        outputs = list(chosen.outputs or []) if chosen is not None else None
        item.update({
            "kind": target.meta["kind"], "text": target.description, "answer": target.expected,
            "result_match": item["sequence_match"],
            "skeleton_match": chosen is not None and chosen.canonical is not None
            and skeleton(chosen.canonical) == skeleton(item["target"]),
            "output": outputs[0] if outputs else None,
            "error_kind": None if chosen is not None else (first.error_kind if first else "no candidate"),
            "error": None if chosen is not None else (first.error if first else None),
            "code": chosen.code if chosen is not None else (first.code if first else None),
        })
        return item

    def figures(self, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        by_level: dict[str, list] = defaultdict(list)
        by_kind: dict[str, list] = defaultdict(list)
        for item in items:
            by_level[str(item["level"])].append(item)
            by_kind[item["kind"]].append(item)
        by_level_rates = {k: rates(v) for k, v in sorted(by_level.items(), key=lambda kv: int(kv[0]))}
        per_level = {str(level): by_level_rates.get(str(level), {}).get("result_match") for level in self.bar_levels}
        errors: dict[str, int] = defaultdict(int)
        for item in items:
            if not item["valid"]:
                errors[item["error_kind"] or "unknown"] += 1
        return {
            "held_out": self.info,
            "overall": rates(items),
            "by_level": by_level_rates,
            "by_kind": {k: rates(v) for k, v in sorted(by_kind.items())},
            "bar": {"levels": self.bar_levels,
                    "levels_label": "1-3" if self.bar_levels == [1, 2, 3] else ",".join(map(str, self.bar_levels)),
                    "threshold": self.bar,
                    "summary": rates([i for i in items if i["level"] in self.bar_levels]), "per_level": per_level,
                    "met": all(v is not None and v >= self.bar for v in per_level.values())},
            "invalid_by_error_kind": dict(errors),
        }

    def tables(self, report: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{"title": "Held-out generated problems by level", "rows": _rows(report), "notes": _notes(report)}]
