"""The data set of ``harbridge bench transfer``: read from files, or simulated for the run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from harbridge.bench.transfer_sizes import FULL, Sizes
from harbridge.calibration.dataset import LabeledVideo, Pairs, TestSet

__all__ = ["TransferData", "load_files", "simulated"]


@dataclass(frozen=True)
class TransferData:
    """One data set: unlabelled pairs, labelled video, labelled test IMU, training IMU labels.

    Attributes
    ----------
    name : str
        What the data are, for the notes.
    pairs : Pairs
    labeled : LabeledVideo
    test : TestSet
        IMU of held-out subjects with labels: what accuracy is measured on.
    train_imu : TestSet or None
        IMU of the training subjects with labels, for the ceiling only.
    """

    name: str
    pairs: Pairs
    labeled: LabeledVideo
    test: TestSet
    train_imu: TestSet | None


def load_files(
    pairs: str | Path,
    labeled: str | Path,
    test: str | Path,
    train_imu: str | Path | None = None,
) -> TransferData:
    """Read a data set from its files (DESIGN §3); ``train_imu`` has the TEST format."""
    from harbridge.calibration.dataset import load_labeled, load_pairs, load_test

    labeled_video = load_labeled(labeled)
    n_classes = len(labeled_video.class_names)
    return TransferData(
        name=f"`{pairs}`, `{labeled}`, tested on `{test}`",
        pairs=load_pairs(pairs),
        labeled=labeled_video,
        test=load_test(test, n_classes),
        train_imu=None if train_imu is None else load_test(train_imu, n_classes),
    )


def simulated(seed: int, sizes: Sizes, directory: str | Path) -> TransferData:
    """Simulate a data set into ``directory`` as ``harbridge simulate`` does, and read it."""
    from harbridge.calibration.simulation import simulate_dataset

    out = Path(directory) / f"sim-{seed}"
    simulate_dataset(
        out,
        seed,
        n_subjects=sizes.n_subjects,
        repetitions=sizes.repetitions,
        stream_repetitions=sizes.stream_repetitions,
    )
    data = load_files(
        out / "pairs.npz", out / "labeled_video.npz", out / "test_imu.npz", out / "train_imu.npz"
    )
    size = (
        ""
        if (sizes.n_subjects, sizes.repetitions) == (FULL.n_subjects, FULL.repetitions)
        else f" with {sizes.n_subjects} subjects × {sizes.repetitions} repetitions"
    )
    return dataclasses.replace(data, name=f"`harbridge simulate --seed {seed}`{size}")
