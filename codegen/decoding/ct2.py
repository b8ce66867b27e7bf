"""The CTranslate2 backend: an int8 CTranslate2 conversion of the checkpoint, several times faster
than `model.generate` on a CPU.

CTranslate2 has no per-step logits hook, so the grammar is enforced after the fact. Every mode
(greedy, beam search, sampling) decodes freely first; each output is then checked against the
grammar (`GrammarConstraint.valid`), and only the outputs that fail are brought into it:

- where the grammar refuses a token (or an EOS, or a number slot the prompt has no number for),
  the model's distribution right after the permitted prefix is read (`return_logits_vocab`), the
  best permitted token taken (a permitted one drawn, when sampling) and the output continued
  freely from there; this repeats until the output is accepted. For greedy decoding this is
  exactly constrained greedy decoding (the free choice is kept wherever it is permitted).
- where the length budget binds (an output running into the length limit, where a token is forced
  at nearly every step and a CTranslate2 repair would cost a pass over the whole prefix per token),
  and for an output still broken after MAX_REPAIRS repairs, the longest permitted prefix goes to
  the `fallback` backend (the Generator passes its HFBackend), which continues it constrained.

A beam that fails is thus replaced by the constrained greedy continuation of its longest permitted
prefix. Every hypothesis carries the model's log-probability of its tokens, EOS included: taken
from the decoding scores (CTranslate2 normalises a score by the output's length, EOS included, so
the sum is score x length), or, for an output repaired or completed, from a teacher-forced pass
(`score_batch`). All are the int8 model's: within about 0.01 per token of the float model's
(HFBackend, which scores search programs); confidence, their mean per token, compares as the hf
backend's does.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from ..cache import cache_dir
from ..tokenizer import encode_prompts, unused_slot_ids
from .base import DecodeOptions, DecodingBackend, Hypothesis

CACHE_NAME = "ctranslate2"


def ctranslate2_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ctranslate2") is not None


def _signature(source: Path, quantization: str | None) -> str:
    """What a conversion depends on: the weight and config files (name, size, mtime), the
    quantization and the CTranslate2 version."""
    import ctranslate2

    files = sorted(source.glob("*.safetensors")) + sorted(source.glob("*.bin")) + [source / "config.json"]
    parts = [f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files if f.exists()]
    return ";".join(parts + [f"quantization:{quantization or 'none'}", f"ctranslate2:{ctranslate2.__version__}"])


def default_conversion_dir(checkpoint_dir: str | os.PathLike, quantization: str | None = None) -> Path:
    """`<checkpoint>/.cache/ctranslate2-<quantization>` (git ignores .cache/), or, where the checkpoint
    directory is read-only, the same under $CODEGEN_CACHE_DIR (default ~/.cache/codegen) keyed by
    the checkpoint's path."""
    source = Path(checkpoint_dir)
    name = f"{CACHE_NAME}-{quantization or 'float32'}"
    if os.access(source, os.W_OK):
        return source / ".cache" / name
    digest = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:16]
    return cache_dir() / CACHE_NAME / f"{digest}-{name}"


def convert_to_ctranslate2(checkpoint_dir: str | os.PathLike, output_dir: str | os.PathLike | None = None, *,
                           quantization: str | None = None, force: bool = False) -> Path:
    """Convert a save_pretrained checkpoint with CTranslate2's Transformers converter, once: the
    result is cached (`default_conversion_dir` unless `output_dir`) with a stamp of what it was
    converted from, and converted again only when that changes. The weights are kept in float32
    unless `quantization`: the backend quantizes them when it loads them (`compute_type`), so one
    conversion serves int8 decoding and a float32 check. Written beside the target and renamed
    into place, so a concurrent process never loads half a model."""
    import ctranslate2

    source = Path(checkpoint_dir)
    output = Path(output_dir) if output_dir is not None else default_conversion_dir(source, quantization)
    signature = _signature(source, quantization)
    stamp = output / "source.stamp"
    if not force and (output / "model.bin").exists() and stamp.exists() and stamp.read_text() == signature:
        return output
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.parent / f".{output.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        converter = ctranslate2.converters.TransformersConverter(str(source))
        converter.convert(str(staging), quantization=quantization, force=True)
        (staging / "source.stamp").write_text(signature)
        shutil.rmtree(output, ignore_errors=True)
        try:
            os.rename(staging, output)
        except OSError:  # another process put its conversion there first
            if not (stamp.exists() and stamp.read_text() == signature):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output


@dataclass
class _Row:
    """One output being decoded: its prompt's number, code ids (no EOS), and what is known of it."""

    index: int
    ids: list[int]
    finished: bool  # ended with EOS
    logprob: float | None  # sum over its tokens, EOS included when finished; None: to be scored
    complete: bool = True  # False: a continuation cut at a window, to be decoded further
    repairs: int = 0
    # the model's logits at each step of a decoding (greedy and sampled rows while constrained) and
    # the ids it wrote: a repair reads its distribution here rather than asking again, and a
    # repaired row's log-probability is summed from them
    logits: list[Any] | None = None
    logits_ids: list[int] | None = None

    def record(self, logits: list[Any], ids: list[int]) -> None:
        self.logits, self.logits_ids = logits, list(ids)

    def knows(self, prefix: Sequence[int], steps: int) -> bool:
        """Whether the recorded logits give the distribution after each of the first `steps` prefixes
        of `prefix` (`len(prefix) + 1` steps: the one after the whole of it too)."""
        return (self.logits is not None and len(self.logits) >= steps
                and self.logits_ids[:steps - 1] == list(prefix[:steps - 1]))

    def summed_logprob(self, eos: int) -> float | None:
        """The log-probability of `ids` (and EOS, when finished) from the recorded logits, or None."""
        import numpy as np

        targets = self.ids + ([eos] if self.finished else [])
        if not targets or not self.knows(targets, len(targets)):
            return None
        values = np.stack([np.asarray(step, dtype=np.float32) for step in self.logits[:len(targets)]]).astype(np.float64)
        peak = values.max(axis=1, keepdims=True)
        totals = np.log(np.exp(values - peak).sum(axis=1)) + peak[:, 0]
        return float((values[np.arange(len(targets)), targets] - totals).sum())

    def to_hypothesis(self) -> Hypothesis:
        if self.logprob is None:
            raise RuntimeError("an output left unscored")  # never a made-up score
        n_tokens = len(self.ids) + (1 if self.finished else 0)
        return Hypothesis(token_ids=self.ids, logprob=float(self.logprob), n_tokens=n_tokens,
                          finished=self.finished, generated=n_tokens)


class CTranslate2Backend(DecodingBackend):
    """Decoding with a CTranslate2 model converted from the checkpoint (int8 by default); see the
    module's docstring for how the grammar is enforced."""

    name = "ctranslate2"
    supports_constraints = True

    MAX_REPAIRS = 8  # per output; beyond, the fallback backend completes it
    WINDOW = 32  # tokens decoded freely after a repaired token before the next check (doubling per round)

    def __init__(self, checkpoint_dir: str | os.PathLike, tokenizer: Any, constraint: Any = None, *,
                 compute_type: str = "int8", device: str = "cpu", threads: int = 1, max_source_length: int = 256,
                 max_target_length: int = 256, fallback: Any = None):
        super().__init__()
        import ctranslate2

        self.model_dir = convert_to_ctranslate2(checkpoint_dir)
        self.compute_type = compute_type
        self.translator = ctranslate2.Translator(str(self.model_dir), device=device, compute_type=compute_type,
                                                 intra_threads=max(1, threads))
        self.tokenizer = tokenizer
        self.constraint = constraint
        self.fallback = fallback  # an HFBackend (its `complete`), or None
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        # over the backend's life: outputs checked, outputs the grammar refused, tokens chosen by
        # repair (the model asked), tokens forced (one permitted), outputs completed by the fallback
        self.checked = self.rejected = self.repairs = self.forced = self.fallbacks = 0
        self.resampled = 0  # repaired beams that copied another beam, replaced by a constrained sample

    def _tokens(self, ids: Sequence[int]) -> list[str]:
        return self.tokenizer.convert_ids_to_tokens(list(ids))

    def _ids(self, tokens: Sequence[str]) -> list[int]:
        return [int(i) for i in self.tokenizer.convert_tokens_to_ids(list(tokens))]

    @staticmethod
    def _width(options: DecodeOptions) -> int:
        if options.strategy == "beam":
            return max(options.num_beams or options.num_return, options.num_return)
        return options.num_return

    def decode(self, prompts: Sequence[str], options: DecodeOptions) -> list[list[Hypothesis]]:
        self.check(options)
        start = time.perf_counter()
        sources = [self._tokens(ids) for ids in encode_prompts(self.tokenizer, prompts, max_length=self.max_source_length,
                                                                truncation=True)["input_ids"]]
        max_length = min(options.max_new_tokens, self.max_target_length)
        rows = self._free(sources, options, max_length, logits=options.constrain)
        if options.constrain:
            repaired = self._constrain(prompts, sources, rows, options, max_length)
            if options.strategy == "beam" and repaired:
                self._diversify(prompts, sources, rows, repaired, options, max_length)
        results: list[list[Hypothesis]] = [[] for _ in prompts]
        for row in rows:
            results[row.index].append(row.to_hypothesis())
        if options.strategy == "beam":  # best first, as beam search ranks (score normalised by length)
            for group in results:
                group.sort(key=lambda h: h.confidence, reverse=True)
        self._account(time.perf_counter() - start, results)
        return results

    def _free(self, sources: list[list[str]], options: DecodeOptions, max_length: int,
              logits: bool = False) -> list[_Row]:
        """Decode without the grammar: `num_return` outputs per source, with their log-probabilities
        (and, with `logits`, the logits of every step, where CTranslate2 gives them: not for beams)."""
        import ctranslate2

        width = self._width(options)
        kwargs: dict[str, Any] = {"max_decoding_length": max_length, "num_hypotheses": options.num_return,
                                  "max_batch_size": max(1, options.batch_rows // width), "return_scores": True,
                                  "min_decoding_length": 0}  # EOS is not masked at the first step: raw scores
        if options.strategy == "beam":
            kwargs.update(beam_size=width)
        else:
            kwargs.update(beam_size=1, return_logits_vocab=logits)  # sampling: num_hypotheses independent draws
            if options.strategy == "sample":
                kwargs.update(self._sampling(options))
        if options.seed is not None:
            ctranslate2.set_random_seed(options.seed)
        rows = []
        for index, output in enumerate(self.translator.translate_batch(sources, **kwargs)):
            steps = output.logits if kwargs.get("return_logits_vocab") else [None] * len(output.hypotheses)
            for tokens, score, row_logits in zip(output.hypotheses, output.scores, steps):
                ids = self._ids(tokens)
                finished = len(ids) < max_length
                row = _Row(index, ids, finished, logprob=score * (len(ids) + (1 if finished else 0)))
                if row_logits is not None:
                    row.record(row_logits, ids)
                rows.append(row)
        return rows

    @staticmethod
    def _sampling(options: DecodeOptions) -> dict[str, Any]:
        return {"sampling_topk": options.top_k or 0, "sampling_topp": options.top_p,
                "sampling_temperature": options.temperature}

    def _constrain(self, prompts: Sequence[str], sources: list[list[str]], rows: list[_Row], options: DecodeOptions,
                   max_length: int) -> list[_Row]:
        """Bring every row the grammar refuses into it, in place (see the module's docstring); returns
        those rows."""
        constraint = self.constraint
        forbidden = [frozenset(ids) for ids in unused_slot_ids(self.tokenizer, prompts) or [()] * len(prompts)]
        bad = [row for row in rows if not constraint.valid(row.ids, row.finished, forbidden[row.index])]
        self.checked += len(rows)
        self.rejected += len(bad)
        if not bad:
            return bad
        tails = self._repair(sources, bad, options, max_length, forbidden)
        if tails:
            completed = self.fallback.complete([prompts[row.index] for row, _ in tails], [p for _, p in tails],
                                               options)
            for (row, _), (ids, finished) in zip(tails, completed):
                row.ids, row.finished, row.logprob = ids, finished, None
            self.fallbacks += len(tails)
        for row in bad:
            if row.logprob is None:
                row.logprob = row.summed_logprob(self.constraint.eos_token_id)
        rescore = [row for row in bad if row.logprob is None]
        if rescore:
            scores = self.translator.score_batch([sources[row.index] for row in rescore],
                                                 [self._tokens(row.ids) for row in rescore],
                                                 max_batch_size=max(1, options.batch_rows))
            for row, score in zip(rescore, scores):
                logprobs = list(score.log_probs)  # the target tokens, then the end token
                row.logprob = float(sum(logprobs if row.finished else logprobs[:-1]))
        return bad

    def _diversify(self, prompts: Sequence[str], sources: list[list[str]], rows: list[_Row], repaired: list[_Row],
                   options: DecodeOptions, max_length: int) -> None:
        """Replace, once, each repaired beam that became a copy of another output of its prompt by a
        constrained sample of that prompt: beam search under the mask returns distinct beams, and a
        copy would only cost a candidate."""
        fixed = {id(row) for row in repaired}
        seen: dict[int, set[tuple[int, ...]]] = {}
        copies: dict[int, list[_Row]] = {}
        for row in sorted(rows, key=lambda r: id(r) in fixed):  # the beams kept as decoded first
            key = (*row.ids, -1 if row.finished else -2)
            if key in seen.setdefault(row.index, set()):
                copies.setdefault(row.index, []).append(row)
            seen[row.index].add(key)
        by_count: dict[int, list[int]] = {}
        for index, group in copies.items():
            by_count.setdefault(len(group), []).append(index)
        for count, indices in by_count.items():
            again = replace(options, strategy="sample", num_return=count, num_beams=None)
            fresh = self._free([sources[i] for i in indices], again, max_length, logits=True)
            for row in fresh:
                row.index = indices[row.index]
            self._constrain(prompts, sources, fresh, again, max_length)
            for index in indices:
                for old, new in zip(copies[index], [row for row in fresh if row.index == index]):
                    old.ids, old.finished, old.logprob = new.ids, new.finished, new.logprob
                    self.resampled += 1

    def _permitted(self, prefix: Sequence[int], max_length: int, unused: frozenset[int]) -> list[int]:
        """The ids constrained decoding allows after `prefix` (grammar, length budget, number slots)."""
        constraint = self.constraint
        state = constraint.state_of(prefix)
        return [i for i in constraint.permitted_ids(state, max_length - len(prefix)) if i not in unused] \
            or [constraint.eos_token_id]

    def _force(self, prefix: list[int], max_length: int, unused: frozenset[int]) -> tuple[list[int], bool]:
        """`prefix` extended by every token the constraint leaves no choice about (one permitted id:
        constrained decoding would take it whatever the model says), and whether that ends it (EOS).
        Near the length limit the budget often forces the whole tail (close the loops, then EOS)."""
        prefix = list(prefix)
        while len(prefix) < max_length:
            permitted = self._permitted(prefix, max_length, unused)
            if len(permitted) != 1:
                break
            self.forced += 1
            if permitted[0] == self.constraint.eos_token_id:
                return prefix, True
            prefix.append(permitted[0])
        return prefix, False

    def _budget_binds(self, row: _Row, position: int, forbidden: frozenset[int]) -> bool:
        """Whether the violation at `position` is the length budget's (the grammar allows the token,
        or the output ran into the length limit) rather than the grammar's."""
        if position == len(row.ids):
            return not row.finished
        token = row.ids[position]
        return token not in forbidden and self.constraint.grammatical(row.ids[:position], token)

    def _repair(self, sources: list[list[str]], rows: list[_Row], options: DecodeOptions, max_length: int,
                forbidden: Sequence[frozenset[int]]) -> list[tuple[_Row, list[int]]]:
        """Repair `rows` in place until each is permitted; returns the rows (with their longest
        permitted prefix) left to the fallback backend. A continuation after a repair runs for at
        most WINDOW tokens in the first round, twice as many in the next, and so on (CTranslate2
        passes over a prefix again in each call), so an output that keeps breaking the grammar costs
        a window per repair rather than a full decode, and one that does not is done in a round or two."""
        import numpy as np

        constraint = self.constraint
        eos = constraint.eos_token_id
        rng = np.random.default_rng(options.seed)
        batch = max(1, options.batch_rows)
        sampling = self._sampling(options) if options.strategy == "sample" else {}
        tails: list[tuple[_Row, list[int]]] = []
        active = list(rows)
        for round_ in range(4 * max_length + 4):  # each round fixes or extends every active row
            broken: list[tuple[_Row, list[int]]] = []  # (row, permitted prefix the model continues)
            extend: list[tuple[_Row, list[int]]] = []
            for row in active:
                unused = forbidden[row.index]
                position = constraint.violation(row.ids, row.finished, max_length, row.complete, unused)
                if position is None:
                    if not row.complete:
                        extend.append((row, row.ids))
                    continue
                budget = self._budget_binds(row, position, unused)
                prefix, done = self._force(row.ids[:position], max_length, unused)
                row.logprob = None
                if done:
                    row.ids, row.finished, row.complete = prefix, True, True
                elif self.fallback is not None and (budget or row.repairs >= self.MAX_REPAIRS):
                    tails.append((row, prefix))
                else:
                    broken.append((row, prefix))
            if not broken and not extend:
                break
            active = [row for row, _ in broken] + [row for row, _ in extend]
            if broken:
                # the distribution after each prefix: from the decoding that wrote the row where the
                # prefix is its own, else asked for (one step past the prefix)
                asking = [(row, prefix) for row, prefix in broken if not row.knows(prefix, len(prefix) + 1)]
                if asking:
                    probes = self.translator.translate_batch(
                        [sources[row.index] for row, _ in asking], target_prefix=[self._tokens(p) for _, p in asking],
                        max_decoding_length=max(len(p) for _, p in asking) + 1, beam_size=1,
                        return_logits_vocab=True, max_batch_size=batch, min_decoding_length=0)
                    for (row, prefix), probe in zip(asking, probes):
                        row.record(probe.logits[0], prefix)
                for row, prefix in broken:
                    position = len(prefix)
                    logits = np.asarray(row.logits[position], dtype=np.float64)
                    allowed = [i for i in self._permitted(prefix, max_length, forbidden[row.index])
                               if i < logits.shape[0]] or [eos]
                    choice = self._choose(logits, allowed, options, rng)
                    self.repairs += 1
                    row.repairs += 1
                    if choice == eos:
                        row.ids, row.finished, row.complete = prefix, True, True
                    else:
                        extend.append((row, prefix + [choice]))
            if not extend:
                continue
            limit = min(max_length, max(len(p) for _, p in extend) + (self.WINDOW << min(round_, 8)))
            outputs = self.translator.translate_batch(
                [sources[row.index] for row, _ in extend], target_prefix=[self._tokens(p) for _, p in extend],
                max_decoding_length=limit, beam_size=1, max_batch_size=batch, return_logits_vocab=True,
                min_decoding_length=0, **sampling)
            for (row, _), output in zip(extend, outputs):
                row.ids = self._ids(output.hypotheses[0])
                row.record(output.logits[0], row.ids)
                row.finished = len(row.ids) < limit
                row.complete = row.finished or len(row.ids) >= max_length
        return tails

    @staticmethod
    def _choose(logits: Any, allowed: Sequence[int], options: DecodeOptions, rng: Any) -> int:
        """The best of the `allowed` ids by `logits`, or one drawn (temperature, top-k, top-p) when sampling."""
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
