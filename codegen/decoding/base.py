"""What every decoding backend shares: the options of a decode, the hypotheses it returns, its
statistics and the `DecodingBackend` interface."""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Sequence

STRATEGIES = ("greedy", "beam", "sample")


@dataclass
class DecodeOptions:
    """How to decode. `num_return` hypotheses per prompt: samples (sample), beams (beam;
    `num_beams` defaults to num_return) or 1 (greedy)."""

    strategy: str = "greedy"
    num_return: int = 1
    num_beams: int | None = None
    max_new_tokens: int = 256
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    constrain: bool = True
    seed: int | None = None
    batch_rows: int = 256  # prompts x hypotheses decoded together at most

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; choose from {STRATEGIES}")
        if self.strategy == "greedy" and self.num_return != 1:
            raise ValueError("greedy decoding returns one hypothesis; use sample or beam for more")
        if self.num_return < 1:
            raise ValueError("num_return must be at least 1")


@dataclass
class Hypothesis:
    """One decoded output: code token ids (no start token, no EOS, no padding)."""

    token_ids: list[int]
    logprob: float  # sum of the model's log-probabilities of the tokens, EOS included when finished
    n_tokens: int  # tokens scored (code tokens + EOS when finished)
    finished: bool  # ended with EOS rather than at the length limit
    generated: int = 0  # decoding steps spent on it (up to and including EOS, or to the length limit)

    @property
    def confidence(self) -> float:
        return self.logprob / self.n_tokens if self.n_tokens else float("-inf")


@dataclass
class DecodeStats:
    seconds: float = 0.0
    tokens: int = 0  # generated tokens (code + EOS), all hypotheses
    sequences: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class NotOffered(ValueError):
    """A backend cannot decode with these options (the reason is the message)."""


class DecodingBackend(abc.ABC):
    """Turns prompts into hypotheses. Implementations: `HFBackend`, `CTranslate2Backend`."""

    name = "backend"
    supports_constraints = False

    def __init__(self) -> None:
        self.stats = DecodeStats()
        self.constraint: Any = None

    def unsupported(self, options: DecodeOptions) -> str | None:
        """Why this backend cannot decode with `options`, or None where it can."""
        if options.constrain and self.constraint is None:
            return "constrained decoding needs the language's grammar and structural token ids"
        return None

    def check(self, options: DecodeOptions) -> None:
        """Raises NotOffered where `unsupported` gives a reason."""
        reason = self.unsupported(options)
        if reason is not None:
            raise NotOffered(f"the {self.name} backend cannot decode this way: {reason}")

    @abc.abstractmethod
    def decode(self, prompts: Sequence[str], options: DecodeOptions) -> list[list[Hypothesis]]:
        """Per prompt, `options.num_return` hypotheses (best first for greedy / beam); raises
        NotOffered where the backend cannot decode with `options`."""

    def _account(self, seconds: float, hypotheses: list[list[Hypothesis]]) -> None:
        self.stats.seconds += seconds
        for group in hypotheses:
            self.stats.sequences += len(group)
            self.stats.tokens += sum(h.generated or h.n_tokens for h in group)


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    size = max(1, size)
    return [items[i:i + size] for i in range(0, len(items), size)]
