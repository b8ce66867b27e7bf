"""The model's input text. One function, used by training data and by generation alike,
so that what the model sees at inference is exactly what it saw in training."""
from __future__ import annotations

from typing import Sequence

TERMS_MARKER = "<terms>"


def language_tag(lang: str) -> str:
    return f"<{lang}>"


def make_prompt(lang: str, description: str, terms: Sequence[int] | None = None) -> str:
    """`<lang> description` or `<lang> description <terms> 1, 1, 2, 3`.

    Whitespace in the description is collapsed so that wording differences in layout
    do not change the input."""
    text = f"{language_tag(lang)} {' '.join(description.split())}"
    if terms:
        text += f" {TERMS_MARKER} " + ", ".join(str(int(t)) for t in terms)
    return text
