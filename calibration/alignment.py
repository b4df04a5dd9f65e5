"""Closed-form perfect alignment of two or more paired modalities (DESIGN §1).

Standardise each modality, stack the paired rows, take the rank-k truncated SVD (directly
for n < D, or from a streamed Gram matrix for n ≥ D), and use the pseudo-inverse of each
modality's block of ``U`` as its encoder. On exactly rank-k data every modality of a pair
lands on the same latent vector.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Self

import numpy as np
import numpy.typing as npt

from harbridge.calibration.encoders import block_encoder, split_blocks
from harbridge.calibration.errors import AlignmentError
from harbridge.calibration.gram import GramAccumulator, accurate_mean
from harbridge.calibration.rank import (
    RankChoice,
    candidate_ranks,
    exact_rank,
    rounding_floor,
    validation_errors,
)
from harbridge.calibration.spectrum import spectrum_from_gram, spectrum_from_rows
from harbridge.calibration.split import holdout_split
from harbridge.calibration.standardize import Standardizer, standardizer_from_moments

__all__ = ["AlignmentMetrics", "PerfectAlignment"]

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

#: rows per chunk on the streaming path
CHUNK_ROWS = 16384
#: fewer held-out pairs than this and the residual covariance comes from training pairs
MIN_RESIDUAL_PAIRS = 20
#: a block of U whose singular values fall below this fraction of its largest is rank-deficient
BLOCK_RANK_RTOL = 1e-6


@dataclass(frozen=True)
class AlignmentMetrics:
    """CMAE and rel_CMAE between the first two modalities, on training and held-out pairs.

    Held-out values are NaN when no pairs were held out. ``pairs`` has the same four
    numbers for every pair of modalities, keyed ``"<a>~<b>"``.
    """

    cmae_train: float
    rel_cmae_train: float
    cmae_holdout: float
    rel_cmae_holdout: float
    n_train: int
    n_holdout: int
    pairs: dict[str, dict[str, float]]


class PerfectAlignment:
    """Perfect alignment solver.

    Parameters
    ----------
    rank : int or "auto"
        Latent dimension k. ``"auto"`` reads k off an exact-rank spectrum, or else picks
        it on validation pairs (see :mod:`harbridge.calibration.rank`).
    ridge : float
        Tikhonov weight of the encoders (0 = plain pseudo-inverse).
    holdout : float
        Fraction of pairs (of subjects, when subjects are given) kept out of the solve to
        report held-out CMAE. 0 holds none out.
    validation : float
        Fraction of the remaining pairs used to choose an automatic rank on noisy data;
        they rejoin the training pairs for the final solve.
    method : {"auto", "svd", "gram"}
        Direct thin SVD, streamed Gram + eigendecomposition, or whichever fits
        (SVD when there are fewer training pairs than stacked features).
    seed : int
        Seed of the held-out and validation draws.

    Attributes
    ----------
    names_ : list of str
    dims_ : tuple of int
        Feature dimension of each modality.
    standardizers_ : list of Standardizer
    singular_values_ : ndarray of shape (r,)
        The whole spectrum of the standardised training pairs, descending.
    components_ : ndarray of shape (D, k)
        Leading singular vectors ``U_k`` with fixed signs.
    encoders_ : list of ndarray of shape (k, d_m)
        ``E_m``, acting on standardised features.
    rank_ : int
    rank_choice_ : RankChoice
    method_ : str
    holdout_ : dict
        How held-out pairs were drawn.
    metrics_ : AlignmentMetrics
    residual_covariance_ : ndarray of shape (k, k)
        Covariance of ``z_imu − z_video`` (second modality minus first) on held-out pairs
        (training pairs when too few are held out): how far a paired IMU latent strays
        from its video latent — what the Gaussian head adds to its class covariances.
    diagnostics_ : list of str
        Why perfect alignment does not hold exactly, in the user's words (empty when it does).
    """

    def __init__(
        self,
        rank: int | Literal["auto"] = "auto",
        *,
        ridge: float = 0.0,
        holdout: float = 0.2,
        validation: float = 0.2,
        method: Literal["auto", "svd", "gram"] = "auto",
        seed: int = 0,
    ) -> None:
        self.rank = rank
        self.ridge = ridge
        self.holdout = holdout
        self.validation = validation
        self.method = method
        self.seed = seed

    def fit(
        self,
        views: Sequence[npt.ArrayLike],
        names: Sequence[str] | None = None,
        subject: npt.ArrayLike | None = None,
    ) -> Self:
        """Solve the alignment from paired rows.

        Parameters
        ----------
        views : sequence of array-like of shape (n, d_m), at least two
            Row i of every view is the same moment seen by each modality.
        names : sequence of str, optional
            Modality names for messages; default ``video``, ``imu``, ``modality2``, ...
        subject : array-like of shape (n,), optional
            Subject of each pair; with three or more subjects, whole subjects are held out.
        """
        arrays = [np.asarray(v) for v in views]
        self.names_ = list(names) if names is not None else _default_names(len(arrays))
        _check_views(arrays, self.names_)
        self.dims_ = tuple(int(a.shape[1]) for a in arrays)
        n = arrays[0].shape[0]
        eps = float(np.finfo(np.result_type(*arrays, np.float32)).eps)
        subjects = None if subject is None else np.asarray(subject)

        train, held_out, self.holdout_ = holdout_split(n, self.holdout, subjects, self.seed)
        self.method_ = self._choose_method(train.size)
        self._check_rank_request(train.size)

        self.standardizers_, s, U = self._spectrum(arrays, train)
        if self.rank == "auto":
            self.rank_choice_ = self._auto_rank(arrays, train, subjects, s, eps)
        else:
            self.rank_choice_ = RankChoice(int(self.rank), "given", "rank given by the user")
        k = self.rank_choice_.rank

        self.singular_values_ = s
        self.components_ = U[:, :k]
        self.rank_ = k
        self.encoders_ = [
            block_encoder(U_m, self.ridge) for U_m in split_blocks(U[:, :k], self.dims_)
        ]
        self.diagnostics_ = self._diagnose(s, eps, train.size)
        self.metrics_ = self._metrics(arrays, train, held_out)
        self.residual_covariance_ = self._residual_covariance(
            arrays, held_out if held_out.size >= MIN_RESIDUAL_PAIRS else train
        )
        return self

    def affine(self, m: int) -> tuple[FloatArray, FloatArray]:
        """Raw features of modality ``m`` to latent: ``z = W x + b``.

        Returns
        -------
        W : ndarray of shape (k, d_m)
        b : ndarray of shape (k,)
        """
        W = self.encoders_[m] * self.standardizers_[m].scale
        return W, -W @ self.standardizers_[m].mean

    def transform(self, m: int, X: npt.ArrayLike) -> FloatArray:
        """Latents of shape (n, k) of raw features ``X`` (n, d_m) of modality ``m``."""
        W, b = self.affine(m)
        return np.asarray(X, dtype=np.float64) @ W.T + b

    def carry_affine(self, source: int, target: int) -> tuple[FloatArray, FloatArray]:
        """Raw features of ``source`` to raw features of ``target``: ``x_t = W x_s + b``.

        In standardised coordinates ``x̂_t = U_t E_s x̂_s`` (DESIGN §1), then un-standardised
        with the target's own affine map.

        Returns
        -------
        W : ndarray of shape (d_target, d_source)
        b : ndarray of shape (d_target,)
        """
        W_latent, b_latent = self.affine(source)
        U_target = split_blocks(self.components_, self.dims_)[target]
        target_map = self.standardizers_[target]
        inverse = np.divide(
            1.0, target_map.scale, out=np.zeros_like(target_map.scale), where=target_map.scale != 0
        )
        W = (inverse[:, None] * U_target) @ W_latent
        b = inverse * (U_target @ b_latent) + target_map.mean
        return W, b

    def carry(self, source: int, target: int, X: npt.ArrayLike) -> FloatArray:
        """Features of ``source`` (n, d_s) carried into the feature space of ``target`` (n, d_t)."""
        W, b = self.carry_affine(source, target)
        return np.asarray(X, dtype=np.float64) @ W.T + b

    def _choose_method(self, n_train: int) -> str:
        if self.method != "auto":
            return self.method
        return "svd" if n_train < sum(self.dims_) else "gram"

    def _check_rank_request(self, n_train: int) -> None:
        if self.rank == "auto":
            if n_train < 2:
                raise AlignmentError(
                    "pairs", f"only {n_train} training pairs; the alignment needs at least 2."
                )
            return
        k = self.rank
        smallest = min(range(len(self.dims_)), key=lambda m: self.dims_[m])
        limit = self.dims_[smallest]
        if k < 1:
            raise AlignmentError(
                "--rank",
                f"rank must be a positive integer, got {k}. Pass --rank auto or 1..{limit}.",
            )
        if k > limit:
            raise AlignmentError(
                "--rank",
                f"rank {k} exceeds the {self.names_[smallest]} feature dimension {limit}; "
                f"perfect alignment needs rank ≤ {limit}. Pass --rank {limit} or fewer.",
            )
        if n_train <= k:
            raise AlignmentError(
                "--rank",
                f"only {n_train} training pairs for rank {k}: the alignment needs more pairs than "
                f"its rank. Supply at least {k + 1} training pairs or pass --rank "
                f"{max(n_train - 1, 1)}.",
            )

    def _spectrum(
        self, arrays: list[npt.NDArray[np.generic]], rows: IndexArray
    ) -> tuple[list[Standardizer], FloatArray, FloatArray]:
        if self.method_ == "svd":
            X = np.hstack([a[rows].astype(np.float64) for a in arrays])
            standardizers = self._standardizers(accurate_mean(X), X.var(axis=0))
            scale = np.concatenate([st.scale for st in standardizers])
            mean = np.concatenate([st.mean for st in standardizers])
            s, U = spectrum_from_rows((X - mean) * scale)
            return standardizers, s, U
        accumulator = GramAccumulator(sum(self.dims_))
        for chunk in _stacked_chunks(arrays, rows):
            accumulator.update(chunk)
        standardizers = self._standardizers(accumulator.mean, accumulator.variance)
        scale = np.concatenate([st.scale for st in standardizers])
        s, U = spectrum_from_gram(accumulator.centred_gram * np.outer(scale, scale))
        return standardizers, s[: min(rows.size, s.size)], U[:, : min(rows.size, s.size)]

    def _standardizers(self, mean: FloatArray, var: FloatArray) -> list[Standardizer]:
        edges = np.cumsum((0, *self.dims_))
        standardizers = []
        for m, (start, stop) in enumerate(itertools.pairwise(edges)):
            st = standardizer_from_moments(mean[start:stop], var[start:stop])
            if st.constant.all():
                raise AlignmentError(
                    self.names_[m],
                    f"all {stop - start} {self.names_[m]} features are constant over the training "
                    "pairs, so they carry nothing to align; check that the file holds real "
                    "features.",
                )
            standardizers.append(st)
        return standardizers

    def _auto_rank(
        self,
        arrays: list[npt.NDArray[np.generic]],
        train: IndexArray,
        subjects: npt.NDArray[np.generic] | None,
        s: FloatArray,
        eps: float,
    ) -> RankChoice:
        limit = min(*self.dims_, train.size - 1)
        k = exact_rank(s, self._rounding_floor(s, train.size, eps))
        if k is not None and k <= limit:
            return RankChoice(
                k,
                "exact",
                f"the spectrum drops to rounding level after {k} singular values "
                f"(s[{k}]/s[0] = {s[k] / s[0]:.1e}): the paired data are exactly rank {k}",
            )
        if self.validation <= 0:
            raise AlignmentError(
                "--rank",
                "the paired data are not exactly low-rank, and choosing the rank needs validation "
                "pairs; set a validation fraction > 0 or pass --rank K.",
            )
        fit_part, check_part, _ = holdout_split(
            train.size,
            self.validation,
            None if subjects is None else subjects[train],
            self.seed + 1,
        )
        fit_rows, check_rows = train[fit_part], train[check_part]
        standardizers, _, U = self._spectrum(arrays, fit_rows)
        limit = min(limit, fit_rows.size - 1, U.shape[1])
        ranks = candidate_ranks(limit)
        validation = [st.apply(a[check_rows]) for st, a in zip(standardizers, arrays, strict=True)]
        errors, standard_errors = validation_errors(U, self.dims_, validation, ranks, self.ridge)
        best = int(np.argmin(errors))
        chosen = next(
            i for i in range(len(ranks)) if errors[i] <= errors[best] + standard_errors[best]
        )
        return RankChoice(
            ranks[chosen],
            "validation",
            f"smallest rank whose cross-modal reconstruction error on {check_rows.size} validation "
            f"pairs ({errors[chosen]:.4f}) is within one standard error of the best "
            f"({errors[best]:.4f} at rank {ranks[best]})",
            candidates=ranks,
            validation_error=[float(e) for e in errors],
        )

    def _rounding_floor(self, s: FloatArray, n_rows: int, eps: float) -> float:
        magnitude = np.concatenate([st.rounding_magnitude() for st in self.standardizers_])
        return rounding_floor(s, magnitude, n_rows, eps, self.method_ == "gram")

    def _diagnose(self, s: FloatArray, eps: float, n_train: int) -> list[str]:
        k = self.rank_
        notes = []
        for name, st in zip(self.names_, self.standardizers_, strict=True):
            constant = np.flatnonzero(st.constant)
            if constant.size:
                shown = ", ".join(str(i) for i in constant[:10]) + (
                    ", ..." if constant.size > 10 else ""
                )
                notes.append(
                    f"{constant.size} of {st.mean.size} {name} features are constant over the "
                    f"training pairs (indices {shown}); they are ignored."
                )
        for name, U_m in zip(self.names_, split_blocks(self.components_, self.dims_), strict=True):
            block_s = np.linalg.svd(U_m, compute_uv=False)
            independent = (
                int(np.sum(block_s > BLOCK_RANK_RTOL * block_s[0])) if block_s[0] > 0 else 0
            )
            if independent < k:
                notes.append(
                    f"the {name} block of the alignment has only {independent} independent "
                    f"directions for rank {k}: the {name} features cannot tell apart "
                    f"{k - independent} of the shared directions, so paired samples cannot land on "
                    f"the same latent there. Lower --rank to {max(independent, 1)}."
                )
        total = float(np.sum(s**2))
        if s.size > k and total > 0 and s[k] > self._rounding_floor(s, n_train, eps):
            kept = float(np.sum(s[:k] ** 2)) / total
            notes.append(
                f"the paired data are not exactly rank {k} (noise, or a non-linear relation "
                f"between the modalities): the rank-{k} truncation keeps {100 * kept:.1f}% of the "
                "joint variance and the alignment is its best approximation (Eckart–Young), not "
                "perfect."
            )
        return notes

    def _metrics(
        self, arrays: list[npt.NDArray[np.generic]], train: IndexArray, held_out: IndexArray
    ) -> AlignmentMetrics:
        train_sums = self._alignment_sums(arrays, train)
        held_sums = self._alignment_sums(arrays, held_out)
        pairs: dict[str, dict[str, float]] = {}
        for (a, b), (cmae_train, rel_train) in train_sums.items():
            cmae_held, rel_held = held_sums[a, b]
            pairs[f"{self.names_[a]}~{self.names_[b]}"] = {
                "cmae_train": cmae_train,
                "rel_cmae_train": rel_train,
                "cmae_holdout": cmae_held,
                "rel_cmae_holdout": rel_held,
            }
        first = pairs[f"{self.names_[0]}~{self.names_[1]}"]
        return AlignmentMetrics(
            n_train=int(train.size), n_holdout=int(held_out.size), pairs=pairs, **first
        )

    def _residual_covariance(
        self, arrays: list[npt.NDArray[np.generic]], rows: IndexArray
    ) -> FloatArray:
        """Covariance (k, k) of ``z_imu − z_video`` (modality 1 minus 0) over ``rows``."""
        (W_ref, b_ref), (W_target, b_target) = self.affine(0), self.affine(1)
        k = self.rank_
        total, outer = np.zeros(k), np.zeros((k, k))
        for start in range(0, rows.size, CHUNK_ROWS):
            chunk = rows[start : start + CHUNK_ROWS]
            residual = (arrays[1][chunk].astype(np.float64) @ W_target.T + b_target) - (
                arrays[0][chunk].astype(np.float64) @ W_ref.T + b_ref
            )
            total += residual.sum(axis=0)
            outer += residual.T @ residual
        mean = total / max(rows.size, 1)
        return outer / max(rows.size - 1, 1) - np.outer(mean, mean) * rows.size / max(
            rows.size - 1, 1
        )

    def _alignment_sums(
        self, arrays: list[npt.NDArray[np.generic]], rows: IndexArray
    ) -> dict[tuple[int, int], tuple[float, float]]:
        """(CMAE, rel_CMAE) of every pair of modalities over ``rows``, streamed in chunks."""
        n_views = len(arrays)
        pair_index = [(a, b) for a in range(n_views) for b in range(a + 1, n_views)]
        diff2 = np.zeros(len(pair_index))
        norm2 = np.zeros(n_views)
        affines = [self.affine(m) for m in range(n_views)]
        for start in range(0, rows.size, CHUNK_ROWS):
            chunk = rows[start : start + CHUNK_ROWS]
            Z = [
                a[chunk].astype(np.float64) @ W.T + b
                for a, (W, b) in zip(arrays, affines, strict=True)
            ]
            norm2 += [float(np.sum(z**2)) for z in Z]
            diff2 += [float(np.sum((Z[a] - Z[b]) ** 2)) for a, b in pair_index]
        result = {}
        for p, (a, b) in enumerate(pair_index):
            mean_norm = (np.sqrt(norm2[a]) + np.sqrt(norm2[b])) / 2
            cmae = float(np.sqrt(diff2[p])) if rows.size else float("nan")
            result[a, b] = (cmae, float(cmae / mean_norm) if mean_norm > 0 else float("nan"))
        return result


def _default_names(n_views: int) -> list[str]:
    return ["video", "imu", *(f"modality{m}" for m in range(2, n_views))]


def _check_views(arrays: list[npt.NDArray[np.generic]], names: list[str]) -> None:
    if len(arrays) < 2:
        raise AlignmentError("pairs", "alignment needs at least two modalities.")
    if len(names) != len(arrays):
        raise AlignmentError("names", f"{len(names)} names for {len(arrays)} modalities.")
    for name, a in zip(names, arrays, strict=True):
        if a.ndim != 2:
            raise AlignmentError(
                name, f"expected a 2-D array (pairs, features), got shape {a.shape}."
            )
    counts = {a.shape[0] for a in arrays}
    if len(counts) != 1:
        shown = ", ".join(
            f"{n} {name}" for n, name in zip([a.shape[0] for a in arrays], names, strict=True)
        )
        raise AlignmentError(
            "pairs", f"paired modalities must have the same number of rows, got {shown}."
        )


def _stacked_chunks(
    arrays: list[npt.NDArray[np.generic]], rows: IndexArray
) -> Iterator[FloatArray]:
    for start in range(0, rows.size, CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        yield np.hstack([a[chunk].astype(np.float64) for a in arrays])
