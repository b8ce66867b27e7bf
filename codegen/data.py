"""Datasets from language recipes, split by id with leakage guards, cached as Arrow.

Splits: each record's *base* split comes from a stable hash of its id (sha1; train /
validation / test = 96 / 2 / 2). Then the leakage guard: records that share a canonical
program or a normalised name (lower-cased, NFKC, punctuation and whitespace collapsed)
are joined (union-find, with records of one id always together), and each group goes
to the base split of its smallest id. So no program and no name occurs in two splits.

The partition of a language is computed over ALL of its recipes (for LODA: "loda" and
"loda-terms"), so an id lands in the same split whichever recipe or mix is asked for.
`split_of(id)` only gives the base split; the truth, after leakage moves, is
`load_split(...)` / `build_dataset(...)` (or `split_assignment(...)`).

CLI:
  python -m codegen.data build --corpus PATH --lang loda [--recipes loda,loda-terms]   (prints the leakage report)
  python -m codegen.data stats --corpus PATH --lang loda --tokenizer DIR [--json]
  python -m codegen.data export --config CONFIG.yaml --corpus PATH --out FILE.jsonl.xz [--recipes r1,r2]
      (the built raw dataset as one file, for `python -m codegen.train --data FILE`: codegen.dataset_file)
"""
from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .cache import cache_dir as project_cache_dir
from .language import DEFAULT_LANGUAGE, Language, Record, get_language, recipe_language

SPLITS = ("train", "validation", "test")
SPLIT_PERCENT = {"train": 96, "validation": 2, "test": 2}
# Part of the raw-record and partition caches' keys: bumped when a recipe yields other records
# for the same options (2: WAT chain problems became straight stack code).
DATA_VERSION = 2
# Part of the tokenized cache's key: bumped when prompts or code encode to other ids for the same
# tokenizer (2: negated number slots, `- <n2>`).
ENCODING_VERSION = 2
PARTITION_VERSION = 2  # the partition groups records by canonical program, so it follows DATA_VERSION
DEFAULT_TERMS_IN_PROMPT = 8


# -- splits ---------------------------------------------------------------------------------
def _bucket(key: str) -> int:
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % 100


def split_of(record_id: str) -> str:
    """The BASE split of an id (stable sha1 hash). Leakage moves can change it: use
    `load_split` / `split_assignment` for the actual split."""
    bucket = _bucket(record_id)
    if bucket < SPLIT_PERCENT["train"]:
        return "train"
    if bucket < SPLIT_PERCENT["train"] + SPLIT_PERCENT["validation"]:
        return "validation"
    return "test"


_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


@functools.lru_cache(maxsize=1 << 18)
def normalize_name(name: str) -> str:
    """Lower-case, NFKC, every run of punctuation/whitespace -> one space."""
    text = unicodedata.normalize("NFKC", name).lower()
    return " ".join(_PUNCT.sub(" ", text).split())


def record_name(record: Record) -> str:
    """The natural-language description of a record: meta["name"] / meta["text"], else the
    prompt without its language tag and terms."""
    name = record.meta.get("name") or record.meta.get("text") or record.meta.get("description")
    if name:
        return str(name)
    from .prompts import TERMS_MARKER

    text = record.prompt.split(f" {TERMS_MARKER} ", 1)[0]
    if text.startswith("<") and " " in text:
        text = text.split(" ", 1)[1]
    return text


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra  # the root is the smallest id of the group


def leakage_groups(records: Iterable[Record]) -> dict[str, str]:
    """id -> its leakage group (the smallest id of the group): records that share a canonical
    program or a normalised name are joined, transitively. Splits keep groups whole (`partition`);
    retrieval never returns a record of the query's own group (`codegen.retrieval`)."""
    uf = _UnionFind()
    first_by_key: dict[str, str] = {}
    for record in records:
        uf.find(record.id)
        for key in ("c\0" + record.code, "n\0" + normalize_name(record_name(record))):
            if key == "n\0":
                continue
            other = first_by_key.setdefault(key, record.id)
            if other != record.id:
                uf.union(other, record.id)
    return {record_id: uf.find(record_id) for record_id in list(uf.parent)}


def partition(records: Iterable[Record]) -> tuple[dict[str, str], dict[str, Any]]:
    """id -> split with the leakage guard, plus a report."""
    groups = leakage_groups(records)
    ids = set(groups)
    assignment: dict[str, str] = {}
    group_sizes: dict[str, int] = {}
    for record_id in ids:
        root = groups[record_id]
        assignment[record_id] = split_of(root)
        group_sizes[root] = group_sizes.get(root, 0) + 1
    moved = {s: 0 for s in SPLITS}
    before = {s: 0 for s in SPLITS}
    for record_id, split in assignment.items():
        base = split_of(record_id)
        before[base] += 1
        if base != split:
            moved[base] += 1
    after = {s: 0 for s in SPLITS}
    for split in assignment.values():
        after[split] += 1
    shared = [size for size in group_sizes.values() if size > 1]
    report = {
        "ids": len(ids),
        "groups_sharing_program_or_name": len(shared),
        "ids_in_shared_groups": sum(shared),
        "largest_group": max(shared, default=1),
        "moved": sum(moved.values()),
        "moved_from": moved,
        "base_split_sizes": before,
        "split_sizes": after,
    }
    return assignment, report


def check_leakage(records: Iterable[Record], assignment: dict[str, str]) -> dict[str, int]:
    """How many distinct programs / normalised names occur in more than one split (0 and 0)."""
    splits_by_key: dict[str, set[str]] = {}
    for record in records:
        split = assignment[record.id]
        for key in ("c\0" + record.code, "n\0" + normalize_name(record_name(record))):
            splits_by_key.setdefault(key, set()).add(split)
    programs = sum(1 for k, v in splits_by_key.items() if k[0] == "c" and len(v) > 1)
    names = sum(1 for k, v in splits_by_key.items() if k[0] == "n" and len(v) > 1 and k != "n\0")
    return {"programs_in_two_splits": programs, "names_in_two_splits": names}


# -- caching ----------------------------------------------------------------------------------
def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    return Path(cache_dir) if cache_dir else project_cache_dir() / "data"


def _key(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _load_saved(path: Path):
    """`load_from_disk` of a DatasetDict written by `_atomic_save`. `datasets` writes no Arrow
    shard for an empty split and then cannot read that split back (an IndexError), which a small
    corpus hits (2% of 60 programs is no test split): such a split is rebuilt, empty, from its
    saved features."""
    from datasets import Dataset, DatasetDict, DatasetInfo, load_from_disk

    splits = json.loads((path / "dataset_dict.json").read_text())["splits"]
    loaded = {}
    for split in splits:
        folder = path / split
        if any(folder.glob("*.arrow")):
            loaded[split] = load_from_disk(str(folder))
        else:
            features = DatasetInfo.from_directory(str(folder)).features
            loaded[split] = Dataset.from_dict({name: [] for name in features}, features=features)
    return DatasetDict(loaded)


def _atomic_save(dataset, target: Path, *, replace: bool = False) -> None:
    """save_to_disk into a temporary directory, then rename it into place. When `target`
    exists: kept (another process won the race) unless `replace`, in which case the old one
    is moved aside and deleted (readers that memory-mapped it keep their open files)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=target.name + ".tmp"))
    try:
        dataset.save_to_disk(str(tmp))
        if replace and target.exists():
            old = target.with_name(f"{target.name}.old{os.getpid()}")
            os.rename(target, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:  # another process won the race: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _language_for(lang: str | Language | None, recipes: Sequence[str]) -> Language:
    if isinstance(lang, Language):
        return lang
    if lang:
        return get_language(lang)
    names = {recipe_language(r) for r in recipes}
    if len(names) != 1 or None in names:
        raise ValueError(f"cannot tell the language of recipes {list(recipes)}; pass lang=")
    return get_language(names.pop())


def _recipe_options(language: Language, recipe: str, options: dict[str, Any]) -> dict[str, Any]:
    out = {"include_denied": bool(options.get("include_denied", False))}
    if recipe in language.terms_recipes:
        out["terms_count"] = int(options.get("terms_count", DEFAULT_TERMS_IN_PROMPT))
    # per-recipe extras, e.g. recipe_options={"wat-problems": {"count": 50000}}
    out.update((options.get("recipe_options") or {}).get(recipe, {}))
    return out


def config_data_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """The options of a training config that decide its records and split partition, as keyword
    options of `build_raw` / `load_split` / `build_dataset`. Evaluation must pass the same ones
    as training: with other recipe options (e.g. WAT's `wat-oeis: {max_instructions: 8}`) the
    partition is computed over other records, and its test split is no longer the one held out."""
    data_cfg = config.get("data") or {}
    return {"terms_count": int(config.get("terms_count", DEFAULT_TERMS_IN_PROMPT)),
            "include_denied": bool(data_cfg.get("include_denied", False)),
            "recipe_options": dict(data_cfg.get("recipe_options") or {})}


def _corpus_arg(language: Language, corpus_path):
    """Recipes get the language's loaded corpus when one is given (loaded once, shared)."""
    if corpus_path is None:
        return None
    return language.load_corpus(corpus_path)


def split_assignment(corpus_path, lang: str | Language, *, cache_dir=None, log: Callable[[str], None] | None = None,
                     corpus=None, required: Sequence[str] = (), built: dict[str, list[Record]] | None = None,
                     **options: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """id -> split over all of the language's recipes (cached), and the leakage report.

    A recipe outside `required` that cannot produce records here (e.g. "wat-oeis" without a
    LODA corpus) is left out of the partition and listed in report["skipped_recipes"].
    `built`, where given, receives recipe -> records when the partition is computed here (not
    read from the cache), so a caller that needs the same records does not build them again
    (compiling and verifying the OEIS programs for WAT takes minutes)."""
    language = _language_for(lang, [])
    name, chash = language.corpus_key(corpus_path)
    per_recipe = {}
    for recipe in sorted(language.recipes):
        recipe_options = _recipe_options(language, recipe, options)
        recipe_options.pop("terms_count", None)  # shown terms change no id, program or name
        per_recipe[recipe] = recipe_options
    key = _key("partition", PARTITION_VERSION, language.name, chash, per_recipe)
    path = cache_root(cache_dir) / f"partition-{language.name}-{key}.json.gz"
    if path.exists():
        try:
            with gzip.open(path, "rt") as handle:
                payload = json.load(handle)
            return payload["assignment"], payload["report"]
        except (OSError, ValueError, KeyError):
            pass
    corpus = corpus if corpus is not None else _corpus_arg(language, corpus_path)
    records: list[Record] = []
    skipped: dict[str, str] = {}
    for recipe in language.recipes:
        try:
            recipe_records = list(language.records(recipe, corpus, **_recipe_options(language, recipe, options)))
            records.extend(recipe_records)
            if built is not None:
                built[recipe] = recipe_records
        except Exception as error:  # reported; fatal only for a recipe that was asked for
            if recipe in required:
                raise
            skipped[recipe] = f"{type(error).__name__}: {error}"
            if log:
                log(f"data: recipe {recipe!r} left out of the split partition ({skipped[recipe]})")
    assignment, report = partition(records)
    report.update(check_leakage(records, assignment))
    report["skipped_recipes"] = skipped
    report["language"] = language.name
    report["recipes"] = sorted(r for r in language.recipes if r not in skipped)
    report["corpus"] = name
    report["corpus_hash"] = chash
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with gzip.open(tmp, "wt") as handle:
        json.dump({"assignment": assignment, "report": report}, handle)
    os.replace(tmp, path)
    return assignment, report


def format_leakage_report(report: dict[str, Any]) -> str:
    lines = [
        f"leakage guard ({report.get('language')}: recipes {', '.join(report.get('recipes', []))}; "
        f"corpus {report.get('corpus') or '-'} {report.get('corpus_hash') or ''})",
        f"  ids: {report['ids']}; groups sharing a program or a normalised name: "
        f"{report['groups_sharing_program_or_name']} ({report['ids_in_shared_groups']} ids, "
        f"largest {report['largest_group']})",
        f"  moved to their group's split: {report['moved']} ids "
        f"(from train {report['moved_from']['train']}, validation {report['moved_from']['validation']}, "
        f"test {report['moved_from']['test']})",
        "  split sizes (ids): " + ", ".join(
            f"{s} {report['base_split_sizes'][s]} -> {report['split_sizes'][s]}" for s in SPLITS),
        f"  after the guard: {report.get('programs_in_two_splits', '?')} programs and "
        f"{report.get('names_in_two_splits', '?')} names occur in two splits",
    ]
    return "\n".join(lines)


# -- building -----------------------------------------------------------------------------------
_COLUMNS = ("id", "recipe", "prompt", "code", "terms", "offset", "expected", "meta", "target_length")


def _row(record: Record, recipe: str, target_length: int) -> dict[str, Any]:
    return {
        "id": record.id, "recipe": recipe, "prompt": record.prompt, "code": record.code,
        # arbitrary-precision integers: kept as text
        "terms": "" if record.terms is None else ",".join(str(int(t)) for t in record.terms),
        "offset": int(record.offset),
        "expected": "" if record.expected is None else str(int(record.expected)),
        "meta": json.dumps(record.meta, sort_keys=True),
        "target_length": target_length,
    }


def record_from_row(row: dict[str, Any]) -> Record:
    return Record(
        id=row["id"], prompt=row["prompt"], code=row["code"],
        terms=[int(t) for t in row["terms"].split(",")] if row["terms"] else None,
        offset=int(row["offset"]),
        expected=int(row["expected"]) if row["expected"] not in ("", None) else None,
        meta=json.loads(row["meta"]) if row["meta"] else {},
    )


def build_raw(corpus_path, lang: str | Language | None, recipes: Sequence[str], *, cache_dir=None,
              log: Callable[[str], None] | None = print, refresh: bool = False, data_file=None, **options: Any):
    """The untokenized DatasetDict (train/validation/test) of `recipes` (cached as Arrow). With
    `data_file` (`python -m codegen.data export`), read from that file, not built from the corpus."""
    from datasets import Dataset, DatasetDict, Features, Value

    log = log or (lambda message: None)
    recipes = list(recipes)
    language = _language_for(lang, recipes)
    unknown = [r for r in recipes if r not in language.recipes]
    if unknown:
        raise KeyError(f"language {language.name!r} has no recipe(s) {unknown}; known: {sorted(language.recipes)}")
    if data_file is not None:
        from .dataset_file import load_raw

        return load_raw(data_file, language, recipes, cache_dir=cache_dir, log=log, refresh=refresh, **options)
    name, chash = language.corpus_key(corpus_path)
    recipe_options = {r: _recipe_options(language, r, options) for r in recipes}
    key = _key("raw", DATA_VERSION, language.name, chash, recipes, recipe_options)
    path = cache_root(cache_dir) / f"raw-{language.name}-{key}"
    if path.exists() and not refresh:
        try:
            dataset = _load_saved(path)
            report_file = path / "leakage.json"
            if report_file.exists():
                dataset.leakage_report = json.loads(report_file.read_text())
            dataset.from_cache = True
            return dataset
        except (OSError, ValueError, FileNotFoundError):
            shutil.rmtree(path, ignore_errors=True)
    started = time.time()
    corpus = _corpus_arg(language, corpus_path) if chash else None
    built: dict[str, list[Record]] = {}
    assignment, report = split_assignment(corpus_path, language, cache_dir=cache_dir, corpus=corpus,
                                          required=recipes, log=log, built=built, **options)
    log(format_leakage_report(report))
    columns: dict[str, dict[str, list]] = {s: {c: [] for c in _COLUMNS} for s in SPLITS}
    for recipe in recipes:
        records = built[recipe] if recipe in built else language.records(recipe, corpus, **recipe_options[recipe])
        for record in records:
            split = assignment.get(record.id) or split_of(record.id)
            try:
                length = len(language.tokenize(record.code)) + 1
            except Exception:  # a record whose code does not tokenize is dropped
                continue
            for column, value in _row(record, recipe, length).items():
                columns[split][column].append(value)
    features = Features({
        "id": Value("string"), "recipe": Value("string"), "prompt": Value("string"), "code": Value("string"),
        "terms": Value("string"), "offset": Value("int64"), "expected": Value("string"), "meta": Value("string"),
        "target_length": Value("int32"),
    })
    dataset = DatasetDict({s: Dataset.from_dict(columns[s], features=features) for s in SPLITS})
    dataset.leakage_report = report
    _atomic_save(dataset, path, replace=refresh)
    (path / "leakage.json").write_text(json.dumps(report, indent=1))
    log(f"data: {', '.join(f'{s} {len(dataset[s])}' for s in SPLITS)} records "
        f"({'+'.join(recipes)}, built in {time.time() - started:.1f}s, cached at {path})")
    return dataset


def load_split(corpus_path, lang: str | Language | None, split: str, *, recipe: str | None = None,
               recipes: Sequence[str] | None = None, cache_dir=None, limit: int | None = None,
               **options: Any) -> list[Record]:
    """The records of one split (after leakage moves: this is the truth about splits)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    language = _language_for(lang, [recipe] if recipe else list(recipes or []))
    chosen = list(recipes or ([recipe] if recipe else [next(iter(language.recipes))]))
    dataset = build_raw(corpus_path, language, chosen, cache_dir=cache_dir, log=None, **options)[split]
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    return [record_from_row(row) for row in dataset]


# -- tokenized datasets ---------------------------------------------------------------------------
def _tokenizer_fingerprint(tokenizer) -> str:
    try:
        state = tokenizer.backend_tokenizer.to_str()
    except AttributeError:
        state = json.dumps(sorted(tokenizer.get_vocab().items()))
    from .tokenizer import number_reading

    reading = number_reading(tokenizer)
    if reading != "digits":  # prompts are marked differently; "digits" keeps the keys made before readings
        state += "\0number_reading=" + reading
    from .text_encoder import text_encoder_name

    if text_encoder_name(tokenizer):  # prompts are another tokenizer's ids
        state += "\0text_encoder=" + text_encoder_name(tokenizer)
    return hashlib.sha1(state.encode()).hexdigest()[:16]


class _Encoder:
    """Picklable batch encoder for `Dataset.map(num_proc=...)`."""

    def __init__(self, tokenizer, language: str, max_source_length: int):
        self.tokenizer = tokenizer
        self.language = language
        self.max_source_length = max_source_length

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        from .tokenizer import encode_code, encode_prompts

        encoded = encode_prompts(self.tokenizer, batch["prompt"], max_length=self.max_source_length, truncation=True)
        labels = [encode_code(self.tokenizer, self.language, code, prompt)
                  for code, prompt in zip(batch["code"], batch["prompt"])]
        inputs = encoded["input_ids"]
        return {"input_ids": inputs, "labels": labels,
                "length": [len(a) + len(b) for a, b in zip(inputs, labels)]}


def curriculum_order(dataset, mode: str, *, stages: int = 4, seed: int = 0):
    """Train examples staged from easy to hard: `mode` "length" (target tokens, `stages`
    quantile buckets) or "level" (meta["level"], e.g. WAT problem levels). Shuffled within a
    stage (seeded); train with a sequential sampler to keep the order."""
    if mode == "length":
        values = list(dataset["target_length"])
        ordered = sorted(values)
        cuts = [ordered[min(len(ordered) - 1, (len(ordered) * k) // stages)] for k in range(1, stages)]
        stage = [sum(v > c for c in cuts) for v in values]
    elif mode == "level":
        stage = [int(json.loads(m).get("level", 0) or 0) for m in dataset["meta"]]
    else:
        raise ValueError(f"unknown curriculum {mode!r}; expected 'length' or 'level'")
    rng = random.Random(seed)
    keys = [(s, rng.random()) for s in stage]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return dataset.select(order)


def build_dataset(corpus_path, lang: str | Language | None, recipes: Sequence[str], *, tokenizer=None,
                  max_source_length: int = 256, max_target_length: int = 256, num_proc: int = 1,
                  curriculum: str | None = None, curriculum_stages: int = 4, seed: int = 0,
                  train_limit: int | None = None, eval_limit: int | None = None, cache_dir=None,
                  log: Callable[[str], None] | None = print, retrieval=None, data_file=None, **options: Any):
    """DatasetDict (train/validation/test) of the recipes' records.

    With a `tokenizer`, adds `input_ids` (prompt, truncated to `max_source_length`),
    `labels` (structural token ids + EOS) and `length`; records whose target exceeds
    `max_target_length` are dropped (a cut program is not a program). Tokenized splits are
    cached too, keyed by the tokenizer's content. `train_limit` / `eval_limit` keep the first
    N records of train / validation+test (by id order, after the split). `retrieval` (a
    `codegen.retrieval.RetrievalSpec`) puts the nearest training programs after every prompt."""
    from datasets import DatasetDict

    log_ = log or (lambda message: None)
    recipes = list(recipes)
    language = _language_for(lang, recipes)
    raw = build_raw(corpus_path, language, recipes, cache_dir=cache_dir, log=log, data_file=data_file, **options)
    report = getattr(raw, "leakage_report", None)

    def with_references(raw):
        from .retrieval import attach_context

        return raw if retrieval is None else attach_context(raw, retrieval, cache_dir=cache_dir, log=log_)

    dataset = with_references(raw) if tokenizer is None else raw
    if tokenizer is not None:
        # a data file's content hash, where the rows came from one
        chash = getattr(raw, "source_key", None) or language.corpus_key(corpus_path)[1]
        recipe_options = {r: _recipe_options(language, r, options) for r in recipes}
        key = _key("tok", DATA_VERSION, ENCODING_VERSION, language.name, chash, recipes, recipe_options,
                   _tokenizer_fingerprint(tokenizer), max_source_length, max_target_length,
                   *([retrieval.to_dict()] if retrieval is not None else []))
        path = cache_root(cache_dir) / f"tok-{language.name}-{key}"
        dataset = None
        if path.exists():
            try:
                dataset = _load_saved(path)
            except (OSError, ValueError, FileNotFoundError):
                shutil.rmtree(path, ignore_errors=True)
        if dataset is None:
            started = time.time()
            raw = with_references(raw)
            kept = DatasetDict({s: raw[s].filter(lambda n: n <= max_target_length, input_columns="target_length")
                                for s in SPLITS})
            dropped = {s: len(raw[s]) - len(kept[s]) for s in SPLITS}
            encoder = _Encoder(tokenizer, language.name, max_source_length)
            dataset = DatasetDict({
                s: kept[s].map(encoder, batched=True, batch_size=1000, num_proc=num_proc if num_proc > 1 else None,
                               desc=f"tokenizing {s}", load_from_cache_file=False)
                for s in SPLITS})
            _atomic_save(dataset, path)
            log_(f"data: tokenized in {time.time() - started:.1f}s; dropped (target > {max_target_length} tokens): "
                 + ", ".join(f"{s} {dropped[s]}" for s in SPLITS))
    full_sizes = {s: len(dataset[s]) for s in SPLITS}
    if train_limit is not None:
        dataset["train"] = dataset["train"].select(range(min(train_limit, len(dataset["train"]))))
    if eval_limit is not None:
        for s in ("validation", "test"):
            dataset[s] = dataset[s].select(range(min(eval_limit, len(dataset[s]))))
    if curriculum:
        dataset["train"] = curriculum_order(dataset["train"], curriculum, stages=curriculum_stages, seed=seed)
    dataset.leakage_report = report
    dataset.full_sizes = full_sizes  # before train_limit / eval_limit
    return dataset


# -- stats ----------------------------------------------------------------------------------------
def code_stats(corpus_path, lang: str, tokenizer_dir: str | None) -> dict[str, Any]:
    """Over every program of the corpus (all ids of the language's first recipe): unknown
    tokens, round-trip failures (tokens and ids), target length in tokens (+EOS)."""
    from .tokenizer import decode_code, encode_code, load_tokenizer

    language = get_language(lang)
    tokenizer = load_tokenizer(tokenizer_dir) if tokenizer_dir else None
    vocabulary = set(language.structural_tokens())
    corpus = _corpus_arg(language, corpus_path)
    recipe = next(iter(language.recipes))
    programs = unk = failures = 0
    lengths: list[int] = []
    examples: list[str] = []
    for record in language.records(recipe, corpus, include_denied=True):
        programs += 1
        try:
            tokens = language.tokenize(record.code)
        except Exception as error:
            failures += 1
            examples.append(f"{record.id}: tokenize: {error}")
            continue
        if any(t not in vocabulary for t in tokens):
            unk += 1
        lengths.append(len(tokens) + 1)
        ok = language.detokenize(tokens) == record.code
        if ok and tokenizer is not None:
            try:
                ids = encode_code(tokenizer, language, record.code, record.prompt)
                ok = decode_code(tokenizer, language, ids, record.prompt) == record.code
            except Exception:
                ok = False
        if not ok:
            failures += 1
            if len(examples) < 5:
                examples.append(record.id)
    lengths.sort()
    return {
        "programs": programs, "unk_programs": unk, "roundtrip_failures": failures,
        "median_target_tokens": statistics.median(lengths) if lengths else 0,
        "p99_target_tokens": lengths[min(len(lengths) - 1, int(0.99 * len(lengths)))] if lengths else 0,
        "max_target_tokens": lengths[-1] if lengths else 0,
        "failure_examples": examples[:5],
    }


def _tokenizer_dir(text: str) -> str:
    """argparse type of --tokenizer: a directory holding a saved tokenizer (else transformers takes
    the path for a hub name and fails with a traceback)."""
    if not (Path(text) / "tokenizer_config.json").is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a tokenizer directory (no tokenizer_config.json in it)")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    from .cli import non_negative_int, positive_int

    parser = argparse.ArgumentParser(prog="python -m codegen.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("build", "stats"):
        p = sub.add_parser(command)
        p.add_argument("--corpus", default=None, help="LODA corpus; default $CODEGEN_LODA_CORPUS")
        p.add_argument("--lang", default=DEFAULT_LANGUAGE)
        p.add_argument("--tokenizer", type=_tokenizer_dir, default=None, help="tokenizer directory")
        p.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
        p.add_argument("--cache-dir", default=None)
        if command == "build":
            p.add_argument("--recipes", default=None, help="comma-separated (default: all of the language's)")
            p.add_argument("--terms-count", type=non_negative_int, default=DEFAULT_TERMS_IN_PROMPT)
            p.add_argument("--max-source-length", type=positive_int, default=256)
            p.add_argument("--max-target-length", type=positive_int, default=256)
            p.add_argument("--num-proc", type=positive_int, default=1)
            p.add_argument("--refresh", action="store_true", help="rebuild even if cached")
    p = sub.add_parser("export", help="write a config's built raw dataset to one file (`codegen.train --data FILE`)")
    p.add_argument("--config", required=True, help="training config: its language, recipes and data options")
    p.add_argument("--corpus", default=None, help="LODA corpus; default: config `corpus`, then $CODEGEN_LODA_CORPUS")
    p.add_argument("--out", required=True, help="FILE.jsonl.xz or FILE.jsonl.gz")
    p.add_argument("--recipes", default=None,
                   help="comma-separated; default: the config's (recipes left out that need no corpus are built "
                        "where the file is read)")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--training-only", action="store_true",
                   help="leave out what training does not read (each row's listed terms and its meta beyond the "
                        "name): a file several times smaller, which cannot score programs on terms")
    args = parser.parse_args(argv)
    try:
        if args.command == "export":
            return _export_main(args)
        if args.corpus:  # a wrong path or a text file fails before `datasets` is imported
            get_language(args.lang).corpus_key(args.corpus)
        if args.command == "stats":
            result = code_stats(args.corpus, args.lang, args.tokenizer)
            if not args.json:
                for key, value in result.items():
                    print(f"{key}: {value}")
            print(json.dumps(result))
            return 0
        language = get_language(args.lang)
        recipes = args.recipes.split(",") if args.recipes else list(language.recipes)
        if args.refresh:
            for path in cache_root(args.cache_dir).glob(f"partition-{language.name}-*.json.gz"):
                path.unlink()
        tokenizer = None
        if args.tokenizer:
            from .tokenizer import load_tokenizer

            tokenizer = load_tokenizer(args.tokenizer)
        raw = build_raw(args.corpus, language, recipes, cache_dir=args.cache_dir, refresh=args.refresh,
                        terms_count=args.terms_count)
        report = getattr(raw, "leakage_report", None) or {}
        if getattr(raw, "from_cache", False) and report:
            print(format_leakage_report(report))
        sizes = {s: len(raw[s]) for s in SPLITS}
        if tokenizer is not None:
            tokenized = build_dataset(args.corpus, language, recipes, tokenizer=tokenizer, cache_dir=args.cache_dir,
                                      max_source_length=args.max_source_length,
                                      max_target_length=args.max_target_length, num_proc=args.num_proc,
                                      terms_count=args.terms_count)
            sizes = {s: len(tokenized[s]) for s in SPLITS}
        print(json.dumps({"recipes": recipes, "records": sizes, "moved": report.get("moved"),
                          "programs_in_two_splits": report.get("programs_in_two_splits"),
                          "names_in_two_splits": report.get("names_in_two_splits")}))
        return 0
    except (KeyError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _export_main(args: argparse.Namespace) -> int:
    from .config import load_config
    from .dataset_file import export

    config = load_config(args.config)
    language = get_language(config["language"])
    recipes = args.recipes.split(",") if args.recipes else list(config["recipes"])
    unknown = [r for r in recipes if r not in language.recipes]
    if unknown:
        raise ValueError(f"--recipes: language {language.name!r} has no recipe(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(language.recipes))}")
    corpus = args.corpus or config.get("corpus") or os.environ.get("CODEGEN_LODA_CORPUS")
    reading = [r for r in recipes if r in language.corpus_recipes]
    if reading and not corpus:
        raise ValueError(f"no corpus for the recipe(s) {', '.join(reading)}: pass --corpus PATH or export "
                         "CODEGEN_LODA_CORPUS")
    if corpus:
        language.corpus_key(corpus)  # a wrong path fails before anything is built
    data_cfg = config.get("data") or {}
    # the config's whole dataset is built (or read from the cache) and the rows of `recipes` written
    build_recipes = list(config["recipes"]) if set(recipes) <= set(config["recipes"]) else recipes
    header = export(corpus, language, recipes, args.out, cache_dir=args.cache_dir or data_cfg.get("cache_dir"),
                    build_recipes=build_recipes, training_only=args.training_only,
                    log=lambda message: print(message, file=sys.stderr, flush=True), **config_data_options(config))
    print(json.dumps({"out": str(args.out), "bytes": Path(args.out).stat().st_size, "recipes": header["recipes"],
                      "rows": header["rows"], "moves": len(header["moves"])}))
    return 0


if __name__ == "__main__":
    from .cli import run_main

    sys.exit(run_main(main))
