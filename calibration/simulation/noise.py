"""Smooth random signals: slow drifts, sway and style variation that can be differentiated.

The signal is a finite sum of sinusoids with random amplitudes and phases at every
frequency ``k / L`` up to the bandwidth (a band-limited Gaussian process), evaluated on a
uniform grid by one inverse FFT. Being a finite sum of sinusoids, it is smooth, so
accelerations computed from it at a fine rate are exact up to the finite-difference error,
unlike filtered white noise whose derivatives depend on the filter.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["smooth_noise"]

FloatArray = npt.NDArray[np.float64]

#: fewest sinusoids in the band: the signal must look irregular even over a short span
MIN_COMPONENTS = 8


def smooth_noise(
    n: int,
    dt: float,
    rng: np.random.Generator,
    n_dims: int,
    *,
    std: float,
    bandwidth_hz: float,
) -> FloatArray:
    """A zero-mean band-limited random signal sampled on a uniform grid.

    Parameters
    ----------
    n : int
        Number of samples.
    dt : float
        Sample interval in seconds.
    rng : numpy.random.Generator
        Source of the amplitudes and phases.
    n_dims : int
        Number of independent dimensions.
    std : float
        Expected standard deviation of each dimension.
    bandwidth_hz : float
        Highest frequency present, below the Nyquist frequency ``1 / (2 dt)``.

    Returns
    -------
    ndarray of shape (n, n_dims)
    """
    # The signal is periodic over n_fft samples; a period long enough to hold
    # MIN_COMPONENTS frequencies below the bandwidth keeps short spans irregular.
    n_fft = max(n, int(np.ceil(MIN_COMPONENTS / (bandwidth_hz * dt))))
    in_band = np.fft.rfftfreq(n_fft, dt) <= bandwidth_hz
    in_band[0] = False
    m = int(in_band.sum())
    coefficients = np.zeros((n_fft // 2 + 1, n_dims), dtype=np.complex128)
    # E|c|² = 2 std² / m per sinusoid, so the m of them add up to variance std².
    coefficients[in_band] = (rng.normal(size=(m, n_dims)) + 1j * rng.normal(size=(m, n_dims))) * (
        std / np.sqrt(m)
    )
    # irfft divides by n_fft and counts each positive frequency once: undo both.
    signal = np.fft.irfft(coefficients * (n_fft / 2.0), n=n_fft, axis=0)
    return np.asarray(signal[:n])
