"""Calibrating and evaluating on raw IMU windows, at more than one rate and channel layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from numpy.testing import assert_allclose

from harbridge.cli import main
from harbridge.models.affine import affine
from harbridge.models.gaussian_head import gaussian_head, read_gaussian_head
from harbridge.models.imu_features import encode_imu
from harbridge.models.imu_spec import ImuEncoderSpec
from tests.raw_data import write_raw_dataset

LAYOUTS = [
    pytest.param(50.0, 128, ("ax", "ay", "az", "gx", "gy", "gz"), id="6ch-50Hz-128"),
    pytest.param(10.0, 100, ("gx", "gy", "gz"), id="gyro-10Hz-100"),
]


def calibrated(data: dict[str, Path], bundle: Path) -> Path:
    """Calibrate ``data`` with the default options into ``bundle``."""
    argv = ["calibrate", "--pairs", str(data["pairs"]), "--labeled", str(data["labeled"])]
    assert main([*argv, "--out", str(bundle)]) == 0
    return bundle


@pytest.mark.parametrize(("rate", "window", "channels"), LAYOUTS)
def test_raw_windows_calibrate_and_evaluate(
    tmp_path: Path, rate: float, window: int, channels: tuple[str, ...]
) -> None:
    data = write_raw_dataset(tmp_path / "data", rate_hz=rate, window=window, channels=channels)
    bundle = calibrated(data, tmp_path / "bundle")
    manifest = json.loads((bundle / "manifest.json").read_text())
    imu = manifest["imu"]
    assert imu == {
        "input": "imu",
        "sample_rate_hz": rate,
        "window": window,
        "channels": list(channels),
        "units": ["rad/s"] * len(channels),
        "encoder": "builtin",
        "feature_dim": imu["feature_dim"],
        "hop": window // 2,
    }
    session = ort.InferenceSession(str(bundle / "pipeline.onnx"))
    assert [i.name for i in session.get_inputs()] == ["imu"]
    assert session.get_inputs()[0].shape == ["N", window, len(channels)]
    out = tmp_path / "results.json"
    assert main(["evaluate", str(bundle), "--imu", str(data["test"]), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["accuracy"] > 0.9


def test_pipeline_equals_numpy_path(tmp_path: Path) -> None:
    channels = ("ax", "ay", "az", "gx", "gy", "gz")
    data = write_raw_dataset(tmp_path / "data", rate_hz=50.0, window=128, channels=channels)
    bundle = calibrated(data, tmp_path / "bundle")
    windows = np.load(data["pairs"])["imu"][:64]
    probs, latent, ood = ort.InferenceSession(str(bundle / "pipeline.onnx")).run(
        ["probs", "latent", "ood"], {"imu": windows}
    )

    import onnx
    from onnx import numpy_helper

    def weights(name: str) -> dict[str, np.ndarray]:
        model = onnx.load(str(bundle / name))
        return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}

    projection = weights("imu_to_latent.onnx")
    features = encode_imu(windows, ImuEncoderSpec(50.0, 128, channels))
    twin_latent = affine(features, projection["weight"].T, projection["bias"])
    parameters = read_gaussian_head(onnx.load(str(bundle / "head.onnx")))
    twin_probs, twin_ood = gaussian_head(twin_latent, parameters)
    assert_allclose(latent, twin_latent, rtol=1e-4, atol=1e-4)
    assert_allclose(probs, twin_probs, atol=1e-4)
    assert_allclose(ood, twin_ood, rtol=1e-4, atol=1e-4)
