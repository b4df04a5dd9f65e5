"""Reproducible held-out draws of pairs, by subject when subjects are known."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["holdout_split"]

IndexArray = npt.NDArray[np.intp]

#: fewer subjects than this and pairs are held out one by one
MIN_SUBJECTS_FOR_GROUPS = 3


def holdout_split(
    n: int, fraction: float, subject: npt.NDArray[Any] | None, seed: int
) -> tuple[IndexArray, IndexArray, dict[str, Any]]:
    """Split ``n`` rows into kept and held-out indices.

    Parameters
    ----------
    n : int
        Number of rows.
    fraction : float in [0, 1)
        Share of rows (or of subjects) to hold out; 0 holds out nothing.
    subject : ndarray of shape (n,), optional
        With at least three distinct subjects, whole subjects are held out, so held-out
        metrics measure what a new wearer would see.
    seed : int

    Returns
    -------
    kept, held_out : ndarray of int, sorted
    description : dict
        How the split was drawn (for the manifest).
    """
    rows = np.arange(n)
    if fraction <= 0 or n < 2:
        return rows, rows[:0], {"by": "none", "fraction": 0.0}
    rng = np.random.default_rng(seed)
    if subject is not None:
        subjects = np.unique(subject)
        if subjects.size >= MIN_SUBJECTS_FOR_GROUPS:
            count = min(max(1, round(fraction * subjects.size)), subjects.size - 1)
            chosen = np.sort(rng.permutation(subjects)[:count])
            mask = np.isin(subject, chosen)
            return (
                rows[~mask],
                rows[mask],
                {
                    "by": "subject",
                    "fraction": fraction,
                    "subjects": [x.item() for x in chosen],
                },
            )
    count = min(max(1, round(fraction * n)), n - 1)
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[:count]] = True
    return rows[~mask], rows[mask], {"by": "pair", "fraction": fraction, "seed": seed}
