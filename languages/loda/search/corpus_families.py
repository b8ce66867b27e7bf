"""Corpus families: programs that call corpus sequences, found through the terms index.

For given terms t (t[i] = a(offset + i)) the families, cheapest first:

1. **views**: t = (p*x + b)/q where x(n) is a view of a corpus sequence s at n + k: s itself
   (shifted), its first differences, s(2n), s(2n+1), s(3n+j), s(n)^2, n*s(n), s(n)+s(n+1),
   s(prime(n)) (all in the index);
2. **target transforms**: the same lookups on a transform of t that undoes one of s: the
   differences of t (t = affine of the partial sums of a view), its inverse binomial transform
   (t = affine of a binomial transform), its binomial transform (an inverse binomial
   transform), and t - c*n for small c (t = affine of a view + c*n, e.g. s(n) + n);
3. **compositions** s1(a*s2(n+k) + b): for an outer s1 among the corpus' most called
   sequences that is strictly increasing, t is mapped back to the indices s1 takes them at,
   and those are looked up;
4. **combinations** t = c*s1(n) + (p*s2(n+k) + b)/q and products t = s1(n) * (affine of
   s2): s1 from the same shortlist, the residual looked up.

Every hit is checked on the corpus' listed terms of s before it is proposed, so only the
VM's verification (in `search`) is left. Hits of the first two families are ordered by
*support*: how many hits from other corpus sequences predict the same next terms (from their
listed terms); the others simplest first.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from math import comb
from typing import Callable, Iterator, Sequence

from ..corpus import Corpus, sequence_id
from . import WELL_SUPPORTED, Proposal
from .index import (DIFF, ID, KEY_TERMS, NTIMES, PAIRSUM, PRIMEPOS, PRIMES, SECTIONS, SQUARE, VIEWS, TermsIndex,
                    affine_key, pack, unpack, view_terms)
from .programs import (affine_lines, binomial, combination, composition, first_term_apart, partial_sums,
                       plus_multiple_of_n, program, shifted_view)

MIN_TERMS = 3  # fewer given terms match too much of the corpus to say anything
MAX_BUCKET = 400  # entries of one key looked at (ascending A-number: the classic ones first)
MAX_DENOMINATOR = 1000  # a fitted scale p/q with a larger q is not believed
LINEAR_MULTIPLES = (1, -1, 2, -2, 3, -3)  # c of t = affine(view) + c*n
SHORTLIST = 400  # most called corpus sequences tried as s1 of combinations and as outer sequences
COMBINATION_SCALES = (1, -1, 2, -2)
PER_STAGE = 40  # proposals of one stage, at most
CONTINUATION = 24  # predicted terms after the given ones compared between hits

# target transforms: how t relates to the looked-up derived sequence d
T_ID, T_LIN, T_PSUM, T_BINOMIAL, T_INVERSE = "id", "lin", "psum", "binomial", "inverse"


@dataclass(frozen=True)
class _Derived:
    kind: str
    values: list[int]
    first_key: int  # lowest window start of `values` worth keying (binomial: d[0] carries b)
    c: int = 0  # T_LIN: t = affine + c*n


def _derived(terms: Sequence[int], offset: int) -> list[_Derived]:
    t = list(terms)
    n = len(t)
    out = [_Derived(T_ID, t, 0)]
    out += [_Derived(T_LIN, [x - c * (offset + i) for i, x in enumerate(t)], 0, c) for c in LINEAR_MULTIPLES]
    out.append(_Derived(T_PSUM, [t[i + 1] - t[i] for i in range(n - 1)], 0))
    inverse = [sum((-1) ** (i - j) * comb(i, j) * t[j] for j in range(i + 1)) for i in range(n)]
    out.append(_Derived(T_BINOMIAL, inverse, 1))
    forward = [sum(comb(i, j) * t[j] for j in range(i + 1)) for i in range(n)]
    out.append(_Derived(T_INVERSE, forward, 0))
    return out


def _window_key(values: Sequence[int], first: int) -> tuple[int, int] | None:
    """(key, start) of the first non-constant window of `values` from `first` (up to 2 later)."""
    for r in range(first, first + 3):
        if len(values) - r < KEY_TERMS:
            return None
        key = affine_key(values[r:r + KEY_TERMS])
        if key is not None:
            return key, r
    return None


def fit_affine(x: Sequence[int], y: Sequence[int]) -> tuple[Fraction, Fraction] | None:
    """(a, b) with y = a*x + b on every index, a != 0; None where none exists or the scale's
    denominator is implausible."""
    x0, y0 = x[0], y[0]
    pivot = next((i for i in range(1, len(x)) if x[i] != x0), None)
    if pivot is None:
        return None
    a = Fraction(y[pivot] - y0, x[pivot] - x0)
    if a == 0 or a.denominator > MAX_DENOMINATOR:
        return None
    b = y0 - a * x0
    if any(a * xi + b != yi for xi, yi in zip(x, y)):
        return None
    return a, b


def _predict(kind: str, v: list[int], p0: int, count: int) -> list[int] | None:
    """x[i] for i < count: what the transform of `kind` makes of view terms v from position p0;
    None where v's listed terms do not reach."""
    if kind == T_PSUM:
        if p0 + count - 1 > len(v):
            return None
        total, x = sum(v[:p0]), []
        for i in range(count):
            x.append(total)
            if i + 1 < count:
                total += v[p0 + i]
        return x
    if p0 + count > len(v):
        return None
    window = v[p0:p0 + count]
    if kind in (T_ID, T_LIN):
        return window
    if kind == T_BINOMIAL:
        return [sum(comb(i, j) * window[j] for j in range(i + 1)) for i in range(count)]
    return [sum((-1) ** (i - j) * comb(i, j) * window[j] for j in range(i + 1)) for i in range(count)]


def _coefficient_cost(a: Fraction, b: Fraction) -> int:
    """Bits of the affine form's numbers: a simple scale is more believable than 37/13."""
    return (abs(a.numerator).bit_length() - 1 + a.denominator.bit_length() - 1
            + abs(b.numerator).bit_length() + b.denominator.bit_length() - 1)


def _describe(kind: str, view: int, number: int, c: int, a: Fraction, b: Fraction) -> tuple[str, str]:
    """(family, kind) texts of a view/transform proposal."""
    name = sequence_id(number)
    view_name = {DIFF: f"first differences of {name}", SQUARE: f"{name}(n)^2", NTIMES: f"n*{name}(n)",
                 PAIRSUM: f"{name}(n) + {name}(n+1)", PRIMEPOS: f"{name}(prime(n))"}.get(view, name)
    if view in SECTIONS:
        m, j = SECTIONS[view]
        view_name = f"{name}({m}n{f'+{j}' if j else ''})"
    if kind == T_PSUM:
        base, family_kind = f"partial sums of {view_name}", "transform"
    elif kind == T_BINOMIAL:
        base, family_kind = f"binomial transform of {view_name}", "transform"
    elif kind == T_INVERSE:
        base, family_kind = f"inverse binomial transform of {view_name}", "transform"
    elif view != ID:
        base, family_kind = view_name, "transform"
    else:
        base, family_kind = name, "corpus"
    if c:
        base = f"{base} + {c}*n" if c > 0 else f"{base} - {-c}*n"
        family_kind = "transform"
    if (a, b) != (1, 0):
        return f"affine of {base}", "affine" if family_kind == "corpus" else family_kind
    return base, family_kind


class _Views:
    """Views of corpus sequences from their listed terms, computed once per search."""

    def __init__(self, corpus: Corpus):
        self.corpus = corpus
        self.cache: dict[tuple[int, int], tuple[int, list[int]]] = {}

    def get(self, number: int, view: int) -> tuple[int, list[int]] | None:
        key = (number, view)
        hit = self.cache.get(key)
        if hit is None:
            record = self.corpus.get(number)
            if record is None:
                return None
            hit = self.cache[key] = view_terms(view, record.terms, record.offset)
        return hit


@dataclass
class _Fit:
    """A view/transform hit that reproduces the given terms, before it is written out."""

    number: int
    view: int
    kind: str
    c: int
    first: int  # the view's offset
    p0: int  # position in the view's listed terms of the target's first term (its transform's)
    a: Fraction
    b: Fraction
    continuation: tuple[int, ...]  # what it predicts after the given terms, from the listed terms
    apart: bool = False  # fitted on the terms after the first, which the program sets apart


def _continuation(d: _Derived, v: list[int], p0: int, count: int, offset: int, a: Fraction,
                  b: Fraction) -> tuple[int, ...]:
    """The terms after the given ones that the fit predicts (as its program computes them,
    division truncated toward zero), as far as the view's listed terms reach."""
    for extra in range(CONTINUATION, 0, -1):
        x = _predict(d.kind, v, p0, count + extra)
        if x is not None:
            q = a.denominator * b.denominator
            p, r = int(a * q), int(b * q)
            out = []
            for i in range(count, count + extra):
                value = p * x[i] + r
                value = abs(value) // q * (1 if value >= 0 else -1)
                out.append(value + d.c * (offset + i))
            return tuple(out)
    return ()


def _support(fits: list[_Fit]) -> list[int]:
    """For each fit, the sum over the other corpus sequences with fits of how many of its
    predicted next terms they predict too (their common prefix): agreement among independent
    hits is the best evidence a short list of terms allows against a coincidence, and a fit
    that predicts little (its view's listed terms end soon) earns little."""
    holders: dict[tuple[int, ...], set[int]] = {}
    for fit in fits:
        for length in range(1, len(fit.continuation) + 1):
            holders.setdefault(fit.continuation[:length], set()).add(fit.number)
    return [sum(len(holders[fit.continuation[:length]]) - 1 for length in range(1, len(fit.continuation) + 1))
            for fit in fits]


def _percents(supports: list[int]) -> list[int]:
    """Supports as percentages of the best."""
    best = max(supports, default=0) or 1
    return [100 * support // best for support in supports]


def _view_code(fit: _Fit, offset: int) -> list[str]:
    shift = fit.first + fit.p0 - offset
    if fit.kind in (T_ID, T_LIN):
        before, after = plus_multiple_of_n(fit.c)
        return before + shifted_view(fit.view, fit.number, shift) + affine_lines(fit.a, fit.b) + after
    if fit.kind == T_PSUM:
        body = partial_sums(fit.view, fit.number, fit.first, fit.p0 - offset)
    else:
        body = binomial(fit.view, fit.number, offset, fit.first + fit.p0, inverse=fit.kind == T_INVERSE)
    return body + affine_lines(fit.a, fit.b)


def _candidates(terms: Sequence[int], offset: int, index: TermsIndex, corpus: Corpus
                ) -> Iterator[tuple[_Derived, int, list[int]]]:
    """(derived sequence, its keyed window start r, packed index entries) to fit. Fewer terms
    than a key needs: the corpus sequences listing them exactly at one of the first starts,
    by a scan (such matches are weak anyway; this only spares the user an empty answer)."""
    if len(terms) >= KEY_TERMS:
        keyed = [(d, _window_key(d.values, d.first_key)) for d in _derived(terms, offset)]
        keyed = [(d, k) for d, k in keyed if k is not None]
        for (d, (_, r)), bucket in zip(keyed, index.lookup_many([k for _, (k, _) in keyed])):
            yield d, r, bucket[:MAX_BUCKET].tolist()
        return
    target, starts = tuple(terms), VIEWS[ID][1]
    packed = [pack(record.number, ID, j) for record in corpus for j in range(starts)
              if record.terms[j:j + len(target)] == target]
    yield _Derived(T_ID, list(terms), 0), 0, packed[:MAX_BUCKET]


def _view_fits(terms: Sequence[int], offset: int, index: TermsIndex, corpus: Corpus, views: _Views,
               excluded: frozenset[int], deadline: float) -> list[_Fit]:
    count = len(terms)
    fits: list[_Fit] = []
    for d, r, bucket in _candidates(terms, offset, index, corpus):
        y = [t - d.c * (offset + i) for i, t in enumerate(terms)]
        for packed in bucket:
            if time.monotonic() > deadline:
                break
            number, view, start = unpack(packed)
            p0 = start - r
            # partial sums of first differences: the sequence itself, found as such already
            if p0 < 0 or number in excluded or (view == DIFF and d.kind == T_PSUM) or \
                    (view == PRIMEPOS and PRIMES in excluded):
                continue
            got = views.get(number, view)
            if got is None:
                continue
            first, v = got
            x = _predict(d.kind, v, p0, count)
            fit = fit_affine(x, y) if x is not None else None
            if fit is not None:
                fits.append(_Fit(number, view, d.kind, d.c, first, p0, fit[0], fit[1],
                                 _continuation(d, v, p0, count, offset, *fit)))
    return fits


def _view_proposals(terms: Sequence[int], offset: int, index: TermsIndex, corpus: Corpus, views: _Views,
                    excluded: frozenset[int], deadline: float) -> list[tuple[tuple, Proposal]]:
    fits = _view_fits(terms, offset, index, corpus, views, excluded, deadline)
    percents = _percents(_support(fits))
    if KEY_TERMS < len(terms) and len(fits) < PER_STAGE:
        # many sequences start with a term of their own (a(0) = 1 by convention, ...): fit the
        # rest, and set the first apart, where the same sequence and view did not fit it all;
        # less believable than a fit of every term, such a fit never counts as well supported
        # (and is not looked for where plenty of fits of every term are in hand: a waste of time)
        plain = {(fit.number, fit.view, fit.kind, fit.c) for fit in fits}
        apart = [replace(fit, apart=True) for fit in _view_fits(terms[1:], offset + 1, index, corpus, views, excluded,
                                                              deadline)
                 if (fit.number, fit.view, fit.kind, fit.c) not in plain]
        fits += apart
        percents += [p * (WELL_SUPPORTED - 1) // 100 for p in _percents(_support(apart))]
    found: dict[str, tuple[tuple, Proposal]] = {}
    for fit, percent in zip(fits, percents):
        if fit.apart:
            lines = first_term_apart(offset, _view_code(fit, offset + 1), terms[0] - terms[1])
        else:
            lines = _view_code(fit, offset)
        code = program(offset, lines)
        # the order of Proposal.rank_key, as far as it is known before running
        prior = (percent < WELL_SUPPORTED, len(lines), -percent, _coefficient_cost(fit.a, fit.b), fit.number)
        if code not in found or prior < found[code][0]:
            family, kind = _describe(fit.kind, fit.view, fit.number, fit.c, fit.a, fit.b)
            if fit.apart:
                family += f", first term {terms[0]} apart"
            found[code] = (prior, Proposal(code=code, family=family, kind=kind, support=percent))
    return sorted(found.values(), key=lambda item: item[0])[:PER_STAGE]


@dataclass(frozen=True)
class _Facts:
    """What the combination and composition families need of a corpus, computed once."""

    shortlist: tuple[int, ...]  # most called sequences with enough listed terms
    inverses: dict[int, dict[int, int]]  # strictly increasing shortlist members: value -> index


@lru_cache(maxsize=4)
def _facts(corpus: Corpus) -> _Facts:
    counts = Counter(k for record in corpus for k in set(record.calls))
    shortlist, inverses = [], {}
    for number, _ in counts.most_common():
        record = corpus.get(number)
        if record is None or len(record.terms) < 20:
            continue
        shortlist.append(number)
        terms = record.terms
        if terms[0] >= 0 and all(x < y for x, y in zip(terms, terms[1:])):
            inverses[number] = {value: record.offset + i for i, value in enumerate(terms)}
        if len(shortlist) >= SHORTLIST:
            break
    return _Facts(tuple(shortlist), inverses)


def _second_sequence(residual: list[int], offset: int, index: TermsIndex, views: _Views, excluded: frozenset[int],
                     deadline: float) -> Iterator[tuple[int, int, Fraction, Fraction]]:
    """(number, shift, a, b) with residual[i] = a*s(offset + i + shift) + b, s plain corpus sequences."""
    keyed = _window_key(residual, 0)
    if keyed is None:
        return
    key, r = keyed
    for packed in index.lookup(key)[:MAX_BUCKET // 4].tolist():
        if time.monotonic() > deadline:
            return
        number, view, start = unpack(packed)
        if view != ID or number in excluded or start < r:
            continue
        first, v = views.get(number, ID)
        p0 = start - r
        if p0 + len(residual) > len(v):
            continue
        fit = fit_affine(v[p0:p0 + len(residual)], residual)
        if fit is not None:
            yield number, first + p0 - offset, fit[0], fit[1]


def _composition_proposals(terms: Sequence[int], offset: int, index: TermsIndex, corpus: Corpus, views: _Views,
                           excluded: frozenset[int], deadline: float) -> list[tuple[tuple, Proposal]]:
    facts = _facts(corpus)
    found: dict[str, tuple[tuple, Proposal]] = {}
    for outer, inverse in facts.inverses.items():
        if time.monotonic() > deadline:
            break
        if outer in excluded:
            continue
        inner_terms = [inverse.get(t) for t in terms]
        if None in inner_terms:
            continue
        for inner, shift, a, b in _second_sequence(inner_terms, offset, index, views, excluded, deadline):
            if inner == outer:
                continue
            lines = composition(outer, inner, shift, a, b)
            code = program(offset, lines)
            affine = "" if (a, b) == (1, 0) else "affine of "
            family = f"{sequence_id(outer)} of {affine}{sequence_id(inner)}"
            prior = (len(lines), _coefficient_cost(a, b), outer, inner)
            if code not in found:
                found[code] = (prior, Proposal(code=code, family=family, kind="composition"))
    return sorted(found.values(), key=lambda item: item[0])[:PER_STAGE]


def _combination_proposals(terms: Sequence[int], offset: int, index: TermsIndex, corpus: Corpus, views: _Views,
                           excluded: frozenset[int], deadline: float) -> list[tuple[tuple, Proposal]]:
    facts = _facts(corpus)
    found: dict[str, tuple[tuple, Proposal]] = {}
    count = len(terms)
    for first in facts.shortlist:
        if time.monotonic() > deadline:
            break
        if first in excluded:
            continue
        got = views.get(first, ID)
        start, v = got
        p = offset - start  # s1 at the target's own index n
        if p < 0 or p + count > len(v):
            continue
        s1 = v[p:p + count]
        attempts: list[tuple[int, bool, list[int]]] = []
        for c in COMBINATION_SCALES:
            attempts.append((c, False, [t - c * x for t, x in zip(terms, s1)]))
        if all(x != 0 and t % x == 0 for t, x in zip(terms, s1)) and any(abs(x) > 1 for x in s1):
            attempts.append((1, True, [t // x for t, x in zip(terms, s1)]))
        for c, product, residual in attempts:
            for second, shift, a, b in _second_sequence(residual, offset, index, views, excluded, deadline):
                if second == first:
                    continue
                lines = combination((first, 0, c), (second, shift), a, b, product)
                code = program(offset, lines)
                name1, name2 = sequence_id(first), sequence_id(second)
                if product:
                    family = f"product of {name1} and {'affine of ' if (a, b) != (1, 0) else ''}{name2}"
                else:
                    family = f"combination of {name1} and {name2}"
                prior = (len(lines), _coefficient_cost(a, b) + abs(c), first, second)
                if code not in found:
                    found[code] = (prior, Proposal(code=code, family=family, kind="combination"))
    return sorted(found.values(), key=lambda item: item[0])[:PER_STAGE]


def corpus_proposals(terms: Sequence[int], offset: int, index: TermsIndex, corpus: Corpus,
                     excluded: frozenset[int], deadline: float) -> Iterator[Proposal]:
    """Proposals of the corpus families for `terms` from a(`offset`), cheapest family first,
    simplest first within a family; none calls a sequence in `excluded`. Stops at `deadline`
    (time.monotonic()). With fewer than KEY_TERMS terms (what the index keys), only the corpus
    sequences listing them, shifted, are proposed."""
    if len(terms) < MIN_TERMS:
        return
    views = _Views(corpus)
    stages: list[Callable[[], list[tuple[tuple, Proposal]]]] = [
        lambda: _view_proposals(terms, offset, index, corpus, views, excluded, deadline),
        lambda: _composition_proposals(terms, offset, index, corpus, views, excluded, deadline),
        lambda: _combination_proposals(terms, offset, index, corpus, views, excluded, deadline),
    ]
    for stage in stages if len(terms) >= KEY_TERMS else stages[:1]:
        if time.monotonic() > deadline:
            return
        for _, proposal in stage():
            yield proposal


__all__ = ["corpus_proposals", "fit_affine"]
