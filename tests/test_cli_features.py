"""`harbridge calibrate` / `evaluate` on feature files: end to end, and every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from harbridge.cli import main
from harbridge.models.onnx_graph import float_input, float_output, initializer, make_model
from tests.bad_input_support import assert_refused, cases, rewrite
from tests.feature_data import write_feature_dataset


@pytest.fixture
def data(tmp_path: Path) -> dict[str, Path]:
    return write_feature_dataset(tmp_path / "data")


def calibrate_args(data: dict[str, Path], out: Path, *extra: str) -> list[str]:
    """``harbridge calibrate`` of the feature files in ``data`` into ``out``."""
    pairs, labeled = str(data["pairs"]), str(data["labeled"])
    return ["calibrate", "--pairs", pairs, "--labeled", labeled, "--out", str(out), *extra]


def calibrate(data: dict[str, Path], out: Path, *extra: str) -> int:
    return main(calibrate_args(data, out, *extra))


def test_calibrate_and_evaluate_on_exact_features(data: dict[str, Path], tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    assert calibrate(data, bundle) == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["schema"] == "harbridge.bundle/1"
    assert manifest["classes"] == ["action0", "action1", "action2"]
    alignment = manifest["alignment"]
    assert alignment["rank"] == 4
    assert alignment["rank_choice"]["method"] == "exact"
    assert alignment["rel_cmae_train"] < 1e-5
    assert alignment["rel_cmae_holdout"] < 1e-5
    assert alignment["n_holdout"] > 0
    assert len(alignment["singular_values"]) >= 4
    assert set(manifest["files"]) >= {
        "pipeline.onnx",
        "imu_to_latent.onnx",
        "video_to_latent.onnx",
        "head.onnx",
        "report.html",
    }
    for name in manifest["files"]:
        assert name in manifest["files"] and (bundle / name).is_file()
    results_path = tmp_path / "results.json"
    assert (
        main(["evaluate", str(bundle), "--imu", str(data["test"]), "--json", str(results_path)])
        == 0
    )
    results = json.loads(results_path.read_text())
    assert results["accuracy"] > 0.95
    assert results["macro_f1"] > 0.95
    assert np.asarray(results["confusion_matrix"]).sum() == results["n"] == 400


def test_calibration_is_deterministic(data: dict[str, Path], tmp_path: Path) -> None:
    assert calibrate(data, tmp_path / "a") == 0
    assert calibrate(data, tmp_path / "b") == 0
    for name in ("pipeline.onnx", "imu_to_latent.onnx", "head.onnx"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_modified_bundle_is_refused(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle"
    assert calibrate(data, bundle) == 0
    pipeline = bundle / "pipeline.onnx"
    pipeline.write_bytes(pipeline.read_bytes()[:-1] + b"\x00")
    capsys.readouterr()
    assert main(["evaluate", str(bundle), "--imu", str(data["test"])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("harbridge: error: ") and "pipeline.onnx: sha256: does not match" in err


def softmax_regression_head(path: Path, W: np.ndarray, b: np.ndarray) -> None:
    """A video classifier exported to ONNX: logits = x Wᵀ + b (no softmax)."""
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W", "b"], ["logits"], transB=1)],
        "video_head",
        [float_input("x", ["batch", W.shape[1]])],
        [float_output("logits", ["batch", W.shape[0]])],
        initializer=[initializer("W", W), initializer("b", b)],
    )
    onnx.save(make_model(graph), str(path))


def test_existing_video_head_is_reused_on_imu(data: dict[str, Path], tmp_path: Path) -> None:
    labeled = np.load(data["labeled"])
    video, label = labeled["video"].astype(np.float64), labeled["label"]
    means = np.stack([video[label == c].mean(axis=0) for c in range(3)])
    W = means  # nearest-mean style linear head: argmax x·μ_c − ½‖μ_c‖²
    b = -0.5 * np.sum(means**2, axis=1)
    head = tmp_path / "head.onnx"
    softmax_regression_head(head, W, b)
    bundle = tmp_path / "bundle"
    args = [
        "calibrate",
        "--pairs",
        str(data["pairs"]),
        "--video-head",
        str(head),
        "--classes",
        "action0,action1,action2",
        "--out",
        str(bundle),
    ]
    assert main(args) == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["head"]["kind"] == "video_head"
    assert manifest["head"]["appended_softmax"] is True
    video_accuracy = np.mean(np.argmax(video @ W.T + b, axis=1) == label)
    out = tmp_path / "r.json"
    assert main(["evaluate", str(bundle), "--imu", str(data["test"]), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["accuracy"] == pytest.approx(video_accuracy, abs=0.05)


def _nan_video(d: dict[str, Path]) -> None:
    video = np.load(d["pairs"])["video"].copy()
    video[3, 2] = np.nan
    rewrite(d["pairs"], video=video)


def _inf_imu(d: dict[str, Path]) -> None:
    imu = np.load(d["pairs"])["imu_features"].copy()
    imu[7, 0] = np.inf
    rewrite(d["pairs"], imu_features=imu)


def _truncate(d: dict[str, Path]) -> None:
    d["pairs"].write_bytes(d["pairs"].read_bytes()[:300])


BAD_INPUTS: list[tuple[str, Callable[[dict[str, Path]], object], list[str], str]] = [
    (
        "mismatched pairs",
        lambda d: rewrite(d["pairs"], imu_features=np.ones((10, 10), np.float32)),
        [],
        "pairs.npz: imu_features: has 10 rows but video has 400",
    ),
    ("nan", _nan_video, [], "pairs.npz: video: holds 1 NaN or infinite values"),
    ("inf", _inf_imu, [], "pairs.npz: imu_features: holds 1 NaN or infinite values"),
    ("missing field", lambda d: rewrite(d["pairs"], video=None), [], "pairs.npz: video: missing"),
    (
        "wrong ndim",
        lambda d: rewrite(d["pairs"], video=np.ones((400, 2, 3), np.float32)),
        [],
        "pairs.npz: video: must be 2-D",
    ),
    (
        "zero rows",
        lambda d: rewrite(d["pairs"], video=np.ones((0, 24), np.float32)),
        [],
        "pairs.npz: video: has zero rows",
    ),
    (
        "non-numeric",
        lambda d: rewrite(d["pairs"], video=np.full((400, 24), "x")),
        [],
        "pairs.npz: video: must be numeric",
    ),
    (
        "not npz",
        lambda d: d["pairs"].write_text("hello"),
        [],
        "pairs.npz: file: is not a readable .npz",
    ),
    ("truncated", _truncate, [], "pairs.npz: file: is not a readable .npz"),
    ("missing file", lambda d: d["pairs"].unlink(), [], "pairs.npz: file: no such file"),
    (
        "labels out of range",
        lambda d: rewrite(d["labeled"], label=np.full(400, 7)),
        [],
        "labeled.npz: label: values must lie in [0, 3)",
    ),
    (
        "labelled dim",
        lambda d: rewrite(d["labeled"], video=np.ones((400, 5), np.float32)),
        [],
        "labeled.npz: video: has 5 features per row but the pairs' video has 24",
    ),
    (
        "rank 0",
        lambda d: None,
        ["--rank", "0"],
        "pairs.npz: --rank: rank must be a positive integer",
    ),
    (
        "rank too large",
        lambda d: None,
        ["--rank", "12"],
        "pairs.npz: --rank: rank 12 exceeds the imu feature dimension 10; perfect alignment needs rank ≤ 10. Pass --rank 10 or fewer.",
    ),
    (
        "rank text",
        lambda d: None,
        ["--rank", "many"],
        "pairs.npz: --rank: must be 'auto' or a positive integer, got 'many'",
    ),
]


@pytest.mark.parametrize(("breakage", "extra", "message"), cases(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_and_no_output(
    data: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    breakage: Callable[[dict[str, Path]], object],
    extra: list[str],
    message: str,
) -> None:
    breakage(data)
    out = tmp_path / "bundle"
    assert_refused(calibrate(data, out, *extra), capsys, message, out)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".bundle")] == []


def test_console_script_reports_bad_input_without_traceback(
    data: dict[str, Path], tmp_path: Path
) -> None:
    data["pairs"].write_text("not an archive")
    result = subprocess.run(
        [sys.executable, "-m", "harbridge", *calibrate_args(data, tmp_path / "b")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("harbridge: error: ") and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
