"""The transformers backend: `model.generate` with a logits processor that masks, at every step
and for every row (batch x beams), each token the grammar does not allow in that row's state, and
records the model's log-probabilities on the way.

States are cached by decoded prefix: a row's state is its parent prefix's state advanced by one
token, so a step costs one `advance` per row, and masks are cached per state. With the mask every
finished output is accepted by the grammar, hence parses. This backend is the reference: the
other backends are checked against it (tests/test_decoding.py)."""
from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any, Hashable, Mapping, Sequence

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from ..tokenizer import encode_prompts, unused_slot_ids
from .base import DecodeOptions, DecodingBackend, Hypothesis, chunks
from .constraint import _MISSING, DONE, GrammarConstraint


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
        self.check(options)
        start = time.perf_counter()
        if options.seed is not None:
            torch.manual_seed(options.seed)
        kwargs = self._generate_kwargs(options)
        results: list[list[Hypothesis]] = []
        per_chunk = max(1, options.batch_rows // max(options.num_return, options.num_beams or 1))
        for chunk in chunks(list(prompts), per_chunk):
            inputs = self._encode(chunk)
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

    @torch.inference_mode()
    def complete(self, prompts: Sequence[str], prefixes: Sequence[Sequence[int]],
                 options: DecodeOptions) -> list[tuple[list[int], bool]]:
        """One constrained continuation of each prefix (code ids the grammar and the length budget
        permit) for the prompt beside it: greedy, or sampled where `options.strategy` samples.
        Returns (code ids, finished) per prefix, unscored: the caller scores them with its own
        model. Another backend hands over here the outputs it could not bring into the grammar
        cheaply (the tail of an output at the length limit, where the budget forces a token at
        nearly every step)."""
        if self.constraint is None:
            raise ValueError("completing a prefix needs the language's grammar")
        one = replace(options, strategy="sample" if options.strategy == "sample" else "greedy", num_return=1,
                      num_beams=None, constrain=True)
        kwargs = self._generate_kwargs(one)
        max_length = kwargs["max_new_tokens"]
        by_length: dict[int, list[int]] = {}
        for number, prefix in enumerate(prefixes):
            by_length.setdefault(len(prefix), []).append(number)
        results: list[tuple[list[int], bool]] = [([], False)] * len(prefixes)
        eos = self.eos_token_id
        for length, numbers in sorted(by_length.items()):
            for chunk in chunks(numbers, max(1, options.batch_rows)):
                texts = [prompts[n] for n in chunk]
                decoder = torch.tensor([[self.start_token_id, *prefixes[n]] for n in chunk], dtype=torch.long,
                                       device=self.device)
                processor = GrammarLogitsProcessor(self.constraint, prefix_length=1, max_new_tokens=max_length,
                                                   forbidden=unused_slot_ids(self.tokenizer, texts))
                sequences = self.model.generate(**self._encode(texts), decoder_input_ids=decoder,
                                                logits_processor=LogitsProcessorList([processor]),
                                                **dict(kwargs, max_new_tokens=max(1, max_length - length)))
                for n, row in zip(chunk, sequences[:, 1:].tolist()):
                    finished = eos in row
                    results[n] = (row[:row.index(eos)] if finished else row, finished)
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

    @torch.inference_mode()
    def score(self, prompt: str, targets: Sequence[Sequence[int]]) -> list[float]:
        """Sum of log-probabilities of each target (code ids + EOS) for `prompt`, teacher-forced:
        how the model rates programs it did not write."""
        if not targets:
            return []
        return self._forward_logprobs(self._encode([prompt]), [list(t) for t in targets], [0] * len(targets))

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
