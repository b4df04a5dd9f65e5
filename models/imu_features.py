"""Numpy reference twin of the built-in IMU feature encoder.

:func:`encode_imu` computes in float64 what the ONNX graph of
:func:`harbridge.models.imu_encoder.build_imu_encoder` computes in float32; tests hold the
two equal to 1e-5. The feature definitions are in :mod:`harbridge.models.imu_spec`; the
spectral features use ``numpy.fft.rfft`` here and a DFT matrix in the graph, so each checks
the other.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from harbridge.models.imu_bands import (
    band_fractions,
    derivative_gain,
    hann_window,
    periodogram_scale,
    union_cover,
)
from harbridge.models.imu_spec import (
    CORRELATION_FLOOR,
    ImuEncoderSpec,
    Triad,
    active_bands,
    correlation_pairs,
    find_triads,
)

__all__ = ["encode_imu", "magnitudes", "spectral_stats", "time_stats", "triad_correlations"]

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]


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


def time_stats(signals: FloatArray) -> FloatArray:
    """Mean, min and max of each signal.

    Parameters
    ----------
    signals : ndarray of shape (n_windows, window, n_signals)

    Returns
    -------
    ndarray of shape (n_windows, n_signals, 3)
        In the order of :data:`harbridge.models.imu_spec.TIME_STATS`.
    """
    return np.stack([signals.mean(axis=1), signals.min(axis=1), signals.max(axis=1)], axis=2)


def _spectrum(signals: FloatArray) -> ComplexArray:
    """One-sided DFT (n_windows, window // 2 + 1, n_signals) of the tapered, centred window."""
    centred = signals - signals.mean(axis=1, keepdims=True)
    spectra: ComplexArray = np.fft.rfft(centred * hann_window(signals.shape[1])[:, None], axis=1)
    return spectra


def spectral_stats(
    signals: FloatArray,
    sample_rate_hz: float,
    bands_hz: tuple[tuple[float, float], ...],
    energy_floor: float,
) -> FloatArray:
    """``log(floor + E)`` of the mean square over the bands, of the derivative's, and per band.

    E is read from the Hann-windowed one-sided periodogram of the centred window, pooled over
    bins by :func:`harbridge.models.imu_bands.union_cover` (over all bands, also weighted by
    :func:`harbridge.models.imu_bands.derivative_gain` for the derivative) and by
    :func:`harbridge.models.imu_bands.band_fractions` (per band).

    Parameters
    ----------
    signals : ndarray of shape (n_windows, window, n_signals)
    sample_rate_hz : float
    bands_hz : tuple of (lo, hi)
        Bands that start below the Nyquist frequency.
    energy_floor : float

    Returns
    -------
    ndarray of shape (n_windows, n_signals, 2 + n_bands)
        ``energy``, ``jerk_energy``, then one column per band.
    """
    window = signals.shape[1]
    power = np.abs(_spectrum(signals)) ** 2 * periodogram_scale(window)[:, None]
    cover = union_cover(sample_rate_hz, window, bands_hz)
    pooling = np.column_stack(
        [
            cover,
            cover * derivative_gain(sample_rate_hz, window),
            band_fractions(sample_rate_hz, window, bands_hz),
        ]
    )
    logs: FloatArray = np.log(energy_floor + np.einsum("nks,kb->nsb", power, pooling))
    return logs


def triad_correlations(
    windows: FloatArray,
    sample_rate_hz: float,
    bands_hz: tuple[tuple[float, float], ...],
    pairs: tuple[tuple[int, int], ...],
) -> FloatArray:
    """Correlation of channel pairs over the bands' frequencies, 0 where a channel is still.

    ``Σ_k w_k Re(X_a conj X_b) / sqrt((E_a + α)(E_b + α))`` with X the spectra of
    :func:`spectral_stats`, ``w_k`` periodogram scale × union cover, ``E = Σ_k w_k |X_k|²``
    and α :data:`~harbridge.models.imu_spec.CORRELATION_FLOOR`: the Pearson correlation of
    the tapered, band-limited window.

    Parameters
    ----------
    windows : ndarray of shape (n_windows, window, n_channels)
    sample_rate_hz : float
    bands_hz : tuple of (lo, hi)
    pairs : tuple of (int, int)
        Channel indices.

    Returns
    -------
    ndarray of shape (n_windows, n_pairs)
    """
    window = windows.shape[1]
    weight = periodogram_scale(window) * union_cover(sample_rate_hz, window, bands_hz)
    spectra = _spectrum(windows) * np.sqrt(weight)[:, None]
    first = spectra[:, :, [a for a, _ in pairs]]
    second = spectra[:, :, [b for _, b in pairs]]
    cross = np.sum((first * second.conj()).real, axis=1)
    energy_first = np.sum(np.abs(first) ** 2, axis=1) + CORRELATION_FLOOR
    energy_second = np.sum(np.abs(second) ** 2, axis=1) + CORRELATION_FLOOR
    correlations: FloatArray = cross / np.sqrt(energy_first * energy_second)
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
    bands = active_bands(spec)
    # An empty block first, so the concatenation has its shape when both groups are off.
    per_signal = [np.empty((len(x), signals.shape[2], 0))]
    if spec.time_stats:
        per_signal.append(time_stats(signals))
    if spec.band_energy:
        per_signal.append(spectral_stats(signals, spec.sample_rate_hz, bands, spec.energy_floor))
    stats = np.concatenate(per_signal, axis=2)
    pairs = correlation_pairs(spec)
    blocks = [
        stats.reshape(len(x), stats.shape[1] * stats.shape[2]),
        triad_correlations(x, spec.sample_rate_hz, bands, pairs) if pairs else x[:, 0, :0],
    ]
    return np.concatenate(blocks, axis=1).astype(np.float32)
