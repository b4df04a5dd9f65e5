"""Linear resampling of irregular IMU samples onto the bundle's regular time grid.

The grid is ``origin + j * period`` for integer ``j ≥ 0``. Grid times are always computed
from the integer index, never accumulated, so the same samples give bit-identical grid
values however they were split into batches.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["grid_count", "grid_times", "interpolate"]

FloatArray = npt.NDArray[np.float64]


def grid_count(origin: float, period: float, start: int, t_last: float) -> int:
    """Count the grid points from index ``start`` on whose time is at most ``t_last``.

    Parameters
    ----------
    origin : float
        Time of grid point 0, in seconds.
    period : float
        Grid spacing ``1 / rate_hz``, in seconds (> 0).
    start : int
        First grid index not produced yet.
    t_last : float
        Time of the latest known sample; grid points after it cannot be interpolated yet.

    Returns
    -------
    int
        Number of grid points ``j ≥ start`` with ``origin + j * period ≤ t_last`` (≥ 0).
    """
    j = math.floor((t_last - origin) / period)
    # The rounded quotient can land one index off either way; settle it with the very
    # expression grid_times uses, so a point counted here is a point produced there.
    while origin + (j + 1) * period <= t_last:
        j += 1
    while j >= 0 and origin + j * period > t_last:
        j -= 1
    return max(0, j + 1 - start)


def grid_times(origin: float, period: float, start: int, count: int) -> FloatArray:
    """Times of grid points ``start .. start + count - 1``.

    Returns
    -------
    ndarray of shape (count,) float64
        ``origin + j * period`` for each index ``j``.
    """
    return origin + np.arange(start, start + count, dtype=np.float64) * period


def interpolate(t: FloatArray, x: FloatArray, grid: FloatArray) -> FloatArray:
    """Linearly interpolate samples ``(t, x)`` at the times ``grid``.

    Parameters
    ----------
    t : ndarray of shape (n,) float64
        Sample times, strictly increasing, ``n ≥ 1``.
    x : ndarray of shape (n, C) float64
        Sample values, one column per channel.
    grid : ndarray of shape (m,) float64
        Query times, each within ``[t[0], t[-1]]``.

    Returns
    -------
    ndarray of shape (m, C) float64
        ``x[i] * (1 - w) + x[i + 1] * w`` with ``t[i] ≤ g ≤ t[i + 1]`` and
        ``w = (g - t[i]) / (t[i + 1] - t[i])``. A query equal to a sample time returns that
        sample exactly, whichever neighbour pair it falls into.
    """
    if t.shape[0] == 1:
        return np.repeat(x[:1], grid.shape[0], axis=0)
    # Queries are ≥ t[0], so the index is ≥ 0; a query at t[-1] uses the last pair.
    i = np.minimum(np.searchsorted(t, grid, side="right") - 1, t.shape[0] - 2)
    w = ((grid - t[i]) / (t[i + 1] - t[i]))[:, None]
    result: FloatArray = x[i] * (1.0 - w) + x[i + 1] * w
    return result
