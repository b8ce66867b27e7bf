"""Decoding: grammar-constrained decoding and swappable decoding backends.

Constrained decoding (`constraint`). A language's `Grammar` is a deterministic state machine over
its structural tokens; `GrammarConstraint` maps it onto token ids, with a length budget (the fewest
tokens that still complete a program), so that every constrained output parses.

Backends. `DecodingBackend.decode(prompts, options)` returns, per prompt, hypotheses with their code
token ids and the model's log-probability of them (EOS included), so that confidence (the mean per
token) is comparable across strategies and backends.

- `HFBackend` (`hf`): `model.generate` with a logits processor masking what the grammar does not
  allow, step by step (greedy, beam, sampling). The reference.
- `CTranslate2Backend` (`ct2`): an int8 CTranslate2 conversion of the checkpoint, 3-9x faster on a
  CPU; decodes freely, checks every output against the grammar and repairs only those that fail
  (greedy, beam, sampling; constrained or not).

`make_backend` (`select`) picks one: CTranslate2 wherever the checkpoint converts, else hf with one
line saying why.
"""
from __future__ import annotations

from .base import STRATEGIES, DecodeOptions, DecodeStats, DecodingBackend, Hypothesis, NotOffered, chunks
from .constraint import DEAD, DONE, GrammarConstraint
from .ct2 import CTranslate2Backend, convert_to_ctranslate2, ctranslate2_available, default_conversion_dir
from .hf import GrammarLogitsProcessor, HFBackend, LogProbRecorder
from .select import BACKENDS, BackendUnavailable, ctranslate2_backend, make_backend

__all__ = [
    "BACKENDS", "DEAD", "DONE", "STRATEGIES", "BackendUnavailable", "CTranslate2Backend", "DecodeOptions",
    "DecodeStats", "DecodingBackend", "GrammarConstraint", "GrammarLogitsProcessor", "HFBackend", "Hypothesis",
    "LogProbRecorder", "NotOffered", "chunks", "convert_to_ctranslate2", "ctranslate2_available",
    "ctranslate2_backend", "default_conversion_dir", "make_backend",
]
