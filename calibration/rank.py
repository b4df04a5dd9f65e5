"""Choosing the rank k of the alignment: exact-rank detection, then held-out pairs.

On exactly rank-k data the spectrum falls off a cliff after k (to rounding level), and
k is read off it. Otherwise the rank is the one whose encoders best carry one modality
into another on validation pairs the solve did not see (cross-modal reconstruction
error), taking the smallest rank within one standard error of the best — more rank buys
more signal until it starts fitting noise. The error comes from the validation pairs'
Gram matrix, its standard error from a sample of them: no second pass over the data.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from harbridge.calibration.encoders import split_blocks

__all__ = [
    "RankChoice",
    "candidate_ranks",
    "exact_rank",
    "rounding_floor",
    "validation_errors",
    "validation_standard_error",
]

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
    gram: FloatArray,
    ranks: Sequence[int],
    ridge: float,
) -> FloatArray:
    """Cross-modal reconstruction error on validation pairs for each candidate rank.

    For every ordered pair of modalities (a, b), the share of the validation pairs'
    energy in modality b that its reconstruction from modality a misses,
    ``Σ_i ‖x̂_b − U_b E_a x̂_a‖² / Σ_i ‖x̂_b‖²``, averaged over the ordered pairs. It is a
    quadratic form of the validation pairs' Gram matrix ``Ĝ = Σ_i x̂_i x̂_iᵀ``, so it
    needs no pass over the data: with ``P = U_a[:, :k]``, ``Q = U_b[:, :k]`` and
    ``E_a = C_a Pᵀ`` (``C_a = (PᵀP)⁺``, or ``(PᵀP + αI)⁻¹`` with a ridge),

    ``Σ‖x̂_b − Q E_a x̂_a‖² = tr Ĝ_bb − 2 tr(C_a Pᵀ Ĝ_ab Q) + tr(QᵀQ C_a Pᵀ Ĝ_aa P C_aᵀ)``,

    and every term is a k × k block of an r × r matrix computed once.

    Parameters
    ----------
    U : ndarray of shape (D, r)
        Leading singular vectors from the fit part, r ≥ max(ranks).
    dims : tuple of int
        Feature dimension of each modality, summing to D.
    gram : ndarray of shape (D, D)
        ``Σ_i x̂_i x̂_iᵀ`` of the validation pairs, standardised with the fit part's map
        (not centred: the fit part's mean is the origin).
    ranks : sequence of int
        Candidate ranks, each ≤ r.
    ridge : float
        Tikhonov weight of the encoders.

    Returns
    -------
    ndarray of shape (len(ranks),)
    """
    blocks = _blocks(U[:, : max(ranks)], gram, dims)
    errors = np.zeros(len(ranks))
    for i, k in enumerate(ranks):
        errors[i] = np.mean([missed / energy for missed, energy in _residuals(blocks, k, ridge)])
    return errors


def validation_standard_error(
    U: FloatArray,
    dims: tuple[int, ...],
    gram: FloatArray,
    *,
    n_validation: int,
    sample: Sequence[FloatArray],
    k: int,
    ridge: float,
) -> float:
    """Standard error of :func:`validation_errors` at rank k, from a sample of the pairs.

    The error is a ratio of sums over validation pairs; its standard error is that of
    the mean of the per-pair linearised terms ``(r_i − R q_i) / q̄`` (delta method, with
    ``r_i`` a pair's missed energy, ``q_i`` its energy, ``R`` the ratio), whose spread is
    estimated on a uniform sample of the validation pairs.

    Parameters
    ----------
    U, dims, gram, ridge
        As for :func:`validation_errors`.
    n_validation : int
        Number of validation pairs ``gram`` sums over.
    sample : sequence of ndarray of shape (m, d_m)
        Standardised rows of a uniform sample of the validation pairs.
    k : int
        The rank.
    """
    if sample[0].shape[0] < 2 or n_validation < 2:
        return 0.0
    blocks = _blocks(U[:, :k], gram, dims)
    U_blocks = split_blocks(U[:, :k], dims)
    linearised = np.zeros(sample[0].shape[0])
    pairs = _ordered_pairs(len(dims))
    for (a, b), (residual, energy) in zip(pairs, _residuals(blocks, k, ridge), strict=True):
        E_a = blocks.inverses(ridge)[a](k) @ U_blocks[a].T
        missed = sample[b] - (sample[a] @ E_a.T) @ U_blocks[b].T
        pair_energy = np.sum(sample[b] ** 2, axis=1)
        ratio = residual / energy
        linearised += (np.sum(missed**2, axis=1) - ratio * pair_energy) / (energy / n_validation)
    linearised /= len(pairs)
    return float(linearised.std(ddof=1) / np.sqrt(n_validation))


@dataclass
class _ProjectedBlocks:
    """``U_aᵀ Ĝ_ab U_b`` for every pair of modalities, ``U_aᵀ U_a`` and ``tr Ĝ_aa``."""

    cross: dict[tuple[int, int], FloatArray]
    normal: list[FloatArray]
    energy: list[float]
    _inverses: list[_LeadingInverses] | None = None

    def inverses(self, ridge: float) -> list[_LeadingInverses]:
        """Per modality, ``C(k)`` for any k (factorised once)."""
        if self._inverses is None:
            self._inverses = [_LeadingInverses(normal, ridge) for normal in self.normal]
        return self._inverses


def _blocks(U: FloatArray, gram: FloatArray, dims: tuple[int, ...]) -> _ProjectedBlocks:
    edges = np.cumsum((0, *dims))
    U_blocks = split_blocks(U, dims)
    # One (D × r) product per modality b, then every U_aᵀ (Ĝ U_b) from its rows.
    columns = [gram[:, edges[b] : edges[b + 1]] @ U_blocks[b] for b in range(len(dims))]
    cross = {
        (a, b): U_blocks[a].T @ columns[b][edges[a] : edges[a + 1]]
        for a in range(len(dims))
        for b in range(len(dims))
    }
    normal = [U_m.T @ U_m for U_m in U_blocks]
    energy = [float(np.trace(gram[lo:hi, lo:hi])) for lo, hi in itertools.pairwise(edges)]
    return _ProjectedBlocks(cross, normal, energy)


def _ordered_pairs(n_views: int) -> list[tuple[int, int]]:
    return [(a, b) for a in range(n_views) for b in range(n_views) if a != b]


def _solve_gram(normal: FloatArray, ridge: float) -> FloatArray:
    """``C = (PᵀP)⁺`` (or ``(PᵀP + αI)⁻¹``), so that ``E = C Pᵀ`` is the block encoder."""
    if ridge == 0.0:
        return np.asarray(np.linalg.pinv(normal, hermitian=True), dtype=np.float64)
    return np.asarray(np.linalg.inv(normal + ridge * np.eye(normal.shape[0])), dtype=np.float64)


class _LeadingInverses:
    """``C(k)`` of :func:`_solve_gram` for the leading k × k blocks of one ``PᵀP``, any k.

    The inverse of a lower-triangular factor restricted to its leading block is the
    inverse of that block's factor, so one Cholesky factorisation serves every candidate
    rank: ``C(k) = L_k⁻ᵀ L_k⁻¹`` with ``L_k⁻¹`` the leading block of ``L⁻¹``. A matrix
    that is not positive definite (a modality blind to some direction) falls back to a
    pseudo-inverse per rank.
    """

    def __init__(self, normal: FloatArray, ridge: float) -> None:
        self.normal = normal
        self.ridge = ridge
        try:
            factor = np.linalg.cholesky(normal + ridge * np.eye(normal.shape[0]))
            self.inverse_factor: FloatArray | None = np.linalg.inv(factor)
        except np.linalg.LinAlgError:
            self.inverse_factor = None

    def __call__(self, k: int) -> FloatArray:
        if self.inverse_factor is None:
            return _solve_gram(self.normal[:k, :k], self.ridge)
        leading = self.inverse_factor[:k, :k]
        return np.asarray(leading.T @ leading, dtype=np.float64)


def _residuals(blocks: _ProjectedBlocks, k: int, ridge: float) -> list[tuple[float, float]]:
    """(missed energy, energy) of every ordered pair of modalities at rank k."""
    solved = [inverses(k) for inverses in blocks.inverses(ridge)]
    result = []
    for a, b in _ordered_pairs(len(blocks.normal)):
        C_a = solved[a]
        cross = blocks.cross[a, b][:k, :k]
        own = blocks.cross[a, a][:k, :k]
        missed = (
            blocks.energy[b]
            - 2.0 * float(np.sum(C_a * cross.T))
            + float(np.sum(blocks.normal[b][:k, :k] * (C_a @ own @ C_a.T).T))
        )
        result.append((max(missed, 0.0), blocks.energy[b]))
    return result
