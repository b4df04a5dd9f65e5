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

__all__ = [
    "band_fractions",
    "derivative_gain",
    "hann_window",
    "periodogram_scale",
    "spectral_operator",
    "union_cover",
]

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


def union_cover(
    sample_rate_hz: float, window: int, bands_hz: tuple[tuple[float, float], ...]
) -> FloatArray:
    """Fraction of each bin's cell that lies inside at least one band.

    Overlapping bands are merged first, so a frequency counts once however many bands hold it.

    Returns
    -------
    ndarray of shape (window // 2 + 1,)
        Entries in [0, 1]; never below a band's own fraction of the same bin.
    """
    merged: list[tuple[float, float]] = []
    for lo, hi in sorted(bands_hz):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    cover: FloatArray = band_fractions(sample_rate_hz, window, tuple(merged)).sum(axis=1)
    return cover


def derivative_gain(sample_rate_hz: float, window: int) -> FloatArray:
    """Power gain of the first difference times the rate, ``(2 sin(π k / T) · rate)²``, per bin.

    A bin's power times its gain is the power of the signal's derivative (units/s)² at that
    bin, as the first difference estimates it sample to sample.

    Returns
    -------
    ndarray of shape (window // 2 + 1,)
    """
    k = np.arange(window // 2 + 1, dtype=np.float64)
    gain: FloatArray = (2.0 * np.sin(np.pi * k / window) * sample_rate_hz) ** 2
    return gain


def spectral_operator(
    sample_rate_hz: float, window: int, bands_hz: tuple[tuple[float, float], ...]
) -> tuple[FloatArray, FloatArray]:
    """The spectral features as two matrices: coefficients ``C = x B`` of centred windows x,
    then ``((x B) ** 2) P``.

    The columns of B are the Hann-tapered cosines and sines of the bins the bands use, each
    scaled by the square root of its bin's weight w_k = periodogram scale × union cover
    (:func:`periodogram_scale`, :func:`union_cover`). Then ``Σ_columns C²`` is the signal's
    mean square over the bands' frequencies, and ``C_a · C_b`` of two signals their
    cross-power over the same frequencies.

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
        Scaled, tapered cosines and sines of the used bins (no sine at DC and Nyquist, where
        it is zero).
    pooling : ndarray of shape (n_columns, 2 + n_bands)
        From squared coefficients to: the mean square over the bands (column 0), the mean
        square of the derivative over the bands (column 1, see :func:`derivative_gain`), and
        each band's mean square (the band's fraction of the bin over the union's).
    """
    cover = union_cover(sample_rate_hz, window, bands_hz)
    bins = np.flatnonzero(cover > 0.0)
    sine_bins = bins[(bins > 0) & (2 * bins != window)]
    columns = np.concatenate([bins, sine_bins])
    t = np.arange(window, dtype=np.float64)[:, None]
    taper = hann_window(window)[:, None]
    cosines = np.cos(2.0 * np.pi * t * bins / window)
    sines = np.sin(2.0 * np.pi * t * sine_bins / window)
    weight = periodogram_scale(window) * cover
    basis = taper * np.concatenate([cosines, sines], axis=1) * np.sqrt(weight[columns])
    band_share = band_fractions(sample_rate_hz, window, bands_hz)[columns] / cover[columns, None]
    gain = derivative_gain(sample_rate_hz, window)[columns]
    pooling = np.column_stack([np.ones(len(columns)), gain, band_share])
    return basis, pooling
