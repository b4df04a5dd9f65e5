"""The report drawn by the helper process is the one drawn in-process, byte for byte."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from harbridge.calibration.report import build_report
from harbridge.calibration.report_process import ReportProcess


def inputs(seed: int, rank: int) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    singular = np.sort(rng.uniform(0.1, 10.0, 12))[::-1]
    manifest = {
        "classes": ["walk", "run", "wave"],
        "alignment": {
            "rank": rank,
            "singular_values": singular.tolist(),
            "rank_choice": {
                "method": "validation",
                "candidates": [1, 2, 3, 4],
                "validation_error": rng.uniform(0, 1, 4).tolist(),
            },
            "rel_cmae_train": 0.1,
            "diagnostics": ["a note"],
        },
        "head": {"kind": "gaussian", "ood_threshold": 4.2},
    }
    video = rng.normal(size=(50, rank))
    imu = video + 0.1 * rng.normal(size=(50, rank))
    return manifest, {"paired_latents": {"video": video.tolist(), "imu": imu.tolist()}}


@pytest.mark.parametrize(("seed", "rank"), [(0, 1), (1, 3)])
def test_helper_page_equals_the_in_process_page(seed: int, rank: int) -> None:
    manifest, report_data = inputs(seed, rank)
    with ReportProcess() as helper:
        page = helper.render(manifest, report_data)
    assert page == build_report(manifest, report_data, None)
    assert page.startswith(b"<!DOCTYPE html>")


def test_helper_failure_raises_with_its_message() -> None:
    manifest, report_data = inputs(2, 3)
    report_data["paired_latents"]["imu"] = report_data["paired_latents"]["imu"][:-1]
    with ReportProcess() as helper, pytest.raises(RuntimeError, match="paired latents must"):
        helper.render(manifest, report_data)


def test_closing_an_unused_helper_stops_it() -> None:
    helper = ReportProcess()
    helper.close()
    assert helper._process.returncode is not None
