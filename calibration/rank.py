"""Choosing the rank k of the alignment: exact-rank detection, then held-out pairs.

On exactly rank-k data the spectrum falls off a cliff after k (to rounding level), and
k is read off it. Otherwise the rank is the one whose encoders best carry one modality
into another on validation pairs the solve did not see (cross-modal reconstruction
error), taking the smallest rank within one standard error of the best — more rank buys
more signal until it starts fitting noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from harbridge.calibration.encoders import block_encoder, split_blocks

__all__ = ["RankChoice", "candidate_ranks", "exact_rank", "rounding_floor", "validation_errors"]

FloatArray = npt.NDArray[np.float64]

#: how far above the rounding floor the last kept singular value must stand for a cliff
EXACT_GAP = 1e2


@dataclass(frozen=True)
class RankChoice:
    """How the rank was chosen, as recorded in the manifest."""

    rank: int
    method: str
    reason: str
    candidates: list[int] = field(default_factory=list)
    validation_error: list[float] = field(default_factory=list)


def rounding_floor(
    singular_values: FloatArray, magnitude: FloatArray, n_rows: int, eps: float, from_gram: bool
) -> float:
    """Largest singular value that rounding alone can produce on exactly low-rank data.

    Rounding the (n × D) inputs to ``eps`` perturbs each entry by about ``eps · |x|``; a
    random perturbation with entries of that size has spectral norm about
    ``eps · rms|x| · (√n + √D)``. A factor 100 keeps clear of it and of the rounding
    already in the data (features computed as sums of products carry several ``eps``).

    Parameters
    ----------
    singular_values : ndarray of shape (r,), descending
    magnitude : ndarray of shape (D,)
        Typical ``|x|`` of each stacked feature in standardised units (offset included).
    n_rows : int
        Number of pairs the spectrum came from.
    eps : float
        Machine epsilon of the input features (float32 inputs carry float32 rounding).
    from_gram : bool
        Eigenvalues of an accumulated Gram matrix are exact to about ``ε (D + √n) λ_max``,
        so singular values taken as their square roots carry an extra relative floor of
        the square root of that.
    """
    dim = magnitude.size
    entry = eps * float(np.sqrt(np.mean(magnitude**2)))
    floor = 100.0 * entry * (np.sqrt(n_rows) + np.sqrt(dim))
    if from_gram:
        eps64 = float(np.finfo(np.float64).eps)
        floor += 10.0 * float(singular_values[0]) * float(np.sqrt(eps64 * (dim + np.sqrt(n_rows))))
    return float(floor)


def exact_rank(singular_values: FloatArray, floor: float) -> int | None:
    """The rank of exactly low-rank data, or None when the spectrum has no rounding cliff.

    Parameters
    ----------
    singular_values : ndarray of shape (r,), descending
    floor : float
        The rounding floor from :func:`rounding_floor`.
    """
    above = int(np.sum(singular_values > floor))
    if above in (0, singular_values.size):
        return None
    # A real cliff: the last kept value stands far above the rounding floor.
    return above if singular_values[above - 1] > EXACT_GAP * floor else None


def candidate_ranks(max_rank: int) -> list[int]:
    """Ranks worth trying: every rank up to 32, then about 16 per doubling."""
    dense = list(range(1, min(max_rank, 32) + 1))
    sparse = np.unique(np.geomspace(33, max(max_rank, 33), num=64).astype(int))
    return dense + [int(k) for k in sparse if 32 < k <= max_rank]


def validation_errors(
    U: FloatArray,
    dims: tuple[int, ...],
    validation: Sequence[FloatArray],
    ranks: Sequence[int],
    ridge: float,
) -> tuple[FloatArray, FloatArray]:
    """Cross-modal reconstruction error on validation pairs for each candidate rank.

    For every ordered pair of modalities (a, b): ``‖X̂_b − U_b E_a X̂_a‖² / ‖X̂_b‖²`` per
    sample, averaged over pairs.

    Parameters
    ----------
    U : ndarray of shape (D, r)
        Leading singular vectors from the fit part.
    dims : tuple of int
        Feature dimension of each modality, summing to D.
    validation : sequence of ndarray of shape (n_val, d_m)
        Standardised validation rows of each modality (standardised with the fit part's map).
    ranks : sequence of int
        Candidate ranks, each ≤ r.
    ridge : float
        Tikhonov weight of the encoders.

    Returns
    -------
    error : ndarray of shape (len(ranks),)
        Mean relative reconstruction error.
    standard_error : ndarray of shape (len(ranks),)
        Its standard error over validation samples.
    """
    n_val = validation[0].shape[0]
    energy = [np.maximum(np.sum(X**2, axis=1), 1e-300) for X in validation]
    errors = np.empty(len(ranks))
    standard_errors = np.empty(len(ranks))
    for i, k in enumerate(ranks):
        blocks = split_blocks(U[:, :k], dims)
        latents = [
            X @ block_encoder(U_m, ridge).T for X, U_m in zip(validation, blocks, strict=True)
        ]
        per_sample = np.zeros(n_val)
        n_pairs = 0
        for a, Z_a in enumerate(latents):
            for b, X_b in enumerate(validation):
                if a != b:
                    residual = X_b - Z_a @ blocks[b].T
                    per_sample += np.sum(residual**2, axis=1) / energy[b]
                    n_pairs += 1
        per_sample /= n_pairs
        errors[i] = per_sample.mean()
        standard_errors[i] = per_sample.std() / np.sqrt(max(n_val, 1))
    return errors, standard_errors
