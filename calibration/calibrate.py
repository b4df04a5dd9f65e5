"""Calibration end to end: pairs (+ labelled video or a video head) → bundle files and manifest."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import onnx

from harbridge import __version__
from harbridge.calibration.alignment import Accumulate, PerfectAlignment
from harbridge.calibration.blas_threads import one_blas_thread
from harbridge.calibration.bundle import SCHEMA
from harbridge.calibration.dataset import LabeledVideo, Pairs
from harbridge.calibration.errors import AlignmentError
from harbridge.calibration.gaussian import CrossModalCarry, GaussianClassifier
from harbridge.calibration.imu_features import ImuFeatureSource
from harbridge.calibration.shards import PairSource, Progress, accumulate_pairs, pairs_source
from harbridge.calibration.transfer_rank import (
    TransferRankChoice,
    choose_transfer_rank,
    rank_choice_manifest,
)
from harbridge.errors import InputError
from harbridge.models.affine import build_affine
from harbridge.models.compose import compose
from harbridge.models.gaussian_head import build_gaussian_head
from harbridge.models.video_head import adapt_video_head, head_outputs_are_probabilities

__all__ = ["REPORT_DATA", "CalibrationOptions", "VideoHeadSpec", "calibrate"]

#: bundle file with what the report plots beyond the manifest
REPORT_DATA = "report_data.json"
#: pairs whose latents the report shows
REPORT_PAIRS = 400


@dataclass(frozen=True)
class VideoHeadSpec:
    """A user's video head and the class names of its outputs."""

    path: Path
    model: onnx.ModelProto
    classes: tuple[str, ...]


@dataclass(frozen=True)
class CalibrationOptions:
    """Knobs of a calibration run (CLI options)."""

    rank: int | Literal["auto"] = "auto"
    ridge: float = 0.0
    holdout: float = 0.2
    covariance: Literal["per_class", "shared"] = "per_class"
    seed: int = 0
    hop: int | None = None
    engine: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    progress: Progress | None = None
    extra_manifest: dict[str, Any] = field(default_factory=dict)

    def accumulate(self) -> Accumulate:
        """What reads the pairs: this machine, or a Dask cluster (``scheduler`` or local)."""
        if self.engine == "dask":
            from harbridge.calibration.dask_gram import dask_accumulate

            return partial(dask_accumulate, scheduler=self.scheduler)
        return accumulate_pairs


def calibrate(
    pairs: Pairs | PairSource,
    labeled: LabeledVideo | None,
    video_head: VideoHeadSpec | None,
    encoder: ImuFeatureSource,
    options: CalibrationOptions,
) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Solve the alignment, fit the head, build every graph.

    Parameters
    ----------
    pairs : Pairs or PairSource
        Pairs in memory, or streamed (shard files, or generated; see
        :mod:`harbridge.calibration.shards`) — a stream delivers IMU features already.
    labeled, video_head
        What the head is fitted on: labelled video, or the user's video head.
    encoder : ImuFeatureSource
    options : CalibrationOptions

    Returns
    -------
    files : dict of str to bytes
        Bundle file name → content (ONNX graphs).
    manifest : dict
        The manifest without ``files`` (the bundle writer adds their sha256).
    """
    if isinstance(pairs, Pairs):
        source: PairSource = pairs_source(pairs, encoder.window_encoder(pairs.path))
    else:
        source = pairs
    alignment = PerfectAlignment(
        rank=options.rank, ridge=options.ridge, holdout=options.holdout, seed=options.seed
    )
    try:
        alignment.fit_source(source, accumulate=options.accumulate(), progress=options.progress)
        solver_choice = alignment.rank_choice_
        with one_blas_thread():
            transfer = _transfer_rank(alignment, labeled, options)
            if transfer is not None:
                # Solved again from the moments of the one pass: the pairs are not read twice.
                alignment = alignment.at_rank(transfer.rank)
    except AlignmentError as exc:
        imu_field = "imu" if encoder.model is not None else "imu_features"
        field_name = imu_field if exc.field == "imu" else exc.field
        raise InputError(source.path, field_name, exc.problem) from exc

    W_imu, b_imu = alignment.affine(1)
    W_video, b_video = alignment.affine(0)
    imu_input = encoder.output_name
    files: dict[str, onnx.ModelProto] = {
        "imu_to_latent.onnx": build_affine(
            W_imu, b_imu, imu_input, "latent", "IMU features -> aligned latent"
        ),
        "video_to_latent.onnx": build_affine(
            W_video, b_video, "video_features", "latent", "video features -> aligned latent"
        ),
    }
    encoder_part = [("imu_encoder", encoder.model)] if encoder.model is not None else []
    if encoder.model is not None:
        files["imu_encoder.onnx"] = encoder.model

    with one_blas_thread():
        if labeled is not None:
            head_manifest, head_parts = _gaussian_head(
                alignment, labeled, options, files, alignment.sample_.subject
            )
            classes = labeled.class_names
        else:
            assert video_head is not None
            head_manifest, head_parts = _video_head(alignment, encoder, video_head, files)
            classes = video_head.classes

    files["pipeline.onnx"] = compose(
        [*encoder_part, ("imu_to_latent", files["imu_to_latent.onnx"]), *head_parts],
        ["probs", "latent", "ood"],
        "harbridge_pipeline",
        "harbridge pipeline: IMU -> class probabilities, aligned latent, OOD distance",
    )
    manifest = {
        "schema": SCHEMA,
        "classes": list(classes),
        "imu": encoder.manifest_entry(options.hop),
        "video": {"feature_dim": alignment.dims_[0]},
        "alignment": _alignment_manifest(alignment, options),
        "head": head_manifest,
        "graphs": {
            "pipeline": "pipeline.onnx",
            "imu_to_latent": "imu_to_latent.onnx",
            "video_to_latent": "video_to_latent.onnx",
            **({"imu_encoder": "imu_encoder.onnx"} if encoder.model is not None else {}),
            **({"head": "head.onnx"} if "head.onnx" in files else {}),
            **({"imu_to_video": "imu_to_video.onnx"} if "imu_to_video.onnx" in files else {}),
        },
        "inputs": {"pairs": source.path, **({"labeled": str(labeled.path)} if labeled else {})},
        "versions": _versions(),
        **options.extra_manifest,
    }
    if transfer is not None:
        manifest["alignment"]["rank_choice"] = rank_choice_manifest(transfer, solver_choice)
    encoded = {name: model.SerializeToString() for name, model in files.items()}
    encoded[REPORT_DATA] = json.dumps(_report_data(alignment)).encode()
    return encoded, manifest


def _report_data(alignment: PerfectAlignment) -> dict[str, Any]:
    """Latents of up to ``REPORT_PAIRS`` pairs seen from both sides, for the report.

    Evenly spread over the solve's sample of pairs, in row order (over every pair of a
    set no larger than the sample).
    """
    video, imu = alignment.sample_.views[:2]
    rows = np.linspace(0, video.shape[0] - 1, num=min(REPORT_PAIRS, video.shape[0])).astype(int)
    return {
        "paired_latents": {
            "video": np.round(alignment.transform(0, video[rows]), 5).tolist(),
            "imu": np.round(alignment.transform(1, imu[rows]), 5).tolist(),
        }
    }


def _transfer_rank(
    alignment: PerfectAlignment,
    labeled: LabeledVideo | None,
    options: CalibrationOptions,
) -> TransferRankChoice | None:
    """The rank chosen for transfer (:mod:`~harbridge.calibration.transfer_rank`), or None.

    Only for ``--rank auto`` with labelled video, and only when the spectrum has no exact
    rank (then perfect alignment holds at that rank and there is nothing to choose).
    Chosen on the solve's sample of pairs (every pair up to ``SAMPLE_PAIRS``).
    """
    if (
        labeled is None
        or options.rank != "auto"
        or alignment.rank_choice_.method == "exact"
        or labeled.video.shape[1] != alignment.dims_[0]
    ):
        return None
    video, imu = alignment.sample_.views[:2]
    return choose_transfer_rank(
        video,
        imu,
        labeled.video,
        labeled.label,
        len(labeled.class_names),
        subject=alignment.sample_.subject,
        covariance=options.covariance,
        ridge=options.ridge,
    )


def _gaussian_head(
    alignment: PerfectAlignment,
    labeled: LabeledVideo,
    options: CalibrationOptions,
    files: dict[str, onnx.ModelProto],
    subject: npt.NDArray[Any] | None,
) -> tuple[dict[str, Any], list[tuple[str, onnx.ModelProto]]]:
    if labeled.video.shape[1] != alignment.dims_[0]:
        raise InputError(
            labeled.path,
            "video",
            f"has {labeled.video.shape[1]} features per row but the pairs' video has "
            f"{alignment.dims_[0]}; both must come from the same video encoder.",
        )
    # Class models are fitted on labelled video carried into the IMU latent, with what the
    # carry misses on unseen wearers as noise (CrossModalCarry); no IMU label is used.
    video, imu = alignment.sample_.views[:2]
    carry = CrossModalCarry().fit(video, imu, subject)
    W_imu, _ = alignment.affine(1)
    classifier = GaussianClassifier(covariance=options.covariance).fit(
        alignment.transform(1, carry.predict(labeled.video)),
        labeled.label,
        len(labeled.class_names),
        noise_covariance=W_imu @ carry.residual_covariance_ @ W_imu.T,
    )
    files["head.onnx"] = build_gaussian_head(classifier.parameters_)
    manifest = {
        "kind": "gaussian",
        "covariance": options.covariance,
        "shrinkage": [round(float(s), 6) for s in classifier.shrinkage_],
        "priors": [float(p) for p in classifier.priors_],
        "ood_threshold": classifier.ood_threshold_,
        "ood_rule": "unknown when the Mahalanobis distance to the nearest class exceeds the "
        "chi-square(rank) 0.999 quantile (ood_threshold)",
        "n_labeled": int(labeled.video.shape[0]),
        "cross_modal_noise": "class models are fitted on labelled video carried into the IMU "
        "latent by least squares on the pairs; class covariances include the covariance of "
        "what the carry misses, cross-fitted on held-out folds of pairs (Gaussian cross-modal "
        "transfer)",
        "carry": {"folds": carry.folds_, "n_folds": carry.n_folds_, "n_pairs": len(video)},
    }
    return manifest, [("head", files["head.onnx"])]


def _video_head(
    alignment: PerfectAlignment,
    encoder: ImuFeatureSource,
    spec: VideoHeadSpec,
    files: dict[str, onnx.ModelProto],
) -> tuple[dict[str, Any], list[tuple[str, onnx.ModelProto]]]:
    import onnxruntime as ort

    session = ort.InferenceSession(
        spec.model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    video = alignment.sample_.views[0]
    outputs = session.run(
        [spec.model.graph.output[0].name],
        {spec.model.graph.input[0].name: video[:256].astype(np.float32)},
    )[0]
    softmax = not head_outputs_are_probabilities(outputs)
    W, b = alignment.carry_affine(1, 0)
    files["imu_to_video.onnx"] = build_affine(
        W, b, encoder.output_name, "video_features", "IMU features -> video feature space"
    )
    files["video_head.onnx"] = adapt_video_head(spec.model, len(spec.classes), softmax)
    # OOD beside a foreign head: distance of the IMU latent from the pairs' video latents
    # (those of the solve's uniform sample of pairs).
    latents = alignment.transform(0, video)
    spread = GaussianClassifier().fit(latents, np.zeros(latents.shape[0], dtype=np.int64), 1)
    files["ood.onnx"] = build_gaussian_head(spread.parameters_, with_probs=False)
    manifest = {
        "kind": "video_head",
        "source": str(spec.path),
        "appended_softmax": softmax,
        "ood_threshold": spread.ood_threshold_,
        "ood_rule": "unknown when the Mahalanobis distance of the latent from the paired video "
        "latents exceeds the chi-square(rank) 0.999 quantile (ood_threshold)",
    }
    return manifest, [
        ("imu_to_video", files["imu_to_video.onnx"]),
        ("video_head", files["video_head.onnx"]),
        ("ood", files["ood.onnx"]),
    ]


def _alignment_manifest(alignment: PerfectAlignment, options: CalibrationOptions) -> dict[str, Any]:
    metrics = alignment.metrics_
    choice = alignment.rank_choice_
    return {
        "rank": alignment.rank_,
        "rank_choice": {
            "method": choice.method,
            "reason": choice.reason,
            "candidates": choice.candidates,
            "validation_error": choice.validation_error,
        },
        "singular_values": [float(s) for s in alignment.singular_values_],
        "cmae_train": metrics.cmae_train,
        "rel_cmae_train": metrics.rel_cmae_train,
        "cmae_holdout": _json_float(metrics.cmae_holdout),
        "rel_cmae_holdout": _json_float(metrics.rel_cmae_holdout),
        "n_train": metrics.n_train,
        "n_holdout": metrics.n_holdout,
        "holdout": alignment.holdout_,
        "ridge": options.ridge,
        "method": alignment.method_,
        "engine": options.engine,
        "diagnostics": alignment.diagnostics_,
    }


def _json_float(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _versions() -> dict[str, str]:
    import onnxruntime

    return {
        "harbridge": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
