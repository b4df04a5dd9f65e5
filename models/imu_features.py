"""Numpy reference twin of the built-in IMU feature encoder.

:func:`encode_imu` computes in float64 what the ONNX graph of
:func:`harbridge.models.imu_encoder.build_imu_encoder` computes in float32; tests hold the
two equal to 1e-5. The feature definitions are in :mod:`harbridge.models.imu_spec`; the band
energies use ``numpy.fft.rfft`` here and a DFT matrix in the graph, so each checks the other.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from harbridge.models.imu_bands import band_fractions, hann_window, periodogram_scale
from harbridge.models.imu_spec import (
    CORRELATION_ABS_FLOOR,
    CORRELATION_REL_FLOOR,
    ImuEncoderSpec,
    Triad,
    active_bands,
    correlation_pairs,
    find_triads,
)

__all__ = ["encode_imu", "log_band_energies", "magnitudes", "time_stats", "triad_correlations"]

FloatArray = npt.NDArray[np.float64]


def magnitudes(windows: FloatArray, triads: tuple[Triad, ...]) -> FloatArray:
    """Euclidean norm of each triad, sample by sample.

    Parameters
    ----------
    windows : ndarray of shape (n_windows, window, n_channels)
    triads : tuple of Triad

    Returns
    -------
    ndarray of shape (n_windows, window, n_triads)
    """
    columns = [np.sqrt(np.sum(windows[:, :, list(t.indices)] ** 2, axis=2)) for t in triads]
    return np.stack(columns, axis=2) if columns else windows[:, :, :0]


def time_stats(signals: FloatArray, sample_rate_hz: float) -> FloatArray:
    """Mean, std, jerk (RMS of the first difference times the rate), min and max.

    Parameters
    ----------
    signals : ndarray of shape (n_windows, window, n_signals)
    sample_rate_hz : float

    Returns
    -------
    ndarray of shape (n_windows, n_signals, 5)
        In the order of :data:`harbridge.models.imu_spec.TIME_STATS`.
    """
    jerk = np.sqrt(np.mean(np.diff(signals, axis=1) ** 2, axis=1)) * sample_rate_hz
    stats = [
        signals.mean(axis=1),
        signals.std(axis=1),
        jerk,
        signals.min(axis=1),
        signals.max(axis=1),
    ]
    return np.stack(stats, axis=2)


def log_band_energies(
    signals: FloatArray,
    sample_rate_hz: float,
    bands_hz: tuple[tuple[float, float], ...],
    energy_floor: float,
) -> FloatArray:
    """``log(floor + E)`` with E the mean square of each signal in each band.

    E is read from the Hann-windowed one-sided periodogram of the centred window, pooled over
    bins by :func:`harbridge.models.imu_bands.band_fractions`.

    Parameters
    ----------
    signals : ndarray of shape (n_windows, window, n_signals)
    sample_rate_hz : float
    bands_hz : tuple of (lo, hi)
        Bands that start below the Nyquist frequency.
    energy_floor : float

    Returns
    -------
    ndarray of shape (n_windows, n_signals, n_bands)
    """
    window = signals.shape[1]
    centred = signals - signals.mean(axis=1, keepdims=True)
    tapered = centred * hann_window(window)[:, None]
    spectrum = np.fft.rfft(tapered, axis=1)
    power = (spectrum.real**2 + spectrum.imag**2) * periodogram_scale(window)[:, None]
    fractions = band_fractions(sample_rate_hz, window, bands_hz)
    energy = np.einsum("nks,kb->nsb", power, fractions)
    logs: FloatArray = np.log(energy_floor + energy)
    return logs


def triad_correlations(windows: FloatArray, pairs: tuple[tuple[int, int], ...]) -> FloatArray:
    """Pearson correlation of channel pairs, 0 where a channel hardly varies.

    The denominator is regularised as described at
    :data:`harbridge.models.imu_spec.CORRELATION_REL_FLOOR`, so a constant channel gives 0
    and never NaN.

    Parameters
    ----------
    windows : ndarray of shape (n_windows, window, n_channels)
    pairs : tuple of (int, int)
        Channel indices.

    Returns
    -------
    ndarray of shape (n_windows, n_pairs)
    """
    window = windows.shape[1]
    mean = windows.mean(axis=1, keepdims=True)
    centred = windows - mean
    floor = window * (CORRELATION_REL_FLOOR * mean[:, 0] ** 2 + CORRELATION_ABS_FLOOR)
    scale = 1.0 / np.sqrt(np.sum(centred**2, axis=1) + floor)
    first = [a for a, _ in pairs]
    second = [b for _, b in pairs]
    covariance = np.sum(centred[:, :, first] * centred[:, :, second], axis=1)
    correlations: FloatArray = covariance * scale[:, first] * scale[:, second]
    return correlations


def encode_imu(windows: npt.ArrayLike, spec: ImuEncoderSpec) -> npt.NDArray[np.float32]:
    """Features of raw IMU windows, as the built-in encoder defines them.

    Parameters
    ----------
    windows : array_like of shape (n_windows, window, n_channels)
        Raw samples in physical units, channels in ``spec.channels`` order.
    spec : ImuEncoderSpec

    Returns
    -------
    ndarray of shape (n_windows, n_features) float32
        Named by :func:`harbridge.models.imu_spec.feature_names`.

    Raises
    ------
    ValueError
        If the windows do not have shape (n, spec.window, len(spec.channels)).
    """
    x = np.asarray(windows, dtype=np.float64)
    expected = (spec.window, len(spec.channels))
    if x.ndim != 3 or x.shape[1:] != expected:
        raise ValueError(
            f"IMU windows have shape {x.shape}; the encoder expects (n, {expected[0]}, "
            f"{expected[1]}) for channels {list(spec.channels)}"
        )
    parts = [x] if spec.axes else []
    if spec.magnitude:
        parts.append(magnitudes(x, find_triads(spec.channels)))
    signals = np.concatenate(parts, axis=2) if parts else x[:, :, :0]
    # An empty block first, so the concatenation has its shape when both groups are off.
    per_signal = [np.empty((len(x), signals.shape[2], 0))]
    if spec.time_stats:
        per_signal.append(time_stats(signals, spec.sample_rate_hz))
    if spec.band_energy:
        bands = active_bands(spec)
        per_signal.append(log_band_energies(signals, spec.sample_rate_hz, bands, spec.energy_floor))
    stats = np.concatenate(per_signal, axis=2)
    blocks = [
        stats.reshape(len(x), stats.shape[1] * stats.shape[2]),
        triad_correlations(x, correlation_pairs(spec)),
    ]
    return np.concatenate(blocks, axis=1).astype(np.float32)
