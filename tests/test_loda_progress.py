"""benchmarks/loda_progress.py: the quality-against-training curve takes its points from reports."""
from __future__ import annotations

import json

import pytest
from conftest import load_benchmark


def _report(tmp_path, name: str, *, with_terms, items: list[dict], repair: int = 0, split: str = "test") -> str:
    folder = tmp_path / name
    folder.mkdir()
    report = {"n": len(items), "validity": 1.0, "exact_match": 0.0,
              "sequence_match": sum(i["sequence_match"] for i in items) / len(items),
              "verified_solve": sum(i["verified_solve"] for i in items) / len(items),
              "baseline_model": {"sequence_match": 0.0},
              "config": {"split": split, "with_terms": with_terms, "num_samples": 32 if with_terms else 4,
                         "repair": repair}}
    (folder / "report.json").write_text(json.dumps(report))
    (folder / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    return str(folder / "report.json")


def _items(solved: int, repaired: int, total: int = 10) -> list[dict]:
    return [{"sequence_match": k < solved, "verified_solve": k < solved + repaired,
             "chosen_from_repair": solved <= k < solved + repaired} for k in range(total)]


def test_add_reads_both_reports_and_leaves_out_repaired_solves(tmp_path):
    progress = load_benchmark("loda_progress")
    history = tmp_path / "progress.json"
    name = _report(tmp_path, "name", with_terms=None, items=_items(1, 0))
    terms = _report(tmp_path, "terms", with_terms=8, items=_items(3, 2), repair=256)
    assert progress.main(["--history", str(history), "--add", "stage", "--model", "m", "--config", "c.yaml",
                          "--examples", "1000", "--cpu-hours", "1.5", "--name-report", name,
                          "--terms-report", terms]) == 0
    (point,) = json.loads(history.read_text())
    assert point["sequence_match"] == pytest.approx(0.1)
    assert point["verified_solve"] == pytest.approx(0.3)  # the 2 repair-only solves are not the model's
    assert point["verified_solve_with_repair"] == pytest.approx(0.5)
    assert point["baseline_sequence_match"] == 0.0
    assert (tmp_path / "progress.png").stat().st_size > 0


def test_add_refuses_swapped_or_validation_reports(tmp_path, capsys):
    progress = load_benchmark("loda_progress")
    history = tmp_path / "progress.json"
    name = _report(tmp_path, "name", with_terms=None, items=_items(1, 0))
    terms = _report(tmp_path, "terms", with_terms=8, items=_items(3, 0))
    validation = _report(tmp_path, "validation", with_terms=8, items=_items(3, 0), split="validation")
    common = ["--history", str(history), "--add", "s", "--model", "m", "--config", "c", "--examples", "1"]
    assert progress.main(common + ["--name-report", terms, "--terms-report", name]) == 2
    assert "with_terms" in capsys.readouterr().err
    assert progress.main(common + ["--name-report", name, "--terms-report", validation]) == 2
    assert "test split" in capsys.readouterr().err
    assert not history.exists()
