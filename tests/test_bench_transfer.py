"""``harbridge bench transfer``: table structure on a quick run, and its building blocks."""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import onnxruntime as ort
import pytest
from numpy.testing import assert_allclose

from harbridge.bench.aligners import PrincipalComponents
from harbridge.bench.graphs import softmax_video_head
from harbridge.bench.transfer_sizes import QUICK
from harbridge.cli import main

TABLE_1_METHODS = [
    "perfect alignment + Gaussian head (bundle: `calibrate` defaults)",
    "perfect alignment + existing video head (bundle: `--video-head`)",
    "perfect alignment + paper's Gaussian head, solver's own rank",
    "perfect alignment + paper's Gaussian head, the bundle's rank",
    "CCA (scikit-learn) + paper's Gaussian head",
    "contrastive (InfoNCE) + paper's Gaussian head",
    "no alignment (per-modality PCA) + paper's Gaussian head",
    "supervised IMU ceiling (logistic regression, IMU labels)",
]


def tables(text: str) -> dict[str, list[list[str]]]:
    """Markdown tables by title: the cells of each body row."""
    found: dict[str, list[list[str]]] = {}
    title = ""
    for line in text.splitlines():
        if line.startswith("### "):
            title = line[4:]
            found[title] = []
        elif line.startswith("| ") and title:
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            if not set(cells[0]) <= {"-", ":"}:
                found[title].append(cells)
    return {name: rows[1:] for name, rows in found.items()}


@pytest.fixture(scope="module")
def quick_output() -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["bench", "transfer", "--quick"]) == 0
    return buffer.getvalue()


def test_quick_run_prints_the_method_and_encoder_tables(quick_output: str) -> None:
    found = tables(quick_output)
    titles = list(found)
    assert len(titles) == 2
    assert titles[0].startswith("1. Zero-label transfer")
    assert titles[1].startswith("2. Built-in IMU encoder")
    methods = [row[0] for row in found[titles[0]]]
    assert len(methods) == len(TABLE_1_METHODS)
    for method, expected in zip(methods, TABLE_1_METHODS, strict=True):
        assert method.startswith(expected)
    assert [row[0] for row in found[titles[1]]] == list(QUICK.ablations)
    assert "harbridge simulate --seed 0" in quick_output


def test_quick_run_perfect_alignment_beats_no_alignment(quick_output: str) -> None:
    rows = {row[0]: row for row in tables(quick_output)[next(iter(tables(quick_output)))]}
    bundle = rows[TABLE_1_METHODS[0]]
    unaligned = rows[TABLE_1_METHODS[6]]
    ceiling = rows[TABLE_1_METHODS[7]]
    accuracy = {name: float(row[2]) for name, row in rows.items()}
    assert accuracy[TABLE_1_METHODS[0]] > accuracy[TABLE_1_METHODS[6]] + 0.2
    assert float(ceiling[5]) == 1.0
    assert_allclose(float(bundle[5]), float(bundle[2]) / float(ceiling[2]), atol=2e-3)
    assert re.fullmatch(r"\d+ \(transfer_agreement\)", bundle[1])
    assert 0.0 < float(bundle[4]) < 2.0
    assert float(unaligned[4]) > float(bundle[4])


def test_quick_run_encoder_table_reuses_the_default_bundle(quick_output: str) -> None:
    found = tables(quick_output)
    methods, encoder = (found[t] for t in found)
    default = encoder[0]
    assert default[1] == "110"
    assert default[4] == methods[0][2]
    assert default[3] == methods[-1][2]
    features = [int(row[1]) for row in encoder]
    assert all(f < 110 for f in features[1:])


@pytest.mark.parametrize("seed", [0, 1])
def test_video_head_graph_equals_its_softmax_regression(seed: int) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, 300)
    video = rng.normal(size=(300, 5)) * [1, 10, 0.1, 5, 1] + labels[:, None] * [1, 5, 0.2, 0, 0] + 4
    model = softmax_video_head(video, labels, 3)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    probs = session.run(["probs"], {"video_features": video.astype(np.float32)})[0]
    mean, std = video.mean(axis=0), video.std(axis=0)
    reference = LogisticRegression(max_iter=2000).fit((video - mean) / std, labels)
    assert_allclose(probs, reference.predict_proba((video - mean) / std), atol=1e-4)
    assert {node.op_type for node in model.graph.node} == {"MatMul", "Add", "Softmax"}


def test_principal_components_ignore_the_pairing() -> None:
    rng = np.random.default_rng(2)
    video, imu = rng.normal(size=(200, 6)), rng.normal(size=(200, 4))
    fitted = PrincipalComponents(3).fit([video, imu])
    shuffled = PrincipalComponents(3).fit([video, imu[rng.permutation(200)]])
    assert_allclose(fitted.transform(1, imu), shuffled.transform(1, imu), atol=1e-10)
    scores = fitted.transform(0, video)
    assert_allclose(np.cov(scores.T), np.diag(np.diag(np.cov(scores.T))), atol=1e-10)


@pytest.mark.parametrize(
    "options",
    [
        ["--data", "somewhere", "--pairs", "p.npz"],
        ["--pairs", "p.npz", "--labeled", "l.npz"],
    ],
)
def test_conflicting_or_incomplete_data_options_are_refused(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "transfer", *options]) == 2
    error = capsys.readouterr().err
    assert error.startswith("harbridge: error: command line:")
