"""The null-space variant of alignment, kept as an ablation (DESIGN §1).

Instead of the leading singular vectors of the stacked data, look for encoders that
*annihilate* the cross-modal difference: ``[W_video, −W_imu] X = 0``. Precisely, with the
standardised training pairs ``X̂_video`` (n × d_video) and ``X̂_imu`` (n × d_imu):

    M = [X̂_video, −X̂_imu]                        (n × (d_video + d_imu))
    M = P Σ Qᵀ                                    (full SVD; σ = 0 beyond min(n, D))
    q_j = column of Q of the j-th *smallest* singular value, j = 1..k
    q_j = [w_video,j ; w_imu,j]                   (split row-wise)
    W_video = [w_video,1 … w_video,k]ᵀ,  W_imu likewise

so ``‖X̂_video w_video,j − X̂_imu w_imu,j‖ = σ_j`` is as small as any unit vector
``‖q_j‖ = 1`` orthogonal to the previous ones allows: the homogeneous least-squares
solution. The joint unit norm is the only normalisation; each ``q_j`` gets the sign that
makes its largest-magnitude entry positive.

Unlike perfect alignment, nothing here asks each modality's encoder to keep the signal:
on exact rank-k data with ``d_m > k`` the null space of ``M`` has dimension
``d_video + d_imu − k`` and holds directions where one modality's encoder is zero on the
data, which the benchmark's transfer accuracy exposes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
import numpy.typing as npt

from harbridge.calibration.standardize import standardizer_from_moments

__all__ = ["NullSpaceAlignment", "null_space_encoders"]

FloatArray = npt.NDArray[np.float64]


def null_space_encoders(
    X_video: FloatArray, X_imu: FloatArray, rank: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Encoders from the ``rank`` smallest right singular vectors of ``[X_video, −X_imu]``.

    Parameters
    ----------
    X_video : ndarray of shape (n, d_video)
    X_imu : ndarray of shape (n, d_imu)
        Standardised paired features.
    rank : int
        Number of directions k, 1 ≤ k ≤ d_video + d_imu.

    Returns
    -------
    W_video : ndarray of shape (k, d_video)
    W_imu : ndarray of shape (k, d_imu)
    singular_values : ndarray of shape (k,), ascending
        ``σ_j = ‖X_video w_video,j − X_imu w_imu,j‖``.
    """
    M = np.hstack([X_video, -X_imu])
    n, D = M.shape
    if not 1 <= rank <= D:
        raise ValueError(f"rank must be in 1..{D} (the stacked feature dimension), got {rank}")
    # With fewer rows than columns the null space lies in the part of Q a thin SVD omits.
    _, s, Qt = np.linalg.svd(M, full_matrices=n < D)
    s = np.concatenate([s, np.zeros(D - s.size)])
    order = np.argsort(s, kind="stable")[:rank]
    Q = Qt[order]
    largest = np.argmax(np.abs(Q), axis=1)
    Q = Q * np.sign(Q[np.arange(rank), largest])[:, None]
    d_video = X_video.shape[1]
    return Q[:, :d_video], Q[:, d_video:], s[order]


class NullSpaceAlignment:
    """Null-space alignment of two modalities (module docstring).

    Parameters
    ----------
    rank : int
        Latent dimension k.

    Attributes
    ----------
    standardizers_ : list of Standardizer
        The same per-modality standardisation perfect alignment uses.
    encoders_ : list of ndarray of shape (k, d_m)
        ``W_video`` and ``W_imu``, acting on standardised features.
    singular_values_ : ndarray of shape (k,), ascending
        Residual ``‖[W_video, −W_imu] X̂‖`` of each direction on the training pairs.
    """

    def __init__(self, rank: int) -> None:
        self.rank = rank

    def fit(self, views: Sequence[npt.ArrayLike]) -> Self:
        """Solve for both encoders from paired rows.

        Parameters
        ----------
        views : sequence of two array-like of shape (n, d_m)
            Video and IMU features; row i of both is the same moment.
        """
        if len(views) != 2:
            raise ValueError(f"null-space alignment pairs exactly two modalities, got {len(views)}")
        X = [np.asarray(v, dtype=np.float64) for v in views]
        if any(x.ndim != 2 for x in X) or X[0].shape[0] != X[1].shape[0]:
            raise ValueError(
                f"expected two 2-D arrays with the same number of rows, got {[x.shape for x in X]}"
            )
        self.standardizers_ = [standardizer_from_moments(x.mean(axis=0), x.var(axis=0)) for x in X]
        X_hat = [st.apply(x) for st, x in zip(self.standardizers_, X, strict=True)]
        W_video, W_imu, self.singular_values_ = null_space_encoders(X_hat[0], X_hat[1], self.rank)
        self.encoders_ = [W_video, W_imu]
        return self

    def transform(self, m: int, X: npt.ArrayLike) -> FloatArray:
        """Latents ``W_m x̂`` of shape (n, k) of raw features ``X`` (n, d_m) of modality ``m``."""
        return self.standardizers_[m].apply(X) @ self.encoders_[m].T
