"""Decoding: grammar-constrained logits processing and swappable decoding backends.

Constrained decoding. A language's `Grammar` is a deterministic state machine over its
structural tokens. `GrammarConstraint` maps it onto token ids; `GrammarLogitsProcessor`
(a `transformers.LogitsProcessor`) masks, at every step and for every batch row / beam,
each token the grammar does not allow in that row's state (EOS is allowed iff the grammar
allows `END`). States are cached by decoded prefix: a row's state is its parent prefix's
state advanced by one token, so a step costs one `advance` per row, and masks are cached
per state. With it every finished output is accepted by the grammar, hence parses.

Backends. `DecodingBackend.decode(prompts, options)` returns, per prompt, hypotheses with
their code token ids and the model's log-probability of them. `HFBackend` wraps
`model.generate` (greedy, beam, sampling; constrained or not); `CTranslate2Backend` runs an
int8 CTranslate2 conversion of the checkpoint where the `ctranslate2` package is installed
(greedy, beam, sampling; constrained greedy and sampling by grammar repair, as CTranslate2
exposes no per-step logits hook).
"""
from __future__ import annotations

import abc
import dataclasses
import hashlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Hashable, Mapping, Sequence

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from .language import Grammar
from .tokenizer import encode_prompts, unused_slot_ids

STRATEGIES = ("greedy", "beam", "sample")


class _Done:
    """State of a row that has produced EOS (later positions are padding)."""

    def __repr__(self) -> str:
        return "DONE"


class _Dead:
    """State after a token the grammar does not allow (only reachable without the mask)."""

    def __repr__(self) -> str:
        return "DEAD"


DONE = _Done()
DEAD = _Dead()
_MISSING = object()


class GrammarConstraint:
    """A grammar over token ids: the state after a sequence of ids, and the allowed-id mask of a state.

    `token_ids` maps each structural token string to its id; `eos_token_id` stands for
    `Grammar.END`. Masks are cached per (state, vocabulary size, device)."""

    MAX_CACHED_MASKS = 200_000
    # Length-budget searches are bounded: a grammar whose states carry much context (WAT's
    # typed stack) makes nearly every decoded prefix a new state, and an unbounded search per
    # row and step took minutes and gigabytes per batch. Past these bounds the budget is not
    # enforced (an output cut at the length limit then fails to parse; it is never faked).
    MAX_EXPANSIONS = 300
    BUDGET_WINDOW = 48  # tokens left below which the budget is checked at all
    # one token adds at most this many to the shortest completion (it opens a block, say):
    # while the state's own distance plus this fits, every token does, without a search per token
    BUDGET_SLACK = 8
    UNREACHABLE = 10**9

    def __init__(self, grammar: Grammar, token_ids: Mapping[str, int], eos_token_id: int,
                 pad_token_id: int | None = None):
        self.grammar = grammar
        self.token_ids = dict(token_ids)
        self.id_to_token = {i: t for t, i in self.token_ids.items()}
        self.eos_token_id = int(eos_token_id)
        self.pad_token_id = pad_token_id
        self._allowed_ids: dict[Hashable, list[int]] = {}
        self._masks: dict[tuple, torch.Tensor] = {}
        self._next: dict[Hashable, dict[Hashable, list[int]]] = {}
        self._distance: dict[Hashable, int] = {}

    def start(self) -> Hashable:
        return self.grammar.start()

    def advance(self, state: Hashable, token_id: int) -> Hashable:
        if state is DONE or state is DEAD:
            return state
        if token_id == self.eos_token_id:
            return DONE if Grammar.END in self.grammar.allowed(state) else DEAD
        token = self.id_to_token.get(token_id)
        if token is None:
            return DEAD
        try:
            return self.grammar.advance(state, token)
        except ValueError:
            return DEAD

    def state_of(self, ids: Sequence[int]) -> Hashable:
        state = self.start()
        for token_id in ids:
            state = self.advance(state, int(token_id))
        return state

    def accepts(self, ids: Sequence[int]) -> bool:
        """Whether `ids` (code ids, EOS optional at the end) form a complete sentence of the grammar."""
        ids = list(ids)
        if ids and ids[-1] == self.eos_token_id:
            ids = ids[:-1]
        state = self.state_of(ids)
        return state is not DEAD and state is not DONE and Grammar.END in self.grammar.allowed(state)

    def allowed_ids(self, state: Hashable) -> list[int]:
        cached = self._allowed_ids.get(state)
        if cached is None:
            ids = set()
            for token in self.grammar.allowed(state):
                if token == Grammar.END:
                    ids.add(self.eos_token_id)
                elif token in self.token_ids:
                    ids.add(self.token_ids[token])
            if not ids:  # a dead end of the grammar (or tokens missing from the vocabulary): stop here
                ids.add(self.eos_token_id)
            cached = sorted(ids)
            if len(self._allowed_ids) > self.MAX_CACHED_MASKS:
                self._allowed_ids.clear()
            self._allowed_ids[state] = cached
        return cached

    # -- length budget: the fewest tokens that still complete a program

    def _successors(self, state: Hashable) -> dict[Hashable, list[int]]:
        """Distinct next states (END excluded) -> the token ids leading there."""
        cached = self._next.get(state)
        if cached is None:
            cached = {}
            for token_id in self.allowed_ids(state):
                if token_id != self.eos_token_id:
                    cached.setdefault(self.advance(state, token_id), []).append(token_id)
            if len(self._next) > self.MAX_CACHED_MASKS:
                self._next.clear()
            self._next[state] = cached
        return cached

    def _known_distance(self, state: Hashable) -> int | None:
        """The distance of `state` without a search: memoised here, or told by the grammar."""
        known = self._distance.get(state)
        return self.grammar.completion_distance(state) if known is None else known

    def distance(self, state: Hashable) -> int:
        """Fewest code tokens after which `state` allows END (0 where it does now): a breadth-first
        search over the grammar, memoised, reusing the distances already known."""
        if state is DONE or state is DEAD:
            return 0
        known = self._known_distance(state)
        if known is not None:
            return known
        best = self.UNREACHABLE
        frontier, seen, level, expanded = [state], {state}, 0, 0
        while frontier and level < best:
            following = []
            for current in frontier:  # never DEAD: the start is not, and no DEAD successor is queued
                known = self._known_distance(current)
                if known is not None:
                    best = min(best, level + known)
                    continue
                if self.eos_token_id in self.allowed_ids(current):
                    if Grammar.END in self.grammar.allowed(current):
                        best = min(best, level)
                        continue
                expanded += 1
                for successor in self._successors(current):
                    if successor not in seen and successor is not DEAD:
                        seen.add(successor)
                        following.append(successor)
            if expanded > self.MAX_EXPANSIONS:  # give up: treat as unconstrained by length
                best = min(best, level)
                break
            frontier = following
            level += 1
        if len(self._distance) > self.MAX_CACHED_MASKS:
            self._distance.clear()
        self._distance[state] = best
        return best

    def budget_mask(self, state: Hashable, remaining: int, vocab_size: int,
                    device: torch.device | str = "cpu") -> torch.Tensor | None:
        """The allowed-id mask where at most `remaining` more tokens (EOS included) may be generated:
        a token is kept only if a program can still be completed after it. Equals `mask` while the
        budget is not tight."""
        if (state is DONE or state is DEAD or remaining > self.BUDGET_WINDOW
                or self.distance(state) + self.BUDGET_SLACK + 2 <= remaining):
            return self.mask(state, vocab_size, device)
        key = (state, vocab_size, str(device), remaining)
        mask = self._masks.get(key)
        if mask is None:
            # where no completion fits, only EOS is left (the output will not parse)
            ids = self.permitted_ids(state, remaining)
            mask = torch.zeros(vocab_size, dtype=torch.bool, device=device)
            mask[torch.tensor([i for i in ids if i < vocab_size], dtype=torch.long, device=device)] = True
            self._masks[key] = mask
        return mask

    def permits(self, state: Hashable, token_id: int, remaining: int) -> bool:
        """Whether `token_id` may come next in `state` with `remaining` tokens (EOS included) left."""
        if state is DONE or state is DEAD or token_id not in self.allowed_ids(state):
            return False
        if token_id == self.eos_token_id:
            return Grammar.END in self.grammar.allowed(state) and remaining >= 1
        return self.distance(self.advance(state, token_id)) + 2 <= remaining

    def permitted_ids(self, state: Hashable, remaining: int) -> list[int]:
        """The ids `budget_mask` allows, as a list."""
        if state is DONE or state is DEAD:
            return [self.eos_token_id]
        ids = [self.eos_token_id] if Grammar.END in self.grammar.allowed(state) else []
        for successor, token_ids in self._successors(state).items():
            if self.distance(successor) + 2 <= remaining:
                ids.extend(token_ids)
        return ids or [self.eos_token_id]

    def mask(self, state: Hashable, vocab_size: int, device: torch.device | str = "cpu") -> torch.Tensor | None:
        """Boolean mask of allowed ids (True = allowed); None where everything is allowed (DONE)."""
        if state is DONE:
            return None
        key = (state, vocab_size, str(device))
        mask = self._masks.get(key)
        if mask is None:
            mask = torch.zeros(vocab_size, dtype=torch.bool, device=device)
            if state is DEAD:
                mask[self.eos_token_id] = True
            else:
                mask[torch.tensor([i for i in self.allowed_ids(state) if i < vocab_size], dtype=torch.long,
                                  device=device)] = True
            if len(self._masks) > self.MAX_CACHED_MASKS:
                self._masks.clear()
            self._masks[key] = mask
        return mask


class LogProbRecorder:
    """The model's log-probability of every decoded prefix, recorded from the scores a logits
    processor sees (raw logits for greedy / sampling, log-softmax for beam search: both give the
    untempered, unconstrained distribution), so that no second forward pass is needed.

    Per prefix key (the prompt and the row's ids so far) it keeps (sum of its tokens'
    log-probabilities, the log-probability of EOS next); the previous step's log-probabilities
    give the newest token's. Rows are grouped `group_size` per prompt, as `generate` expands
    them (samples or beams of one prompt are consecutive; beam search reorders only within)."""

    def __init__(self, prefix_length: int, eos_token_id: int, group_size: int = 1):
        self.prefix_length = prefix_length + 1  # the prompt number leads every key
        self.eos_token_id = eos_token_id
        self.group_size = max(1, group_size)
        self._scores: dict[tuple[int, ...], tuple[float, float]] = {}
        self._last_rows: dict[tuple[int, ...], int] = {}
        self._last_logprobs: torch.Tensor | None = None

    def keys(self, rows: Sequence[Sequence[int]]) -> list[tuple[int, ...]]:
        return [(number // self.group_size, *row) for number, row in enumerate(rows)]

    def record(self, rows: Sequence[Sequence[int]], scores: torch.Tensor) -> None:
        keys = self.keys(rows)
        logprobs = torch.log_softmax(scores.float(), dim=-1)
        eos_column = logprobs[:, self.eos_token_id].tolist()
        pending: list[tuple[int, tuple[int, ...], int, int]] = []  # (row, key, parent row, token)
        for row, key in enumerate(keys):
            if key in self._scores:
                continue
            if len(key) <= self.prefix_length:
                self._scores[key] = (0.0, eos_column[row])
                continue
            if self.eos_token_id in key[self.prefix_length:-1]:
                continue  # padding after EOS
            parent = self._last_rows.get(key[:-1])
            if parent is not None and key[:-1] in self._scores:
                pending.append((row, key, parent, key[-1]))
        if pending and self._last_logprobs is not None:
            picked = self._last_logprobs[[p for _, _, p, _ in pending], [t for _, _, _, t in pending]].tolist()
            for (row, key, _, _), value in zip(pending, picked):
                self._scores[key] = (self._scores[key[:-1]][0] + value, eos_column[row])
        self._last_rows = {key: row for row, key in enumerate(keys)}
        self._last_logprobs = logprobs

    def total(self, prompt: int, sequence: Sequence[int]) -> tuple[float, int] | None:
        """(sum of log-probabilities, tokens scored) of a sequence generated for prompt number
        `prompt` (start token first; EOS scored where present), or None where a prefix was not
        recorded."""
        sequence = [prompt, *sequence]
        body = sequence[self.prefix_length:]
        if self.eos_token_id in body:
            end = body.index(self.eos_token_id)
            entry = self._scores.get(tuple(sequence[:self.prefix_length + end]))
            return None if entry is None else (entry[0] + entry[1], end + 1)
        if not body:
            return None
        key = tuple(sequence)
        entry = self._scores.get(key)
        if entry is not None:
            return entry[0], len(body)
        parent, row = self._scores.get(key[:-1]), self._last_rows.get(key[:-1])
        if parent is None or row is None or self._last_logprobs is None:
            return None
        return parent[0] + float(self._last_logprobs[row, key[-1]]), len(body)


class GrammarLogitsProcessor(LogitsProcessor):
    """Masks every token the grammar does not allow, row by row (rows are batch x beams).

    `prefix_length` decoder positions (the decoder start token) precede the code. With
    `max_new_tokens`, tokens after which no program can be completed within the remaining
    length are masked too, so outputs end with EOS rather than being cut off. With a
    `recorder`, the model's log-probabilities are recorded before masking; `constraint=None`
    only records. Make one processor per `generate` call: it caches the states of the
    previous step's prefixes."""

    def __init__(self, constraint: GrammarConstraint | None, prefix_length: int = 1,
                 max_new_tokens: int | None = None, recorder: LogProbRecorder | None = None,
                 forbidden: Sequence[Sequence[int]] | None = None, group_size: int = 1):
        self.constraint = constraint
        self.prefix_length = prefix_length
        self.max_new_tokens = max_new_tokens
        self.recorder = recorder
        # per prompt, ids masked besides the grammar's (number slots the prompt has no number for);
        # rows are grouped `group_size` per prompt
        self.forbidden = [list(ids) for ids in forbidden] if forbidden else None
        self.group_size = max(1, group_size)
        self._previous: dict[tuple[int, ...], Hashable] = {}
        self._length = -1
        self.rows_masked = 0

    def _state(self, key: tuple[int, ...], current: dict[tuple[int, ...], Hashable]) -> Hashable:
        state = current.get(key, _MISSING)
        if state is not _MISSING:
            return state
        code = key[self.prefix_length:]
        if not code:
            state = self.constraint.start()
        else:
            parent = self._previous.get(key[:-1], _MISSING)
            if parent is _MISSING:  # not seen at the previous step (first call, or a foreign prefix)
                parent = self.constraint.state_of(code[:-1])
            state = self.constraint.advance(parent, code[-1])
        current[key] = state
        return state

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        rows = input_ids.tolist()
        if self.recorder is not None:
            self.recorder.record(rows, scores)
        if self.constraint is None:
            return scores
        keys = [tuple(row) for row in rows]
        length = input_ids.shape[1]
        if length != self._length + 1:
            self._previous = {}
        current: dict[tuple[int, ...], Hashable] = {}
        states = [self._state(key, current) for key in keys]
        self._previous = current
        self._length = length
        vocab_size = scores.shape[-1]
        if self.max_new_tokens is None:
            masks = [self.constraint.mask(state, vocab_size, scores.device) for state in states]
        else:
            remaining = self.max_new_tokens - (length - self.prefix_length)
            masks = [self.constraint.budget_mask(state, remaining, vocab_size, scores.device) for state in states]
        if all(mask is None for mask in masks):
            return scores
        full = torch.ones(vocab_size, dtype=torch.bool, device=scores.device)
        allowed = torch.stack([full if mask is None else mask for mask in masks])
        if self.forbidden:
            allowed = allowed.clone()
            for row, state in enumerate(states):
                ids = self.forbidden[row // self.group_size]
                if ids and state is not DONE:
                    allowed[row, ids] = False
        self.rows_masked += len(keys)
        return scores.masked_fill(~allowed, -math.inf)


# ---------------------------------------------------------------------------------------------
# backends


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


class DecodingBackend(abc.ABC):
    """Turns prompts into hypotheses. Implementations: `HFBackend`, `CTranslate2Backend`."""

    name = "backend"
    supports_constraints = False

    def __init__(self) -> None:
        self.stats = DecodeStats()

    @abc.abstractmethod
    def decode(self, prompts: Sequence[str], options: DecodeOptions) -> list[list[Hypothesis]]:
        """Per prompt, `options.num_return` hypotheses (best first for greedy / beam)."""

    def _account(self, seconds: float, hypotheses: list[list[Hypothesis]]) -> None:
        self.stats.seconds += seconds
        for group in hypotheses:
            self.stats.sequences += len(group)
            self.stats.tokens += sum(h.generated or h.n_tokens for h in group)


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    size = max(1, size)
    return [items[i:i + size] for i in range(0, len(items), size)]


class HFBackend(DecodingBackend):
    """`model.generate` with a `GrammarLogitsProcessor` (masking unless unconstrained). Log-
    probabilities are the raw model distribution's (unconstrained, untempered, so comparable
    across strategies), recorded from the scores seen while decoding; a teacher-forced forward
    pass covers any output whose prefixes were not recorded."""

    name = "hf"
    supports_constraints = True

    def __init__(self, model: Any, tokenizer: Any, constraint: GrammarConstraint | None, *,
                 max_source_length: int = 256, max_target_length: int = 256, device: str | None = None):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.constraint = constraint
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device)
        self.model.eval()
        config = model.generation_config
        self.eos_token_id = _first(config.eos_token_id if config.eos_token_id is not None
                                   else tokenizer.eos_token_id)
        self.pad_token_id = _first(config.pad_token_id if config.pad_token_id is not None
                                   else tokenizer.pad_token_id)
        self.start_token_id = _first(model.config.decoder_start_token_id if
                                     model.config.decoder_start_token_id is not None else self.pad_token_id)

    def _encode(self, prompts: Sequence[str]) -> dict[str, torch.Tensor]:
        batch = encode_prompts(self.tokenizer, prompts, max_length=self.max_source_length, truncation=True,
                               padding=True, return_tensors="pt")
        return {"input_ids": batch["input_ids"].to(self.device),
                "attention_mask": batch["attention_mask"].to(self.device)}

    def _generate_kwargs(self, options: DecodeOptions) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": min(options.max_new_tokens, self.max_target_length),
            "num_return_sequences": options.num_return,
            "eos_token_id": self.eos_token_id,
            "pad_token_id": self.pad_token_id,
            "decoder_start_token_id": self.start_token_id,
        }
        if options.strategy == "greedy":
            kwargs.update(do_sample=False, num_beams=1)
        elif options.strategy == "beam":
            kwargs.update(do_sample=False, num_beams=max(options.num_beams or options.num_return, options.num_return),
                          early_stopping=True)
        else:
            kwargs.update(do_sample=True, num_beams=1, temperature=options.temperature,
                          top_k=options.top_k or None, top_p=options.top_p)
        return kwargs

    @torch.inference_mode()
    def decode(self, prompts: Sequence[str], options: DecodeOptions) -> list[list[Hypothesis]]:
        start = time.perf_counter()
        if options.seed is not None:
            torch.manual_seed(options.seed)
        kwargs = self._generate_kwargs(options)
        results: list[list[Hypothesis]] = []
        per_chunk = max(1, options.batch_rows // max(options.num_return, options.num_beams or 1))
        for chunk in _chunks(list(prompts), per_chunk):
            inputs = self._encode(chunk)
            if options.constrain and self.constraint is None:
                raise ValueError("constrained decoding needs the language's grammar and structural token ids")
            group_size = kwargs["num_beams"] if options.strategy == "beam" else options.num_return
            recorder = LogProbRecorder(prefix_length=1, eos_token_id=self.eos_token_id, group_size=group_size)
            processor = GrammarLogitsProcessor(self.constraint if options.constrain else None, prefix_length=1,
                                               max_new_tokens=kwargs["max_new_tokens"], recorder=recorder,
                                               forbidden=unused_slot_ids(self.tokenizer, chunk), group_size=group_size)
            sequences = self.model.generate(**inputs, logits_processor=LogitsProcessorList([processor]), **kwargs)
            hypotheses = self._score(inputs, sequences, options.num_return, recorder)
            for i in range(len(chunk)):
                results.append(hypotheses[i * options.num_return:(i + 1) * options.num_return])
        self._account(time.perf_counter() - start, results)
        return results

    def _score(self, inputs: Mapping[str, torch.Tensor], sequences: torch.Tensor, per_prompt: int,
               recorder: LogProbRecorder | None = None) -> list[Hypothesis]:
        """Hypotheses for `sequences` (start token first), with their log-probabilities under the
        model: recorded during decoding where available, else from a teacher-forced forward pass."""
        eos, pad = self.eos_token_id, self.pad_token_id
        rows = sequences.tolist()
        code_rows: list[list[int]] = []
        finished: list[bool] = []
        generated: list[int] = []
        for row in rows:
            body = row[1:]
            generated.append(body.index(eos) + 1 if eos in body else len(body))
            if eos in body:
                code_rows.append(body[:body.index(eos)])
                finished.append(True)
            else:
                while body and body[-1] == pad:
                    body = body[:-1]
                code_rows.append(body)
                finished.append(False)
        targets = [code + ([eos] if done else []) for code, done in zip(code_rows, finished)]
        recorded = [recorder.total(i // per_prompt, row) if recorder is not None else None
                    for i, row in enumerate(rows)]
        missing = [i for i, entry in enumerate(recorded) if entry is None or entry[1] != len(targets[i])]
        picked = [entry[0] if entry is not None else 0.0 for entry in recorded]
        if missing:
            for i, value in zip(missing, self._forward_logprobs(inputs, [targets[i] for i in missing],
                                                                [i // per_prompt for i in missing])):
                picked[i] = value
        return [Hypothesis(token_ids=code, logprob=float(lp), n_tokens=len(target), finished=done, generated=steps)
                for code, lp, target, done, steps in zip(code_rows, picked, targets, finished, generated)]

    def _forward_logprobs(self, inputs: Mapping[str, torch.Tensor], targets: list[list[int]],
                          prompt_rows: list[int]) -> list[float]:
        """Sum of log-probabilities of each target (code ids + EOS) for the prompt in row
        `prompt_rows[i]` of `inputs`, by one teacher-forced forward pass."""
        pad = self.pad_token_id
        width = max(1, max(len(t) for t in targets))
        labels = torch.full((len(targets), width), -100, dtype=torch.long)
        decoder_inputs = torch.full((len(targets), width), pad, dtype=torch.long)
        decoder_inputs[:, 0] = self.start_token_id
        for i, target in enumerate(targets):
            if target:
                labels[i, :len(target)] = torch.tensor(target)
                decoder_inputs[i, 1:len(target)] = torch.tensor(target[:-1])
        labels = labels.to(self.device)
        index = torch.tensor(prompt_rows, device=self.device)
        logits = self.model(input_ids=inputs["input_ids"][index], attention_mask=inputs["attention_mask"][index],
                            decoder_input_ids=decoder_inputs.to(self.device)).logits.float()
        picked = logits.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
        return picked.masked_fill(labels < 0, 0.0).sum(dim=-1).tolist()


def _first(value: Any) -> int:
    if isinstance(value, (list, tuple)):
        return int(value[0])
    return int(value)


# ---------------------------------------------------------------------------------------------
# CTranslate2


def ctranslate2_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ctranslate2") is not None


def convert_to_ctranslate2(checkpoint_dir: str | os.PathLike, output_dir: str | os.PathLike | None = None, *,
                           quantization: str = "int8", force: bool = False) -> Path:
    """Convert a save_pretrained checkpoint with CTranslate2's Transformers converter (once; the
    result is cached under `output_dir`, by default `<checkpoint>/ctranslate2-<quantization>`,
    falling back to the user cache where the checkpoint dir is read-only)."""
    import ctranslate2

    source = Path(checkpoint_dir)
    if output_dir is None:
        output_dir = source / f"ctranslate2-{quantization}"
        if not os.access(source, os.W_OK):
            digest = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:16]
            output_dir = Path(os.environ.get("CODEGEN_CACHE_DIR") or Path.home() / ".cache" / "codegen") / \
                "ctranslate2" / f"{digest}-{quantization}"
    output = Path(output_dir)
    stamp = output / "source.stamp"
    weights = sorted(source.glob("*.safetensors")) + sorted(source.glob("*.bin"))
    signature = ";".join(f"{w.name}:{w.stat().st_size}:{w.stat().st_mtime_ns}" for w in weights)
    if not force and (output / "model.bin").exists() and stamp.exists() and stamp.read_text() == signature:
        return output
    converter = ctranslate2.converters.TransformersConverter(str(source))
    converter.convert(str(output), quantization=quantization, force=True)
    stamp.write_text(signature)
    return output


class CTranslate2Backend(DecodingBackend):
    """Decoding with an int8 CTranslate2 model converted from the checkpoint.

    CTranslate2 has no per-step logits hook, so the grammar is enforced by repair: decode
    freely, find each output's first token the grammar (with the length budget) does not
    permit, ask the model for its distribution right after the permitted prefix
    (`return_logits_vocab`), pick the best (greedy) or a sampled permitted token, and let
    it continue freely from there; repeat until every output is accepted. For greedy decoding
    this is exactly constrained greedy decoding (the free choice is kept wherever it is
    permitted); for sampling, tokens are drawn from the masked distribution only where the free
    draw was not permitted. An output that still breaks the grammar after MAX_REPAIRS repairs
    (an untrained model's) is decoded again, constrained, by the `fallback` backend (the
    Generator passes its HFBackend), so a pathological output costs one ordinary constrained
    decode rather than a repair per token. Constrained beam search is not offered (use hf)."""

    name = "ctranslate2"
    supports_constraints = True

    MAX_REPAIRS = 24  # per output; beyond, it is decoded again by the fallback backend

    def __init__(self, checkpoint_dir: str | os.PathLike, tokenizer: Any, constraint: GrammarConstraint | None = None,
                 *, quantization: str = "int8", device: str = "cpu", threads: int = 1, max_source_length: int = 256,
                 max_target_length: int = 256, fallback: DecodingBackend | None = None):
        super().__init__()
        self.fallback = fallback
        self.fallbacks = 0  # outputs handed to the fallback backend
        import ctranslate2

        self.model_dir = convert_to_ctranslate2(checkpoint_dir, quantization=quantization)
        self.translator = ctranslate2.Translator(str(self.model_dir), device=device, compute_type=quantization,
                                                 intra_threads=threads)
        self.tokenizer = tokenizer
        self.constraint = constraint
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        self.repairs = 0  # tokens chosen by repair, over the backend's life

    def _tokens(self, ids: Sequence[int]) -> list[str]:
        return self.tokenizer.convert_ids_to_tokens(list(ids))

    def _ids(self, tokens: Sequence[str]) -> list[int]:
        return [int(i) for i in self.tokenizer.convert_tokens_to_ids(list(tokens))]

    def decode(self, prompts: Sequence[str], options: DecodeOptions) -> list[list[Hypothesis]]:
        if options.constrain and self.constraint is None:
            raise ValueError("constrained decoding needs the language's grammar and structural token ids")
        if options.constrain and options.strategy == "beam":
            raise ValueError("the ctranslate2 backend offers constrained greedy and sampling, not constrained beam "
                             "search; use the hf backend or pass --no-constrain")
        import ctranslate2
        import numpy as np

        start = time.perf_counter()
        sources = [self._tokens(ids) for ids in encode_prompts(self.tokenizer, prompts, max_length=self.max_source_length,
                                                                truncation=True)["input_ids"]]
        max_length = min(options.max_new_tokens, self.max_target_length)
        kwargs: dict[str, Any] = {"max_decoding_length": max_length, "num_hypotheses": options.num_return,
                                  "max_batch_size": max(1, options.batch_rows // options.num_return)}
        if options.strategy == "greedy":
            kwargs.update(beam_size=1)
        elif options.strategy == "beam":
            kwargs.update(beam_size=max(options.num_beams or options.num_return, options.num_return))
        else:
            # with beam_size=1, CTranslate2 draws num_hypotheses independent samples
            kwargs.update(beam_size=1, sampling_topk=options.top_k or 0, sampling_topp=options.top_p,
                          sampling_temperature=options.temperature)
        if options.seed is not None:
            ctranslate2.set_random_seed(options.seed)
        outputs = self.translator.translate_batch(sources, **kwargs)
        rows: list[tuple[int, list[int]]] = []  # (source index, generated ids without EOS)
        for index, output in enumerate(outputs):
            for tokens in output.hypotheses:
                rows.append((index, self._ids(tokens)))
        finished = [len(ids) < max_length for _, ids in rows]
        hopeless: list[int] = []
        if options.constrain:
            rng = np.random.default_rng(options.seed)
            forbidden = [set(ids) for ids in unused_slot_ids(self.tokenizer, prompts) or [()] * len(prompts)]
            finished, hopeless = self._repair(sources, rows, finished, max_length, options, rng, forbidden)
        replaced = self._fall_back(prompts, rows, hopeless, options)
        keep = [r for r in range(len(rows)) if r not in replaced]
        rows, finished = [rows[r] for r in keep], [finished[r] for r in keep]
        flat_sources = [sources[index] for index, _ in rows]
        scores = self.translator.score_batch(flat_sources, [self._tokens(ids) for _, ids in rows],
                                             max_batch_size=kwargs["max_batch_size"]) if rows else []
        results: list[list[Hypothesis]] = [[] for _ in prompts]
        for index, hypotheses in replaced.values():
            results[index].extend(hypotheses)
        for (index, ids), done, score in zip(rows, finished, scores):
            logprobs = list(score.log_probs)  # the target tokens, then the end token
            if not done and logprobs:
                logprobs = logprobs[:-1]
            results[index].append(Hypothesis(token_ids=ids, logprob=float(sum(logprobs)), n_tokens=len(logprobs),
                                             finished=done, generated=len(ids) + (1 if done else 0)))
        self._account(time.perf_counter() - start, results)
        return results

    def _fall_back(self, prompts: Sequence[str], rows: list[tuple[int, list[int]]], hopeless: list[int],
                   options: DecodeOptions) -> dict[int, tuple[int, list[Hypothesis]]]:
        """Decode the outputs `hopeless` (row numbers) again with the fallback backend: row -> (prompt
        index, [hypothesis])."""
        if not hopeless or self.fallback is None:
            return {}
        by_prompt: dict[int, list[int]] = {}
        for r in hopeless:
            by_prompt.setdefault(rows[r][0], []).append(r)
        replaced: dict[int, tuple[int, list[Hypothesis]]] = {}
        for index, numbers in by_prompt.items():
            again = dataclasses.replace(options, num_return=len(numbers),
                                        strategy=options.strategy if len(numbers) == 1 else "sample")
            for r, hypothesis in zip(numbers, self.fallback.decode([prompts[index]], again)[0]):
                replaced[r] = (index, [hypothesis])
        self.fallbacks += len(hopeless)
        return replaced

    def _violation(self, ids: Sequence[int], finished: bool, max_length: int, complete: bool = True,
                   forbidden: set[int] | frozenset[int] = frozenset()) -> int | None:
        """The first position whose token the grammar and the length budget do not permit, or that is
        `forbidden` (a number slot the prompt lacks); for a `complete` output, also the position of a
        missing or premature EOS. None where there is none."""
        constraint = self.constraint
        state = constraint.start()
        for position, token_id in enumerate(ids):
            if token_id in forbidden or not constraint.permits(state, token_id, max_length - position):
                return position
            state = constraint.advance(state, token_id)
        if complete and (not finished or not constraint.permits(state, constraint.eos_token_id,
                                                                max_length - len(ids))):
            return len(ids)
        return None

    WINDOW = 16  # tokens decoded freely after a repaired token before the next check

    def _repair(self, sources: list[list[str]], rows: list[tuple[int, list[int]]], finished: list[bool],
                max_length: int, options: DecodeOptions, rng: Any,
                forbidden: Sequence[set[int]]) -> tuple[list[bool], list[int]]:
        """Rewrite `rows` in place until every output is permitted; returns the finished flags and
        the rows given up after MAX_REPAIRS repairs (only where there is a fallback backend). Continuations after a repair run for at most
        WINDOW tokens per round, so an output that keeps breaking the grammar costs a window per
        repair rather than a full decode."""
        import numpy as np

        constraint = self.constraint
        eos = constraint.eos_token_id
        finished = list(finished)
        complete = [True] * len(rows)  # False: cut at the window, to be continued
        repairs = [0] * len(rows)
        hopeless: set[int] = set()
        batch = max(1, options.batch_rows)
        sampling: dict[str, Any] = {}
        if options.strategy == "sample":
            sampling = {"sampling_topk": options.top_k or 0, "sampling_topp": options.top_p,
                        "sampling_temperature": options.temperature}
        for _ in range(4 * max_length + 4):  # each round fixes or extends every active row
            broken: list[tuple[int, int]] = []
            extend: list[tuple[int, list[int]]] = []
            for r, (index, ids) in enumerate(rows):
                if r in hopeless:
                    continue
                position = self._violation(ids, finished[r], max_length, complete[r], forbidden[index])
                if position is not None and self.fallback is not None and repairs[r] >= self.MAX_REPAIRS:
                    hopeless.add(r)
                elif position is not None:
                    broken.append((r, position))
                elif not complete[r]:
                    extend.append((r, ids))
            if not broken and not extend:
                break
            if broken:
                prefixes = [rows[r][1][:position] for r, position in broken]
                probes = self.translator.translate_batch(
                    [sources[rows[r][0]] for r, _ in broken], target_prefix=[self._tokens(p) for p in prefixes],
                    max_decoding_length=max(len(p) for p in prefixes) + 1, beam_size=1, return_logits_vocab=True,
                    max_batch_size=batch)
                for (r, position), prefix, probe in zip(broken, prefixes, probes):
                    logits = np.asarray(probe.logits[0][position], dtype=np.float64)
                    unused = forbidden[rows[r][0]]
                    allowed = [i for i in constraint.permitted_ids(constraint.state_of(prefix), max_length - position)
                               if i < logits.shape[0] and i not in unused] or [eos]
                    choice = self._choose(logits, allowed, options, rng)
                    self.repairs += 1
                    repairs[r] += 1
                    if choice == eos:
                        rows[r] = (rows[r][0], prefix)
                        finished[r], complete[r] = True, True
                    else:
                        extend.append((r, prefix + [choice]))
            if not extend:
                continue
            limit = min(max_length, max(len(p) for _, p in extend) + self.WINDOW)
            outputs = self.translator.translate_batch(
                [sources[rows[r][0]] for r, _ in extend], target_prefix=[self._tokens(p) for _, p in extend],
                max_decoding_length=limit, beam_size=1, max_batch_size=batch, **sampling)
            for (r, prefix), output in zip(extend, outputs):
                ids = self._ids(output.hypotheses[0])
                rows[r] = (rows[r][0], ids)
                finished[r] = len(ids) < limit
                complete[r] = finished[r] or len(ids) >= max_length
        return finished, sorted(hopeless)

    @staticmethod
    def _choose(logits: Any, allowed: Sequence[int], options: DecodeOptions, rng: Any) -> int:
        import numpy as np

        allowed = np.asarray(allowed)
        values = logits[allowed]
        if options.strategy != "sample":
            return int(allowed[int(np.argmax(values))])
        values = values / max(options.temperature, 1e-6)
        order = np.argsort(-values)
        if options.top_k:
            order = order[:options.top_k]
        probs = np.exp(values[order] - values[order].max())
        probs /= probs.sum()
        if options.top_p < 1.0:
            keep = int(np.searchsorted(np.cumsum(probs), options.top_p) + 1)
            order, probs = order[:keep], probs[:keep] / probs[:keep].sum()
        return int(allowed[order[rng.choice(len(order), p=probs)]])
