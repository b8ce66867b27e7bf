"""A built raw dataset as one file, to train where the corpus is not (another machine, a GPU lent
for minutes): `python -m codegen.data export` writes it, `codegen.train --data FILE` (or the
config's `data.data_file`) reads the raw rows from it instead of building them.

The file is JSON lines, xz- or gzip-compressed (by its name: .xz / .gz). Line 1 is the header:
format, version, language, DATA_VERSION, the corpus it was built from, the recipes whose rows it
holds with their options, the options of every recipe of the split partition, the leakage report,
and `moves`: every id whose split after the leakage guard differs from its base split
(`codegen.data.split_of`). Then one line per row (`codegen.data._COLUMNS` plus "split"), split by
split, in `build_raw`'s order.

A recipe of the config that the file does not hold is built here, with the file's partition
(`moves`), when it needs no corpus (e.g. "wat-problems", generated from code with fixed seeds):
so a file can carry only the corpus recipes ("wat-oeis") and stay small. A missing recipe that
needs the corpus is an error naming the file and the recipe. Options that differ from the
file's (a recipe's, or the partition's) are an error too: the splits would not be the ones the
file's corpus gives.

Loaded rows are cached as Arrow like `build_raw`'s, keyed by the file's content hash, and so are
the tokenized splits (`DatasetDict.source_key`).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from .language import InputError

FORMAT = "codegen-raw-dataset"
VERSION = 1


class DataFileError(InputError):
    """A data file that is absent, unreadable, not ours, or does not hold what a config asks for
    (an `InputError`: the tools print its one line and exit 2)."""


def _opener(path: Path):
    name = path.name
    if name.endswith(".xz"):
        return lzma.open
    if name.endswith(".gz"):
        return gzip.open
    raise DataFileError(f"{path}: a data file's name ends in .xz or .gz (e.g. wat.jsonl.xz)")


def file_hash(path: str | os.PathLike) -> str:
    """sha1 of the file's bytes (20 hex digits): the data's part of cache keys."""
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:20]


def _partition_options(language, options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """recipe -> the options the split partition is computed with (as `split_assignment` keys it)."""
    from .data import _recipe_options

    out = {}
    for recipe in sorted(language.recipes):
        recipe_options = _recipe_options(language, recipe, dict(options))
        recipe_options.pop("terms_count", None)
        out[recipe] = recipe_options
    return out


def _canonical(value: Any) -> Any:
    """Options as JSON gives them back (tuples -> lists), for comparing with a file's."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


# -- writing --------------------------------------------------------------------------------------
def export(corpus_path, lang, recipes: Sequence[str], out: str | os.PathLike, *, cache_dir=None,
           log: Callable[[str], None] | None = print, build_recipes: Sequence[str] | None = None,
           training_only: bool = False, **options: Any) -> dict[str, Any]:
    """Write the raw dataset of `recipes` (built, or read from the cache, by `build_raw`) to `out`
    (temporary file, then rename). Returns the header. `build_recipes` (a superset of `recipes`,
    e.g. the config's): the dataset `build_raw` builds or has cached, of which the rows of
    `recipes` are written (a recipe's rows do not depend on the other recipes built with it).
    `training_only`: rows without their listed terms and with only the name in their meta (what
    training and retrieval read; a LODA export shrinks from 46 to a few MiB), compressed harder."""
    from .data import SPLITS, _COLUMNS, _language_for, _recipe_options, build_raw, split_assignment, split_of

    out = Path(out)
    opener = _opener(out)
    recipes = list(recipes)
    language = _language_for(lang, recipes)
    built = list(build_recipes or recipes)
    if not set(recipes) <= set(built):
        raise ValueError(f"build_recipes {built} do not include recipes {recipes}")
    raw = build_raw(corpus_path, language, built, cache_dir=cache_dir, log=log, **options)
    if built != recipes:
        wanted = set(recipes)
        raw = {s: raw[s].filter(lambda r: r in wanted, input_columns="recipe") for s in SPLITS}
    assignment, report = split_assignment(corpus_path, language, cache_dir=cache_dir, required=recipes, **options)
    corpus_name, corpus_hash = language.corpus_key(corpus_path)
    header = {
        "format": FORMAT, "version": VERSION, "data_version": _data_version(), "language": language.name,
        "corpus": corpus_name, "corpus_hash": corpus_hash, "recipes": recipes,
        "recipe_options": _canonical({r: _recipe_options(language, r, options) for r in recipes}),
        "partition_options": _canonical(_partition_options(language, options)),
        "partition_recipes": list(report.get("recipes") or []),
        "leakage_report": report,
        "moves": {i: s for i, s in sorted(assignment.items()) if s != split_of(i)},
        "rows": {s: len(raw[s]) for s in SPLITS},
        "training_only": bool(training_only),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.name + ".tmp")
    os.close(fd)
    try:
        # a 64 MiB dictionary (xz preset 9) finds a program again in another recipe's rows
        kwargs = {"preset": 9} if opener is lzma.open else {}
        with opener(tmp, "wt", encoding="utf-8", **kwargs) as handle:
            handle.write(json.dumps(header, sort_keys=True) + "\n")
            for split in SPLITS:
                for row in raw[split]:
                    row = {c: row[c] for c in _COLUMNS}
                    if training_only:
                        name = json.loads(row["meta"] or "{}").get("name")
                        row["terms"], row["meta"] = "", json.dumps({"name": name} if name else {})
                    handle.write(json.dumps({"split": split, **row}) + "\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's file is private; an export is an ordinary file
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if log:
        log(f"data: wrote {out} ({out.stat().st_size / 2**20:.2f} MiB; {'+'.join(recipes)}; "
            + ", ".join(f"{s} {header['rows'][s]}" for s in SPLITS) + " rows)")
    return header


def _data_version() -> int:
    from .data import DATA_VERSION

    return DATA_VERSION


# -- reading --------------------------------------------------------------------------------------
def _lines(path: Path) -> Iterator[str]:
    with _opener(path)(path, "rt", encoding="utf-8") as handle:
        yield from handle


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The file's header; DataFileError where the file is absent, unreadable or not a data file."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such data file" + (" (a directory)" if path.is_dir() else ""))
    try:
        first = next(_lines(path), "")
        header = json.loads(first)
    except (OSError, EOFError, lzma.LZMAError, UnicodeDecodeError, ValueError) as error:
        if isinstance(error, DataFileError):
            raise
        raise DataFileError(f"{path}: not a data file written by `python -m codegen.data export` "
                            f"({type(error).__name__}: {error})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise DataFileError(f"{path}: not a data file written by `python -m codegen.data export` (no header)")
    if header.get("version") != VERSION:
        raise DataFileError(f"{path}: data file version {header.get('version')}, this code reads {VERSION}")
    if header.get("data_version") != _data_version():
        raise DataFileError(f"{path}: built with DATA_VERSION {header.get('data_version')}, this code's records are "
                            f"version {_data_version()}: export it again")
    return header


def check(path: str | os.PathLike, lang, recipes: Sequence[str], **options: Any) -> dict[str, Any]:
    """The header, once the file is found to give `recipes` with `options` (`load_raw`'s checks,
    without reading the rows): DataFileError naming the file and what does not fit."""
    from .data import _language_for, _recipe_options

    path = Path(path)
    header = read_header(path)
    language = _language_for(lang, list(recipes))
    if header.get("language") != language.name:
        raise DataFileError(f"{path}: holds {header.get('language')} data, not {language.name}")
    held = list(header.get("recipes") or [])
    for recipe in recipes:
        if recipe in held:
            wanted = _canonical(_recipe_options(language, recipe, dict(options)))
            if wanted != header["recipe_options"].get(recipe):
                raise DataFileError(f"{path}: recipe {recipe!r} was exported with options "
                                    f"{header['recipe_options'].get(recipe)}, the config asks for {wanted}")
        elif recipe in language.corpus_recipes:
            raise DataFileError(f"{path}: holds no records of recipe {recipe!r} (it holds {', '.join(held) or 'none'}), "
                                f"and {recipe!r} needs the corpus: export it with --recipes {','.join(recipes)}")
        elif recipe not in (header.get("partition_recipes") or []):
            raise DataFileError(f"{path}: holds no records of recipe {recipe!r}, and its split partition was made "
                                f"without it (recipes {', '.join(header.get('partition_recipes') or [])})")
    wanted = _canonical(_partition_options(language, options))
    theirs = header.get("partition_options") or {}
    for recipe in sorted(set(wanted) | set(theirs)):
        if wanted.get(recipe) != theirs.get(recipe):
            raise DataFileError(f"{path}: its split partition was computed with options {theirs.get(recipe)} for "
                                f"recipe {recipe!r}, the config gives {wanted.get(recipe)}: export it again with "
                                "this config")
    return header


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    lines = _lines(path)
    next(lines, None)
    for number, line in enumerate(lines, start=2):
        try:
            yield json.loads(line)
        except ValueError as error:
            raise DataFileError(f"{path}: line {number}: not JSON ({error})") from None


def load_raw(path: str | os.PathLike, lang, recipes: Sequence[str], *, cache_dir=None,
             log: Callable[[str], None] | None = print, refresh: bool = False, **options: Any):
    """The DatasetDict `build_raw` would give for `recipes` and `options`, from the data file
    (recipes it does not hold but can build without the corpus are built here, split by the file's
    partition). Cached as Arrow, keyed by the file's content hash; `.source_key` is that hash."""
    from datasets import Dataset, DatasetDict, Features, Value

    from .data import (DATA_VERSION, SPLITS, _COLUMNS, _atomic_save, _key, _language_for, _load_saved, _recipe_options,
                       _row, cache_root, split_of)

    log = log or (lambda message: None)
    path = Path(path)
    recipes = list(recipes)
    language = _language_for(lang, recipes)
    header = check(path, language, recipes, **options)
    source_key = "file:" + file_hash(path)
    recipe_options = {r: _recipe_options(language, r, options) for r in recipes}
    key = _key("raw-file", DATA_VERSION, language.name, source_key, recipes, recipe_options)
    target = cache_root(cache_dir) / f"raw-{language.name}-{key}"
    report = header.get("leakage_report")
    if target.exists() and not refresh:
        try:
            dataset = _load_saved(target)
            dataset.leakage_report, dataset.source_key, dataset.from_cache = report, source_key, True
            return dataset
        except (OSError, ValueError, FileNotFoundError):
            import shutil

            shutil.rmtree(target, ignore_errors=True)
    started = time.time()
    held = set(header.get("recipes") or [])
    from_file: dict[tuple[str, str], dict[str, list]] = {
        (s, r): {c: [] for c in _COLUMNS} for s in SPLITS for r in recipes if r in held}
    counts = {s: 0 for s in SPLITS}
    for row in _rows(path):
        split, recipe = row.get("split"), row.get("recipe")
        if split not in counts:
            raise DataFileError(f"{path}: a row with split {split!r}")
        counts[split] += 1
        columns = from_file.get((split, recipe))
        if columns is not None:
            for column in _COLUMNS:
                columns[column].append(row[column])
    expected = header.get("rows") or {}
    if any(counts[s] != expected.get(s) for s in SPLITS):
        raise DataFileError(f"{path}: {counts} rows, the header says {expected} (a truncated file?)")
    moves = header.get("moves") or {}
    columns: dict[str, dict[str, list]] = {s: {c: [] for c in _COLUMNS} for s in SPLITS}
    for recipe in recipes:
        if recipe in held:
            for split in SPLITS:
                for column in _COLUMNS:
                    columns[split][column].extend(from_file[(split, recipe)][column])
            continue
        built = 0
        for record in language.records(recipe, None, **recipe_options[recipe]):
            try:
                length = len(language.tokenize(record.code)) + 1
            except Exception:  # as build_raw: a record whose code does not tokenize is dropped
                continue
            split = moves.get(record.id) or split_of(record.id)
            for column, value in _row(record, recipe, length).items():
                columns[split][column].append(value)
            built += 1
        log(f"data: built {built} records of {recipe!r} here (split by {path.name}'s partition)")
    features = Features({
        "id": Value("string"), "recipe": Value("string"), "prompt": Value("string"), "code": Value("string"),
        "terms": Value("string"), "offset": Value("int64"), "expected": Value("string"), "meta": Value("string"),
        "target_length": Value("int32"),
    })
    dataset = DatasetDict({s: Dataset.from_dict(columns[s], features=features) for s in SPLITS})
    _atomic_save(dataset, target, replace=refresh)
    (target / "leakage.json").write_text(json.dumps(report, indent=1))
    dataset.leakage_report, dataset.source_key = report, source_key
    log(f"data: {', '.join(f'{s} {len(dataset[s])}' for s in SPLITS)} records ({'+'.join(recipes)}, from {path} "
        f"in {time.time() - started:.1f}s, cached at {target})")
    return dataset
