"""The IMU's sample grid: its rate, and the slot of every sample on it.

A sensor samples at a fixed rate on its own clock, but logs lose samples and timestamps
jitter. The period is measured (median step, then a least-squares line through the slot
numbers), every sample gets the nearest slot, and slots without a sample are the missing
ones. The rate written to a dataset is the nominal one, the measured rate rounded to a
whole number of hertz when it lies within :data:`NOMINAL_TOLERANCE` of one: a crystal
is off by 10–100 ppm, and the bundle and the daemon expect the rate the sensor is set to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["NOMINAL_TOLERANCE", "SampleGrid", "nominal_rate", "sample_grid"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: largest relative difference between a measured rate and its whole-hertz nominal rate
NOMINAL_TOLERANCE = 2e-3
#: samples of the first line fit
_FIRST_FIT = 32


@dataclass(frozen=True, eq=False)
class SampleGrid:
    """Where each sample sits on the sensor's ideal sample grid.

    Attributes
    ----------
    start : float
        Time of slot 0 on the sensor's clock, seconds.
    period_s : float
        Measured sample period on the sensor's clock.
    slot : ndarray of shape (n,) int
        Slot of each sample, strictly increasing; samples that fell on a taken slot
        (jitter of half a period) are marked -1 and left out.
    n_slots : int
        Slots from the first sample to the last.
    rate_hz : float
        Nominal sample rate (see :func:`nominal_rate`).
    """

    start: float
    period_s: float
    slot: IntArray
    n_slots: int
    rate_hz: float

    def slot_time(self, slot: npt.ArrayLike) -> FloatArray:
        """Sensor-clock times of slot numbers."""
        return np.asarray(self.start + self.period_s * np.asarray(slot, dtype=np.float64))


def nominal_rate(measured_hz: float) -> float:
    """The whole-hertz rate within :data:`NOMINAL_TOLERANCE` of ``measured_hz``, else the
    measured rate to 0.01 Hz."""
    whole = round(measured_hz)
    if whole > 0 and abs(measured_hz / whole - 1.0) <= NOMINAL_TOLERANCE:
        return float(whole)
    return round(measured_hz, 2)


def sample_grid(t: FloatArray) -> SampleGrid:
    """Fit the sample grid of strictly increasing times ``t`` (shape (n,), n ≥ 2).

    The line is fitted to a prefix that doubles each round, so a period error of the
    median step never piles up to half a period before the fit has corrected it.
    """
    start, period = float(t[0]), float(np.median(np.diff(t)))
    length = min(t.shape[0], _FIRST_FIT)
    while True:
        guess = np.round((t[:length] - start) / period)
        if guess[-1] > guess[0]:
            period, start = (float(v) for v in np.polyfit(guess, t[:length], 1))
        if length == t.shape[0]:
            break
        length = min(2 * length, t.shape[0])
    slot = np.round((t - start) / period).astype(np.int64)
    start += period * float(slot[0])
    slot -= slot[0]
    taken = np.concatenate([[False], np.diff(slot) <= 0])
    slot[taken] = -1
    return SampleGrid(start, period, slot, int(slot.max()) + 1, nominal_rate(1.0 / period))
