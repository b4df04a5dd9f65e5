"""Smoke run of ``harbridge bench paper --quick`` and its table formatter.

The experiments run once at the quick sizes (module fixtures); the assertions are the
issue's done-when figures and the tables' key properties.
"""

from __future__ import annotations

import importlib
import itertools
import math
import re
import subprocess
import sys

import pytest

from harbridge.bench import paper
from harbridge.bench.paper import QUICK, Row
from harbridge.bench.table import Column, format_cell, markdown_table
from harbridge.cli import main
from harbridge.commands import bench


@pytest.fixture(scope="module")
def sweep() -> list[Row]:
    return paper.alignment_sweep(QUICK, seed=0)


@pytest.fixture(scope="module")
def noise() -> list[Row]:
    return paper.noise_sweep(QUICK, seed=0)


@pytest.fixture(scope="module")
def contrastive() -> list[Row]:
    return paper.contrastive_comparison(QUICK, seed=0)


@pytest.fixture(scope="module")
def transfer() -> list[Row]:
    return paper.transfer_table(QUICK, seed=0)


@pytest.fixture(scope="module")
def ablation() -> list[Row]:
    return paper.ablations(QUICK, seed=0)


def _num(row: Row, key: str) -> float:
    value = row[key]
    assert isinstance(value, int | float), (key, value)
    return float(value)


def test_noise_free_rank_k_is_found_and_aligned_exactly(sweep: list[Row]) -> None:
    feasible = [r for r in sweep if _num(r, "k") <= min(_num(r, "d_video"), _num(r, "d_imu"))]
    assert feasible
    for row in feasible:
        assert row["rank_found_f64"] == row["k"]
        assert row["rank_found_f32"] == row["k"]
        assert _num(row, "rel_train_f64") < 1e-6
        assert _num(row, "rel_train_f32") < 1e-5
        assert _num(row, "rel_holdout_f64") < 1e-6
        assert row["status"] == "perfect"


def test_k_above_d_fails_visibly(sweep: list[Row]) -> None:
    infeasible = [r for r in sweep if _num(r, "k") > min(_num(r, "d_video"), _num(r, "d_imu"))]
    assert infeasible
    for row in infeasible:
        assert row["perfect"] is False
        assert _num(row, "rel_train_f64") > 0.1
        assert "exceeds" in str(row["refusal"])
        assert str(row["status"]).startswith("fails")


def test_alignment_error_grows_with_noise(noise: list[Row]) -> None:
    assert [r["noise"] for r in noise] == list(QUICK.noises)
    rel = [_num(r, "rel_cmae_train") for r in noise]
    assert rel[0] < 1e-6
    assert all(b > a for a, b in itertools.pairwise(rel))
    assert all(_num(r, "rel_cmae_test") >= 0.5 * _num(r, "rel_cmae_train") for r in noise)


def test_contrastive_cmae_is_over_100_times_perfect(contrastive: list[Row]) -> None:
    noise_free = [r for r in contrastive if r["noise"] == 0.0]
    perfect = next(r for r in noise_free if r["method"] == "perfect alignment")
    learned = next(r for r in noise_free if str(r["method"]).startswith("contrastive"))
    assert _num(learned, "cmae_train") >= 100 * _num(perfect, "cmae_train")
    assert _num(learned, "cmae_ratio") >= 100
    assert _num(perfect, "cmae_ratio") == pytest.approx(1.0)


def test_noise_free_transfer_equals_the_oracle(transfer: list[Row]) -> None:
    noise_free = next(r for r in transfer if r["noise"] == 0.0)
    assert abs(_num(noise_free, "transfer") - _num(noise_free, "oracle")) <= 0.01
    assert _num(noise_free, "gap") == pytest.approx(
        _num(noise_free, "transfer") - _num(noise_free, "oracle")
    )
    for row in transfer:
        assert _num(row, "transfer") > _num(row, "chance") + 0.2
        assert 0.0 <= _num(row, "ceiling") <= 1.0


def test_ablations_cover_every_method_on_every_data_set(ablation: list[Row]) -> None:
    methods = {
        "perfect alignment",
        "perfect alignment, shared covariance",
        "null space",
        "CCA (scikit-learn)",
        "contrastive",
    }
    datasets = sorted({str(r["data"]) for r in ablation})
    assert len(datasets) == 3
    for data in datasets:
        rows = {str(r["method"]): r for r in ablation if r["data"] == data}
        assert set(rows) == methods
        # Same alignment, other classifier: identical alignment figures.
        shared = rows["perfect alignment, shared covariance"]
        assert shared["rel_cmae_test"] == rows["perfect alignment"]["rel_cmae_test"]
        assert not math.isnan(_num(rows["CCA (scikit-learn)"], "transfer"))
    noise_free = next(d for d in datasets if d.startswith("noise 0,"))
    assert _num(next(r for r in ablation if r["data"] == noise_free), "rel_cmae_train") < 1e-6


def test_cli_prints_the_five_tables_with_computed_numbers(
    capsys: pytest.CaptureFixture[str], sweep: list[Row], transfer: list[Row]
) -> None:
    assert main(["bench", "paper", "--quick", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    titles = re.findall(r"^### (\d)\. ", out, flags=re.MULTILINE)
    assert titles == ["1", "2", "3", "4", "5"]
    assert out.count("| --") >= 5
    # rel_CMAE in scientific notation, and the very numbers the experiments returned.
    assert re.search(r"\| +\d\.\d\de-1\d \|", out)
    assert f"{_num(sweep[0], 'rel_train_f32'):.2e}" in out
    assert f"{_num(transfer[0], 'oracle'):.3f}" in out
    assert "refused" in out and "exceeds the imu feature dimension" in out


def test_cli_bad_option_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "paper", "--no-such-option"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("harbridge: error: harbridge bench paper: ")
    assert "--no-such-option" in err


def test_every_target_is_importable_and_lazy() -> None:
    for module_name, help_text in bench.TARGETS.values():
        module = importlib.import_module(module_name)
        assert callable(module.add_arguments) and callable(module.run)
        assert help_text
    # Building the CLI must not load numpy (the device runs `harbridge run` on the same parser).
    code = "import sys, harbridge.commands.bench; print('numpy' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        (1.234e-7, ".2e", "1.23e-07"),
        (0.5, ".3f", "0.500"),
        (12, "d", "12"),
        (float("nan"), ".2e", "n/a"),
        (None, ".2e", ""),
        ("a|b", "", "a\\|b"),
        (float("inf"), ".2e", "inf"),
    ],
)
def test_format_cell(value: float | str | None, fmt: str, expected: str) -> None:
    assert format_cell(value, fmt) == expected


def test_markdown_table_layout() -> None:
    text = markdown_table(
        "T",
        [Column("name", "name"), Column("x", "x value", ".1f")],
        [{"name": "alpha", "x": 1.25}, {"name": "b", "x": None}, {"name": "c"}],
        notes=["first note", "second"],
    )
    lines = text.splitlines()
    assert lines[0] == "### T"
    assert lines[2] == "| name  | x value |"
    assert lines[3] == "| ----- | ------: |"
    assert lines[4] == "| alpha |     1.2 |"
    assert lines[5] == "| b     |         |"
    assert lines[6] == "| c     |         |"
    assert lines[7:] == ["", "first note", "", "second"]
    assert text.endswith("\n")
