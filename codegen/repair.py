"""Constant repair: search near the model's programs for one that reproduces the given terms.

A model that has the shape of a program right often has one of its numbers wrong (`mul $0,3`
where the sequence needs `mul $0,4`, a loop bound off by one). Where a request gives terms and
none of its candidates reproduces them, `repair_variants` rewrites one constant at a time in the
best candidates (by the model's confidence): its neighbours first, then small integers, then the
numbers of the prompt. The variants run like any candidate (same limits, same forbidden calls),
and those whose outputs equal every given term join the candidates, marked extra["repair"].

It is the verify-and-search step of the LODA miner, kept honest: it never runs without terms
(nothing to verify against), and never for a single expected result (`expected`: one number is
matched by any constant that prints it, which proves nothing), only where at least
`MIN_TERMS` terms are given. A repaired program is still checked against every known term.

Generic over languages through `Language.constant_spans` and `constant_tokens` (the number-slot
interface), so it works for any language that says where its constants are.
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

from .language import CodeError, Language
from .metrics import terms_match
from .selection import Candidate

MIN_TERMS = 4
DEFAULT_PARENTS = 8  # candidates whose constants are varied, best first
NEIGHBOURS = (1, -1, 2, -2, 3, -3)
SMALL_VALUES = tuple(range(-2, 11))


def substitute_values(value: int, hints: Sequence[int] = ()) -> list[int]:
    """Values to try in place of the constant `value`, most plausible first, each once: its
    neighbours, its double, half and negation, small integers, then `hints` (the prompt's
    numbers, `number_slots.prompt_numbers`)."""
    ordered = [value + d for d in NEIGHBOURS] + [2 * value, value // 2, -value, *SMALL_VALUES, *hints]
    return [v for v in dict.fromkeys(ordered) if v != value]


def repair_variants(language: Language, parents: Sequence[Candidate], *, budget: int,
                    hints: Sequence[int] = (), tried: set[str] | None = None) -> list[Candidate]:
    """Up to `budget` new, valid programs, each one of `parents` with one constant changed.
    Breadth first: the first substitute of every constant of every parent before the second,
    so a small budget still tries every constant. `tried` holds the canonical texts to skip
    (the candidates already run); it is extended in place."""
    tried = set() if tried is None else tried
    streams = [_variants(language, parent, hints) for parent in parents]
    found: list[Candidate] = []
    while streams and len(found) < budget:
        alive = []
        for stream in streams:
            for code, parent, change in stream:
                try:
                    canonical = language.canonicalize(code)
                    language.validate(canonical)
                except CodeError:
                    continue
                if canonical in tried:
                    continue
                tried.add(canonical)
                found.append(Candidate(
                    code=canonical, canonical=canonical, n_tokens=parent.n_tokens, logprob=parent.logprob,
                    confidence=parent.confidence, finished=True, valid=True,
                    extra={"repair": {"from": parent.canonical, "constant": change[0], "value": change[1]}}))
                alive.append(stream)
                break
            if len(found) >= budget:
                break
        streams = alive
    return found


def _variants(language: Language, parent: Candidate, hints: Sequence[int]) -> Iterator[tuple[str, Candidate, tuple]]:
    """(code, parent, (old, new)): the parent with one constant replaced, the first substitute of
    each constant, then the second of each, and so on."""
    try:
        tokens = language.tokenize(parent.canonical or parent.code)
    except CodeError:
        return
    spans = language.constant_spans(tokens)
    choices = [substitute_values(value, hints) for _, _, value in spans]
    for depth in range(max((len(c) for c in choices), default=0)):
        for (start, end, value), values in zip(spans, choices):
            if depth >= len(values):
                continue
            try:
                replacement = language.constant_tokens(values[depth])
                code = language.detokenize(list(tokens[:start]) + replacement + list(tokens[end:]))
            except CodeError:
                continue
            yield code, parent, (value, values[depth])


def repair_parents(candidates: Sequence[Candidate], count: int = DEFAULT_PARENTS) -> list[Candidate]:
    """The candidates worth varying: valid ones (a program that failed to run may be one constant
    from one that runs), best confidence first."""
    valid = [c for c in candidates if c.valid and c.canonical is not None]
    return sorted(valid, key=lambda c: (c.usable, c.confidence), reverse=True)[:count]


def should_repair(terms: Sequence[int] | None, candidates: Sequence[Candidate]) -> bool:
    """Repair only where enough terms are given and no executed candidate already reproduces them."""
    return (bool(terms) and len(terms) >= MIN_TERMS
            and not any(c.usable and terms_match(c.outputs, terms) for c in candidates))


def describe_repair(candidate: Any) -> str | None:
    """One line on how a repaired candidate came about, None for a model's own."""
    info = (candidate.extra or {}).get("repair") if candidate is not None else None
    if not info:
        return None
    return f"repaired: constant {info['constant']} -> {info['value']} in the model's program"
