"""Cutting a recording into paired IMU/video windows over its action segments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from harbridge.calibration.simulation.actions import ACTIONS
from harbridge.calibration.simulation.recording import IMU_RATE_HZ, Recording
from harbridge.calibration.simulation.video_encoder import D_VIDEO, encode_video_batch

__all__ = ["HOP", "WINDOW", "Windows", "cut_windows"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: IMU window length in samples (2.56 s at 50 Hz) and the hop between windows
WINDOW = 128
HOP = 16


@dataclass(frozen=True, eq=False)
class Windows:
    """Paired windows: the same time span seen by the IMU and by the camera.

    Attributes
    ----------
    imu : ndarray of shape (n, WINDOW, 6)
        Raw IMU samples.
    video : ndarray of shape (n, D_VIDEO)
        Video features of the keypoints in the same span.
    label : ndarray of shape (n,) int64
        Index into the class names.
    subject : ndarray of shape (n,) int64
        Subject number.
    t_start : ndarray of shape (n,)
        Start of each window on the recording clock, seconds.
    inside : ndarray of shape (n,)
        Share of each window that lies inside its action segment, in (0, 1].
    """

    imu: FloatArray
    video: FloatArray
    label: IntArray
    subject: IntArray
    t_start: FloatArray
    inside: FloatArray

    def __len__(self) -> int:
        return int(self.label.shape[0])

    def select(self, keep: npt.NDArray[np.bool_]) -> Windows:
        """The windows where ``keep`` (shape (n,)) is true, in order."""
        return Windows(
            imu=self.imu[keep],
            video=self.video[keep],
            label=self.label[keep],
            subject=self.subject[keep],
            t_start=self.t_start[keep],
            inside=self.inside[keep],
        )


def cut_windows(
    recording: Recording,
    window: int = WINDOW,
    hop: int = HOP,
    class_names: Sequence[str] = ACTIONS,
    min_inside: float = 1.0,
) -> Windows:
    """The windows with at least ``min_inside`` of their span in an action segment, every
    ``hop`` IMU samples, labelled with that segment.

    Parameters
    ----------
    recording : Recording
    window, hop : int
        Window length and hop, in IMU samples.
    class_names : sequence of str
        Label order; every segment's label must be in it.
    min_inside : float
        In [0.5, 1]: 1 keeps the windows lying wholly inside an action; 0.5 also those that
        reach into the idle time around it by up to half their length, as windows cut from a
        continuous recording and labelled by their majority do.

    Returns
    -------
    Windows
        The video window spans the IMU window's time, ``[t, t + window / 50 Hz)``.
    """
    if not 0.5 <= min_inside <= 1.0:
        raise ValueError(f"min_inside must lie in [0.5, 1], got {min_inside}")
    starts: list[int] = []
    labels: list[int] = []
    shares: list[float] = []
    n_samples = recording.imu.shape[0]
    for segment in recording.segments:
        # A segment's samples, and the window starts that keep min_inside of them.
        begin = int(np.ceil(segment.t_start * IMU_RATE_HZ))
        end = int(np.floor(segment.t_end * IMU_RATE_HZ))
        reach = int(np.floor((1.0 - min_inside) * window))
        first = max(begin - reach, 0)
        last = min(end - window + reach, n_samples - window)
        segment_starts = range(first, last + 1, hop)
        starts.extend(segment_starts)
        labels.extend([class_names.index(segment.label)] * len(segment_starts))
        shares.extend(
            (min(start + window, end) - max(start, begin)) / window for start in segment_starts
        )
    span = window / IMU_RATE_HZ
    video_windows = []
    for start in starts:
        t0 = recording.imu_t[start]
        frames = (recording.frame_t >= t0) & (recording.frame_t < t0 + span)
        video_windows.append((recording.keypoints[frames], recording.frame_t[frames]))
    index = np.asarray(starts, dtype=np.int64)
    imu = recording.imu[index[:, None] + np.arange(window)] if starts else np.empty((0, window, 6))
    return Windows(
        imu=imu,
        video=encode_video_batch(video_windows) if starts else np.empty((0, D_VIDEO)),
        label=np.asarray(labels, dtype=np.int64),
        subject=np.full(len(starts), recording.subject, dtype=np.int64),
        t_start=recording.imu_t[index],
        inside=np.asarray(shares, dtype=np.float64),
    )
