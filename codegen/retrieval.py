"""Retrieval-augmented prompts: the model sees the programs of its request's nearest training records.

A small model cannot memorise 147k programs, but it can edit one put in front of it ("Decimal
expansion of 1/389" is the program for 1/387 with one constant changed). So a checkpoint trained
with retrieval (its codegen.json has a `retrieval` section, `RetrievalSpec`) gets, after its usual
prompt, the names and programs of the `k` nearest TRAINING records by name (TF-IDF over normalised
names, `NameIndex`), behind the tokens `<ref>` and `<code>` (`prompts.with_context`; the programs
are encoded as the decoder's own code tokens, `tokenizer._encode_with_context`).

Honesty rules: the index holds the train split only, and never returns a record of the query's own
leakage group (same canonical program or normalised name, transitively: `data.leakage_groups`), so
a training example never sees its own program, and an evaluation target (not in train) cannot.
In training, an example's last reference is sometimes a weaker one (`weak_rate`: drawn from the
`pool` nearest; `random_rate`: any training record), so that the model learns when to ignore it.
The same function builds the prompt in training, generation, evaluation and the REPL.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import time
from dataclasses import asdict, dataclass, fields
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .language import Record
from .prompts import with_context


@dataclass(frozen=True)
class RetrievalSpec:
    """How a checkpoint wants its prompts: `k` references, token budgets, and the training draws."""

    k: int = 2
    pool: int = 8
    weak_rate: float = 0.25
    random_rate: float = 0.05
    prompt_tokens: int = 104
    name_tokens: int = 24
    code_tokens: int = 96
    index: str = "tfidf-names"
    seed: int = 0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "retrieval") -> "RetrievalSpec":
        """From a config's or codegen.json's `retrieval` section; an unknown or bad field is an error
        naming it."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(known)}")
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            kind = type(getattr(cls, name))
            try:
                kwargs[name] = kind(value)
            except (TypeError, ValueError):
                raise ValueError(f"{where}.{name}: {value!r} is not a {kind.__name__}") from None
        spec = cls(**kwargs)
        if spec.index != "tfidf-names":
            raise ValueError(f"{where}.index: {spec.index!r} is not a known index (tfidf-names)")
        if not 1 <= spec.k <= spec.pool:
            raise ValueError(f"{where}.k: {spec.k} must be between 1 and pool ({spec.pool})")
        for name in ("weak_rate", "random_rate"):
            if not 0.0 <= getattr(spec, name) <= 1.0:
                raise ValueError(f"{where}.{name}: {getattr(spec, name)} is not a probability")
        for name in ("prompt_tokens", "name_tokens", "code_tokens"):
            if getattr(spec, name) < 1:
                raise ValueError(f"{where}.{name}: must be a positive number of tokens")
        return spec

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def source_tokens(self) -> int:
        """The longest prompt with context: request, k references and EOS."""
        return self.prompt_tokens + self.k * (self.name_tokens + self.code_tokens + 2) + 1


_NAME_TOKEN = re.compile(r"\w+|[^\w\s]")
INDEX_VERSION = 3  # part of the references cache key: bumped when `name_features` changes


def name_features(name: str) -> list[str]:
    """A name's TF-IDF terms: its words and punctuation and their bigrams, where a number of two or
    more digits is its length ("#3") plus its leading parts as extra terms ("389": "#3:3", "#3:38"),
    so that "Decimal expansion of 1/389" is nearest to 1/384 and 1/385 (the program with one
    constant changed), not to another kind of sequence that happens to share the number 389."""
    tokens = _NAME_TOKEN.findall(name.lower())
    extra: list[str] = []
    for position, token in enumerate(tokens):
        if token.isdigit() and len(token) >= 2:
            tokens[position] = f"#{len(token)}"
            extra += [f"#{len(token)}:{token[:cut]}" for cut in range(1, len(token))]
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])] + extra


COMMON_TERM_SHARE = 0.01  # a term in more names than this share is common (see NameIndex)
CANDIDATES = 64  # records scored on every term per query


def _top(scores, row: int, count: int) -> np.ndarray:
    """The columns of a CSR row's `count` largest values."""
    lo, hi = scores.indptr[row], scores.indptr[row + 1]
    data, columns = scores.data[lo:hi], scores.indices[lo:hi]
    if len(data) > count:
        return columns[np.argpartition(-data, count - 1)[:count]]
    return columns


class NameIndex:
    """Training records by name: TF-IDF (word uni- and bigrams, sublinear tf) and cosine similarity."""

    def __init__(self, ids: Sequence[str], names: Sequence[str], codes: Sequence[str], groups: Sequence[str]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        if not ids:
            raise ValueError("retrieval needs at least one training record")
        self.ids, self.names, self.codes, self.groups = list(ids), list(names), list(codes), list(groups)
        self.vectorizer = TfidfVectorizer(analyzer=name_features, sublinear_tf=True, dtype=np.float32)
        self.records = self.vectorizer.fit_transform(self.names).tocsr()  # records x terms, rows L2-normalised
        # Words in many names ("of", "number", "=") make every query touch every record: candidates
        # come from the rarer terms, then the candidates are scored on all terms. Names made of
        # common words alone are scored against every record.
        document_frequency = np.bincount(self.records.indices, minlength=self.records.shape[1])
        rare = document_frequency <= max(50, COMMON_TERM_SHARE * len(self.ids))
        self.rare_terms = self.records[:, np.flatnonzero(rare)].T.tocsr() if rare.any() else None
        self.rare_columns = np.flatnonzero(rare)
        self.all_terms = self.records.T.tocsr()

    @classmethod
    def from_records(cls, records: Iterable[Record]) -> "NameIndex":
        """One entry per id (a recipe's several rows of one id share name and program)."""
        from .data import leakage_groups, record_name

        unique: dict[str, Record] = {}
        for record in records:
            unique.setdefault(record.id, record)
        chosen = [unique[i] for i in sorted(unique)]
        groups = leakage_groups(chosen)
        return cls([r.id for r in chosen], [record_name(r) for r in chosen], [r.code for r in chosen],
                   [groups[r.id] for r in chosen])

    def __len__(self) -> int:
        return len(self.ids)

    def nearest(self, names: Sequence[str], count: int, *, exclude_groups: Sequence[str | None] | None = None,
                exclude_codes: Sequence[str | None] | None = None, chunk: int = 512) -> list[list[int]]:
        """Per name, the indices of the `count` most similar entries (most similar first; ties by
        position), never one of `exclude_groups[i]` nor with program `exclude_codes[i]`. Entries with
        no word in common are not returned, so a list may be shorter."""
        out: list[list[int]] = []
        for start in range(0, len(names), chunk):
            queries = self.vectorizer.transform(list(names[start:start + chunk])).tocsr()
            candidates = self._candidates(queries, max(CANDIDATES, 4 * count))
            rows = np.repeat(np.arange(len(candidates)), [len(c) for c in candidates])
            flat = np.concatenate(candidates) if len(rows) else np.empty(0, dtype=np.int64)
            # every candidate's score on all terms, for the whole chunk at once
            exact = np.asarray(queries[rows].multiply(self.records[flat]).sum(axis=1)).ravel() if len(rows) else flat
            bounds = np.concatenate([[0], np.cumsum([len(c) for c in candidates])])
            for row in range(len(candidates)):
                i = start + row
                pool, score = flat[bounds[row]:bounds[row + 1]], exact[bounds[row]:bounds[row + 1]]
                order = np.lexsort((pool, -score))
                banned_group = exclude_groups[i] if exclude_groups else None
                banned_code = exclude_codes[i] if exclude_codes else None
                picked: list[int] = []
                for j in order:
                    if score[j] <= 0 or len(picked) == count:
                        break
                    candidate = int(pool[j])
                    if self.groups[candidate] != banned_group and self.codes[candidate] != banned_code:
                        picked.append(candidate)
                out.append(picked)
        return out

    def _candidates(self, queries, want: int) -> list[np.ndarray]:
        """Per query, up to `want` records with the best scores on the rare terms; a query with fewer
        such records gets its best on all terms."""
        found: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * queries.shape[0]
        short = list(range(queries.shape[0]))
        if self.rare_terms is not None:
            scores = (queries[:, self.rare_columns] @ self.rare_terms).tocsr()
            short = []
            for row in range(queries.shape[0]):
                found[row] = _top(scores, row, want)
                if len(found[row]) < want:
                    short.append(row)
        if short:
            scores = (queries[short] @ self.all_terms).tocsr()
            for k, row in enumerate(short):
                found[row] = _top(scores, k, want)
        return found

    def reference(self, index: int) -> tuple[str, str]:
        return self.names[index], self.codes[index]


def training_references(index: NameIndex, spec: RetrievalSpec) -> dict[str, list[int]]:
    """Each training id's references as in training: its k nearest (never its own group), the last
    one sometimes a weaker one of the `pool` nearest or a random record (seeded per id)."""
    pools = index.nearest(index.names, spec.pool, exclude_groups=index.groups, exclude_codes=index.codes)
    chosen: dict[str, list[int]] = {}
    for record_id, group, pool in zip(index.ids, index.groups, pools):
        rng = random.Random(f"{spec.seed}:{record_id}")
        refs = list(pool[:spec.k])
        draw = rng.random()
        if refs and draw < spec.random_rate:
            other = rng.randrange(len(index))
            if index.groups[other] != group:
                refs[-1] = other
        elif refs and draw < spec.random_rate + spec.weak_rate and len(pool) > spec.k:
            refs[-1] = pool[rng.randrange(spec.k, len(pool))]
        chosen[record_id] = refs
    return chosen


def choose_references(raw, spec: RetrievalSpec, *, cache_dir=None, log=print) -> dict[str, list[str]]:
    """id -> the ids of its references, for every record of the raw DatasetDict (codegen.data):
    training records as in `training_references`, validation and test records their k nearest
    training records. Cached by the splits' ids and programs and the spec (a small file, which can
    travel with an exported dataset to a machine without the corpus)."""
    from .data import _key, cache_root, leakage_groups, record_from_row, record_name
    from .reports import atomic_write

    log = log or (lambda message: None)
    digest = hashlib.sha1()
    for split in ("train", "validation", "test"):
        for record_id, code in zip(raw[split]["id"], raw[split]["code"]):
            digest.update(f"{split}\0{record_id}\0{code}\n".encode())
    key = _key("references", INDEX_VERSION, spec.to_dict(), digest.hexdigest())
    path = cache_root(cache_dir) / f"references-{key}.json.gz"
    if path.exists():
        try:
            return json.loads(gzip.decompress(path.read_bytes()))
        except (OSError, ValueError):
            pass
    started = time.time()
    index = NameIndex.from_records(record_from_row(row) for row in raw["train"])
    log(f"retrieval: index of {len(index)} training records; choosing references")
    chosen = {record_id: [index.ids[i] for i in refs] for record_id, refs in training_references(index, spec).items()}
    for split in ("validation", "test"):
        records = {r.id: r for r in (record_from_row(row) for row in raw[split])}
        ids = sorted(records)
        groups = leakage_groups(records.values())
        found = index.nearest([record_name(records[i]) for i in ids], spec.k, exclude_groups=[groups[i] for i in ids])
        chosen.update({record_id: [index.ids[i] for i in refs] for record_id, refs in zip(ids, found)})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, gzip.compress(json.dumps(chosen, sort_keys=True).encode()))
    log(f"retrieval: references chosen in {time.time() - started:.0f}s, cached at {path}")
    return chosen


def attach_context(raw, spec: RetrievalSpec, *, cache_dir=None, log=print):
    """The raw DatasetDict (codegen.data) with every prompt followed by its references
    (`choose_references`)."""
    from datasets import DatasetDict

    from .data import record_from_row, record_name

    chosen = choose_references(raw, spec, cache_dir=cache_dir, log=log)
    entries = {}
    for row in raw["train"]:
        if row["id"] not in entries:
            record = record_from_row(row)
            entries[record.id] = (record_name(record), record.code)
    contexts = {record_id: with_context("", [entries[i] for i in refs]) for record_id, refs in chosen.items()}

    def add(batch: dict[str, list]) -> dict[str, list]:
        return {"prompt": [prompt + contexts.get(record_id, "") for prompt, record_id in zip(batch["prompt"], batch["id"])]}

    return DatasetDict({split: dataset.map(add, batched=True, batch_size=2000, desc=f"references for {split}")
                        for split, dataset in raw.items()})


class RequestContext:
    """References for requests at generation time, from a checkpoint's `retrieval` spec and the
    train split of its recipes (read from the corpus through the data cache)."""

    def __init__(self, spec: RetrievalSpec, index: NameIndex):
        self.spec = spec
        self.index = index

    @classmethod
    def for_checkpoint(cls, meta: Mapping[str, Any], language: str, corpus: Any = None) -> "RequestContext":
        from .data import load_split
        from .language import InputError

        spec = RetrievalSpec.from_mapping(meta["retrieval"], "codegen.json retrieval")
        recipes = list(meta.get("recipes") or [])
        try:
            records = load_split(corpus, language, "train", recipes=recipes or None)
        except (FileNotFoundError, InputError) as error:
            raise InputError(f"this checkpoint retrieves training programs and needs its corpus: {error}") from error
        if not records:
            raise InputError("this checkpoint retrieves training programs and needs its corpus "
                             "(pass --corpus or set the language's corpus variable)")
        return cls(spec, NameIndex.from_records(records))

    def references(self, descriptions: Sequence[str]) -> list[list[tuple[str, str, str]]]:
        """Per description, its k references as (id, name, program). A description that is a
        training record's name gets that record first: the corpus's own answer, shown as a reference
        (evaluation targets are never in the train split)."""
        found = self.index.nearest(list(descriptions), self.spec.k)
        return [[(self.index.ids[i], *self.index.reference(i)) for i in picked] for picked in found]

    def prompt(self, prompt: str, description: str) -> tuple[str, list[tuple[str, str, str]]]:
        refs = self.references([description])[0]
        return with_context(prompt, [(name, code) for _, name, code in refs]), refs
