"""Affine least squares with cross-fitted residuals: each fold predicted by a fit on the others.

For folds ``R`` of the rows of ``X`` (n, d) and ``Y`` (n, d_out), the cross-fitted residual
of the rows in ``R`` is ``Y_R − (X_R B₋R + c₋R)``, with ``(B₋R, c₋R)`` the minimum-norm
least-squares affine fit on the rows outside ``R``. Fitting every fold afresh costs one
d × d pseudo-inverse per fold: with one fold per subject, 100 subjects cost 100 of them.

When the full fit is well posed, the fold's fit need not be formed: with the intercept
column, the hat matrix of the full fit is ``H = 11ᵀ/n + X̃ S⁻¹ X̃ᵀ`` (X̃ centred, S its
scatter), and the residuals of the rows in R under the fit without them are

    e₋R = (I − H_RR)⁻¹ ê_R,

``ê`` the residuals of the full fit (the leave-group-out identity of linear regression).
That is an |R| × |R| solve per fold after one d × d eigendecomposition, used for every
fold no larger than d whose ``I − H_RR`` is well conditioned; the other folds are fitted
from moments (total minus fold), as before.

Both give the same fit, not an approximation of it: the pseudo-inverse of a fold's scatter
drops directions below ``LSTSQ_RCOND`` of its largest eigenvalue, and the identity holds
for the plain inverse. With ``S`` at least ``WELL_POSED`` and ``I − H_RR`` at least
``LEVERAGE_FLOOR`` (smallest over largest eigenvalue, resp. smallest eigenvalue),
``S₋R ⪰ LEVERAGE_FLOOR · S`` and ``S₋R ⪯ S``, so the fold's scatter keeps every direction
above ``WELL_POSED · LEVERAGE_FLOOR`` = 100 × ``LSTSQ_RCOND`` of its largest: its
pseudo-inverse is its inverse. The two differ by rounding only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = [
    "LEVERAGE_FLOOR",
    "LSTSQ_RCOND",
    "WELL_POSED",
    "cross_fitted_least_squares",
]

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

#: relative cut-off of the scatter's eigenvalues: directions below it hold rounding only
LSTSQ_RCOND = 1e-10
#: smallest over largest eigenvalue of the full scatter for the leave-group-out identity
WELL_POSED = 1e-6
#: smallest eigenvalue of ``I − H_RR`` for the identity (1 − the fold's largest leverage)
LEVERAGE_FLOOR = 1e-2


def cross_fitted_least_squares(
    X: FloatArray, Y: FloatArray, folds: list[IndexArray]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Minimum-norm affine least squares ``Y ≈ X B + c`` and its cross-fitted residuals.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Inputs, best on comparable scales (the minimum-norm solution depends on them).
    Y : ndarray of shape (n, d_out)
    folds : list of ndarray of int
        Disjoint row indices covering ``0 .. n − 1``, each leaving at least one row out.

    Returns
    -------
    B : ndarray of shape (d, d_out)
    c : ndarray of shape (d_out,)
        The fit on every row.
    residual : ndarray of shape (n, d_out)
        Row i's residual under the fit on the folds that do not hold it.
    """
    # The fit on all folds but one is a sum of per-fold moments: one pass over the rows.
    parts = [_Moments.of(X[rows], Y[rows]) for rows in folds]
    total = _Moments.total(parts)
    eigenvalues, vectors, B, c = total.solve()
    residual = np.empty_like(Y)
    top = float(np.max(np.abs(eigenvalues), initial=0.0))
    shortcut = None
    small = any(rows.size <= X.shape[1] for rows in folds)
    if small and top > 0.0 and float(eigenvalues.min()) >= WELL_POSED * top:
        # Rows of X̃ V Λ^(−1/2), so that H_RR = 11ᵀ/n + P_R P_Rᵀ, and the full fit's residuals.
        whitened = ((X - total.sum_x / total.rows) @ vectors) / np.sqrt(eigenvalues)
        shortcut = (whitened, Y - (X @ B + c))
    for rows, part in zip(folds, parts, strict=True):
        held = None
        if shortcut is not None and rows.size <= X.shape[1]:
            held = _leave_group_out(shortcut[0][rows], shortcut[1][rows], total.rows)
        if held is None:
            _, _, B_out, c_out = total.minus(part).solve()
            held = Y[rows] - (X[rows] @ B_out + c_out)
        residual[rows] = held
    return B, c, residual


def _leave_group_out(whitened: FloatArray, fitted: FloatArray, n: int) -> FloatArray | None:
    """``(I − H_RR)⁻¹ ê_R`` for a fold's whitened rows (m, d) and full-fit residuals (m, d_out).

    None when ``I − H_RR`` is too close to singular (the fold holds directions the other
    rows barely span): the caller then fits the other rows directly.
    """
    identity = np.eye(whitened.shape[0])
    complement = identity - whitened @ whitened.T - 1.0 / n
    try:
        # A Cholesky factor of I − H_RR − LEVERAGE_FLOOR·I exists iff every eigenvalue of
        # I − H_RR exceeds the floor: the test at a fraction of an eigendecomposition.
        np.linalg.cholesky(complement - LEVERAGE_FLOOR * identity)
    except np.linalg.LinAlgError:
        return None
    return np.asarray(np.linalg.solve(complement, fitted), dtype=np.float64)


class _Moments(NamedTuple):
    """Number and sums of inputs ``x`` and outputs ``y`` of some rows, for least squares."""

    rows: int
    sum_x: FloatArray
    sum_y: FloatArray
    xx: FloatArray
    xy: FloatArray

    @classmethod
    def of(cls, X: FloatArray, Y: FloatArray) -> _Moments:
        return cls(X.shape[0], X.sum(axis=0), Y.sum(axis=0), X.T @ X, X.T @ Y)

    @classmethod
    def total(cls, parts: list[_Moments]) -> _Moments:
        # Summed in place: stacking a hundred d × d matrices first costs more than adding.
        sum_x, sum_y = np.zeros_like(parts[0].sum_x), np.zeros_like(parts[0].sum_y)
        xx, xy = np.zeros_like(parts[0].xx), np.zeros_like(parts[0].xy)
        for part in parts:
            sum_x += part.sum_x
            sum_y += part.sum_y
            xx += part.xx
            xy += part.xy
        return cls(sum(p.rows for p in parts), sum_x, sum_y, xx, xy)

    def minus(self, other: _Moments) -> _Moments:
        return _Moments(
            self.rows - other.rows,
            self.sum_x - other.sum_x,
            self.sum_y - other.sum_y,
            self.xx - other.xx,
            self.xy - other.xy,
        )

    def solve(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Minimum-norm least-squares affine map ``y ≈ x B + c`` (row vectors) over these rows.

        Returns
        -------
        eigenvalues : ndarray of shape (d,)
            Of the centred scatter, ascending.
        vectors : ndarray of shape (d, d)
            Its eigenvectors, by column.
        B : ndarray of shape (d, d_out)
        c : ndarray of shape (d_out,)
        """
        n = max(self.rows, 1)
        mean_x, mean_y = self.sum_x / n, self.sum_y / n
        scatter = self.xx - n * np.outer(mean_x, mean_x)
        cross = self.xy - n * np.outer(mean_x, mean_y)
        eigenvalues, vectors = np.linalg.eigh(scatter)
        # numpy's pinv(hermitian=True): directions with less than LSTSQ_RCOND of the
        # largest |eigenvalue| hold rounding only and are dropped.
        magnitude = np.abs(eigenvalues)
        kept = magnitude > LSTSQ_RCOND * float(np.max(magnitude, initial=0.0))
        inverse = np.divide(1.0, eigenvalues, out=np.zeros_like(eigenvalues), where=kept)
        B = vectors @ (inverse[:, None] * (vectors.T @ cross))
        return eigenvalues, vectors, B, mean_y - mean_x @ B
