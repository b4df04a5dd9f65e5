"""``harbridge calibrate``: paired data (+ labelled video or a video head) → a bundle."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Literal

HELP = "solve the perfect alignment from paired video/IMU data and export a bundle"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``calibrate`` (DESIGN §3)."""
    parser.add_argument("--pairs", required=True, type=Path, help="PAIRS.npz: paired video and IMU")
    head = parser.add_mutually_exclusive_group(required=True)
    head.add_argument("--labeled", type=Path, help="LABELED.npz: labelled video features")
    head.add_argument(
        "--video-head", type=Path, help="HEAD.onnx: an existing classifier over video features"
    )
    parser.add_argument(
        "--classes", help="class names of the video head's outputs, comma-separated"
    )
    parser.add_argument(
        "--rank", default="auto", help="latent dimension: 'auto' (default) or an integer"
    )
    parser.add_argument(
        "--encoder", default="builtin", help="IMU encoder for raw windows: 'builtin' or ENC.onnx"
    )
    parser.add_argument(
        "--ridge", type=float, default=0.0, help="Tikhonov weight of the encoders (default 0)"
    )
    parser.add_argument(
        "--holdout",
        type=float,
        default=0.2,
        help="share of pairs held out to report rel_CMAE (default 0.2)",
    )
    parser.add_argument(
        "--covariance",
        choices=("per_class", "shared"),
        default="per_class",
        help="Gaussian head covariance",
    )
    parser.add_argument("--hop", type=int, help="runtime hop in samples (default half a window)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-out draw")
    parser.add_argument("--out", required=True, type=Path, help="bundle directory to write")


def _rank(value: str, pairs: Path) -> int | Literal["auto"]:
    from harbridge.errors import InputError

    if value == "auto":
        return "auto"
    try:
        return int(value)
    except ValueError:
        raise InputError(
            pairs, "--rank", f"must be 'auto' or a positive integer, got {value!r}."
        ) from None


def run(args: argparse.Namespace) -> int:
    """Calibrate and write the bundle atomically; print a short summary."""
    from harbridge.calibration.bundle import write_bundle
    from harbridge.calibration.calibrate import (
        REPORT_DATA,
        CalibrationOptions,
        VideoHeadSpec,
        calibrate,
    )
    from harbridge.calibration.dataset import load_labeled, load_pairs
    from harbridge.calibration.imu_features import feature_source
    from harbridge.calibration.report import build_report
    from harbridge.errors import InputError

    rank = _rank(args.rank, args.pairs)
    if not 0.0 <= args.holdout < 1.0:
        raise InputError(args.pairs, "--holdout", f"must lie in [0, 1), got {args.holdout}.")
    if args.ridge < 0:
        raise InputError(args.pairs, "--ridge", f"must be ≥ 0, got {args.ridge}.")
    if args.video_head is not None and not args.classes:
        raise InputError(
            args.video_head,
            "--classes",
            "a video head needs its class names: --classes walk,run,...",
        )
    pairs = load_pairs(args.pairs)
    labeled = load_labeled(args.labeled) if args.labeled is not None else None
    head = None
    if args.video_head is not None:
        from harbridge.models.video_head import load_video_head

        classes = tuple(c.strip() for c in args.classes.split(","))
        if len(set(classes)) != len(classes) or not all(classes):
            raise InputError(
                args.video_head,
                "--classes",
                f"class names must be unique and non-empty, got {list(classes)}.",
            )
        head = VideoHeadSpec(
            args.video_head,
            load_video_head(args.video_head, pairs.video.shape[1], len(classes)),
            classes,
        )
    source = feature_source(pairs, args.encoder)
    if args.hop is not None and (args.hop < 1 or source.model is None):
        raise InputError(args.pairs, "--hop", "applies to raw IMU windows only and must be ≥ 1.")
    options = CalibrationOptions(
        rank=rank,
        ridge=args.ridge,
        holdout=args.holdout,
        covariance=args.covariance,
        seed=args.seed,
        hop=args.hop,
    )
    files, manifest = calibrate(pairs, labeled, head, source, options)
    files["report.html"] = build_report(manifest, json.loads(files[REPORT_DATA]), evaluation=None)
    write_bundle(args.out, files, manifest)
    alignment = manifest["alignment"]
    held = alignment["rel_cmae_holdout"]
    print(
        f"bundle written to {args.out}: {len(manifest['classes'])} classes, rank "
        f"{alignment['rank']} "
        f"({alignment['rank_choice']['method']}), rel_CMAE train {alignment['rel_cmae_train']:.3g}"
        + (f", held-out {held:.3g}" if held is not None else "")
    )
    for note in alignment["diagnostics"]:
        print(f"note: {note}")
    return 0
