"""Ordinary mistakes end in one clear line and a documented exit status, never a traceback
(issue 26): every CLI verb fed bad paths, bad numbers and bad files, in a subprocess as a user
runs it. Exit 2 for usage and input errors, 1 for runtime failures, 130 for Ctrl-C (`codegen.cli`).

The generate / evaluate cases fail before the model loads: their --checkpoint is a directory with
only the two files `resolve_checkpoint` reads, so a case that got as far as loading would fail
differently (and slowly)."""
from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from codegen.cli import EXIT_INTERRUPTED, run_main
from codegen.execution import ExecutionPool, ExecutionTask
from codegen.cli.generate import build_parser, exit_status
from codegen.cli.options import num_samples_arg
from codegen.cli.repl import Repl
from codegen.generate import MAX_NUM_SAMPLES, GenerationResult, Request
from codegen.language import InputError
from codegen.selection import Candidate

REPO = Path(__file__).resolve().parent.parent

FIB = ("; A000045: Fibonacci numbers.\n; 0,1,1,2,3,5,8,13\n"
       "mov $1,1\nlpb $0\n  sub $0,1\n  mov $2,$1\n  add $1,$3\n  mov $3,$2\nlpe\nmov $0,$3\n")


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, Path]:
    """The bad inputs: a truncated corpus tarball, a text file, a folder without oeis/, a binary
    file, a directory, a missing path; plus a checkpoint that is one only on the file system."""
    root = tmp_path_factory.mktemp("bad")
    full = root / "full.tar.gz"
    with tarfile.open(full, "w:gz") as tar:
        # enough incompressible-ish programs that cutting the gzip stream leaves a readable first header
        for number in range(1, 400):
            data = (f"; A{number:06d}: sequence {number}\n; {number},{number * 7919 % 10007}\n"
                    f"mov $1,{number * 104729 % 999983}\nadd $0,$1\n").encode()
            info = tarfile.TarInfo(f"loda-programs/oeis/000/A{number:06d}.asm")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    truncated = root / "truncated.tar.gz"
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    text = root / "notes.txt"
    text.write_text("not a corpus\n")
    folder = root / "folder"
    folder.mkdir()
    binary = root / "binary.asm"
    binary.write_bytes(bytes(range(128, 256)) * 8)
    checkpoint = root / "model"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text("{}")
    (checkpoint / "codegen.json").write_text(json.dumps({"language": "loda"}))
    return {"truncated": truncated, "text": text, "folder": folder, "binary": binary, "missing": root / "missing",
            "checkpoint": checkpoint, "root": root}


def run_cli(module: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("CODEGEN_LODA_CORPUS", None)  # each case names its corpus, or none
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


TARBALL = "truncated or not a gzip tarball"
# (module, arguments with {placeholders} from `bad`, exit status, a piece of the one-line message)
CASES = [
    # codegen.generate: corpus, -k, --lang, numbers, checkpoint; all before the model loads
    ("codegen.generate", "--checkpoint {checkpoint} --corpus {truncated} x", 2, TARBALL),
    ("codegen.generate", "--checkpoint {checkpoint} --corpus {text} x", 2, TARBALL),
    ("codegen.generate", "--checkpoint {checkpoint} --corpus {folder} x", 2, "no oeis/ folder"),
    ("codegen.generate", "--checkpoint {checkpoint} --corpus {missing} x", 2, "not found"),
    ("codegen.generate", "-k 0 x", 2, "-k: 0 is not positive"),
    ("codegen.generate", "-k 100000 x", 2, f"limit of {MAX_NUM_SAMPLES}"),
    ("codegen.generate", "--lang cobol x", 2, "there are: loda, wat"),
    ("codegen.generate", "--checkpoint {checkpoint} --lang wat x", 2, "is a loda model, not wat"),
    ("codegen.generate", "--temperature -1 x", 2, "--temperature"),
    ("codegen.generate", "--top-p 5 x", 2, "not in (0, 1]"),
    ("codegen.generate", "--count 0 x", 2, "--count"),
    ("codegen.generate", "--threads -2 x", 2, "--threads"),
    ("codegen.generate", "--terms 1,x x", 2, "integers"),
    ("codegen.generate", "--checkpoint {missing} x", 2, "no checkpoint at"),
    ("codegen.generate", "--checkpoint {folder} x", 2, "no config.json"),
    # codegen.evaluate
    ("codegen.evaluate", "--checkpoint {checkpoint} --corpus {truncated}", 2, TARBALL),
    ("codegen.evaluate", "--checkpoint {checkpoint} --corpus {text}", 2, TARBALL),
    ("codegen.evaluate", "--checkpoint {checkpoint} --corpus {folder}", 2, "no oeis/ folder"),
    ("codegen.evaluate", "--checkpoint {checkpoint}", 2, "no LODA corpus given"),
    ("codegen.evaluate", "--checkpoint {checkpoint} -k 0", 2, "-k: 0 is not positive"),
    ("codegen.evaluate", "--checkpoint {checkpoint} --limit -1", 2, "--limit"),
    ("codegen.evaluate", "--checkpoint {checkpoint} --lang cobol", 2, "there are: loda, wat"),
    ("codegen.evaluate", "--checkpoint {checkpoint} --lang wat", 2, "is a loda model, not wat"),
    ("codegen.evaluate", "--checkpoint {checkpoint} --recipe nope", 2, "has the recipes"),
    ("codegen.evaluate", "--checkpoint {checkpoint} --baseline {missing}", 2, "not a readable report.json"),
    ("codegen.evaluate", "--checkpoint {checkpoint} --baseline {binary}", 2, "not a readable report.json"),
    ("codegen.evaluate", "--checkpoint {checkpoint} --programs {text}", 2, "neither a directory"),
    ("codegen.evaluate", "--checkpoint {checkpoint} --limits {{x", 2, "--limits"),
    ("codegen.evaluate", "--checkpoint {checkpoint} --limits [1]", 2, "not a JSON object of numbers"),
    ("codegen.evaluate", "--checkpoint {checkpoint} --report-dir {text}", 2, "is a file"),
    ("codegen.evaluate", "--checkpoint {missing}", 2, "no checkpoint at"),
    # codegen.train
    ("codegen.train", "--config {binary}", 2, "not UTF-8 text"),
    ("codegen.train", "--config {folder}", 2, "cannot read"),
    ("codegen.train", "--config {missing}", 2, "config file not found"),
    ("codegen.train", "--config configs/loda-tiny.yaml --corpus {text}", 2, TARBALL),
    ("codegen.train", "--config configs/loda-tiny.yaml --corpus {folder}", 2, "no oeis/ folder"),
    ("codegen.train", "--config configs/loda-tiny.yaml --max-steps 0", 2, "--max-steps"),
    ("codegen.train", "--config configs/loda-tiny.yaml --time-limit -1", 2, "--time-limit"),
    ("codegen.train", "--config configs/loda-tiny.yaml --corpus {truncated} --output-dir {text}", 2, "is a file"),
    # codegen.tokenizer
    ("codegen.tokenizer", "build --corpus {truncated} --out {root}/tok", 2, TARBALL),
    ("codegen.tokenizer", "build --corpus {text} --out {root}/tok", 2, TARBALL),
    ("codegen.tokenizer", "build --vocab-size 0 --out {root}/tok", 2, "--vocab-size"),
    ("codegen.tokenizer", "build --langs cobol --out {root}/tok", 2, "none of the languages"),
    ("codegen.tokenizer", "build --out {text}", 2, "is a file"),
    # codegen.data
    # found only when the programs are read, after `datasets` is imported: seconds
    pytest.param("codegen.data", "build --corpus {truncated}", 2, TARBALL, marks=pytest.mark.slow),
    ("codegen.data", "stats --corpus {text}", 2, TARBALL),
    ("codegen.data", "build --corpus {folder}", 2, "no oeis/ folder"),
    ("codegen.data", "build --lang cobol", 2, "unknown language"),
    ("codegen.data", "stats --tokenizer {missing}", 2, "not a tokenizer directory"),
    ("codegen.data", "build --num-proc 0", 2, "--num-proc"),
    # python -m languages.loda
    ("languages.loda", "eval {binary}", 2, "not UTF-8 text"),
    ("languages.loda", "fmt {binary}", 2, "not UTF-8 text"),
    ("languages.loda", "eval {missing}", 2, "cannot read"),
    ("languages.loda", "eval {folder}", 2, "cannot read"),
    ("languages.loda", "eval - --max-memory -5", 2, "--max-memory"),
    ("languages.loda", "eval - --timeout -1", 2, "--timeout"),
    ("languages.loda", "check --corpus {truncated}", 2, TARBALL),
    ("languages.loda", "check --corpus {text}", 2, TARBALL),
    ("languages.loda", "check --corpus {folder}", 2, "no oeis/ folder"),
    ("languages.loda", "check --corpus {truncated} --sample -3", 2, "--sample"),
    ("languages.loda", "check --corpus {truncated} --report {folder}", 2, "is a directory"),
    ("languages.loda", "check --corpus {truncated} --programs {text}", 2, TARBALL),
    # python -m languages.wat
    ("languages.wat", "run {binary}", 2, "not UTF-8 text"),
    ("languages.wat", "fmt {binary}", 2, "not UTF-8 text"),
    ("languages.wat", "validate {missing}", 2, "cannot read"),
    ("languages.wat", "run {folder}", 2, "cannot read"),
    ("languages.wat", "run - --fuel -1", 2, "--fuel"),
    ("languages.wat", "run - --timeout -1", 2, "--timeout"),
    ("languages.wat", "problems --count -3", 2, "--count"),
    ("languages.wat", "problems --count 2 --jsonl {folder}", 2, "Is a directory"),
    ("languages.wat", "from-loda {binary}", 2, "not UTF-8 text"),
    ("languages.wat", "check-loda --corpus {truncated}", 2, TARBALL),
    ("languages.wat", "check-loda --corpus {text}", 2, TARBALL),
    ("languages.wat", "check-loda", 2, "no LODA corpus given"),
]


def _case_id(case) -> str:
    module, arguments = (case.values if hasattr(case, "values") else case)[:2]
    return f"{module.split('.')[-1]}:{arguments}"


@pytest.mark.parametrize("module, arguments, status, message", CASES, ids=[_case_id(c) for c in CASES])
def test_bad_input_is_one_line_and_a_documented_status(bad, module, arguments, status, message):
    args = [part.format(**bad) for part in arguments.split()]
    done = run_cli(module, *args)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == status, (done.returncode, done.stderr)
    assert message in done.stderr, done.stderr


def _interrupt(command: list[str], *, wait: float) -> subprocess.CompletedProcess:
    """Run `command`, send it SIGINT (Ctrl-C) after `wait` seconds, return what it left."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    # a test run started in the background (CI, nohup, `&`) ignores SIGINT, and a child inherits
    # that; give the CLI the default disposition a user's terminal gives it
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(wait)
    process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()  # never leave a runaway program behind a failed test
        out, err = process.communicate()
        pytest.fail(f"{command} ignored Ctrl-C for 60 s:\n{err}")
    return subprocess.CompletedProcess(command, process.returncode, out, err)


@pytest.mark.slow
@pytest.mark.parametrize("module, arguments, program", [
    ("languages.loda", ["eval", "-", "--timeout", "0", "--max-steps", "1000000000000"],
     "mov $1,1000000000000\nlpb $1\n  sub $1,1\nlpe\n"),  # a loop ends when its counter stops falling
    # wasm runs in native code on a worker thread: Ctrl-C ends the run at once, not at its --timeout
    ("languages.wat", ["run", "-", "--timeout", "600", "--fuel", str(1 << 60)],
     '(module (func (export "main") (result i64) (loop $l (br $l)) (i64.const 0)))'),
])
def test_ctrl_c_is_one_line_and_130(module, arguments, program, tmp_path):
    path = tmp_path / "forever"
    path.write_text(program)
    args = [str(path) if a == "-" else a for a in arguments]
    done = _interrupt([sys.executable, "-m", module, *args], wait=3.0)
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr, done.stderr
    assert done.returncode == EXIT_INTERRUPTED and done.stderr.strip() == "interrupted", done.stderr


def test_run_main_turns_ctrl_c_and_input_errors_into_one_line(capsys):
    def interrupted(argv):
        raise KeyboardInterrupt

    def bad_input(argv):
        raise InputError("corpus.tar.gz: truncated or not a gzip tarball")

    assert run_main(interrupted) == EXIT_INTERRUPTED
    assert capsys.readouterr().err.strip() == "interrupted"
    assert run_main(bad_input) == 2
    assert capsys.readouterr().err.strip() == "error: corpus.tar.gz: truncated or not a gzip tarball"
    assert run_main(lambda argv: 3) == 3


def test_num_samples_has_a_documented_limit():
    assert num_samples_arg(str(MAX_NUM_SAMPLES)) == MAX_NUM_SAMPLES
    for bad_value in ("0", "-1", str(MAX_NUM_SAMPLES + 1), "many"):
        with pytest.raises(argparse.ArgumentTypeError):
            num_samples_arg(bad_value)
    assert str(MAX_NUM_SAMPLES) in build_parser().format_help()


def _result(request: Request, match: bool | None, chosen: bool = True) -> GenerationResult:
    candidate = Candidate(code="mov $0,1", canonical="mov $0,1", valid=True, ran=True, outputs=[1], match=match)
    return GenerationResult(request=request, prompt="", language="loda", strategy="greedy", constrained=True,
                            num_samples=1, candidates=[candidate] if chosen else [],
                            chosen=candidate if chosen else None)


def test_exit_status_tells_a_solution_from_a_guess():
    terms = Request(description="x", terms=[1, 1, 1])
    assert exit_status(_result(terms, True)) == 0
    assert exit_status(_result(terms, False)) == 3
    assert exit_status(_result(Request(description="x", expected=5), False)) == 3
    assert exit_status(_result(Request(description="x"), None)) == 0  # nothing given to check against
    assert exit_status(_result(terms, None, chosen=False)) == 1
    import codegen.cli.generate as generate

    help_text = build_parser().format_help()
    assert "exit status" in help_text and "3    --terms or --expected were given and no candidate matches" in help_text
    assert "3 --terms or\n--expected were given and no candidate matches them" in generate.__doc__


# -- the REPL ----------------------------------------------------------------------------------

class _StubGenerator:
    """What the REPL needs of a Generator: a language name and `generate`; `interrupt` requests
    raise KeyboardInterrupt as Ctrl-C would mid-decoding."""

    def __init__(self, language: str, interrupt: int = 0):
        self.language = SimpleNamespace(name=language)
        self.interrupt = interrupt
        self.requests: list[Request] = []
        self.closed = False

    def generate(self, description, *, terms=None, expected=None, **options) -> GenerationResult:
        if self.interrupt:
            self.interrupt -= 1
            raise KeyboardInterrupt
        request = Request(description=description, terms=list(terms) if terms else None, expected=expected,
                          offset=options.get("offset"))
        self.requests.append(request)
        return _result(request, True if terms or expected is not None else None)

    def close(self) -> None:
        self.closed = True


def _repl(generator: _StubGenerator, script: list[str]) -> tuple[Repl, str]:
    args = build_parser().parse_args(["--interactive"])
    out = io.StringIO()
    repl = Repl(generator, args, stdin=io.StringIO("\n".join(script) + "\n"), stdout=out)
    assert repl.run() == 0
    return repl, out.getvalue()


def test_repl_ctrl_c_cancels_the_request_and_returns_to_the_prompt():
    generator = _StubGenerator("loda", interrupt=1)
    repl, out = _repl(generator, ["Fibonacci numbers", "Squares"])
    assert "cancelled" in out
    assert [r.description for r in generator.requests] == ["Squares"]  # the session went on


def test_repl_switching_language_clears_the_terms_and_says_so(monkeypatch):
    import codegen.cli.repl as repl_module

    wat = _StubGenerator("wat")
    monkeypatch.setattr(repl_module, "resolve_checkpoint", lambda path: Path(path))
    monkeypatch.setattr(repl_module, "make_generator", lambda checkpoint, args, corpus: wat)
    loda = _StubGenerator("loda")
    repl, out = _repl(loda, [":terms 1,3,5,7", ":offset 1", ":lang wat", "Compute 45 times 12."])
    assert "cleared terms 1, 3, 5, 7; offset 1 (they were for loda)" in out
    assert loda.closed and repl.generator is wat
    assert wat.requests[0].terms is None and wat.requests[0].offset is None
    assert "does NOT match" not in out


def test_repl_unknown_language_lists_the_languages():
    repl, out = _repl(_StubGenerator("loda"), [":lang cobol", ":samples 0", f":samples {MAX_NUM_SAMPLES + 1}"])
    assert "unknown language 'cobol'; there are: loda, wat" in out
    assert "configs/loda-tiny.yaml" not in out
    assert "0 is not positive" in out and f"limit of {MAX_NUM_SAMPLES}" in out


# -- an interrupted execution run leaves the pool usable ---------------------------------------

def test_pool_interrupted_mid_run_gives_the_next_run_its_own_results():
    slow = ExecutionTask(code="mov $1,20000000\nlpb $1\n  sub $1,1\nlpe\n", terms=1)
    fast = [ExecutionTask(code=f"mov $0,{n}\n", terms=1) for n in range(6)]

    def interrupt(count: int) -> None:
        raise KeyboardInterrupt

    with ExecutionPool("loda", workers=2, timeout=30) as pool:
        with pytest.raises(KeyboardInterrupt):
            # one worker finishes a fast task (progress -> Ctrl-C) while the other is busy with the slow one
            pool.run([slow, fast[0], slow], progress=interrupt)
        results = pool.run(fast)
    assert [r.outputs for r in results] == [[n] for n in range(6)]
    assert pool.crashed == 0 and pool.killed == 0


# -- the one place a corpus is checked (languages/loda/corpus.py) -------------------------------

@pytest.mark.parametrize("name, reason", [("truncated", TARBALL), ("text", TARBALL), ("folder", "no oeis/ folder"),
                                          ("binary", TARBALL)])
def test_corpus_load_names_the_file_and_what_is_wrong(bad, tmp_path, name, reason):
    from languages.loda.corpus import Corpus, CorpusError

    with pytest.raises(CorpusError) as info:
        Corpus.load(bad[name], cache_dir=tmp_path, progress=False)
    message = str(info.value)
    assert message.startswith(str(bad[name])) and reason in message and "\n" not in message
    assert not list(tmp_path.rglob("*.pkl.gz"))  # nothing cached from a damaged corpus


def test_a_tarball_without_programs_is_refused(tmp_path):
    from languages.loda.corpus import Corpus, CorpusError

    empty = tmp_path / "other.tar.gz"
    with tarfile.open(empty, "w:gz") as tar:
        info = tarfile.TarInfo("README")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(CorpusError, match="no program files"):
        Corpus.load(empty, cache_dir=tmp_path, progress=False)


def test_a_sound_corpus_still_loads(tmp_path):
    from languages.loda.corpus import Corpus

    root = tmp_path / "checkout"
    (root / "oeis" / "000").mkdir(parents=True)
    (root / "oeis" / "000" / "A000045.asm").write_text(FIB)
    corpus = Corpus.load(root, cache_dir=tmp_path / "cache", progress=False)
    assert len(corpus) == 1 and corpus.get(45).terms[:5] == (0, 1, 1, 2, 3)
