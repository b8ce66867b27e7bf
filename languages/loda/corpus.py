"""Read the loda-programs corpus in place: a `git clone` directory or its tarball.

The first read parses every program (tqdm bar) and writes a compact index cache
keyed by the corpus' content hash; later reads load that cache in about a second.
Malformed files are reported (file and reason) and skipped, never fatal. A corpus that cannot be
read at all (a truncated tarball, a text file, a folder without `oeis/`) raises `CorpusError`, one
line naming the file and what is wrong with it, which the command-line tools print and exit 2 on.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import re
import sys
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from codegen.cache import cache_dir
from codegen.language import InputError
from codegen.reports import atomic_write

from .canonical import format_program
from .errors import LodaError, UnknownSequenceError
from .parser import parse
from .program import Program

CORPUS_ENV = "CODEGEN_LODA_CORPUS"
# where the project keeps its corpus snapshots: shared/corpora beside the repository checkout
SHARED_CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
_CACHE_VERSION = 1
_ASM_NAME = re.compile(r"(?:^|/)oeis/(\d{3})/A(\d{6,})\.asm\Z")
_TERMS = re.compile(r"-?\d+(?:,-?\d+)*\Z")
_NAME = re.compile(r"A(\d+)\s*:\s*(.*)\Z")


# what reading a damaged tarball raises, depending on where the damage is: a short gzip stream
# (EOFError), a bad gzip header or CRC (gzip.BadGzipFile, an OSError), a corrupt deflate block
# (zlib.error), a broken tar header (tarfile.TarError)
_READ_ERRORS = (EOFError, OSError, zlib.error, tarfile.TarError)


class CorpusError(InputError):
    """A corpus that cannot be read: the message names the path and what is wrong with it."""


def _damaged(path: Path, error: BaseException) -> CorpusError:
    """The one-line error for a tarball or checkout whose reading failed with `error`."""
    if isinstance(error, (EOFError, zlib.error, tarfile.TarError, gzip.BadGzipFile)):
        return CorpusError(f"{path}: truncated or not a gzip tarball ({type(error).__name__}: {error})")
    if isinstance(error, OSError):
        return CorpusError(f"{path}: cannot read: {error.strerror or error}")
    return CorpusError(f"{path}: unreadable corpus: {error}")


def check_tarball(path: Path) -> None:
    """Raise `CorpusError` unless `path` starts like a (gzip-compressed) tar archive. Reads the first
    block only: truncation further in shows when the programs are read (`Corpus.load`)."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(2)
        if path.name.endswith((".gz", ".tgz")) and magic != b"\x1f\x8b":
            raise CorpusError(f"{path}: truncated or not a gzip tarball (it does not start with the gzip "
                              "magic bytes); pass a loda-programs .tar.gz or a checkout directory")
        is_tar = tarfile.is_tarfile(path)
    except CorpusError:
        raise
    except _READ_ERRORS as error:
        raise _damaged(path, error) from None
    if not is_tar:
        raise CorpusError(f"{path}: truncated or not a gzip tarball (no tar archive in it); pass a "
                          "loda-programs .tar.gz or a checkout directory")


@dataclass(frozen=True)
class CorpusRecord:
    id: str  # "A000045"
    name: str
    terms: tuple[int, ...]
    offset: int
    formula: tuple[str, ...]
    code: str  # canonical form
    calls: tuple[int, ...]  # sequence numbers used by `seq`
    denied: bool  # listed in oeis/deny.txt
    path: str  # path inside the checkout or tarball

    @property
    def number(self) -> int:
        return int(self.id[1:])


def sequence_id(number: int) -> str:
    return f"A{number:06d}"


def parse_sequence_id(text: str) -> int:
    text = text.strip()
    if text[:1] in ("A", "a"):
        text = text[1:]
    if not text.isdigit():
        raise ValueError(f"not a sequence id: {text!r}")
    return int(text)


def record_from_text(text: str, path: str, denied: bool = False) -> CorpusRecord:
    """Parse one program file into a record; raises `LodaError` / `ValueError` naming the problem."""
    program = parse(text, source=path)
    name_match = None
    terms: tuple[int, ...] = ()
    formula: list[str] = []
    in_formula = False
    for line in program.header:
        line = line.strip()
        if name_match is None:
            name_match = _NAME.match(line)
            if name_match:
                continue
        if not terms and _TERMS.match(line):
            terms = tuple(int(t) for t in line.split(","))
            in_formula = False
        elif line.startswith("Formula:"):
            formula.append(line[len("Formula:"):].strip())
            in_formula = True
        elif in_formula and line and not line.startswith("Submitted by"):
            formula.append(line)
    file_match = _ASM_NAME.search(path)
    if name_match is None:
        raise ValueError("missing header line '; Annnnnn: name'")
    number = int(name_match.group(1))
    if file_match and int(file_match.group(2)) != number:
        raise ValueError(f"header names A{number:06d} but the file is {Path(path).name}")
    return CorpusRecord(
        id=sequence_id(number),
        name=name_match.group(2).strip(),
        terms=terms,
        offset=program.offset,
        formula=tuple(formula),
        code=format_program(program),
        calls=tuple(program.calls()),
        denied=denied,
        path=path,
    )


def _deny_ids(text: str) -> set[int]:
    ids = set()
    for line in text.splitlines():
        head = line.split(":", 1)[0].strip()
        if head.startswith("A") and head[1:].isdigit():
            ids.add(int(head[1:]))
    return ids


def _iter_files(path: Path) -> Iterator[tuple[str, str]]:
    """(relative path, text) for deny.txt first, then every program file."""
    if path.is_dir():
        root = path
        deny = root / "oeis" / "deny.txt"
        if deny.exists():
            yield "oeis/deny.txt", deny.read_text(errors="replace")
        for sub in sorted((root / "oeis").glob("[0-9][0-9][0-9]")):
            for asm in sorted(sub.glob("A*.asm")):
                yield f"oeis/{sub.name}/{asm.name}", asm.read_text(errors="replace")
        return
    # Stream the tarball: deny.txt may come after the programs, so hold it back to the end.
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = member.name
            if name.endswith("oeis/deny.txt") or _ASM_NAME.search(name):
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                data = handle.read().decode("utf-8", errors="replace")
                yield name.split("/", 1)[1] if "/" in name else name, data


def corpus_hash(path: Path) -> str:
    """Content key for the cache: the file's sha256 for a tarball; for a checkout, the
    names, sizes and modification times of its program files."""
    digest = hashlib.sha256()
    if path.is_dir():
        for sub in sorted((path / "oeis").glob("*")):
            if sub.is_dir():
                for entry in sorted(os.scandir(sub), key=lambda e: e.name):
                    stat = entry.stat()
                    digest.update(f"{sub.name}/{entry.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
            elif sub.is_file():
                digest.update(sub.read_bytes())
    else:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:20]


def resolve_corpus_path(path: str | os.PathLike | None = None) -> Path:
    """The corpus location: the argument, else $CODEGEN_LODA_CORPUS. Raises FileNotFoundError
    with instructions when neither names an existing path, `CorpusError` when it names a folder
    without `oeis/` or a file that is not a tar archive (checked on its first block only)."""
    if path is None:
        path = os.environ.get(CORPUS_ENV)
    if not path:
        raise FileNotFoundError(
            "no LODA corpus given: pass --corpus PATH (a loda-programs checkout or its .tar.gz) "
            f"or set {CORPUS_ENV}")
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise FileNotFoundError(f"LODA corpus not found: {resolved}")
    if resolved.is_dir():
        if not (resolved / "oeis").is_dir():
            raise CorpusError(f"{resolved}: not a loda-programs checkout (no oeis/ folder in it)")
    elif resolved.is_file():
        check_tarball(resolved)
    else:
        raise CorpusError(f"{resolved}: neither a loda-programs checkout nor a tarball")
    return resolved


def find_default_corpus() -> Path | None:
    """The corpus to use when none is given: $CODEGEN_LODA_CORPUS where it names an existing path,
    else a loda-programs-*.tar.gz in SHARED_CORPORA (the last by name when there are several);
    None when neither exists. Scripts and tests pass the result on to `resolve_corpus_path`, or skip
    where it is None; this is their one copy of the lookup."""
    env = os.environ.get(CORPUS_ENV)
    if env and Path(env).expanduser().exists():
        return Path(env).expanduser()
    found = sorted(SHARED_CORPORA.glob("loda-programs-*.tar.gz"))
    return found[-1] if found else None


def default_cache_dir() -> Path:
    """The project's cache directory (`codegen.cache.cache_dir`), under this name for LODA's callers."""
    return cache_dir()


class Corpus:
    """All records of a corpus by sequence number, plus lazily parsed programs for `seq` calls.

    `problems` lists (file, reason) for every file that was skipped."""

    def __init__(self, records: Iterable[CorpusRecord], *, hash: str = "", path: Path | None = None,
                 problems: list[tuple[str, str]] | None = None):
        self.records: dict[int, CorpusRecord] = {r.number: r for r in records}
        self.hash = hash
        self.path = path
        self.problems = problems or []
        self._programs: dict[int, Program] = {}

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, *, cache_dir: str | os.PathLike | None = None,
             progress: bool = True, use_cache: bool = True) -> "Corpus":
        resolved = resolve_corpus_path(path)
        try:
            key = corpus_hash(resolved)
        except OSError as error:
            raise _damaged(resolved, error) from None
        cache_file = Path(cache_dir or default_cache_dir()) / "loda" / f"corpus-{key}-v{_CACHE_VERSION}.pkl.gz"
        if use_cache and cache_file.exists():
            try:
                with gzip.open(cache_file, "rb") as handle:
                    rows, problems = pickle.load(handle)
                return cls((CorpusRecord(*row) for row in rows), hash=key, path=resolved, problems=problems)
            except (OSError, EOFError, pickle.UnpicklingError, TypeError, ValueError):
                pass  # a damaged cache is rebuilt below
        records, problems = cls._read(resolved, progress=progress)
        if use_cache:
            rows = [tuple(getattr(r, f) for f in CorpusRecord.__dataclass_fields__) for r in records]
            atomic_write(cache_file, gzip.compress(pickle.dumps((rows, problems), protocol=5), 1))
        return cls(records, hash=key, path=resolved, problems=problems)

    @staticmethod
    def _read(path: Path, *, progress: bool) -> tuple[list[CorpusRecord], list[tuple[str, str]]]:
        from tqdm import tqdm

        pending: list[tuple[str, str]] = []
        deny: set[int] = set()
        try:
            for name, text in tqdm(_iter_files(path), desc=f"reading {path.name}", unit=" files",
                                   disable=not progress, mininterval=0.5):
                if name.endswith("deny.txt"):
                    deny = _deny_ids(text)
                else:
                    pending.append((name, text))
        except _READ_ERRORS as error:
            # the one place a damaged corpus surfaces: every tool reads through here
            raise _damaged(path, error) from None
        if not pending:
            raise CorpusError(f"{path}: no program files (oeis/NNN/Annnnnn.asm) in it: not a loda-programs "
                              "checkout or tarball")
        records: list[CorpusRecord] = []
        problems: list[tuple[str, str]] = []
        for name, text in tqdm(pending, desc="parsing programs", unit=" programs",
                               disable=not progress, mininterval=0.5):
            match = _ASM_NAME.search(name)
            denied = bool(match) and int(match.group(2)) in deny
            try:
                records.append(record_from_text(text, name, denied))
            except (LodaError, ValueError) as error:
                problems.append((name, str(error)))
        if problems and progress:
            print(f"{len(problems)} malformed program file(s) skipped, e.g. {problems[0][0]}: {problems[0][1]}",
                  file=sys.stderr)
        return records, problems

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[CorpusRecord]:
        return iter(self.records.values())

    def __contains__(self, number: object) -> bool:
        return number in self.records

    def get(self, number: int) -> CorpusRecord | None:
        return self.records.get(number)

    def program(self, number: int) -> Program:
        """The parsed program of sequence `number` (parsed once, then cached).
        Raises `UnknownSequenceError` where the corpus has none."""
        program = self._programs.get(number)
        if program is None:
            record = self.records.get(number)
            if record is None:
                raise UnknownSequenceError(f"no program for {sequence_id(number)}")
            program = parse(record.code, source=record.path)
            self._programs[number] = program
        return program

    def dependencies(self, number: int) -> set[int]:
        """Every sequence reachable from `number` through `seq` calls (not including itself
        unless it is part of a cycle)."""
        seen: set[int] = set()
        stack = list(self.records[number].calls) if number in self.records else []
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            record = self.records.get(current)
            if record is not None:
                stack.extend(record.calls)
        return seen


def iter_program_files(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """(name, text) of every .asm file under a directory, inside a tarball, or of one .asm file:
    programs to check or evaluate that are not necessarily a corpus checkout."""
    path = Path(path)
    if path.is_dir():
        for file in sorted(path.rglob("*.asm")):
            yield str(file), file.read_text(errors="replace")
        return
    if path.is_file() and path.suffix == ".asm":
        yield str(path), path.read_text(errors="replace")
        return
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if not path.is_file() or not tarfile.is_tarfile(path):
        raise InputError(f"{path}: neither a directory, a tarball nor an .asm file")
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".asm"):
                    handle = tar.extractfile(member)
                    if handle is not None:
                        yield member.name, handle.read().decode("utf-8", errors="replace")
    except _READ_ERRORS as error:
        raise _damaged(path, error) from None
