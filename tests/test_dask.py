"""The Dask engine: partial moments per partition on a cluster equal the local pass.

Skipped when Dask is not installed, unless ``HARBRIDGE_REQUIRE_DASK=1`` (then its absence
fails the run).
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

from harbridge.calibration import dask_gram
from harbridge.calibration.alignment import PerfectAlignment
from harbridge.calibration.dask_gram import dask_accumulate
from harbridge.cli import main
from tests.feature_data import write_feature_dataset
from tests.test_alignment_stream import generated, noisy_views

distributed: Any = (
    importlib.import_module("distributed")
    if os.environ.get("HARBRIDGE_REQUIRE_DASK") == "1"
    else pytest.importorskip("distributed")
)


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


def relative_close(a: Any, b: Any) -> None:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert_allclose(a, b, rtol=1e-10, atol=1e-10 * float(np.abs(b).max(initial=0.0)))


@pytest.mark.parametrize("rank", ["auto", 4])
def test_dask_result_equals_the_local_one(scheduler: str, rank: int | str) -> None:
    views = noisy_views(12000, 5, (40, 16), seed=21)
    subject = np.repeat(np.arange(30), 400)
    source = generated(views, shard=1500, subject=subject)
    assert len(source.partitions()) == 8
    local = PerfectAlignment(rank=rank).fit_source(source)  # type: ignore[arg-type]
    seen: list[int] = []
    remote = PerfectAlignment(rank=rank).fit_source(  # type: ignore[arg-type]
        source,
        accumulate=partial(dask_accumulate, scheduler=scheduler),
        progress=lambda done, total: seen.append(done),
    )
    assert remote.rank_ == local.rank_
    assert remote.rank_choice_.method == local.rank_choice_.method
    assert remote.rank_choice_.candidates == local.rank_choice_.candidates
    relative_close(remote.rank_choice_.validation_error, local.rank_choice_.validation_error)
    assert remote.holdout_ == local.holdout_
    assert remote.metrics_.n_train == local.metrics_.n_train
    relative_close(remote.singular_values_, local.singular_values_)
    relative_close(remote.components_, local.components_)
    for m in range(2):
        relative_close(remote.affine(m)[0], local.affine(m)[0])
    relative_close(remote.residual_covariance_, local.residual_covariance_)
    for key, value in local.metrics_.pairs["video~imu"].items():
        relative_close(remote.metrics_.pairs["video~imu"][key], value)
    assert np.array_equal(remote.sample_.rows, local.sample_.rows)
    assert seen[-1] == 12000 and len(seen) == 8


def calibrate(pairs: Path, labeled: Path, out: Path, *extra: str) -> int:
    return main(
        ["calibrate", "--pairs", str(pairs), "--labeled", str(labeled), "--out", str(out), *extra]
    )


@pytest.fixture
def shards(tmp_path: Path) -> tuple[Path, Path]:
    data = write_feature_dataset(tmp_path / "data", n_pairs=2400, rank=4)
    arrays = dict(np.load(data["pairs"]))
    folder = tmp_path / "shards"
    folder.mkdir()
    for i, lo in enumerate(range(0, 2400, 600)):
        np.savez(folder / f"{i}.npz", **{k: v[lo : lo + 600] for k, v in arrays.items()})
    return folder, data["labeled"]


def manifest_alignment(bundle: Path) -> dict[str, Any]:
    alignment: dict[str, Any] = json.loads((bundle / "manifest.json").read_text())["alignment"]
    return alignment


def test_cli_engine_dask_on_a_scheduler_matches_local(
    scheduler: str, shards: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, labeled = shards
    assert calibrate(folder, labeled, tmp_path / "local") == 0
    assert (
        calibrate(folder, labeled, tmp_path / "dask", "--engine", "dask", "--scheduler", scheduler)
        == 0
    )
    local, remote = manifest_alignment(tmp_path / "local"), manifest_alignment(tmp_path / "dask")
    assert (local["engine"], remote["engine"]) == ("local", "dask")
    assert remote["rank"] == local["rank"] == 4
    relative_close(remote["singular_values"][:4], local["singular_values"][:4])
    assert remote["n_holdout"] == local["n_holdout"] > 0


def test_cli_engine_dask_starts_a_local_process_cluster(
    shards: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, labeled = shards
    assert calibrate(folder, labeled, tmp_path / "local") == 0
    assert calibrate(folder, labeled, tmp_path / "dask", "--engine", "dask") == 0
    local, remote = manifest_alignment(tmp_path / "local"), manifest_alignment(tmp_path / "dask")
    relative_close(remote["singular_values"][:4], local["singular_values"][:4])


def test_unreachable_scheduler_exits_2(
    shards: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dask_gram, "SCHEDULER_TIMEOUT", "1s")
    folder, labeled = shards
    out = tmp_path / "bundle"
    extra = ("--engine", "dask", "--scheduler", "tcp://127.0.0.1:9")
    assert calibrate(folder, labeled, out, *extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--scheduler: tcp://127.0.0.1:9: cannot reach the Dask scheduler" in err
    assert not out.exists()


def test_scheduler_without_the_dask_engine_is_refused(
    shards: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, labeled = shards
    assert calibrate(folder, labeled, tmp_path / "b", "--scheduler", "tcp://127.0.0.1:9") == 2
    assert "--scheduler: applies to --engine dask only" in capsys.readouterr().err
