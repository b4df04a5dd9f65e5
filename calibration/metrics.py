"""Alignment and classification metrics."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["accuracy", "cmae", "confusion_matrix", "macro_f1", "rel_cmae"]


def cmae(Z_a: npt.ArrayLike, Z_b: npt.ArrayLike) -> float:
    """Cross-modal alignment error ``‖Z_a − Z_b‖_F`` (unnormalised, as the paper).

    Parameters
    ----------
    Z_a, Z_b : array-like of shape (n, k)
        Latents of the same n pairs seen through two modalities.
    """
    diff = np.asarray(Z_a, dtype=np.float64) - np.asarray(Z_b, dtype=np.float64)
    return float(np.linalg.norm(diff))


def rel_cmae(Z_a: npt.ArrayLike, Z_b: npt.ArrayLike) -> float:
    """Scale-free CMAE: ``‖Z_a − Z_b‖_F / ((‖Z_a‖_F + ‖Z_b‖_F) / 2)`` (DESIGN §1).

    Returns NaN when both latents are zero (nothing to compare).
    """
    Z_a = np.asarray(Z_a, dtype=np.float64)
    Z_b = np.asarray(Z_b, dtype=np.float64)
    mean_norm = (np.linalg.norm(Z_a) + np.linalg.norm(Z_b)) / 2.0
    return float(np.linalg.norm(Z_a - Z_b) / mean_norm) if mean_norm > 0 else float("nan")


def confusion_matrix(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, n_classes: int
) -> npt.NDArray[np.int64]:
    """Counts of shape (K, K): row = true class, column = predicted class."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def accuracy(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Fraction of equal labels."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def macro_f1(y_true: npt.ArrayLike, y_pred: npt.ArrayLike, n_classes: int) -> float:
    """Unweighted mean of per-class F1 over the classes present in ``y_true`` or ``y_pred``."""
    matrix = confusion_matrix(y_true, y_pred, n_classes).astype(np.float64)
    true_positive = np.diag(matrix)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    present = (support + predicted) > 0
    f1 = np.divide(2 * true_positive, support + predicted, out=np.zeros(n_classes), where=present)
    return float(f1[present].mean()) if present.any() else float("nan")
