"""Streaming accumulation of the mean and centred Gram matrix of stacked paired data.

One pass, O(D²) memory whatever the number of rows; partial accumulators from separate
shards, processes or cluster workers merge exactly (Chan, Golub & LeVeque's pairwise
update), so the solve can be split anywhere (DESIGN §1 "Scale"). :class:`PairMoments`
keeps one accumulator per part of the split (fit, validation, held-out) and a bounded
sample of pairs: everything the solve needs after the pass.

Each chunk is cast into reusable float64 rows, shifted by the running mean, and costs one
symmetric rank-k update (BLAS ``syrk``, which ``Y.T @ Y`` calls) and one matrix-vector
product for its sum — nothing else that scales with its size.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from harbridge.calibration.split import FIT, HOLDOUT, PARTS, VALIDATION, PairSample

__all__ = [
    "GramAccumulator",
    "GramScratch",
    "MomentSpec",
    "PairMoments",
    "accurate_mean",
    "chunk_rows_for",
]

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

#: float64 working memory per chunk: rows × D × 8 bytes stays under this
CHUNK_BYTES = 32 * 2**20
#: rows per chunk, at most (small D) and at least (very large D)
MAX_CHUNK_ROWS = 16384
MIN_CHUNK_ROWS = 256
#: rows of a rank-one update done at a time, so it needs no D × D temporary
OUTER_ROWS = 512


def chunk_rows_for(dim: int) -> int:
    """Rows per chunk for stacked dimension ``dim``: as many as fit in ``CHUNK_BYTES``."""
    return int(np.clip(CHUNK_BYTES // (8 * dim), MIN_CHUNK_ROWS, MAX_CHUNK_ROWS))


def _add_outer(G: FloatArray, v: FloatArray, weight: float) -> None:
    """``G += weight · v vᵀ`` in place, a block of rows at a time (no D × D temporary)."""
    for start in range(0, v.size, OUTER_ROWS):
        G[start : start + OUTER_ROWS] += weight * np.outer(v[start : start + OUTER_ROWS], v)


def accurate_mean(X: FloatArray) -> FloatArray:
    """Column means of ``X`` (n, D), refined by a second pass over the residuals.

    A plain mean of features with large offsets leaves a rounding error that, subtracted
    from every row, is a rank-one error growing with √n — enough to blur the rounding
    cliff that reveals an exact rank.
    """
    mean = X.mean(axis=0)
    return np.asarray(mean + (X - mean).mean(axis=0), dtype=np.float64)


class GramScratch:
    """Reusable float64 working rows ``(rows, D)``.

    Owned by whoever streams the chunks, never by an accumulator, so accumulators stay
    small to ship between processes.
    """

    def __init__(self, dim: int, rows: int) -> None:
        self.buffer: FloatArray = np.empty((rows, dim))

    def rows(self, count: int, dim: int) -> FloatArray:
        """The first ``count`` working rows for stacked dimension ``dim``, grown if needed."""
        if count > self.buffer.shape[0] or dim != self.buffer.shape[1]:
            self.buffer = np.empty((max(count, self.buffer.shape[0]), dim))
        return self.buffer[:count]


class GramAccumulator:
    """Running count, mean and centred Gram ``Σ (x − mean)(x − mean)ᵀ`` in float64.

    Parameters
    ----------
    dim : int
        D, the stacked dimension (sum of the modalities' feature dimensions).
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.count = 0
        self.mean: FloatArray = np.zeros(dim)
        self.centred_gram: FloatArray = np.zeros((dim, dim))

    def update(self, X: npt.ArrayLike) -> None:
        """Add rows ``X`` of shape (b, D)."""
        X = np.asarray(X)
        self.update_views([X], None, GramScratch(self.dim, X.shape[0]))

    def update_views(
        self,
        views: Sequence[npt.NDArray[Any]],
        rows: IndexArray | None,
        scratch: GramScratch,
    ) -> None:
        """Add the stacked rows ``[views[0][rows], views[1][rows], ...]`` without stacking.

        Parameters
        ----------
        views : sequence of ndarray of shape (b, d_m)
            Column blocks of the stacked rows; their widths sum to D.
        rows : ndarray of int, optional
            Which of the b rows to add (all when None).
        scratch : GramScratch
        """
        count = views[0].shape[0] if rows is None else rows.size
        if count == 0:
            return
        Y = scratch.rows(count, self.dim)
        edges = np.cumsum([0, *(v.shape[1] for v in views)])
        for view, (start, stop) in zip(views, itertools.pairwise(edges), strict=True):
            Y[:, start:stop] = view if rows is None else view[rows]
        # Shift by the running mean (by the first chunk's own mean at first), in place on
        # contiguous rows: the Gram of shifted rows keeps its digits when features sit far
        # from zero.
        shift = self.mean if self.count else accurate_mean(Y)
        np.subtract(Y, shift, out=Y)
        offset = (np.ones(count) @ Y) / count
        centred = Y.T @ Y
        _add_outer(centred, offset, -float(count))
        self._merge(count, shift + offset, centred, owned=True)

    def merge(self, other: GramAccumulator) -> None:
        """Add everything ``other`` has accumulated (same ``dim``)."""
        if other.dim != self.dim:
            raise ValueError(f"cannot merge a Gram of dimension {other.dim} into {self.dim}")
        if other.count:
            self._merge(other.count, other.mean, other.centred_gram, owned=False)

    def copy(self) -> GramAccumulator:
        """An independent accumulator holding the same moments."""
        twin = GramAccumulator(self.dim)
        twin.merge(self)
        return twin

    def _merge(
        self, count: int, mean: FloatArray, centred_gram: FloatArray, *, owned: bool
    ) -> None:
        """Chan's update; ``owned`` says ``centred_gram`` may become this one's own."""
        if not self.count:
            self.count, self.mean = count, mean.copy()
            self.centred_gram = centred_gram if owned else centred_gram.copy()
            return
        total = self.count + count
        delta = mean - self.mean
        self.centred_gram += centred_gram
        _add_outer(self.centred_gram, delta, self.count * count / total)
        self.mean = self.mean + delta * (count / total)
        self.count = total

    @property
    def variance(self) -> FloatArray:
        """Per-feature population variance, shape (D,)."""
        return np.diag(self.centred_gram) / max(self.count, 1)

    def scatter_about(self, centre: FloatArray) -> FloatArray:
        """``Σ (x − centre)(x − centre)ᵀ`` of shape (D, D) over the accumulated rows."""
        scatter = self.centred_gram.copy()
        _add_outer(scatter, self.mean - centre, float(self.count))
        return scatter


@dataclass(frozen=True)
class MomentSpec:
    """What every partial :class:`PairMoments` of one solve must agree on.

    Attributes
    ----------
    dim : int
        Stacked dimension D.
    sample_size : int
        Pairs kept in the bounded sample (for the report, the video head and the
        validation standard error).
    seed : int
        Seed of the sample's row keys.
    keep_rows : bool
        Keep every fit and validation pair too (the direct-SVD path, only for n < D).
    """

    dim: int
    sample_size: int
    seed: int
    keep_rows: bool

    def empty(self) -> PairMoments:
        """Moments of no pairs yet."""
        return PairMoments(self)


class PairMoments:
    """Everything one pass over the pairs leaves behind, mergeable across partitions.

    Attributes
    ----------
    parts : list of GramAccumulator
        One per part code (:data:`FIT`, :data:`VALIDATION`, :data:`HOLDOUT`).
    sample : PairSample
        A bounded uniform sample of all pairs.
    rows : PairSample or None
        Every fit and validation pair, when ``spec.keep_rows``.
    """

    def __init__(self, spec: MomentSpec) -> None:
        self.spec = spec
        self.parts = [GramAccumulator(spec.dim) for _ in PARTS]
        self.sample = PairSample(spec.sample_size, spec.seed)
        self.rows = PairSample(None, spec.seed) if spec.keep_rows else None

    def add(
        self,
        start: int,
        views: Sequence[npt.NDArray[Any]],
        parts: npt.NDArray[np.uint8],
        scratch: GramScratch,
        subject: npt.NDArray[Any] | None = None,
    ) -> None:
        """Add a chunk of pairs starting at global index ``start``.

        Parameters
        ----------
        views : sequence of ndarray of shape (b, d_m)
        parts : ndarray of uint8 of shape (b,)
            Part code of each pair (from :meth:`PairSplit.parts`).
        scratch : GramScratch
        subject : ndarray of shape (b,), optional
            Subjects of the pairs, kept with the sampled ones.
        """
        counts = np.bincount(parts, minlength=len(PARTS))
        for part in PARTS:
            if counts[part] == parts.size:
                self.parts[part].update_views(views, None, scratch)
            elif counts[part]:
                self.parts[part].update_views(views, np.flatnonzero(parts == part), scratch)
        self.sample.offer(start, views, parts, subject=subject)
        if self.rows is not None:
            self.rows.offer(start, views, parts, keep=parts != HOLDOUT)

    def merge(self, other: PairMoments) -> None:
        """Add everything ``other`` accumulated (same spec)."""
        for mine, theirs in zip(self.parts, other.parts, strict=True):
            mine.merge(theirs)
        self.sample.merge(other.sample)
        if self.rows is not None and other.rows is not None:
            self.rows.merge(other.rows)

    @property
    def n_pairs(self) -> int:
        """Pairs seen."""
        return sum(part.count for part in self.parts)

    def training(self) -> GramAccumulator:
        """Moments of the training pairs: fit and validation together."""
        train = self.parts[FIT].copy()
        train.merge(self.parts[VALIDATION])
        return train
