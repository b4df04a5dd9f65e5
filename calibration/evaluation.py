"""Evaluating a bundle on labelled IMU test data, through ``pipeline.onnx`` — the device's path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from harbridge.calibration.dataset import TestSet
from harbridge.calibration.imu_features import run_graph_outputs
from harbridge.calibration.metrics import accuracy, confusion_matrix, macro_f1
from harbridge.errors import InputError

__all__ = ["evaluate_bundle", "pipeline_input"]


def pipeline_input(manifest: dict[str, Any], test: TestSet) -> npt.NDArray[np.float32]:
    """The test data as ``pipeline.onnx`` wants it; raw channels are matched by name.

    Raises
    ------
    InputError
        Features where the bundle wants raw windows (or the reverse), another feature
        dimension, rate or window length, or a channel the bundle needs that the file lacks.
    """
    imu = manifest["imu"]
    if imu["input"] == "imu_features":
        if test.imu_features is None:
            raise InputError(
                test.path,
                "imu_features",
                "missing: this bundle was calibrated on IMU features, so the test file must "
                "hold 'imu_features'.",
            )
        if test.imu_features.shape[1] != imu["feature_dim"]:
            raise InputError(
                test.path,
                "imu_features",
                f"has {test.imu_features.shape[1]} features per row but the bundle expects "
                f"{imu['feature_dim']}.",
            )
        return test.imu_features
    if test.imu is None:
        raise InputError(
            test.path,
            "imu",
            "missing: this bundle takes raw IMU windows, so the test file must hold 'imu' "
            "with 'sample_rate_hz' and 'channels'.",
        )
    raw = test.imu
    if not np.isclose(raw.sample_rate_hz, imu["sample_rate_hz"]):
        raise InputError(
            test.path,
            "sample_rate_hz",
            f"is {raw.sample_rate_hz:g} Hz but the bundle was calibrated at "
            f"{imu['sample_rate_hz']:g} Hz; resample the windows.",
        )
    if raw.windows.shape[1] != imu["window"]:
        raise InputError(
            test.path,
            "imu",
            f"windows have {raw.windows.shape[1]} samples but the bundle expects {imu['window']}.",
        )
    missing = [c for c in imu["channels"] if c not in raw.channels]
    if missing:
        raise InputError(
            test.path,
            "channels",
            f"lacks {missing}; the bundle needs channels {imu['channels']} (matched by name).",
        )
    order = [raw.channels.index(c) for c in imu["channels"]]
    return np.ascontiguousarray(raw.windows[:, :, order])


def evaluate_bundle(bundle: Path, manifest: dict[str, Any], test: TestSet) -> dict[str, Any]:
    """Accuracy, macro-F1, confusion matrix and per-class accuracy of the bundle on ``test``.

    Returns
    -------
    dict
        ``accuracy``, ``macro_f1``, ``confusion_matrix`` (K × K list, rows true),
        ``per_class_accuracy`` (class → float or None when the class is absent), ``n``,
        ``classes``, ``unknown_rate`` (share of windows past the OOD threshold), ``dataset``.
    """
    classes = list(manifest["classes"])
    probs, ood = run_graph_outputs(
        bundle / manifest["graphs"]["pipeline"], pipeline_input(manifest, test), ("probs", "ood")
    )
    predicted = np.argmax(probs, axis=1)
    matrix = confusion_matrix(test.label, predicted, len(classes))
    support = matrix.sum(axis=1)
    per_class = {
        name: (float(matrix[c, c] / support[c]) if support[c] else None)
        for c, name in enumerate(classes)
    }
    return {
        "dataset": str(test.path),
        "n": int(test.label.size),
        "classes": classes,
        "accuracy": accuracy(test.label, predicted),
        "macro_f1": macro_f1(test.label, predicted, len(classes)),
        "confusion_matrix": matrix.tolist(),
        "per_class_accuracy": per_class,
        "unknown_rate": float(np.mean(ood > manifest["head"]["ood_threshold"])),
    }
