"""Band energies in Hz from a Hann-windowed periodogram, as matrices.

The power of a window is read from its one-sided periodogram, scaled so that the bins sum to
the window-compensated mean square ``Σ(w x)² / Σw²`` (≈ the variance of the centred signal):
a band energy is then a mean square in squared signal units, whatever the rate or window.

A band in Hz rarely starts and ends on bin frequencies, and a narrow band may hold none at a
coarse resolution. Each bin k is taken to stand for the cell of frequencies
``[(k - ½) Δf, (k + ½) Δf]`` clipped to ``[0, Nyquist]`` (Δf = rate / T), with its power spread
evenly over the cell; a band gets the fraction of each cell it overlaps. Every band below the
Nyquist frequency therefore has a well-defined, positive weight, bands that tile
``[0, Nyquist]`` share out each bin's power exactly, and the part of a band above the Nyquist
frequency holds nothing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["band_fractions", "hann_window", "periodogram_scale", "spectral_operator"]

FloatArray = npt.NDArray[np.float64]


def hann_window(window: int) -> FloatArray:
    """Periodic Hann taper ``w_t = ½ - ½ cos(2π t / T)``, the DFT-even form.

    Returns
    -------
    ndarray of shape (window,)
    """
    t = np.arange(window, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * t / window)


def periodogram_scale(window: int) -> FloatArray:
    """Factors c_k / (T Σw²) turning ``|rfft(w x)_k|²`` into one-sided power.

    ``c_k`` is 2 for bins that stand for a positive and a negative frequency, 1 for the DC bin
    and, when T is even, the Nyquist bin; by Parseval the scaled bins then sum to
    ``Σ(w x)² / Σw²``.

    Returns
    -------
    ndarray of shape (window // 2 + 1,)
    """
    c = np.full(window // 2 + 1, 2.0)
    c[0] = 1.0
    if window % 2 == 0:
        c[-1] = 1.0
    return c / (window * np.sum(hann_window(window) ** 2))


def band_fractions(
    sample_rate_hz: float, window: int, bands_hz: tuple[tuple[float, float], ...]
) -> FloatArray:
    """Fraction of each bin's cell that each band overlaps (see the module notes).

    Parameters
    ----------
    sample_rate_hz : float
    window : int
    bands_hz : tuple of (lo, hi)
        Bands in Hz; the part above the Nyquist frequency is ignored.

    Returns
    -------
    ndarray of shape (window // 2 + 1, n_bands)
        Entries in [0, 1]; a column sums to the band's width below Nyquist in bins.
    """
    step = sample_rate_hz / window
    nyquist = sample_rate_hz / 2.0
    k = np.arange(window // 2 + 1, dtype=np.float64)
    cell_lo = np.maximum((k - 0.5) * step, 0.0)
    cell_hi = np.minimum((k + 0.5) * step, nyquist)
    lo = np.array([band[0] for band in bands_hz], dtype=np.float64)
    hi = np.minimum([band[1] for band in bands_hz], nyquist)
    overlap = np.minimum(cell_hi[:, None], hi) - np.maximum(cell_lo[:, None], lo)
    fractions: FloatArray = np.clip(overlap, 0.0, None) / (cell_hi - cell_lo)[:, None]
    return fractions


def spectral_operator(
    sample_rate_hz: float, window: int, bands_hz: tuple[tuple[float, float], ...]
) -> tuple[FloatArray, FloatArray]:
    """Band energies as two matrices: ``E = ((x B) ** 2) P`` for centred windows x.

    Only bins that some band uses get columns, so high sample rates with bands that stop at
    20 Hz cost few columns.

    Parameters
    ----------
    sample_rate_hz : float
    window : int
    bands_hz : tuple of (lo, hi)

    Returns
    -------
    basis : ndarray of shape (window, n_columns)
        Hann-tapered cosines and sines of the used bins (no sine at DC and Nyquist, where it
        is zero).
    pooling : ndarray of shape (n_columns, n_bands)
        Periodogram scale times band fraction of each column's bin.
    """
    weights = periodogram_scale(window)[:, None] * band_fractions(sample_rate_hz, window, bands_hz)
    bins = np.flatnonzero(weights.any(axis=1))
    sine_bins = bins[(bins > 0) & (2 * bins != window)]
    t = np.arange(window, dtype=np.float64)[:, None]
    taper = hann_window(window)[:, None]
    cosines = taper * np.cos(2.0 * np.pi * t * bins / window)
    sines = taper * np.sin(2.0 * np.pi * t * sine_bins / window)
    basis = np.concatenate([cosines, sines], axis=1)
    pooling = weights[np.concatenate([bins, sine_bins])]
    return basis, pooling
