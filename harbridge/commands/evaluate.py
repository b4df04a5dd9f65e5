"""``harbridge evaluate``: accuracy, macro-F1 and confusion matrix of a bundle on labelled "
"IMU data."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "evaluate a bundle on labelled IMU test data (runs pipeline.onnx like the device)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``evaluate`` (DESIGN §3)."""
    parser.add_argument(
        "bundle", type=Path, help="bundle directory written by 'harbridge calibrate'"
    )
    parser.add_argument(
        "--imu", required=True, type=Path, help="TEST.npz: IMU features or raw windows, and labels"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument(
        "--no-report",
        action="store_true",
        help="do not add the results to the bundle's report.html",
    )


def run(args: argparse.Namespace) -> int:
    """Evaluate, print a summary table, optionally write JSON and update the report."""
    import json

    from harbridge.calibration.bundle import load_manifest
    from harbridge.calibration.dataset import load_test
    from harbridge.calibration.evaluation import evaluate_bundle
    from harbridge.calibration.evaluation_table import format_evaluation

    manifest = load_manifest(args.bundle)
    test = load_test(args.imu, len(manifest["classes"]))
    results = evaluate_bundle(args.bundle, manifest, test)
    print(format_evaluation(results))
    if args.json is not None:
        _write_atomically(args.json, json.dumps(results, indent=2) + "\n")
    if not args.no_report:
        from harbridge.calibration.report_update import add_evaluation_to_bundle

        add_evaluation_to_bundle(args.bundle, manifest, results)
    return 0


def _write_atomically(path: Path, text: str) -> None:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(staging, path)
