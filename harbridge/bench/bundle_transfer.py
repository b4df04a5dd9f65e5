"""The bundle path: ``harbridge calibrate`` run as a user runs it, its bundle judged on the test.

The bundle's ``pipeline.onnx`` goes through onnxruntime on the raw test windows, as the
device runs it; :class:`BundleResult` also gives the bundle's own IMU features, so the
other methods and the ceiling see exactly what the bundle sees.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import onnx

from harbridge.bench.transfer_data import TransferData
from harbridge.calibration.dataset import Pairs, TestSet
from harbridge.errors import InputError

__all__ = ["BundleResult", "bundle_transfer"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BundleResult:
    """How a bundle written by ``harbridge calibrate`` does on the test set.

    Attributes
    ----------
    accuracy, macro_f1 : float
    bundle : Path
    manifest : dict
        The bundle's verified manifest.
    """

    accuracy: float
    macro_f1: float
    bundle: Path
    manifest: dict[str, Any]

    @property
    def rank(self) -> int:
        """The alignment's rank."""
        return int(self.manifest["alignment"]["rank"])

    @property
    def rel_cmae_holdout(self) -> float:
        """rel_CMAE on the pairs calibration held out (NaN when none)."""
        held = self.manifest["alignment"].get("rel_cmae_holdout")
        return float("nan") if held is None else float(held)

    def held_out(self, pairs: Pairs) -> npt.NDArray[np.bool_]:
        """Mask of the pairs calibration held out, when it held out whole subjects."""
        holdout = self.manifest["alignment"].get("holdout", {})
        if pairs.subject is None or holdout.get("by") != "subject":
            return np.zeros(pairs.video.shape[0], dtype=bool)
        return np.isin(pairs.subject, holdout.get("subjects", []))

    def features(self, data: TestSet | Pairs) -> FloatArray:
        """IMU features of labelled IMU or of pairs through the bundle's own encoder graph."""
        from harbridge.calibration.evaluation import pipeline_input
        from harbridge.calibration.imu_features import run_graph_outputs

        if isinstance(data, Pairs) and data.imu_features is not None:
            inputs = data.imu_features
        elif isinstance(data, Pairs):
            assert data.imu is not None
            inputs = data.imu.windows
        else:
            inputs = pipeline_input(self.manifest, data)
        encoder = self.manifest["graphs"].get("imu_encoder")
        if encoder is None:
            return np.asarray(inputs, dtype=np.float64)
        return np.asarray(run_graph_outputs(self.bundle / encoder, inputs)[0], dtype=np.float64)


def bundle_transfer(
    data: TransferData,
    bundle: Path,
    *,
    encoder: onnx.ModelProto | None = None,
    rank: int | Literal["auto"] = "auto",
    video_head: onnx.ModelProto | None = None,
) -> BundleResult:
    """``harbridge calibrate`` with default options, then its ``pipeline.onnx`` on the test.

    The command line itself runs, exactly as a user runs it; graphs it needs (an encoder,
    a video head) are saved beside the bundle first.

    Parameters
    ----------
    data : TransferData
    bundle : Path
        Where to write the bundle.
    encoder : onnx.ModelProto, optional
        Passed as ``--encoder``; default the built-in encoder.
    rank : int or "auto"
    video_head : onnx.ModelProto, optional
        Calibrate through ``--video-head`` with this head instead of ``--labeled``.

    Raises
    ------
    InputError
        When ``harbridge calibrate`` refuses the data (its message is on stderr).
    """
    from harbridge.calibration.bundle import load_manifest
    from harbridge.calibration.evaluation import evaluate_bundle
    from harbridge.cli import main

    args = ["calibrate", "--pairs", str(data.pairs.path), "--out", str(bundle)]
    if video_head is None:
        args += ["--labeled", str(data.labeled.path)]
    else:
        head = bundle.with_name(f"{bundle.name}-head.onnx")
        onnx.save(video_head, head)
        args += ["--video-head", str(head), "--classes", ",".join(data.labeled.class_names)]
    if encoder is not None:
        path = bundle.with_name(f"{bundle.name}-encoder.onnx")
        onnx.save(encoder, path)
        args += ["--encoder", str(path)]
    if rank != "auto":
        args += ["--rank", str(rank)]
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(args)
    if status != 0:
        raise InputError(data.pairs.path, "calibrate", f"'harbridge {' '.join(args)}' failed.")
    manifest = load_manifest(bundle)
    results = evaluate_bundle(bundle, manifest, data.test)
    return BundleResult(float(results["accuracy"]), float(results["macro_f1"]), bundle, manifest)
