"""Models: from-scratch T5 (`T5Config`) or a pretrained seq2seq checkpoint (e.g.
`Salesforce/codet5-small`, embeddings resized for the added tokens), optionally with LoRA
(PEFT), and `load_checkpoint` for a trained output directory.

A checkpoint directory is a `save_pretrained` directory (model as safetensors + tokenizer)
that also holds `codegen.json`:
  {"language", "recipes", "terms_in_prompt", "max_source_length", "max_target_length",
   "corpus", "corpus_hash", "steps", ...}
Trainer sub-checkpoints (`checkpoint-N/`) are accepted too: their `codegen.json` is read
from the parent run directory when they lack one.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

META_FILE = "codegen.json"

# T5Config fields a config's `model:` section may set for a from-scratch model
T5_FIELDS = ("d_model", "d_kv", "d_ff", "num_layers", "num_decoder_layers", "num_heads",
             "relative_attention_num_buckets", "relative_attention_max_distance", "dropout_rate",
             "layer_norm_epsilon", "initializer_factor", "feed_forward_proj", "tie_word_embeddings")


@dataclass
class Checkpoint:
    model: Any
    tokenizer: Any
    language: str
    meta: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @property
    def recipes(self) -> list[str]:
        return list(self.meta.get("recipes", []))

    @property
    def terms_in_prompt(self) -> int:
        return int(self.meta.get("terms_in_prompt", 0) or 0)

    @property
    def max_source_length(self) -> int:
        return int(self.meta.get("max_source_length", 512))

    @property
    def max_target_length(self) -> int:
        return int(self.meta.get("max_target_length", 512))


def _round_up(value: int, multiple: int) -> int:
    return ((value + multiple - 1) // multiple) * multiple


def build_model(model_config: Mapping[str, Any], tokenizer):
    """A model for `tokenizer` from a config's `model:` section.

    `pretrained: NAME_OR_PATH` loads that checkpoint and resizes its embeddings to the
    tokenizer (a `dropout_rate` given overrides the checkpoint's); otherwise a T5 is built
    from `T5_FIELDS`. `position_bias_init` (see
    `init_position_bias`) restarts the relative position biases: "alibi" by default for a
    from-scratch model, "none" (as loaded) for a pretrained one. `lora: {r, alpha, dropout,
    target_modules}` wraps it with PEFT LoRA adapters."""
    from transformers import AutoModelForSeq2SeqLM, T5Config, T5ForConditionalGeneration

    cfg = dict(model_config)
    pretrained = cfg.get("pretrained")
    if pretrained:
        overrides = {"dropout_rate": float(cfg["dropout_rate"])} if "dropout_rate" in cfg else {}
        model = AutoModelForSeq2SeqLM.from_pretrained(pretrained, **overrides)
        if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
            model.resize_token_embeddings(_round_up(len(tokenizer), 8))
        init_position_bias(model, cfg.get("position_bias_init", "none"))
    else:
        kwargs = {k: cfg[k] for k in T5_FIELDS if k in cfg}
        config = T5Config(
            vocab_size=_round_up(len(tokenizer), int(cfg.get("vocab_multiple", 8))),
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id, **kwargs)
        model = T5ForConditionalGeneration(config)
        init_position_bias(model, cfg.get("position_bias_init", "alibi"))
    if cfg.get("text_encoder") and not _has_text_encoder(model):
        from .text_encoder import attach_text_encoder

        model = attach_text_encoder(model, cfg["text_encoder"])
        weights = Path(str(pretrained), "model.safetensors") if pretrained else None
        if weights is not None and weights.exists():  # a text-encoder checkpoint continued: its adapter too
            from .text_encoder import load_adapter

            load_adapter(model, weights, required=False)
    lora = cfg.get("lora")
    if lora:
        model = apply_lora(model, lora)
    return model


def _has_text_encoder(model) -> bool:
    from .text_encoder import TextEncoder

    return isinstance(getattr(model, "encoder", None), TextEncoder)


POSITION_BIAS_INITS = ("alibi", "alibi-encoder", "none")


def alibi_slopes(num_heads: int) -> list[float]:
    """One slope a head, geometric from 1/2 down to 2^-8 (the ALiBi paper's for 8 heads, spread
    over any count): the steep heads look at their neighbours, the flat ones at the whole text."""
    if num_heads == 1:
        return [0.5]
    return [2.0 ** (-1 - 7 * h / (num_heads - 1)) for h in range(num_heads)]


def init_position_bias(model, scheme: str = "alibi") -> None:
    """Start a T5's relative position biases as a distance penalty, `-slope * |i - j|` a head
    (ALiBi, evaluated at each bucket's nearest distance), instead of T5's random initialisation
    near zero: in encoder and decoder ("alibi"), in the encoder alone ("alibi-encoder": restarts
    an order-blind encoder of a trained model and keeps its decoder's learnt biases), or
    neither ("none": T5's random start for a from-scratch model, the checkpoint's biases for a
    pretrained one).

    Why: from random biases the encoder can stay order-blind. Where number slots already give
    the numbers their order, a bag of words solves most problems, and the biases get too little
    gradient to grow (the first wat-t5-tiny's encoder biases ended training within +-0.2 of
    their random start). That model then could not tell "add 5, then multiply by 7" from "multiply by 5, then
    add 7". With local heads from the first step, each token's representation holds its
    neighbours. The biases stay trainable, and the model is an ordinary T5 (`from_pretrained`
    as before). Models without T5's relative biases (e.g. BART) accept only "none"."""
    if scheme not in POSITION_BIAS_INITS:
        raise ValueError(f"model.position_bias_init: expected one of {list(POSITION_BIAS_INITS)}, got {scheme!r}")
    if scheme == "none":
        return
    import torch

    stacks = [("encoder", True)] + ([("decoder", False)] if scheme == "alibi" else [])
    for name, bidirectional in stacks:
        try:
            attention = getattr(model, name).block[0].layer[0].SelfAttention
        except AttributeError:
            attention = None
        if not getattr(attention, "has_relative_attention_bias", False):
            raise ValueError(f"model.position_bias_init: {scheme!r} needs a T5 with relative position biases; "
                             f"{type(model).__name__} has none (use 'none')")
        slopes = torch.tensor(alibi_slopes(attention.n_heads))
        buckets = attention.relative_attention_num_buckets
        span = torch.arange(-4 * attention.relative_attention_max_distance,
                            4 * attention.relative_attention_max_distance + 1)
        bucket_of = attention._relative_position_bucket(
            span, bidirectional=bidirectional, num_buckets=buckets,
            max_distance=attention.relative_attention_max_distance)
        nearest: dict[int, int] = {}  # a bucket's distance is the nearest one it holds
        for position, bucket in zip(span.abs().tolist(), bucket_of.tolist()):
            nearest[bucket] = min(nearest.get(bucket, position), position)
        distance = torch.tensor([float(nearest.get(b, 0)) for b in range(buckets)])
        with torch.no_grad():
            attention.relative_attention_bias.weight.copy_(-distance[:, None] * slopes[None, :])


def apply_lora(model, lora: Mapping[str, Any]):
    """PEFT LoRA adapters on `target_modules` (default T5's q and v projections). The token
    embeddings stay trainable (`train_embeddings`, default true): the added code tokens have
    no pretrained meaning. They are base weights trained in place (tied to the LM head in
    T5), so `merge_lora` keeps them."""
    from peft import LoraConfig, TaskType, get_peft_model

    config = LoraConfig(
        task_type=TaskType.SEQ_2_SEQ_LM, r=int(lora.get("r", 8)), lora_alpha=int(lora.get("alpha", 16)),
        lora_dropout=float(lora.get("dropout", 0.05)),
        target_modules=list(lora.get("target_modules", ["q", "v"])),
        modules_to_save=list(lora.get("modules_to_save", [])) or None,
    )
    peft_model = get_peft_model(model, config)
    if lora.get("train_embeddings", True):
        model.get_input_embeddings().weight.requires_grad_(True)
        output = model.get_output_embeddings()
        if output is not None:
            output.weight.requires_grad_(True)
    return peft_model


def merge_lora(model):
    """A plain model (LoRA weights merged in) for saving; other models unchanged."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def read_meta(path: str | Path) -> dict[str, Any]:
    """The checkpoint's codegen.json; for a `checkpoint-N/` folder of a run, the run's, with the
    folder's own step count (the run's may be of a later step, or none while it trains)."""
    path = Path(path)
    if (path / META_FILE).exists():
        return json.loads((path / META_FILE).read_text())
    if (path.parent / META_FILE).exists():
        meta = json.loads((path.parent / META_FILE).read_text())
        state = path / "trainer_state.json"
        if state.exists():
            meta["steps"] = json.loads(state.read_text()).get("global_step")
            meta.pop("in_progress", None)
        return meta
    raise FileNotFoundError(f"{path} has no {META_FILE}: not a codegen checkpoint (train one with codegen.train)")


def load_checkpoint(path: str | Path, *, device: str | None = None, dtype=None) -> Checkpoint:
    """Model (eval mode), tokenizer, language and meta of a trained checkpoint directory."""
    from transformers import AutoModelForSeq2SeqLM

    from .tokenizer import load_tokenizer

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    meta = read_meta(path)
    tokenizer_dir = path if (path / "tokenizer_config.json").exists() else path.parent
    tokenizer = load_tokenizer(tokenizer_dir)
    # how prompts are read, as codegen.json records it: a Trainer's checkpoint-N/ saves its
    # tokenizer without the codegen meta, and must read prompts as in training all the same
    recorded = {key: meta[key] for key in ("number_reading", "text_encoder") if meta.get(key)}
    tokenizer_meta = getattr(tokenizer, "codegen_meta", None) or {}
    if any(key not in tokenizer_meta for key in recorded):
        tokenizer.codegen_meta = {**recorded, **tokenizer_meta}
    kwargs = {"dtype": dtype} if dtype is not None else {}
    if meta.get("text_encoder"):
        # the file holds the adapter, not the T5 encoder it replaced: transformers would list the
        # replaced encoder's weights as missing and the adapter's as unexpected, both as intended
        from transformers.utils import logging as hf_logging

        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            model = AutoModelForSeq2SeqLM.from_pretrained(str(path), **kwargs)
        finally:
            hf_logging.set_verbosity(verbosity)
    else:
        model = AutoModelForSeq2SeqLM.from_pretrained(str(path), **kwargs)
    if meta.get("text_encoder"):  # its own encoder was replaced: the named one, and the saved adapter
        from .text_encoder import attach_text_encoder, load_adapter

        model = attach_text_encoder(model, meta["text_encoder"])
        load_adapter(model, path / "model.safetensors")
    if device:
        model.to(device)
    model.eval()
    language = meta.get("language")
    if not language:
        raise ValueError(f"{path / META_FILE}: field 'language' missing")
    return Checkpoint(model=model, tokenizer=tokenizer, language=language, meta=meta, path=str(path))


def write_meta(path: str | Path, meta: Mapping[str, Any]) -> None:
    """codegen.json, written atomically: a reader never sees half of it."""
    from .reports import atomic_write

    atomic_write(Path(path, META_FILE), json.dumps(dict(meta), indent=1, sort_keys=True, default=str) + "\n")
