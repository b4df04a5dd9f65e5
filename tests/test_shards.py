"""Pairs sharded over files and directories: reproducible draws, one read, clear errors."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from harbridge.calibration.alignment import PerfectAlignment
from harbridge.calibration.dataset import ArrayFile, load_pairs
from harbridge.calibration.shards import open_pairs
from harbridge.calibration.split import (
    FIT,
    HOLDOUT,
    VALIDATION,
    PairSample,
    plan_split,
    row_keys,
    shuffled_position,
)
from harbridge.cli import main
from harbridge.errors import InputError
from tests.bad_input_support import assert_refused, cases, rewrite
from tests.feature_data import write_feature_dataset
from tests.raw_data import write_raw_dataset


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 65, 1000, 4099])
@pytest.mark.parametrize("seed", [0, 11])
def test_shuffled_position_is_a_permutation(n: int, seed: int) -> None:
    position = shuffled_position(np.arange(n), n, seed)
    assert_array_equal(np.sort(position), np.arange(n))
    if n > 64:
        assert not np.array_equal(position, np.arange(n))
        assert not np.array_equal(position, shuffled_position(np.arange(n), n, seed + 1))


@pytest.mark.parametrize("cuts", [[], [1], [333, 334, 900], list(range(50, 1000, 50))])
def test_parts_do_not_depend_on_how_the_rows_are_cut(cuts: list[int]) -> None:
    split = plan_split(1000, 0.2, 0.25, None, 3)
    whole = split.parts(0, 1000, None)
    edges = [0, *cuts, 1000]
    pieces = [split.parts(lo, hi - lo, None) for lo, hi in itertools.pairwise(edges)]
    assert_array_equal(np.concatenate(pieces), whole)
    assert np.bincount(whole, minlength=3).tolist() == [600, 200, 200]


def test_subjects_are_drawn_whole_for_holdout_and_validation() -> None:
    subject = np.repeat(np.array([f"s{i:02d}" for i in range(20)]), 30)
    split = plan_split(600, 0.2, 0.25, np.unique(subject), 5)
    parts = split.parts(0, 600, subject)
    assert split.description["by"] == "subject"
    assert len(split.description["subjects"]) == 4
    for code, count in ((HOLDOUT, 4), (VALIDATION, 4), (FIT, 12)):
        chosen = np.unique(subject[parts == code])
        assert chosen.size == count
        assert np.all(np.isin(subject[np.isin(subject, chosen)], chosen))
        assert np.all(parts[np.isin(subject, chosen)] == code)


@pytest.mark.parametrize("order", ["forward", "backward", "interleaved"])
def test_sample_is_the_smallest_keys_whatever_the_order(order: str) -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(5000, 3)).astype(np.float32)
    parts = rng.integers(0, 3, 5000).astype(np.uint8)
    blocks = [(lo, min(lo + 700, 5000)) for lo in range(0, 5000, 700)]
    if order == "backward":
        blocks = blocks[::-1]
    samples = [PairSample(300, 9) for _ in range(2)]
    for i, (lo, hi) in enumerate(blocks):
        target = samples[i % 2] if order == "interleaved" else samples[0]
        target.offer(lo, [values[lo:hi]], parts[lo:hi])
    samples[0].merge(samples[1])
    sample = samples[0].sorted()
    expected = np.sort(np.argsort(row_keys(np.arange(5000), 9))[:300])
    assert_array_equal(sample.rows, expected)
    assert_array_equal(sample.views[0], values[expected])
    assert_array_equal(sample.parts, parts[expected])


def save_shards(folder: Path, arrays: dict[str, np.ndarray], cuts: list[int], kind: str) -> Path:
    """Write the rows of ``arrays`` as shards cut at ``cuts``: npz files or npy directories."""
    folder.mkdir(parents=True)
    n = len(arrays["video"])
    edges = [0, *cuts, n]
    for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
        rows: dict[str, Any] = {
            k: v[lo:hi] if v.ndim and len(v) == n else v for k, v in arrays.items()
        }
        if kind == "npz":
            np.savez(folder / f"part{i:03d}.npz", **rows)
        else:
            shard = folder / f"part{i:03d}"
            shard.mkdir()
            for name, value in rows.items():
                np.save(shard / f"{name}.npy", value)
    return folder


@pytest.fixture
def features(tmp_path: Path) -> dict[str, Path]:
    return write_feature_dataset(tmp_path / "data", n_pairs=3000, rank=4)


@pytest.mark.parametrize("kind", ["npz", "npy"])
def test_shards_solve_like_the_single_file(
    features: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    pairs = load_pairs(features["pairs"])
    arrays = dict(np.load(features["pairs"]))
    folder = save_shards(tmp_path / "shards", arrays, [1, 1000, 1001, 2500], kind)
    files = open_pairs([folder])
    assert [layout.path.name for layout in files.layouts] == [
        f"part{i:03d}" + (".npz" if kind == "npz" else "") for i in range(5)
    ]
    assert files.n_pairs == 3000 and files.subjects is not None
    streamed = PerfectAlignment().fit_source(files.source(None, 10))
    assert pairs.imu_features is not None
    whole = PerfectAlignment().fit([pairs.video, pairs.imu_features], subject=pairs.subject)
    assert streamed.rank_ == whole.rank_ == 4
    assert streamed.holdout_ == whole.holdout_
    assert_allclose(streamed.singular_values_[:4], whole.singular_values_[:4], rtol=1e-10)
    assert_allclose(streamed.components_, whole.components_, atol=1e-10)
    # exact float32 data: both at rounding level, where chunking changes the last digits
    assert max(streamed.metrics_.rel_cmae_holdout, whole.metrics_.rel_cmae_holdout) < 1e-6


def test_stored_npz_members_are_memory_mapped_and_compressed_ones_read(tmp_path: Path) -> None:
    values = np.arange(24, dtype=np.float32).reshape(6, 4)
    np.savez(tmp_path / "stored.npz", video=values, names=np.array(["a", "b"]))
    np.savez_compressed(tmp_path / "packed.npz", video=values)
    stored, packed = ArrayFile(tmp_path / "stored.npz"), ArrayFile(tmp_path / "packed.npz")
    assert isinstance(stored.read("video", mapped=True), np.memmap)
    assert not isinstance(packed.read("video", mapped=True), np.memmap)
    assert stored.read("video").flags.writeable  # in memory unless asked
    for file in (stored, packed):
        assert_array_equal(file.read("video"), values)
        assert_array_equal(file.read_head("video", 2), values[:2])
        assert file.header("video") == ((6, 4), np.dtype(np.float32))
    assert stored.read("names").tolist() == ["a", "b"]


def calibrate(pairs: list[Path], labeled: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "calibrate",
            "--pairs",
            *map(str, pairs),
            "--labeled",
            str(labeled),
            "--out",
            str(out),
            *extra,
        ]
    )


def test_cli_takes_several_files_and_a_directory_alike(
    features: dict[str, Path], tmp_path: Path
) -> None:
    arrays = dict(np.load(features["pairs"]))
    folder = save_shards(tmp_path / "shards", arrays, [1200, 2000], "npz")
    shards = sorted(folder.glob("*.npz"))
    assert calibrate(shards, features["labeled"], tmp_path / "a") == 0
    assert calibrate([folder], features["labeled"], tmp_path / "b") == 0
    assert calibrate([features["pairs"]], features["labeled"], tmp_path / "c") == 0
    manifests = [json.loads((tmp_path / b / "manifest.json").read_text()) for b in "abc"]
    for manifest in manifests:
        assert manifest["alignment"]["rank"] == 4
        assert manifest["alignment"]["rel_cmae_holdout"] < 1e-5
        assert manifest["alignment"]["n_train"] + manifest["alignment"]["n_holdout"] == 3000
    assert manifests[0]["alignment"]["holdout"] == manifests[2]["alignment"]["holdout"]
    assert (tmp_path / "a" / "imu_to_latent.onnx").read_bytes() == (
        tmp_path / "b" / "imu_to_latent.onnx"
    ).read_bytes()


@pytest.mark.parametrize("kind", ["npz", "npy"])
def test_raw_windows_encode_shard_by_shard_as_in_one_file(tmp_path: Path, kind: str) -> None:
    channels = ("ax", "ay", "az", "gx", "gy", "gz")
    data = write_raw_dataset(tmp_path / "data", rate_hz=50.0, window=64, channels=channels)
    arrays = dict(np.load(data["pairs"]))
    folder = save_shards(tmp_path / "shards", arrays, [100, 101], kind)
    assert calibrate([folder], data["labeled"], tmp_path / "sharded") == 0
    assert calibrate([data["pairs"]], data["labeled"], tmp_path / "single") == 0
    sharded, single = (
        json.loads((tmp_path / b / "manifest.json").read_text())["alignment"]
        for b in ("sharded", "single")
    )
    assert sharded["rank"] == single["rank"]
    assert_allclose(sharded["singular_values"], single["singular_values"], rtol=1e-6)
    assert_allclose(sharded["rel_cmae_train"], single["rel_cmae_train"], rtol=1e-6)


def _shard(folder: Path, i: int) -> Path:
    return folder / f"part{i:03d}.npz"


def _remove_shards(folder: Path) -> None:
    for path in folder.glob("*.npz"):
        path.unlink()


def _nan_late(folder: Path) -> None:
    video = np.load(_shard(folder, 1))["video"].copy()
    video[-1, 3] = np.nan
    rewrite(_shard(folder, 1), video=video)


BAD_SHARDS: list[tuple[str, Callable[[Path], object], str]] = [
    (
        "narrower video",
        lambda f: rewrite(_shard(f, 2), video=np.ones((1000, 5), np.float32)),
        "part002.npz: video: has features per row: 5 but",
    ),
    (
        "no subject",
        lambda f: rewrite(_shard(f, 1), subject=None),
        "part001.npz: subject: has a subject field: no but",
    ),
    (
        "missing imu",
        lambda f: rewrite(_shard(f, 2), imu_features=None),
        "part002.npz: imu_features: missing (and no raw 'imu' windows either)",
    ),
    (
        "NaN at the end of a shard",
        _nan_late,
        "part001.npz: video: holds 1 NaN or infinite values in rows 0..999 (first at index "
        "[999, 3])",
    ),
    (
        "truncated shard",
        lambda f: _shard(f, 1).write_bytes(_shard(f, 1).read_bytes()[:500]),
        "part001.npz: file: is not a readable .npz archive",
    ),
    (
        "empty directory",
        _remove_shards,
        "shards: file: holds no .npz shards and no video.npy",
    ),
]


@pytest.mark.parametrize(("breakage", "message"), cases(BAD_SHARDS))
def test_a_bad_shard_exits_2_naming_it(
    features: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    breakage: Callable[[Path], object],
    message: str,
) -> None:
    folder = save_shards(tmp_path / "shards", dict(np.load(features["pairs"])), [1000, 2000], "npz")
    breakage(folder)
    out = tmp_path / "bundle"
    assert_refused(calibrate([folder], features["labeled"], out), capsys, message, out)


def test_a_shard_directory_reads_memory_mapped_npy_fields(tmp_path: Path) -> None:
    shard = tmp_path / "shard"
    shard.mkdir()
    video = np.arange(40, dtype=np.float32).reshape(10, 4)
    np.save(shard / "video.npy", video)
    np.save(shard / "imu_features.npy", video[:, :2] * 2)
    files = open_pairs([shard])
    assert files.layouts[0].path == shard and files.n_pairs == 10
    assert isinstance(ArrayFile(shard).read("video", mapped=True), np.memmap)
    chunks = list(files.source(None, 2).partitions()[0].chunks(4))
    assert [c.start for c in chunks] == [0, 4, 8]
    assert_array_equal(np.concatenate([c.views[0] for c in chunks]), video)
    np.savez(tmp_path / "other.npz", label=np.arange(3))
    with pytest.raises(InputError, match=r"other\.npz: video: missing; the file holds: label\."):
        open_pairs([tmp_path / "other.npz"])


def test_progress_shows_on_a_terminal_only(features: dict[str, Path], tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "harbridge",
        "calibrate",
        "--pairs",
        str(features["pairs"]),
        "--labeled",
        str(features["labeled"]),
        "--rank",
        "4",
    ]
    leader, follower = os.openpty()
    with subprocess.Popen(
        [*command, "--out", str(tmp_path / "a")], stderr=follower, stdout=subprocess.DEVNULL
    ) as on_terminal:
        os.close(follower)  # the child holds the only other end: reading ends when it exits
        shown = b""
        while chunk := _read_available(leader):
            shown += chunk
        os.close(leader)
    assert on_terminal.returncode == 0
    piped = subprocess.run(
        [*command, "--out", str(tmp_path / "b")],
        capture_output=True,
        check=True,
        timeout=300,
    )
    lines = shown.decode().replace("\r\n", "\n").split("\r")
    assert "calibrate: read 3,000 of 3,000 pairs (100%)" in lines[-1]
    assert shown.decode().endswith("\n")
    assert piped.stderr == b""


def _read_available(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # the terminal closed: everything was read
        return b""
