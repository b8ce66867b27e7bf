"""Evaluation metrics, shared by `codegen.evaluate` and the `evaluate` modules under `metrics/`.

Per item (one target) the evaluator records what the chosen program did; this module
turns items into the figures of a report:

- validity: the chosen program parses and runs;
- exact match: its canonical form equals the target's;
- sequence match: it reproduces the target's first T terms at the target's offset
  (for problems: the expected result);
- pass@k: the unbiased estimator of Chen et al. (2021) over the n samples of each item,
  c of which are correct (sequence match);
- verified solve: with terms in the prompt and selection, the selected program matches.

Breakdowns group items by a key (program length bucket, use of `seq`, problem level).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

DEFAULT_KS = (1, 5, 10, 20, 32, 50, 100)
# upper bounds (inclusive) of the program-length buckets, in operations
LENGTH_BUCKETS = (5, 10, 20, 40)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n,
    c of which are correct, is correct: 1 - C(n-c, k) / C(n, k), computed stably."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(counts: Iterable[tuple[int, int]], ks: Sequence[int] = DEFAULT_KS) -> dict[int, float]:
    """Mean pass@k over items given as (n, c); only the k that every item supports (k <= n)."""
    counts = list(counts)
    if not counts:
        return {}
    smallest = min(n for n, _ in counts)
    return {k: float(np.mean([pass_at_k(n, c, k) for n, c in counts])) for k in ks if 1 <= k <= smallest}


def default_ks(num_samples: int) -> list[int]:
    """The k reported for n samples per item: the standard ones up to n, and n itself."""
    ks = [k for k in DEFAULT_KS if k <= num_samples]
    if num_samples not in ks:
        ks.append(num_samples)
    return ks


def terms_match(outputs: Sequence[int] | None, expected: Sequence[int], count: int | None = None) -> bool:
    """Whether `outputs` starts with the first `count` (default: all) of `expected`.
    An empty expectation never matches: there is nothing to verify."""
    if outputs is None:
        return False
    want = list(expected if count is None else expected[:count])
    if not want:
        return False
    return [int(v) for v in outputs[:len(want)]] == [int(v) for v in want]


def length_bucket(length: int, bounds: Sequence[int] = LENGTH_BUCKETS) -> str:
    """'1-5', '6-10', ..., '41+' for a program of `length` operations."""
    low = 1
    for bound in bounds:
        if length <= bound:
            return f"{low}-{bound}"
        low = bound + 1
    return f"{low}+"


def bucket_order(label: str) -> int:
    head = label.split("-")[0].rstrip("+")
    return int(head) if head.lstrip("-").isdigit() else 10**9


def rate(values: Iterable[Any]) -> float | None:
    """Mean of booleans, ignoring None; None where nothing is left."""
    kept = [bool(v) for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def summarize(items: Sequence[Mapping[str, Any]], ks: Sequence[int] | None = None) -> dict[str, Any]:
    """Overall figures for evaluated items (dicts as written to items.jsonl).

    Keys used: valid, exact_match, sequence_match, num_samples, num_correct, parsed_samples,
    verified_solve, retry_samples, chosen_from_retry, repair_programs and chosen_from_repair
    (optional). `retried`: the share of targets none of whose first candidates ran (so retry
    samples were drawn); `chosen_from_retry`: the share whose chosen program is one of those;
    `chosen_from_repair`: the share whose chosen program is a repaired one (`codegen.repair`)."""
    n = len(items)
    summary: dict[str, Any] = {
        "n": n,
        "validity": rate(item.get("valid") for item in items),
        "exact_match": rate(item.get("exact_match") for item in items),
        "sequence_match": rate(item.get("sequence_match") for item in items),
    }
    samples = sum(int(item.get("num_samples", 0)) for item in items)
    parsed = sum(int(item.get("parsed_samples", 0)) for item in items)
    summary["samples"] = samples
    summary["parse_rate"] = parsed / samples if samples else None
    counts = [(int(item["num_samples"]), int(item.get("num_correct", 0))) for item in items
              if int(item.get("num_samples", 0)) > 0]
    if counts:
        if ks is None:
            ks = default_ks(min(count for count, _ in counts))
        summary["pass_at_k"] = {str(k): v for k, v in mean_pass_at_k(counts, ks).items()}
    else:
        summary["pass_at_k"] = {}
    if any("retry_samples" in item for item in items):
        summary["retried"] = rate(int(item.get("retry_samples") or 0) > 0 for item in items)
        summary["chosen_from_retry"] = rate(bool(item.get("chosen_from_retry")) for item in items)
    if any(int(item.get("repair_programs") or 0) > 0 for item in items):
        summary["chosen_from_repair"] = rate(bool(item.get("chosen_from_repair")) for item in items)
        summary["repair_programs"] = sum(int(item.get("repair_programs") or 0) for item in items)
    if any("verified_solve" in item for item in items):
        summary["verified_solve"] = rate(item.get("verified_solve") for item in items)
    by_source = [item["verified_by_source"] for item in items if item.get("verified_by_source")]
    if by_source:
        sources = sorted({source for solved in by_source for source in solved})
        summary["verified_solve_by_source"] = {source: rate(solved.get(source, False) for solved in by_source)
                                               for source in sources}
    if by_source and "search" in summary["verified_solve_by_source"]:
        # who solves what: the model's own figure and what the search adds, neither hiding the other
        model = [bool(solved.get("model")) for solved in by_source]
        search = [bool(solved.get("search")) for solved in by_source]
        summary["solved_by"] = {"both": sum(m and s for m, s in zip(model, search)),
                                "model_only": sum(m and not s for m, s in zip(model, search)),
                                "search_only": sum(s and not m for m, s in zip(model, search)),
                                "neither": sum(not m and not s for m, s in zip(model, search))}
    return summary


def breakdown(items: Sequence[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], Any],
              metrics: Sequence[str] = ("validity", "exact_match", "sequence_match")) -> dict[str, dict[str, Any]]:
    """Per group (key(item), skipping None): n and the rate of each metric."""
    field = {"validity": "valid"}
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for item in items:
        label = key(item)
        if label is not None:
            groups[str(label)].append(item)
    table: dict[str, dict[str, Any]] = {}
    for label in sorted(groups, key=lambda g: (bucket_order(g), g)):
        group = groups[label]
        row: dict[str, Any] = {"n": len(group)}
        for metric in metrics:
            row[metric] = rate(item.get(field.get(metric, metric)) for item in group)
        if any("verified_solve" in item for item in group):
            row["verified_solve"] = rate(item.get("verified_solve") for item in group)
        table[label] = row
    return table


def breakdowns(items: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """The standard breakdowns: by target length bucket, by use of `seq`, and by problem level
    (where items have one)."""
    tables = {
        "length": breakdown(items, lambda item: length_bucket(int(item["target_length"]))
                            if item.get("target_length") else None),
        "uses_seq": breakdown(items, lambda item: None if item.get("uses_seq") is None
                              else ("seq" if item["uses_seq"] else "no seq")),
    }
    level = breakdown(items, lambda item: item.get("level"))
    if level:
        tables["level"] = level
    return tables


def speed(*, targets: int, programs: int, tokens: int, seconds: float, generation_seconds: float,
          execution_seconds: float) -> dict[str, float | None]:
    """Throughput figures: targets and generated programs per second of the whole run, tokens
    per second of generation time."""
    def per(amount: float, time: float) -> float | None:
        return amount / time if time > 0 else None

    return {
        "seconds": seconds,
        "generation_seconds": generation_seconds,
        "execution_seconds": execution_seconds,
        "generation_share": per(generation_seconds, seconds),
        "execution_share": per(execution_seconds, seconds),
        "targets_per_second": per(targets, seconds),
        "programs_per_second": per(programs, seconds),
        "tokens_per_second": per(tokens, generation_seconds),
    }

