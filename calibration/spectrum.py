"""The two numerical paths to the leading singular vectors of the stacked matrix.

Rows of ``X_hat`` are paired samples (n, D); DESIGN §1 writes the same matrix transposed,
so its ``U`` (D, k) are the right singular vectors here. Both paths fix the sign of every
vector the same way (as scikit-learn's ``svd_flip``), so they agree to rounding and two
runs on the same data export byte-identical weights.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["flip_signs", "spectrum_from_gram", "spectrum_from_rows"]

FloatArray = npt.NDArray[np.float64]


def flip_signs(U: FloatArray) -> FloatArray:
    """Make the largest-magnitude entry of every column of ``U`` (D, r) positive."""
    pivots = np.argmax(np.abs(U), axis=0)
    signs = np.sign(U[pivots, np.arange(U.shape[1])])
    signs[signs == 0] = 1.0
    return np.asarray(U * signs, dtype=np.float64)


def spectrum_from_rows(X_hat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Singular values and vectors of standardised stacked rows by a thin SVD.

    Parameters
    ----------
    X_hat : array-like of shape (n, D)

    Returns
    -------
    singular_values : ndarray of shape (min(n, D),), descending
    U : ndarray of shape (D, min(n, D))
        Column j is the direction of singular value j (DESIGN §1's ``U``).
    """
    _, s, Vt = np.linalg.svd(np.asarray(X_hat, dtype=np.float64), full_matrices=False)
    return s, flip_signs(Vt.T)


def spectrum_from_gram(gram: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Singular values and vectors from the Gram matrix ``X̂ᵀX̂`` by a symmetric eigensolve.

    Parameters
    ----------
    gram : array-like of shape (D, D)
        Standardised centred Gram matrix.

    Returns
    -------
    singular_values : ndarray of shape (D,), descending (``sqrt`` of the eigenvalues)
    U : ndarray of shape (D, D)
    """
    eigenvalues, vectors = np.linalg.eigh(np.asarray(gram, dtype=np.float64))
    order = np.argsort(eigenvalues)[::-1]
    s = np.sqrt(np.clip(eigenvalues[order], 0.0, None))
    return s, flip_signs(vectors[:, order])
