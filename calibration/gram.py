"""Streaming accumulation of the mean and centred Gram matrix of stacked paired data.

One pass, O(D²) memory whatever the number of rows; partial accumulators from separate
files or processes merge exactly (Chan, Golub & LeVeque's pairwise update), so the solve
can be split across shards or a cluster (DESIGN §1 "Scale").
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["GramAccumulator", "accurate_mean"]

FloatArray = npt.NDArray[np.float64]


def accurate_mean(X: FloatArray) -> FloatArray:
    """Column means of ``X`` (n, D), refined by a second pass over the residuals.

    A plain mean of features with large offsets leaves a rounding error that, subtracted
    from every row, is a rank-one error growing with √n — enough to blur the rounding
    cliff that reveals an exact rank.
    """
    mean = X.mean(axis=0)
    return np.asarray(mean + (X - mean).mean(axis=0), dtype=np.float64)


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
        X = np.asarray(X, dtype=np.float64)
        if X.shape[0] == 0:
            return
        chunk_mean = accurate_mean(X)
        Xc = X - chunk_mean
        self._merge(X.shape[0], chunk_mean, Xc.T @ Xc)

    def merge(self, other: GramAccumulator) -> None:
        """Add everything ``other`` has accumulated (same ``dim``)."""
        if other.dim != self.dim:
            raise ValueError(f"cannot merge a Gram of dimension {other.dim} into {self.dim}")
        if other.count:
            self._merge(other.count, other.mean, other.centred_gram)

    def _merge(self, count: int, mean: FloatArray, centred_gram: FloatArray) -> None:
        total = self.count + count
        delta = mean - self.mean
        self.centred_gram += centred_gram + np.outer(delta, delta) * (self.count * count / total)
        self.mean = self.mean + delta * (count / total)
        self.count = total

    @property
    def variance(self) -> FloatArray:
        """Per-feature population variance, shape (D,)."""
        return np.diag(self.centred_gram) / max(self.count, 1)
