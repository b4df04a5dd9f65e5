"""From recordings to PAIRS: read both sides, sync the clocks, cut windows, write the file.

Each recording is a video file (keypoints or per-frame features) and an IMU CSV of the
same session; each is synced on its own. All recordings must share the IMU channels and
rate. PAIRS (DESIGN §3) gets ``video`` (n, d_v), ``imu`` (n, T, C), ``sample_rate_hz``,
``channels``, ``units`` and ``subject``: the name of the recording each pair comes from,
so that ``calibrate`` holds out whole recordings, whose overlapping windows would
otherwise leak into the held-out pairs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from harbridge.calibration.pairing.clock_sync import (
    ClockSync,
    SyncError,
    estimate_sync,
    given_sync,
)
from harbridge.calibration.pairing.imu_csv import ImuLog, default_units, read_imu_csv
from harbridge.calibration.pairing.imu_grid import sample_grid
from harbridge.calibration.pairing.motion_energy import (
    imu_motion_energy,
    moving_samples,
    video_motion_energy,
)
from harbridge.calibration.pairing.video_input import (
    MIN_SCORE,
    VIDEO_SUFFIXES,
    VideoTrack,
    Wrist,
    read_video,
)
from harbridge.calibration.pairing.windows import PairedWindows, cut_paired_windows
from harbridge.errors import InputError

__all__ = [
    "HOP_S",
    "MIN_MOTION",
    "WINDOW_S",
    "PairOptions",
    "RecordingInput",
    "RecordingPairs",
    "pair_recording",
    "pair_recordings",
    "recordings_in_folders",
    "sync_recording",
    "write_pairs",
]

#: default window and hop, seconds: the simulator's 128 and 16 samples at 50 Hz
WINDOW_S = 2.56
HOP_S = 0.32
#: the built-in IMU encoder's shortest window, samples
MIN_WINDOW = 16
#: default least share of a window's IMU samples in motion: on simulated sessions,
#: dropping windows still for more than a fifth of their span keeps nearly every window
#: inside an action and lifts transfer accuracy by 4–6 points (docs/RESULTS.md)
MIN_MOTION = 0.8


@dataclass(frozen=True)
class PairOptions:
    """How to pair recordings.

    Attributes
    ----------
    window_s, hop_s : float
        Window length and hop, seconds (rounded to whole IMU samples).
    wrist : {"left", "right"}
        The wrist wearing the IMU.
    fps : float or None
        Frame rate of COCO JSON files that number their frames instead of timing them.
    min_score : float
        Keypoints scored below it are missing.
    channels : tuple of str or None
        IMU channels to keep; by default every CSV column but ``t``.
    min_motion : float
        Windows whose arm is in motion for less than this share are skipped as still.
    """

    window_s: float = WINDOW_S
    hop_s: float = HOP_S
    wrist: Wrist = "right"
    fps: float | None = None
    min_score: float = MIN_SCORE
    channels: tuple[str, ...] | None = None
    min_motion: float = MIN_MOTION


@dataclass(frozen=True)
class RecordingInput:
    """One recording to pair: its name, both files, and the offset if the user knows it."""

    name: str
    video: Path
    imu: Path
    offset_s: float | None = None


@dataclass(frozen=True, eq=False)
class RecordingPairs:
    """The pairs of one recording and how they were made.

    Attributes
    ----------
    recording : RecordingInput
    sync : ClockSync
    energy : tuple of (str, str)
        What the video's and the IMU's motion energies measure.
    rate_hz : float
        Nominal IMU rate.
    channels, units : tuple of str
    windows : PairedWindows
    dropped : mapping of str to int
        IMU CSV lines dropped, by kind.
    """

    recording: RecordingInput
    sync: ClockSync
    energy: tuple[str, str]
    rate_hz: float
    channels: tuple[str, ...]
    units: tuple[str, ...]
    windows: PairedWindows
    dropped: Mapping[str, int]


def sync_recording(
    track: VideoTrack, log: ImuLog, wrist: Wrist, offset_s: float | None = None
) -> tuple[ClockSync, tuple[str, str]]:
    """Sync one recording, or take the offset given; refuse an untrustworthy estimate.

    Returns
    -------
    sync : ClockSync
    energy : (str, str)
        What the two motion energies measure.

    Raises
    ------
    InputError
        When the offset cannot be estimated or not trusted; the line suggests ``--sync``.
    """
    video, imu = video_motion_energy(track, wrist), imu_motion_energy(log)
    energy = (video.source, imu.source)
    if offset_s is not None:
        return given_sync(offset_s), energy
    hint = "; if you know the offset, pass --sync SECONDS (IMU clock minus video clock)."
    try:
        sync = estimate_sync(video, imu)
    except SyncError as exc:
        raise InputError(track.path, "sync", f"{exc}{hint}") from exc
    doubt = sync.doubt()
    if doubt is not None:
        raise InputError(track.path, "sync", f"{doubt}{hint}")
    return sync, energy


def _window_samples(options: PairOptions, rate_hz: float, source: Path) -> tuple[int, int]:
    window, hop = round(options.window_s * rate_hz), round(options.hop_s * rate_hz)
    if window < MIN_WINDOW:
        raise InputError(
            source,
            "--window",
            f"{options.window_s:g} s is {window} samples at {rate_hz:g} Hz; the IMU encoder "
            f"needs at least {MIN_WINDOW}, so pass --window {MIN_WINDOW / rate_hz:.3g} or more.",
        )
    if hop < 1:
        raise InputError(
            source, "--hop", f"{options.hop_s:g} s is less than one sample at {rate_hz:g} Hz."
        )
    return window, hop


def _no_windows(track: VideoTrack, log: ImuLog, sync: ClockSync, windows: PairedWindows) -> str:
    if windows.candidates:
        return (
            f"all {windows.candidates} windows were skipped ({windows.missing_imu} for missing "
            f"IMU samples, {windows.still} with the arm still, {windows.missing_video} for "
            "frames without the arms)"
            + ("; --min-motion 0 keeps still windows" if windows.still else "")
        )
    imu_start, imu_end = sync.to_video([log.t[0], log.t[-1]])
    overlap = min(track.t[-1], imu_end) - max(track.t[0], imu_start)
    return (
        f"after sync the recordings overlap for {max(overlap, 0.0):.2f} s (video "
        f"{track.t[0]:.2f}–{track.t[-1]:.2f} s, IMU {imu_start:.2f}–{imu_end:.2f} s on the video "
        "clock), less than one window; check that both files are of the same session"
    )


def pair_recording(recording: RecordingInput, options: PairOptions) -> RecordingPairs:
    """Read, sync and window one recording.

    Raises
    ------
    InputError
        Bad files, an untrustworthy sync, or no window inside both recordings.
    """
    track = read_video(recording.video, fps=options.fps, min_score=options.min_score)
    log = read_imu_csv(recording.imu, options.channels)
    grid = sample_grid(log.t)
    window, hop = _window_samples(options, grid.rate_hz, recording.imu)
    sync, energy = sync_recording(track, log, options.wrist, recording.offset_s)
    windows = cut_paired_windows(
        track,
        log,
        grid,
        sync,
        window=window,
        hop=hop,
        moving=moving_samples(imu_motion_energy(log)),
        min_moving=options.min_motion,
    )
    if not len(windows):
        raise InputError(recording.video, "windows", _no_windows(track, log, sync, windows))
    return RecordingPairs(
        recording,
        sync,
        energy,
        grid.rate_hz,
        log.channels,
        default_units(log.channels),
        windows,
        log.dropped,
    )


def _same(results: Sequence[RecordingPairs]) -> None:
    """Refuse recordings whose pairs cannot share one PAIRS file."""
    first = results[0]

    def shown(value: object) -> str:
        return ",".join(map(str, value)) if isinstance(value, tuple) else f"{value:g}"

    for other in results[1:]:
        for field, source, a, b in (
            ("channels", other.recording.imu, first.channels, other.channels),
            ("sample rate", other.recording.imu, first.rate_hz, other.rate_hz),
            ("window", other.recording.imu, first.windows.imu.shape[1], other.windows.imu.shape[1]),
            ("video features", other.recording.video, first.windows.video.shape[1],
             other.windows.video.shape[1]),
        ):  # fmt: skip
            if a != b:
                raise InputError(
                    source,
                    field,
                    f"{shown(b)} here but {shown(a)} in {first.recording.name}; every recording "
                    "in one PAIRS file needs the same IMU channels and rate, and the same kind "
                    "of video.",
                )


def pair_recordings(
    recordings: Sequence[RecordingInput], options: PairOptions
) -> list[RecordingPairs]:
    """Pair several recordings, each synced on its own; they must agree on channels, rate
    and video features.

    Raises
    ------
    InputError
        As :func:`pair_recording`, for the first recording that fails, or when they
        disagree.
    """
    if not recordings:
        raise InputError("command line", "--video", "no recording to pair.")
    results = [pair_recording(recording, options) for recording in recordings]
    _same(results)
    return results


def recordings_in_folders(video_dir: Path, imu_dir: Path) -> list[RecordingInput]:
    """Match the video files and IMU CSVs of two folders by name (the part before the suffix).

    Raises
    ------
    InputError
        A name on one side only, or no recording at all.
    """
    if video_dir.resolve() == imu_dir.resolve():
        raise InputError(
            imu_dir,
            "--imu",
            "is the video folder too; put the videos and the IMU logs in two folders, one "
            "file per recording each, with matching names.",
        )
    videos = {p.stem: p for p in sorted(video_dir.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES}
    imus = {p.stem: p for p in sorted(imu_dir.iterdir()) if p.suffix.lower() == ".csv"}
    for here, there, folder, other in (
        (videos, imus, video_dir, imu_dir),
        (imus, videos, imu_dir, video_dir),
    ):
        alone = sorted(set(here) - set(there))
        if alone:
            raise InputError(
                folder,
                alone[0],
                f"has no file of the same name in {other} ({len(alone)} unmatched); every "
                "recording needs a video and an IMU file with matching names.",
            )
    if not videos:
        raise InputError(video_dir, "--video", "holds no .json, .csv or .npz video file.")
    return [RecordingInput(name, videos[name], imus[name]) for name in sorted(videos)]


def write_pairs(path: Path, results: Sequence[RecordingPairs]) -> int:
    """Write PAIRS atomically (all or nothing); return the number of pairs.

    Parameters
    ----------
    path : Path
    results : sequence of RecordingPairs
        Non-empty, agreeing on channels and rate.
    """
    first = results[0]
    names = np.concatenate([np.full(len(r.windows), r.recording.name) for r in results])
    video = np.concatenate([r.windows.video for r in results]).astype(np.float32)
    arrays: dict[str, npt.NDArray[Any]] = {
        "video": video,
        "imu": np.concatenate([r.windows.imu for r in results]).astype(np.float32),
        "sample_rate_hz": np.asarray(first.rate_hz, dtype=np.float32),
        "channels": np.array(first.channels),
        "units": np.array(first.units),
        "subject": names.astype(str),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, allow_pickle=False, **arrays)
        os.replace(staging, path)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)
    return int(video.shape[0])
