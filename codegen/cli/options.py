"""The options `python -m codegen.generate` and `python -m codegen.evaluate` share: how to decode
(-k, strategy, sampling), what to add beside the model (retry samples, repair, term search), how
to run candidates (backend, workers, threads, timeout), and the argparse types they and the REPL
read values with. Declared once here, so an evaluation is asked for with the words a user asks for
a program with, and a default changed for one tool is changed for both."""
from __future__ import annotations

import argparse

from ..execution import DEFAULT_TIMEOUT
from ..generate import DEFAULT_RETRY_SAMPLES, DEFAULT_SEARCH_SECONDS, MAX_NUM_SAMPLES
from ..language import available_languages
from . import non_negative_int, positive_float, positive_int, probability


def num_samples_arg(text: str) -> int:
    """argparse type of -k / --num-samples (and the REPL's :samples): 1 to MAX_NUM_SAMPLES."""
    value = positive_int(text)
    if value > MAX_NUM_SAMPLES:
        raise argparse.ArgumentTypeError(
            f"{value} candidates is more than the limit of {MAX_NUM_SAMPLES} per request (K sequences are decoded "
            f"at once, so time and memory grow with K); give {MAX_NUM_SAMPLES} or fewer")
    return value


def language_arg(text: str) -> str:
    """argparse type of --lang (and the REPL's :lang): a language there is."""
    if text not in available_languages():
        raise argparse.ArgumentTypeError(f"unknown language {text!r}; there are: {', '.join(available_languages())}")
    return text


def parse_terms(text: str | None) -> list[int] | None:
    """Terms as a user types them (`--terms`, the REPL's `:terms`): integers separated by commas or
    spaces; None for none. Raises ValueError naming the text."""
    if not text:
        return None
    try:
        return [int(part) for part in text.replace(" ", ",").split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"terms must be integers separated by commas, got {text!r}") from None


def set_threads(threads: int | None) -> None:
    """Torch threads for decoding; imports torch (seconds), so a tool calls it after its checks."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def add_decoding_options(parser: argparse.ArgumentParser, *, per: str, terms: str) -> None:
    """Add the shared options to `parser`. `per` names what one decoding is for ("request",
    "target") and `terms` the option that gives terms ("--terms", "--with-terms M"), so each
    tool's help reads in its own words."""
    parser.add_argument("--num-samples", "-k", type=num_samples_arg,
                        help=f"candidates per {per}, 1 to {MAX_NUM_SAMPLES} (default: the checkpoint's num_beams "
                        "beams where its generation_config.json recommends beam search, the best runnable one "
                        "chosen, else 1: greedy)")
    parser.add_argument("--strategy", choices=("greedy", "beam", "sample"),
                        help="default: greedy for one sample; for more, beam search where the checkpoint "
                        "recommends it (generation_config num_beams > 1), else sampling")
    parser.add_argument("--temperature", type=positive_float, default=1.0)
    parser.add_argument("--top-p", type=probability, default=1.0)
    parser.add_argument("--top-k", type=non_negative_int, default=0)
    parser.add_argument("--retry-samples", type=non_negative_int, default=DEFAULT_RETRY_SAMPLES, metavar="N",
                        help=f"where none of a {per}'s candidates parses and runs, sample N more and choose among "
                        f"them (default {DEFAULT_RETRY_SAMPLES}; 0: off)")
    parser.add_argument("--repair", type=non_negative_int, default=0, metavar="N",
                        help=f"with {terms} (at least 4 terms) that no candidate reproduces, run up to N variants "
                        "of the best candidates with one constant changed and keep those that reproduce them "
                        "(codegen.repair; default 0: off; e.g. 256)")
    parser.add_argument("--no-search", action="store_true",
                        help=f"with {terms}: no term search beside the model (the language's corpus, formulas "
                        "and mutations; on by default)")
    parser.add_argument("--search-time", type=positive_float, default=DEFAULT_SEARCH_SECONDS, metavar="S",
                        help=f"seconds of term search per {per} (default {DEFAULT_SEARCH_SECONDS:g})")
    parser.add_argument("--no-constrain", action="store_true", help="decode without the grammar constraint")
    parser.add_argument("--backend", default="auto", choices=("auto", "hf", "ctranslate2"),
                        help="decoding backend (default auto: ctranslate2 where the checkpoint converts, else hf)")
    parser.add_argument("--timeout", type=positive_float, default=DEFAULT_TIMEOUT, help="hard seconds per candidate")
    parser.add_argument("--workers", type=non_negative_int,
                        help="execution worker processes (default: up to 2; 0: in this process, without a hard "
                        "timeout)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="torch threads for decoding (default 1: a tiny model's matmuls gain little from more, "
                        "and spinning threads collapse when the cores are shared with the execution workers)")
