"""Fine-tune the pretrained Salesforce/codet5-small (60M parameters) on name (+ terms) -> LODA,
with the preset `configs/codet5-small.yaml`. Needs the Hugging Face hub (or a local copy of
the model) and the LODA corpus; a GPU is strongly advised for the full 30,000 steps.

    python examples/finetune_codet5.py --corpus PATH --max-steps 200          # a quick try
    python examples/finetune_codet5.py --corpus PATH --lora                   # LoRA adapters only
    python examples/finetune_codet5.py --corpus PATH --pretrained ~/models/codet5-small   # offline copy
    accelerate launch examples/finetune_codet5.py --corpus PATH               # several GPUs

Extra `--section.key value` options go to the config (e.g. `--training.learning_rate 1e-4`).
This is `python -m codegen.train --config configs/codet5-small.yaml ...` called from Python.
Offline, and without a local copy, it stops with a message instead of a traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from codegen import train  # noqa: E402

LORA = "{r: 16, alpha: 32, dropout: 0.05, target_modules: [q, v]}"


def hub_problem(model: str) -> str | None:
    """Why `model` cannot be loaded (None where it can: a local directory, in the cache, or the hub answers)."""
    if Path(model).expanduser().is_dir():
        return None
    from huggingface_hub import HfApi, try_to_load_from_cache

    try:
        if isinstance(try_to_load_from_cache(model, "config.json"), str):
            return None
        HfApi().model_info(model, timeout=10)
    except Exception as error:  # no network, DNS, proxy, invalid name, unknown repository...
        return f"{type(error).__name__}: {error}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/codet5-small.yaml")
    parser.add_argument("--corpus", help="LODA corpus (default $CODEGEN_LODA_CORPUS)")
    parser.add_argument("--pretrained", default="Salesforce/codet5-small", help="hub name or local directory")
    parser.add_argument("--max-steps", type=int, help="default: the config's (30000)")
    parser.add_argument("--output-dir", help="default: the config's (runs/codet5-small-loda)")
    parser.add_argument("--lora", action="store_true", help=f"train LoRA adapters {LORA} instead of all weights")
    args, overrides = parser.parse_known_args(argv)

    problem = hub_problem(args.pretrained)
    if problem:
        print(f"error: cannot load {args.pretrained}: not a local directory, not in the Hugging Face cache, and "
              f"the hub did not answer ({problem}).\nRun this online once (the download is cached), or download "
              "the model elsewhere and pass --pretrained DIR.", file=sys.stderr)
        return 1
    command = ["--config", str(REPO / args.config), "--model.pretrained", args.pretrained, *overrides]
    for flag, value in (("--corpus", args.corpus), ("--max-steps", args.max_steps), ("--output-dir", args.output_dir)):
        if value is not None:
            command += [flag, str(value)]
    if args.lora:
        command += ["--model.lora", LORA]
    print("python -m codegen.train " + " ".join(command), file=sys.stderr)
    try:
        status = train.main(command)  # last stdout line: a JSON summary with output_dir
    except OSError as error:  # the download failed half-way, or the disk is full
        print(f"error: {error}", file=sys.stderr)
        return 1
    if status == 0:
        print("next: python examples/generate_loda.py --checkpoint OUTPUT_DIR (the output_dir above)", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
