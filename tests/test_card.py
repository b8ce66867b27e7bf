"""The model card's wall time covers every session of a run resumed with --resume, through the
record `TrainingClock` keeps in each checkpoint's trainer_state.json."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from transformers.trainer_callback import TrainerState

from codegen.card import TrainingClock, model_card, recorded_sessions


def save_checkpoint(state: TrainerState, clock: TrainingClock, folder: Path, step: int) -> Path:
    """What `Trainer._save_checkpoint` does with an `ExportableState` callback: its `state()` goes
    into `stateful_callbacks`, then the whole state into checkpoint-N/trainer_state.json."""
    state.global_step = step
    state.stateful_callbacks[type(clock).__name__] = clock.state()
    checkpoint = folder / f"checkpoint-{step}"
    checkpoint.mkdir(parents=True)
    state.save_to_json(str(checkpoint / "trainer_state.json"))
    return checkpoint


def resume(checkpoint: Path, clock: TrainingClock) -> TrainerState:
    """What `Trainer.train(resume_from_checkpoint=...)` does before `on_train_begin`."""
    state = TrainerState.load_from_json(str(checkpoint / "trainer_state.json"))
    clock.on_train_begin(None, state, None)
    return state


def test_a_resumed_run_reports_the_time_of_every_session(tmp_path):
    now = time.time()
    first = TrainingClock(started=now - 100)  # a session that ran 100 s, then was killed
    state = TrainerState(stateful_callbacks=[first])  # a fresh run: the Trainer records the clock's state...
    first.on_train_begin(None, state, None)
    assert first.previous == []  # ...which the clock does not take for an earlier session
    checkpoint = save_checkpoint(state, first, tmp_path, step=20)

    second = TrainingClock(started=now - 30)
    state = resume(checkpoint, second)
    assert second.previous == pytest.approx([100], abs=1)
    checkpoint = save_checkpoint(state, second, tmp_path, step=40)

    third = TrainingClock(started=now - 10)
    resume(checkpoint, third)
    summary = third.summary()
    assert summary["sessions"] == 3
    assert summary["wall_seconds"] == pytest.approx(10, abs=1)
    assert summary["wall_seconds_total"] == pytest.approx(140, abs=2)


def test_a_checkpoint_from_before_the_clock(tmp_path):
    old = TrainerState(global_step=20, stateful_callbacks={"TrainerControl": {"args": {}, "attributes": {}}})
    old.save_to_json(str(tmp_path / "trainer_state.json"))
    clock = TrainingClock(started=time.time() - 5)
    state = resume(tmp_path, clock)
    assert clock.summary()["sessions"] == 1
    # the Trainer's save indexes stateful_callbacks by the callback's name: the entry must be there
    assert recorded_sessions(state.stateful_callbacks) == pytest.approx([5], abs=1)


def test_model_card_reports_the_total_over_sessions():
    results = {"steps": 40, "wall_seconds": 10.0, "wall_seconds_total": 13610.0, "sessions": 3}
    card = model_card(name="run", meta={"language": "loda"}, config={}, results=results, parameters=1,
                      plot_file=None)
    assert "wall time: 13610 s (3.8 h) in 3 sessions (`--resume`; the last 10 s)" in card
    single = model_card(name="run", meta={"language": "loda"}, config={}, parameters=1, plot_file=None,
                        results={"steps": 40, "wall_seconds": 95.04, "wall_seconds_total": 95.04, "sessions": 1})
    assert "wall time: 95 s;" in single
