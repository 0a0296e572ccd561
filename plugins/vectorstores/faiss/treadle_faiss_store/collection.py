"""One collection in memory: an exact faiss index, a compressed first pass once it is large, and
the metadata postings its filters use (KB-RET-VECTOR, KB-META-FILTER).

The exact index is an ``IndexIDMap2`` over ``IndexFlatIP`` of L2-normalised vectors, so inner
products are cosine similarities; it also holds the float32 vectors every score is computed from.
Records are known to faiss by their SQLite ``num``. A collection of at least
``COARSE_MIN_RECORDS`` records of at least ``COARSE_MIN_DIMENSION`` numbers also keeps a
``CoarseIndex`` (4-bit product codes, about a tenth of an exact scan's cost) as a first pass: it
names ``max(300, 20 * top_k)`` candidates, which are ranked
exactly, so every returned score is exact and the top hits are those of an exact search but for
rare near-ties (see ``coarse``). Smaller collections, and searches needing more candidates than
``CANDIDATES_MAX``, are searched exactly.

Filters are answered from postings (field -> value -> nums) of the scalar metadata values, then:
- a filter that keeps every record is no filter;
- a filter that keeps a small share of the records is searched directly, by reconstructing those
  vectors and ranking them with numpy (a scan of the whole index would cost the same for 10 as for
  10 000 kept records);
- otherwise the first pass asks for more candidates (as many more as the filter drops) and keeps
  those meeting the filter; without a first pass, or when it would need too many candidates or
  finds fewer than ``top_k`` records, faiss searches exactly with an ``IDSelector`` of the kept
  records (``SearchParameters``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt
from treadle_sdk.vector_filter import FilterCondition

from .coarse import RETRAIN_GROWTH, CoarseIndex
from .rwlock import ReadWriteLock

__all__ = [
    "COARSE_DROP_RECORDS",
    "COARSE_MIN_DIMENSION",
    "COARSE_MIN_RECORDS",
    "DIRECT_SEARCH_SHARE",
    "Collection",
    "Ranked",
    "normalised",
]

#: Filters keeping at most this share of a collection's records are searched directly.
DIRECT_SEARCH_SHARE = 1 / 8
#: ... and so are those keeping at most this many, whatever the collection's size.
DIRECT_SEARCH_RECORDS = 1024

#: Collections with at least this many records keep a compressed first pass; below it an exact scan
#: costs a few milliseconds at most, and training the first pass about a second.
COARSE_MIN_RECORDS = 20_000
#: ... and drop it again below this many (not at the same size, so that a collection hovering
#: around it is not trained again and again).
COARSE_DROP_RECORDS = COARSE_MIN_RECORDS // 2
#: ... and at least this many dimensions: 4-bit codes of pairs of dimensions rank too roughly when
#: there are only a few pairs (at 8 dimensions a record's own vector could miss the 300 candidates),
#: and an exact scan of so few is cheap anyway (100 000 x 16 is 6 MB).
COARSE_MIN_DIMENSION = 32
#: Candidates the first pass names for exact ranking: at least this many, and this many per hit
#: (on random unit vectors, the worst case, 20 per hit kept 99.3 % of an exact top 30, 10 kept 97 %).
CANDIDATES_MIN = 300
CANDIDATES_PER_HIT = 20
#: A search that would need more candidates than this (a large top_k, a filter keeping few records)
#: is exact: fast-scan's cost grows with the candidates, past an exact scan's around here.
CANDIDATES_MAX = 3000
#: Re-encode the first pass when its stale codes (of removed or replaced records) outnumber this
#: share of the records.
STALE_SHARE = 0.25

Vectors = npt.NDArray[np.float32]
Nums = npt.NDArray[np.int64]


def normalised(vectors: Sequence[Sequence[float]], dimension: int) -> Vectors:
    """Rows of ``vectors`` as float32, scaled to unit length (callers ensure none is all zeros)."""
    array = np.array(vectors, dtype=np.float32).reshape(len(vectors), dimension)
    faiss.normalize_L2(array)
    return array


def _key(value: Any) -> str | None:
    """The posting key of a metadata value: its JSON text, which keeps "1", 1 and true apart. Only
    the scalar values the filter language compares have one."""
    if isinstance(value, str | bool | int):
        return json.dumps(value)
    return None


def _array(nums: set[int]) -> Nums:
    return np.fromiter(nums, dtype=np.int64, count=len(nums))


@dataclass(frozen=True)
class Ranked:
    """Search results: record nums and their cosine similarities, best first."""

    nums: list[int]
    scores: list[float]


class Collection:
    """The in-memory side of one collection. ``lock`` guards it: searches read, writes write."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.lock = ReadWriteLock()
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        #: The compressed first pass, while the collection is large (see COARSE_MIN_RECORDS).
        self.coarse: CoarseIndex | None = None
        #: field -> posting key -> nums of the records holding that value.
        self._postings: dict[str, dict[str, set[int]]] = {}
        #: num -> the (field, key) postings the record is in, to take it out again.
        self._keys: dict[int, list[tuple[str, str]]] = {}

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    # -- writing (under lock.writing()) -----------------------------------------------------------

    def add(self, nums: Nums, vectors: Vectors, metadata: Sequence[dict[str, Any]]) -> None:
        """Add records whose nums are not in the index yet; ``vectors`` are normalised already."""
        if len(nums):
            self.index.add_with_ids(vectors, nums)
            if self.coarse is not None:
                self.coarse.add(nums, vectors)
        for num, meta in zip(nums.tolist(), metadata, strict=True):
            keys = [(field, key) for field, value in meta.items() if (key := _key(value)) is not None]
            self._keys[num] = keys
            for field, key in keys:
                self._postings.setdefault(field, {}).setdefault(key, set()).add(num)
        self._refresh_first_pass()

    def remove(self, nums: Iterable[int]) -> None:
        present = [num for num in nums if num in self._keys]
        if not present:
            return
        self.index.remove_ids(faiss.IDSelectorBatch(np.array(present, dtype=np.int64)))
        for num in present:
            for field, key in self._keys.pop(num):
                holders = self._postings[field][key]
                holders.discard(num)
                if not holders:
                    del self._postings[field][key]
        # The first pass keeps the removed records' codes (its searches skip records that are gone)
        # until they are too many.
        self._refresh_first_pass()

    def _refresh_first_pass(self) -> None:
        """Build, retrain, re-encode or drop the first pass as the collection's size now calls for.
        The cost (about 1.5 s for 100 000 records) falls on the write that crosses a threshold, not
        on searches."""
        if self.size < COARSE_MIN_RECORDS or self.dimension < COARSE_MIN_DIMENSION:
            if self.size < COARSE_DROP_RECORDS:
                self.coarse = None
            return
        if self.coarse is None or self.size >= RETRAIN_GROWTH * self.coarse.trained_on:
            self.coarse = CoarseIndex(self.dimension, *self._records())
        elif self.coarse.codes - self.size > STALE_SHARE * self.size:
            self.coarse.rebuild(*self._records())

    def _records(self) -> tuple[Nums, Vectors]:
        """Every record's num and vector, in the exact index's order."""
        nums: Nums = faiss.vector_to_array(self.index.id_map).astype(np.int64, copy=False)
        vectors: Vectors = self.index.index.reconstruct_n(0, self.size)
        return nums, vectors

    # -- reading (under lock.reading()) -----------------------------------------------------------

    def _split(self, conditions: Sequence[FilterCondition]) -> tuple[set[int] | None, set[int]]:
        """The records meeting the ``eq``/``in`` conditions (None when there are none: every record)
        and those failing a ``not_in`` condition."""
        kept: set[int] | None = None
        excluded: set[int] = set()
        for condition in conditions:
            postings = self._postings.get(condition.field, {})
            holders = [postings.get(key, set()) for key in map(_key, condition.values) if key is not None]
            if condition.op == "not_in":
                excluded.update(*holders)
                continue
            # One value's postings are used as they are: copying a large set costs more than the search.
            matching = holders[0] if len(holders) == 1 else set().union(*holders)
            kept = matching if kept is None else kept & matching
        return kept, excluded

    def select(self, conditions: Sequence[FilterCondition]) -> set[int]:
        """The nums of the records meeting every condition."""
        kept, excluded = self._split(conditions)
        return (set(self._keys) if kept is None else kept) - excluded

    def search(self, query: Vectors, top_k: int, conditions: Sequence[FilterCondition]) -> Ranked:
        """The ``top_k`` records nearest to ``query`` (one normalised row) that meet ``conditions``."""
        kept, excluded = self._split(conditions)
        direct_limit = max(DIRECT_SEARCH_RECORDS, self.size * DIRECT_SEARCH_SHARE)
        if kept is None:
            if not excluded:
                return self._first_pass_search(query, top_k, 1.0, None) or self._faiss_search(query, top_k, None)
            if self.size - len(excluded) <= direct_limit:
                return self._direct_search(query, top_k, _array(set(self._keys) - excluded))
            share = 1 - len(excluded) / self.size
            ranked = self._first_pass_search(query, top_k, share, lambda num: num not in excluded)
            selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(_array(excluded)))
            return ranked or self._faiss_search(query, top_k, selector)
        if excluded:
            kept = kept - excluded
        if len(kept) == self.size:
            return self._first_pass_search(query, top_k, 1.0, None) or self._faiss_search(query, top_k, None)
        if len(kept) <= direct_limit:
            return self._direct_search(query, top_k, _array(kept))
        ranked = self._first_pass_search(query, top_k, len(kept) / self.size, kept.__contains__)
        return ranked or self._faiss_search(query, top_k, faiss.IDSelectorBatch(_array(kept)))

    def _first_pass_search(
        self, query: Vectors, top_k: int, share: float, keeps: Callable[[int], bool] | None
    ) -> Ranked | None:
        """Candidates from the first pass that are records meeting the filter (``keeps``, which
        keeps ``share`` of the records), ranked exactly; None when the search is to be exact."""
        coarse = self.coarse
        if coarse is None or self.size < COARSE_MIN_RECORDS:
            return None
        wanted = max(CANDIDATES_MIN, CANDIDATES_PER_HIT * top_k)
        # Stale codes and records the filter drops take candidates' places: ask for as many more.
        count = math.ceil(wanted * coarse.codes / self.size / share)
        if count > CANDIDATES_MAX:
            return None
        live = self._keys
        # dict.fromkeys: a replaced record's stale code may name it twice; the order does not matter.
        nums = [
            num
            for num in dict.fromkeys(coarse.candidates(query, count).tolist())
            if num in live and (keeps is None or keeps(num))
        ]
        if len(nums) < top_k:
            return None  # a filter keeping fewer records than it seemed near the query
        return self._direct_search(query, top_k, np.array(nums, dtype=np.int64))

    def _faiss_search(self, query: Vectors, top_k: int, selector: Any) -> Ranked:
        k = min(top_k, self.size)
        if k == 0:
            return Ranked([], [])
        params = None
        if selector is not None:
            params = faiss.SearchParameters()
            params.sel = selector
        scores, nums = self.index.search(query, k, params=params)
        found = nums[0] >= 0  # faiss pads with -1 when fewer records pass the selector
        return Ranked(nums[0][found].tolist(), scores[0][found].tolist())

    def _direct_search(self, query: Vectors, top_k: int, nums: Nums) -> Ranked:
        if not len(nums):
            return Ranked([], [])
        scores = self.index.reconstruct_batch(nums) @ query[0]
        if len(nums) > top_k:
            best = np.argpartition(-scores, top_k - 1)[:top_k]
        else:
            best = np.arange(len(nums))
        # Ties keep the lower num first, as faiss does, so both paths order equal scores alike.
        order = best[np.lexsort((nums[best], -scores[best]))]
        return Ranked(nums[order].tolist(), scores[order].tolist())
