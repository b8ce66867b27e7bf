"""Terms -> verified LODA programs, without a model: search the corpus and simple formulas.

    from languages.loda.search import search
    proposals = search([1, 4, 9, 16, 25, 36, 49, 64], offset=1, corpus=corpus)
    print(proposals[0].code, proposals[0].family)

Families propose programs (`Proposal`, unverified); `search` runs each in the VM at the
given offset, keeps those that reproduce **every** given term without calling a forbidden
sequence (directly or through other programs), and ranks them by simplicity. Where the
given terms cannot check a fit (a recurrence of order r fitted on <= 2r terms, a polynomial
of degree d on <= d + 1 terms), the proposal is `weak`, and ranked after the others.

The families live in their own modules:
- `index`: the terms index over the corpus, built once and cached beside the corpus cache;
- `corpus_families`: a corpus sequence shifted, its affine forms, transforms, sums and
  products of two sequences, compositions (programs that call `seq`);
- `formulas`: linear recurrences (exact rational Berlekamp-Massey) and polynomials, as loops;
- `mutation`: the miner's mutations around seed programs (model candidates, near-misses).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator, Sequence

# fewer given terms than this: any match is said to be weak
MIN_CONVINCING_TERMS = 6
# Proposal.support (a percentage of the best) from which a corpus hit counts as well supported
WELL_SUPPORTED = 70
FAMILIES = ("corpus", "formulas", "mutation")
# seeds of the mutation family from the nearest named corpus sequences (`search(name=...)`): on the
# 400 test targets of `codegen.evaluate --with-terms 8`, 1 s of mutation around 4 of them alone
# verified 0 of the listed programs unchanged (another sequence is other terms) and many edited
NAME_SEEDS = 4
NAME_HINTS = 4  # the name's first distinct numbers, tried as constants by the mutation family
# verification of one proposal: a wrong or slow program must not eat the search's budget
VERIFY_STEPS = 2_000_000  # per term, calls included
VERIFY_SECONDS = 0.25  # per proposal (never past the search's deadline)
VERIFY_MEMORY = 100_000


@dataclass
class Proposal:
    """One program a family proposes for the given terms.

    `code`: LODA text (with `#offset K` where the target's first term is a(K));
    `family`: what a user reads ("affine of A000290", "recurrence order 2",
    "mutation of model candidate 3"); `kind`: the family's short name for reports
    ("corpus", "affine", "transform", "combination", "composition", "recurrence",
    "polynomial", "mutation"); `weak`: the family knows the given terms cannot check it.
    `search` fills in the rest after running it."""

    code: str
    family: str
    kind: str
    weak: bool = False
    # set by `search` after verification
    checked_terms: int = 0
    operations: int = 0
    calls: int = 0
    steps: int = 0
    outputs: list[int] = field(default_factory=list)
    # corpus families: how well other corpus hits back this one (they predict the same next terms;
    # see corpus_families), as a percentage of the best-backed hit for the same terms
    support: int = 0

    def rank_key(self) -> tuple:
        """Simplest first: checkable before weak, fewer calls, well supported by other corpus
        hits (WELL_SUPPORTED) before the rest, fewer operations, better supported, fewer steps.
        Measured on the validation split: a close second in support with fewer operations is
        more often right than the best-supported hit with more."""
        return (self.weak, self.calls, self.support < WELL_SUPPORTED, self.operations, -self.support, self.steps,
                self.code)


def search(terms: Sequence[int], *, offset: int = 0, corpus=None, index=None, forbidden: Iterable = (),
           seeds: Sequence[tuple[str, str]] = (), time_limit: float = 2.0, max_results: int = 10,
           families: Iterable[str] | None = None, name: str | None = None, names=None) -> list[Proposal]:
    """Verified programs for `terms` (a(offset), a(offset+1), ...), best first (`rank_key`).

    `corpus`: a `Corpus` (None: no corpus families, and proposals cannot call `seq`);
    `index`: its `TermsIndex` (None: loaded or built and cached); `forbidden`: sequence
    numbers or A-ids no proposal may call, directly or through other programs (nor any
    sequence whose program does); `seeds`: (label, code) programs the mutation family varies;
    `name`: the target's name, whose nearest named corpus sequences (`names`: their index,
    `names.load_names`; None: loaded) are seeds too, taking turns with `seeds`;
    `families`: a subset of FAMILIES (default all). Stops at `time_limit` seconds, or once
    `max_results` checkable programs are verified."""
    started = time.monotonic()
    deadline = started + time_limit
    terms = [int(t) for t in terms]
    if not terms:
        raise ValueError("no terms given")
    chosen = tuple(FAMILIES if families is None else families)
    unknown = sorted(set(chosen) - set(FAMILIES))
    if unknown:
        raise ValueError(f"unknown search families: {', '.join(unknown)} (known: {', '.join(FAMILIES)})")
    banned = frozenset(_number(f) for f in forbidden)
    excluded = excluded_sequences(corpus, banned) if corpus is not None else banned
    verifier = _Verifier(terms, offset, corpus, banned, deadline, max_results)
    if name and corpus is not None and "mutation" in chosen:
        from .names import load_names, neighbour_seeds

        named = neighbour_seeds(names if names is not None else load_names(corpus), name, excluded, NAME_SEEDS)
        seeds = _alternate(named, list(seeds))
    hints = list(dict.fromkeys(int(n) for n in re.findall(r"\d+", name or "")))[:NAME_HINTS]
    for family in chosen:
        if time.monotonic() >= deadline:
            break
        # formulas write programs without calls, which rank before every corpus hit: they run
        # unless as many call-free programs are in hand already; the others stop the search
        # once `max_results` strong programs are found (the later families cost more)
        most_calls = 0 if family == "formulas" else None
        if not verifier.enough(most_calls):
            verifier.run(_proposals(family, terms, offset, corpus, index, excluded, seeds, deadline, hints),
                         most_calls)
    return sorted(verifier.found.values(), key=Proposal.rank_key)[:max_results]


def _alternate(first: list, second: list) -> list:
    """first[0], second[0], first[1], second[1], ... then the rest of the longer."""
    out = []
    for i in range(max(len(first), len(second))):
        out += first[i:i + 1] + second[i:i + 1]
    return out


def _number(value) -> int:
    from ..corpus import parse_sequence_id

    return value if isinstance(value, int) else parse_sequence_id(str(value))


def _proposals(family: str, terms: list[int], offset: int, corpus, index, excluded: frozenset[int],
               seeds: Sequence[tuple[str, str]], deadline: float, hints: Sequence[int] = ()) -> Iterator[Proposal]:
    if family == "corpus":
        if corpus is None:
            return iter(())
        from .corpus_families import corpus_proposals
        from .index import TermsIndex

        if index is None:
            index = TermsIndex.load(corpus, progress=False)
        return corpus_proposals(terms, offset, index, corpus, excluded, deadline)
    if family == "formulas":
        from .formulas import formula_proposals

        return formula_proposals(terms, offset, deadline)
    if not seeds:
        return iter(())
    from .mutation import mutation_proposals

    return mutation_proposals(seeds, terms, offset, corpus, excluded, deadline, hints)


_reverse_cache: dict[int, tuple[object, dict[int, list[int]]]] = {}


def _callers(corpus) -> dict[int, list[int]]:
    """callee -> the corpus sequences whose programs call it directly (computed once per corpus)."""
    hit = _reverse_cache.get(id(corpus))
    if hit is not None and hit[0] is corpus:
        return hit[1]
    callers: dict[int, list[int]] = {}
    for number, record in corpus.records.items():
        for callee in set(record.calls):
            callers.setdefault(callee, []).append(number)
    if len(_reverse_cache) >= 4:
        _reverse_cache.clear()
    _reverse_cache[id(corpus)] = (corpus, callers)
    return callers


def excluded_sequences(corpus, forbidden: Iterable[int]) -> frozenset[int]:
    """`forbidden` and every corpus sequence whose program reaches one of them through `seq`."""
    callers = _callers(corpus)
    seen = set(forbidden)
    stack = list(seen)
    while stack:
        for caller in callers.get(stack.pop(), ()):
            if caller not in seen:
                seen.add(caller)
                stack.append(caller)
    return frozenset(seen)


def verify(proposal: Proposal, terms: Sequence[int], *, offset: int = 0, corpus=None,
           forbidden: Iterable = ()) -> Proposal | None:
    """Run one proposal as `search` does: the proposal, filled in, where it reproduces every
    one of `terms` from a(`offset`) without reaching a forbidden sequence; else None."""
    verifier = _Verifier([int(t) for t in terms], offset, corpus, frozenset(_number(f) for f in forbidden),
                         time.monotonic() + VERIFY_SECONDS, 1)
    return verifier.check(proposal)


class _Verifier:
    """Runs proposals in the VM at the target's offset and keeps those reproducing every term."""

    def __init__(self, terms: list[int], offset: int, corpus, forbidden: frozenset[int], deadline: float,
                 max_results: int):
        from ..vm import Evaluator, Limits

        self.terms, self.offset, self.deadline, self.max_results = terms, offset, deadline, max_results
        self.limits = Limits(max_steps=VERIFY_STEPS, max_memory=VERIFY_MEMORY, timeout=VERIFY_SECONDS)
        self.evaluator = Evaluator(library=corpus, limits=self.limits, forbidden=forbidden)
        self.found: dict[str, Proposal] = {}
        self.seen: set[str] = set()

    def enough(self, most_calls: int | None = None) -> bool:
        """Whether `max_results` strong programs (with at most `most_calls` calls) are in hand."""
        strong = [p for p in self.found.values() if not p.weak and (most_calls is None or p.calls <= most_calls)]
        return len(strong) >= self.max_results

    def run(self, proposals: Iterator[Proposal], most_calls: int | None = None) -> None:
        for proposal in proposals:
            if time.monotonic() >= self.deadline:
                break
            self.check(proposal)
            if self.enough(most_calls):
                break

    def check(self, proposal: Proposal) -> Proposal | None:
        """The proposal, filled in and kept, where it reproduces every given term."""
        from ..canonical import format_program
        from ..errors import LodaError
        from ..parser import parse

        try:
            program = parse(proposal.code)
        except LodaError:
            return None
        canonical = format_program(program)
        if canonical in self.seen:
            return None
        self.seen.add(canonical)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return None
        self.evaluator.limits = replace(self.limits, timeout=min(VERIFY_SECONDS, remaining))
        before = self.evaluator.total_steps
        outputs: list[int] = []
        try:
            for expected, value in zip(self.terms, self.evaluator.iter_terms(program, len(self.terms),
                                                                              start=self.offset)):
                if value != expected:
                    return None
                outputs.append(value)
        except LodaError:
            return None
        operations = [op for op in program.operations]
        proposal.code = canonical
        proposal.checked_terms = len(outputs)
        proposal.operations = len(operations)
        proposal.calls = sum(1 for op in operations if op.op == "seq")
        proposal.steps = self.evaluator.total_steps - before
        proposal.outputs = outputs
        proposal.weak = proposal.weak or len(self.terms) < MIN_CONVINCING_TERMS
        self.found[canonical] = proposal
        return proposal


__all__ = ["FAMILIES", "MIN_CONVINCING_TERMS", "Proposal", "excluded_sequences", "search", "verify"]
