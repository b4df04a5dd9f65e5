"""Writing the simulated dataset to a directory (DESIGN §3 file formats), all or nothing.

Files are written into a temporary sibling directory that is renamed into place at the
end, so an interrupted run never leaves a half-written dataset. The ``.npz`` archives are
written with fixed timestamps: the same seed gives byte-identical files.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from harbridge import __version__
from harbridge.calibration.atomic_dir import replacing_directory
from harbridge.calibration.simulation.dataset import (
    N_SUBJECTS,
    REPETITIONS,
    STREAM_REPETITIONS,
    SimulatedDataset,
    build_dataset,
)
from harbridge.calibration.simulation.imu import CHANNELS, UNITS
from harbridge.calibration.simulation.recording import IMU_RATE_HZ, VIDEO_FPS, Recording
from harbridge.calibration.simulation.video_encoder import N_FRAMES
from harbridge.calibration.simulation.windows import HOP, WINDOW, Windows
from harbridge.errors import InputError

__all__ = ["FILES", "GENERATOR", "SimulationSummary", "simulate_dataset", "write_dataset"]

#: value of ``generator`` in ``dataset.json``; marks a directory as simulate's own output
GENERATOR = "harbridge simulate"

#: every file ``simulate`` writes, with what it holds
FILES: dict[str, str] = {
    "pairs.npz": (
        "paired video/IMU windows of the training subjects, each at least half inside an "
        "action as when cut from a continuous recording, no labels: video (n, d_v), "
        "imu (n, T, 6), sample_rate_hz, channels, units, subject (n,)"
    ),
    "labeled_video.npz": (
        "video features of the same training windows with the label of the action filling "
        "most of each: video (m, d_v), label (m,), class_names (K,)"
    ),
    "train_imu.npz": (
        "IMU windows of the training subjects lying wholly inside an action, with labels: "
        "ONLY for the supervised-ceiling baseline of the benchmarks; calibration never reads it"
    ),
    "test_imu.npz": (
        "IMU windows of the held-out subjects lying wholly inside an action, with labels: "
        "imu (N, T, 6), sample_rate_hz, channels, units, label (N,), subject (N,), "
        "class_names (K,)"
    ),
    "stream.csv": (
        "a continuous 50 Hz recording of one held-out subject performing actions separated "
        "by idle periods; columns t,ax,ay,az,gx,gy,gz (s, m/s2, rad/s)"
    ),
    "stream_segments.csv": (
        "ground truth of stream.csv: one row t_start,t_end,label per action; idle is not a segment"
    ),
    "dataset.json": "this description, the seed and the counts",
}

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class SimulationSummary:
    """What :func:`simulate_dataset` wrote.

    Attributes
    ----------
    out_dir : Path
    seed : int
    class_names : tuple of str
    n_pairs : int
        Paired training windows (also the number of labelled video windows).
    n_test : int
        Held-out IMU windows.
    d_video : int
    train_subjects, test_subjects : tuple of int
    stream_subject : int
    stream_duration_s : float
    n_stream_segments : int
    """

    out_dir: Path
    seed: int
    class_names: tuple[str, ...]
    n_pairs: int
    n_test: int
    d_video: int
    train_subjects: tuple[int, ...]
    test_subjects: tuple[int, ...]
    stream_subject: int
    stream_duration_s: float
    n_stream_segments: int


def _save_npz(path: Path, arrays: Mapping[str, npt.ArrayLike]) -> None:
    """``numpy.savez`` with fixed member timestamps, so equal arrays give equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, value in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)


def _imu_fields(windows: Windows) -> dict[str, npt.ArrayLike]:
    return {
        "imu": windows.imu.astype(np.float32),
        "sample_rate_hz": np.float32(IMU_RATE_HZ),
        "channels": np.array(CHANNELS),
        "units": np.array(UNITS),
        "subject": windows.subject,
    }


def _write_stream(directory: Path, stream: Recording) -> None:
    table = np.column_stack([stream.imu_t, stream.imu])
    np.savetxt(
        directory / "stream.csv",
        table,
        fmt=["%.2f"] + ["%.5f"] * len(CHANNELS),
        delimiter=",",
        header=",".join(["t", *CHANNELS]),
        comments="",
    )
    with (directory / "stream_segments.csv").open("w", encoding="utf-8") as f:
        f.write("t_start,t_end,label\n")
        for segment in stream.segments:
            f.write(f"{segment.t_start:.2f},{segment.t_end:.2f},{segment.label}\n")


def _summary(dataset: SimulatedDataset, out_dir: Path) -> SimulationSummary:
    return SimulationSummary(
        out_dir=out_dir,
        seed=dataset.seed,
        class_names=dataset.class_names,
        n_pairs=len(dataset.train),
        n_test=len(dataset.test),
        d_video=int(dataset.train.video.shape[1]),
        train_subjects=tuple(int(s) for s in np.unique(dataset.train.subject)),
        test_subjects=tuple(int(s) for s in np.unique(dataset.test.subject)),
        stream_subject=dataset.stream.subject,
        stream_duration_s=dataset.stream.duration_s,
        n_stream_segments=len(dataset.stream.segments),
    )


def _description(summary: SimulationSummary) -> dict[str, object]:
    return {
        "generator": GENERATOR,
        "version": __version__,
        "seed": summary.seed,
        "classes": list(summary.class_names),
        "files": FILES,
        "protocol": "cross-subject: odd-numbered subjects train, even-numbered are held out",
        "subjects": {
            "train": list(summary.train_subjects),
            "test": list(summary.test_subjects),
            "stream": summary.stream_subject,
        },
        "counts": {
            "pairs": summary.n_pairs,
            "test_windows": summary.n_test,
            "stream_segments": summary.n_stream_segments,
            "stream_duration_s": round(summary.stream_duration_s, 2),
        },
        "imu": {
            "sample_rate_hz": IMU_RATE_HZ,
            "window": WINDOW,
            "hop": HOP,
            "channels": list(CHANNELS),
            "units": list(UNITS),
            "placement": "right wrist",
        },
        "video": {
            "fps": VIDEO_FPS,
            "keypoints": "COCO-17, 2-D, pinhole camera",
            "d_video": summary.d_video,
            "encoder": f"harbridge.calibration.simulation.video_encoder ({N_FRAMES} frames)",
        },
    }


def write_dataset(
    dataset: SimulatedDataset, directory: str | os.PathLike[str]
) -> SimulationSummary:
    """Write every file of :data:`FILES` into an existing, empty ``directory``.

    Parameters
    ----------
    dataset : SimulatedDataset
    directory : path-like

    Returns
    -------
    SimulationSummary
    """
    out = Path(directory)
    class_names = np.array(dataset.class_names)
    train, test = dataset.train, dataset.test
    _save_npz(out / "pairs.npz", {"video": train.video.astype(np.float32), **_imu_fields(train)})
    _save_npz(
        out / "labeled_video.npz",
        {"video": train.video.astype(np.float32), "label": train.label, "class_names": class_names},
    )
    # The supervised ceiling learns from clean windows: trained on the pairs' windows, whose
    # labels stop fitting as a window reaches into idle time, it scores lower.
    whole = train.select(train.inside >= 1.0)
    for name, windows in (("train_imu.npz", whole), ("test_imu.npz", test)):
        fields = {**_imu_fields(windows), "label": windows.label, "class_names": class_names}
        _save_npz(out / name, fields)
    _write_stream(out, dataset.stream)
    summary = _summary(dataset, out)
    text = json.dumps(_description(summary), indent=2) + "\n"
    (out / "dataset.json").write_text(text, encoding="utf-8")
    return summary


def _is_previous_output(directory: Path) -> bool:
    """Whether ``directory`` holds nothing but files an earlier ``simulate`` wrote."""
    try:
        description = json.loads((directory / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    names = {entry.name for entry in directory.iterdir()}
    return (
        isinstance(description, dict)
        and description.get("generator") == GENERATOR
        and names <= set(FILES)
    )


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(out, "--out", "exists and is not a directory; give a directory path")
    if out.is_dir() and any(out.iterdir()) and not _is_previous_output(out):
        raise InputError(
            out,
            "--out",
            "is a non-empty directory that is not the output of an earlier 'harbridge "
            "simulate'; give a new or empty directory so nothing of yours is overwritten",
        )


def simulate_dataset(
    out_dir: str | os.PathLike[str],
    seed: int = 0,
    *,
    n_subjects: int = N_SUBJECTS,
    repetitions: int = REPETITIONS,
    stream_repetitions: int = STREAM_REPETITIONS,
) -> SimulationSummary:
    """Simulate the dataset and write it to ``out_dir``, replacing it atomically.

    Parameters
    ----------
    out_dir : path-like
        New or empty directory, or the output of an earlier run (which is replaced).
    seed : int
        Non-negative seed; the same seed gives byte-identical files.
    n_subjects, repetitions, stream_repetitions : int
        Size of the dataset (see :func:`build_dataset`); the defaults are those of
        ``harbridge simulate``.

    Returns
    -------
    SimulationSummary

    Raises
    ------
    InputError
        If ``out_dir`` is a file, or a non-empty directory that simulate did not write,
        or if ``seed`` is negative.
    """
    if seed < 0:
        raise InputError("command line", "--seed", f"must be a non-negative integer, got {seed}")
    out = Path(out_dir)
    _check_out_dir(out)
    dataset = build_dataset(seed, n_subjects, repetitions, stream_repetitions)
    with replacing_directory(out) as staging:
        summary = write_dataset(dataset, staging)
        # Checked again: the directory may have changed while the dataset was simulated.
        _check_out_dir(out)
    return replace(summary, out_dir=out)
