"""Grammar-constrained decoding on a random-init tiny model: every constrained output parses."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from codegen.decoding import (DEAD, DONE, DecodeOptions, GrammarConstraint, GrammarLogitsProcessor, HFBackend,
                              ctranslate2_available)
from codegen.language import get_language

TEXTS = ["Fibonacci numbers", "The prime numbers", "Squares of n", "a(n) = 2n + 1", "Triangular numbers",
         "Number of divisors of n", "Powers of 2", "Catalan numbers", "Sum of digits of n", "The odd numbers",
         "Expansion of 1/(1-x-x^2)", "Number of partitions of n"]
PROMPTS = ["Fibonacci numbers", "Powers of 3", "Number of divisors of 2n", "a(n) = n^2 + 1"]


def build_tiny_checkpoint(path: Path, *, seed: int = 0, max_target_length: int = 48, terms_in_prompt: int = 0) -> Path:
    """A random-init T5 with the project's tokenizer (trained on a dozen texts), saved as a checkpoint
    directory that `codegen.model.load_checkpoint` reads."""
    from codegen.model import build_model, write_meta
    from codegen.tokenizer import add_language_tokens, fast_tokenizer_from_spm, save_tokenizer, train_sentencepiece

    tokenizer = fast_tokenizer_from_spm(train_sentencepiece(TEXTS * 4, 80))
    tokenizer.codegen_meta = {"languages": []}
    add_language_tokens(tokenizer, ["loda"])
    torch.manual_seed(seed)
    model = build_model({"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 1, "num_decoder_layers": 1,
                         "num_heads": 2}, tokenizer)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(path))
    save_tokenizer(tokenizer, path)
    write_meta(path, {"language": "loda", "recipes": ["loda-terms" if terms_in_prompt else "loda"],
                      "terms_in_prompt": terms_in_prompt, "max_source_length": 64,
                      "max_target_length": max_target_length})
    return path


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Decode as the CLIs do: one intra-op thread (tiny matmuls; spinning threads stall on shared cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


@pytest.mark.skipif(not ctranslate2_available(), reason="ctranslate2 is not installed")
def test_ctranslate2_backend_repairs_to_the_grammar(tiny_checkpoint, loaded, constraint, tmp_path):
    import shutil

    from codegen.decoding import CTranslate2Backend

    copy = Path(shutil.copytree(tiny_checkpoint, tmp_path / "ckpt"))
    backend = CTranslate2Backend(copy, loaded.tokenizer, constraint, max_target_length=32)
    assert (copy / ".cache" / "ctranslate2-float32" / "model.bin").exists()
    for strategy, k in (("greedy", 1), ("sample", 4)):
        out = backend.decode(PROMPTS, DecodeOptions(strategy=strategy, num_return=k, max_new_tokens=32, seed=0))
        assert [len(group) for group in out] == [k] * len(PROMPTS)
        ok, total = _parse_rate(loaded, out)
        assert ok == total == k * len(PROMPTS)
        assert all(h.logprob <= 0 and h.n_tokens >= 2 for group in out for h in group)
    assert backend.repairs > 0  # the random model needed them
    # outputs that keep breaking the grammar go to the fallback (constrained hf) backend
    backend.fallback, backend.MAX_REPAIRS = _backend(loaded, constraint), 0
    out = backend.decode(PROMPTS, DecodeOptions(strategy="sample", num_return=4, max_new_tokens=32, seed=1))
    assert backend.fallbacks > 0
    assert _parse_rate(loaded, out) == (16, 16), [(h.finished, len(h.token_ids), constraint.accepts(h.token_ids))
                                                  for group in out for h in group]
    free = backend.decode(PROMPTS, DecodeOptions(strategy="sample", num_return=4, constrain=False, seed=0))
    assert _parse_rate(loaded, free)[0] < 16
