"""Per-modality standardisation: the affine map applied before alignment (DESIGN §1).

Each feature is centred and divided by its standard deviation, and each modality block is
further divided by the square root of its number of informative features, so that every
modality carries the same total variance into the stacked SVD whatever its dimension.
Constant features get scale 0: they carry nothing and must not blow up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Standardizer", "standardizer_from_moments"]

FloatArray = npt.NDArray[np.float64]

#: a feature whose std is below this fraction of max(1, |mean|) counts as constant
CONSTANT_RTOL = 1e-9


@dataclass(frozen=True)
class Standardizer:
    """The affine map ``x̂ = (x − mean) ⊙ scale`` of one modality.

    Attributes
    ----------
    mean : ndarray of shape (d,)
    std : ndarray of shape (d,)
    scale : ndarray of shape (d,)
        0 for constant features.
    """

    mean: FloatArray
    std: FloatArray
    scale: FloatArray

    @property
    def constant(self) -> npt.NDArray[np.bool_]:
        """Mask of shape (d,) of the features found constant."""
        constant: npt.NDArray[np.bool_] = self.scale == 0.0
        return constant

    def rounding_magnitude(self) -> FloatArray:
        """How large each feature's raw values are, in standardised units, shape (d,).

        Rounding errors scale with ``|x|``, offset included, not with the spread alone.
        """
        return (np.abs(self.mean) + self.std) * self.scale

    def apply(self, X: npt.ArrayLike) -> FloatArray:
        """Standardise ``X`` of shape (n, d) into float64 of shape (n, d)."""
        return (np.asarray(X, dtype=np.float64) - self.mean) * self.scale

    def invert(self, X_hat: npt.ArrayLike) -> FloatArray:
        """Map standardised ``X_hat`` of shape (n, d) back to feature units (constant → mean)."""
        inverse = np.divide(1.0, self.scale, out=np.zeros_like(self.scale), where=self.scale != 0)
        return np.asarray(X_hat, dtype=np.float64) * inverse + self.mean


def standardizer_from_moments(mean: npt.ArrayLike, var: npt.ArrayLike) -> Standardizer:
    """Build the standardiser of one modality from its feature means and variances.

    Parameters
    ----------
    mean, var : array-like of shape (d,)
        Per-feature mean and (population) variance over the training pairs.

    Returns
    -------
    Standardizer
    """
    mean = np.asarray(mean, dtype=np.float64)
    std = np.sqrt(np.maximum(np.asarray(var, dtype=np.float64), 0.0))
    informative = std > CONSTANT_RTOL * np.maximum(1.0, np.abs(mean))
    n_informative = max(int(informative.sum()), 1)
    scale = np.zeros_like(std)
    scale[informative] = 1.0 / (std[informative] * np.sqrt(n_informative))
    return Standardizer(mean=mean, std=std, scale=scale)
