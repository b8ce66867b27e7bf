"""The README's examples print what it says they print (the lines that do not depend on the
machine: the program, its terms and the verdict; not confidences or timings)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def _shown(command: str) -> list[str]:
    """The README's output lines of `$ command`, up to the next prompt or the end of the block."""
    block = README.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
    lines = block.split("\n$ ", 1)[0].splitlines()
    return [line for line in lines if line.strip()]


def _stable(lines: list[str]) -> list[str]:
    # confidences, agreement counts and timings vary with the machine and the backend's threads
    return [re.sub(r"; confidence .*", "", line) for line in lines if not line.startswith("; generation")]


def _run(args: list[str], env: dict[str, str] | None = None) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "codegen.generate", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line.strip()]


def test_the_quickstart_prints_what_the_readme_shows():
    shown = _shown('python -m codegen.generate "Fibonacci numbers"')
    assert shown[0] == "mov $1,1" and any(line.startswith("; terms: 0, 1, 1, 2, 3, 5") for line in shown)
    env = {key: value for key, value in os.environ.items() if key != "CODEGEN_LODA_CORPUS"}
    done = subprocess.run([sys.executable, "-m", "codegen.generate", "Fibonacci numbers"], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert _stable([line for line in done.stdout.splitlines() if line.strip()]) == _stable(shown)


@pytest.mark.corpus
def test_the_terms_example_prints_what_the_readme_shows(corpus_path):
    command = 'python -m codegen.generate --terms 1,4,9,16,25,36,49,64 --offset 1 "The squares"'
    shown = _shown(command)
    assert any(line.startswith("; source: search") for line in shown)
    printed = _run(["--terms", "1,4,9,16,25,36,49,64", "--offset", "1", "The squares"],
                   env={"CODEGEN_LODA_CORPUS": str(corpus_path)})
    assert _stable(printed) == _stable(shown)
