"""Training configuration: a YAML file, then `--key value` overrides, then validation.

Sections (see configs/*.yaml):

  language: loda                    # registered language
  recipes: [loda, loda-terms]       # data recipes, mixed
  terms_count: 8                    # terms shown by "*-terms" recipes
  tokenizer: checkpoints/tokenizer  # our tokenizer dir, or `pretrained` to use the model's + added tokens
  output_dir: runs/loda-tiny
  retrieval: {k: 2, ...}            # prompts carry the nearest training programs (codegen.retrieval)
  model:    {d_model, d_ff, num_layers, ..., position_bias_init: alibi|alibi-encoder|none,
             pretrained: NAME, lora: {r, alpha, dropout, target_modules},
             text_encoder: all-MiniLM-L6-v2 (a frozen pretrained encoder reads the prompt)}
  data:     {max_source_length, max_target_length, num_proc, curriculum, train_limit, eval_limit}
  training: {per_device_train_batch_size, learning_rate, max_steps, ..., torch_threads, group_by_length}
            (any Seq2SeqTrainingArguments field is accepted)

Overrides: `--training.learning_rate 3e-4`, `--model.d_model 128`, or a leaf name that is
unique across sections (`--learning_rate 3e-4`); values are parsed as YAML. Errors name the
file and the field (`ConfigError`).
"""
from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from .model import POSITION_BIAS_INITS


class ConfigError(ValueError):
    pass


_NUM = (int, float)
# field -> allowed types (None allowed where listed)
SCHEMA: dict[str, Any] = {
    "language": (str,),
    "recipes": (list,),
    "terms_count": (int,),
    "tokenizer": (str,),
    "output_dir": (str, type(None)),
    "corpus": (str, type(None)),
    "description": (str, type(None)),
    # retrieval-augmented prompts (codegen.retrieval.RetrievalSpec): {k, pool, weak_rate, ...}
    "retrieval": (dict, type(None)),
    "model": {
        "pretrained": (str, type(None)),
        "d_model": (int,), "d_kv": (int,), "d_ff": (int,), "num_layers": (int,), "num_decoder_layers": (int,),
        "num_heads": (int,), "relative_attention_num_buckets": (int,), "relative_attention_max_distance": (int,),
        "dropout_rate": _NUM, "layer_norm_epsilon": _NUM, "initializer_factor": _NUM,
        "feed_forward_proj": (str,), "tie_word_embeddings": (bool,), "vocab_multiple": (int,),
        "position_bias_init": (str,), "lora": (dict, type(None)), "text_encoder": (str, type(None)),
    },
    "data": {
        "max_source_length": (int,), "max_target_length": (int,), "num_proc": (int,),
        "curriculum": (str, type(None)), "curriculum_stages": (int,), "train_limit": (int, type(None)),
        "eval_limit": (int, type(None)), "include_denied": (bool,), "cache_dir": (str, type(None)),
        # the raw rows from a file of `python -m codegen.data export` instead of the corpus (codegen.dataset_file)
        "data_file": (str, type(None)),
        # how prompts read numbers for their slots: "digits" or "words" (codegen.number_slots); default:
        # the tokenizer's own (a tokenizer that records none reads digits)
        "number_reading": (str, type(None)),
        # per-recipe keyword options, e.g. {"wat-problems": {"count": 60000}}
        "recipe_options": (dict, type(None)),
    },
    "training": {
        "torch_threads": (int, str, type(None)), "group_by_length": (bool,), "bf16": (bool, str), "fp16": (bool, str),
        "per_device_train_batch_size": (int,), "per_device_eval_batch_size": (int,),
        "gradient_accumulation_steps": (int,), "learning_rate": _NUM, "weight_decay": _NUM,
        "warmup_steps": _NUM, "max_steps": (int,), "num_train_epochs": _NUM, "eval_steps": (int, float),
        "save_steps": (int, float), "save_total_limit": (int, type(None)), "logging_steps": (int, float),
        "seed": (int,), "lr_scheduler_type": (str,), "label_smoothing_factor": _NUM, "max_grad_norm": _NUM,
        "dataloader_num_workers": (int,), "optim": (str,), "report_to": (str, list),
    },
}
REQUIRED = ("language", "recipes")
DEFAULTS: dict[str, Any] = {
    "terms_count": 8,
    "tokenizer": "checkpoints/tokenizer",
    "output_dir": None,
    "model": {},
    "data": {"max_source_length": 128, "max_target_length": 256, "num_proc": 1, "curriculum": None,
             "eval_limit": 1000},
    "training": {"per_device_train_batch_size": 32, "learning_rate": 1e-3, "max_steps": 1000, "eval_steps": 500,
                 "save_steps": 500, "save_total_limit": 2, "logging_steps": 10, "seed": 42,
                 "group_by_length": True, "torch_threads": None, "bf16": "auto", "fp16": False},
}


def _merge(base: dict, extra: Mapping) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _training_argument_names() -> set[str]:
    import dataclasses

    from transformers import Seq2SeqTrainingArguments

    return {f.name for f in dataclasses.fields(Seq2SeqTrainingArguments)}


def _type_names(types: tuple) -> str:
    if int in types and float in types:
        types = tuple(t for t in types if t is not int)
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false", list: "a list",
             dict: "a mapping", type(None): "null"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def _coerce(value: Any, types: tuple) -> Any:
    """YAML 1.1 reads `3e-4` as a string: accept numeric strings where a number is expected."""
    if isinstance(value, str) and float in types and str not in types:
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _check_type(source: str, name: str, value: Any, types: tuple) -> None:
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{source}: field '{name}': expected {_type_names(types)}, got {value!r}")
    if not isinstance(value, types):
        raise ConfigError(f"{source}: field '{name}': expected {_type_names(types)}, got {value!r}")


def validate(config: Mapping[str, Any], source: str = "<config>") -> dict[str, Any]:
    if not isinstance(config, Mapping):
        raise ConfigError(f"{source}: expected a mapping of fields at the top level, got {type(config).__name__}")
    for key in REQUIRED:
        if key not in config:
            raise ConfigError(f"{source}: field '{key}' is required")
    for key, value in config.items():
        spec = SCHEMA.get(key)
        if spec is None:
            hint = difflib.get_close_matches(key, SCHEMA, n=1)
            raise ConfigError(f"{source}: field '{key}' is unknown" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
        if isinstance(spec, dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: field '{key}': expected a mapping, got {value!r}")
            extra_ok = _training_argument_names() if key == "training" else set()
            for sub, sub_value in value.items():
                sub_spec = spec.get(sub)
                if sub_spec is None:
                    if sub in extra_ok:
                        continue
                    hint = difflib.get_close_matches(sub, list(spec) + sorted(extra_ok), n=1)
                    raise ConfigError(f"{source}: field '{key}.{sub}' is unknown"
                                      + (f" (did you mean '{key}.{hint[0]}'?)" if hint else ""))
                value[sub] = sub_value = _coerce(sub_value, sub_spec)
                _check_type(source, f"{key}.{sub}", sub_value, sub_spec)
        else:
            _check_type(source, key, value, spec)
    if not config["recipes"] or not all(isinstance(r, str) for r in config["recipes"]):
        raise ConfigError(f"{source}: field 'recipes': expected a non-empty list of recipe names")
    model = config.get("model", {})
    lora = model.get("lora")
    if lora is not None and (not isinstance(lora.get("r"), int) or lora["r"] <= 0):
        raise ConfigError(f"{source}: field 'model.lora.r': expected a positive integer, got {lora.get('r')!r}")
    if model.get("position_bias_init", "none") not in POSITION_BIAS_INITS:
        raise ConfigError(f"{source}: field 'model.position_bias_init': expected one of "
                          f"{list(POSITION_BIAS_INITS)}, got {model['position_bias_init']!r}")
    for name in ("d_model", "d_ff", "num_layers", "num_heads"):
        if name in model and model[name] <= 0:
            raise ConfigError(f"{source}: field 'model.{name}': expected a positive integer, got {model[name]!r}")
    if config.get("retrieval") is not None:
        from .retrieval import RetrievalSpec

        try:
            RetrievalSpec.from_mapping(config["retrieval"])
        except ValueError as error:
            raise ConfigError(f"{source}: field {error}") from None
    training = config.get("training", {})
    threads = training.get("torch_threads")
    if isinstance(threads, str) and threads != "auto":
        raise ConfigError(f"{source}: field 'training.torch_threads': expected an integer or 'auto', got {threads!r}")
    for name in ("per_device_train_batch_size", "gradient_accumulation_steps"):
        if name in training and training[name] <= 0:
            raise ConfigError(f"{source}: field 'training.{name}': expected a positive integer, got {training[name]!r}")
    if "learning_rate" in training and training["learning_rate"] <= 0:
        raise ConfigError(f"{source}: field 'training.learning_rate': expected a positive number")
    data = config.get("data", {})
    for name in ("max_source_length", "max_target_length"):
        if name in data and data[name] <= 0:
            raise ConfigError(f"{source}: field 'data.{name}': expected a positive integer, got {data[name]!r}")
    try:
        from .language import get_language

        language = get_language(config["language"])
    except (KeyError, ImportError) as error:
        raise ConfigError(f"{source}: field 'language': {error}") from None
    unknown = [r for r in config["recipes"] if r not in language.recipes]
    if unknown:
        raise ConfigError(f"{source}: field 'recipes': {unknown} not recipes of {language.name!r} "
                          f"(known: {sorted(language.recipes)})")
    for recipe, options in (data.get("recipe_options") or {}).items():
        if recipe not in config["recipes"]:
            raise ConfigError(f"{source}: field 'data.recipe_options.{recipe}': not one of this config's "
                              f"recipes {list(config['recipes'])}")
        if not isinstance(options, Mapping):
            raise ConfigError(f"{source}: field 'data.recipe_options.{recipe}': expected a mapping of "
                              f"options, got {options!r}")
        accepted = language.recipe_parameters(recipe)
        for name in options:
            if name not in accepted:
                raise ConfigError(f"{source}: field 'data.recipe_options.{recipe}.{name}' is unknown "
                                  f"(options of {recipe!r}: {sorted(accepted)})")
        try:
            language.check_recipe_options(recipe, options)
        except ValueError as error:
            raise ConfigError(f"{source}: field 'data.recipe_options.{recipe}': {error}") from None
    return dict(config)


def parse_overrides(items: Sequence[str], source: str = "command line") -> list[tuple[str, Any]]:
    """`--a.b value` / `--a.b=value` pairs (values parsed as YAML)."""
    out = []
    i = 0
    items = list(items)
    while i < len(items):
        item = items[i]
        if not item.startswith("--"):
            raise ConfigError(f"{source}: expected --key value, got {item!r}")
        key = item[2:]
        if "=" in key:
            key, text = key.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(items):
                raise ConfigError(f"{source}: --{key} needs a value")
            text = items[i + 1]
            i += 2
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        out.append((key.replace("-", "_"), value))
    return out


def apply_override(config: dict, key: str, value: Any, source: str) -> None:
    parts = key.split(".")
    if len(parts) == 1 and parts[0] not in SCHEMA:
        owners = [section for section, spec in SCHEMA.items() if isinstance(spec, dict) and parts[0] in spec]
        if not owners and parts[0] in _training_argument_names():
            owners = ["training"]
        if len(owners) != 1:
            raise ConfigError(f"{source}: field '{key}' is unknown" if not owners else
                              f"{source}: field '{key}' is ambiguous: use one of {[o + '.' + key for o in owners]}")
        parts = [owners[0], parts[0]]
    target = config
    for part in parts[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{source}: field '{key}': '{part}' is not a section")
    target[parts[-1]] = value


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The validated config of a YAML file with defaults filled in and overrides applied."""
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise ConfigError(f"{source}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not valid YAML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: not UTF-8 text (a YAML config is expected)") from None
    except OSError as error:  # a directory, no permission
        raise ConfigError(f"{source}: cannot read: {error.strerror or error}") from None
    validate(raw, source)  # the file alone names its own mistakes
    config = _merge(DEFAULTS, raw)
    for key, value in parse_overrides(overrides):
        apply_override(config, key, value, f"{source} (override --{key})")
    config = validate(config, f"{source} (with overrides)" if overrides else source)
    config["_source"] = source
    return config


def checkpoint_training_config(checkpoint: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """(path, config) of the train_config.yaml a checkpoint was trained with, or None where it
    has none (a model made elsewhere). A `checkpoint-N` folder of a run has none of its own: the
    run's, one level up, applies (`codegen.train` writes it when the run starts). Read as
    written, not validated: it is a record of a run, perhaps of an older version of this code."""
    checkpoint = Path(str(checkpoint))
    path = next((p for p in (checkpoint / "train_config.yaml", checkpoint.parent / "train_config.yaml")
                 if p.is_file()), None)
    if path is None:
        return None
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: unreadable training config ({error})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a mapping (the training config), got {type(config).__name__}")
    return path, config
