"""Loss-curve plot and model card (README.md) of a training run."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence


def loss_points(log_history: Sequence[Mapping[str, Any]]) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(step, train loss) and (step, validation loss) pairs from a Trainer's log history."""
    train = [(int(e["step"]), float(e["loss"])) for e in log_history if "loss" in e and "step" in e]
    valid = [(int(e["step"]), float(e["eval_loss"])) for e in log_history if "eval_loss" in e and "step" in e]
    return train, valid


def plot_losses(log_history: Sequence[Mapping[str, Any]], path: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, valid = loss_points(log_history)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    if train:
        ax.plot([s for s, _ in train], [v for _, v in train], label="train loss", lw=1.2)
    if valid:
        ax.plot([s for s, _ in valid], [v for _, v in valid], "o-", label="validation loss", lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title or "training loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def model_card(*, name: str, meta: Mapping[str, Any], config: Mapping[str, Any], results: Mapping[str, Any],
               parameters: int, plot_file: str | None) -> str:
    recipes = ", ".join(f"`{r}`" for r in meta.get("recipes", []))
    model_cfg = config.get("model", {})
    arch = (f"pretrained `{model_cfg['pretrained']}`" if model_cfg.get("pretrained")
            else "T5 from scratch (" + ", ".join(f"{k}={v}" for k, v in model_cfg.items() if k != "lora") + ")")
    if model_cfg.get("lora"):
        arch += f", LoRA {dict(model_cfg['lora'])} (merged into the saved weights)"
    train_cfg = config.get("training", {})
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text2text-generation",
        f"tags: [codegen, {meta.get('language')}, seq2seq]",
        "---",
        "",
        f"# {name}",
        "",
        f"A seq2seq model that writes **{meta.get('language')}** programs from a description "
        f"(recipes {recipes}), trained with `python -m codegen.train`.",
        "",
        "## Data",
        "",
        f"- snapshot: `{meta.get('corpus') or '-'}` (content hash `{meta.get('corpus_hash') or '-'}`)",
        f"- recipes: {recipes}; terms in prompt: {meta.get('terms_in_prompt')}",
        f"- split by sequence-id hash (96/2/2) with the leakage guard of `codegen.data` "
        f"(no program and no normalised name in two splits); records: {meta.get('records', {})}",
        f"- max source / target length: {meta.get('max_source_length')} / {meta.get('max_target_length')} tokens",
        "",
        "## Model",
        "",
        f"- {arch}",
        f"- parameters: {parameters:,}",
        f"- tokenizer: SentencePiece unigram prompts + {meta.get('language')} structural tokens "
        f"({meta.get('vocab_size')} ids)",
        "",
        "## Training",
        "",
        f"- steps: {results.get('steps')} (batch {train_cfg.get('per_device_train_batch_size')} x accumulation "
        f"{train_cfg.get('gradient_accumulation_steps', 1)}, learning rate {train_cfg.get('learning_rate')})",
        f"- train loss: first {_fmt(results.get('loss_first'))}, last {_fmt(results.get('loss_last'))}",
        f"- validation loss (final): {_fmt(results.get('eval_loss'))}",
        f"- wall time: {_fmt(results.get('wall_seconds'))} s; throughput {_fmt(results.get('train_samples_per_second'))} "
        f"samples/s, {_fmt(results.get('train_tokens_per_second'))} tokens/s on {results.get('device')}",
        "",
    ]
    if plot_file:
        lines += [f"![loss curve]({plot_file})", ""]
    lines += [
        "## Use",
        "",
        "```python",
        "from codegen.model import load_checkpoint",
        "checkpoint = load_checkpoint('PATH')  # model, tokenizer, language, meta",
        "```",
        "",
        "or `python -m codegen.generate --checkpoint PATH \"description\"`. Generated programs are validated and "
        "executed before they are shown; the model's text alone is never the answer.",
        "",
        "Sequence names come from the OEIS (CC BY-SA 4.0); programs from loda-programs (Apache-2.0).",
        "",
    ]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
