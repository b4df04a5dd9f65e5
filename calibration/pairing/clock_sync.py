"""Clock sync: the offset and drift between a video's clock and an IMU's clock.

Model: an instant at time ``t`` on the video's clock reads ``offset + (1 + drift) · t``
on the IMU's clock. Both motion energies (:mod:`~harbridge.calibration.pairing.motion_energy`)
are put on a common :data:`GRID_HZ` grid and compared by their Pearson correlation at
every lag at which they overlap by at least :data:`MIN_OVERLAP` of the shorter one
(masked normalised cross-correlation, computed with FFTs; Padfield, "Masked object
registration in the Fourier domain", IEEE TIP 2012). The highest peak gives the offset
to a fraction of a grid step by a parabola through it and its two neighbours.

Drift matters only over long recordings (100 ppm is 6 ms over two minutes, a fifth of a
video frame), so it is estimated only when the overlap spans :data:`MIN_DRIFT_SPAN_S`:
the offset is measured again on :data:`SEGMENT_S` pieces, near the first estimate, and a
line ``offset(t) = offset + drift · t`` is fitted to the trusted pieces, dropping
outliers. The IMU's energy is then resampled on its drifting clock and correlated once
more for the final offset and confidence.

Confidence is the peak correlation and its margin over the highest other peak (outside
:data:`SIDE_PEAK_EXCLUSION_S`). The offset is not trusted below :data:`MIN_CORRELATION`
or :data:`MIN_MARGIN`. On simulated recordings of 30 s (``benchmarks/clock_sync.py``,
``docs/RESULTS.md``) these refuse every recording without motion, about 1 % of correct
syncs, and let through under a tenth of the pairings of one recording's video with
another recording's IMU (whose activity bursts can line up by chance when both show the
same action); higher thresholds would refuse more real recordings, whose pose tracks are
noisier than simulated ones, to catch a few more mix-ups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.fft import irfft, next_fast_len, rfft

from harbridge.calibration.pairing.motion_energy import MotionEnergy, on_grid
from harbridge.errors import HarbridgeError

__all__ = [
    "GRID_HZ",
    "MIN_CORRELATION",
    "MIN_DRIFT_SPAN_S",
    "MIN_MARGIN",
    "MIN_OVERLAP",
    "SEGMENT_S",
    "ClockSync",
    "Peak",
    "SyncError",
    "best_peak",
    "estimate_sync",
    "given_sync",
    "masked_ncc",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

#: rate of the common grid, Hz: 10 ms steps, a third of a video frame before interpolation
GRID_HZ = 100.0
#: Gaussian smoothing of both energies, seconds
SMOOTH_S = 0.04
#: shortest overlap considered, as a share of the shorter recording's known energy
MIN_OVERLAP = 0.5
#: least peak correlation, and least margin over the next peak, of a trusted offset
MIN_CORRELATION = 0.5
MIN_MARGIN = 0.15
#: peaks closer than this to the highest are its own shoulders, not rivals, seconds
SIDE_PEAK_EXCLUSION_S = 0.3
#: drift: overlap needed to estimate it, piece length, and search about the first offset
MIN_DRIFT_SPAN_S = 300.0
SEGMENT_S = 30.0
SEGMENT_SEARCH_S = 1.0
#: fewest trusted pieces for a drift fit
MIN_SEGMENTS = 3
#: least usable motion energy on either side to attempt a sync, seconds
MIN_SYNC_S = 10.0


class SyncError(HarbridgeError):
    """The offset cannot be estimated, or not trusted; the message says why."""


@dataclass(frozen=True)
class ClockSync:
    """The map from the video's clock to the IMU's clock.

    Attributes
    ----------
    offset_s : float
        IMU clock reading at video time 0, seconds.
    drift : float
        Relative rate error of the IMU's clock (1e-4 is 100 ppm fast).
    correlation : float or None
        Peak correlation of the motion energies (None when the offset was given).
    margin : float or None
        Peak correlation minus that of the next peak.
    drift_estimated : bool
        Whether ``drift`` was measured (else it is 0 by assumption).
    segments : int
        Pieces that the drift fit kept.
    method : {"auto", "given"}
    """

    offset_s: float
    drift: float
    correlation: float | None
    margin: float | None
    drift_estimated: bool
    segments: int
    method: Literal["auto", "given"]

    def to_imu(self, t_video: npt.ArrayLike) -> FloatArray:
        """IMU-clock times of video-clock times."""
        return np.asarray(self.offset_s + (1.0 + self.drift) * np.asarray(t_video, np.float64))

    def to_video(self, t_imu: npt.ArrayLike) -> FloatArray:
        """Video-clock times of IMU-clock times."""
        return np.asarray((np.asarray(t_imu, np.float64) - self.offset_s) / (1.0 + self.drift))

    def doubt(self) -> str | None:
        """Why an automatic offset is not to be trusted, or None if it is."""
        if self.method == "given" or self.correlation is None or self.margin is None:
            return None
        if self.correlation < MIN_CORRELATION:
            return (
                f"the camera's and the IMU's motion correlate at only r = "
                f"{self.correlation:.2f} at their best offset (at least {MIN_CORRELATION} "
                "is needed): is there arm motion in both recordings, of the same session, "
                "and the IMU on that wrist?"
            )
        if self.margin < MIN_MARGIN:
            return (
                f"two offsets fit almost equally well (r = {self.correlation:.2f}, margin "
                f"{self.margin:.2f} < {MIN_MARGIN}): the motion is too regular to tell them "
                "apart; record a few seconds of irregular motion, such as a few claps, "
                "at the start"
            )
        return None


def given_sync(offset_s: float) -> ClockSync:
    """A sync the user gave: ``offset_s`` and no drift."""
    return ClockSync(float(offset_s), 0.0, None, None, False, 0, "given")


@dataclass(frozen=True)
class Peak:
    """The best lag of a correlation curve.

    Attributes
    ----------
    lag : float
        Lag in grid steps, refined below one step.
    correlation : float
    margin : float
        ``correlation`` minus the highest local maximum further than the exclusion.
    """

    lag: float
    correlation: float
    margin: float


def _xcorr(a: FloatArray, b: FloatArray, size: int) -> FloatArray:
    """``c[L] = Σ_k a[k] b[k + L]`` for ``L`` from ``-(len(a) - 1)`` to ``len(b) - 1``."""
    c = irfft(np.conj(rfft(a, size)) * rfft(b, size), size)
    return np.concatenate([c[size - (a.shape[0] - 1) :], c[: b.shape[0]]])


def masked_ncc(
    x: FloatArray, x_valid: BoolArray, y: FloatArray, y_valid: BoolArray, min_overlap: float
) -> tuple[IntArray, FloatArray]:
    """Pearson correlation of ``x[k]`` and ``y[k + L]`` over their common known points.

    Parameters
    ----------
    x : ndarray of shape (n,)
    x_valid : ndarray of shape (n,) bool
    y : ndarray of shape (m,)
    y_valid : ndarray of shape (m,) bool
    min_overlap : float
        Lags with fewer common known points get NaN.

    Returns
    -------
    lags : ndarray of shape (n + m - 1,) int
        ``-(n - 1) … m - 1``.
    r : ndarray of shape (n + m - 1,)
        Correlation at each lag, in [-1, 1], NaN where undefined.
    """
    mx, my = x_valid.astype(np.float64), y_valid.astype(np.float64)
    # Centring first keeps the sums of squares far from cancellation.
    xc = np.where(x_valid, x - x[x_valid].mean(), 0.0) if x_valid.any() else np.zeros_like(x)
    yc = np.where(y_valid, y - y[y_valid].mean(), 0.0) if y_valid.any() else np.zeros_like(y)
    size = next_fast_len(x.shape[0] + y.shape[0] - 1, real=True)
    count = np.round(_xcorr(mx, my, size))
    sx, sy = _xcorr(xc, my, size), _xcorr(mx, yc, size)
    sxx, syy = _xcorr(xc**2, my, size), _xcorr(mx, yc**2, size)
    sxy = _xcorr(xc, yc, size)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.maximum(count, 1.0)
        cov = sxy - sx * sy / n
        var = (sxx - sx**2 / n) * (syy - sy**2 / n)
        r = cov / np.sqrt(var)
    scale = max(float(np.sum(xc**2) * np.sum(yc**2)), 1e-300)
    r[(count < max(min_overlap, 2.0)) | ~(var > 1e-12 * scale)] = np.nan
    lags = np.arange(-(x.shape[0] - 1), y.shape[0], dtype=np.int64)
    return lags, np.clip(r, -1.0, 1.0)


def _parabola(r: FloatArray, i: int) -> float:
    """Vertex of the parabola through ``r[i - 1], r[i], r[i + 1]``, as an offset from ``i``."""
    if not 0 < i < r.shape[0] - 1 or not np.all(np.isfinite(r[i - 1 : i + 2])):
        return 0.0
    curvature = r[i - 1] - 2.0 * r[i] + r[i + 1]
    if not curvature < 0.0:
        return 0.0
    return float(np.clip(0.5 * (r[i - 1] - r[i + 1]) / curvature, -0.5, 0.5))


def best_peak(lags: IntArray, r: FloatArray, exclusion: float) -> Peak | None:
    """The highest correlation, refined by a parabola, and its margin.

    Parameters
    ----------
    lags : ndarray of shape (L,) int
    r : ndarray of shape (L,)
        NaN where undefined.
    exclusion : float
        Local maxima within this many steps of the peak are not rivals.

    Returns
    -------
    Peak or None
        None when no lag has a correlation.
    """
    finite = np.isfinite(r)
    if not finite.any():
        return None
    filled = np.where(finite, r, -np.inf)
    i = int(np.argmax(filled))
    local = np.zeros_like(finite)
    local[1:-1] = (filled[1:-1] > filled[:-2]) & (filled[1:-1] >= filled[2:])
    rivals = filled[local & (np.abs(lags - lags[i]) > exclusion)]
    second = float(rivals.max()) if rivals.size else -1.0
    return Peak(float(lags[i]) + _parabola(r, i), float(r[i]), float(r[i]) - second)


def _grid(energy: MotionEnergy, step: float) -> tuple[float, FloatArray, BoolArray]:
    start = float(energy.t[0]) if energy.t.size else 0.0
    n = int(np.floor((energy.t[-1] - start) / step)) + 1 if energy.t.size else 0
    values, valid = on_grid(energy, start, step, n, SMOOTH_S)
    return start, values, valid


def _segment_offsets(
    x: FloatArray, mx: BoolArray, y: FloatArray, my: BoolArray, lag: int
) -> tuple[FloatArray, FloatArray]:
    """Lag (in steps) of each trusted piece of ``x`` near ``lag``, and the piece's centre
    index in ``x``."""
    piece, reach = round(SEGMENT_S * GRID_HZ), round(SEGMENT_SEARCH_S * GRID_HZ)
    centres: list[float] = []
    found: list[float] = []
    for k0 in range(0, x.shape[0] - piece + 1, piece):
        j0 = k0 + lag - reach
        j1 = k0 + piece + lag + reach
        if j0 < 0 or j1 > y.shape[0] or mx[k0 : k0 + piece].mean() < MIN_OVERLAP:
            continue
        segment = slice(k0, k0 + piece)
        lags, r = masked_ncc(
            x[segment], mx[segment], y[j0:j1], my[j0:j1], MIN_OVERLAP * mx[segment].sum()
        )
        # A piece's lag L into y[j0:] is lag L + j0 - k0 into y.
        near = np.abs(lags + j0 - k0 - lag) <= reach - 1
        peak = best_peak(lags[near], r[near], SIDE_PEAK_EXCLUSION_S * GRID_HZ)
        if peak is not None and peak.correlation >= MIN_CORRELATION and peak.margin >= MIN_MARGIN:
            found.append(peak.lag + j0 - k0)
            centres.append(k0 + piece / 2.0)
    return np.asarray(found), np.asarray(centres)


def _fit_line(t: FloatArray, offset: FloatArray) -> tuple[float, float, BoolArray]:
    """Least-squares line ``offset = a + b t``, dropping points off it by more than four
    robust standard deviations (at least two grid steps), until none is dropped."""
    keep = np.ones(t.shape[0], dtype=bool)
    a, b = float(np.median(offset)), 0.0
    while keep.sum() >= MIN_SEGMENTS:
        b, a = (float(v) for v in np.polyfit(t[keep], offset[keep], 1))
        residual = np.abs(offset - (a + b * t))
        spread = 1.4826 * float(np.median(residual[keep]))
        now = residual <= max(4.0 * spread, 2.0 / GRID_HZ)
        if np.array_equal(now, keep):
            break
        keep = now
    return a, b, keep


def estimate_sync(video: MotionEnergy, imu: MotionEnergy) -> ClockSync:
    """Estimate the offset (and, over long recordings, the drift) of the IMU's clock.

    Parameters
    ----------
    video, imu : MotionEnergy
        Motion energies on each recording's own clock.

    Returns
    -------
    ClockSync
        With its confidence; :meth:`ClockSync.doubt` says whether to trust it.

    Raises
    ------
    SyncError
        Too little usable motion energy on either side, or no lag with enough overlap.
    """
    step = 1.0 / GRID_HZ
    v0, x, mx = _grid(video, step)
    i0, y, my = _grid(imu, step)
    for name, valid in (("video", mx), ("IMU", my)):
        if valid.sum() * step < MIN_SYNC_S:
            raise SyncError(
                f"the {name} recording has {valid.sum() * step:.1f} s of usable motion signal; "
                f"automatic sync needs at least {MIN_SYNC_S:g} s"
            )
    min_overlap = MIN_OVERLAP * min(mx.sum(), my.sum())
    peak = best_peak(*masked_ncc(x, mx, y, my, min_overlap), SIDE_PEAK_EXCLUSION_S * GRID_HZ)
    if peak is None:
        raise SyncError("the two recordings never overlap by half the shorter one")
    drift, kept = 0.0, 0
    lag = round(peak.lag)
    overlap_s = (min(x.shape[0], y.shape[0] - lag) - max(0, -lag)) * step
    if overlap_s >= MIN_DRIFT_SPAN_S:
        lags, centres = _segment_offsets(x, mx, y, my, lag)
        if lags.size >= MIN_SEGMENTS:
            t_video = v0 + centres * step
            _, slope, keep = _fit_line(t_video, i0 + lags * step - v0)
            span = np.ptp(t_video[keep]) if keep.any() else 0.0
            if keep.sum() >= MIN_SEGMENTS and span >= MIN_DRIFT_SPAN_S / 2.0:
                drift, kept = slope, int(keep.sum())
    if kept:
        # The IMU's grid, stepped on its own clock by (1 + drift) steps, lines up with the
        # video's grid sample for sample.
        n = int(np.floor((imu.t[-1] - i0) / ((1.0 + drift) * step))) + 1
        y, my = on_grid(imu, i0, (1.0 + drift) * step, n, SMOOTH_S * (1.0 + drift))
        peak = (
            best_peak(*masked_ncc(x, mx, y, my, min_overlap), SIDE_PEAK_EXCLUSION_S * GRID_HZ)
            or peak
        )
    offset = i0 + (1.0 + drift) * (peak.lag * step - v0)
    return ClockSync(offset, drift, peak.correlation, peak.margin, kept > 0, kept, "auto")
