"""``harbridge calibrate``: paired data (+ labelled video or a video head) → a bundle."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

if TYPE_CHECKING:
    from harbridge.calibration.report_process import ReportProcess

HELP = "solve the perfect alignment from paired video/IMU data and export a bundle"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``calibrate`` (DESIGN §3)."""
    parser.add_argument(
        "--pairs",
        required=True,
        type=Path,
        nargs="+",
        help="PAIRS: paired video and IMU; one or more .npz files, shard directories "
        "(video.npy + imu_features.npy, memory-mapped) or directories of shards, read once "
        "in name order",
    )
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
    parser.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="read the pairs on this machine (default) or on a Dask cluster "
        "(pip install 'harbridge[dask]')",
    )
    parser.add_argument(
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786) for --engine dask; default a local cluster",
    )
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


class _ProgressLine:
    """One self-overwriting line of progress on a terminal's stderr, a few times a second."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.shown = 0.0
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.shown < 0.2 and done < total:
            return
        self.shown = now
        elapsed = int(now - self.started)
        self.stream.write(
            f"\rcalibrate: read {done:,} of {total:,} pairs ({100 * done / max(total, 1):.0f}%), "
            f"{elapsed // 60}:{elapsed % 60:02d}"
        )
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """End the line, so that what follows starts on its own."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def run(args: argparse.Namespace) -> int:
    """Calibrate and write the bundle atomically; print a short summary."""
    from harbridge.calibration.report_process import ReportProcess

    # Started first, so that its imports overlap this process's imports and the pass.
    with ReportProcess() as report:
        return _calibrate(args, report)


def _calibrate(args: argparse.Namespace, report: ReportProcess) -> int:
    from harbridge.calibration.bundle import write_bundle
    from harbridge.calibration.calibrate import (
        REPORT_DATA,
        CalibrationOptions,
        VideoHeadSpec,
        calibrate,
    )
    from harbridge.calibration.dataset import load_labeled
    from harbridge.calibration.imu_features import feature_source
    from harbridge.calibration.shards import open_pairs
    from harbridge.errors import InputError

    first = args.pairs[0]
    rank = _rank(args.rank, first)
    if not 0.0 <= args.holdout < 1.0:
        raise InputError(first, "--holdout", f"must lie in [0, 1), got {args.holdout}.")
    if args.ridge < 0:
        raise InputError(first, "--ridge", f"must be ≥ 0, got {args.ridge}.")
    if args.scheduler is not None and args.engine != "dask":
        raise InputError(first, "--scheduler", "applies to --engine dask only; add --engine dask.")
    if args.video_head is not None and not args.classes:
        raise InputError(
            args.video_head,
            "--classes",
            "a video head needs its class names: --classes walk,run,...",
        )
    pair_files = open_pairs(args.pairs)
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
            load_video_head(args.video_head, pair_files.layouts[0].video_dim, len(classes)),
            classes,
        )
    source = feature_source(pair_files.preview(), args.encoder)
    if args.hop is not None and (args.hop < 1 or source.model is None):
        raise InputError(first, "--hop", "applies to raw IMU windows only and must be ≥ 1.")
    pairs = pair_files.source(
        source.window_encoder(pair_files.path), int(source.entry["feature_dim"])
    )
    progress = _ProgressLine(sys.stderr) if sys.stderr.isatty() else None
    options = CalibrationOptions(
        rank=rank,
        ridge=args.ridge,
        holdout=args.holdout,
        covariance=args.covariance,
        seed=args.seed,
        hop=args.hop,
        engine=args.engine,
        scheduler=args.scheduler,
        progress=progress,
    )
    try:
        files, manifest = calibrate(pairs, labeled, head, source, options)
    finally:
        if progress is not None:
            progress.close()
    files["report.html"] = report.render(manifest, json.loads(files[REPORT_DATA]))
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
