"""Train a seq2seq code model with Hugging Face `Seq2SeqTrainer`.

  python -m codegen.train --config configs/loda-tiny.yaml [--corpus PATH | --data FILE] [--max-steps N]
                          [--output-dir DIR] [--resume] [--training.learning_rate 3e-4 ...]

`--data FILE` (or `data.data_file`): the raw rows from a file of `python -m codegen.data export`,
to train where the corpus is not (codegen.dataset_file).

Works unchanged under `accelerate launch -m codegen.train ...` and `torchrun -m codegen.train ...`
(data parallel). Length-grouped batches, gradient accumulation, bf16/fp16 where the GPU has it,
validation loss, checkpoints every `save_steps` (`save_total_limit`), `--resume` from the last
complete checkpoint (same step count and data order), TensorBoard logs under OUTPUT/runs.

At the end OUTPUT holds the model (safetensors), tokenizer, config, codegen.json, loss.png and
a model card README.md; the LAST stdout line is one JSON object:
  {"steps", "train_samples_per_second", "train_tokens_per_second", "loss_first", "loss_last", "output_dir", ...}
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from .cli import run_main
from .config import ConfigError, load_config
from .language import InputError, get_language

REPO = Path(__file__).resolve().parent.parent
BATCH_LOG_ENV = "CODEGEN_BATCH_LOG"  # test hook: append one hash per training batch to this file
STEP_DELAY_ENV = "CODEGEN_STEP_DELAY"  # test hook: sleep this many seconds per step (to kill a run mid-way)


def resolve_path(value: str, config_source: str | None = None) -> Path:
    """A path from a config: as given if it exists (relative to the working directory), else
    relative to the repository root, else to the config file's directory."""
    path = Path(value).expanduser()
    if path.is_absolute() or path.exists():
        return path
    for base in (REPO, Path(config_source).parent if config_source else None):
        if base is not None and (base / path).exists():
            return base / path
    return path


def last_complete_checkpoint(output_dir: str | Path) -> str | None:
    """The newest `checkpoint-N` whose trainer_state.json was written (the Trainer writes it
    last), so a run killed while saving resumes from the previous complete checkpoint."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    found = []
    for entry in output_dir.iterdir():
        match = re.fullmatch(r"checkpoint-(\d+)", entry.name)
        if match and entry.is_dir() and (entry / "trainer_state.json").exists():
            found.append((int(match.group(1)), entry))
    return str(max(found)[1]) if found else None


def auto_threads() -> int:
    """Threads for a CPU run: the cores not already busy (1-minute load average), at least 1.
    On a shared, oversubscribed machine one thread is several times faster than two: the
    threads of a matmul wait on each other while the OS runs other processes."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return max(1, min(cores, int(cores - load + 0.5)))


def write_train_config(output_dir: str | Path, config: dict[str, Any]) -> Path:
    """OUTPUT/train_config.yaml: the config as run (overrides applied), written atomically."""
    import yaml

    from .reports import atomic_write

    Path(output_dir).mkdir(parents=True, exist_ok=True)
    return atomic_write(Path(output_dir) / "train_config.yaml",
                        yaml.safe_dump({k: v for k, v in config.items() if not k.startswith("_")}, sort_keys=False))


def _precision(setting: Any, kind: str) -> bool:
    import torch

    if setting in (True, False):
        if setting and not torch.cuda.is_available():
            return False  # CPU runs stay fp32: mixed precision there is slower and lossy
        return bool(setting)
    if setting == "auto":
        if not torch.cuda.is_available():
            return False
        if kind == "bf16":
            return torch.cuda.is_bf16_supported()
        return not torch.cuda.is_bf16_supported()
    raise ConfigError(f"field 'training.{kind}': expected true, false or auto, got {setting!r}")


class _Collator:
    """Pads `input_ids` / `labels` (labels with -100); drops the `length` column."""

    def __init__(self, tokenizer, pad_to_multiple_of: int | None = None):
        from transformers import DataCollatorForSeq2Seq

        self.inner = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100, pad_to_multiple_of=pad_to_multiple_of)

    def __call__(self, features):
        return self.inner([{"input_ids": f["input_ids"], "labels": f["labels"]} for f in features])


class ShuffledLengthGroupedSampler:
    """Length-grouped batches in random order.

    Like transformers' LengthGroupedSampler, indices are shuffled, cut into mega-batches of
    `mega` batches and sorted by length inside each, so a batch holds examples of similar
    length (little padding). Unlike it, the batches are then shuffled, so training does not
    sweep from the longest to the shortest batch every mega-batch (a saw-tooth loss curve
    and a hidden length curriculum). A final partial batch stays last, keeping batch
    boundaries aligned with the DataLoader's. Uses the global torch RNG, like the Trainer's
    own samplers, so a resumed run replays the same order."""

    def __init__(self, lengths: Sequence[int], batch_size: int, mega: int = 50):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.mega = mega

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        import torch

        n, size = len(self.lengths), self.batch_size * self.mega
        perm = torch.randperm(n).tolist()
        batches = []
        for start in range(0, n, size):
            chunk = sorted(perm[start:start + size], key=lambda i: -self.lengths[i])
            batches += [chunk[j:j + self.batch_size] for j in range(0, len(chunk), self.batch_size)]
        tail = [batches.pop()] if batches and len(batches[-1]) < self.batch_size else []
        order = torch.randperm(len(batches)).tolist()
        for b in order:
            yield from batches[b]
        for batch in tail:
            yield from batch


def time_limit_callback(deadline: float):
    """A Trainer callback that ends training cleanly once the clock passes `deadline` (epoch
    seconds): the step in flight finishes, a checkpoint is saved and the final model written as
    after `max_steps`, so a job on a machine lent for a fixed time (a batch queue, a rented GPU)
    stops with everything on disk, and `--resume` continues the same learning-rate schedule."""
    from transformers import TrainerCallback

    class TimeLimit(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if time.time() >= deadline:
                control.should_training_stop = True
                control.should_save = True
            return control

    return TimeLimit()


def _trainer_class():
    from transformers import Seq2SeqTrainer

    class CodegenTrainer(Seq2SeqTrainer):
        """Counts the samples and (non-padding) tokens it trains on; length-grouped batches
        come in random order (`ShuffledLengthGroupedSampler`)."""

        samples_seen = 0
        tokens_seen = 0

        def _get_train_sampler(self, train_dataset=None):
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            if (self.args.train_sampling_strategy == "group_by_length" and hasattr(dataset, "column_names")
                    and self.args.length_column_name in dataset.column_names):
                return ShuffledLengthGroupedSampler(dataset[self.args.length_column_name],
                                                    self.args.per_device_train_batch_size)
            return super()._get_train_sampler(train_dataset)

        def training_step(self, model, inputs, num_items_in_batch=None):
            ids = inputs["input_ids"]
            self.samples_seen += int(ids.shape[0])
            self.tokens_seen += int(inputs["attention_mask"].sum()) + int((inputs["labels"] != -100).sum())
            log = os.environ.get(BATCH_LOG_ENV)
            if log and self.args.process_index == 0:
                digest = hashlib.sha1(ids.cpu().numpy().tobytes()).hexdigest()[:16]
                with open(log, "a") as handle:
                    handle.write(f"{self.state.global_step + 1} {digest}\n")
            delay = float(os.environ.get(STEP_DELAY_ENV) or 0)
            if delay > 0:
                time.sleep(delay)
            return super().training_step(model, inputs, num_items_in_batch)

        def _issue_warnings_after_load(self, load_result: Any) -> None:
            # A checkpoint saves a tied weight once (T5: shared.weight, not the embeddings and
            # lm_head that share it), so `--resume` loads it with those keys "missing": known and
            # harmless, as the model ties them to the loaded weight. Only other missing keys warn.
            missing = untied_missing_keys(load_result.missing_keys, tied_weight_keys(self.model))
            if len(missing) != len(load_result.missing_keys):
                self.model.tie_weights()
            super()._issue_warnings_after_load(load_result._replace(missing_keys=missing))

    return CodegenTrainer


def tied_weight_keys(model: Any) -> dict[str, str]:
    """tied parameter name -> the name of the weight it shares (transformers 5 keeps a mapping;
    4 a list of names whose source is the input embedding, here "shared.weight" or unknown)."""
    tied = getattr(model, "all_tied_weights_keys", None) or getattr(model, "_tied_weights_keys", None) or {}
    if isinstance(tied, dict):
        return {str(key): str(value) for key, value in tied.items()}
    return {str(key): "" for key in tied}


def untied_missing_keys(missing: Sequence[str], tied: dict[str, str]) -> list[str]:
    """The missing keys of a checkpoint load that are not explained by weight tying: a tied key
    is explained where the weight it shares was loaded (is not missing itself)."""
    absent = set(missing)
    return [key for key in missing if key not in tied or tied[key] in absent]


def prepare_tokenizer(config: dict[str, Any]):
    from .tokenizer import add_language_tokens, load_tokenizer

    spec = config.get("tokenizer") or "checkpoints/tokenizer"
    pretrained = config.get("model", {}).get("pretrained")
    if spec == "pretrained":
        if not pretrained:
            raise ConfigError(f"{config['_source']}: field 'tokenizer': 'pretrained' needs model.pretrained")
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(pretrained)
        meta_file = Path(pretrained) / "codegen_tokenizer.json"
        if meta_file.exists():  # its codegen meta (number reading, ...) goes with it
            tokenizer.codegen_meta = json.loads(meta_file.read_text())
        add_language_tokens(tokenizer, [config["language"]])
        return _with_text_encoder(_with_context(_with_number_reading(tokenizer, config), config), config)
    path = resolve_path(spec, config.get("_source"))
    if not (path / "tokenizer_config.json").exists():
        raise ConfigError(f"{config['_source']}: field 'tokenizer': no tokenizer at {path} "
                          "(build one with `python -m codegen.tokenizer build --out DIR`)")
    tokenizer = load_tokenizer(path)
    add_language_tokens(tokenizer, [config["language"]])  # no-op when it already has them
    return _with_text_encoder(_with_context(_with_number_reading(tokenizer, config), config), config)


def retrieval_spec(config: dict[str, Any]):
    """The config's `retrieval` section as a `RetrievalSpec`, or None."""
    from .retrieval import RetrievalSpec

    section = config.get("retrieval")
    return None if section is None else RetrievalSpec.from_mapping(section, f"{config.get('_source')}: retrieval")


def _with_context(tokenizer, config: dict[str, Any]):
    """With a `retrieval` section: the tokenizer gets the context tokens and the spec's budgets."""
    spec = retrieval_spec(config)
    if spec is not None:
        from .tokenizer import add_context_tokens

        longest = int((config.get("data") or {}).get("max_source_length", 0))
        if longest < spec.source_tokens:
            raise ConfigError(f"{config.get('_source')}: field 'data.max_source_length': {longest} is shorter than a "
                              f"prompt with retrieval context ({spec.source_tokens} tokens: retrieval budgets)")

        add_context_tokens(tokenizer, prompt_tokens=spec.prompt_tokens, name_tokens=spec.name_tokens,
                           code_tokens=spec.code_tokens)
    return tokenizer


def _with_text_encoder(tokenizer, config: dict[str, Any]):
    """With `model.text_encoder`: the tokenizer's codegen meta names it, so that its prompts (in
    training and, saved with the model, in generation) are read by that encoder's tokenizer."""
    name = (config.get("model") or {}).get("text_encoder")
    if name is None:
        return tokenizer
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{config.get('_source')}: field 'model.text_encoder': expected a name or folder, got {name!r}")
    tokenizer.codegen_meta = {**(getattr(tokenizer, "codegen_meta", None) or {}), "text_encoder": name}
    return tokenizer


def _with_number_reading(tokenizer, config: dict[str, Any]):
    """The tokenizer with `data.number_reading` recorded in its codegen meta, where the config sets
    one: saved with the model (codegen_tokenizer.json), so generation reads numbers as training did."""
    from .number_slots import READINGS

    reading = (config.get("data") or {}).get("number_reading")
    if reading is None:
        return tokenizer
    if reading not in READINGS:
        raise ConfigError(f"{config.get('_source')}: field 'data.number_reading': {reading!r} is not one of "
                          f"{', '.join(READINGS)}")
    tokenizer.codegen_meta = {**(getattr(tokenizer, "codegen_meta", None) or {}), "number_reading": reading}
    return tokenizer


def training_arguments(config: dict[str, Any], output_dir: str, has_eval: bool):
    import torch
    from transformers import Seq2SeqTrainingArguments

    train = dict(config["training"])
    train.pop("torch_threads", None)
    group = train.pop("group_by_length", True)
    bf16 = _precision(train.pop("bf16", "auto"), "bf16")
    fp16 = _precision(train.pop("fp16", False), "fp16") and not bf16
    curriculum = config["data"].get("curriculum")
    strategy = "sequential" if curriculum else ("group_by_length" if group else "random")
    defaults = dict(
        output_dir=output_dir, eval_strategy="steps" if has_eval else "no", save_strategy="steps",
        logging_first_step=True, report_to=["tensorboard"], remove_unused_columns=False,
        train_sampling_strategy=strategy, length_column_name="length", lr_scheduler_type="linear",
        warmup_steps=0.03, per_device_eval_batch_size=train.get("per_device_train_batch_size", 32) * 2,
        predict_with_generate=False, dataloader_num_workers=0, dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=False,
    )
    defaults.update(train)
    defaults["bf16"], defaults["fp16"] = bf16, fp16
    import dataclasses

    known = {f.name for f in dataclasses.fields(Seq2SeqTrainingArguments)}
    defaults = {k: v for k, v in defaults.items() if k in known}
    try:
        return Seq2SeqTrainingArguments(**defaults)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{config['_source']}: section 'training': {error}") from None


def run(config: dict[str, Any], *, corpus: str | None, output_dir: str, resume: bool = False,
        log=print, time_limit: float | None = None, data_file: str | None = None) -> dict[str, Any]:
    import torch

    from .card import TrainingClock, loss_points, model_card, plot_losses
    from .data import build_dataset, config_data_options
    from .model import build_model, count_parameters, merge_lora, write_meta

    started = time.time()
    clock = TrainingClock(started)  # this session's wall time, plus the earlier ones a resumed checkpoint recorded
    threads = config["training"].get("torch_threads")
    if threads == "auto":
        threads = auto_threads() if not torch.cuda.is_available() else None
    if threads:
        torch.set_num_threads(int(threads))
    tokenizer = prepare_tokenizer(config)
    data_cfg = config["data"]
    options = config_data_options(config)
    # arguments first: in a distributed run the main process builds (and caches) the data
    # while the others wait, then they read the cache
    args = training_arguments(config, output_dir, has_eval=(data_cfg.get("eval_limit") != 0))
    with args.main_process_first(desc="dataset"):
        dataset = build_dataset(
            corpus, config["language"], config["recipes"], tokenizer=tokenizer,
            max_source_length=data_cfg["max_source_length"], max_target_length=data_cfg["max_target_length"],
            num_proc=data_cfg.get("num_proc", 1), curriculum=data_cfg.get("curriculum"),
            curriculum_stages=data_cfg.get("curriculum_stages", 4), seed=config["training"].get("seed", 42),
            train_limit=data_cfg.get("train_limit"), eval_limit=data_cfg.get("eval_limit"),
            cache_dir=data_cfg.get("cache_dir"), log=log, retrieval=retrieval_spec(config), data_file=data_file,
            **options)
    columns = ["input_ids", "labels", "length"]
    train_set = dataset["train"].select_columns(columns)
    eval_set = dataset["validation"].select_columns(columns) if len(dataset["validation"]) else None
    if len(train_set) == 0:
        raise ConfigError(f"{config['_source']}: no training records (check recipes and data.max_target_length)")
    if eval_set is None and args.eval_strategy != "no":
        args = training_arguments(config, output_dir, has_eval=False)

    from transformers import set_seed

    set_seed(int(config["training"].get("seed", 42)))  # same initial weights on every run of a config
    checkpoint = last_complete_checkpoint(output_dir) if resume else None
    model_cfg = dict(config.get("model", {}))
    if checkpoint is not None and model_cfg.get("pretrained") and not model_cfg.get("lora"):
        # the checkpoint holds the architecture and the weights the Trainer restores: a resumed
        # run needs neither the hub (offline) nor the first stage's directory it started from
        # (a LoRA checkpoint holds only adapters, so there the base model is still needed)
        model_cfg["pretrained"] = str(checkpoint)
    model = build_model(model_cfg, tokenizer)
    parameters = count_parameters(model)
    trainer = _trainer_class()(
        model=model, args=args, data_collator=_Collator(tokenizer), train_dataset=train_set, eval_dataset=eval_set,
        processing_class=tokenizer,
        callbacks=[clock] + ([time_limit_callback(started + time_limit)] if time_limit else []))
    language = get_language(config["language"])
    corpus_name, corpus_hash = "", ""
    try:
        corpus_name, corpus_hash = language.corpus_key(corpus)
    except (FileNotFoundError, OSError):
        pass
    data_source = None
    if data_file is not None:  # the corpus the file was exported from
        from .dataset_file import file_hash, read_header

        header = read_header(data_file)
        corpus_name, corpus_hash = header.get("corpus") or "", header.get("corpus_hash") or ""
        data_source = {"file": Path(data_file).name, "sha1": file_hash(data_file), "recipes": header.get("recipes")}
    from .tokenizer import number_reading

    meta = {
        "language": config["language"], "recipes": list(config["recipes"]),
        "terms_in_prompt": config.get("terms_count", 8)
        if any(r in language.terms_recipes for r in config["recipes"]) else 0,
        "max_source_length": data_cfg["max_source_length"], "max_target_length": data_cfg["max_target_length"],
        "corpus": corpus_name, "corpus_hash": corpus_hash, "records": getattr(dataset, "full_sizes", None),
        "vocab_size": len(tokenizer), "parameters": parameters, "config_file": config.get("_source"),
        "leakage": getattr(dataset, "leakage_report", None),
        "number_reading": number_reading(tokenizer),
    }
    if model_cfg.get("text_encoder"):
        meta["text_encoder"] = model_cfg["text_encoder"]
    if data_source is not None:
        meta["data_file"] = data_source
    if retrieval_spec(config) is not None:
        meta["retrieval"] = retrieval_spec(config).to_dict()
    if trainer.is_world_process_zero():
        # a run in progress already has its meta, so its checkpoint-N/ folders (which read the run's
        # codegen.json) can be evaluated and generated with while it trains
        write_meta(output_dir, {**meta, "steps": None, "in_progress": True})
        write_train_config(output_dir, config)  # what a mid-run checkpoint was trained on, for held-out sets
    if resume:
        log(f"train: resuming from {checkpoint}" if checkpoint else
            f"train: --resume but no complete checkpoint in {output_dir}; starting from scratch")
    log(f"train: {parameters:,} parameters, {len(train_set)} train / {len(eval_set) if eval_set else 0} validation "
        f"examples, {torch.get_num_threads()} torch threads, device {args.device}")
    train_started = time.time()
    output = trainer.train(resume_from_checkpoint=checkpoint)
    train_seconds = time.time() - train_started
    metrics = dict(output.metrics)
    eval_loss = None
    if eval_set is not None:
        done = [e["eval_loss"] for e in trainer.state.log_history
                if "eval_loss" in e and e.get("step") == trainer.state.global_step]
        eval_loss = done[-1] if done else trainer.evaluate().get("eval_loss")

    history = trainer.state.log_history
    train_points, _ = loss_points(history)
    runtime = metrics.get("train_runtime") or train_seconds
    world = max(1, int(args.world_size))
    results = {
        "steps": int(trainer.state.global_step),
        # all processes of a data-parallel run (each counts its own share; rank 0's times world size)
        "train_samples_per_second": round(trainer.samples_seen * world / runtime, 3) if runtime else None,
        "train_tokens_per_second": round(trainer.tokens_seen * world / runtime, 1) if runtime else None,
        "loss_first": train_points[0][1] if train_points else None,
        "loss_last": train_points[-1][1] if train_points else None,
        "eval_loss": eval_loss,
        "output_dir": str(output_dir),
        **clock.summary(),  # wall_seconds (this session), wall_seconds_total, sessions
        "train_runtime": round(runtime, 2),
        "samples_this_process": trainer.samples_seen,
        "device": str(args.device) + ("" if torch.cuda.is_available() else f" ({torch.get_num_threads()} threads)"),
        "parameters": parameters,
    }
    if trainer.is_world_process_zero():
        out = Path(output_dir)
        merged = merge_lora(trainer.model)
        from .text_encoder import trainable_state_dict

        # a frozen text encoder's weights are its package's, not the checkpoint's
        merged.save_pretrained(str(out), safe_serialization=True, state_dict=trainable_state_dict(merged))
        from .tokenizer import save_tokenizer

        save_tokenizer(tokenizer, out)
        meta.update({
            "steps": results["steps"], "loss_first": results["loss_first"], "loss_last": results["loss_last"],
            "eval_loss": eval_loss, "wall_seconds": results["wall_seconds"],
            "wall_seconds_total": results["wall_seconds_total"], "sessions": results["sessions"],
        })
        write_meta(out, meta)
        write_train_config(out, config)
        plot_losses(history, out / "loss.png", title=f"{Path(str(config.get('_source'))).stem}: loss")
        (out / "README.md").write_text(model_card(
            name=out.name, meta=meta, config=config, results=results, parameters=parameters, plot_file="loss.png"))
        (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="YAML config (configs/*.yaml)")
    parser.add_argument("--corpus", default=None, help="LODA corpus; default: config `corpus`, then $CODEGEN_LODA_CORPUS")
    parser.add_argument("--data", default=None, metavar="FILE",
                        help="the raw dataset from FILE (`python -m codegen.data export`) instead of the corpus; "
                             "default: config `data.data_file`")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--output-dir", default=None)
    parser.add_argument("--resume", action="store_true", help="continue from the last complete checkpoint")
    parser.add_argument("--time-limit", type=float, default=None, metavar="MINUTES",
                        help="stop after this many minutes of this session (data preparation included), "
                             "with a checkpoint saved; `--resume` continues")
    args, extra = parser.parse_known_args(argv)
    try:
        # the arguments alone first: validating a config imports transformers (seconds to tens of seconds)
        if args.max_steps is not None and args.max_steps <= 0:
            raise ConfigError("--max-steps: expected a positive integer")
        if args.time_limit is not None and args.time_limit <= 0:
            raise ConfigError("--time-limit: expected a positive number of minutes")
        if args.output_dir and Path(args.output_dir).exists() and not Path(args.output_dir).is_dir():
            raise ConfigError(f"--output-dir {args.output_dir} is a file; give a directory")
        config = load_config(args.config, extra)
        if args.max_steps is not None:
            config["training"]["max_steps"] = args.max_steps
        output_dir = args.output_dir or config.get("output_dir") or f"runs/{Path(args.config).stem}"
        corpus = args.corpus or config.get("corpus") or os.environ.get("CODEGEN_LODA_CORPUS")
        language = get_language(config["language"])
        data_file = args.data or (str(resolve_path(config["data"]["data_file"], config.get("_source")))
                                  if config["data"].get("data_file") else None)
        if data_file:
            from .data import config_data_options
            from .dataset_file import check

            # absent, not ours, or without a recipe the config asks for: one line now, before the model is built
            check(data_file, language, config["recipes"], **config_data_options(config))
            config["data"]["data_file"] = data_file
            corpus = None  # the rows come from the file
        reading = [r for r in config["recipes"] if r in language.corpus_recipes]
        if reading and not corpus and not data_file:
            raise ConfigError(f"no corpus for the recipe(s) {', '.join(reading)}: pass --corpus PATH, set `corpus:` "
                              "in the config, or export CODEGEN_LODA_CORPUS")
        if corpus:
            language.corpus_key(corpus)  # a wrong path or a text file fails now, not after the model is built
        if Path(output_dir).exists() and not Path(output_dir).is_dir():
            raise ConfigError(f"--output-dir {output_dir} is a file; give a directory")
        if os.environ.get("LOCAL_RANK") not in (None, "0"):
            log = lambda message: None  # noqa: E731 - only rank 0 talks
        else:
            log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
        results = run(config, corpus=corpus, output_dir=output_dir, resume=args.resume, log=log,
                      time_limit=args.time_limit * 60 if args.time_limit else None, data_file=data_file)
    except (ConfigError, InputError) as error:  # InputError: a damaged corpus, found when it is read
        print(f"error: {error}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        # e.g. a hub model name while offline: transformers raises OSError after its retries
        print(f"error: {error}", file=sys.stderr)
        return 1
    if os.environ.get("LOCAL_RANK") in (None, "0"):
        print(json.dumps({k: results[k] for k in ("steps", "train_samples_per_second", "train_tokens_per_second",
                                                   "loss_first", "loss_last", "output_dir", "eval_loss",
                                                   "wall_seconds", "wall_seconds_total", "sessions")}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
