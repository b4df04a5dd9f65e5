"""A user's own IMU feature encoder (``--encoder ENC.onnx``) in place of the built-in one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from harbridge.errors import InputError
from harbridge.models.foreign import load_foreign_model, probe, rename_io

__all__ = ["load_custom_encoder"]


def load_custom_encoder(path: Path, window: int, n_channels: int) -> onnx.ModelProto:
    """Load ENC.onnx: raw windows [N, T, C] → features [N, F], renamed ``imu`` → ``imu_features``.

    Raises
    ------
    InputError
        The graph does not accept [N, window, n_channels] float32 or does not give a 2-D output.
    """
    model = load_foreign_model(path)
    out = probe(model, path, np.zeros((2, window, n_channels), dtype=np.float32))
    if out.ndim != 2 or out.shape[0] != 2:
        raise InputError(
            path,
            "graph.output",
            f"must give one feature row per window ([N, F]), got shape {list(out.shape)} for "
            "2 windows.",
        )
    return rename_io(model, "imu", "imu_features", f"user IMU encoder {path.name}")
