"""The baselines both benchmarks set beside perfect alignment: CCA, per-modality PCA, InfoNCE.

Each fitted baseline maps raw features of modality ``m`` (0 video, 1 IMU) to a latent
through ``transform(m, X)``, as :class:`~harbridge.calibration.alignment.PerfectAlignment`
does, so one evaluation serves every method.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, Self

import numpy as np
import numpy.typing as npt

from harbridge.calibration.contrastive import ContrastiveAlignment
from harbridge.calibration.spectrum import flip_signs
from harbridge.calibration.standardize import Standardizer, standardizer_from_moments

__all__ = [
    "CONTRASTIVE_LR",
    "CONTRASTIVE_TEMPERATURE",
    "Aligner",
    "CanonicalCorrelation",
    "PrincipalComponents",
    "contrastive_baseline",
]

FloatArray = npt.NDArray[np.float64]

#: InfoNCE temperature and Adam step size of the contrastive baseline (CLIP-like settings)
CONTRASTIVE_TEMPERATURE = 0.1
CONTRASTIVE_LR = 1e-2


class Aligner(Protocol):
    """Anything that maps raw features of modality ``m`` to a latent."""

    def transform(self, m: int, X: npt.ArrayLike) -> FloatArray: ...


def _standardizers(views: Sequence[FloatArray]) -> list[Standardizer]:
    """The standardisation perfect alignment applies, fitted on each view's rows."""
    return [standardizer_from_moments(v.mean(axis=0), v.var(axis=0)) for v in views]


class CanonicalCorrelation:
    """scikit-learn's CCA behind the :class:`Aligner` interface.

    Inputs get the same standardisation as perfect alignment, so sklearn is told not to
    scale again and its scores are ``X̂ @ rotations``. Those scores have an arbitrary scale
    per component; each canonical variate is divided by its standard deviation on the
    training pairs, as canonical variates are defined (unit variance), so that CMAE
    compares like with like.

    Parameters
    ----------
    rank : int
        Number of canonical components k.
    """

    def __init__(self, rank: int) -> None:
        self.rank = rank

    def fit(self, views: Sequence[FloatArray]) -> Self:
        """Fit on paired video and IMU rows (n, d_m); raises ImportError without sklearn."""
        # scikit-learn is an optional benchmark dependency: import it only when CCA runs.
        from sklearn.cross_decomposition import CCA

        self.standardizers_ = _standardizers(views)
        X_hat = [st.apply(v) for st, v in zip(self.standardizers_, views, strict=True)]
        cca = CCA(n_components=self.rank, scale=False, max_iter=1000).fit(X_hat[0], X_hat[1])
        self.rotations_: list[FloatArray] = [cca.x_rotations_, cca.y_rotations_]
        self.variate_std_: list[FloatArray] = [
            np.maximum((X @ R).std(axis=0), np.finfo(np.float64).tiny)
            for X, R in zip(X_hat, self.rotations_, strict=True)
        ]
        return self

    def transform(self, m: int, X: npt.ArrayLike) -> FloatArray:
        """Unit-variance canonical variates of shape (n, k) of raw features (n, d_m)."""
        variates: FloatArray = self.standardizers_[m].apply(X) @ self.rotations_[m]
        return variates / self.variate_std_[m]


class PrincipalComponents:
    """No alignment: each modality's own first k principal components of standardised features.

    Parameters
    ----------
    rank : int
        k.
    """

    def __init__(self, rank: int) -> None:
        self.rank = rank

    def fit(self, views: Sequence[FloatArray]) -> Self:
        """Fit on video and IMU rows (n, d_m); the pairing is ignored."""
        self.standardizers_ = _standardizers(views)
        self.components_: list[FloatArray] = [
            flip_signs(np.linalg.svd(st.apply(v), full_matrices=False)[2][: self.rank].T)
            for st, v in zip(self.standardizers_, views, strict=True)
        ]
        return self

    def transform(self, m: int, X: npt.ArrayLike) -> FloatArray:
        """Principal-component scores of shape (n, k) of raw features (n, d_m)."""
        scores: FloatArray = self.standardizers_[m].apply(X) @ self.components_[m]
        return scores


def contrastive_baseline(
    rank: int, *, epochs: int, seed: int, batch_size: int | None = 256
) -> ContrastiveAlignment:
    """The contrastive baseline, unfitted: linear encoders trained with symmetric InfoNCE.

    Parameters
    ----------
    rank : int
        Latent dimension k.
    epochs : int
    seed : int
    batch_size : int or None
        Smallest batch (default that of :class:`ContrastiveAlignment`); None: all pairs.
    """
    return ContrastiveAlignment(
        rank,
        temperature=CONTRASTIVE_TEMPERATURE,
        epochs=epochs,
        lr=CONTRASTIVE_LR,
        batch_size=batch_size,
        seed=seed,
    )
