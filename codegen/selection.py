"""Choosing one program among the candidates of a request.

1. Candidates that do not parse or whose execution failed are dropped.
2. Where terms (or an expected result) were given, candidates whose outputs match them
   are preferred: if any matches, only matching ones remain. A match the given terms cannot
   check (extra["weak"]: a search fit with too few terms for its kind) ranks after every other.
3. Matches the model wrote rank before those the term search or a repair found: the model read
   the description, the others only fit the given terms. (Of the model's matches on 8 terms,
   36 of 39 held on 20; of the search's first hits on 199 LODA validation targets, 54 of 124
   held on every listed term.) Search programs keep the search's own order
   (extra["search_rank"]), which picked the right one more often than the model's score did.
4. Otherwise candidates are ranked by `score = confidence + agreement_weight * log(agreement
   share)`: `confidence` is the mean token log-probability of the program under the model, and
   the agreement share is the fraction of all runnable samples whose outputs equal this
   candidate's (self-consistency: programs computing the same values vote together). Ties go
   to the higher confidence, then the more frequent sample.
5. Among the programs that compute the same sequence as the best one (equal outputs over
   several terms, equally weak), the shortest comes first: the ranking chose what to compute;
   where the model, a repair and the search agree on that, the simplest program says it
   (`pow $0,2` rather than `add $0,1 / seq $0,27 / pow $0,2`). A single result (a problem's)
   says nothing about equivalence, so there the ranking alone decides.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from .metrics import terms_match

AGREEMENT_WEIGHT = 1.0


@dataclass
class Candidate:
    """One distinct program proposed for a request (samples are merged by canonical form)."""

    code: str  # the decoded text
    canonical: str | None = None  # None where the text does not parse
    count: int = 1  # samples that decoded to this program
    n_tokens: int = 0
    logprob: float = 0.0  # sum of token log-probabilities (best sample of the group), EOS included
    confidence: float = float("-inf")  # mean token log-probability
    finished: bool = True  # the decoder produced EOS (not cut off at the length limit)
    valid: bool = False  # parses and validates
    ran: bool = False  # executed without error
    outputs: list[int] | None = None
    error: str | None = None
    error_kind: str | None = None
    match: bool | None = None  # None: nothing to match against
    agreement: int = 0  # runnable samples whose outputs equal this one's
    score: float = float("-inf")
    execution_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.valid and self.ran

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("confidence", "score", "logprob"):
            if data[key] is not None and math.isinf(data[key]):
                data[key] = None
        return data


def mark_matches(candidates: Sequence[Candidate], terms: Sequence[int] | None = None,
                 expected: int | None = None) -> None:
    """Set `match` on every candidate: whether it reproduces `terms` (all of them, from the
    first computed term) or its single result equals `expected`. Left None without either."""
    for candidate in candidates:
        if terms:
            candidate.match = candidate.usable and terms_match(candidate.outputs, terms)
        elif expected is not None:
            candidate.match = candidate.usable and terms_match(candidate.outputs, [expected])
        else:
            candidate.match = None


def strategy_agreement_weight(strategy: str) -> float:
    """The weight of the self-consistency vote for a decoding strategy: samples are independent
    draws and vote; beams are the model's top modes, not draws (near-identical beams would
    outvote the best one), so they are ranked by score alone."""
    return AGREEMENT_WEIGHT if strategy == "sample" else 0.0


def candidate_source(candidate: Candidate) -> str:
    """Where a candidate came from: "model" (its samples, retries included), "repair" or
    "search:<kind>"."""
    if candidate.extra.get("repair"):
        return "repair"
    return str(candidate.extra.get("source") or "model")


# how far a match is trusted by where it came from (see the module doc, 3)
SOURCE_PRIORITY = {"model": 2, "search": 1, "repair": 0}


def _rank_key(candidate: Candidate) -> tuple:
    source = candidate_source(candidate).split(":")[0]
    within = -candidate.extra.get("search_rank", 0) if source == "search" else candidate.score
    return (not candidate.extra.get("weak"), SOURCE_PRIORITY.get(source, 0), within, candidate.confidence,
            candidate.count)


def rank(candidates: Sequence[Candidate], *, agreement_weight: float = AGREEMENT_WEIGHT) -> list[Candidate]:
    """Usable candidates, best first (see the module doc); sets `agreement` and `score`."""
    usable = [c for c in candidates if c.usable]
    votes: Counter = Counter()
    for candidate in usable:
        votes[tuple(candidate.outputs or ())] += candidate.count
    total = sum(votes.values())
    for candidate in candidates:
        if candidate.usable:
            candidate.agreement = votes[tuple(candidate.outputs or ())]
            candidate.score = candidate.confidence + agreement_weight * math.log(candidate.agreement / total)
        else:
            candidate.agreement = 0
            candidate.score = float("-inf")
    if any(c.match for c in usable):
        usable = [c for c in usable if c.match]
    ranked = sorted(usable, key=_rank_key, reverse=True)
    if ranked and len(ranked[0].outputs or ()) > 1:
        best = ranked[0]
        same = [c for c in ranked if c.outputs == best.outputs and bool(c.extra.get("weak")) == bool(best.extra.get("weak"))]
        simplest = min(same, key=lambda c: c.n_tokens)  # min keeps the first (best-scored) of equals
        if simplest is not best:
            ranked.remove(simplest)
            ranked.insert(0, simplest)
    return ranked


def select(candidates: Sequence[Candidate], terms: Sequence[int] | None = None, expected: int | None = None, *,
           agreement_weight: float = AGREEMENT_WEIGHT) -> Candidate | None:
    """The chosen candidate, or None where none parses and runs. Where terms or an expected
    result are given and some candidate matches, the choice matches."""
    mark_matches(candidates, terms, expected)
    ranked = rank(candidates, agreement_weight=agreement_weight)
    return ranked[0] if ranked else None
