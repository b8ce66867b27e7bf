"""Every row of every semantics CSV (shared/loda/semantics) is checked, one test per file."""
from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from languages.loda import semantics
from languages.loda.errors import LodaError, NumberOverflowError, UndefinedResultError

SEMANTICS = Path(__file__).resolve().parent.parent.parent / "shared" / "loda" / "semantics"
FILES = sorted(p.name for p in SEMANTICS.glob("*.csv")) if SEMANTICS.is_dir() else []


def _rows(path: Path):
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if header[0] == "op":  # grid.csv: op,a,b,result
                op, a, b, result = row
            else:  # <op>.csv: Op1,Op2,Result
                op = path.stem
                a, b, result = row
            yield number, op, int(a), int(b), None if result in ("inf", "error") else int(result)


def test_all_operations_have_a_vector_file(semantics_dir):
    names = {p.stem for p in semantics_dir.glob("*.csv")}
    missing = set(semantics.OPERATIONS) - names
    assert not missing, f"no vectors for {sorted(missing)}"


@pytest.mark.parametrize("name", FILES or ["<missing>"])
def test_vector_file(semantics_dir, name):
    path = semantics_dir / name
    failures = []
    checked = 0
    for line, op, a, b, expected in _rows(path):
        checked += 1
        try:
            got = semantics.calc(op, a, b)
        except UndefinedResultError:
            got = None
        except LodaError as error:  # overflow is also "inf" in the reference
            got = None if isinstance(error, NumberOverflowError) else f"{error.kind}"
        if got != expected:
            failures.append(f"{name}:{line}: {op}({a}, {b}) = {got}, expected {expected if expected is not None else 'inf'}")
    assert checked > 0
    assert not failures, f"{len(failures)} of {checked} rows fail:\n" + "\n".join(failures[:50])


def test_grid_covers_every_operation_and_pair(semantics_dir):
    seen: dict[str, int] = {}
    for _, op, a, b, _ in _rows(semantics_dir / "grid.csv"):
        assert -12 <= a <= 12 and -12 <= b <= 12
        seen[op] = seen.get(op, 0) + 1
    assert set(seen) >= set(semantics.OPERATIONS) - {"mov"}
    assert all(count == 625 for count in seen.values())


def test_overflow_boundary():
    top = 1 << 3839
    assert semantics.pow(2, 3839) == top
    assert semantics.mul(top, -1) == -top
    assert semantics.add(top, top - 1) == (1 << 3840) - 1
    for op, a, b in [("add", top, top), ("mul", top, 2), ("sub", -top, top), ("pow", 2, 3840), ("pow", -2, 3840),
                     ("bin", 1 << 3000, 2), ("fac", 2, 3000), ("ban", -(1 << 3840) + 1, -(1 << 3840) + 2)]:
        with pytest.raises(NumberOverflowError):
            semantics.calc(op, a, b)


def test_division_rules():
    assert [semantics.div(a, b) for a, b in [(7, 2), (-7, 2), (7, -2), (-7, -2)]] == [3, -3, -3, 3]
    assert [semantics.mod(a, b) for a, b in [(7, 2), (-7, 2), (7, -2), (-7, -2)]] == [1, -1, 1, -1]
    with pytest.raises(UndefinedResultError):
        semantics.div(1, 0)


def test_expensive_arguments_are_refused_quickly():
    huge = (1 << 3839) - 1
    started = time.monotonic()
    for op, a, b in [("pow", 3, 10**30), ("pow", huge, huge), ("bin", 10**40, 10**20), ("fac", 5, 10**30),
                     ("fac", -(10**30), -(10**30)), ("bin", -(10**30), 10**29)]:
        with pytest.raises(NumberOverflowError):
            semantics.calc(op, a, b)
    # bounded loops on the largest numbers
    assert semantics.dgs(huge, 3) > 0
    assert semantics.lex(1 << 3839, 2) == 3839
    assert semantics.dir(1 << 3839, -2) == -1
    assert semantics.nrt(huge, 3) ** 3 <= huge < (semantics.nrt(huge, 3) + 1) ** 3
    assert 3 ** semantics.log(huge, 3) <= huge < 3 ** (semantics.log(huge, 3) + 1)
    assert semantics.fac(0, 10**30) == 0 and semantics.fac(10**30, -(10**31)) == 0
    assert time.monotonic() - started < 2.0


def test_log_and_nrt_exact_at_powers():
    for base in (2, 3, 7, 10):
        for k in range(0, 200, 7):
            assert semantics.log(base**k, base) == k
            if k:
                assert semantics.log(base**k - 1, base) == k - 1
    for degree in (2, 3, 5):
        for x in (10**20, 10**20 + 1, 2**100, 3**60 - 1):
            r = semantics.nrt(x, degree)
            assert r**degree <= x < (r + 1) ** degree
