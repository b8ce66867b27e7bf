"""Named neighbours: the programs of the corpus sequences whose names are nearest the request's,
handed to the mutation family as seeds.

OEIS names come in families ("Decimal expansion of 1/387", "... 1/389"; "Divisors of 459";
"Expansion of Product_{m>=1} (1+q^m)^30"), and a family's programs differ by a constant or an
operation: what the miner's one-change mutations reach. The index is `codegen.retrieval.NameIndex`
(TF-IDF over names, numbers read by their leading digits) over every corpus sequence, built once
and cached beside the terms index; a neighbour in the search's `excluded` set (the target, its
twins, what calls them) is never a seed.
"""
from __future__ import annotations

import gzip
import pickle
from pathlib import Path

from codegen.reports import atomic_write
from codegen.retrieval import NameIndex

from ..corpus import Corpus, default_cache_dir

NAMES_VERSION = 1
# names looked at per request, before the excluded ones are dropped
LOOKED_AT = 12


def cache_path(corpus: Corpus, cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir or default_cache_dir()) / "loda" / f"names-index-{corpus.hash}-v{NAMES_VERSION}.pkl.gz"


def load_names(corpus: Corpus, cache_dir: str | Path | None = None) -> NameIndex:
    """The name index of `corpus`: from the cache, else built (a few seconds) and cached. A corpus
    without a content hash is never cached."""
    path = cache_path(corpus, cache_dir) if corpus.hash else None
    if path is not None and path.exists():
        try:
            index = pickle.loads(gzip.decompress(path.read_bytes()))
            if isinstance(index, NameIndex):
                return index
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ValueError):
            pass
    records = sorted(corpus.records.values(), key=lambda r: r.number)
    index = NameIndex([r.id for r in records], [r.name for r in records], [r.code for r in records],
                      [r.id for r in records])
    if path is not None:
        atomic_write(path, gzip.compress(pickle.dumps(index, protocol=5), 1))
    return index


def neighbour_seeds(index: NameIndex, name: str, excluded: frozenset[int], count: int) -> list[tuple[str, str]]:
    """Up to `count` (label, program) seeds: the nearest named sequences outside `excluded`."""
    found = index.nearest([name], LOOKED_AT)[0]
    seeds = []
    for i in found:
        if int(index.ids[i][1:]) in excluded:
            continue
        seeds.append((f"{index.ids[i]} ({_short(index.names[i])})", index.codes[i]))
        if len(seeds) == count:
            break
    return seeds


def _short(name: str, width: int = 40) -> str:
    name = " ".join(name.split())
    return name if len(name) <= width else name[:width - 3] + "..."
