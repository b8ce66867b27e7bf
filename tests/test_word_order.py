"""benchmarks/word_order.py: the diagnostic that found the order-blind encoders."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from conftest import load_benchmark

REPO = Path(__file__).resolve().parent.parent
TOKENIZER = REPO / "checkpoints" / "tokenizer"


def _module():
    return load_benchmark("word_order")


def _checkpoint(position_bias_init: str, language: str = "wat"):
    import torch

    from codegen.model import Checkpoint, build_model
    from codegen.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(TOKENIZER)
    torch.manual_seed(0)
    model = build_model({"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 2, "num_decoder_layers": 1,
                         "num_heads": 4, "dropout_rate": 0.0, "position_bias_init": position_bias_init}, tokenizer)
    if position_bias_init == "none":  # no position information at all: a bag-of-words encoder
        model.encoder.block[0].layer[0].SelfAttention.relative_attention_bias.weight.data.zero_()
    return Checkpoint(model=model.eval(), tokenizer=tokenizer, language=language,
                      meta={"max_source_length": 80})


def test_every_pair_is_a_minimal_pair_under_the_shipped_tokenizer():
    """The score compares each token's two states, so both prompts must hold the same tokens."""
    from codegen.prompts import make_prompt
    from codegen.tokenizer import encode_prompts, load_tokenizer

    tokenizer = load_tokenizer(TOKENIZER)
    for language, pairs in _module().PAIRS.items():
        for first, second in pairs:
            a, b = (encode_prompts(tokenizer, [make_prompt(language, t)])["input_ids"][0] for t in (first, second))
            assert Counter(a) == Counter(b) and a != b, (first, second)


def test_a_bag_of_words_encoder_scores_zero_and_an_alibi_one_does_not():
    module = _module()
    blind = module.order_effect(_checkpoint("none"), module.PAIRS["wat"])
    seeing = module.order_effect(_checkpoint("alibi"), module.PAIRS["wat"])
    assert blind < 1e-5 and seeing > 0.05


def test_a_pair_of_different_tokens_is_refused():
    with pytest.raises(ValueError, match="not a minimal pair"):
        _module().order_effect(_checkpoint("alibi"), [("Compute 5 + 7.", "Compute 5 - 7.")])
