"""Choosing one program among the candidates of a request.

1. Candidates that do not parse or whose execution failed are dropped.
2. Where terms (or an expected result) were given, candidates whose outputs match them
   are preferred: if any matches, only matching ones remain.
3. The rest are ranked by `score = confidence + agreement_weight * log(agreement share)`:
   `confidence` is the mean token log-probability of the program under the model, and the
   agreement share is the fraction of all runnable samples whose outputs equal this
   candidate's (self-consistency: programs computing the same values vote together).
   Ties go to the higher confidence, then the more frequent sample. A match the given terms
   cannot check (extra["weak"]: a search fit with too few terms for its kind) ranks after
   every other match.
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
    return sorted(usable, key=lambda c: (not c.extra.get("weak"), c.score, c.confidence, c.count), reverse=True)


def select(candidates: Sequence[Candidate], terms: Sequence[int] | None = None, expected: int | None = None, *,
           agreement_weight: float = AGREEMENT_WEIGHT) -> Candidate | None:
    """The chosen candidate, or None where none parses and runs. Where terms or an expected
    result are given and some candidate matches, the choice matches."""
    mark_matches(candidates, terms, expected)
    ranked = rank(candidates, agreement_weight=agreement_weight)
    return ranked[0] if ranked else None
