"""ONNX part graphs: equal to their numpy twins, deterministic, and fusable."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from numpy.testing import assert_allclose

from harbridge.calibration.gaussian import GaussianClassifier
from harbridge.models.affine import affine, build_affine
from harbridge.models.compose import compose
from harbridge.models.gaussian_head import build_gaussian_head, gaussian_head
from harbridge.models.onnx_graph import IR_VERSION, OPSET


def test_affine_graph_equals_numpy_twin() -> None:
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(5, 30)), rng.normal(size=5)
    X = rng.normal(size=(64, 30)).astype(np.float32)
    session = ort.InferenceSession(
        build_affine(W, b, "imu_features", "latent", "t").SerializeToString()
    )
    (out,) = session.run(None, {"imu_features": X})
    assert_allclose(out, affine(X, W, b), rtol=1e-5, atol=1e-5)
    assert_allclose(out, X @ W.T + b, rtol=1e-4, atol=1e-4)


def test_graphs_are_byte_identical_for_identical_weights() -> None:
    rng = np.random.default_rng(1)
    W, b = rng.normal(size=(3, 8)), rng.normal(size=3)
    first = build_affine(W, b, "a", "b", "doc").SerializeToString()
    second = build_affine(W.copy(), b.copy(), "a", "b", "doc").SerializeToString()
    assert first == second


def test_fused_pipeline_equals_chained_twins_and_has_opset_and_ir() -> None:
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(300, 3))
    y = rng.integers(0, 4, 300)
    head = GaussianClassifier().fit(Z + y[:, None], y, 4)
    W, b = rng.normal(size=(3, 11)), rng.normal(size=3)
    pipeline = compose(
        [
            ("imu_to_latent", build_affine(W, b, "imu_features", "latent", "t")),
            ("head", build_gaussian_head(head.parameters_)),
        ],
        ["probs", "latent", "ood"],
        "pipeline",
        "test",
    )
    onnx.checker.check_model(pipeline, full_check=True)
    assert pipeline.ir_version == IR_VERSION
    assert pipeline.opset_import[0].version == OPSET
    X = rng.normal(size=(17, 11)).astype(np.float32)
    probs, latent, ood = ort.InferenceSession(pipeline.SerializeToString()).run(
        None, {"imu_features": X}
    )
    twin_latent = affine(X, W, b)
    twin_probs, twin_ood = gaussian_head(twin_latent, head.parameters_)
    assert_allclose(latent, twin_latent, rtol=1e-5, atol=1e-5)
    assert_allclose(probs, twin_probs, atol=1e-5)
    assert_allclose(ood, twin_ood, rtol=1e-5, atol=1e-5)
