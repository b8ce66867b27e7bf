"""Generation throughput: programs/s and tokens/s for every decoding mode of every backend.

    python benchmarks/generate.py [--checkpoint DIR | --random-init configs/loda-tiny.yaml]
        [--corpus PATH] [--prompts 32] [--batch-sizes 1,8,32] [--samples 8] [--beams 4]
        [--backends hf,ctranslate2]

Prompts are the descriptions of a seeded sample of the test split (or a fixed list where no
corpus is given); for a WAT checkpoint, generated problem texts. For every backend, mode (greedy;
sampling with K samples per prompt; beam search with B beams, as `python -m codegen.generate`
decodes a checkpoint that recommends beams), constrained or free, and batch size (prompts decoded
together), the prompts are decoded once as a warm-up and once timed; a mode a backend does not
offer is listed as "not offered" (with the reason) rather than measured. A row reports decoded
programs/s and generated tokens/s (EOS included), the share of outputs that parse, wall and
process-CPU seconds (CPU time is less sensitive to other load on the machine), the 1-minute load
average when the row started and, for the ctranslate2 backend, how many outputs the grammar
refused and how they were brought into it. The executions of the distinct parsed programs of the
greedy run are timed separately in the worker pool. `--random-init` measures an untrained model
of a config's size (its outputs are longer than a trained model's, so the figures are a lower
bound). Prints a table per row, a summary table (constrained: programs/s by mode, backend and
batch) and writes benchmarks/results/generate.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

FALLBACK_PROMPTS = [
    "Fibonacci numbers", "The prime numbers", "The squares: a(n) = n^2", "Triangular numbers",
    "Number of divisors of n", "Powers of 2", "Catalan numbers", "Sum of digits of n", "The odd numbers",
    "a(n) = 3*n + 1", "Expansion of 1/(1-x-x^2)", "Number of partitions of n", "Factorial numbers",
    "a(n) = n*(n+1)*(n+2)/6", "Lucas numbers", "Number of 1's in binary expansion of n",
]


def random_checkpoint(config_path: str, out: Path) -> Path:
    """An untrained model of a training config's size with the config's tokenizer, saved as a checkpoint."""
    import torch
    import yaml

    from codegen.model import build_model, write_meta
    from codegen.tokenizer import load_tokenizer, save_tokenizer

    config = yaml.safe_load(Path(config_path).read_text())
    tokenizer = load_tokenizer(REPO / config.get("tokenizer", "checkpoints/tokenizer"))
    torch.manual_seed(0)
    model = build_model(config["model"], tokenizer)
    model.save_pretrained(str(out))
    save_tokenizer(tokenizer, out)
    data = config.get("data", {})
    write_meta(out, {"language": config.get("language", "loda"), "recipes": config.get("recipes", []),
                     "terms_in_prompt": 0, "max_source_length": data.get("max_source_length", 96),
                     "max_target_length": data.get("max_target_length", 128), "random_init": True})
    return out


def load_prompts(corpus: str | None, count: int, seed: int, language: str = "loda") -> list[str]:
    if language == "wat":
        from languages.wat.problems import generate_problems

        return [p.text for p in generate_problems(count, seed=seed)]
    if corpus:
        from codegen.data import load_split
        from codegen.evaluate import choose_targets, target_from_record

        targets = [target_from_record(r) for r in load_split(corpus, "loda", "test", recipe="loda")]
        return [t.description for t in choose_targets(targets, count, seed)]
    return [FALLBACK_PROMPTS[i % len(FALLBACK_PROMPTS)] for i in range(count)]


COUNTERS = ("rejected", "repairs", "forced", "fallbacks", "resampled")  # CTranslate2Backend's, where present


def decode_options(generator, *, strategy: str, samples: int, batch: int, constrain: bool, seed: int):
    from codegen.decoding import DecodeOptions

    return DecodeOptions(strategy=strategy, num_return=samples, max_new_tokens=generator.max_target_length,
                         constrain=constrain, seed=seed, batch_rows=batch * samples)


def measure(generator, prompts, *, strategy: str, samples: int, batch: int, constrain: bool, seed: int):
    from codegen.generate import Request

    backend = generator.backend
    prompts = [generator.prompt(Request(description)) for description in prompts]  # as the generator writes them
    options = decode_options(generator, strategy=strategy, samples=samples, batch=batch, constrain=constrain, seed=seed)
    tokens = programs = parsed = 0
    wall = cpu = 0.0
    hypotheses_all = []
    counters = {name: getattr(backend, name) for name in COUNTERS if hasattr(backend, name)}
    for start in range(0, len(prompts), batch):
        chunk = prompts[start:start + batch]
        before_tokens = backend.stats.tokens
        began, began_cpu = time.perf_counter(), time.process_time()
        hypotheses = backend.decode(chunk, options)
        wall += time.perf_counter() - began
        cpu += time.process_time() - began_cpu
        tokens += backend.stats.tokens - before_tokens
        for group, prompt in zip(hypotheses, chunk):
            programs += len(group)
            candidates = generator.candidates(group, prompt)
            parsed += sum(c.count for c in candidates if c.valid)
        hypotheses_all.extend(hypotheses)
    return {"programs": programs, "tokens": tokens, "seconds": wall, "cpu_seconds": cpu,
            "programs_per_second": programs / wall if wall else None,
            "tokens_per_second": tokens / wall if wall else None,
            "parse_rate": parsed / programs if programs else None,
            "mean_tokens": tokens / programs if programs else None,
            **({"grammar": {name: getattr(backend, name) - value for name, value in counters.items()}}
               if counters else {})}, hypotheses_all


def load_average() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def mode_label(strategy: str, samples: int) -> str:
    return {"greedy": "greedy", "sample": f"{samples} samples", "beam": f"{samples} beams"}[strategy]


def summary(rows: list[dict], backends: list[str], batch_sizes: list[int], modes: list[tuple[str, int]]) -> str:
    """The issue's table: constrained decoding, programs/s by mode (rows) and backend x batch (columns)."""
    columns = [(backend, batch) for backend in backends for batch in batch_sizes]
    lines = ["| decoding (constrained) | " + " | ".join(f"{b}, batch {n}" for b, n in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for strategy, samples in modes:
        cells = []
        for backend, batch in columns:
            row = next((r for r in rows if r["backend"] == backend and r["strategy"] == strategy
                        and r["batch"] == batch and r["constrained"]), None)
            if row is None:
                cells.append("not measured")
            elif not row["offered"]:
                cells.append("not offered")
            else:
                load = f" (load {row['load_average']:.1f})" if row.get("load_average") is not None else ""
                cells.append(f"{row['programs_per_second']:.1f}{load}")
        lines.append(f"| {mode_label(strategy, samples)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="trained checkpoint (default checkpoints/loda-t5-tiny)")
    parser.add_argument("--random-init", metavar="CONFIG", help="measure an untrained model of this config's size")
    parser.add_argument("--corpus", default=os.environ.get("CODEGEN_LODA_CORPUS"))
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--samples", type=int, default=8, help="samples per prompt in sampled mode")
    parser.add_argument("--beams", type=int, default=4, help="beams in beam mode (0: no beam rows)")
    parser.add_argument("--backends", default="hf", help="hf and/or ctranslate2, comma separated")
    parser.add_argument("--no-unconstrained", action="store_true", help="skip the unconstrained rows")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and CTranslate2 threads (default 1, as the CLIs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "generate.json"))
    args = parser.parse_args(argv)

    import torch

    from codegen.decoding import BackendUnavailable, NotOffered
    from codegen.generate import Generator, resolve_checkpoint

    if args.threads:
        torch.set_num_threads(args.threads)
    temp = None
    if args.random_init:
        temp = tempfile.TemporaryDirectory()
        checkpoint = random_checkpoint(args.random_init, Path(temp.name) / "random")
    else:
        try:
            checkpoint = resolve_checkpoint(args.checkpoint or "checkpoints/loda-t5-tiny")
        except FileNotFoundError as error:
            print(f"error: {error}\n(or measure an untrained model: --random-init configs/loda-tiny.yaml)",
                  file=sys.stderr)
            return 1
    corpus = None
    if args.corpus:
        from languages.loda import Corpus

        corpus = Corpus.load(args.corpus, progress=False)
    from codegen.model import read_meta

    language = read_meta(checkpoint).get("language", "loda")
    prompts = load_prompts(args.corpus, args.prompts, args.seed, language)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    backends = args.backends.split(",")
    modes = [("greedy", 1), ("sample", args.samples)] + ([("beam", args.beams)] if args.beams else [])
    constraints = [True] if args.no_unconstrained else [True, False]
    rows = []
    execution = None
    for backend in backends:
        try:
            generator = Generator(checkpoint, backend=backend, corpus=corpus, workers=2)
        except (BackendUnavailable, ImportError, ValueError) as error:
            print(f"backend {backend}: unavailable ({error})", file=sys.stderr)
            continue
        with generator:
            for strategy, samples in modes:
                for constrain in constraints:
                    for batch in batch_sizes:
                        label = (f"{backend:11} {strategy:6} k={samples:<3} {'constrained' if constrain else 'free':11}"
                                 f" batch {batch:>3}")
                        row = {"backend": backend, "strategy": strategy, "samples": samples, "constrained": constrain,
                               "batch": batch, "load_average": load_average()}
                        options = decode_options(generator, strategy=strategy, samples=samples, batch=batch,
                                                 constrain=constrain, seed=args.seed)
                        reason = generator.backend.unsupported(options)
                        try:
                            if reason is None:
                                measure(generator, prompts[:batch], strategy=strategy, samples=samples, batch=batch,
                                        constrain=constrain, seed=args.seed)  # warm-up
                                figures, hypotheses = measure(generator, prompts, strategy=strategy, samples=samples,
                                                              batch=batch, constrain=constrain, seed=args.seed)
                        except NotOffered as error:
                            reason = str(error)
                        if reason is not None:
                            rows.append({**row, "offered": False, "reason": reason})
                            print(f"{label}: not offered ({reason})", flush=True)
                            continue
                        row.update(offered=True, **figures)
                        rows.append(row)
                        grammar = row.get("grammar")
                        print(f"{label}: {row['programs_per_second']:8.1f} programs/s "
                              f"{row['tokens_per_second']:9.1f} tokens/s  parse {100 * row['parse_rate']:5.1f}%"
                              f"  ({row['seconds']:.1f}s wall, {row['cpu_seconds']:.1f}s cpu, "
                              f"load {row['load_average']:.1f})" + (f"  {grammar}" if grammar and constrain else ""),
                              flush=True)
                        if execution is None and strategy == "greedy" and constrain:
                            from codegen.generate import Request, run_candidates

                            per_request = [generator.candidates(group, generator.prompt(Request(p)))
                                           for group, p in zip(hypotheses, prompts)]
                            requests = [Request(p, run_terms=20) for p in prompts]
                            distinct = sum(1 for group in per_request for c in group if c.valid)
                            seconds = run_candidates(generator.pool, requests, per_request)
                            execution = {"programs": distinct, "seconds": seconds, "terms": 20,
                                         "programs_per_second": distinct / seconds if seconds else None,
                                         "workers": generator.pool.workers}
    measured = [row for row in rows if row["offered"]]
    if not measured:
        print("error: no backend could run", file=sys.stderr)
        return 1
    print()
    header = "| backend | mode | k | constrained | batch | programs/s | tokens/s | parse % | mean tokens | load |"
    print(header)
    print("|" + "---|" * 10)
    for row in rows:
        if not row["offered"]:
            print(f"| {row['backend']} | {row['strategy']} | {row['samples']} | {row['constrained']} | {row['batch']} | "
                  "not offered | | | | |")
            continue
        print(f"| {row['backend']} | {row['strategy']} | {row['samples']} | {row['constrained']} | {row['batch']} | "
              f"{row['programs_per_second']:.1f} | {row['tokens_per_second']:.1f} | {100 * row['parse_rate']:.1f} | "
              f"{row['mean_tokens']:.1f} | {row['load_average']:.1f} |")
    print()
    print(summary(rows, backends, batch_sizes, modes))
    if execution:
        print(f"\nexecution of {execution['programs']} distinct greedy programs (20 terms, "
              f"{execution['workers']} workers): {execution['programs_per_second']:.1f} programs/s")
    result = {
        "checkpoint": "random-init " + args.random_init if args.random_init else str(checkpoint),
        "prompts": len(prompts),
        "prompt_source": "generated problems" if language == "wat" else "test split" if args.corpus else "fixed list",
        "seed": args.seed, "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "machine": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
        "ctranslate2": _version("ctranslate2"),
        "rows": rows, "execution": execution,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from codegen.reports import atomic_write

    atomic_write(out, json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {out}")
    if temp is not None:
        temp.cleanup()
    return 0


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
