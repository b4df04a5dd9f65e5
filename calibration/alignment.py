"""Closed-form perfect alignment of two or more paired modalities (DESIGN §1).

Standardise each modality, stack the paired rows, take the rank-k truncated SVD (directly
for n < D, or from a streamed Gram matrix for n ≥ D), and use the pseudo-inverse of each
modality's block of ``U`` as its encoder. On exactly rank-k data every modality of a pair
lands on the same latent vector.

The pairs are read once (:meth:`PerfectAlignment.fit_source`): one pass accumulates the
mean and Gram matrix of each part of a reproducible split — fit, validation and held-out
pairs (:mod:`harbridge.calibration.split`) — in O(D²) memory, and everything after it
(spectrum, rank choice, CMAE, residual covariance) is computed from those aggregates.
Second moments carry float64 rounding relative to the data's spread, so rel_CMAE
computed from them is exact down to about 1e-8 (float32 inputs round at 1e-7 already).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Self

import numpy as np
import numpy.typing as npt

from harbridge.calibration.encoders import block_encoder, split_blocks
from harbridge.calibration.errors import AlignmentError
from harbridge.calibration.gram import GramAccumulator, MomentSpec, PairMoments, accurate_mean
from harbridge.calibration.rank import (
    RankChoice,
    candidate_ranks,
    exact_rank,
    rounding_floor,
    validation_errors,
    validation_standard_error,
)
from harbridge.calibration.shards import ArrayPairs, PairSource, Progress, accumulate_pairs
from harbridge.calibration.spectrum import spectrum_from_gram, spectrum_from_rows
from harbridge.calibration.split import FIT, HOLDOUT, VALIDATION, PairSample, PairSplit, plan_split
from harbridge.calibration.standardize import Standardizer, standardizer_from_moments

__all__ = ["Accumulate", "AlignmentMetrics", "PerfectAlignment"]

FloatArray = npt.NDArray[np.float64]

#: reads every pair once into the moments of the solve (:func:`accumulate_pairs`, or a
#: cluster's version of it)
Accumulate = Callable[[PairSource, PairSplit, MomentSpec, Progress | None], PairMoments]

#: fewer held-out pairs than this and the residual covariance comes from training pairs
MIN_RESIDUAL_PAIRS = 20
#: a block of U whose singular values fall below this fraction of its largest is rank-deficient
BLOCK_RANK_RTOL = 1e-6
#: pairs kept as a uniform sample (report, video head, validation standard error)
SAMPLE_PAIRS = 4096
#: up to this many pairs per stacked feature, the direct-SVD path keeps its rows in memory
SVD_ROWS_PER_FEATURE = 2


@dataclass(frozen=True)
class AlignmentMetrics:
    """CMAE and rel_CMAE between the first two modalities, on training and held-out pairs.

    Held-out values are NaN when no pairs were held out. ``pairs`` has the same four
    numbers for every pair of modalities, keyed ``"<a>~<b>"``. They come from second
    moments of the pairs: rel_CMAE below about 1e-8 is at float64 rounding level (0 when
    the rounding cancels).
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
        Seed of the held-out and validation draws, and of the sample of pairs.

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
    sample_ : PairSample
        A uniform sample of up to ``SAMPLE_PAIRS`` pairs (every pair of a smaller set), in
        row order, with the part each belongs to (and its subject, when pairs have one).
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
        """Solve the alignment from paired rows in memory.

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
        source = ArrayPairs(arrays, names=names, subject=subject)
        _check_views(arrays, list(source.names))
        return self.fit_source(source)

    def fit_source(
        self,
        source: PairSource,
        *,
        accumulate: Accumulate = accumulate_pairs,
        progress: Progress | None = None,
    ) -> Self:
        """Solve the alignment from pairs streamed once, in O(D²) memory.

        Parameters
        ----------
        source : PairSource
            Arrays, shard files, or shards generated on the fly
            (:mod:`harbridge.calibration.shards`).
        accumulate : callable, optional
            What reads the pairs: :func:`accumulate_pairs` on this machine (default), or
            :func:`harbridge.calibration.dask_gram.dask_accumulate` on a Dask cluster.
        progress : callable, optional
            Called with (pairs read, pairs in all) as the pass goes.
        """
        self.names_ = list(source.names)
        self.dims_ = tuple(int(d) for d in source.dims)
        if len(self.dims_) < 2:
            raise AlignmentError("pairs", "alignment needs at least two modalities.")
        self._check_rank_request(None)
        split = plan_split(
            source.n_pairs, self.holdout, self.validation, source.subjects, self.seed
        )
        dim = sum(self.dims_)
        keep_rows = self.method == "svd" or (
            self.method == "auto" and source.n_pairs <= SVD_ROWS_PER_FEATURE * dim
        )
        spec = MomentSpec(dim=dim, sample_size=SAMPLE_PAIRS, seed=self.seed, keep_rows=keep_rows)
        moments = accumulate(source, split, spec, progress)
        self._solve(moments, split, source.eps)
        return self

    def at_rank(self, rank: int) -> PerfectAlignment:
        """The same pairs aligned at another rank, solved again from this fit's moments.

        The pairs are not read again: the moments of the pass hold everything the solve
        needs, so trying ranks costs a few eigendecompositions of D × D matrices.
        """
        twin = PerfectAlignment(
            rank,
            ridge=self.ridge,
            holdout=self.holdout,
            validation=self.validation,
            method=self.method,
            seed=self.seed,
        )
        twin.names_, twin.dims_ = list(self.names_), self.dims_
        twin._check_rank_request(None)
        twin._solve(*self._pass)
        return twin

    def _solve(self, moments: PairMoments, split: PairSplit, eps: float) -> None:
        self._pass = (moments, split, eps)
        train, held = moments.training(), moments.parts[HOLDOUT]
        self.holdout_ = dict(split.description)
        self.method_ = (
            "svd"
            if moments.rows is not None and (self.method == "svd" or train.count < train.dim)
            else "gram"
        )
        self._check_rank_request(train.count)
        self.sample_ = moments.sample.sorted()
        rows = moments.rows.sorted() if moments.rows is not None else None

        self.standardizers_, s, U = self._spectrum(train, rows, (FIT, VALIDATION))
        if self.rank == "auto":
            self.rank_choice_ = self._auto_rank(moments, rows, s, eps)
        else:
            self.rank_choice_ = RankChoice(int(self.rank), "given", "rank given by the user")
        k = self.rank_choice_.rank

        self.singular_values_ = s
        self.components_ = U[:, :k]
        self.rank_ = k
        self.encoders_ = [
            block_encoder(U_m, self.ridge) for U_m in split_blocks(U[:, :k], self.dims_)
        ]
        self.diagnostics_ = self._diagnose(s, eps, train.count)
        train_latent, held_latent = self._latent_moments(train), self._latent_moments(held)
        self.metrics_ = _metrics(self.names_, train_latent, held_latent)
        residual_part = held_latent if held.count >= MIN_RESIDUAL_PAIRS else train_latent
        self.residual_covariance_ = residual_part.difference_covariance(1, 0)

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

    def _check_rank_request(self, n_train: int | None) -> None:
        """Refuse a rank that cannot work: from the dimensions, then (after the pass) the pairs."""
        if self.rank == "auto":
            if n_train is not None and n_train < 2:
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
        if n_train is not None and n_train <= k:
            raise AlignmentError(
                "--rank",
                f"only {n_train} training pairs for rank {k}: the alignment needs more pairs than "
                f"its rank. Supply at least {k + 1} training pairs or pass --rank "
                f"{max(n_train - 1, 1)}.",
            )

    def _spectrum(
        self, moments: GramAccumulator, rows: PairSample | None, parts: tuple[int, ...]
    ) -> tuple[list[Standardizer], FloatArray, FloatArray]:
        """Standardisers and spectrum of the pairs in ``parts`` (their moments or rows)."""
        if self.method_ == "svd":
            assert rows is not None
            X = np.hstack([v.astype(np.float64) for v in rows.select(np.isin(rows.parts, parts))])
            standardizers = self._standardizers(accurate_mean(X), X.var(axis=0))
            scale = np.concatenate([st.scale for st in standardizers])
            mean = np.concatenate([st.mean for st in standardizers])
            s, U = spectrum_from_rows((X - mean) * scale)
            return standardizers, s, U
        standardizers = self._standardizers(moments.mean, moments.variance)
        scale = np.concatenate([st.scale for st in standardizers])
        standardized = moments.centred_gram * scale[:, None]
        standardized *= scale
        s, U = spectrum_from_gram(standardized)
        kept = min(moments.count, s.size)
        return standardizers, s[:kept], U[:, :kept]

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
        self, moments: PairMoments, rows: PairSample | None, s: FloatArray, eps: float
    ) -> RankChoice:
        n_train = moments.parts[FIT].count + moments.parts[VALIDATION].count
        limit = min(*self.dims_, n_train - 1)
        k = exact_rank(s, self._rounding_floor(s, n_train, eps))
        if k is not None and k <= limit:
            return RankChoice(
                k,
                "exact",
                f"the spectrum drops to rounding level after {k} singular values "
                f"(s[{k}]/s[0] = {s[k] / s[0]:.1e}): the paired data are exactly rank {k}",
            )
        fit, check = moments.parts[FIT], moments.parts[VALIDATION]
        if self.validation <= 0 or check.count == 0 or fit.count < 2:
            raise AlignmentError(
                "--rank",
                "the paired data are not exactly low-rank, and choosing the rank needs validation "
                "pairs; set a validation fraction > 0 (with enough pairs) or pass --rank K.",
            )
        standardizers, _, U = self._spectrum(fit, rows, (FIT,))
        limit = min(limit, fit.count - 1, U.shape[1])
        ranks = candidate_ranks(limit)
        scale = np.concatenate([st.scale for st in standardizers])
        mean = np.concatenate([st.mean for st in standardizers])
        gram = check.scatter_about(mean)
        gram *= scale[:, None]
        gram *= scale
        errors = validation_errors(U, self.dims_, gram, ranks, self.ridge)
        best = int(np.argmin(errors))
        sample = [
            st.apply(v)
            for st, v in zip(
                standardizers, self.sample_.select(self.sample_.parts == VALIDATION), strict=True
            )
        ]
        standard_error = validation_standard_error(
            U,
            self.dims_,
            gram,
            n_validation=check.count,
            sample=sample,
            k=ranks[best],
            ridge=self.ridge,
        )
        chosen = next(i for i in range(len(ranks)) if errors[i] <= errors[best] + standard_error)
        return RankChoice(
            ranks[chosen],
            "validation",
            f"smallest rank whose cross-modal reconstruction error on {check.count} validation "
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

    def _latent_moments(self, moments: GramAccumulator) -> LatentMoments:
        """Moments of every modality's latents ``z_m = W_m x_m + b_m`` over some pairs."""
        affines = [self.affine(m) for m in range(len(self.dims_))]
        edges = np.cumsum((0, *self.dims_))
        W = np.zeros((len(affines) * self.rank_, edges[-1]))
        for m, (W_m, _) in enumerate(affines):
            W[m * self.rank_ : (m + 1) * self.rank_, edges[m] : edges[m + 1]] = W_m
        mean = W @ moments.mean + np.concatenate([b for _, b in affines])
        return LatentMoments(
            count=moments.count,
            rank=self.rank_,
            mean=mean,
            centred_gram=W @ moments.centred_gram @ W.T,
        )


@dataclass(frozen=True)
class LatentMoments:
    """Count, mean and centred Gram of the stacked latents ``[z_0, z_1, ...]`` of some pairs.

    Attributes
    ----------
    count : int
    rank : int
        k, the length of each modality's latent.
    mean : ndarray of shape (M k,)
    centred_gram : ndarray of shape (M k, M k)
    """

    count: int
    rank: int
    mean: FloatArray
    centred_gram: FloatArray

    def _block(self, a: int, b: int) -> FloatArray:
        k = self.rank
        return self.centred_gram[a * k : (a + 1) * k, b * k : (b + 1) * k]

    def _mean(self, m: int) -> FloatArray:
        return self.mean[m * self.rank : (m + 1) * self.rank]

    def squared_norm(self, m: int) -> float:
        """``Σ_i ‖z_m,i‖²``."""
        return float(np.trace(self._block(m, m)) + self.count * self._mean(m) @ self._mean(m))

    def squared_difference(self, a: int, b: int) -> float:
        """``Σ_i ‖z_a,i − z_b,i‖²`` (clipped at 0 against rounding)."""
        spread = np.trace(
            self._block(a, a) - self._block(a, b) - self._block(b, a) + self._block(b, b)
        )
        offset = self._mean(a) - self._mean(b)
        return max(float(spread + self.count * offset @ offset), 0.0)

    def difference_covariance(self, a: int, b: int) -> FloatArray:
        """Covariance (k, k) of ``z_a − z_b``."""
        spread = self._block(a, a) - self._block(a, b) - self._block(b, a) + self._block(b, b)
        return np.asarray((spread + spread.T) / (2 * max(self.count - 1, 1)))


def _metrics(names: list[str], train: LatentMoments, held: LatentMoments) -> AlignmentMetrics:
    pairs: dict[str, dict[str, float]] = {}
    for a, b in itertools.combinations(range(len(names)), 2):
        cmae_train, rel_train = _alignment_error(train, a, b)
        cmae_held, rel_held = _alignment_error(held, a, b)
        pairs[f"{names[a]}~{names[b]}"] = {
            "cmae_train": cmae_train,
            "rel_cmae_train": rel_train,
            "cmae_holdout": cmae_held,
            "rel_cmae_holdout": rel_held,
        }
    first = pairs[f"{names[0]}~{names[1]}"]
    return AlignmentMetrics(n_train=train.count, n_holdout=held.count, pairs=pairs, **first)


def _alignment_error(latent: LatentMoments, a: int, b: int) -> tuple[float, float]:
    """(CMAE, rel_CMAE) between modalities a and b; NaN over no pairs (DESIGN §1)."""
    if latent.count == 0:
        return float("nan"), float("nan")
    cmae = float(np.sqrt(latent.squared_difference(a, b)))
    mean_norm = (np.sqrt(latent.squared_norm(a)) + np.sqrt(latent.squared_norm(b))) / 2
    return cmae, float(cmae / mean_norm) if mean_norm > 0 else float("nan")


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
