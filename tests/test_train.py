"""Config errors, and a tiny training run killed with SIGKILL after its first checkpoint
and resumed: same step count and the same data order as an uninterrupted run."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from codegen.config import ConfigError, load_config

REPO = Path(__file__).resolve().parent.parent
TOKENIZER = REPO / "checkpoints" / "tokenizer"

TINY = {
    "language": "loda",
    "recipes": ["loda", "loda-terms"],
    "terms_count": 4,
    "tokenizer": str(TOKENIZER),
    "model": {"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 1, "num_decoder_layers": 1, "num_heads": 2,
              "dropout_rate": 0.0},
    "data": {"max_source_length": 48, "max_target_length": 64, "eval_limit": 8},
    "training": {"torch_threads": 1, "per_device_train_batch_size": 4, "learning_rate": 0.003, "max_steps": 12,
                 "save_steps": 4, "save_total_limit": 5, "eval_steps": 6, "logging_steps": 1, "seed": 3,
                 "report_to": "none", "warmup_steps": 0},
}


def _write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def test_config_loads_presets():
    config = load_config(REPO / "configs" / "loda-tiny.yaml", ["--training.learning_rate", "3e-4", "--d_model", "64"])
    assert config["training"]["learning_rate"] == 3e-4 and config["model"]["d_model"] == 64
    assert config["recipes"] == ["loda", "loda-terms"]
    for name in ("loda-small-gpu.yaml", "codet5-small.yaml", "history/loda-tiny-short.yaml"):
        assert load_config(REPO / "configs" / name)["language"] == "loda"
    wat = load_config(REPO / "configs" / "wat-small-cpu.yaml")
    assert wat["data"]["recipe_options"]["wat-oeis"] == {"max_instructions": 8, "calls": False}
    presets = sorted((REPO / "configs").glob("**/*.yaml"))
    assert len(presets) >= 18
    for preset in presets:  # every preset, past runs' included, passes validation
        assert load_config(preset)["language"] in ("loda", "wat"), preset


def test_configs_top_level_holds_the_presets_a_user_starts_from():
    """configs/ keeps a few starting points; the recipes of past and shipped weights live in
    configs/history/, so a newcomer is not handed 18 stages of old runs."""
    top = sorted(path.name for path in (REPO / "configs").glob("*.yaml"))
    assert len(top) <= 6, top
    assert {"loda-tiny.yaml", "loda-small-gpu.yaml", "wat-small-cpu.yaml", "wat-small-gpu.yaml",
            "codet5-small.yaml"} <= set(top)


@pytest.mark.parametrize("mutate, field", [
    (lambda c: c["model"].update(d_model="wide"), "model.d_model"),
    (lambda c: c["training"].update(learning_rat=0.1), "training.learning_rat"),
    (lambda c: c.update(recipes=["loda", "nope"]), "recipes"),
    (lambda c: c.pop("language"), "language"),
    (lambda c: c["training"].update(per_device_train_batch_size=0), "training.per_device_train_batch_size"),
    (lambda c: c["model"].update(lora={"r": "x"}), "model.lora.r"),
    (lambda c: c["model"].update(position_bias_init="sinusoid"), "model.position_bias_init"),
    (lambda c: c["data"].update(recipe_options={"loda": {"include_denid": True}}), "data.recipe_options.loda.include_denid"),
    (lambda c: c["data"].update(recipe_options={"wat-problems": {"count": 5}}), "data.recipe_options.wat-problems"),
    (lambda c: c["data"].update(recipe_options={"loda": 3}), "data.recipe_options.loda"),
])
def test_config_errors_name_file_and_field(tmp_path, mutate, field):
    config = json.loads(json.dumps(TINY))
    mutate(config)
    path = _write(tmp_path / "broken.yaml", config)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and f"'{field}'" in str(info.value)


def test_train_cli_broken_config_exits_nonzero(tmp_path, capsys):
    from codegen.train import main

    path = tmp_path / "bad.yaml"
    path.write_text("language: loda\nrecipes: [loda]\ntraining:\n  learning_rate: fast\n")
    assert main(["--config", str(path), "--corpus", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "training.learning_rate" in err
    path.write_text("language: loda\nrecipes: [loda]\n")
    assert main(["--config", str(path), "--training.max_stepz", "3"]) == 2
    assert "training.max_stepz" in capsys.readouterr().err
    path.write_text("language: loda\nrecipes: [loda]\n  bad: [yaml\n")
    assert main(["--config", str(path)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def _run_args(config: Path, corpus: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "codegen.train", "--config", str(config), "--corpus", str(corpus),
            "--output-dir", str(out), *extra]


def _env(tmp_path: Path, log: Path, delay: str = "0") -> dict:
    env = dict(os.environ)
    env.update(CODEGEN_CACHE_DIR=str(tmp_path / "cache"), CODEGEN_BATCH_LOG=str(log), CODEGEN_STEP_DELAY=delay,
               PYTHONPATH=str(REPO), TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    return env


def _batches(log: Path) -> dict[int, str]:
    out = {}
    for line in log.read_text().splitlines():
        step, digest = line.split()
        out[int(step)] = digest
    return out


@pytest.mark.slow
def test_kill_and_resume(tmp_path, monkeypatch, capsys):
    from conftest import make_fixture_corpus

    corpus = make_fixture_corpus(tmp_path / "loda-programs", count=120)
    config = _write(tmp_path / "tiny.yaml", TINY)

    # uninterrupted reference run (in this process: the same code path as the CLI, minus a start-up)
    ref_log = tmp_path / "ref.log"
    for key, value in _env(tmp_path, ref_log).items():
        monkeypatch.setenv(key, value)
    import torch

    from codegen.train import main

    threads = torch.get_num_threads()
    try:
        assert main(_run_args(config, corpus, tmp_path / "ref")[3:]) == 0
    finally:
        torch.set_num_threads(threads)
    ref = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ref["steps"] == 12
    monkeypatch.delenv("CODEGEN_BATCH_LOG")
    out = tmp_path / "ref"
    for name in ("model.safetensors", "tokenizer.json", "config.json", "codegen.json", "loss.png", "README.md"):
        assert (out / name).exists(), name
    meta = json.loads((out / "codegen.json").read_text())
    assert meta["language"] == "loda" and meta["recipes"] == ["loda", "loda-terms"] and meta["terms_in_prompt"] == 4
    from codegen.model import load_checkpoint
    from codegen.tokenizer import decode_code, encode_code

    checkpoint = load_checkpoint(out)
    assert checkpoint.language == "loda" and checkpoint.max_target_length == 64
    ids = encode_code(checkpoint.tokenizer, "loda", "mov $0,1\n")
    assert decode_code(checkpoint.tokenizer, "loda", ids) == "mov $0,1\n"

    # interrupted run: SIGKILL right after the first checkpoint is complete
    first_log = tmp_path / "first.log"
    run_dir = tmp_path / "killed"
    process = subprocess.Popen(_run_args(config, corpus, run_dir), env=_env(tmp_path, first_log, delay="0.25"),
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (run_dir / "checkpoint-4" / "trainer_state.json").exists():
        assert process.poll() is None, "training ended before its first checkpoint"
        assert time.time() < deadline, "no checkpoint in time"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (run_dir / "checkpoint-12").exists()
    # the killed run's checkpoint is usable as it stands (its meta was written when training began)
    from codegen.generate import resolve_checkpoint

    killed_meta = json.loads((run_dir / "codegen.json").read_text())
    assert killed_meta["in_progress"] and killed_meta["language"] == "loda" and killed_meta["terms_in_prompt"] == 4
    # and so is the config as run, so a held-out set can exclude what the checkpoint trained on
    import yaml

    assert yaml.safe_load((run_dir / "train_config.yaml").read_text())["recipes"] == TINY["recipes"]
    killed_checkpoint = load_checkpoint(resolve_checkpoint(run_dir / "checkpoint-4"))
    assert killed_checkpoint.language == "loda" and killed_checkpoint.meta["steps"] == 4

    resumed_log = tmp_path / "resumed.log"
    done = subprocess.run(_run_args(config, corpus, run_dir, "--resume"), env=_env(tmp_path, resumed_log), cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming from" in done.stderr and "checkpoint-" in done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["steps"] == 12

    reference, first, resumed = _batches(ref_log), _batches(first_log), _batches(resumed_log)
    start = min(resumed)
    assert start in (5, 9)  # continues after the last complete checkpoint (4, or 8 if it got that far)
    assert sorted(resumed) == list(range(start, 13))
    assert all(first[s] == reference[s] for s in first)  # same order before the kill
    assert all(resumed[s] == reference[s] for s in resumed)  # and after the resume
    state = json.loads((run_dir / "checkpoint-12" / "trainer_state.json").read_text())
    assert state["global_step"] == 12
    final_meta = json.loads((run_dir / "codegen.json").read_text())
    assert final_meta["steps"] == 12 and "in_progress" not in final_meta
    assert final_meta["sessions"] == 2 and final_meta["wall_seconds_total"] >= final_meta["wall_seconds"]
    assert abs(result["loss_last"] - ref["loss_last"]) < 1e-3 * max(1.0, abs(ref["loss_last"]))


def test_lora_and_pretrained_resize(tmp_path):
    """LoRA wraps a model (few trainable weights, merged back for saving); a `pretrained`
    checkpoint (here a local one: no network) gets its embeddings resized to the tokenizer."""
    from transformers import T5ForConditionalGeneration

    from codegen.model import build_model, count_parameters, merge_lora
    from codegen.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(TOKENIZER)
    small = dict(TINY["model"])
    model = build_model({**small, "lora": {"r": 2, "alpha": 4}}, tokenizer)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert 0 < trainable < count_parameters(model)
    merged = merge_lora(model)
    assert isinstance(merged, T5ForConditionalGeneration)

    base = build_model(small, tokenizer)
    base.resize_token_embeddings(100)  # a "pretrained" model with a smaller vocabulary
    base.save_pretrained(tmp_path / "base")
    resized = build_model({"pretrained": str(tmp_path / "base")}, tokenizer)
    assert resized.get_input_embeddings().weight.shape[0] >= len(tokenizer)


def test_from_scratch_position_biases_start_as_alibi(tmp_path):
    """A from-scratch T5 starts with ALiBi position biases (-slope * distance a head, steep
    heads local, flat heads global) in encoder and decoder, so word order is in the encoder from
    the first step; `position_bias_init: none` keeps T5's near-zero random start (the first
    wat-t5-tiny's, whose encoder stayed order-blind). On a pretrained model, biases are kept
    unless asked for, and "alibi-encoder" restarts the encoder's alone."""
    import torch

    from codegen.model import alibi_slopes, build_model
    from codegen.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(TOKENIZER)
    small = {**TINY["model"], "num_heads": 4}
    slopes = alibi_slopes(4)
    assert slopes[0] == 0.5 and all(a > b for a, b in zip(slopes, slopes[1:]))
    length = 12
    distance = (torch.arange(length)[None, :] - torch.arange(length)[:, None]).abs().float()
    model = build_model(small, tokenizer)
    encoder_bias = model.encoder.block[0].layer[0].SelfAttention.compute_bias(length, length)[0]
    decoder_bias = model.decoder.block[0].layer[0].SelfAttention.compute_bias(length, length)[0]
    exact = distance <= 8  # T5's exact buckets; beyond them log-spaced buckets hold the nearest distance
    causal = torch.ones(length, length).tril().bool()
    for head, slope in enumerate(slopes):
        assert torch.allclose(encoder_bias[head][exact], -slope * distance[exact])
        assert (encoder_bias[head][~exact] >= -slope * distance[~exact] - 1e-6).all()
        assert (encoder_bias[head][~exact] <= -slope * 8).all()
        assert torch.allclose(decoder_bias[head][exact & causal], -slope * distance[exact & causal])
    assert encoder_bias.requires_grad  # a start, not a constraint

    random = build_model({**small, "position_bias_init": "none"}, tokenizer)
    random_bias = random.encoder.block[0].layer[0].SelfAttention.compute_bias(length, length)[0]
    assert random_bias.abs().max() < 1.0

    def biases(model):
        return [getattr(model, s).block[0].layer[0].SelfAttention.relative_attention_bias.weight.detach().clone()
                for s in ("encoder", "decoder")]

    random.save_pretrained(tmp_path / "random")
    kept = build_model({"pretrained": str(tmp_path / "random")}, tokenizer)
    assert all(torch.equal(a, b) for a, b in zip(biases(kept), biases(random)))
    restarted = build_model({"pretrained": str(tmp_path / "random"), "position_bias_init": "alibi-encoder"}, tokenizer)
    encoder, decoder = biases(restarted)
    assert torch.equal(encoder, biases(model)[0]) and torch.equal(decoder, biases(random)[1])

    from transformers import BartConfig, BartForConditionalGeneration

    from codegen.model import init_position_bias

    bart = BartForConditionalGeneration(BartConfig(vocab_size=64, d_model=16, encoder_layers=1, decoder_layers=1,
                                                   encoder_attention_heads=2, decoder_attention_heads=2,
                                                   encoder_ffn_dim=32, decoder_ffn_dim=32))
    init_position_bias(bart, "none")
    with pytest.raises(ValueError, match="relative position biases"):
        init_position_bias(bart, "alibi")


@pytest.mark.slow
def test_second_stage_resumes_without_its_first_stage(tmp_path, monkeypatch):
    """A run that starts from `model.pretrained` (a first stage, or a hub model) resumes from its
    own checkpoint: the directory it started from may be gone (another machine, offline)."""
    import shutil

    from conftest import make_fixture_corpus

    from codegen.train import main

    corpus = make_fixture_corpus(tmp_path / "loda-programs", count=60)
    monkeypatch.setenv("CODEGEN_CACHE_DIR", str(tmp_path / "cache"))
    first = tmp_path / "first"
    assert main(_run_args(_write(tmp_path / "first.yaml", TINY), corpus, first, "--max-steps", "2")[3:]) == 0
    second_config = json.loads(json.dumps(TINY))
    second_config["model"] = {"pretrained": str(first)}
    config = _write(tmp_path / "second.yaml", second_config)
    second = tmp_path / "second"
    assert main(_run_args(config, corpus, second, "--max-steps", "4")[3:]) == 0
    assert (second / "checkpoint-4" / "trainer_state.json").exists()
    shutil.rmtree(first)
    assert main(_run_args(config, corpus, second, "--resume", "--max-steps", "8")[3:]) == 0
    state = json.loads((second / "checkpoint-8" / "trainer_state.json").read_text())
    assert state["global_step"] == 8


@pytest.mark.slow
def test_time_limit_stops_with_a_checkpoint_and_resume_finishes(tmp_path):
    """`--time-limit` (a machine lent for a fixed time): the run stops early but complete (a
    checkpoint of its last step, the final model and meta), and `--resume` finishes the schedule."""
    from conftest import make_fixture_corpus

    corpus = make_fixture_corpus(tmp_path / "loda-programs", count=60)
    config = _write(tmp_path / "tiny.yaml", {**TINY, "training": {**TINY["training"], "max_steps": 400,
                                                                     "save_steps": 1000}})
    run_dir = tmp_path / "sliced"
    started = time.time()
    done = subprocess.run(_run_args(config, corpus, run_dir, "--time-limit", "0.3"),
                          env=_env(tmp_path, tmp_path / "first.log", delay="0.2"), cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert time.time() - started < 120
    steps = json.loads(done.stdout.strip().splitlines()[-1])["steps"]
    assert 0 < steps < 400
    assert (run_dir / f"checkpoint-{steps}" / "trainer_state.json").exists()  # saved although save_steps is 1000
    meta = json.loads((run_dir / "codegen.json").read_text())
    assert meta["steps"] == steps and "in_progress" not in meta and (run_dir / "model.safetensors").exists()

    resumed = subprocess.run(_run_args(config, corpus, run_dir, "--resume"), env=_env(tmp_path, tmp_path / "next.log"),
                             cwd=REPO, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {run_dir / f'checkpoint-{steps}'}" in resumed.stderr
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["steps"] == 400
    assert min(_batches(tmp_path / "next.log")) == steps + 1


def test_time_limit_must_be_positive(tmp_path, capsys):
    from codegen.train import main

    path = _write(tmp_path / "tiny.yaml", TINY)
    assert main(["--config", str(path), "--corpus", str(tmp_path), "--time-limit", "0"]) == 2
    assert "--time-limit" in capsys.readouterr().err


def test_resume_does_not_warn_about_tied_weights():
    """A checkpoint stores T5's shared embedding once; `--resume` loads it with the tied copies
    (encoder/decoder embed_tokens, lm_head) "missing". That known, harmless case is silent; any
    other missing key still warns."""
    from transformers import T5Config, T5ForConditionalGeneration

    from codegen.train import _trainer_class, tied_weight_keys, untied_missing_keys

    model = T5ForConditionalGeneration(T5Config(d_model=8, d_ff=8, num_layers=1, num_heads=1, d_kv=8, vocab_size=32))
    tied = tied_weight_keys(model)
    assert {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"} <= set(tied)
    tied_keys = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"]
    assert untied_missing_keys(tied_keys, tied) == []
    # the shared weight itself missing: the tied copies are not explained
    assert set(untied_missing_keys(tied_keys + ["shared.weight"], tied)) == set(tied_keys + ["shared.weight"])

    import torch

    trainer = object.__new__(_trainer_class())  # the method reads self.model only
    trainer.model = model
    result = torch.nn.modules.module._IncompatibleKeys(missing_keys=tied_keys, unexpected_keys=[])

    # transformers' handler keeps the stderr it found when it was made (in a full run, another
    # test's capture), so the records are read from a handler of our own on its logger
    class Records(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.WARNING)
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    records = Records()
    logger = logging.getLogger("transformers")
    logger.addHandler(records)
    try:
        trainer._issue_warnings_after_load(result)
        assert not any("missing keys" in message for message in records.messages)
        trainer._issue_warnings_after_load(result._replace(missing_keys=tied_keys + ["encoder.block.0.x"]))
    finally:
        logger.removeHandler(records)
    warned = "\n".join(records.messages)
    assert "missing keys" in warned and "encoder.block.0.x" in warned and "lm_head" not in warned
