"""Per-modality encoders: the (Tikhonov-regularised) pseudo-inverses of the blocks of U."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

__all__ = ["block_encoder", "split_blocks"]

FloatArray = npt.NDArray[np.float64]


def split_blocks(U: FloatArray, dims: tuple[int, ...]) -> list[FloatArray]:
    """Split ``U`` of shape (D, k) row-wise into one block (d_m, k) per modality."""
    edges = np.cumsum((0, *dims))
    return [U[start:stop] for start, stop in itertools.pairwise(edges)]


def block_encoder(U_m: FloatArray, ridge: float = 0.0) -> FloatArray:
    """Encoder ``E_m = U_m⁺`` of one modality (DESIGN §1), shape (k, d_m).

    Parameters
    ----------
    U_m : ndarray of shape (d_m, k)
        The modality's block of the leading singular vectors.
    ridge : float
        Tikhonov weight α ≥ 0: ``E_m = (U_mᵀU_m + αI)⁻¹ U_mᵀ``; 0 gives the pseudo-inverse.
    """
    if ridge == 0.0:
        return np.asarray(np.linalg.pinv(U_m), dtype=np.float64)
    k = U_m.shape[1]
    return np.asarray(np.linalg.solve(U_m.T @ U_m + ridge * np.eye(k), U_m.T), dtype=np.float64)
