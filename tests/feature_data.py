"""Small feature-mode datasets (PAIRS, LABELED, TEST) from a linear latent model, for CLI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_feature_dataset(
    folder: Path,
    *,
    n_pairs: int = 400,
    rank: int = 4,
    d_video: int = 24,
    d_imu: int = 10,
    n_classes: int = 3,
    seed: int = 0,
) -> dict[str, Path]:
    """Write ``pairs.npz``, ``labeled.npz``, ``test.npz`` of exactly rank-``rank`` features.

    The latent is a mixture of well-separated class Gaussians; video and IMU features are
    linear views of it, so perfect alignment transfers labels from video to IMU.
    """
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n_classes, rank)) * 6
    A_video = rng.normal(size=(rank, d_video))
    A_imu = rng.normal(size=(rank, d_imu))

    def sample(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        label = rng.integers(0, n_classes, n)
        z = means[label] + rng.normal(size=(n, rank))
        return label, (z @ A_video + 3).astype(np.float32), (z @ A_imu - 1).astype(np.float32)

    folder.mkdir(parents=True, exist_ok=True)
    _, video, imu = sample(n_pairs)
    label, labeled_video, _ = sample(n_pairs)
    test_label, _, test_imu = sample(n_pairs)
    names = np.array([f"action{c}" for c in range(n_classes)])
    paths = {
        "pairs": folder / "pairs.npz",
        "labeled": folder / "labeled.npz",
        "test": folder / "test.npz",
    }
    np.savez(
        paths["pairs"],
        video=video,
        imu_features=imu,
        subject=np.repeat(np.arange(8), n_pairs // 8 + 1)[:n_pairs],
    )
    np.savez(paths["labeled"], video=labeled_video, label=label, class_names=names)
    np.savez(paths["test"], imu_features=test_imu, label=test_label)
    return paths
