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


# Retrieval context (codegen.retrieval): programs of the nearest training records, put after the
# prompt behind their own tokens, `<lang> description <terms> ... <ref> name <code> program <ref> ...`.
# The prompt before the first `<ref>` is the request; only its numbers get slots.
REF_MARKER = "<ref>"
CODE_MARKER = "<code>"
CONTEXT_TOKENS = (REF_MARKER, CODE_MARKER)


def with_context(prompt: str, refs: Sequence[tuple[str, str]]) -> str:
    """`prompt` followed by each reference (name, canonical code) behind the context tokens."""
    parts = [prompt]
    for name, code in refs:
        parts.append(f"{REF_MARKER} {' '.join(name.split())} {CODE_MARKER} {code}")
    return " ".join(parts)


def split_context(prompt: str) -> tuple[str, list[tuple[str, str]]]:
    """(the request part of `prompt`, its references as (name, code)); no references -> ([])."""
    if REF_MARKER not in prompt:
        return prompt, []
    head, *blocks = prompt.split(f" {REF_MARKER} ")
    refs = []
    for block in blocks:
        name, _, code = block.partition(f" {CODE_MARKER} ")
        refs.append((name, code))
    return head, refs
