"""Number slots: how a model copies the numbers of a description into its code.

A number in the description ("Compute 26779 mod 75", "a(n) = 7*n + 4") is written in the
prompt as SentencePiece digit pieces, while code spells constants with its own tokens
(`<wat:d2> <wat:d6> ...`, `<loda:7>`). Learning that mapping digit by digit across two
vocabularies is what small models fail at: they pick the right program and the wrong
numbers. So, as in the number-mapping approach of math-word-problem solvers:

- the first `MAX_SLOTS` distinct integers of the description get slots; the prompt keeps each
  number and marks it with its slot token: "Compute <n0> 26779 mod <n1> 75";
- in the training target, a constant operand whose value has a slot is the slot token itself
  (the same token id as in the prompt, so the tied embeddings make copying an identity); one
  whose negation has a slot is the language's sign token and the slot (`- <n2>` for -20 in
  "4x^3 - 20x^2", whose Horner form adds -20);
- generated code has its slot tokens filled back with the prompt's numbers before it is
  detokenized, validated and run.

Terms after `<terms>` get no slots (they are outputs, not parameters). A tokenizer uses
slots when it has the slot tokens (`add_language_tokens` adds them), so training and
generation always agree; a language takes part through `Language.constant_spans`,
`Language.constant_tokens` and `Language.negation_token`, and its grammar accepts a slot token
wherever a constant may go (and after the negation token).
"""
from __future__ import annotations

import re
from typing import Sequence

from .language import CodeError, Language
from .prompts import TERMS_MARKER

MAX_SLOTS = 8
SLOT_TOKENS: tuple[str, ...] = tuple(f"<n{i}>" for i in range(MAX_SLOTS))
_SLOT_INDEX = {token: i for i, token in enumerate(SLOT_TOKENS)}

# An integer not preceded by a word character or a decimal point, and not a decimal fraction
# ("A000045", "x2", "1.5" give none; "5th" gives 5); a leading "-" is a sign only when attached to the digits and not preceded by an
# operand ("-583", "(-1)^n" are negative; "n-1", "2^n - 1" are a subtraction of 1).
_NUMBER = re.compile(r"(?<![\w.])(?:(?<![\w)\].])-)?[0-9]+(?!\.[0-9])")


MAX_DIGITS = 40  # longer numbers get no slot (no constant of a small program is that long)


def _value(match: re.Match) -> int | None:
    text = match.group()
    return int(text) if len(text.lstrip("-")) <= MAX_DIGITS else None


def _description_end(prompt: str) -> int:
    marker = prompt.find(f" {TERMS_MARKER}")
    return len(prompt) if marker < 0 else marker


def prompt_numbers(prompt: str) -> list[int]:
    """The slotted numbers of a prompt: its description's distinct integers, in order of first
    appearance, at most `MAX_SLOTS`."""
    values: list[int] = []
    for match in _NUMBER.finditer(prompt, 0, _description_end(prompt)):
        value = _value(match)
        if value is not None and value not in values:
            values.append(value)
            if len(values) == MAX_SLOTS:
                break
    return values


def mark_prompt(prompt: str) -> str:
    """The prompt with each slotted number preceded by its slot token."""
    values = prompt_numbers(prompt)
    if not values:
        return prompt
    end = _description_end(prompt)

    def mark(match: re.Match) -> str:
        value = _value(match)
        return f"{SLOT_TOKENS[values.index(value)]} {match.group()}" if value in values else match.group()

    return _NUMBER.sub(mark, prompt[:end]) + prompt[end:]


def is_slot(token: str) -> bool:
    return token in _SLOT_INDEX


def slot_code_tokens(language: Language, tokens: Sequence[str], values: Sequence[int]) -> list[str]:
    """Code tokens with every constant whose value is slotted replaced by its slot token, and,
    where the language has a `negation_token`, every constant whose negation is slotted by that
    token and the slot."""
    if not values:
        return list(tokens)
    values = list(values)
    negation = language.negation_token
    out: list[str] = []
    position = 0
    for start, end, value in language.constant_spans(tokens):
        if value in values:
            replacement = [SLOT_TOKENS[values.index(value)]]
        elif negation is not None and value != 0 and -value in values:
            replacement = [negation, SLOT_TOKENS[values.index(-value)]]
        else:
            continue
        out.extend(tokens[position:start])
        out.extend(replacement)
        position = end
    out.extend(tokens[position:])
    return out


def fill_slots(language: Language, tokens: Sequence[str], values: Sequence[int]) -> list[str]:
    """Code tokens with each slot token replaced by the constant tokens of its number (of its
    negation after the language's `negation_token`). Raises CodeError (kind "slot") for a slot
    the prompt has no number for."""
    out: list[str] = []
    negation = language.negation_token
    for token in tokens:
        index = _SLOT_INDEX.get(token)
        if index is None:
            out.append(token)
        elif index < len(values):
            value = values[index]
            if negation is not None and out and out[-1] == negation:
                out.pop()
                value = -value
            out.extend(language.constant_tokens(value))
        else:
            raise CodeError(f"slot {token} refers to number {index + 1} of the prompt, which has "
                            f"{len(values)}", kind="slot")
    return out
