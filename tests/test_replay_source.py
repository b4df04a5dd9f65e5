"""Replay source: CSV and npz recordings, batching, pacing, looping, and bad files."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from harbridge.drivers.replay_source import ReplaySource, load_recording
from harbridge.drivers.samples import SampleBatch
from harbridge.errors import InputError

CHANNELS = ("ax", "ay", "az", "gx", "gy", "gz")
RATE_HZ = 50.0
GUARD_S = 10.0


def write_stream(folder: Path, kind: str, n: int = 120, seed: int = 0) -> tuple[Path, np.ndarray]:
    """A recording of ``n`` samples at 50 Hz from t = 3 s; returns the path and (n, 7) data."""
    rng = np.random.default_rng(seed)
    t = 3.0 + np.arange(n) / RATE_HZ
    data = np.column_stack([t, rng.normal(size=(n, len(CHANNELS)))])
    if kind == "csv":
        path = folder / "stream.csv"
        # An extra label column, as a recording with ground truth has, is ignored.
        lines = ["t," + ",".join(CHANNELS) + ",label"]
        lines += [",".join(map(repr, row)) + ",walk" for row in data.tolist()]
        path.write_text("\n".join(lines) + "\n")
    else:
        path = folder / "stream.npz"
        columns: dict[str, Any] = {
            name: data[:, i + 1].astype(np.float32) for i, name in enumerate(CHANNELS)
        }
        np.savez(path, t=data[:, 0], **columns)
    return path, data


def replay(source: ReplaySource) -> list[tuple[float, SampleBatch]]:
    """Run ``source`` to its end; every batch with the loop time since the start it arrived."""
    received: list[tuple[float, SampleBatch]] = []

    async def main() -> None:
        async with asyncio.timeout(GUARD_S):
            loop = asyncio.get_running_loop()
            start = loop.time()
            await source.run(lambda batch: received.append((loop.time() - start, batch)))

    asyncio.run(main())
    return received


def times(batch: SampleBatch) -> np.ndarray:
    """The batch's sample times, which a replay always has."""
    assert batch.t is not None
    return batch.t


def stacked(batches: list[SampleBatch]) -> np.ndarray:
    """(n, 7) rows of t and the channels."""
    rows = [np.column_stack([times(b), *(b.channels[c] for c in CHANNELS)]) for b in batches]
    return np.concatenate(rows)


@pytest.mark.parametrize("kind", ["csv", "npz"])
@pytest.mark.parametrize("speed", [0.0, math.inf])
def test_a_recording_is_replayed_whole_in_small_batches(
    tmp_path: Path, kind: str, speed: float
) -> None:
    path, data = write_stream(tmp_path, kind)
    source = ReplaySource(path, device="wrist", channels=CHANNELS, speed=speed, chunk_s=0.1)
    batches = [batch for _, batch in replay(source)]
    # npz channels were stored as float32.
    atol = 0.0 if kind == "csv" else 1e-6
    assert_allclose(stacked(batches), data, rtol=0, atol=atol)
    assert [len(b) for b in batches] == [5] * 24  # 0.1 s at 50 Hz
    assert {b.device for b in batches} == {"wrist"}
    assert source.counters.samples == len(data)
    assert source.counters.batches == 24
    assert not source.counters.connected


def test_real_time_replay_never_runs_ahead_of_the_recording(tmp_path: Path) -> None:
    path, data = write_stream(tmp_path, "csv", n=50)
    speed = 10.0  # 1 s of recording in about 0.1 s
    source = ReplaySource(path, device="wrist", channels=CHANNELS, speed=speed, chunk_s=0.1)
    received = replay(source)
    for arrived, batch in received:
        due = (times(batch)[-1] - data[0, 0]) / speed
        # Only a lower bound: the source may be late on a busy machine, never early.
        assert arrived >= due - 1e-3
    assert_allclose(stacked([b for _, b in received]), data, rtol=0, atol=0)


def test_a_loop_keeps_time_moving_forward(tmp_path: Path) -> None:
    path, data = write_stream(tmp_path, "npz", n=20)
    source = ReplaySource(path, device="d", channels=CHANNELS, speed=0, loop=True, chunk_s=0.2)
    batches: list[SampleBatch] = []

    async def main() -> None:
        async with asyncio.timeout(GUARD_S):
            task = asyncio.create_task(source.run(batches.append), name="replay")
            while source.counters.samples < 50:
                await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    rows = stacked(batches)
    shift = 20 / RATE_HZ  # 19 periods of recording plus one period
    for k in range(2):
        assert_allclose(rows[20 * k : 20 * (k + 1), 0], data[:, 0] + k * shift, rtol=0, atol=1e-12)
        assert_allclose(rows[20 * k : 20 * (k + 1), 1:], data[:, 1:], rtol=0, atol=1e-6)
    assert (np.diff(rows[:, 0]) > 0).all()


def test_bad_csv_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "stream.csv"
    path.write_text(
        "t,ax,ay\n0.0,1,2\n0.02,oops,2\n0.04,3\n0.06,nan,1\n0.08,5,6\n0.10,7,8"  # no final newline
    )
    source = ReplaySource(path, device="d", channels=("ax", "ay"), speed=0)
    batches = [batch for _, batch in replay(source)]
    assert_array_equal(np.concatenate([times(b) for b in batches]), [0.0, 0.08, 0.10])
    assert source.counters.parse.counts == {
        "header": 1,
        "bad_number": 1,
        "too_few_columns": 1,
        "non_finite": 1,
    }


@pytest.mark.parametrize(
    ("name", "content", "field", "message"),
    [
        ("missing.csv", None, "file", "cannot be read"),
        ("no_t.csv", "ax,ay\n1,2\n3,4\n", "t", "no 't' column"),
        ("no_channel.csv", "t,ax\n0,1\n1,2\n", "header", "t,ax,ay"),
        ("one.csv", "t,ax,ay\n0,1,2\n", "t", "at least two samples"),
        ("still.csv", "t,ax,ay\n1,1,2\n1,3,4\n", "t", "increasing"),
    ],
)
def test_unusable_csv_files_raise_input_errors(
    tmp_path: Path, name: str, content: str | None, field: str, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        load_recording(path, ("ax", "ay"))
    assert info.value.field == field
    assert info.value.source == str(path)


@pytest.mark.parametrize(
    ("arrays", "field", "message"),
    [
        ({"imu": np.zeros((4, 32, 2)), "channels": np.array(["ax", "ay"])}, "t", "windows"),
        ({"t": np.arange(3.0), "ax": np.zeros(3)}, "ay", "missing"),
        ({"t": np.arange(3.0), "ax": np.zeros(3), "ay": np.zeros(4)}, "ay", "4 samples"),
        ({"t": np.arange(3.0), "ax": np.zeros((3, 1)), "ay": np.zeros(3)}, "ax", "1-D"),
        ({"t": np.arange(3.0), "ax": np.array(["a"] * 3), "ay": np.zeros(3)}, "ax", "numeric"),
    ],
)
def test_unusable_npz_files_raise_input_errors(
    tmp_path: Path, arrays: dict[str, Any], field: str, message: str
) -> None:
    path = tmp_path / "stream.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=message) as info:
        load_recording(path, ("ax", "ay"))
    assert info.value.field == field


def test_npz_samples_with_nan_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "stream.npz"
    np.savez(path, t=np.arange(4.0), ax=np.array([1.0, np.nan, 3.0, 4.0]), ay=np.zeros(4))
    recording = load_recording(path, ("ax", "ay"))
    assert_array_equal(recording.t, [0.0, 2.0, 3.0])
    assert_array_equal(recording.channels["ax"], [1.0, 3.0, 4.0])


def test_a_bad_file_stops_the_source_with_an_input_error(tmp_path: Path) -> None:
    source = ReplaySource(tmp_path / "nope.npz", device="d", channels=("ax",), speed=0)
    with pytest.raises(InputError, match="no such file"):
        replay(source)


@pytest.mark.parametrize(("speed", "chunk_s"), [(-1.0, 0.1), (math.nan, 0.1), (1.0, 0.0)])
def test_bad_settings_are_refused(tmp_path: Path, speed: float, chunk_s: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        ReplaySource(tmp_path / "x.csv", device="d", channels=("ax",), speed=speed, chunk_s=chunk_s)
