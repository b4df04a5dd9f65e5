"""Adding evaluation results to an existing bundle's report, atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harbridge.calibration.bundle import write_bundle
from harbridge.calibration.calibrate import REPORT_DATA
from harbridge.calibration.report import build_report

__all__ = ["EVALUATION", "add_evaluation_to_bundle"]

EVALUATION = "evaluation.json"


def add_evaluation_to_bundle(
    bundle: Path, manifest: dict[str, Any], results: dict[str, Any]
) -> None:
    """Rewrite ``report.html`` with ``results`` and store them as ``evaluation.json``.

    ``manifest`` must come from :func:`~harbridge.calibration.bundle.load_manifest`, which
    has verified every file; the bundle is rewritten with fresh checksums.
    """
    files = {name: (bundle / name).read_bytes() for name in manifest["files"]}
    report_data = json.loads(files[REPORT_DATA])
    files[EVALUATION] = (json.dumps(results, indent=2) + "\n").encode()
    files["report.html"] = build_report(manifest, report_data, evaluation=results)
    write_bundle(bundle, files, {k: v for k, v in manifest.items() if k != "files"})
