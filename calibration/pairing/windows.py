"""Paired windows of a synced recording: IMU samples and the video frames of the same span.

Windows are :math:`T` consecutive slots of the IMU's sample grid, every ``hop`` slots,
wherever their span, carried to the video's clock by the sync, lies inside the video.
A window is skipped, and counted, when more than :data:`MAX_MISSING_IMU` of its IMU
samples are missing (the others are filled by linear interpolation); when the arm is in
motion for less than ``min_moving`` of it (the subject standing between actions: no
action class describes it, and such pairs teach the alignment little but sensor noise);
or when fewer than :data:`MIN_VIDEO_COVERAGE` of the frames its span should hold show
both shoulders and both wrists (or have a finite feature row).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from harbridge.calibration.pairing.clock_sync import ClockSync
from harbridge.calibration.pairing.imu_csv import ImuLog
from harbridge.calibration.pairing.imu_grid import SampleGrid
from harbridge.calibration.pairing.video_input import VideoTrack
from harbridge.calibration.simulation.video_encoder import encode_video

__all__ = ["MAX_MISSING_IMU", "MIN_VIDEO_COVERAGE", "PairedWindows", "cut_paired_windows"]

FloatArray = npt.NDArray[np.float64]

#: largest share of a window's IMU samples that may be missing (and interpolated)
MAX_MISSING_IMU = 0.1
#: least share of a window's expected frames that must show the arms
MIN_VIDEO_COVERAGE = 0.5
_EDGE_S = 1e-6


@dataclass(frozen=True, eq=False)
class PairedWindows:
    """The windows of one recording.

    Attributes
    ----------
    video : ndarray of shape (n, d_v)
        Video features of each window.
    imu : ndarray of shape (n, T, C)
        IMU samples of each window.
    t_imu : ndarray of shape (n,)
        Start of each window on the IMU's clock, seconds.
    t_video : ndarray of shape (n,)
        The same instants on the video's clock.
    candidates : int
        Windows inside the overlap of both recordings.
    missing_imu, still, missing_video : int
        Windows skipped for missing IMU samples, for too little motion, and for missing
        frames.
    """

    video: FloatArray
    imu: FloatArray
    t_imu: FloatArray
    t_video: FloatArray
    candidates: int
    missing_imu: int
    still: int
    missing_video: int

    def __len__(self) -> int:
        return int(self.video.shape[0])


def _slotted(values: FloatArray, grid: SampleGrid) -> FloatArray:
    """Rows of shape (n_slots, C) of per-sample ``values`` (n, C) on the grid, NaN in empty
    slots."""
    table = np.full((grid.n_slots, values.shape[1]), np.nan)
    kept = grid.slot >= 0
    table[grid.slot[kept]] = values[kept]
    return table


def _filled(window: FloatArray) -> FloatArray:
    """Fill the NaN rows of a (T, C) window by linear interpolation in time."""
    missing = np.isnan(window[:, 0])
    if not missing.any():
        return window
    index = np.arange(window.shape[0])
    out = window.copy()
    for c in range(window.shape[1]):
        out[missing, c] = np.interp(index[missing], index[~missing], window[~missing, c])
    return out


def _window_feature(track: VideoTrack, frames: slice, usable: npt.NDArray[np.bool_]) -> FloatArray:
    if track.keypoints is not None:
        return encode_video(track.keypoints[frames], track.t[frames])
    assert track.features is not None
    rows = track.features[frames][usable[frames]]
    return np.asarray(rows.mean(axis=0))


def cut_paired_windows(
    track: VideoTrack,
    log: ImuLog,
    grid: SampleGrid,
    sync: ClockSync,
    *,
    window: int,
    hop: int,
    moving: npt.NDArray[np.bool_] | None = None,
    min_moving: float = 0.0,
) -> PairedWindows:
    """Cut every window of ``window`` slots, every ``hop`` slots, inside both recordings.

    Parameters
    ----------
    track : VideoTrack
    log : ImuLog
    grid : SampleGrid
        The sample grid of ``log.t``.
    sync : ClockSync
        Maps the video's clock to the IMU's.
    window, hop : int
        Window length and hop in IMU samples.
    moving : ndarray of shape (n,) bool, optional
        Which IMU samples show the arm in motion; by default all.
    min_moving : float
        Least share of a window's samples in motion.

    Returns
    -------
    PairedWindows
    """
    first = int(np.ceil((float(sync.to_imu(track.t[0])) - grid.start) / grid.period_s))
    starts = np.arange(max(first, 0), grid.n_slots - window + 1, hop)
    t_start = sync.to_video(grid.slot_time(starts))
    t_end = sync.to_video(grid.slot_time(starts + window))
    inside = t_end <= track.t[-1]
    starts, t_start, t_end = starts[inside], t_start[inside], t_end[inside]
    table = _slotted(log.samples, grid)
    in_motion = np.ones(log.t.shape[0]) if moving is None else moving.astype(np.float64)
    motion = _slotted(in_motion[:, None], grid)[:, 0]
    usable = track.usable()
    # A frame on a window's boundary belongs to the window it starts, whatever the
    # rounding of the clock map: boundaries move back by a microsecond.
    first_frame = np.searchsorted(track.t, t_start - _EDGE_S, side="left")
    last_frame = np.searchsorted(track.t, t_end - _EDGE_S, side="left")
    video: list[FloatArray] = []
    imu: list[FloatArray] = []
    kept: list[int] = []
    missing_imu = still = missing_video = 0
    for i, start in enumerate(starts):
        samples = table[start : start + window]
        if np.isnan(samples[:, 0]).mean() > MAX_MISSING_IMU:
            missing_imu += 1
            continue
        if np.nanmean(motion[start : start + window]) < min_moving:
            still += 1
            continue
        frames = slice(int(first_frame[i]), int(last_frame[i]))
        expected = (t_end[i] - t_start[i]) * track.fps
        if usable[frames].sum() < MIN_VIDEO_COVERAGE * expected:
            missing_video += 1
            continue
        video.append(_window_feature(track, frames, usable))
        imu.append(_filled(samples))
        kept.append(i)
    n_channels = log.samples.shape[1]
    return PairedWindows(
        video=np.stack(video) if video else np.empty((0, 0)),
        imu=np.stack(imu) if imu else np.empty((0, window, n_channels)),
        t_imu=grid.slot_time(starts[kept]),
        t_video=t_start[kept],
        candidates=int(starts.shape[0]),
        missing_imu=missing_imu,
        still=still,
        missing_video=missing_video,
    )
