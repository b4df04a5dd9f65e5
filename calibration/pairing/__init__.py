"""Pairing real recordings: a video's pose track and an IMU log of the same session, their
clocks synced from the motion both saw, cut into the paired windows of PAIRS (DESIGN §3).

``harbridge pair`` runs :func:`pair_recordings` and :func:`write_pairs`; the formats it
reads are described in ``docs/FORMATS.md``.
"""

from harbridge.calibration.pairing.clock_sync import ClockSync, SyncError, estimate_sync
from harbridge.calibration.pairing.imu_csv import ImuLog, read_imu_csv
from harbridge.calibration.pairing.motion_energy import (
    MotionEnergy,
    imu_motion_energy,
    video_motion_energy,
)
from harbridge.calibration.pairing.pair import (
    HOP_S,
    WINDOW_S,
    PairOptions,
    RecordingInput,
    RecordingPairs,
    pair_recording,
    pair_recordings,
    recordings_in_folders,
    sync_recording,
    write_pairs,
)
from harbridge.calibration.pairing.video_input import VideoTrack, read_video

__all__ = [
    "HOP_S",
    "WINDOW_S",
    "ClockSync",
    "ImuLog",
    "MotionEnergy",
    "PairOptions",
    "RecordingInput",
    "RecordingPairs",
    "SyncError",
    "VideoTrack",
    "estimate_sync",
    "imu_motion_energy",
    "pair_recording",
    "pair_recordings",
    "read_imu_csv",
    "read_video",
    "recordings_in_folders",
    "sync_recording",
    "video_motion_energy",
    "write_pairs",
]
