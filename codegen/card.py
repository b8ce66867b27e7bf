"""Loss-curve plot, model card (README.md) and wall time over every session of a training run."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from transformers import TrainingArguments
from transformers.trainer_callback import ExportableState, TrainerCallback, TrainerControl, TrainerState


class TrainingClock(TrainerCallback, ExportableState):
    """Wall seconds of every `python -m codegen.train` session of a run, so that a run continued
    with `--resume` reports its whole time, not only its last session's.

    Nothing the Trainer saves tells the time: the log entries carry no timestamps and its
    `train_runtime` is logged after the last checkpoint is written (a checkpoint never holds it),
    so the clock keeps its own record. As an `ExportableState` callback its `state()` is written
    into each checkpoint's trainer_state.json (`stateful_callbacks`); a resumed run's Trainer loads
    that file before `on_train_begin`, where the clock reads the earlier sessions back. The record
    thus travels with the checkpoints, and a session killed mid-run counts up to its last save.
    """

    def __init__(self, started: float | None = None):
        self.started = time.time() if started is None else started  # this session's start (epoch seconds)
        self.previous: list[float] = []  # seconds of the earlier sessions, oldest first

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        # a fresh run starts at step 0 (its state holds this clock's own, empty, record);
        # a resumed one carries the record of the checkpoint it was loaded from
        if state.global_step > 0:
            self.previous = recorded_sessions(state.stateful_callbacks)
        # the Trainer updates stateful_callbacks[name] in place when it saves, so the entry must
        # exist even where the checkpoint predates the clock
        state.stateful_callbacks.setdefault(type(self).__name__, self.state())

    def sessions(self) -> list[float]:
        """Seconds of every session so far, this one (still running) last."""
        return [*self.previous, round(time.time() - self.started, 1)]

    def summary(self) -> dict[str, float | int]:
        """`wall_seconds` (this session), `wall_seconds_total` and `sessions` (their number)."""
        sessions = self.sessions()
        return {"wall_seconds": sessions[-1], "wall_seconds_total": round(sum(sessions), 1),
                "sessions": len(sessions)}

    def state(self) -> dict[str, Any]:
        # the Trainer calls this just before it writes trainer_state.json: the record is current
        return {"args": {}, "attributes": {"recorded": self.sessions()}}


def recorded_sessions(stateful_callbacks: Mapping[str, Any] | None) -> list[float]:
    """The session seconds a `TrainingClock` saved in a trainer_state.json's `stateful_callbacks`
    ([] where there is none: a checkpoint written before the clock existed)."""
    entry = (stateful_callbacks or {}).get(TrainingClock.__name__)
    if isinstance(entry, list):  # the Trainer's layout for several callbacks of one class
        entry = entry[-1] if entry else None
    if not isinstance(entry, Mapping):
        return []
    return [float(seconds) for seconds in entry.get("attributes", {}).get("recorded", [])]


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
        f"- wall time: {_wall_time(results)}; throughput {_fmt(results.get('train_samples_per_second'))} "
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


def _wall_time(results: Mapping[str, Any]) -> str:
    """The run's wall time: the total over its sessions (`TrainingClock.summary`) where it was
    resumed, else the one session's `wall_seconds`."""
    sessions = int(results.get("sessions") or 1)
    if sessions == 1 or results.get("wall_seconds_total") is None:
        return _seconds(results.get("wall_seconds"))
    return (f"{_seconds(results['wall_seconds_total'])} in {sessions} sessions (`--resume`; "
            f"the last {_seconds(results.get('wall_seconds'))})")


def _seconds(value: Any) -> str:
    """Whole seconds (not `_fmt`'s 4 significant digits, which turn 12345 s into 1.234e+04), and hours
    where there are many."""
    if not isinstance(value, (int, float)):
        return "-"
    return f"{value:.0f} s" + (f" ({value / 3600:.1f} h)" if value >= 3600 else "")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
