"""Shared fixtures and helpers: test modules import from here, never from one another.

Tests that need the LODA corpus read it from ../shared (or $CODEGEN_LODA_CORPUS) and skip where it
is absent, except under CI=true, where a missing corpus is a failure: CI always has it."""
from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import strategies as st

from languages.loda.corpus import find_default_corpus
from languages.loda.program import ARITHMETIC_OPS, Operand, Operation, Program

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def load_benchmark(name: str):
    """A script of benchmarks/ as a module (the folder is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def corpus_path() -> Path:
    path = find_default_corpus()
    if path is None:
        message = "LODA corpus not found: expected ../shared/corpora/loda-programs-*.tar.gz or $CODEGEN_LODA_CORPUS"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def corpus(corpus_path):
    from languages.loda import Corpus

    # the user's cache ($CODEGEN_CACHE_DIR or ~/.cache/codegen): built once, then loads in about a second
    return Corpus.load(corpus_path, progress=False)


@pytest.fixture(scope="session")
def semantics_dir() -> Path:
    path = SHARED / "loda" / "semantics"
    if not path.is_dir():
        message = f"LODA semantics CSVs not found at {path}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


# -- a tiny checkpoint --------------------------------------------------------------------------
TINY_TEXTS = ["Fibonacci numbers", "The prime numbers", "Squares of n", "a(n) = 2n + 1", "Triangular numbers",
              "Number of divisors of n", "Powers of 2", "Catalan numbers", "Sum of digits of n", "The odd numbers",
              "Expansion of 1/(1-x-x^2)", "Number of partitions of n"]


def build_tiny_checkpoint(path: Path, *, seed: int = 0, max_target_length: int = 48, terms_in_prompt: int = 0) -> Path:
    """A random-init T5 with the project's tokenizer (trained on a dozen texts), saved as a checkpoint
    directory that `codegen.model.load_checkpoint` reads."""
    import torch

    from codegen.model import build_model, write_meta
    from codegen.tokenizer import add_language_tokens, fast_tokenizer_from_spm, save_tokenizer, train_sentencepiece

    tokenizer = fast_tokenizer_from_spm(train_sentencepiece(TINY_TEXTS * 4, 80))
    tokenizer.codegen_meta = {"languages": []}
    add_language_tokens(tokenizer, ["loda"])
    torch.manual_seed(seed)
    model = build_model({"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 1, "num_decoder_layers": 1,
                         "num_heads": 2}, tokenizer)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(path))
    save_tokenizer(tokenizer, path)
    write_meta(path, {"language": "loda", "recipes": ["loda-terms" if terms_in_prompt else "loda"],
                      "terms_in_prompt": terms_in_prompt, "max_source_length": 64,
                      "max_target_length": max_target_length})
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """Decode as the CLIs do: one intra-op thread (tiny matmuls; spinning threads stall on shared cores).
    A module that decodes uses it for all its tests: `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class RecordingBackend:
    """A decoding backend that answers with fixed hypotheses by strategy (`by_strategy[options.strategy]`),
    recording every call."""

    def __init__(self, by_strategy):
        self.by_strategy = by_strategy
        self.calls = []

    def decode(self, prompts, options):
        self.calls.append((list(prompts), options.strategy, options.num_return))
        return [list(self.by_strategy[options.strategy]) for _ in prompts]


# -- a tiny corpus ------------------------------------------------------------------------------
def make_fixture_corpus(root: Path, count: int = 160) -> Path:
    """A small loda-programs checkout: `count` affine / loop programs with names and terms,
    plus a shared program and a shared name (to exercise the leakage guard)."""
    oeis = root / "oeis" / "000"
    oeis.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    for number in range(1, count + 1):
        k, j = number % 13 + 2, number // 13
        if number % 3 == 0:
            name = f"a(n) = sum of {k}*i + {j} for i = 0..n."
            code = f"mov $1,$0\nlpb $1\n  sub $1,1\n  mov $2,$1\n  mul $2,{k}\n  add $2,{j}\n  add $3,$2\nlpe\nmov $0,$3\n"
            terms = [sum(k * i + j for i in range(n + 1)) - (k * n + j) for n in range(10)]
        else:
            name = f"a(n) = {k}*n + {j} (variant {number})."
            code = f"mul $0,{k}\nadd $0,{j}\n"
            terms = [k * n + j for n in range(10)]
        if number == 50:
            code = "mul $0,7\nadd $0,1000\n"  # same program as A000051 below
            name = "First shared program."
        if number == 51:
            code = "mul $0,7\nadd $0,1000\n"
            name = "Second shared program."
        if number in (60, 61):
            name = "Shared name, punctuated!" if number == 60 else "shared   NAME punctuated"
        header = f"; A{number:06d}: {name}\n; Submitted by test\n; {','.join(map(str, terms))}\n\n"
        if rng.random() < 0.2:
            header += "#offset 1\n\n"
        (oeis / f"A{number:06d}.asm").write_text(header + code)
    (root / "oeis" / "deny.txt").write_text("A000002: denied for the test\n")
    return root


# -- random LODA programs (hypothesis) ----------------------------------------------------------
CELLS = st.integers(0, 6)
TARGETS = st.one_of(st.builds(Operand.direct, CELLS), st.builds(Operand.indirect, st.integers(0, 4)))
CONSTANTS = st.builds(Operand.constant, st.one_of(st.integers(-3, 12), st.sampled_from([-(1 << 70), 1 << 65, 100])))
SOURCES = st.one_of(CONSTANTS, st.builds(Operand.direct, CELLS), st.builds(Operand.direct, CELLS),
                    st.builds(Operand.indirect, st.integers(0, 4)))
ARITHMETIC = st.builds(lambda name, t, s: [Operation(name, t, s)], st.sampled_from(ARITHMETIC_OPS), TARGETS, SOURCES)
REGION = st.builds(lambda name, t, s: [Operation(name, t, s)], st.sampled_from(["clr", "fil", "rol", "ror"]), TARGETS,
                   st.one_of(st.builds(Operand.constant, st.integers(-3, 4)), st.builds(Operand.direct, CELLS)))
CALL = st.builds(lambda t, k: [Operation("seq", t, Operand.constant(k))], TARGETS, st.sampled_from([1, 2, 3, 4, 5]))
SIMPLE = st.one_of(ARITHMETIC, ARITHMETIC, ARITHMETIC, REGION, CALL, st.just([Operation("nop")]))


def _loop(counter, length, decrement, body):
    ops = [Operation("lpb", counter, length)]
    if decrement:
        ops.append(Operation("sub", counter, Operand.constant(decrement)))
    for part in body:
        ops.extend(part)
    ops.append(Operation("lpe"))
    return ops


def _loops(children):
    return st.builds(
        _loop, TARGETS, st.one_of(st.just(Operand.constant(1)), st.builds(Operand.constant, st.integers(-1, 3)),
                                  st.builds(Operand.direct, CELLS)),
        st.sampled_from([0, 1, 1, 2]), st.lists(children, max_size=5))


def _program(parts, offset):
    ops = [op for part in parts for op in part]
    return Program(tuple(Operation(o.op, o.target, o.source, line=i + 1) for i, o in enumerate(ops)), offset=offset)


# random LODA programs: arithmetic, regions, `seq` calls to 1..5 and nested loops, offsets -2..3
programs = st.builds(_program, st.lists(st.recursive(SIMPLE, _loops, max_leaves=16), min_size=1, max_size=10),
                     st.integers(-2, 3))
