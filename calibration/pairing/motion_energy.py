"""Motion energy: how fast the arm moves, seen by the camera and felt by the IMU.

Clock sync cross-correlates the two. The camera's is the speed of the wrist keypoint on
the IMU's arm (pixels/s; for per-frame features, the speed of the feature vector). The
IMU's is the magnitude of the angular rate (rad/s): both are speeds of the forearm, so
they rise and fall together with no lag between them. A sensor without a gyroscope gives
the rate of change of its acceleration vector instead: as the forearm turns, gravity
turns in the sensor's frame, so that rate follows the angular rate (``g · |ω⊥|``) plus
the jerk of the motion; a sensor with neither trio of names gives the rate of change of
all its channels. On simulated 30 s recordings the gyroscope locates the offset within
16 ms nine times out of ten, the accelerometer alone within 28 ms, and more of its
estimates are refused as doubtful (``benchmarks/clock_sync.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter1d

from harbridge.calibration.pairing.imu_csv import ImuLog
from harbridge.calibration.pairing.video_input import VideoTrack, Wrist

__all__ = [
    "ACCEL_SMOOTH_S",
    "MOVING_LEVEL",
    "VIDEO_MAX_GAP_S",
    "MotionEnergy",
    "imu_motion_energy",
    "moving_samples",
    "on_grid",
    "video_motion_energy",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: longest span between two seen frames that still gives a speed (two missed frames at 30 fps)
VIDEO_MAX_GAP_S = 0.1
#: Gaussian smoothing of the acceleration before its rate of change, seconds: the
#: derivative of white sensor noise would otherwise drown the motion
ACCEL_SMOOTH_S = 0.05
#: a sample is in motion when its energy, smoothed over MOVING_SMOOTH_S, exceeds this share
#: of the recording's 95th percentile: a level relative to the recording's own motion,
#: whatever the sensor's units, and far above its noise while the arm rests
MOVING_LEVEL = 0.1
MOVING_SMOOTH_S = 0.1
#: gaps of the IMU's energy bridged by interpolation, in sample periods (one missing sample)
_IMU_MAX_GAP_PERIODS = 2.5

_GYRO = ("gx", "gy", "gz")
_ACCEL = ("ax", "ay", "az")


@dataclass(frozen=True, eq=False)
class MotionEnergy:
    """A motion-energy signal on its recording's own clock.

    Attributes
    ----------
    t : ndarray of shape (n,)
        Sample times in seconds, increasing.
    energy : ndarray of shape (n,)
        Non-negative motion energy.
    max_gap_s : float
        Samples further apart than this have no signal between them.
    source : str
        What the energy measures, in words.
    """

    t: FloatArray
    energy: FloatArray
    max_gap_s: float
    source: str


def video_motion_energy(track: VideoTrack, wrist: Wrist) -> MotionEnergy:
    """Speed of the wrist keypoint (or of the feature vector) between consecutive frames.

    Parameters
    ----------
    track : VideoTrack
    wrist : {"left", "right"}
        The wrist that wears the IMU (keypoint tracks only).

    Returns
    -------
    MotionEnergy
        One sample at the midpoint of each pair of consecutive frames in which the
        wrist was seen, no more than :data:`VIDEO_MAX_GAP_S` apart.
    """
    trajectory = track.motion_track(wrist)
    seen = np.all(np.isfinite(trajectory), axis=1)
    t, x = track.t[seen], trajectory[seen]
    dt = np.diff(t)
    close = dt <= VIDEO_MAX_GAP_S
    speed = np.linalg.norm(np.diff(x, axis=0), axis=1) / dt
    source = f"{wrist} wrist speed" if track.keypoints is not None else "feature speed"
    return MotionEnergy(((t[1:] + t[:-1]) / 2.0)[close], speed[close], VIDEO_MAX_GAP_S, source)


def imu_motion_energy(log: ImuLog) -> MotionEnergy:
    """Angular-rate magnitude, or the rate of change of the acceleration, per sample.

    Parameters
    ----------
    log : ImuLog

    Returns
    -------
    MotionEnergy
    """
    period = float(np.median(np.diff(log.t)))
    names = list(log.channels)
    if all(name in names for name in _GYRO):
        picked = log.samples[:, [names.index(n) for n in _GYRO]]
        return MotionEnergy(
            log.t,
            np.linalg.norm(picked, axis=1),
            _IMU_MAX_GAP_PERIODS * period,
            "angular-rate magnitude",
        )
    if all(name in names for name in _ACCEL):
        picked, source = log.samples[:, [names.index(n) for n in _ACCEL]], "acceleration"
    else:
        picked, source = log.samples, "channels"
    smooth = gaussian_filter1d(picked, ACCEL_SMOOTH_S / period, axis=0, mode="nearest")
    return MotionEnergy(
        log.t,
        np.linalg.norm(np.gradient(smooth, log.t, axis=0), axis=1),
        _IMU_MAX_GAP_PERIODS * period,
        f"rate of change of the {source}",
    )


def moving_samples(energy: MotionEnergy) -> BoolArray:
    """Which samples of shape (n,) show the arm in motion (see :data:`MOVING_LEVEL`)."""
    period = float(np.median(np.diff(energy.t)))
    smooth = gaussian_filter1d(energy.energy, MOVING_SMOOTH_S / period, mode="nearest")
    return np.asarray(smooth > MOVING_LEVEL * np.percentile(smooth, 95))


def on_grid(
    energy: MotionEnergy, start: float, step: float, n: int, smooth_s: float
) -> tuple[FloatArray, BoolArray]:
    """Motion energy on a uniform grid, smoothed, with where it is known.

    Parameters
    ----------
    energy : MotionEnergy
    start, step : float
        Grid times are ``start + step · i`` on the energy's clock, seconds.
    n : int
        Number of grid points.
    smooth_s : float
        Standard deviation of the Gaussian smoothing, seconds; it brings the camera's and
        the IMU's energies, sampled at different rates, to one bandwidth.

    Returns
    -------
    values : ndarray of shape (n,)
        Linear interpolation of the samples, smoothed over the known points only
        (normalised convolution); 0 where unknown.
    valid : ndarray of shape (n,) bool
        Grid points between two samples no more than ``max_gap_s`` apart.
    """
    grid = start + step * np.arange(n)
    t = energy.t
    valid = np.zeros(n, dtype=bool)
    values = np.zeros(n)
    if t.shape[0] < 2:
        return values, valid
    right = np.clip(np.searchsorted(t, grid, side="right"), 1, t.shape[0] - 1)
    valid = (grid >= t[0]) & (grid <= t[-1]) & (t[right] - t[right - 1] <= energy.max_gap_s)
    values = np.where(valid, np.interp(grid, t, energy.energy), 0.0)
    sigma = smooth_s / step
    weight = gaussian_filter1d(valid.astype(np.float64), sigma, mode="constant")
    smoothed = gaussian_filter1d(values, sigma, mode="constant")
    values = np.where(valid, smoothed / np.maximum(weight, 1e-12), 0.0)
    return values, valid
