"""The terms index: every corpus sequence's windows, keyed by an affine-invariant normal form.

A window is KEY_TERMS consecutive terms of a *view* of a corpus sequence s: s itself or one of
the transforms that cannot be undone on the target's side (first differences, s(2n), s(2n+1),
s(3n+j), s(n)^2, n*s(n), s(n)+s(n+1), s(prime(n))). Its key is the hash of its normal form:
subtract the first term, divide the differences by their gcd, make the first non-zero
difference positive. Two windows have the same normal form exactly when one is p/q * the
other + b, so one lookup finds every sequence t can be an affine form (p*x + b)/q of.
Transforms that can be undone on the target (partial sums, binomial transforms, + c*n) are
applied to the target instead (see `corpus_families`), which keeps the index at VIEWS x
starts entries per sequence (4.9 million for 153k sequences, about 78 MB in memory; built in
20-30 s on a shared 2-core machine, loaded in under a second).

Keys are Python's hash of the normal-form tuple (deterministic for ints; a probe value stored
in the cache catches a Python whose hash differs), held in one sorted int64 array beside an
int64 array of packed (sequence number, view, start): about 16 bytes per window.
"""
from __future__ import annotations

import gzip
import math
import pickle
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from codegen.reports import atomic_write

from ..corpus import Corpus, default_cache_dir

INDEX_VERSION = 4
KEY_TERMS = 6  # terms of a window; a target needs at least this many (after its transform)

# views of a corpus sequence s (index side); value: (name, window starts indexed)
ID, DIFF, EVEN, ODD, SQUARE, NTIMES, THIRD0, THIRD1, THIRD2, PAIRSUM, PRIMEPOS = range(11)
VIEWS: dict[int, tuple[str, int]] = {
    ID: ("s(n)", 8),
    DIFF: ("first differences", 3),
    EVEN: ("s(2n)", 3),
    ODD: ("s(2n+1)", 3),
    SQUARE: ("s(n)^2", 3),
    NTIMES: ("n*s(n)", 3),
    THIRD0: ("s(3n)", 2),
    THIRD1: ("s(3n+1)", 2),
    THIRD2: ("s(3n+2)", 2),
    PAIRSUM: ("s(n)+s(n+1)", 3),
    PRIMEPOS: ("s(prime(n))", 2),
}
PRIMES = 40  # A000040, which a program of the s(prime(n)) view calls
# views that take every m-th term: view -> (m, j) of s(m*n + j)
SECTIONS: dict[int, tuple[int, int]] = {EVEN: (2, 0), ODD: (2, 1), THIRD0: (3, 0), THIRD1: (3, 1), THIRD2: (3, 2)}
_MAX_STARTS = max(starts for _, starts in VIEWS.values())
_VIEW_BITS = 4
_START_BITS = 3


def affine_key(window: Sequence[int]) -> int | None:
    """The hash of the affine normal form of `window`; None for a constant window (it says
    nothing about the scale)."""
    first = window[0]
    diffs = [x - first for x in window[1:]]
    g = math.gcd(*diffs)
    if g == 0:
        return None
    for d in diffs:
        if d:
            if d < 0:
                g = -g
            break
    return hash(tuple([d // g for d in diffs]))


def view_terms(view: int, terms: Sequence[int], offset: int, limit: int | None = None) -> tuple[int, list[int]]:
    """(offset, terms) of a view of the sequence with listed `terms` from a(`offset`); at most
    `limit` terms where given (building the index needs only the first few)."""
    n = len(terms) if limit is None else min(len(terms), limit * 3 + 3)
    if view == ID:
        values = list(terms[:n])
        start = offset
    elif view == DIFF:
        values = [terms[i + 1] - terms[i] for i in range(n - 1)]
        start = offset
    elif view in SECTIONS:
        m, j = SECTIONS[view]
        start = -((j - offset) // m)  # the least index k with m*k + j >= offset
        values = list(terms[m * start + j - offset:n:m])
    elif view == SQUARE:
        values = [x * x for x in terms[:n]]
        start = offset
    elif view == NTIMES:
        values = [(offset + i) * x for i, x in enumerate(terms[:n])]
        start = offset
    elif view == PAIRSUM:
        values = [terms[i] + terms[i + 1] for i in range(n - 1)]
        start = offset
    elif view == PRIMEPOS:
        primes = _primes_below(offset + n)
        listed = [k for k, p in enumerate(primes, 1) if p >= offset]
        start = listed[0] if listed else 1
        values = [terms[primes[k - 1] - offset] for k in listed]
    else:
        raise ValueError(f"unknown view {view}")
    return start, values if limit is None else values[:limit]


@lru_cache(maxsize=64)
def _primes_below(limit: int) -> tuple[int, ...]:
    limit = max(limit, 2)
    sieve = bytearray([1]) * limit
    sieve[0] = sieve[1] = 0
    for i in range(2, int(limit ** 0.5) + 1):
        if sieve[i]:
            sieve[i * i::i] = bytearray(len(range(i * i, limit, i)))
    return tuple(i for i in range(limit) if sieve[i])


def pack(number: int, view: int, start: int) -> int:
    return (number << (_VIEW_BITS + _START_BITS)) | (view << _START_BITS) | start


def unpack(value: int) -> tuple[int, int, int]:
    """(sequence number, view, window start) of an index entry."""
    return (value >> (_VIEW_BITS + _START_BITS), (value >> _START_BITS) & ((1 << _VIEW_BITS) - 1),
            value & ((1 << _START_BITS) - 1))


def _entries(number: int, terms: Sequence[int], offset: int) -> Iterable[tuple[int, int]]:
    for view, (_, starts) in VIEWS.items():
        _, values = view_terms(view, terms, offset, limit=starts + KEY_TERMS - 1)
        seen = set()
        for start in range(min(starts, len(values) - KEY_TERMS + 1)):
            key = affine_key(values[start:start + KEY_TERMS])
            # a view's windows often repeat (periodic or linear stretches): one entry, the first start
            if key is not None and key not in seen:
                seen.add(key)
                yield key, pack(number, view, start)


@dataclass
class TermsIndex:
    """Sorted keys and their packed (number, view, start) values; see the module docstring."""

    keys: np.ndarray  # int64, sorted
    values: np.ndarray  # int64, sorted by number within a key
    corpus_hash: str = ""
    build_seconds: float = 0.0

    @classmethod
    def build(cls, corpus: Corpus, progress: bool = False) -> "TermsIndex":
        started = time.monotonic()
        keys: list[int] = []
        values: list[int] = []
        records = corpus.records.values()
        if progress:
            from tqdm import tqdm

            records = tqdm(records, desc="indexing corpus terms", unit=" sequences", mininterval=0.5,
                           total=len(corpus.records))
        for record in records:
            if len(record.terms) < KEY_TERMS:
                continue
            for key, value in _entries(record.number, record.terms, record.offset):
                keys.append(key)
                values.append(value)
        key_array = np.array(keys, dtype=np.int64)
        value_array = np.array(values, dtype=np.int64)
        order = np.lexsort((value_array, key_array))
        return cls(key_array[order], value_array[order], corpus.hash, time.monotonic() - started)

    @classmethod
    def load(cls, corpus: Corpus, progress: bool = True, cache_dir: str | Path | None = None) -> "TermsIndex":
        """The index of `corpus`: read from the cache beside the corpus cache, else built and
        written there (atomically). A corpus without a content hash is never cached."""
        path = cache_path(corpus, cache_dir) if corpus.hash else None
        if path is not None and path.exists():
            try:
                with gzip.open(path, "rb") as handle:
                    payload = pickle.load(handle)
                if payload.get("probe") == _probe() and payload.get("corpus_hash") == corpus.hash:
                    return cls(payload["keys"], payload["values"], corpus.hash, payload.get("build_seconds", 0.0))
            except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, ValueError, AttributeError):
                pass  # damaged or from another Python: rebuilt below
        index = cls.build(corpus, progress=progress)
        if path is not None:
            payload = {"probe": _probe(), "corpus_hash": corpus.hash, "keys": index.keys, "values": index.values,
                       "build_seconds": index.build_seconds}
            atomic_write(path, gzip.compress(pickle.dumps(payload, protocol=5), 1))
            for stale in path.parent.glob(f"search-index-{corpus.hash}-v*.pkl.gz"):
                if stale != path:  # an older index version of the same corpus: never read again
                    stale.unlink(missing_ok=True)
        return index

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, key: int) -> np.ndarray:
        """Packed values of every window with this key (ascending sequence number)."""
        lo = int(np.searchsorted(self.keys, key, side="left"))
        hi = int(np.searchsorted(self.keys, key, side="right"))
        return self.values[lo:hi]

    def lookup_many(self, keys: Sequence[int]) -> list[np.ndarray]:
        """`lookup` of each key, in one vectorised pass."""
        query = np.array(keys, dtype=np.int64)
        lo = np.searchsorted(self.keys, query, side="left")
        hi = np.searchsorted(self.keys, query, side="right")
        return [self.values[a:b] for a, b in zip(lo.tolist(), hi.tolist())]

    def count_many(self, keys: Sequence[int]) -> np.ndarray:
        """How many windows have each key (a cheap filter before `lookup_many`)."""
        query = np.array(keys, dtype=np.int64)
        return np.searchsorted(self.keys, query, side="right") - np.searchsorted(self.keys, query, side="left")


def cache_path(corpus: Corpus, cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir or default_cache_dir()) / "loda" / f"search-index-{corpus.hash}-v{INDEX_VERSION}.pkl.gz"


def _probe() -> tuple:
    """Keys of fixed windows: a cache written by a Python that hashes tuples differently is
    not used."""
    return (sys.hash_info.width, affine_key([0, 1, 4, 9, 16, 25]), affine_key([2, -3, 5, 7, 11, 10**30]))


__all__ = ["KEY_TERMS", "PRIMEPOS", "PRIMES", "SECTIONS", "TermsIndex", "VIEWS", "affine_key", "pack", "unpack",
           "view_terms"]
