"""Training throughput: our Seq2SeqTrainer setup vs a plain hand-written PyTorch loop,
same model (same initial weights), same batches (same sampler and collator, checked by
hashing each batch), same optimizer settings.

  python benchmarks/train.py [--config configs/loda-tiny.yaml] [--corpus PATH] [--steps 30] [--warmup 5]

Prints a table and writes benchmarks/results/train.json. Timing covers steps warmup+1..steps
(data loading and collation included in both); the machine's load average is recorded, since
on a shared machine it dominates the figures.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _hash(tensor) -> str:
    return hashlib.sha1(tensor.cpu().numpy().tobytes()).hexdigest()[:16]


class _SamplerHost:
    """Just enough of a Trainer for `Trainer._get_train_sampler` (the plain loop uses the same sampler)."""

    def __init__(self, args, train_dataset):
        self.args = args
        self.train_dataset = train_dataset
        self.processing_class = None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO / "configs" / "loda-tiny.yaml"))
    parser.add_argument("--corpus", default=None)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", default=None, help="torch threads (default: the config's)")
    parser.add_argument("--no-fused", dest="fused", action="store_false",
                        help="plain loop with torch's default AdamW instead of the fused one the Trainer uses")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "train.json"))
    args, overrides = parser.parse_known_args(argv)

    import torch
    from transformers import TrainerCallback, set_seed

    from codegen.config import load_config
    from codegen.data import build_dataset
    from codegen.model import build_model, count_parameters
    from codegen.train import _Collator, _trainer_class, auto_threads, prepare_tokenizer, training_arguments

    config = load_config(args.config, overrides)
    corpus = args.corpus or config.get("corpus") or os.environ.get("CODEGEN_LODA_CORPUS")
    threads = args.threads or config["training"].get("torch_threads") or torch.get_num_threads()
    threads = auto_threads() if threads == "auto" else int(threads)
    torch.set_num_threads(threads)
    config["training"].update(max_steps=args.steps, save_steps=10 ** 9, eval_steps=10 ** 9, logging_steps=10 ** 9,
                              report_to="none", disable_tqdm=True)
    config["training"]["torch_threads"] = threads
    seed = int(config["training"].get("seed", 42))

    tokenizer = prepare_tokenizer(config)
    data = config["data"]
    dataset = build_dataset(corpus, config["language"], config["recipes"], tokenizer=tokenizer,
                            max_source_length=data["max_source_length"], max_target_length=data["max_target_length"],
                            terms_count=config.get("terms_count", 8), log=lambda m: print(m, file=sys.stderr))
    train_set = dataset["train"].select_columns(["input_ids", "labels", "length"])
    set_seed(seed)
    model = build_model(config.get("model", {}), tokenizer)
    initial = copy.deepcopy(model.state_dict())
    batch = int(config["training"]["per_device_train_batch_size"])
    load = {"before": os.getloadavg()}

    # -- plain loop (run before and after the Trainer: the load of a shared machine drifts) ----
    from torch.utils.data import DataLoader

    train_cfg = config["training"]
    Trainer = _trainer_class()
    workdir = REPO / "runs" / "bench-train"
    targs = training_arguments(config, str(workdir), has_eval=False)

    def plain_loop() -> tuple[list[float], list[str]]:
        set_seed(seed)
        plain = build_model(config.get("model", {}), tokenizer)
        plain.load_state_dict(initial)
        plain.train()
        sampler = Trainer._get_train_sampler(_SamplerHost(targs, train_set), train_set)
        loader = DataLoader(train_set, batch_size=batch, sampler=sampler, collate_fn=_Collator(tokenizer))
        # the implementation the Trainer picks (adamw_torch_fused); the CPU default (a per-tensor
        # for-loop) is much slower on a model of many small tensors
        optimizer = torch.optim.AdamW(plain.parameters(), lr=float(train_cfg.get("learning_rate", 1e-3)),
                                      weight_decay=float(train_cfg.get("weight_decay", 0.0)), fused=args.fused)
        set_seed(seed)
        hashes, marks_ = [], [time.perf_counter()]
        for step, inputs in enumerate(loader):
            if step >= args.steps:
                break
            hashes.append(_hash(inputs["input_ids"]))
            loss = plain(**inputs).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(plain.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            marks_.append(time.perf_counter())
        return marks_, hashes

    plain_marks_1, hashes_plain = plain_loop()
    load["after_plain_1"] = os.getloadavg()

    # -- Trainer ------------------------------------------------------------------------
    marks: list[float] = []
    hashes_trainer: list[str] = []

    class Clock(TrainerCallback):
        def on_train_begin(self, args_, state, control, **kwargs):
            marks.append(time.perf_counter())

        def on_step_end(self, args_, state, control, **kwargs):
            marks.append(time.perf_counter())

    class HashingTrainer(Trainer):
        def training_step(self, model_, inputs, num_items_in_batch=None):
            hashes_trainer.append(_hash(inputs["input_ids"]))
            return super().training_step(model_, inputs, num_items_in_batch)

    set_seed(seed)
    trainer = HashingTrainer(model=model, args=targs, data_collator=_Collator(tokenizer), train_dataset=train_set,
                             processing_class=tokenizer, callbacks=[Clock()])
    trainer.train()
    tokens_per_sample = trainer.tokens_seen / max(1, trainer.samples_seen)
    load["after_trainer"] = os.getloadavg()

    plain_marks_2, _ = plain_loop()
    load["after_plain_2"] = os.getloadavg()

    def rates(marks_: list[float]) -> tuple[float, float]:
        """(mean, median) samples/s over the timed steps (after warmup)."""
        steps = [b - a for a, b in zip(marks_[args.warmup:], marks_[args.warmup + 1:])]
        return len(steps) * batch / sum(steps), batch / statistics.median(steps)

    trainer_mean, trainer_median = rates(marks)
    plain_runs = [rates(plain_marks_1), rates(plain_marks_2)]
    plain_mean = statistics.mean(r[0] for r in plain_runs)
    plain_median = statistics.mean(r[1] for r in plain_runs)
    same = hashes_plain == hashes_trainer[: len(hashes_plain)]
    result = {
        "config": str(Path(args.config).relative_to(REPO)) if Path(args.config).is_absolute() else args.config,
        "parameters": count_parameters(model), "batch_size": batch, "steps_timed": args.steps - args.warmup,
        "torch_threads": threads, "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
        "load_average_1_5_15": load, "same_batches": same, "tokens_per_sample": round(tokens_per_sample, 1),
        "trainer_samples_per_second": round(trainer_mean, 2), "trainer_samples_per_second_median_step": round(
            trainer_median, 2),
        "plain_samples_per_second": round(plain_mean, 2), "plain_samples_per_second_median_step": round(
            plain_median, 2),
        "plain_runs_mean_median": [[round(a, 2), round(b, 2)] for a, b in plain_runs],
        "trainer_over_plain": round(trainer_mean / plain_mean, 3),
        "trainer_over_plain_median_step": round(trainer_median / plain_median, 3),
        "plain_optimizer": "AdamW(fused=True)" if args.fused else "AdamW (default implementation)",
        "trainer_optimizer": f"{type(trainer.optimizer).__name__} "
                             f"(fused={getattr(trainer.optimizer, 'defaults', {}).get('fused')})",
        "torch": torch.__version__,
    }
    print(f"{'loop':<28}{'samples/s':>12}{'median-step':>13}{'tokens/s':>12}")
    for name, mean, median in (("Seq2SeqTrainer (codegen)", trainer_mean, trainer_median),
                               ("plain PyTorch loop (x2)", plain_mean, plain_median)):
        print(f"{name:<28}{mean:>12.2f}{median:>13.2f}{mean * tokens_per_sample:>12.0f}")
    print(f"same batches: {same}; trainer/plain = {result['trainer_over_plain']} "
          f"(median step: {result['trainer_over_plain_median_step']}); torch threads {threads}; load average {load}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
