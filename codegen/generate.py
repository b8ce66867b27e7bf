"""Generate programs from descriptions: decode, execute every candidate, select one. This is
the library (Request, GenerationResult, Generator, candidate merging, selection glue); its command
line `python -m codegen.generate` and the REPL live in `codegen.cli.generate` and `codegen.cli.repl`.

API:

    from codegen.generate import Generator
    generator = Generator("checkpoints/loda-t5-tiny")
    result = generator.generate("Fibonacci numbers", terms=[0, 1, 1, 2, 3], num_samples=8)
    print(result.chosen.code, result.chosen.outputs)

Every request goes through the same steps: the model decodes (greedy, beam or sampling;
grammar-constrained unless `constrain=False`), samples are merged by canonical form, every
distinct candidate is executed in worker processes with a hard timeout, and `selection`
picks one (matching the given terms / expected result where any does). Where none of a
request's candidates runs, `retry_samples` more are sampled for it and chosen from. With
`repair` N and at least `repair.MIN_TERMS` given terms that no candidate reproduces, up to N
one-constant variants of the best candidates are run too (`codegen.repair`). Where terms are
given and the language has a search (`Language.search_programs`: for LODA, the corpus, formulas
and mutations of the model's candidates), its verified programs join the candidates too, scored
by the model teacher-forced. Every candidate records its `source` ("model", "repair",
"search:<family>"), so figures can be given per source.

At most MAX_NUM_SAMPLES (512) candidates per request: K sequences are decoded at once.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from .execution import DEFAULT_TIMEOUT, ExecutionPool, ExecutionTask, SearchOutcome, SearchTask
from .language import DEFAULT_LANGUAGE, CodeError, Language, SearchHit, get_language
from .metrics import terms_match
from .model import META_FILE  # codegen.model imports torch/transformers lazily
from .number_slots import prompt_numbers
from .prompts import make_prompt
from .repair import describe_repair, repair_parents, repair_variants, should_repair
from .selection import (AGREEMENT_WEIGHT, Candidate, candidate_source, mark_matches, select,
                        strategy_agreement_weight)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CHECKPOINT = "checkpoints/loda-t5-tiny"
DEFAULT_TERMS = 10  # terms computed for display where none are given
# samples drawn for a request none of whose candidates ran (Generator.generate_many)
DEFAULT_RETRY_SAMPLES = 16
# seconds of term search per request (where terms are given and the language has a search)
DEFAULT_SEARCH_SECONDS = 2.0
# model candidates handed to the search as seeds to mutate, best first
SEARCH_SEEDS = 4
# fewer given terms than this: a match is reported as a weak check
MIN_CONVINCING_TERMS = 6
# most candidates per request (-k, :samples): decoding holds K sequences at once (beams: K beams of
# every step), so memory and time grow with K; -k 20000 took 85 s and 4 GB on the WAT model
MAX_NUM_SAMPLES = 512


def default_checkpoint(lang: str = DEFAULT_LANGUAGE) -> str:
    return f"checkpoints/{lang}-t5-tiny"


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """`path` as given, else relative to the repository (so the shipped default works from anywhere).

    Raises FileNotFoundError naming the path when neither is a directory, or when the directory is
    not a checkpoint (no config.json, or no codegen.json in it or in its parent run directory, where
    `load_checkpoint` looks for it). Only the file system is read, so the CLIs report a wrong
    --checkpoint at once instead of after the seconds it takes to import torch and transformers."""
    candidate = Path(path).expanduser()
    if not candidate.is_dir() and not candidate.is_absolute() and (REPO / candidate).is_dir():
        candidate = REPO / candidate
    if not candidate.is_dir():
        raise FileNotFoundError(
            f"no checkpoint at {path}. Train one with\n"
            f"  python -m codegen.train --config configs/loda-tiny.yaml --corpus PATH --output-dir {path}\n"
            f"or pass --checkpoint DIR (a directory written by codegen.train).")
    if not (candidate / "config.json").is_file():
        raise FileNotFoundError(
            f"{candidate} is not a model checkpoint (no config.json): pass --checkpoint DIR, "
            f"a directory written by codegen.train or one of its checkpoint-N/ folders.")
    if not any((folder / META_FILE).is_file() for folder in (candidate, candidate.parent)):
        raise FileNotFoundError(
            f"{candidate} has no {META_FILE} (in it or its parent): not a codegen checkpoint; "
            f"pass --checkpoint DIR, a directory written by codegen.train.")
    return candidate


def checkpoint_language(checkpoint: Path) -> str | None:
    """The language a resolved checkpoint was trained for, from its codegen.json alone (None where
    it does not say), so a --lang that does not fit is refused before the model loads."""
    for folder in (checkpoint, checkpoint.parent):
        if (folder / META_FILE).is_file():
            try:
                language = json.loads((folder / META_FILE).read_text()).get("language")
            except (OSError, ValueError, AttributeError):
                return None
            return language if isinstance(language, str) else None
    return None


@dataclass
class Request:
    """What to generate for. `terms` go into the prompt (where the model was trained with terms)
    and into selection; `expected` (problems) into selection only. `run_terms` values are
    computed per candidate (at least as many as `terms`); `offset` None means each program's own.
    `given_terms_first`: run every candidate on the given terms first and only those reproducing
    them to `run_terms` (evaluation, which checks every listed term: a candidate missing a given
    term can be no match); where False, every candidate shows all `run_terms` values."""

    description: str
    terms: list[int] | None = None
    expected: int | None = None
    offset: int | None = None
    run_terms: int | None = None
    forbidden: tuple[str, ...] = ()
    id: str | None = None
    given_terms_first: bool = False


@dataclass
class GenerationResult:
    request: Request
    prompt: str
    language: str
    strategy: str
    constrained: bool
    num_samples: int
    candidates: list[Candidate]  # distinct programs (and undecodable outputs), best first
    chosen: Candidate | None
    timings: dict[str, float] = field(default_factory=dict)
    # samples drawn after none of the `num_samples` candidates ran (their candidates are marked
    # extra["retry"]); 0 where the first candidates sufficed or retries were off
    retry_samples: int = 0
    # one-constant variants run by `repair` (the matching ones are among the candidates, marked
    # extra["repair"]); 0 where repair was off or not needed
    repair_programs: int = 0
    # programs the language's term search found (None: no search ran for this request)
    search_hits: int | None = None

    @property
    def ok(self) -> bool:
        return self.chosen is not None

    def to_dict(self, all_candidates: bool = True) -> dict[str, Any]:
        return {
            "description": self.request.description,
            "terms": self.request.terms,
            "expected": self.request.expected,
            "prompt": self.prompt,
            "language": self.language,
            "strategy": self.strategy,
            "constrained": self.constrained,
            "num_samples": self.num_samples,
            "retry_samples": self.retry_samples,
            "repair_programs": self.repair_programs,
            "search_hits": self.search_hits,
            "chosen": self.chosen.to_dict() if self.chosen else None,
            "chosen_source": candidate_source(self.chosen) if self.chosen else None,
            "candidates": [c.to_dict() for c in self.candidates] if all_candidates else None,
            "timings": self.timings,
        }


def recommended_beams(model: Any) -> int:
    """The checkpoint's recommended beam count (generation_config.json, as `model.generate` reads
    it); 1 where it recommends none."""
    return max(1, int(getattr(model.generation_config, "num_beams", 1) or 1))


def default_decoding(num_samples: int | None, strategy: str | None, beams: int = 1,
                     num_beams: int | None = None) -> tuple[str, int]:
    """(strategy, candidates) where a caller leaves either open; `beams` is the checkpoint's
    recommendation (`recommended_beams`: > 1 where, for that model, its top modes did better
    than as many samples). Neither given: that many beams, the best runnable one chosen (a
    model without a recommendation: greedy). `num_samples` alone: greedy for 1; for more, beams
    where recommended, else samples. A strategy alone: `num_beams` (or the recommendation)
    beams, else one candidate. `python -m codegen.generate` and `codegen.evaluate` both decide
    here, so an evaluation scores what a user gets with the same options."""
    if num_samples is None:
        if strategy is None and beams > 1:
            strategy = "beam"
        num_samples = (num_beams or beams) if strategy == "beam" else 1
    if strategy is None:
        strategy = "greedy" if num_samples == 1 else "beam" if beams > 1 else "sample"
    return strategy, num_samples


def attach_corpus(language: Language, corpus: Any) -> None:
    """Let `language` resolve calls into a corpus (LODA `seq`; `Language.set_corpus`), where one is given."""
    if corpus is not None:
        language.set_corpus(corpus)


class Generator:
    """A loaded checkpoint, a decoding backend and an execution pool.

    backend: "auto" (default: "ctranslate2" wherever the checkpoint converts, else "hf" with one
    line on stderr saying why), "hf" (transformers generate, the reference) or "ctranslate2" (an int8
    CTranslate2 conversion, cached; every mode, constrained by checking each output and repairing
    those the grammar refuses; see codegen.decoding). `corpus`: a LODA corpus (path or loaded)
    that `seq` calls resolve through."""

    def __init__(self, checkpoint: str | os.PathLike | Any = DEFAULT_CHECKPOINT, *, backend: str = "auto",
                 device: str | None = None, corpus: Any = None, workers: int | None = None,
                 timeout: float = DEFAULT_TIMEOUT, limits: dict[str, Any] | None = None,
                 pool: ExecutionPool | None = None, terms_in_prompt: int | None = None,
                 prepare_search: bool = False, retrieval_corpus: str | os.PathLike | None = None):
        from .decoding import GrammarConstraint, make_backend
        from .tokenizer import structural_token_ids

        if isinstance(checkpoint, (str, os.PathLike)):
            from .model import load_checkpoint

            self.checkpoint_dir: Path | None = resolve_checkpoint(checkpoint)
            self.checkpoint = load_checkpoint(self.checkpoint_dir)
        else:
            self.checkpoint = checkpoint
            path = getattr(checkpoint, "path", None)
            self.checkpoint_dir = Path(path) if path else None
        language = self.checkpoint.language
        self.language: Language = get_language(language) if isinstance(language, str) else language
        self.tokenizer = self.checkpoint.tokenizer
        self.meta: dict[str, Any] = dict(self.checkpoint.meta or {})
        # how many terms the model saw in its prompts in training (0: none)
        self.terms_in_prompt = int(self.meta.get("terms_in_prompt") or 0) if terms_in_prompt is None \
            else int(terms_in_prompt)
        self.max_target_length = int(self.meta.get("max_target_length", 256))
        self.max_source_length = int(self.meta.get("max_source_length", 256))
        attach_corpus(self.language, corpus)
        # a checkpoint trained with retrieval gets the nearest training programs in every prompt,
        # from the train split of its corpus (`retrieval_corpus`, else `corpus` where it is a path,
        # else the language's default corpus)
        self.context = None
        if self.meta.get("retrieval"):
            from .retrieval import RequestContext

            path = retrieval_corpus if retrieval_corpus is not None else \
                (corpus if isinstance(corpus, (str, os.PathLike)) else None)
            self.context = RequestContext.for_checkpoint(self.meta, self.language.name, path)
        if prepare_search and self.language.has_search:
            self.language.prepare_search()  # before the workers fork, so they share it
        model = self.checkpoint.model
        self.default_beams = recommended_beams(model)
        eos = model.generation_config.eos_token_id
        eos = self.tokenizer.eos_token_id if eos is None else (eos[0] if isinstance(eos, (list, tuple)) else eos)
        self.constraint = GrammarConstraint(self.language.grammar(), structural_token_ids(self.tokenizer, self.language),
                                            eos_token_id=int(eos), pad_token_id=self.tokenizer.pad_token_id)
        self.limits = limits
        # start the workers before the model runs: forking a process with busy torch threads is wasteful
        self._own_pool = pool is None
        self.pool = (pool or ExecutionPool(self.language, workers=workers, timeout=timeout)).start()
        self.backend, hf = make_backend(backend, model=model, tokenizer=self.tokenizer, constraint=self.constraint,
                                        checkpoint_dir=self.checkpoint_dir, max_source_length=self.max_source_length,
                                        max_target_length=self.max_target_length, device=device)
        # the reference model also scores programs it did not write (search hits), teacher-forced
        self.scorer = hf

    def close(self) -> None:
        if self._own_pool:
            self.pool.close()

    def __enter__(self) -> "Generator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- steps
    def prompt(self, request: Request) -> str:
        """The model input: the description, plus the first terms where the model was trained with
        terms (as many as in training; selection still checks every given term)."""
        terms = request.terms[:self.terms_in_prompt] if self.terms_in_prompt and request.terms else None
        prompt = make_prompt(self.language.name, request.description, terms)
        if self.context is not None:
            prompt, _ = self.context.prompt(prompt, request.description)
        return prompt

    def candidates(self, hypotheses: Sequence[Any], prompt: str) -> list[Candidate]:
        """Decode the hypotheses for `prompt` (whose numbers fill their slots) to code and merge them
        by canonical form (undecodable ones by text)."""
        from .tokenizer import decode_code

        merged: dict[tuple[str, str], Candidate] = {}
        for hypothesis in hypotheses:
            error = kind = None
            canonical = None
            try:
                code = decode_code(self.tokenizer, self.language, hypothesis.token_ids, prompt)
            except CodeError as exc:
                try:
                    code = self.tokenizer.decode(hypothesis.token_ids, skip_special_tokens=False)
                except Exception:  # ids beyond the tokenizer (padded embedding rows)
                    code = " ".join(map(str, hypothesis.token_ids))
                error, kind = str(exc), exc.kind
            if error is None:
                try:
                    canonical = self.language.canonicalize(code)
                    self.language.validate(canonical)
                except CodeError as exc:
                    error, kind = str(exc), exc.kind
            if error is None and not hypothesis.finished:
                error, kind = "output cut off at the length limit", "truncated"
            key = ("ok", canonical) if error is None else ("error", code)
            candidate = merged.get(key)
            if candidate is None:
                merged[key] = Candidate(
                    code=canonical if canonical is not None else code, canonical=canonical,
                    n_tokens=hypothesis.n_tokens, logprob=hypothesis.logprob, confidence=hypothesis.confidence,
                    finished=hypothesis.finished, valid=error is None, error=error, error_kind=kind)
            else:
                candidate.count += 1
                if hypothesis.confidence > candidate.confidence:
                    candidate.logprob, candidate.confidence = hypothesis.logprob, hypothesis.confidence
                    candidate.n_tokens = hypothesis.n_tokens
        return list(merged.values())

    def generate(self, description: str, *, terms: Sequence[int] | None = None, expected: int | None = None,
                 **options: Any) -> GenerationResult:
        request = Request(description=description, terms=list(terms) if terms else None, expected=expected,
                          offset=options.pop("offset", None), run_terms=options.pop("run_terms", None),
                          forbidden=tuple(options.pop("forbidden", ())))
        return self.generate_many([request], **options)[0]

    def generate_many(self, requests: Sequence[Request], *, num_samples: int | None = None,
                      strategy: str | None = None,
                      constrain: bool = True, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                      num_beams: int | None = None, seed: int | None = None, batch_rows: int = 256,
                      agreement_weight: float | None = None, progress: Callable[[int], None] | None = None,
                      retry_samples: int = DEFAULT_RETRY_SAMPLES, repair: int = 0, search: bool = True,
                      search_seconds: float = DEFAULT_SEARCH_SECONDS) -> list[GenerationResult]:
        """One `GenerationResult` per request; decoding is batched across requests and all their
        candidates run in the pool together. With neither `num_samples` nor `strategy`, the
        checkpoint's recommended decoding: beam search where its generation_config has num_beams
        > 1, else greedy; with `num_samples` > 1 and no `strategy`, beams where it recommends them,
        else sampling (`default_decoding`). `agreement_weight` (default: AGREEMENT_WEIGHT for
        sampling, 0 for beam search) weighs the self-consistency vote in the choice.

        Where none of a request's candidates parses and runs, `retry_samples` more are sampled
        (at `temperature`, `top_k`, `top_p`) for that request alone, run, and chosen from by
        agreement and score: a user gets a program that ran whenever the model can write one.
        They are marked extra["retry"] and counted in `retry_samples`, not in `num_samples`,
        so figures over the first candidates (pass@k) stay what they were. 0 turns retries off.

        `repair` N > 0: where a request gives at least `repair.MIN_TERMS` terms and none of its
        candidates reproduces them, up to N variants of its best candidates, one constant changed,
        are run; those reproducing every given term join the candidates (extra["repair"]).

        `search` (on by default): where a request gives terms and the language has a term search,
        its programs (each reproducing every given term) join the candidates, marked
        extra["source"] = "search:<kind>" with their search rank, and scored by the model
        teacher-forced (their confidence and length); selection ranks the model's matches first
        and the search's in the search's order (`codegen.selection`). A search program the model
        also wrote stays the model's, marked extra["search"]. Fits the given terms cannot check
        are extra["weak"] and rank after every other match."""
        from .decoding import DecodeOptions

        strategy, num_samples = default_decoding(num_samples, strategy, self.default_beams, num_beams)
        if agreement_weight is None:
            agreement_weight = strategy_agreement_weight(strategy)
        options = DecodeOptions(strategy=strategy, num_return=num_samples, num_beams=num_beams,
                                max_new_tokens=self.max_target_length, temperature=temperature, top_k=top_k,
                                top_p=top_p, constrain=constrain, seed=seed, batch_rows=batch_rows)
        prompts = [self.prompt(request) for request in requests]
        start = time.perf_counter()
        decoded = self.backend.decode(prompts, options)
        generation_seconds = time.perf_counter() - start
        start = time.perf_counter()
        per_request = [self.candidates(hypotheses, prompt) for hypotheses, prompt in zip(decoded, prompts)]
        decode_seconds = time.perf_counter() - start
        execution_seconds = run_candidates(self.pool, requests, per_request, limits=self.limits, progress=progress)
        retried = [i for i, candidates in enumerate(per_request)
                   if not any(c.usable for c in candidates)] if retry_samples > 0 else []
        if retried:
            start = time.perf_counter()
            retry_options = replace(options, strategy="sample", num_return=retry_samples, num_beams=None)
            decoded = self.backend.decode([prompts[i] for i in retried], retry_options)
            generation_seconds += time.perf_counter() - start
            fresh = []
            for i, hypotheses in zip(retried, decoded):
                # a program already tried failed and would fail again: only new ones run
                tried = {c.canonical for c in per_request[i] if c.canonical is not None}
                new = [c for c in self.candidates(hypotheses, prompts[i])
                       if c.canonical is None or c.canonical not in tried]
                for candidate in new:
                    candidate.extra["retry"] = True
                fresh.append(new)
            execution_seconds += run_candidates(self.pool, [requests[i] for i in retried], fresh, limits=self.limits)
            for i, new in zip(retried, fresh):
                per_request[i] = per_request[i] + new
        repair_counts: dict[int, int] = {}
        if repair > 0:
            execution_seconds += self._repair(requests, per_request, repair, repair_counts)
        search_counts: dict[int, int] = {}
        search_seconds_spent = 0.0
        if search and self.language.has_search:
            search_seconds_spent, executed = self._search(requests, prompts, per_request, search_seconds, search_counts)
            execution_seconds += executed
        retried_set = set(retried)
        results = []
        share = 1.0 / max(1, len(requests))
        for number, (request, prompt, candidates) in enumerate(zip(requests, prompts, per_request)):
            start = time.perf_counter()
            # only retry samples (independent draws) can be usable here: they vote
            weight = AGREEMENT_WEIGHT if number in retried_set else agreement_weight
            chosen = choose(request, candidates, agreement_weight=weight)
            results.append(GenerationResult(
                request=request, prompt=prompt, language=self.language.name, strategy=strategy,
                constrained=constrain, num_samples=num_samples, candidates=candidates, chosen=chosen,
                retry_samples=retry_samples if number in retried_set else 0,
                repair_programs=repair_counts.get(number, 0), search_hits=search_counts.get(number),
                timings={"generation": generation_seconds * share, "decode": decode_seconds * share,
                         "execution": execution_seconds * share, "search": search_seconds_spent * share,
                         "selection": time.perf_counter() - start}))
        return results

    def _repair(self, requests: Sequence[Request], per_request: list[list[Candidate]], budget: int,
                counts: dict[int, int]) -> float:
        """Run one-constant variants for the requests that need them (see `generate_many`), add
        the matching ones to their candidates and count the variants run in `counts`.
        Returns the seconds spent executing."""
        needing, variants = [], []
        for i, (request, candidates) in enumerate(zip(requests, per_request)):
            if not should_repair(request.terms, candidates):
                continue
            tried = {c.canonical for c in candidates if c.canonical is not None}
            found = repair_variants(self.language, repair_parents(candidates), budget=budget,
                                    hints=prompt_numbers(request.description), tried=tried)
            if found:
                needing.append(i)
                variants.append(found)
                counts[i] = len(found)
        if not needing:
            return 0.0
        seconds = run_candidates(self.pool, [requests[i] for i in needing], variants, limits=self.limits)
        for i, found in zip(needing, variants):
            mark_matches(found, requests[i].terms)
            per_request[i] = per_request[i] + [c for c in found if c.match]
        return seconds

    def _search(self, requests: Sequence[Request], prompts: Sequence[str], per_request: list[list[Candidate]],
                seconds: float, counts: dict[int, int]) -> tuple[float, float]:
        """Add the language's term-search programs to the candidates of every request with terms
        (see `generate_many`), count them in `counts`; returns the seconds spent searching (and
        scoring the hits with the model) and executing the hits for their outputs. The
        searches run in the pool's workers, side by side (on what `prepare_search` loaded before
        they forked, else each loads it on its first search); a search that fails costs its
        request the search, with a warning."""
        searched = [i for i, request in enumerate(requests) if request.terms]
        tasks = []
        for i in searched:
            models = [c for c in repair_parents(per_request[i]) if not c.extra.get("repair")][:SEARCH_SEEDS]
            seeds = tuple((f"model candidate {n}", c.canonical) for n, c in enumerate(models, 1))
            request = requests[i]
            tasks.append(SearchTask(terms=tuple(request.terms), offset=request.offset or 0,
                                    forbidden=tuple(request.forbidden), seeds=seeds, time_limit=seconds,
                                    description=request.description or None))
        if not tasks:
            return 0.0, 0.0
        start = time.perf_counter()
        outcomes = self.pool.run(tasks)
        with_hits, found = [], []
        for i, outcome in zip(searched, outcomes):
            if not (isinstance(outcome, SearchOutcome) and outcome.ok):
                print(f"warning: the term search failed for {requests[i].id or requests[i].description!r}: "
                      f"{outcome.error}", file=sys.stderr)
                counts[i] = 0
                continue
            counts[i] = len(outcome.hits)
            fresh = merge_search_hits(per_request[i], outcome.hits)
            if fresh:
                for candidate, (logprob, n_tokens) in zip(fresh, self.score_programs(prompts[i], [c.code for c in fresh])):
                    candidate.logprob, candidate.n_tokens = logprob, n_tokens
                    candidate.confidence = logprob / max(1, n_tokens)
                with_hits.append(i)
                found.append(fresh)
        searching = time.perf_counter() - start
        executing = 0.0
        if with_hits:
            executing = run_candidates(self.pool, [requests[i] for i in with_hits], found, limits=self.limits)
            for i, fresh in zip(with_hits, found):
                per_request[i] = per_request[i] + fresh
        return searching, executing

    def score_programs(self, prompt: str, codes: Sequence[str]) -> list[tuple[float, int]]:
        """(sum of token log-probabilities, tokens) of each program under the model for `prompt`,
        EOS included, as the decoder would have written it (its numbers in slots where the
        prompt has them); (-inf, 0) for a program the tokenizer cannot write."""
        from .tokenizer import encode_code

        targets, rows = [], []
        for number, code in enumerate(codes):
            try:
                ids = encode_code(self.tokenizer, self.language, code, prompt)
            except (CodeError, KeyError):
                continue
            # longer than the model writes (max_target_length) is still scored: the relative
            # position biases take any length, and a long search program deserves a rank too
            targets.append(ids)
            rows.append(number)
        scores = [(float("-inf"), 0)] * len(codes)
        for number, ids, value in zip(rows, targets, self.scorer.score(prompt, targets)):
            scores[number] = (float(value), len(ids))
        return scores


def merge_search_hits(candidates: Sequence[Candidate], hits: Sequence[SearchHit]) -> list[Candidate]:
    """Search hits as new candidates, except those the model already wrote: such a candidate stays
    the model's and records the search's family in extra["search"] (so per-source figures credit
    both)."""
    by_code = {c.canonical: c for c in candidates if c.canonical is not None}
    fresh: list[Candidate] = []
    for rank, hit in enumerate(hits):
        info = {"family": hit.family, "kind": hit.kind, "checked_terms": hit.checked_terms, "weak": hit.weak,
                "search_rank": rank}
        known = by_code.get(hit.code)
        if known is not None:
            known.extra.setdefault("search", info)
            continue
        candidate = Candidate(code=hit.code, canonical=hit.code, valid=True,
                              extra={"source": f"search:{hit.kind}", **info})
        by_code[hit.code] = candidate
        fresh.append(candidate)
    return fresh


def task_for(request: Request, candidate: Candidate, limits: dict[str, Any] | None = None,
             count: int | None = None) -> ExecutionTask:
    """How a candidate runs for a request: `count` values (default: `run_terms`, else at least
    DEFAULT_TERMS and every given term) at the request's offset, with its forbidden calls."""
    count = count or request.run_terms or max(DEFAULT_TERMS, len(request.terms or ()))
    return ExecutionTask(code=candidate.canonical or candidate.code, terms=count, offset=request.offset,
                         forbidden=tuple(request.forbidden), limits=limits)


def run_candidates(pool: ExecutionPool, requests: Sequence[Request], per_request: Sequence[Sequence[Candidate]], *,
                   limits: dict[str, Any] | None = None, progress: Callable[[int], None] | None = None) -> float:
    """Execute every valid candidate of every request in `pool` (each distinct program and run
    settings once) and record the outcome on the candidates. Returns the seconds it took.

    Where a request asks for it (`given_terms_first`: evaluation, which checks every listed
    term), each candidate first runs on the given terms alone, and only those reproducing them run
    again for all `run_terms`: one that misses a given term can be no match, whatever it computes
    after, so it is not run to the last checked term (its outputs stay the given terms' length)."""
    first: list[tuple[Request, Candidate, int]] = []
    rest: list[tuple[Request, Candidate, int]] = []
    for request, candidates in zip(requests, per_request):
        full = request.run_terms or max(DEFAULT_TERMS, len(request.terms or ()))
        given = len(request.terms or ())
        staged = request.given_terms_first and 0 < given < full
        for candidate in candidates:
            if candidate.valid:
                first.append((request, candidate, given if staged else full))
                if staged:
                    rest.append((request, candidate, full))
    seconds = _run_stage(pool, first, limits, progress)
    again = [(r, c, n) for r, c, n in rest if c.usable and terms_match(c.outputs, r.terms)]
    if again:
        seconds += _run_stage(pool, again, limits, None)
    return seconds


def _run_stage(pool: ExecutionPool, jobs: Sequence[tuple[Request, Candidate, int]], limits: dict[str, Any] | None,
               progress: Callable[[int], None] | None) -> float:
    """Run (request, candidate, terms) jobs, each distinct task once; record the outcomes."""
    tasks: dict[tuple, ExecutionTask] = {}
    keyed = []
    for request, candidate, count in jobs:
        task = task_for(request, candidate, limits, count)
        tasks.setdefault(task.key(), task)
        keyed.append((candidate, task.key()))
    start = time.perf_counter()
    keys = list(tasks)
    outcomes = dict(zip(keys, pool.run([tasks[k] for k in keys], progress=progress)))
    seconds = time.perf_counter() - start
    for candidate, key in keyed:
        outcome = outcomes[key]
        candidate.ran = outcome.ok
        candidate.outputs = list(outcome.outputs) if outcome.ok else None
        candidate.execution_seconds += outcome.seconds
        if not outcome.ok:
            candidate.error, candidate.error_kind = outcome.error, outcome.error_kind or "runtime"
    return seconds


def choose(request: Request, candidates: list[Candidate], *,
           agreement_weight: float = AGREEMENT_WEIGHT) -> Candidate | None:
    """Select among executed candidates (see `selection`) and sort them in place, chosen first."""
    chosen = select(candidates, request.terms, request.expected, agreement_weight=agreement_weight)
    candidates.sort(key=lambda c: (c is chosen, c.usable, c.match is True, c.score, c.confidence), reverse=True)
    return chosen


# ---------------------------------------------------------------------------------------------
# command line


def format_result(result: GenerationResult, *, show_all: bool = False) -> str:
    lines = []
    chosen = result.chosen
    if chosen is None:
        tried = f"{result.num_samples} sample(s)" + (f" and {result.retry_samples} retry sample(s)"
                                                     if result.retry_samples else "")
        lines.append(f"no valid program among {tried}")
        errors = {}
        for candidate in result.candidates:
            errors[candidate.error_kind or "error"] = errors.get(candidate.error_kind or "error", 0) + candidate.count
        if errors:
            lines.append("errors: " + ", ".join(f"{k} x{v}" for k, v in sorted(errors.items())))
    else:
        lines.append(chosen.code.rstrip("\n"))
        # a problem's program gives one result; a sequence's, terms
        label = "terms" if result.request.terms or len(chosen.outputs or ()) > 1 else "result"
        outputs = ", ".join(str(v) for v in chosen.outputs or [])
        lines.append(f"; {label}: {outputs}")
        status = {True: "matches the given terms" if result.request.terms else "matches the expected result",
                  False: "does NOT match the given " + ("terms" if result.request.terms else "result"),
                  None: "unverified (no terms given)" if label == "terms" else "unverified (no expected result given)"
                  }[chosen.match]
        lines.append(f"; {status}; confidence {chosen.confidence:.3f}; agreement {chosen.agreement}/"
                     f"{sum(c.count for c in result.candidates if c.usable)}")
        lines.extend(f"; {line}" for line in describe_source(chosen, result))
        if result.retry_samples:
            lines.append(f"; none of the first {result.num_samples} candidate(s) ran: chosen among "
                         f"{result.retry_samples} retry samples")
        repaired = describe_repair(chosen)
        if repaired:
            lines.append(f"; {repaired} (none of its {result.num_samples} candidate(s) matched; "
                         f"{result.repair_programs} variants tried)")
    timings = result.timings
    search = f", search {timings['search']:.2f}s" if timings.get("search") else ""
    lines.append(f"; generation {timings.get('generation', 0):.2f}s{search}, execution {timings.get('execution', 0):.2f}s")
    if show_all and result.candidates:
        lines.append("")
        lines.append(f"all {len(result.candidates)} distinct candidate(s):")
        for number, candidate in enumerate(result.candidates, 1):
            state = ("match" if candidate.match else "ok") if candidate.usable else (candidate.error_kind or "error")
            head = f"#{number} [{state}] x{candidate.count} confidence {candidate.confidence:.3f}"
            if candidate.extra.get("retry"):
                head += " (retry)"
            if candidate.extra.get("repair"):
                head += " (repair)"
            if candidate.usable:
                head += " -> " + ", ".join(str(v) for v in (candidate.outputs or [])[:12])
            lines.append(head)
            lines.extend("    " + line for line in candidate.code.rstrip("\n").splitlines()[:40])
    return "\n".join(lines)


def describe_source(chosen: Candidate, result: GenerationResult) -> list[str]:
    """Where the chosen program came from and how well the given terms check it."""
    lines = []
    source = candidate_source(chosen)
    terms = result.request.terms or []
    if source.startswith("search:"):
        lines.append(f"source: search ({chosen.extra.get('family')}), not the model")
    elif chosen.extra.get("search"):
        lines.append(f"source: model (the search found it too: {chosen.extra['search']['family']})")
    elif result.search_hits is not None:
        lines.append(f"source: model (the search found {result.search_hits} program(s))")
    if chosen.match and terms:
        if chosen.extra.get("weak"):
            lines.append(f"WEAK: this kind of fit can match {len(terms)} terms by construction; "
                         "give more terms to check it")
        elif len(terms) < MIN_CONVINCING_TERMS:
            lines.append(f"weak check: only {len(terms)} terms given; give {MIN_CONVINCING_TERMS} or more")
    return lines


if __name__ == "__main__":  # `python -m codegen.generate`: the command line lives in codegen.cli.generate
    from .cli import run_main
    from .cli.generate import main

    sys.exit(run_main(main))
