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

How numbers are read (`reading`, recorded per tokenizer as `number_reading` in its
codegen_tokenizer.json, see `codegen.tokenizer.number_reading`):

- "digits" (the default, and what every checkpoint made before issue 25 was trained with): a
  number is a run of ASCII digits, as `_NUMBER` below says. "9,876" is two numbers (9, 876),
  "three hundred twelve" none.
- "words": what people write, as well:
  * thousands separators: a group of 1-3 digits (not starting with 0) followed by one or more
    groups of exactly three digits, each after the same separator, a comma or one (thin,
    no-break) space, with no space after a comma: "9,876" = 9876, "1,234,567", "1 024" = 1024,
    "4 000 000". A comma followed by a space is a list ("1, 2, 3" are three numbers), as is a
    group that is not exactly three digits ("12,34", "1,2345"), and words between digits keep
    them apart ("between 3 and 4"). Known limit: "3 500-gram bags" reads as 3500, as a person
    skimming it might;
  * numbers in words: "zero" to "nineteen", the tens, "hundred", "thousand", "million",
    "billion", hyphenated or not, with "and" after a hundred or thousand ("three hundred
    twelve" = 312, "forty-five", "two thousand and six" = 2006, "fifteen hundred" = 1500,
    "a hundred" = 100). Two number words that cannot form one number are two numbers ("two
    three"). "one" after a determiner ("the tenth one", "each one") is a pronoun, not 1;
  * ordinals from "third" up ("the tenth prime" = 10, "to the fifth power" = 5; "first" and
    "second" are left alone: they are mostly order, "a second" a unit of time);
  * dozens: "dozen" and "a dozen" = 12, "half a dozen" = 6; "three dozen" is two numbers, 3 and
    12 (a factor, as in "twice"), so the program multiplies them as it does for "3 boxes of 12";
  * factor words: "twice", "double(d)", "doubling" = 2; "triple(d)", "thrice" = 3;
    "quadruple(d)" = 4; and the divisor in "half of", "half the", "halve(d)" = 2.
  A read number's slot token goes before its whole span ("<n0> three hundred twelve",
  "<n1> half of"), and the slotted value is the number the words mean.
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
# ("A000045", "x2", "1.5" give none; "5th" gives 5); a leading "-" is a sign only when attached to the digits
# and not preceded by an operand ("-583", "(-1)^n" are negative; "n-1", "2^n - 1" are a subtraction of 1).
_NUMBER = re.compile(r"(?<![\w.])(?:(?<![\w)\].])-)?[0-9]+(?!\.[0-9])")


MAX_DIGITS = 40  # longer numbers get no slot (no constant of a small program is that long)


def _value(match: re.Match) -> int | None:
    text = match.group()
    return int(text) if len(text.lstrip("-")) <= MAX_DIGITS else None


READINGS = ("digits", "words")
DEFAULT_READING = "digits"  # a tokenizer that records no reading was trained with this one

# "words" reading: a digit number, with thousands separators where its groups fit (see the module
# docstring); the sign rule is the digit rule's. Plain digits followed by what would be a separator
# group are part of a separated number that failed only for a decimal tail ("9,876.5"): none.
_SEPARATED = re.compile(
    r"(?<![\w.])(?:(?<![\w)\].])-)?"
    r"(?:[1-9][0-9]{0,2}(?:,[0-9]{3})+|[1-9][0-9]{0,2}(?:[ \u00a0\u2009\u202f][0-9]{3})+|[0-9]+(?!,[0-9]{3}(?![0-9])))"
    r"(?![0-9])(?!\.[0-9])")
_WORD = re.compile(r"[A-Za-z]+")

_UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                      "fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i >= 2}
_SCALES = {"thousand": 10 ** 3, "million": 10 ** 6, "billion": 10 ** 9}
_ORDINALS = {"third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10,
             "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15, "sixteenth": 16,
             "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
             "fortieth": 40, "fiftieth": 50, "sixtieth": 60, "seventieth": 70, "eightieth": 80, "ninetieth": 90,
             "hundredth": 100, "thousandth": 1000}
# ordinals that end a compound ("twenty-first"), where "first"/"second" are unambiguous
_ORDINAL_UNITS = {"first": 1, "second": 2, **{k: v for k, v in _ORDINALS.items() if v < 10}}
_FACTORS = {"twice": 2, "double": 2, "doubled": 2, "doubles": 2, "doubling": 2, "triple": 3, "tripled": 3,
            "triples": 3, "tripling": 3, "thrice": 3, "quadruple": 4, "quadrupled": 4,
            "halve": 2, "halved": 2, "halves": 2, "halving": 2, "dozen": 12, "dozens": 12}
_HALF_BEFORE = {"of", "the"}  # "half of x", "half the total": a division by 2
_PRONOUN_BEFORE = {"the", "each", "every", "this", "that", "which", "any", "no", "some", "another", "last", "next",
                   "same", "other", "only", "a", "an"}


def _words(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text, start, end)]


def _gap(text: str, a: int, b: int, hyphen: bool = False) -> bool:
    """Whether text[a:b] joins two words of one number: spaces, or a hyphen where allowed."""
    between = text[a:b]
    return between.strip() == "" and 0 < len(between) <= 2 or (hyphen and between == "-")


def _cardinal(text: str, words: list[tuple[int, int, str]], i: int) -> tuple[int, int] | None:
    """The number written in words from words[i] on, greedily: (value, index after its last
    word), or None where words[i] starts none. Grammar: [units | teens | tens[-unit]] [hundred
    [and] ...] [scale [and] ...], each scale smaller than the one before; "zero" stands alone."""
    total, current, j = 0, 0, i
    last: str | None = None  # the kind of the last word taken: unit, teen, tens, hundred, scale
    scale_limit = 10 ** 12
    while j < len(words):
        word = words[j][2]
        if j > i and not _gap(text, words[j - 1][1], words[j][0], hyphen=last == "tens"):
            break
        if word == "and":  # "three hundred and twelve"; any other "and" ends the number
            after = words[j + 1][2] if j + 1 < len(words) else ""
            if last in ("hundred", "scale") and (after in _TENS or after in _UNITS and after != "zero") and \
                    _gap(text, words[j][1], words[j + 1][0]):
                j += 1
                continue
            break
        if word == "zero":
            if last is not None:
                break
            return 0, j + 1
        if word in _UNITS:
            kind = "unit" if _UNITS[word] < 10 else "teen"
            # after a unit or teen nothing but a scale; after a tens word a unit only ("twenty-three")
            if last in ("unit", "teen") or (last == "tens" and kind == "teen"):
                break
            current += _UNITS[word]
        elif word in _TENS:
            kind = "tens"
            if last in ("unit", "teen", "tens"):
                break
            current += _TENS[word]
        elif word == "hundred":
            kind = "hundred"
            if last not in ("unit", "teen", "tens") or not 0 < current < 100:
                break
            current *= 100
        elif word in _SCALES:
            kind = "scale"
            scale = _SCALES[word]
            if last not in ("unit", "teen", "tens", "hundred") or current == 0 or scale >= scale_limit:
                break
            total, current, scale_limit = total + current * scale, 0, scale
        else:
            break
        last = kind
        j += 1
    if j == i:
        return None
    return total + current, j


def _digit_spans(text: str, start: int, end: int) -> list[tuple[int, int, int]]:
    spans = []
    for match in _SEPARATED.finditer(text, start, end):
        digits = re.sub(r"[^0-9-]", "", match.group())
        if len(digits.lstrip("-")) <= MAX_DIGITS:
            spans.append((match.start(), match.end(), int(digits)))
    return spans


def _word_spans(text: str, start: int, end: int) -> list[tuple[int, int, int]]:
    """Numbers written in words, dozens, ordinals and factor words, as (start, end, value)."""
    words = _words(text, start, end)
    spans: list[tuple[int, int, int]] = []
    i = 0
    while i < len(words):
        begin, stop, word = words[i]
        nxt = words[i + 1][2] if i + 1 < len(words) else None
        linked = i + 1 < len(words) and _gap(text, stop, words[i + 1][0])
        if word == "half" and linked and nxt == "a" and i + 2 < len(words) and words[i + 2][2] == "dozen" and \
                _gap(text, words[i + 1][1], words[i + 2][0]):
            spans.append((begin, words[i + 2][1], 6))
            i += 3
            continue
        if word in ("a", "an") and linked and nxt in ("dozen", "hundred", "thousand", "million", "billion"):
            value = 12 if nxt == "dozen" else 100 if nxt == "hundred" else _SCALES[nxt]
            end_at = words[i + 1][1]
            i += 2
            if nxt == "hundred" and i < len(words):  # "a hundred and twelve", "a hundred twenty"
                rest = _cardinal(text, words, i + 1) if words[i][2] == "and" else _cardinal(text, words, i)
                if rest is not None and rest[0] < 100 and _gap(text, end_at, words[i][0]):
                    value += rest[0]
                    end_at, i = words[rest[1] - 1][1], rest[1]
            spans.append((begin, end_at, value))
            continue
        if word == "half" and linked and nxt in _HALF_BEFORE:
            spans.append((begin, words[i + 1][1], 2))
            i += 2
            continue
        if word in _FACTORS:
            spans.append((begin, stop, _FACTORS[word]))
            i += 1
            continue
        if word in _ORDINALS:
            spans.append((begin, stop, _ORDINALS[word]))
            i += 1
            continue
        if word == "one" and i > 0 and words[i - 1][2] in _PRONOUN_BEFORE | set(_ORDINALS) and \
                _gap(text, words[i - 1][1], begin):
            i += 1  # "the tenth one", "each one": a pronoun
            continue
        found = _cardinal(text, words, i)
        if found is None:
            i += 1
            continue
        value, j = found
        end_at = words[j - 1][1]
        # "twenty-first": a tens word and an ordinal unit
        if j < len(words) and words[j - 1][2] in _TENS and words[j][2] in _ORDINAL_UNITS and \
                text[end_at:words[j][0]] in ("-", " "):
            value += _ORDINAL_UNITS[words[j][2]]
            end_at, j = words[j][1], j + 1
        spans.append((begin, end_at, value))
        i = j
    return spans


def number_spans(text: str, reading: str = DEFAULT_READING, start: int = 0,
                 end: int | None = None) -> list[tuple[int, int, int]]:
    """The numbers of text[start:end] as (start, end, value), in order, as `reading` reads them."""
    end = len(text) if end is None else end
    if reading == "digits":
        return [(m.start(), m.end(), v) for m in _NUMBER.finditer(text, start, end) if (v := _value(m)) is not None]
    if reading != "words":
        raise ValueError(f"unknown number reading {reading!r}; known: {', '.join(READINGS)}")
    digit_spans = _digit_spans(text, start, end)
    spans = sorted(_word_spans(text, start, end) + digit_spans, key=lambda s: (s[0], -s[1]))
    out: list[tuple[int, int, int]] = []
    for span in spans:  # words and digits never overlap; kept as a guard (the longest span wins)
        if out and span[0] < out[-1][1]:
            continue
        out.append(span)
    return out


def _description_end(prompt: str) -> int:
    marker = prompt.find(f" {TERMS_MARKER}")
    return len(prompt) if marker < 0 else marker


def prompt_numbers(prompt: str, reading: str = DEFAULT_READING) -> list[int]:
    """The slotted numbers of a prompt: its description's distinct integers, in order of first
    appearance, at most `MAX_SLOTS`."""
    values: list[int] = []
    for _, _, value in number_spans(prompt, reading, 0, _description_end(prompt)):
        if value not in values:
            values.append(value)
            if len(values) == MAX_SLOTS:
                break
    return values


def mark_prompt(prompt: str, reading: str = DEFAULT_READING) -> str:
    """The prompt with each slotted number preceded by its slot token."""
    values = prompt_numbers(prompt, reading)
    if not values:
        return prompt
    end = _description_end(prompt)
    pieces: list[str] = []
    position = 0
    for start, _stop, value in number_spans(prompt, reading, 0, end):
        if value in values:
            pieces.append(prompt[position:start])
            pieces.append(f"{SLOT_TOKENS[values.index(value)]} ")
            position = start
    pieces.append(prompt[position:])
    return "".join(pieces)


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
