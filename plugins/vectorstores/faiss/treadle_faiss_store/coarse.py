"""The compressed first pass of a large collection's searches: candidates, not answers.

An exact search reads every float32 vector (153 MB for 100 000 x 384: about 16 ms a query on a
two-core VM, bound by memory bandwidth). This index holds each vector as 192 codes of 4 bits (a
product quantizer over pairs of dimensions, 96 bytes a vector) searched with faiss's fast-scan
kernels: about 1 ms for the same collection. Its scores are approximate, so the collection asks it
for many more candidates than it returns and ranks those exactly from the float32 vectors (see
``Collection``). Measured on 100 000 random unit vectors of 384 numbers, the hardest case for a
quantizer (every neighbour but the first is nearly as far as any other record), 300 candidates held
99.9 % of the exact top 10; scalar quantization to 8 bits kept 100 % but cost half of an exact
search, and IVF, HNSW and 1-bit RaBitQ lost a quarter to a half of the top 10 on such data.

Fast-scan indexes remove records slowly (half a second at 100 000) and take no ``IDSelector``, so:
- a removed or replaced record's code stays, and the collection drops candidates that are no longer
  records; ``stale`` counts those codes, and the collection re-encodes the live records when they
  are too many (``rebuild``);
- filters are applied to the candidates, asking for more of them the fewer records a filter keeps.
The quantizer is trained once, on a sample of the records it is built from, and again only when the
collection has grown several times over since (the codes of new records use the old training,
which only costs candidates their rank, never an answer its exact score).
"""

from __future__ import annotations

import faiss
import numpy as np
import numpy.typing as npt

__all__ = ["RETRAIN_GROWTH", "CoarseIndex"]

#: Sub-quantizers: one per two dimensions (4 bits each) kept 99.9 % of the top 10 with 300 candidates;
#: one per four dimensions kept 78 %.
_DIMENSIONS_PER_CODE = 2
#: Records the quantizer is trained on: faiss's k-means uses at most 256 points per centroid (16 here).
TRAINING_SAMPLE = 4096
#: k-means iterations: ten cost 1.2 s of CPU at 384 dimensions (faiss's default 25, three times more)
#: and ranked as well once candidates are re-ranked exactly.
_TRAINING_ITERATIONS = 10
#: Retrain when the collection has this many times the records the quantizer was trained on.
RETRAIN_GROWTH = 4

Vectors = npt.NDArray[np.float32]
Nums = npt.NDArray[np.int64]


class CoarseIndex:
    """A product-quantized fast-scan index of a collection's records, keyed by their nums, that
    never forgets a code (see the module's docstring)."""

    def __init__(self, dimension: int, nums: Nums, vectors: Vectors) -> None:
        """Train the quantizer on a sample of ``vectors`` (normalised) and encode all of them."""
        self.dimension = dimension
        quantizer = faiss.IndexPQFastScan(dimension, _code_count(dimension), 4, faiss.METRIC_INNER_PRODUCT)
        quantizer.pq.cp.niter = _TRAINING_ITERATIONS
        if len(vectors) > TRAINING_SAMPLE:
            sample = np.random.default_rng(len(vectors)).choice(len(vectors), TRAINING_SAMPLE, replace=False)
            quantizer.train(vectors[np.sort(sample)])
        else:
            quantizer.train(vectors)
        #: The trained quantizer without codes, to re-encode from.
        self._trained = quantizer
        self.trained_on = len(vectors)
        self._index = self._encoded(nums, vectors)

    def _encoded(self, nums: Nums, vectors: Vectors) -> faiss.IndexIDMap:
        index = faiss.IndexIDMap(faiss.clone_index(self._trained))
        if len(nums):
            index.add_with_ids(vectors, nums)
        return index

    @property
    def codes(self) -> int:
        """How many codes the index holds: one per live record, plus the stale ones."""
        return int(self._index.ntotal)

    def add(self, nums: Nums, vectors: Vectors) -> None:
        """Encode new or replaced records (a replaced record's old code goes stale)."""
        if len(nums):
            self._index.add_with_ids(vectors, nums)

    def rebuild(self, nums: Nums, vectors: Vectors) -> None:
        """Hold exactly these records, dropping every stale code; the training stays."""
        self._index = self._encoded(nums, vectors)

    def candidates(self, query: Vectors, count: int) -> Nums:
        """The nums of up to ``count`` codes nearest to ``query`` (one normalised row), best first by
        approximate score; a num may repeat, and may no longer be a record."""
        k = min(count, self.codes)
        if k == 0:
            return np.empty(0, dtype=np.int64)
        _, nums = self._index.search(query, k)
        found: Nums = nums[0]
        return found[found >= 0]


def _code_count(dimension: int) -> int:
    """Sub-quantizers for ``dimension``: faiss needs a count that divides it."""
    count = max(1, dimension // _DIMENSIONS_PER_CODE)
    while dimension % count:
        count -= 1
    return count
