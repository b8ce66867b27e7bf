"""Retrieval baseline: answer with the training program whose description is nearest.

`TfidfRetriever` indexes the TRAIN split's descriptions (sequence names, problem texts)
with scikit-learn's TF-IDF (word uni- and bigrams, sublinear tf) and returns, for a query
description, the programs of the k most similar training records by cosine similarity.
`codegen.evaluate --baseline-model tfidf` scores its answers with exactly the code that
scores the model (execution, selection, metrics), so a report shows model vs baseline.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .language import CodeError, Language
from .selection import Candidate

BASELINE_MODELS = ("tfidf",)


@dataclass
class Retrieved:
    id: str
    code: str
    similarity: float


class TfidfRetriever:
    """Nearest training programs by TF-IDF cosine similarity of descriptions."""

    name = "tfidf"

    def __init__(self, ids: Sequence[str], descriptions: Sequence[str], codes: Sequence[str]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        if not ids:
            raise ValueError("the retrieval baseline needs at least one training record")
        self.ids = list(ids)
        self.codes = list(codes)
        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True,
                                          token_pattern=r"(?u)\b\w+\b|[^\w\s]", dtype=np.float32)
        self.matrix = self.vectorizer.fit_transform(list(descriptions))  # rows are L2-normalised

    def query(self, descriptions: Sequence[str], k: int = 1, *, exclude: Sequence[str | None] | None = None,
              chunk: int = 256) -> list[list[Retrieved]]:
        """The k nearest training programs per description, most similar first; `exclude[i]` is an
        id never returned for query i (the target itself, should it be in the index)."""
        results: list[list[Retrieved]] = []
        for start in range(0, len(descriptions), chunk):
            block = list(descriptions[start:start + chunk])
            scores = (self.vectorizer.transform(block) @ self.matrix.T).toarray()
            for row, similarities in enumerate(scores):
                banned = exclude[start + row] if exclude else None
                want = min(len(self.ids), k + (1 if banned else 0))
                top = np.argpartition(-similarities, want - 1)[:want] if want < len(self.ids) \
                    else np.arange(len(self.ids))
                top = sorted(top, key=lambda i: (-similarities[i], i))
                picked = [Retrieved(self.ids[i], self.codes[i], float(similarities[i]))
                          for i in top if self.ids[i] != banned][:k]
                results.append(picked)
        return results


def build_baseline(name: str, records: Sequence[Any], describe) -> TfidfRetriever:
    """The baseline `name` over training records (`describe(record)` gives a record's description)."""
    if name != "tfidf":
        raise ValueError(f"unknown baseline model {name!r}; available: {', '.join(BASELINE_MODELS)}")
    return TfidfRetriever([r.id for r in records], [describe(r) for r in records], [r.code for r in records])


def candidates_from_retrieved(language: Language, retrieved: Sequence[Retrieved], num_samples: int) -> list[Candidate]:
    """The retrieved programs as candidates, merged by canonical form like model samples. Confidence
    is the log of the cosine similarity (so higher similarity ranks first). Fewer than `num_samples`
    retrieved programs count as failed samples (a `Candidate` with error kind "missing")."""
    merged: dict[str, Candidate] = {}
    for hit in retrieved:
        confidence = math.log(hit.similarity) if hit.similarity > 0 else -1e9
        try:
            canonical = language.canonicalize(hit.code)
            language.validate(canonical)
        except CodeError as error:
            merged[f"error:{hit.id}"] = Candidate(code=hit.code, confidence=confidence, logprob=confidence,
                                                  error=str(error), error_kind=error.kind,
                                                  extra={"source": hit.id, "similarity": hit.similarity})
            continue
        candidate = merged.get(canonical)
        if candidate is None:
            merged[canonical] = Candidate(code=canonical, canonical=canonical, confidence=confidence,
                                          logprob=confidence, valid=True,
                                          extra={"source": hit.id, "similarity": hit.similarity})
        else:
            candidate.count += 1
    missing = num_samples - len(retrieved)
    if missing > 0:
        merged["missing"] = Candidate(code="", count=missing, error="fewer training programs than samples",
                                      error_kind="missing")
    return list(merged.values())
