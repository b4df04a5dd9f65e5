"""Cutting a recording into paired IMU/video windows inside its action segments."""

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
    """

    imu: FloatArray
    video: FloatArray
    label: IntArray
    subject: IntArray
    t_start: FloatArray

    def __len__(self) -> int:
        return int(self.label.shape[0])


def cut_windows(
    recording: Recording,
    window: int = WINDOW,
    hop: int = HOP,
    class_names: Sequence[str] = ACTIONS,
) -> Windows:
    """All windows lying entirely inside an action segment, every ``hop`` IMU samples.

    Parameters
    ----------
    recording : Recording
    window, hop : int
        Window length and hop, in IMU samples.
    class_names : sequence of str
        Label order; every segment's label must be in it.

    Returns
    -------
    Windows
        The video window spans the IMU window's time, ``[t, t + window / 50 Hz)``.
    """
    starts: list[int] = []
    labels: list[int] = []
    for segment in recording.segments:
        first = int(np.ceil(segment.t_start * IMU_RATE_HZ))
        last = int(np.floor(segment.t_end * IMU_RATE_HZ)) - window
        segment_starts = range(first, min(last, recording.imu.shape[0] - window) + 1, hop)
        starts.extend(segment_starts)
        labels.extend([class_names.index(segment.label)] * len(segment_starts))
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
    )
