"""Raw simulated recordings in the formats a real session leaves behind, with their clocks.

A camera and a wrist IMU record the same session but start, stop and keep time on their
own: the video's clock reads 0 at its first frame, the IMU's at its first sample, and
the IMU's clock runs ``drift`` fast. An instant at video time ``t`` reads
``offset + (1 + drift) · t`` on the IMU's clock (the model of
:mod:`harbridge.calibration.pairing.clock_sync`). Each recording gets its own offset,
uniform in ±``max_offset_s``, and drift, uniform in ±``max_drift_ppm``: the camera or the
IMU started that much later (the other's first seconds are cut), and each stops up to a
second before the session ends.

Files: ``video/NAME.json``, COCO-17 keypoints at 30 fps as a pose estimator writes them
(score 0 where the detector missed a keypoint, ``null`` for a dropped frame);
``imu/NAME.csv``, the serial CSV at 50 Hz (``t,ax,ay,az,gx,gy,gz``, s, m/s², rad/s);
``recordings.json``, the truth: offset, drift and action segments (video clock) of each.
There is one session per training subject of the simulated dataset, every action
performed ``repetitions`` times in a random order (about five minutes, long enough for
the drift to show), so PAIRS made from them by ``harbridge pair`` can be compared with
the simulator's own ``pairs.npz`` of the same subjects.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from harbridge import __version__
from harbridge.calibration.atomic_dir import replacing_directory
from harbridge.calibration.simulation.actions import ACTIONS
from harbridge.calibration.simulation.dataset import N_SUBJECTS, REPETITIONS
from harbridge.calibration.simulation.imu import CHANNELS
from harbridge.calibration.simulation.recording import (
    IMU_RATE_HZ,
    VIDEO_FPS,
    Recording,
    simulate_recording,
)
from harbridge.calibration.simulation.subjects import make_subjects
from harbridge.errors import InputError

__all__ = [
    "GENERATOR",
    "MAX_DRIFT_PPM",
    "MAX_OFFSET_S",
    "RawRecording",
    "RawRecordingsSummary",
    "Session",
    "check_out_dir",
    "coco_document",
    "imu_csv_text",
    "raw_recording",
    "training_sessions",
    "write_raw_recordings",
]

FloatArray = npt.NDArray[np.float64]

#: value of ``generator`` in ``recordings.json``; marks a directory as this module's output
GENERATOR = "harbridge simulate --recordings"
MAX_OFFSET_S = 5.0
MAX_DRIFT_PPM = 100.0
#: the most each device stops before the end of the session, seconds
MAX_END_TRIM_S = 1.0
#: seed-path component of the sessions, apart from build_dataset's recordings
_SESSION_KEY = 2000
#: scores a pose estimator gives the keypoints it found
_SCORE_RANGE = (0.6, 1.0)


@dataclass(frozen=True, eq=False)
class RawRecording:
    """One recording as the two devices saw it, each on its own clock.

    Attributes
    ----------
    frame_t : ndarray of shape (F,)
        Frame times on the video's clock, from 0 at 30 fps.
    keypoints : ndarray of shape (F, 17, 2)
        COCO-17 pixels, NaN where missed.
    imu_t : ndarray of shape (n,)
        Sample times on the IMU's clock, from 0.
    imu : ndarray of shape (n, 6)
    offset_s : float
        IMU clock reading at video time 0.
    drift : float
        Relative rate error of the IMU's clock.
    segments : tuple of (float, float, str)
        Actions as (start, end, label) on the video's clock.
    """

    frame_t: FloatArray
    keypoints: FloatArray
    imu_t: FloatArray
    imu: FloatArray
    offset_s: float
    drift: float
    segments: tuple[tuple[float, float, str], ...]


@dataclass(frozen=True)
class RawRecordingsSummary:
    """What :func:`write_raw_recordings` wrote."""

    out_dir: Path
    n_recordings: int
    duration_s: float
    max_abs_offset_s: float
    max_abs_drift_ppm: float


def raw_recording(
    recording: Recording, offset_s: float, drift: float, rng: np.random.Generator
) -> RawRecording:
    """Cut and re-time one simulated recording as two devices with their own clocks.

    Parameters
    ----------
    recording : Recording
        A simulated session on one clock.
    offset_s : float
        Wanted IMU-clock reading at video time 0; the device that starts later misses the
        other's first ``|offset_s|`` seconds. Rounded so that both devices start on one of
        their own samples; the exact value is returned.
    drift : float
        Relative rate error of the IMU's clock (1e-4 is 100 ppm).
    rng : numpy.random.Generator
        Draws the end trims.

    Returns
    -------
    RawRecording
    """
    lead = offset_s / (1.0 + drift)
    video_start = round(max(lead, 0.0) * VIDEO_FPS) / VIDEO_FPS
    imu_start = round(max(-lead, 0.0) * IMU_RATE_HZ) / IMU_RATE_HZ
    video_end, imu_end = recording.duration_s - rng.uniform(0.0, MAX_END_TRIM_S, size=2)
    eps = 1e-9
    frames = (recording.frame_t >= video_start - eps) & (recording.frame_t <= video_end)
    samples = (recording.imu_t >= imu_start - eps) & (recording.imu_t <= imu_end)
    return RawRecording(
        frame_t=recording.frame_t[frames] - video_start,
        keypoints=recording.keypoints[frames],
        imu_t=(1.0 + drift) * (recording.imu_t[samples] - imu_start),
        imu=recording.imu[samples],
        offset_s=(1.0 + drift) * (video_start - imu_start),
        drift=drift,
        segments=tuple(
            (s.t_start - video_start, s.t_end - video_start, s.label) for s in recording.segments
        ),
    )


def coco_document(
    frame_t: FloatArray, keypoints: FloatArray, rng: np.random.Generator
) -> dict[str, object]:
    """The frames document of ``docs/FORMATS.md``: ``{"fps", "frames": [{"t", "keypoints"}]}``.

    Parameters
    ----------
    frame_t : ndarray of shape (F,)
    keypoints : ndarray of shape (F, 17, 2)
        NaN where missed: written as ``[0, 0, 0]``, and a frame missed entirely as ``null``.
    rng : numpy.random.Generator
        Draws the scores of the keypoints found.
    """
    seen = np.all(np.isfinite(keypoints), axis=2)
    scores = np.round(rng.uniform(*_SCORE_RANGE, size=seen.shape), 3)
    frames: list[dict[str, object]] = []
    for t, points, found, score in zip(frame_t, keypoints, seen, scores, strict=True):
        listed: list[list[float]] | None = None
        if found.any():
            listed = [
                [round(float(x), 2), round(float(y), 2), float(s)] if ok else [0.0, 0.0, 0.0]
                for (x, y), ok, s in zip(points, found, score, strict=True)
            ]
        frames.append({"t": round(float(t), 6), "keypoints": listed})
    return {"fps": VIDEO_FPS, "keypoint_names": "COCO-17", "frames": frames}


def imu_csv_text(t: FloatArray, imu: FloatArray) -> str:
    """The serial CSV: header ``t,ax,ay,az,gx,gy,gz`` and one line per sample."""
    lines = [",".join(["t", *CHANNELS])]
    lines.extend(
        f"{ti:.6f}," + ",".join(f"{v:.5f}" for v in row) for ti, row in zip(t, imu, strict=True)
    )
    return "\n".join(lines) + "\n"


def _is_previous_output(directory: Path) -> bool:
    try:
        truth = json.loads((directory / "recordings.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    names = {entry.name for entry in directory.iterdir()}
    return (
        isinstance(truth, dict)
        and truth.get("generator") == GENERATOR
        and names <= {"video", "imu", "recordings.json"}
    )


def check_out_dir(out: Path) -> None:
    """Refuse a file, or a non-empty directory this module did not write."""
    if out.exists() and not out.is_dir():
        raise InputError(out, "--recordings", "exists and is not a directory; give a directory.")
    if out.is_dir() and any(out.iterdir()) and not _is_previous_output(out):
        raise InputError(
            out,
            "--recordings",
            "is a non-empty directory that is not an earlier 'simulate --recordings' output; "
            "give a new or empty directory so nothing of yours is overwritten.",
        )


@dataclass(frozen=True, eq=False)
class Session:
    """One simulated session on the simulation's single clock, before the devices cut it."""

    name: str
    recording: Recording


def training_sessions(
    seed: int, *, n_subjects: int = N_SUBJECTS, repetitions: int = REPETITIONS
) -> list[Session]:
    """One session per training (odd-numbered) subject: every action ``repetitions`` times
    in a random order, as a user would record it, long enough for the clock drift to show.

    Parameters
    ----------
    seed, n_subjects, repetitions : int
        As for :func:`~harbridge.calibration.simulation.dataset.build_dataset`, whose
        subject population this is.

    Returns
    -------
    list of Session
        Named ``subjectNN``.
    """
    sessions = []
    for subject in make_subjects(n_subjects, seed):
        if subject.number % 2 == 0:
            continue
        rng = np.random.default_rng([seed, subject.number, _SESSION_KEY])
        order = [str(a) for a in rng.permutation(np.repeat(ACTIONS, repetitions))]
        recording = simulate_recording(subject, order, [seed, subject.number, _SESSION_KEY, 1])
        sessions.append(Session(f"subject{subject.number:02d}", recording))
    return sessions


def _write(
    directory: Path,
    seed: int,
    *,
    n_subjects: int,
    repetitions: int,
    max_offset_s: float,
    max_drift: float,
) -> RawRecordingsSummary:
    (directory / "video").mkdir()
    (directory / "imu").mkdir()
    entries: list[dict[str, object]] = []
    offsets: list[float] = []
    drifts: list[float] = []
    duration = 0.0
    for session in training_sessions(seed, n_subjects=n_subjects, repetitions=repetitions):
        name, recording = session.name, session.recording
        rng = np.random.default_rng([seed, recording.subject, _SESSION_KEY, 2])
        offset = rng.uniform(-max_offset_s, max_offset_s)
        raw = raw_recording(recording, offset, rng.uniform(-max_drift, max_drift), rng)
        document = coco_document(raw.frame_t, raw.keypoints, rng)
        (directory / "video" / f"{name}.json").write_text(
            json.dumps(document, separators=(",", ":")), encoding="utf-8"
        )
        (directory / "imu" / f"{name}.csv").write_text(
            imu_csv_text(raw.imu_t, raw.imu), encoding="utf-8"
        )
        duration += recording.duration_s
        offsets.append(raw.offset_s)
        drifts.append(raw.drift)
        entries.append(
            {
                "name": name,
                "video": f"video/{name}.json",
                "imu": f"imu/{name}.csv",
                "subject": recording.subject,
                "offset_s": raw.offset_s,
                "drift_ppm": raw.drift * 1e6,
                "segments": [[round(a, 4), round(b, 4), label] for a, b, label in raw.segments],
            }
        )
    truth = {
        "generator": GENERATOR,
        "version": __version__,
        "seed": seed,
        "clock_model": "t_imu = offset_s + (1 + drift_ppm * 1e-6) * t_video",
        "video": {"fps": VIDEO_FPS, "format": "COCO-17 frames document, docs/FORMATS.md"},
        "imu": {"sample_rate_hz": IMU_RATE_HZ, "placement": "right wrist"},
        "recordings": entries,
    }
    (directory / "recordings.json").write_text(json.dumps(truth, indent=1) + "\n", "utf-8")
    return RawRecordingsSummary(
        directory,
        len(entries),
        duration,
        max(map(abs, offsets), default=0.0),
        1e6 * max(map(abs, drifts), default=0.0),
    )


def write_raw_recordings(
    out_dir: str | os.PathLike[str],
    seed: int = 0,
    *,
    n_subjects: int = N_SUBJECTS,
    repetitions: int = REPETITIONS,
    max_offset_s: float = MAX_OFFSET_S,
    max_drift_ppm: float = MAX_DRIFT_PPM,
) -> RawRecordingsSummary:
    """Write a raw session of each training subject to ``out_dir``, atomically.

    Parameters
    ----------
    out_dir : path-like
        New or empty directory, or an earlier output of this function (replaced).
    seed, n_subjects, repetitions : int
        As for :func:`~harbridge.calibration.simulation.dataset.build_dataset`: one
        session per training (odd-numbered) subject of its population, each action
        ``repetitions`` times.
    max_offset_s, max_drift_ppm : float
        Offsets and drifts are drawn uniformly within ± these.

    Returns
    -------
    RawRecordingsSummary

    Raises
    ------
    InputError
        ``out_dir`` is a file, or a non-empty directory this function did not write.
    """
    out = Path(out_dir)
    check_out_dir(out)
    with replacing_directory(out) as staging:
        summary = _write(
            staging,
            seed,
            n_subjects=n_subjects,
            repetitions=repetitions,
            max_offset_s=max_offset_s,
            max_drift=max_drift_ppm * 1e-6,
        )
    return RawRecordingsSummary(
        out,
        summary.n_recordings,
        summary.duration_s,
        summary.max_abs_offset_s,
        summary.max_abs_drift_ppm,
    )
