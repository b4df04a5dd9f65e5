"""Choosing the rank for zero-label transfer: held-out agreement with the video side of pairs.

The solver's own automatic rank (:mod:`harbridge.calibration.rank`) asks how well one
modality reconstructs the other; it knows nothing of classes, and on noisy data it stops
at a rank that carries too little of what tells actions apart. When labelled video is
given, the rank can be chosen for what the bundle is for — classifying IMU windows —
without a single IMU label:

the video side of every pair gets a pseudo-label from a video classifier fitted on the
labelled video (:func:`video_pseudo_labels`). Then, for each fold of pairs (one subject at
a time; with more than ``MAX_FOLDS`` subjects, groups of whole subjects in ``MAX_FOLDS``
folds, see :func:`harbridge.calibration.gaussian.cross_fit_folds`), the alignment and the
cross-modal carry are fitted on the other pairs and, for every candidate rank k, the
noise-inflated Gaussian head is built exactly as calibration builds it and classifies the
held-out pairs from their IMU side. Agreement with the pseudo-labels estimates the
accuracy on IMU windows of wearers the calibration has not seen: too small a rank drops
class information, too large a rank adds directions where the IMU latent is mostly noise.
The chosen rank is the one with the highest agreement (the smallest such rank on ties).

The pseudo-labels do not depend on k, so a degenerate head (one that calls every window
the same class) scores what it deserves, about one in K.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from harbridge.calibration.alignment import PerfectAlignment
from harbridge.calibration.encoders import block_encoder, split_blocks
from harbridge.calibration.gaussian import (
    COVARIANCE_FLOOR,
    CrossModalCarry,
    GaussianClassifier,
    cross_fit_folds,
    ledoit_wolf,
)
from harbridge.calibration.rank import RankChoice

__all__ = [
    "METHOD",
    "TransferRankChoice",
    "choose_transfer_rank",
    "rank_choice_manifest",
    "transfer_agreement",
    "transfer_candidates",
    "video_pseudo_labels",
]

FloatArray = npt.NDArray[np.float64]

#: ``method`` of the manifest's ``rank_choice`` when this module chose the rank
METHOD = "transfer_agreement"
#: every rank up to this one is a candidate; above it, ranks grow by ``RANK_STEP``
DENSE_RANKS = 8
#: relative step between candidate ranks above ``DENSE_RANKS``
RANK_STEP = 1.125
#: folds of the search: with more subjects, each fold holds out a group of whole subjects,
#: so the search costs the same for 5 subjects as for 500
MAX_FOLDS = 5


@dataclass(frozen=True)
class TransferRankChoice:
    """The rank chosen for transfer, and the curve it was read from.

    Attributes
    ----------
    rank : int
    reason : str
        Why, in the user's words.
    candidates : list of int
        Ranks tried, ascending.
    agreement : list of float
        Share of held-out pairs whose IMU-side decision matches the video pseudo-label,
        per candidate.
    folds : str
        ``"subject"`` or ``"block"``: how pairs were held out.
    n_folds : int
    """

    rank: int
    reason: str
    candidates: list[int] = field(default_factory=list)
    agreement: list[float] = field(default_factory=list)
    folds: str = "subject"
    n_folds: int = 0


def transfer_candidates(max_rank: int) -> list[int]:
    """Candidate ranks up to ``max_rank``: each up to 8, then steps of about 12 %.

    A rank matters relatively (40 against 45 differs as much as 8 against 9), and a
    geometric grid keeps the search to a few dozen fits whatever the feature dimension.
    """
    dense = list(range(1, min(max_rank, DENSE_RANKS) + 1))
    if max_rank <= DENSE_RANKS:
        return dense
    count = int(np.ceil(np.log(max_rank / DENSE_RANKS) / np.log(RANK_STEP))) + 1
    grid = np.round(np.geomspace(DENSE_RANKS, max_rank, num=count)).astype(int)
    return dense + [int(k) for k in np.unique(grid) if k > DENSE_RANKS]


def video_pseudo_labels(
    labeled_video: npt.ArrayLike,
    labels: npt.ArrayLike,
    n_classes: int,
    video: npt.ArrayLike,
) -> npt.NDArray[np.int64]:
    """Classes of ``video`` (n, d_video) by a video classifier fitted on labelled video.

    Linear discriminant analysis on standardised features: class means and one pooled
    within-class covariance, Ledoit–Wolf shrunk, equal priors. One d × d matrix, so it stays
    cheap for wide video embeddings.

    Parameters
    ----------
    labeled_video : array-like of shape (m, d_video)
    labels : array-like of shape (m,)
        In [0, n_classes); every class present.
    n_classes : int
    video : array-like of shape (n, d_video)

    Returns
    -------
    ndarray of shape (n,)
    """
    X = np.asarray(labeled_video, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    mean, std = X.mean(axis=0), X.std(axis=0)
    scale = np.divide(1.0, std, out=np.zeros_like(std), where=std > 0)
    X_hat = (X - mean) * scale
    means = np.stack([X_hat[y == c].mean(axis=0) for c in range(n_classes)])
    pooled, _ = ledoit_wolf(X_hat - means[y])
    floor = COVARIANCE_FLOOR * max(float(np.trace(pooled)) / pooled.shape[0], 1.0)
    directions = np.linalg.solve(pooled + floor * np.eye(pooled.shape[0]), means.T)
    offsets = -0.5 * np.sum(means.T * directions, axis=0)
    scores = ((np.asarray(video, dtype=np.float64) - mean) * scale) @ directions + offsets
    return np.asarray(np.argmax(scores, axis=1), dtype=np.int64)


def transfer_agreement(
    video: npt.ArrayLike,
    imu: npt.ArrayLike,
    labeled_video: npt.ArrayLike,
    labels: npt.ArrayLike,
    n_classes: int,
    *,
    ranks: Sequence[int],
    subject: npt.ArrayLike | None = None,
    covariance: Literal["per_class", "shared"] = "per_class",
    ridge: float = 0.0,
) -> tuple[FloatArray, str, int]:
    """Cross-fitted agreement of IMU-side decisions with video pseudo-labels, for each rank.

    Parameters
    ----------
    video : array-like of shape (n, d_video)
        Video features of the pairs.
    imu : array-like of shape (n, d_imu)
        IMU features of the same pairs.
    labeled_video : array-like of shape (m, d_video)
    labels : array-like of shape (m,)
        Classes of the labelled video, in [0, n_classes).
    n_classes : int
    ranks : sequence of int
        Candidate ranks, each at most ``min(d_video, d_imu)`` and below the number of
        pairs outside the largest fold.
    subject : array-like of shape (n,), optional
        Subject of each pair; folds are whole subjects when there are at least three,
        grouped into ``MAX_FOLDS`` folds when there are more.
    covariance : {"per_class", "shared"}
        Covariance model of the Gaussian head.
    ridge : float
        Tikhonov weight of the encoders.

    Returns
    -------
    agreement : ndarray of shape (len(ranks),)
        Share of pairs (each held out once) whose IMU-side decision matches its pseudo-label.
    folds : str
        ``"subject"`` or ``"block"``.
    n_folds : int
    """
    X_video = np.asarray(video, dtype=np.float64)
    X_imu = np.asarray(imu, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    pseudo = video_pseudo_labels(labeled_video, y, n_classes, X_video)
    groups = None if subject is None else np.asarray(subject)
    folds, by = cross_fit_folds(X_video.shape[0], groups, max_folds=MAX_FOLDS)
    agree = np.zeros(len(ranks))
    for held in folds:
        fit = np.ones(X_video.shape[0], dtype=bool)
        fit[held] = False
        alignment = PerfectAlignment(rank=max(ranks), ridge=ridge, holdout=0.0).fit(
            [X_video[fit], X_imu[fit]], names=("video", "imu")
        )
        carry = CrossModalCarry().fit(
            X_video[fit], X_imu[fit], None if groups is None else groups[fit]
        )
        U_imu = split_blocks(alignment.components_, alignment.dims_)[1]
        standardizer = alignment.standardizers_[1]
        carried = carry.predict(labeled_video)
        for i, k in enumerate(ranks):
            W = block_encoder(U_imu[:, :k], ridge) * standardizer.scale
            b = -W @ standardizer.mean
            head = GaussianClassifier(covariance=covariance).fit(
                carried @ W.T + b,
                y,
                n_classes,
                noise_covariance=W @ carry.residual_covariance_ @ W.T,
            )
            agree[i] += np.count_nonzero(head.predict(X_imu[held] @ W.T + b) == pseudo[held])
    return agree / X_video.shape[0], by, len(folds)


def choose_transfer_rank(
    video: npt.ArrayLike,
    imu: npt.ArrayLike,
    labeled_video: npt.ArrayLike,
    labels: npt.ArrayLike,
    n_classes: int,
    *,
    subject: npt.ArrayLike | None = None,
    candidates: Sequence[int] | None = None,
    covariance: Literal["per_class", "shared"] = "per_class",
    ridge: float = 0.0,
) -> TransferRankChoice:
    """The rank whose zero-label head agrees most often with the video side of held-out pairs.

    Parameters
    ----------
    video, imu, labeled_video, labels, n_classes, subject, covariance, ridge
        As in :func:`transfer_agreement`.
    candidates : sequence of int, optional
        Ranks to try; those the data cannot support are dropped. Default:
        :func:`transfer_candidates` up to the largest possible rank.

    Returns
    -------
    TransferRankChoice

    Raises
    ------
    ValueError
        When no candidate rank fits the data (fewer than 3 pairs, or no candidate ≤ the
        feature dimensions).
    """
    X_video = np.asarray(video)
    X_imu = np.asarray(imu)
    n, d_video, d_imu = X_video.shape[0], X_video.shape[1], X_imu.shape[1]
    folds, _ = cross_fit_folds(n, subject, max_folds=MAX_FOLDS)
    limit = min(d_video, d_imu, n - max(rows.size for rows in folds) - 1)
    tried = candidates if candidates is not None else transfer_candidates(limit)
    ranks = sorted({int(k) for k in tried if 1 <= k <= limit})
    if not ranks:
        raise ValueError(
            f"no candidate rank fits {n} pairs of {d_video} video and {d_imu} IMU features; "
            "supply more pairs or pass --rank K"
        )
    agreement, by, n_folds = transfer_agreement(
        X_video,
        X_imu,
        labeled_video,
        labels,
        n_classes,
        ranks=ranks,
        subject=subject,
        covariance=covariance,
        ridge=ridge,
    )
    best = int(np.argmax(agreement))
    held_out = "in contiguous blocks"
    if by == "subject":
        subjects = np.unique(np.asarray(subject)).size
        held_out = (
            "one subject at a time"
            if subjects == n_folds
            else f"in groups of whole subjects ({subjects} subjects)"
        )
    return TransferRankChoice(
        rank=ranks[best],
        reason=(
            f"the rank at which the zero-label Gaussian head, classifying pairs it was not "
            f"fitted on from their IMU side, most often agrees with a video classifier on "
            f"their video side ({100 * agreement[best]:.1f}% of {n} pairs, held out "
            f"{held_out} over {n_folds} folds)"
        ),
        candidates=ranks,
        agreement=[float(a) for a in agreement],
        folds=by,
        n_folds=n_folds,
    )


def rank_choice_manifest(transfer: TransferRankChoice, solver: RankChoice) -> dict[str, Any]:
    """The manifest's ``alignment.rank_choice`` for a rank chosen for transfer.

    ``validation_error`` is the solver's cross-modal reconstruction error at the same
    candidates (null where the solver did not try that rank), so both curves can be drawn
    over ``candidates``; ``solver`` records what the solver alone would have chosen.
    """
    solver_error = dict(zip(solver.candidates, solver.validation_error, strict=True))
    return {
        "method": METHOD,
        "reason": transfer.reason,
        "candidates": transfer.candidates,
        "transfer_agreement": transfer.agreement,
        "validation_error": [solver_error.get(k) for k in transfer.candidates],
        "folds": transfer.folds,
        "n_folds": transfer.n_folds,
        "solver": {"rank": solver.rank, "method": solver.method, "reason": solver.reason},
    }
