"""The "wat-oeis" recipe: OEIS sequences as WebAssembly, LODA corpus programs compiled to WAT
(`corpora.loda_to_wat`) and checked by wasmtime. Source: the loda-programs corpus.

- `oeis_records(corpus, ...)`: the (sequence name -> canonical WAT) pairs of the corpus as
  `codegen.language.Record`s, keeping only those that wasmtime reproduces; the recipe
  (`wat_oeis_records`) gives each the `<wat> name` prompt every recipe has.
- `check_loda(corpus, ...)`: compile a (seeded) sample of corpus programs, run each module
  once per term (one instance, `a` called for n = offset, offset+1, ...) and compare with
  the terms listed in the program's header. Programs whose first `terms` header terms do
  not all fit in i64 are skipped and not counted (the compiled code works on i64).
  `python -m languages.wat check-loda` (`corpora.loda_to_wat.cli`, registered in the WAT CLI
  through this recipe) runs it.

`corpus` is a `languages.loda.Corpus` or a path to the loda-programs checkout / tarball.
"""
from __future__ import annotations

import random
import sys
import time
from collections import Counter
from typing import Any, Iterator

from codegen.language import Record
from codegen.prompts import make_prompt
from languages.loda.corpus import Corpus, sequence_id
from languages.loda.language import operation_count
from languages.wat.errors import WatError, WatTrap
from languages.wat.runner import RunLimits, Sandbox

from . import LODA_PROGRAMS, Recipe, register
from .loda_to_wat import cli as _cli
from .loda_to_wat.compiler import DEFAULT_CELL_LIMIT, I64_MAX, I64_MIN, UnsupportedProgram, compile_program

# per call of `a`: LODA's reference stops at 10^7 steps; one step is some 10-40 wasm instructions
DEFAULT_LIMITS = RunLimits(fuel=400_000_000, timeout=5.0, memory_bytes=64 << 20)


def load_corpus(corpus: Any, progress: bool = False) -> Corpus:
    if isinstance(corpus, Corpus):
        return corpus
    return Corpus.load(corpus, progress=progress)


def fits_i64(value: int) -> bool:
    return I64_MIN <= value <= I64_MAX


def _sample(corpus: Corpus, sample: int | None, seed: int) -> list[int]:
    numbers = sorted(corpus.records)
    if sample is not None and sample < len(numbers):
        numbers = sorted(random.Random(seed).sample(numbers, sample))
    return numbers


def _progress(iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=" programs", file=sys.stderr, mininterval=0.5)


def run_terms(wat: str, offset: int, count: int, limits: RunLimits | None = None) -> list[int]:
    """a(offset), ..., a(offset + count - 1) of a compiled module (one instance);
    raises `WatError` on the first term that fails."""
    sandbox = Sandbox(wat, limits or DEFAULT_LIMITS)
    return [sandbox.call("a", offset + i) for i in range(count)]


# helpers whose only trap is "the result does not fit in i64"
_OVERFLOW_HELPERS = ("$op_add", "$op_sub", "$op_mul", "$op_gcd")


def error_kind(error: WatError) -> str:
    """The error's kind, with i64 overflow told apart from other traps: "overflow" where a
    checked operation trapped because a value left the i64 range (LODA would go on with
    a bigger number), "trap" for the undefined results of LODA and the cell limit."""
    if isinstance(error, WatTrap):
        if error.trap_code == "INTEGER_OVERFLOW":
            return "overflow"
        if error.trap_code == "UNREACHABLE" and error.reason.endswith(_OVERFLOW_HELPERS):
            return "overflow"
    return error.kind


def _verify(wat: str, offset: int, expected: list[int], limits: RunLimits | None) -> tuple[bool, str | None]:
    """(matched, error kind or None)."""
    try:
        sandbox = Sandbox(wat, limits or DEFAULT_LIMITS)
        for i, value in enumerate(expected):
            if sandbox.call("a", offset + i) != value:
                return False, None
    except WatError as error:
        return False, error_kind(error)
    return True, None


def check_loda(corpus: Any, *, sample: int | None = None, seed: int = 0, terms: int = 10, progress: bool = True,
               limits: RunLimits | None = None, cell_limit: int = DEFAULT_CELL_LIMIT) -> dict:
    """Compile and run corpus programs; compare with their header terms.

    Returns {"checked", "matched", "mismatched", "unsupported": {reason: count}, "seconds"}
    and, for the record, "sample" (programs drawn), "skipped" (first `terms` terms not all
    in i64, or none listed), "errors" ({error kind: count} among the mismatched: a trap,
    fuel, timeout ...; a wrong value counts as "wrong_value") and "mismatched_ids".
    `checked` = matched + mismatched: the programs that compiled and ran.

    A program whose header terms fit in i64 but whose computation needs a larger number
    on the way traps on the checked arithmetic, as it must; that is a limit of the i64
    target, not a wrong result, so it counts as unsupported with reason "i64_overflow"
    (reported beside the compile-time refusals, not hidden) rather than as a mismatch."""
    start = time.perf_counter()
    corpus = load_corpus(corpus, progress)
    numbers = _sample(corpus, sample, seed)
    matched = mismatched = skipped = 0
    unsupported: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    mismatched_ids: list[str] = []
    for number in _progress(numbers, len(numbers), "check-loda", progress):
        record = corpus.records[number]
        expected = list(record.terms[:terms])
        if not expected or not all(fits_i64(t) for t in expected):
            skipped += 1
            continue
        try:
            wat = compile_program(corpus.program(number), corpus, number=number, cell_limit=cell_limit)
        except UnsupportedProgram as error:
            unsupported[error.reason] += 1
            continue
        ok, kind = _verify(wat, record.offset, expected, limits)
        if ok:
            matched += 1
        elif kind == "overflow":
            unsupported["i64_overflow"] += 1
        else:
            mismatched += 1
            errors[kind or "wrong_value"] += 1
            mismatched_ids.append(record.id)
    return {
        "checked": matched + mismatched,
        "matched": matched,
        "mismatched": mismatched,
        "unsupported": dict(sorted(unsupported.items())),
        "seconds": round(time.perf_counter() - start, 3),
        "sample": len(numbers),
        "skipped": skipped,
        "errors": dict(sorted(errors.items())),
        "mismatched_ids": mismatched_ids,
    }


def oeis_records(corpus: Any, *, terms: int = 10, sample: int | None = None, seed: int = 0,
                 progress: bool = True, limits: RunLimits | None = None,
                 cell_limit: int = DEFAULT_CELL_LIMIT, max_instructions: int | None = None,
                 calls: bool = True) -> Iterator[Record]:
    """One `Record` per corpus program that compiles and that wasmtime verifies:
    id = "A000045", prompt = the sequence name, code = canonical WAT, terms = the first
    `terms` header terms that fit in i64 (the leading run of them; at least one), offset,
    meta = {"loda_id": the program's id, "calls": ids of the sequences it calls}.
    A pair is kept only if the module reproduces all those terms.

    `max_instructions` and `calls=False` select short, self-contained programs before anything
    is compiled: most compiled modules are far longer than a small model's target length, and
    filtering first spares compiling and running the whole corpus (~40 min) to drop them."""
    corpus = load_corpus(corpus, progress)
    numbers = _sample(corpus, sample, seed)
    for number in _progress(numbers, len(numbers), "oeis->wat", progress):
        record = corpus.records[number]
        if record.denied or not record.name:
            continue
        if not calls and record.calls:
            continue
        if max_instructions is not None and operation_count(record.code) > max_instructions:
            continue
        fitting: list[int] = []
        for value in record.terms[:terms]:
            if not fits_i64(value):
                break
            fitting.append(value)
        if not fitting:
            continue
        try:
            wat = compile_program(corpus.program(number), corpus, number=number, cell_limit=cell_limit)
        except UnsupportedProgram:
            continue
        ok, _ = _verify(wat, record.offset, fitting, limits)
        if not ok:
            continue
        yield Record(
            id=record.id,
            prompt=record.name,
            code=wat,  # compile_program's text is canonical (languages.wat.canonical.format_wat)
            terms=fitting,
            offset=record.offset,
            meta={"loda_id": record.id, "calls": [sequence_id(k) for k in record.calls]},
        )


def wat_oeis_records(corpus: Any, **options: Any) -> Iterator[Record]:
    """The recipe: `oeis_records` with the model input `<wat> name`, as for every recipe
    (`make_prompt`), the name kept in meta and the recipe named there."""
    for record in oeis_records(corpus, **options):
        name = record.meta.get("name") or record.prompt
        if not record.prompt.startswith("<wat>"):
            record.prompt = make_prompt("wat", record.prompt)
        record.meta.setdefault("name", name)
        record.meta.setdefault("recipe", "wat-oeis")
        yield record


register(Recipe("wat-oeis", "wat", wat_oeis_records, source=LODA_PROGRAMS, options_of=oeis_records,
                add_commands=_cli.register,
                description="LODA corpus programs compiled to WAT and verified by wasmtime: sequence name -> WAT"))
