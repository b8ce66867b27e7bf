"""Choosing a decoding backend: CTranslate2 wherever the checkpoint converts, else transformers.

`make_backend("auto", ...)` (the default of `Generator` and of the CLIs' `--backend`) returns the
CTranslate2 backend where the `ctranslate2` package imports and the checkpoint converts (the
conversion is cached), and otherwise the hf backend, saying why in one line on stderr. Asked for
by name, a backend that cannot be set up raises `BackendUnavailable` instead."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable

from .base import DecodingBackend
from .hf import HFBackend

BACKENDS = ("auto", "hf", "ctranslate2")
ALIASES = {"ct2": "ctranslate2"}


class BackendUnavailable(RuntimeError):
    """The backend asked for cannot run here (the message says why, in one line)."""


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def ctranslate2_backend(checkpoint_dir: str | os.PathLike | None, tokenizer: Any, constraint: Any, *,
                        fallback: HFBackend | None, device: str = "cpu", threads: int = 1,
                        compute_type: str | None = None, max_source_length: int = 256,
                        max_target_length: int = 256) -> DecodingBackend:
    """A CTranslate2Backend for the checkpoint directory, or BackendUnavailable saying why not."""
    if checkpoint_dir is None:
        raise BackendUnavailable("the checkpoint was given already loaded, not as a directory to convert")
    from ..text_encoder import text_encoder_name

    if text_encoder_name(tokenizer):  # CTranslate2 would convert the T5 encoder this model no longer uses
        raise BackendUnavailable(f"its encoder is the pretrained text encoder {text_encoder_name(tokenizer)}, "
                                 "which CTranslate2's T5 converter does not take")
    try:
        import ctranslate2
    except (ImportError, OSError) as error:
        raise BackendUnavailable(f"ctranslate2 does not import ({_one_line(error)}); pip install ctranslate2") \
            from error
    from .ct2 import CTranslate2Backend

    if device.startswith("cuda") and ctranslate2.get_cuda_device_count() == 0:
        raise BackendUnavailable("this CTranslate2 build sees no CUDA device")
    if compute_type is None:
        compute_type = "int8_float16" if device.startswith("cuda") else "int8"
    try:
        return CTranslate2Backend(Path(checkpoint_dir), tokenizer, constraint, compute_type=compute_type,
                                  device="cuda" if device.startswith("cuda") else "cpu", threads=threads,
                                  max_source_length=max_source_length, max_target_length=max_target_length,
                                  fallback=fallback)
    except Exception as error:  # the converter or the loader refusing this checkpoint, in whatever form
        raise BackendUnavailable(f"the checkpoint does not convert to CTranslate2 ({_one_line(error)})") from error


def make_backend(kind: str, *, model: Any, tokenizer: Any, constraint: Any, checkpoint_dir: str | os.PathLike | None,
                 max_source_length: int = 256, max_target_length: int = 256, device: str | None = None,
                 threads: int | None = None,
                 say: Callable[[str], None] | None = None) -> tuple[DecodingBackend, HFBackend]:
    """(the backend to decode with, the hf backend): the hf backend is always built, as the reference
    that scores programs the model did not write and completes what CTranslate2 cannot constrain
    cheaply. `kind`: "auto" (CTranslate2 where it can run, else hf with one line to `say`, default
    stderr), "hf" or "ctranslate2" (BackendUnavailable where it cannot run). CTranslate2 runs with
    `threads` intra-op threads (default: as many as torch uses)."""
    kind = ALIASES.get(kind, kind)
    if kind not in BACKENDS:
        raise ValueError(f"unknown backend {kind!r}; choose from {', '.join(BACKENDS)}")
    hf = HFBackend(model, tokenizer, constraint, max_source_length=max_source_length,
                   max_target_length=max_target_length, device=device)
    if kind == "hf":
        return hf, hf
    if threads is None:
        import torch

        threads = torch.get_num_threads()
    try:
        backend = ctranslate2_backend(checkpoint_dir, tokenizer, constraint, fallback=hf, device=str(hf.device),
                                      threads=threads, max_source_length=max_source_length,
                                      max_target_length=max_target_length)
    except BackendUnavailable as error:
        if kind == "ctranslate2":
            raise
        (say or _stderr)(f"note: decoding with the hf backend: {error}")
        return hf, hf
    return backend, hf


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
