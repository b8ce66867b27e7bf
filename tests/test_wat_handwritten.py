"""The hand-written WAT evaluation set (corpora/wat-handwritten, issue 25): well-formed, answers
reproducible from their Python expressions, and never produced by a training recipe; and
`python -m codegen.evaluate --problems`, which reads it, refuses a bad line clearly."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from codegen.data import normalize_name
from codegen.evaluate import ProblemsFileError, load_problem_targets
from languages.wat.problems import DIVERSE, generate_problems

REPO = Path(__file__).resolve().parent.parent
FOLDER = REPO / "corpora" / "wat-handwritten"
PROBLEMS = FOLDER / "problems.jsonl"


def _rows() -> list[dict]:
    return [json.loads(line) for line in PROBLEMS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_set_is_large_balanced_and_loads():
    rows = _rows()
    targets = load_problem_targets(PROBLEMS)
    assert len(targets) == len(rows) >= 150
    per_level = Counter(row["level"] for row in rows)
    assert set(per_level) == {1, 2, 3, 4, 5} and min(per_level.values()) >= 30
    assert len({row["id"] for row in rows}) == len(rows)
    assert len({normalize_name(row["text"]) for row in rows}) == len(rows)
    assert all(t.expected == row["answer"] and t.meta["level"] == row["level"] for t, row in zip(targets, rows))
    assert all(-(1 << 63) <= row["answer"] < (1 << 63) for row in rows)


def test_answers_are_reproduced_by_the_script():
    # the JSONL is exactly what make_problems.py computes from each text's Python expression
    done = subprocess.run([sys.executable, str(FOLDER / "make_problems.py"), "--check"], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr


def test_the_wordings_people_use_are_there():
    texts = "\n".join(row["text"] for row in _rows())
    assert len(re.findall(r"\d,\d{3}\b", texts)) >= 20  # thousands separators
    assert re.search(r"\d \d{3}\b", texts)  # a space as separator
    for phrase in ("three hundred twelve", "dozen", "reduced by", "take 17 away", "Double", "twice", "half of",
                   "How many whole weeks"):
        assert phrase in texts, phrase


# a number field as the generator shows it: digits (with separators) or words; the fields that
# hold an expression, a list, steps or a polynomial match any text
_NUMBER_FIELD = r"(?:-?\d[\d, ]*|[A-Za-z][a-z -]*)"
_TEXT_FIELDS = {"e", "list", "steps", "Steps", "p", "name", "items", "item", "container", "containers", "vehicle",
                "kth"}


def _diverse_patterns() -> list[re.Pattern]:
    """Each diverse template family as a regex over whole texts (after an optional distractor)."""
    patterns = []
    for _, families in DIVERSE.values():
        for family in families:
            parts = re.split(r"\{(\w+)\}", family.text)
            regex = "".join(re.escape(part) if i % 2 == 0 else ".+?" if part in _TEXT_FIELDS else _NUMBER_FIELD
                            for i, part in enumerate(parts))
            patterns.append(re.compile("(?:.*? )?" + regex + "$", re.S | re.I))
    return patterns


def test_no_handwritten_text_is_produced_by_a_training_recipe():
    """Training must never see the set: none of its texts, normalised, is among the generated
    problems of the shipped model's seeds (0, 1, 2: its recipe's parts begin with these sets) or
    of the diverse generator, and none is an instance of a diverse template family at all."""
    handwritten = {normalize_name(row["text"]): row["text"] for row in _rows()}
    generated: set[str] = set()
    for seed in (0, 1, 2):
        generated.update(normalize_name(p.text) for p in generate_problems(10_000, seed=seed))
    for seed in (0, 1):
        generated.update(normalize_name(p.text) for p in generate_problems(10_000, seed=seed, wording="diverse"))
    assert len(generated) > 45_000
    assert not set(handwritten) & generated
    patterns = _diverse_patterns()
    # the patterns do recognise the generator's own texts (else the check below proves nothing)
    own = [p.text for p in generate_problems(600, seed=9, wording="diverse") if not p.template.endswith("/classic")]
    assert own and all(any(pattern.match(text) for pattern in patterns) for text in own)
    matched = [(text, p.pattern) for text in handwritten.values() for p in patterns if p.match(text)]
    assert not matched


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "problems.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("line, message", [
    ('{"text": "What is 2 plus 2?", "level": 1}', "field 'answer' missing"),
    ('{"text": "What is 2 plus 2?", "answer": "4", "level": 1}', "field 'answer' must be an integer"),
    ('{"text": "What is 2 plus 2?", "answer": 4, "level": true}', "field 'level' must be an integer"),
    ('{"text": "", "answer": 4, "level": 1}', "field 'text' is empty"),
    ('{"text": 7, "answer": 4, "level": 1}', "field 'text' must be a string"),
    ('{"text": "What is 2 plus 2?", "answer": 4, "level": 1', "not valid JSON"),
    ('[1, 2]', "expected an object"),
])
def test_a_bad_line_names_file_line_and_field(tmp_path, line, message):
    path = _write(tmp_path, ['{"id": "a", "text": "What is 1 plus 1?", "answer": 2, "level": 1}', "", line])
    with pytest.raises(ProblemsFileError) as error:
        load_problem_targets(path)
    assert f"{path}:3: {message}" in str(error.value)


def test_ids_are_optional_and_unique(tmp_path):
    path = _write(tmp_path, ['{"text": "What is 1 plus 1?", "answer": 2, "level": 1}',
                             '{"id": "x", "text": "What is 2 plus 1?", "answer": 3, "level": 2, "note": "ok"}'])
    assert [t.id for t in load_problem_targets(path)] == ["line-1", "x"]
    path = _write(tmp_path, ['{"id": "x", "text": "a", "answer": 2, "level": 1}',
                             '{"id": "x", "text": "b", "answer": 3, "level": 2}'])
    with pytest.raises(ProblemsFileError, match=":2: field 'id' repeats 'x'"):
        load_problem_targets(path)
    with pytest.raises(ProblemsFileError, match="no problems"):
        load_problem_targets(_write(tmp_path, [""]))


def test_evaluate_cli_exits_2_on_a_bad_problems_file(tmp_path, capsys):
    from codegen.evaluate import main

    path = _write(tmp_path, ['{"text": "What is 1 plus 1?", "answer": "two", "level": 1}'])
    assert main(["--checkpoint", str(REPO / "checkpoints" / "wat-t5-tiny"), "--problems", str(path),
                 "--no-progress"]) == 2
    assert f"{path}:1: field 'answer' must be an integer" in capsys.readouterr().err
