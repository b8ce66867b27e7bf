"""Grammar-constrained decoding on a random-init tiny model: every constrained output parses, with
either backend; the CTranslate2 backend's scores are the model's, and it agrees with the hf
backend (the reference) on the shipped LODA model's greedy programs."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from codegen.decoding import (DEAD, DONE, BackendUnavailable, CTranslate2Backend, DecodeOptions, GrammarConstraint,
                              GrammarLogitsProcessor, HFBackend, NotOffered, make_backend)
from codegen.language import get_language
from conftest import build_tiny_checkpoint

PROMPTS = ["Fibonacci numbers", "Powers of 3", "Number of divisors of 2n", "a(n) = n^2 + 1"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # decode as the CLIs do: one torch thread


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "loda-tiny")


@pytest.fixture(scope="session")
def loaded(tiny_checkpoint):
    from codegen.model import load_checkpoint

    return load_checkpoint(tiny_checkpoint)


@pytest.fixture(scope="session")
def constraint(loaded):
    from codegen.tokenizer import structural_token_ids

    language = get_language("loda")
    return GrammarConstraint(language.grammar(), structural_token_ids(loaded.tokenizer, language),
                             eos_token_id=loaded.tokenizer.eos_token_id, pad_token_id=loaded.tokenizer.pad_token_id)


def _backend(loaded, constraint):
    return HFBackend(loaded.model, loaded.tokenizer, constraint, max_source_length=64, max_target_length=48,
                     device="cpu")


def _parse_rate(loaded, hypotheses) -> tuple[int, int]:
    from codegen.language import CodeError
    from codegen.tokenizer import decode_code

    language = get_language("loda")
    ok = total = 0
    for group, prompt in zip(hypotheses, PROMPTS):
        for hypothesis in group:
            total += 1
            try:
                code = decode_code(loaded.tokenizer, language, hypothesis.token_ids, prompt)
                language.canonicalize(code)
            except CodeError:
                continue
            ok += hypothesis.finished
    return ok, total


@pytest.mark.parametrize("strategy,k", [("greedy", 1), ("beam", 4), ("sample", 16)])
def test_constrained_random_model_always_parses(loaded, constraint, strategy, k):
    backend = _backend(loaded, constraint)
    hypotheses = backend.decode(PROMPTS, DecodeOptions(strategy=strategy, num_return=k, max_new_tokens=48, seed=0))
    assert [len(group) for group in hypotheses] == [k] * len(PROMPTS)
    ok, total = _parse_rate(loaded, hypotheses)
    assert ok == total == k * len(PROMPTS)
    for group in hypotheses:
        for hypothesis in group:
            assert hypothesis.finished and hypothesis.logprob <= 0
            assert math.isclose(hypothesis.confidence, hypothesis.logprob / hypothesis.n_tokens)


@pytest.mark.parametrize("strategy,k,constrain", [("greedy", 1, True), ("sample", 3, True), ("beam", 3, True),
                                                 ("sample", 2, False)])
def test_recorded_logprobs_equal_a_forward_pass(loaded, constraint, strategy, k, constrain):
    """Confidence comes from the scores seen while decoding: the model's own (unconstrained,
    untempered) log-probabilities, equal to a teacher-forced pass over the output."""
    backend = _backend(loaded, constraint)
    options = DecodeOptions(strategy=strategy, num_return=k, max_new_tokens=20, seed=5, constrain=constrain,
                            temperature=0.7)
    out = backend.decode(PROMPTS[:2], options)
    inputs = backend._encode(PROMPTS[:2])
    eos = backend.eos_token_id
    flat = [(i, h) for i, group in enumerate(out) for h in group]
    targets = [h.token_ids + ([eos] if h.finished else []) for _, h in flat]
    with torch.inference_mode():
        reference = backend._forward_logprobs(inputs, targets, [i for i, _ in flat])
    assert [h.logprob for _, h in flat] == pytest.approx(reference, abs=1e-3)


def test_unconstrained_random_model_parses_less(loaded, constraint):
    backend = _backend(loaded, constraint)
    options = DecodeOptions(strategy="sample", num_return=8, max_new_tokens=48, seed=0, constrain=False)
    ok, total = _parse_rate(loaded, backend.decode(PROMPTS, options))
    assert total == 32 and ok < total


def test_short_budget_still_completes(loaded, constraint):
    """Near the length limit only tokens after which a program can still be closed are allowed."""
    backend = _backend(loaded, constraint)
    hypotheses = backend.decode(PROMPTS, DecodeOptions(strategy="sample", num_return=8, max_new_tokens=9, seed=3))
    ok, total = _parse_rate(loaded, hypotheses)
    assert ok == total == 32


def test_processor_masks_per_row(loaded, constraint):
    ids = constraint.token_ids
    eos, pad = constraint.eos_token_id, loaded.tokenizer.pad_token_id
    vocab = loaded.model.config.vocab_size

    def allowed(out, row):
        return set(torch.isfinite(out[row]).nonzero().flatten().tolist())

    processor = GrammarLogitsProcessor(constraint, prefix_length=1)
    out = processor(torch.tensor([[pad], [pad]]), torch.zeros(2, vocab))
    assert ids["mov"] in allowed(out, 0) and ids["#offset"] in allowed(out, 0)
    assert eos not in allowed(out, 0) and ids["$0"] not in allowed(out, 0)  # no empty program
    step = torch.tensor([[pad, ids["nop"]], [pad, ids["mov"]]])
    out = processor(step, torch.zeros(2, vocab))
    assert eos in allowed(out, 0)
    assert ids["$0"] in allowed(out, 1) and ids["$$3"] in allowed(out, 1)
    assert ids["5"] not in allowed(out, 1) and eos not in allowed(out, 1)  # a target is a cell
    # the states of the previous step are extended by one token per row; finished rows are left alone
    out = processor(torch.cat([step, torch.tensor([[eos], [ids["$1"]]])], dim=1), torch.zeros(2, vocab))
    assert torch.isfinite(out[0]).all()
    assert ids["5"] in allowed(out, 1) and ids["$2"] in allowed(out, 1) and ids["mov"] not in allowed(out, 1)
    # a row the grammar rejected (only possible without the mask) may only stop
    out = GrammarLogitsProcessor(constraint)(torch.tensor([[pad, eos]]), torch.zeros(1, vocab))
    assert allowed(out, 0) == {eos}


def test_constraint_states(constraint):
    ids = constraint.token_ids
    state = constraint.state_of([ids["lpb"], ids["$0"], ids["1"]])
    assert constraint.distance(state) == 1  # lpe
    assert constraint.advance(state, constraint.eos_token_id) is DEAD  # an open loop cannot end
    closed = constraint.advance(state, ids["lpe"])
    assert constraint.advance(closed, constraint.eos_token_id) is DONE
    assert constraint.accepts([ids["mov"], ids["$1"], ids["5"], constraint.eos_token_id])
    assert not constraint.accepts([ids["mov"], ids["$1"]])


# -- CTranslate2 (a declared dependency: no skip where it is missing)


@pytest.fixture(scope="module")
def ct2_checkpoint(tiny_checkpoint, tmp_path_factory) -> Path:
    import shutil

    return Path(shutil.copytree(tiny_checkpoint, tmp_path_factory.mktemp("ct2") / "ckpt"))


def _ct2(ct2_checkpoint, loaded, constraint, **kwargs) -> CTranslate2Backend:
    return CTranslate2Backend(ct2_checkpoint, loaded.tokenizer, constraint, max_source_length=64, max_target_length=32,
                              **kwargs)


def test_ctranslate2_backend_repairs_to_the_grammar(ct2_checkpoint, loaded, constraint):
    backend = _ct2(ct2_checkpoint, loaded, constraint)
    assert (ct2_checkpoint / ".cache" / "ctranslate2-float32" / "model.bin").exists()  # git ignores .cache/
    for strategy, k in (("greedy", 1), ("sample", 4), ("beam", 4)):
        out = backend.decode(PROMPTS, DecodeOptions(strategy=strategy, num_return=k, max_new_tokens=32, seed=0))
        assert [len(group) for group in out] == [k] * len(PROMPTS)
        ok, total = _parse_rate(loaded, out)
        assert ok == total == k * len(PROMPTS), strategy
        assert all(h.logprob <= 0 and h.n_tokens == len(h.token_ids) + 1 for group in out for h in group)
        if strategy == "beam":  # best first, as beam search ranks
            assert all([h.confidence for h in group] == sorted((h.confidence for h in group), reverse=True)
                       for group in out)
    assert backend.rejected > 0 and backend.repairs > 0  # the random model needed them
    # outputs that keep breaking the grammar go to the fallback (constrained hf) backend, from their
    # longest permitted prefix
    backend.fallback, backend.MAX_REPAIRS = _backend(loaded, constraint), 0
    out = backend.decode(PROMPTS, DecodeOptions(strategy="sample", num_return=4, max_new_tokens=32, seed=1))
    assert backend.fallbacks > 0
    assert _parse_rate(loaded, out) == (16, 16), [(h.finished, len(h.token_ids), constraint.accepts(h.token_ids))
                                                  for group in out for h in group]
    free = backend.decode(PROMPTS, DecodeOptions(strategy="sample", num_return=4, constrain=False, seed=0))
    assert _parse_rate(loaded, free)[0] < 16


def test_ctranslate2_short_budget_still_completes(ct2_checkpoint, loaded, constraint):
    """Near the length limit the budget forces the tail (close the loops, then EOS): forced tokens
    are taken without asking the model, choices go to the hf backend."""
    backend = _ct2(ct2_checkpoint, loaded, constraint, fallback=_backend(loaded, constraint))
    for strategy, k in (("greedy", 1), ("beam", 3), ("sample", 8)):
        out = backend.decode(PROMPTS, DecodeOptions(strategy=strategy, num_return=k, max_new_tokens=9, seed=3))
        assert _parse_rate(loaded, out) == (k * len(PROMPTS),) * 2, strategy
        assert all(len(h.token_ids) < 9 for group in out for h in group)
    assert backend.forced > 0


@pytest.mark.parametrize("strategy,k,constrain", [("greedy", 1, True), ("greedy", 1, False), ("beam", 4, True),
                                                 ("beam", 4, False), ("sample", 4, True), ("sample", 3, False)])
def test_ctranslate2_scores_are_the_models(ct2_checkpoint, loaded, constraint, strategy, k, constrain):
    """Every hypothesis carries the model's log-probability of its tokens and EOS, whether taken from
    the decoding scores (score x length), summed from recorded logits (repaired outputs) or scored
    teacher-forced: the same figure as CTranslate2's own scoring, and so a confidence comparable with
    the hf backend's (float32 here, so that the two models are the same)."""
    from codegen.tokenizer import encode_prompts

    backend = _ct2(ct2_checkpoint, loaded, constraint, compute_type="float32", fallback=_backend(loaded, constraint))
    out = backend.decode(PROMPTS, DecodeOptions(strategy=strategy, num_return=k, max_new_tokens=24, seed=2,
                                                constrain=constrain, temperature=0.7))
    sources = [backend._tokens(ids) for ids in encode_prompts(loaded.tokenizer, PROMPTS, max_length=64,
                                                              truncation=True)["input_ids"]]
    flat = [(i, h) for i, group in enumerate(out) for h in group]
    scored = backend.translator.score_batch([sources[i] for i, _ in flat], [backend._tokens(h.token_ids) for _, h in flat])
    reference = [sum(s.log_probs if h.finished else s.log_probs[:-1]) for (_, h), s in zip(flat, scored)]
    assert [h.logprob for _, h in flat] == pytest.approx(reference, abs=2e-3)
    hf = _backend(loaded, constraint)
    with torch.inference_mode():
        forward = hf._forward_logprobs(hf._encode(PROMPTS), [h.token_ids + [hf.eos_token_id] * h.finished
                                                             for _, h in flat], [i for i, _ in flat])
    assert [h.logprob for _, h in flat] == pytest.approx(forward, abs=2e-3)  # the hf backend's figure


def test_hf_complete_continues_a_prefix(loaded, constraint):
    ids = constraint.token_ids
    prefix = [ids["lpb"], ids["$0"], ids["1"], ids["mov"], ids["$1"]]
    hf = _backend(loaded, constraint)
    for strategy in ("greedy", "sample"):
        done = hf.complete(PROMPTS[:2], [prefix, prefix[:3]], DecodeOptions(strategy=strategy if strategy == "greedy"
                                                                           else "sample", max_new_tokens=12, seed=0))
        assert [row[:len(p)] for (row, _), p in zip(done, [prefix, prefix[:3]])] == [prefix, prefix[:3]]
        assert all(finished and len(row) < 12 and constraint.accepts(row) for row, finished in done)


def test_a_mode_a_backend_lacks_is_not_offered(ct2_checkpoint, loaded):
    for backend in (HFBackend(loaded.model, loaded.tokenizer, None, device="cpu"),
                    CTranslate2Backend(ct2_checkpoint, loaded.tokenizer, None)):
        options = DecodeOptions(strategy="beam", num_return=2)
        assert "grammar" in backend.unsupported(options)
        with pytest.raises(NotOffered):
            backend.decode(PROMPTS[:1], options)
        assert backend.unsupported(DecodeOptions(strategy="beam", num_return=2, constrain=False)) is None
    from conftest import load_benchmark

    bench = load_benchmark("generate")
    rows = [{"backend": "hf", "strategy": "beam", "samples": 4, "batch": 1, "constrained": True, "offered": False}]
    assert "| 4 beams | not offered | not measured |" in bench.summary(rows, ["hf"], [1, 2], [("beam", 4)])


def test_make_backend_picks_ctranslate2_else_says_why(ct2_checkpoint, loaded, constraint, monkeypatch):
    said: list[str] = []
    common = {"model": loaded.model, "tokenizer": loaded.tokenizer, "constraint": constraint,
              "max_source_length": 64, "max_target_length": 32, "device": "cpu", "say": said.append}
    backend, hf = make_backend("auto", checkpoint_dir=ct2_checkpoint, **common)
    assert backend.name == "ctranslate2" and backend.fallback is hf and hf.name == "hf" and not said
    assert make_backend("hf", checkpoint_dir=ct2_checkpoint, **common)[0].name == "hf"
    backend, _ = make_backend("auto", checkpoint_dir=None, **common)  # a checkpoint given loaded
    assert backend.name == "hf" and len(said) == 1 and "already loaded" in said[0]
    with pytest.raises(BackendUnavailable):
        make_backend("ctranslate2", checkpoint_dir=None, **common)
    import codegen.decoding.ct2 as ct2

    def refuse(*args, **kwargs):
        raise ValueError("no converter for this architecture\nsecond line")

    monkeypatch.setattr(ct2, "convert_to_ctranslate2", refuse)
    backend, _ = make_backend("auto", checkpoint_dir=ct2_checkpoint, **common)
    assert backend.name == "hf" and said[-1] == ("note: decoding with the hf backend: the checkpoint does not convert "
                                                 "to CTranslate2 (ValueError: no converter for this architecture)")
    monkeypatch.setitem(__import__("sys").modules, "ctranslate2", None)  # as where it is not installed
    backend, _ = make_backend("auto", checkpoint_dir=ct2_checkpoint, **common)
    assert backend.name == "hf" and "ctranslate2 does not import" in said[-1] and len(said) == 3
    with pytest.raises(ValueError):
        make_backend("onnx", checkpoint_dir=ct2_checkpoint, **common)


AGREEMENT_NAMES = ["Fibonacci numbers", "The prime numbers", "Powers of 2", "Triangular numbers", "a(n) = 3*n + 1",
                   "The squares: a(n) = n^2", "Number of divisors of n", "Catalan numbers", "Sum of digits of n",
                   "Factorial numbers"]


@pytest.mark.slow
def test_backends_agree_on_the_shipped_models_greedy_programs():
    """hf is the reference. With float32 weights CTranslate2's constrained greedy programs are the hf
    backend's, token for token, with the same confidence. int8 (the default) rounds the weights:
    where two tokens are near-tied, it can take the other one (3 of these 10 when this was written:
    divisors, Catalan, sum of digits), so only most must agree."""
    from codegen.generate import make_prompt
    from codegen.model import load_checkpoint
    from codegen.tokenizer import structural_token_ids

    path = Path(__file__).parent.parent / "checkpoints" / "loda-t5-tiny"
    shipped = load_checkpoint(path)
    language = get_language("loda")
    grammar = GrammarConstraint(language.grammar(), structural_token_ids(shipped.tokenizer, language),
                                eos_token_id=shipped.tokenizer.eos_token_id, pad_token_id=shipped.tokenizer.pad_token_id)
    lengths = {"max_source_length": int(shipped.meta["max_source_length"]),
               "max_target_length": int(shipped.meta["max_target_length"])}
    prompts = [make_prompt("loda", name, None) for name in AGREEMENT_NAMES]
    hf = HFBackend(shipped.model, shipped.tokenizer, grammar, device="cpu", **lengths)
    options = DecodeOptions(max_new_tokens=lengths["max_target_length"])
    reference = [group[0] for group in hf.decode(prompts, options)]
    for compute_type, least in (("float32", len(prompts)), ("int8", 6)):
        backend = CTranslate2Backend(path, shipped.tokenizer, grammar, compute_type=compute_type, fallback=hf, **lengths)
        got = [group[0] for group in backend.decode(prompts, options)]
        same = [a.token_ids == b.token_ids for a, b in zip(reference, got)]
        assert sum(same) >= least, (compute_type, [name for name, s in zip(AGREEMENT_NAMES, same) if not s])
        for a, b, s in zip(reference, got, same):
            if s:
                assert b.confidence == pytest.approx(a.confidence, abs=1e-3 if compute_type == "float32" else 0.05)
