"""The static report: content, escaping, embedded figures, no external resources."""

from __future__ import annotations

import base64
import io
import re
import struct
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread
from numpy.testing import assert_allclose

from harbridge.calibration.report import build_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CLASSES = ["walk", "run", "<script>alert(1)</script>", "wave & clap"]
DIAGNOSTIC = (
    "the paired data are not exactly rank 3 (noise): the rank-3 truncation keeps 97.2% of the "
    "joint variance & the alignment is its best approximation"
)
REASON = "smallest rank whose cross-modal reconstruction error is within one standard error"
VOID_TAGS = {"meta", "img", "br", "hr", "link", "input"}


def make_manifest(*, validation: bool = True, raw_imu: bool = False) -> dict[str, Any]:
    """A manifest shaped like the one ``calibrate`` writes, with known numbers."""
    candidates = [1, 2, 3, 4, 5, 6] if validation else []
    imu: dict[str, Any] = {"input": "imu_features", "feature_dim": 24}
    if raw_imu:
        imu = {
            "input": "imu",
            "sample_rate_hz": 50.0,
            "window": 128,
            "hop": 64,
            "channels": ["ax", "ay", "az", "gx", "gy", "gz"],
            "units": ["m/s^2"] * 3 + ["rad/s"] * 3,
            "encoder": "builtin",
            "feature_dim": 48,
        }
    return {
        "schema": "harbridge.bundle/1",
        "classes": CLASSES,
        "imu": imu,
        "video": {"feature_dim": 40},
        "alignment": {
            "rank": 3,
            "rank_choice": {
                "method": "validation" if validation else "exact",
                "reason": REASON,
                "candidates": candidates,
                "validation_error": [0.9, 0.5, 0.11, 0.12, 0.14, 0.17][: len(candidates)],
            },
            "singular_values": [30.0, 21.0, 12.0, 1.5, 1.2, 1.0, 0.8, 0.0],
            "cmae_train": 6.4712,
            "rel_cmae_train": 0.0123456,
            "cmae_holdout": 3.20519,
            "rel_cmae_holdout": 0.0456789,
            "n_train": 1200,
            "n_holdout": 300,
            "holdout": {"by": "subject", "fraction": 0.2, "subjects": [4, 6]},
            "ridge": 0.0,
            "method": "gram",
            "diagnostics": [DIAGNOSTIC],
        },
        "head": {
            "kind": "gaussian",
            "covariance": "per_class",
            "ood_threshold": 4.7391,
            "ood_rule": "unknown when the Mahalanobis distance exceeds ood_threshold",
            "n_labeled": 1500,
        },
        "graphs": {"pipeline": "pipeline.onnx", "head": "head.onnx"},
        "versions": {"harbridge": "0.1.0", "numpy": "2.0.0"},
    }


def make_report_data(n: int, rank: int, noise: float, seed: int) -> dict[str, Any]:
    """Paired latents: the IMU side is the video side plus ``noise``."""
    rng = np.random.default_rng(seed)
    video = rng.standard_normal((n, rank))
    imu = video + noise * rng.standard_normal((n, rank))
    return {"paired_latents": {"video": video.tolist(), "imu": imu.tolist()}}


def make_evaluation() -> dict[str, Any]:
    counts = np.array([[9, 1, 0, 0], [2, 7, 1, 0], [0, 0, 8, 0], [1, 0, 0, 11]])
    return {
        "dataset": "/data/test_imu.npz",
        "n": int(counts.sum()),
        "accuracy": float(np.trace(counts) / counts.sum()),
        "macro_f1": 0.8612,
        "confusion_matrix": counts.tolist(),
        "per_class_accuracy": {
            c: float(counts[i, i] / counts[i].sum()) for i, c in enumerate(CLASSES)
        },
        "classes": CLASSES,
        "latency_ms": 1.0,
    }


def pngs(page: str) -> list[bytes]:
    """The decoded bytes of every embedded PNG figure."""
    return [
        base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    ]


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which follows the 8-byte signature."""
    return struct.unpack(">II", png[16:24])


PAGE_ARGS = (make_manifest(), make_report_data(60, 3, 0.05, seed=0), make_evaluation())
#: the Blues colour map at 1.0
BLUES_DARKEST = np.array([8, 48, 107]) / 255


class TagBalance(HTMLParser):
    """Records unclosed or mismatched tags of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID_TAGS:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.errors.append(tag)


def dark_cells(evaluation: dict[str, Any], counts: list[list[int]]) -> int:
    """Pixels of the evaluation figure at the darkest Blues shade (share 1 of a true class)."""
    page = build_report(
        make_manifest(),
        make_report_data(10, 2, 0.1, seed=5),
        {**evaluation, "confusion_matrix": counts},
    )
    pixels = imread(io.BytesIO(pngs(page.decode())[-1]))[..., :3]
    return int(np.sum(np.all(np.abs(pixels - BLUES_DARKEST) < 0.02, axis=-1)))


@pytest.fixture(scope="module")
def page() -> str:
    """Features as IMU input, rank chosen on validation pairs, with an evaluation."""
    return build_report(*PAGE_ARGS).decode()


@pytest.fixture(scope="module")
def plain_page() -> str:
    """Raw IMU windows, rank found exact (no validation errors), no evaluation."""
    manifest = make_manifest(validation=False, raw_imu=True)
    return build_report(manifest, make_report_data(50, 3, 0.1, seed=1), None).decode()


@pytest.mark.parametrize("name", ["page", "plain_page"])
def test_page_is_balanced_html(name: str, request: pytest.FixtureRequest) -> None:
    html_text: str = request.getfixturevalue(name)
    assert html_text.startswith("<!DOCTYPE html>")
    parser = TagBalance()
    parser.feed(html_text)
    parser.close()
    assert parser.errors == []
    assert parser.open == []
    assert '<meta charset="utf-8">' in html_text


def test_summary_shows_manifest_values(page: str) -> None:
    for text in (
        "walk",
        "run",
        "rank 3",
        REASON,
        "chosen by: validation",
        "1200 training, 300 held out",
    ):
        assert text in page
    assert "train 0.0123, held-out 0.0457" in page  # rel_CMAE to 3 significant digits
    assert "train 6.471, held-out 3.205" in page  # CMAE to 4
    assert "4.739" in page and "held out by subject: 4, 6" in page
    assert "harbridge: 0.1.0" in page and "precomputed IMU features, 24 per window" in page
    assert "accuracy 0.875, macro-F1 0.861 on 40 IMU windows" in page


def test_raw_imu_is_described(plain_page: str) -> None:
    assert "raw windows of 6 channels (ax [m/s^2]," in plain_page
    assert (
        "at 50 Hz, window 128 samples (2.56 s), hop 64 samples, encoder builtin → 48 features"
        in plain_page
    )
    assert "chosen by: exact" in plain_page


def test_diagnostics_are_listed_escaped(page: str) -> None:
    assert f"<li>{DIAGNOSTIC.replace('&', '&amp;')}</li>" in page


def test_text_is_escaped(page: str) -> None:
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "wave &amp; clap" in page


@pytest.mark.parametrize("name", ["page", "plain_page"])
def test_no_external_resources(name: str, request: pytest.FixtureRequest) -> None:
    html_text: str = request.getfixturevalue(name)
    assert "http://" not in html_text and "https://" not in html_text
    sources = re.findall(r'(?:src|href)="([^"]*)"', html_text)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)


@pytest.mark.parametrize(
    ("name", "figures", "spectrum_width"), [("page", 3, 1200), ("plain_page", 2, 700)]
)
def test_figures_are_embedded_pngs(
    name: str, figures: int, spectrum_width: int, request: pytest.FixtureRequest
) -> None:
    """One figure each for spectrum and latents, one more with an evaluation; the spectrum
    figure has its validation panel (twice as wide) only when validation errors exist."""
    html_text: str = request.getfixturevalue(name)
    images = pngs(html_text)
    assert html_text.count('<img src="data:image/png;base64,') == figures == len(images)
    assert ("Evaluation on IMU data" in html_text) is (figures == 3)
    assert png_size(images[0])[0] == spectrum_width
    for png in images:
        assert png.startswith(PNG_SIGNATURE)
        pixels = imread(io.BytesIO(png))
        assert pixels.shape[:2] == png_size(png)[::-1]
        assert np.ptp(pixels[..., :3]) > 0.5  # drawn on, not blank


def test_transfer_agreement_is_drawn_beside_the_validation_error() -> None:
    """A rank chosen for transfer: its agreement curve shares the rank-selection panel, and
    candidates the solver never tried (null validation error) leave a gap, not an error."""
    manifest = make_manifest()
    manifest["alignment"]["rank_choice"] = {
        "method": "transfer_agreement",
        "candidates": [1, 2, 3, 4],
        "transfer_agreement": [0.41, 0.72, 0.80, 0.77],
        "validation_error": [0.6, 0.3, None, None],
    }
    page = build_report(manifest, make_report_data(40, 3, 0.0, seed=7), None).decode()
    plain = build_report(make_manifest(), make_report_data(40, 3, 0.0, seed=7), None).decode()
    assert "its maximum chose the rank (transfer_agreement)" in page
    assert "transfer_agreement" not in plain
    assert png_size(pngs(page)[0])[0] == 1200
    assert pngs(page)[0] != pngs(plain)[0]


def test_rank_one_latents_are_drawn() -> None:
    page = build_report(make_manifest(), make_report_data(40, 1, 0.0, seed=7), None).decode()
    assert len(pngs(page)) == 2


def test_missing_holdout_and_latents() -> None:
    manifest = make_manifest()
    manifest["alignment"].update(
        cmae_holdout=None,
        rel_cmae_holdout=None,
        n_holdout=0,
        holdout={"by": "none", "fraction": 0.0},
    )
    page = build_report(manifest, {}, None).decode()
    assert "train 0.0123, held-out n/a" in page
    assert "no pairs held out" in page
    assert "hold no paired latents" in page
    assert len(pngs(page)) == 1


def test_output_is_deterministic(page: str) -> None:
    assert build_report(*PAGE_ARGS).decode() == page


def test_confusion_matrix_is_row_normalised() -> None:
    """Diagonal counts 1, 5, 20, 200 are all a share of 1: four darkest cells, not one."""
    evaluation = make_evaluation()
    one_cell = dark_cells(evaluation, np.diag([0, 0, 0, 200]).tolist())
    four_cells = dark_cells(evaluation, np.diag([1, 5, 20, 200]).tolist())
    assert one_cell > 1000
    assert_allclose(four_cells / one_cell, 4.0, rtol=0.1)


@pytest.mark.parametrize(
    ("report_data", "evaluation", "message"),
    [
        (
            {"paired_latents": {"video": [[0.0, 1.0]], "imu": [[0.0, 1.0, 2.0]]}},
            None,
            "paired latents",
        ),
        (
            make_report_data(5, 2, 0.0, seed=6),
            {**make_evaluation(), "confusion_matrix": [[1, 0], [0, 1]]},
            "shape",
        ),
    ],
)
def test_inconsistent_inputs_are_refused(
    report_data: dict[str, Any], evaluation: dict[str, Any] | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_report(make_manifest(), report_data, evaluation)
