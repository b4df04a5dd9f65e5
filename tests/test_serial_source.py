"""Serial source through a real pseudo-terminal: framing by format, unplug/replug, backoff."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

from harbridge.drivers.backoff import Backoff, BackoffPolicy, backoff_delay
from harbridge.drivers.blocking import ReaderThread
from harbridge.drivers.samples import SampleBatch
from harbridge.drivers.serial_source import SerialSource, make_parser
from harbridge.drivers.witmotion import WITMOTION_CHANNELS, encode_witmotion
from tests.pty_support import Adapter

CHANNELS = ("ax", "ay", "az", "gx", "gy", "gz")
FAST = BackoffPolicy(initial_s=0.02, maximum_s=0.1, healthy_s=60.0)
GUARD_S = 10.0


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` every 10 ms; the caller's timeout guard bounds the wait."""
    while not condition():
        await asyncio.sleep(0.01)
    assert condition(), what


def run_with_source(
    source: SerialSource, body: Callable[[list[SampleBatch]], Coroutine[Any, Any, None]]
) -> list[SampleBatch]:
    """Run ``source`` while ``body`` drives the test, within a hang guard."""
    batches: list[SampleBatch] = []

    async def main() -> None:
        async with asyncio.timeout(GUARD_S):
            task = asyncio.create_task(source.run(batches.append), name=source.name)
            try:
                await body(batches)
            finally:
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task

    asyncio.run(main())
    return batches


def samples_of(batches: list[SampleBatch]) -> np.ndarray:
    """Samples of ``batches`` as rows (n, C) in CHANNELS order."""
    return np.concatenate([np.column_stack([b.channels[c] for c in CHANNELS]) for b in batches])


def encoded(format: str, values: np.ndarray, t0: float) -> bytes:
    """``values`` (n, 6) as a device of ``format`` sends them, with times from ``t0``."""
    table = np.column_stack([t0 + 0.01 * np.arange(len(values)), values]).tolist()
    if format == "csv":
        lines = ["t," + ",".join(CHANNELS)] + [",".join(map(repr, row)) for row in table]
        return ("\n".join(lines) + "\n").encode()
    if format == "jsonl":
        keys = ("t", *CHANNELS)
        return "".join(
            json.dumps(dict(zip(keys, row, strict=True))) + "\n" for row in table
        ).encode()
    return encode_witmotion(values[:, :3], values[:, 3:])


# WitMotion words hold 16 g / 32768 and 2000 °/s / 32768 per count.
TOLERANCE = {"csv": 0.0, "jsonl": 0.0, "witmotion": 5e-3}


@pytest.mark.parametrize("format", ["csv", "jsonl", "witmotion"])
def test_samples_written_on_the_pty_arrive_as_batches(tmp_path: Path, format: str) -> None:
    rng = np.random.default_rng(1)
    values = rng.uniform(-3, 3, size=(40, 6))
    adapter = Adapter(tmp_path / "imu0")
    adapter.plug()
    source = SerialSource(
        str(adapter.link), device="wrist", channels=CHANNELS, format=format, backoff=FAST
    )

    async def body(batches: list[SampleBatch]) -> None:
        await wait_until(lambda: source.counters.connected, "port opened")
        data = encoded(format, values, 0.0)
        for start in range(0, len(data), 37):  # split mid-line and mid-packet
            await adapter.write(data[start : start + 37])
        await wait_until(lambda: source.counters.samples >= len(values), "all samples")

    batches = run_with_source(source, body)
    adapter.unplug()
    assert {b.device for b in batches} == {"wrist"}
    assert_allclose(samples_of(batches), values, atol=TOLERANCE[format], rtol=0)
    if format != "witmotion":
        t = np.concatenate([b.t for b in batches if b.t is not None])
        assert_allclose(t, 0.01 * np.arange(len(values)), atol=1e-12)
    assert source.counters.batches == len(batches)
    assert source.counters.reconnects == 0
    assert source.counters.parse.total == 0


def test_unplug_and_replug_resumes_without_restart(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    before, after = rng.normal(size=(20, 6)), rng.normal(size=(30, 6))
    adapter = Adapter(tmp_path / "imu0")
    adapter.plug()
    source = SerialSource(str(adapter.link), device="wrist", channels=CHANNELS, backoff=FAST)

    async def body(batches: list[SampleBatch]) -> None:
        await wait_until(lambda: source.counters.connected, "port opened")
        await adapter.write(encoded("csv", before, 0.0))
        # Half a line before the unplug must not be glued to the first bytes after it.
        await adapter.write(b"0.99,1.0,2.0")
        await wait_until(lambda: source.counters.samples == len(before), "first samples")
        adapter.unplug()
        await wait_until(lambda: not source.counters.connected, "loss noticed")
        await asyncio.sleep(0.15)  # a few failed reopen attempts while unplugged
        adapter.plug()
        await wait_until(lambda: source.counters.connected, "reopened")
        await adapter.write(b"3.0,4.0\n" + encoded("csv", after, 5.0))
        await wait_until(lambda: source.counters.samples == len(before) + len(after), "resumed")

    batches = run_with_source(source, body)
    adapter.unplug()
    assert source.counters.reconnects == 1
    assert_allclose(samples_of(batches), np.concatenate([before, after]), rtol=0, atol=0)
    # The line cut by the unplug is dropped: its tail reaches a fresh parser without header.
    assert source.counters.parse.counts.get("no_header") == 1


def test_a_port_that_is_not_there_yet_is_waited_for(tmp_path: Path) -> None:
    adapter = Adapter(tmp_path / "imu0")
    source = SerialSource(str(adapter.link), device="wrist", channels=CHANNELS, backoff=FAST)

    async def body(batches: list[SampleBatch]) -> None:
        await asyncio.sleep(0.1)
        assert not source.counters.connected
        adapter.plug()
        await wait_until(lambda: source.counters.connected, "opened once plugged")
        await adapter.write(encoded("csv", np.ones((3, 6)), 0.0))
        await wait_until(lambda: source.counters.samples == 3, "samples")

    run_with_source(source, body)
    adapter.unplug()
    assert source.counters.reconnects == 0


def test_relinking_the_path_to_another_device_counts_as_a_replug(tmp_path: Path) -> None:
    adapter = Adapter(tmp_path / "imu0")
    adapter.plug()
    old = adapter.pty
    source = SerialSource(
        str(adapter.link), device="wrist", channels=CHANNELS, backoff=FAST, read_timeout_s=0.05
    )

    async def body(batches: list[SampleBatch]) -> None:
        await wait_until(lambda: source.counters.connected, "port opened")
        # The old pty stays open, so no read error: only the path check can notice.
        adapter.plug()
        await wait_until(lambda: source.counters.reconnects == 1, "moved to the new device")
        await adapter.write(encoded("csv", np.full((4, 6), 7.0), 0.0))
        await wait_until(lambda: source.counters.samples == 4, "samples from the new device")

    batches = run_with_source(source, body)
    adapter.unplug()
    assert old is not None
    old.close()
    assert_allclose(samples_of(batches), np.full((4, 6), 7.0), rtol=0, atol=0)


def test_garbage_is_counted_and_the_stream_goes_on(tmp_path: Path) -> None:
    adapter = Adapter(tmp_path / "imu0")
    adapter.plug()
    source = SerialSource(str(adapter.link), device="wrist", channels=CHANNELS, backoff=FAST)

    async def body(batches: list[SampleBatch]) -> None:
        await wait_until(lambda: source.counters.connected, "port opened")
        await adapter.write(b"t,ax,ay,az,gx,gy,gz\n1,2,3\n\xff\xfe,1\n0.1,1,2,3,4,5,nope\n")
        await adapter.write(b"0.2,1,2,3,4,5,6\n0.3,nan,2,3,4,5,6\n")
        await wait_until(lambda: source.counters.parse.total == 4, "errors counted")
        await wait_until(lambda: source.counters.samples == 1, "good sample kept")

    run_with_source(source, body)
    adapter.unplug()
    assert source.counters.parse.counts == {
        "header": 1,
        "too_few_columns": 1,
        "bad_utf8": 1,
        "bad_number": 1,
        "non_finite": 1,
    }


@pytest.mark.parametrize(
    ("format", "channels", "message"),
    [
        ("xml", CHANNELS, "unknown serial format"),
        ("witmotion", ("ax", "mx"), "WitMotion channels"),
        ("csv", ("ax", "ax"), "repeat"),
    ],
)
def test_bad_settings_fail_at_construction(
    format: Any, channels: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SerialSource("/dev/null", device="d", channels=channels, format=format)


def test_make_parser_picks_the_framing_by_format() -> None:
    data = encode_witmotion(np.zeros((2, 3)), np.zeros((2, 3)))
    (batch,) = make_parser("witmotion", "d", WITMOTION_CHANNELS).feed(data)
    assert len(batch) == 2
    assert make_parser("csv", "d", ("ax",)).feed(data) == []


@pytest.mark.parametrize(
    ("attempt", "u", "expected"),
    [
        (0, 0.0, 0.5),
        (1, 0.0, 1.0),
        (3, 0.0, 4.0),
        (6, 0.0, 30.0),
        (10_000, 0.0, 30.0),
        (2, 0.5, 1.5),
        (2, 0.999, 1.001),
    ],
)
def test_backoff_delay_is_exponential_capped_and_jittered(
    attempt: int, u: float, expected: float
) -> None:
    policy = BackoffPolicy(initial_s=0.5, maximum_s=30.0, factor=2.0, jitter=0.5)
    assert_allclose(backoff_delay(attempt, policy, u), expected, rtol=1e-12)


def test_backoff_resets_after_a_healthy_connection_only() -> None:
    now = [0.0]
    policy = BackoffPolicy(initial_s=1.0, maximum_s=8.0, jitter=0.0, healthy_s=10.0)
    backoff = Backoff(policy, random.Random(0), clock=lambda: now[0])
    assert [backoff.next_delay() for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    backoff.connected()
    now[0] += 9.0  # flapping: up for less than healthy_s
    assert backoff.next_delay() == 8.0
    backoff.connected()
    now[0] += 10.0
    assert backoff.next_delay() == 1.0
    assert backoff.failures == 1


def test_backoff_jitter_stays_within_its_fraction() -> None:
    policy = BackoffPolicy(initial_s=2.0, maximum_s=2.0, jitter=0.25)
    backoff = Backoff(policy, random.Random(3))
    delays = np.array([backoff.next_delay() for _ in range(200)])
    assert delays.min() >= 1.5
    assert delays.max() <= 2.0
    assert delays.std() > 0.05  # really random, so devices do not retry in lockstep


@pytest.mark.parametrize(
    "bad",
    [
        {"initial_s": 0.0},
        {"initial_s": 5.0, "maximum_s": 1.0},
        {"factor": 0.5},
        {"jitter": 1.5},
        {"healthy_s": -1.0},
    ],
)
def test_backoff_policy_refuses_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        BackoffPolicy(**bad)


def test_reader_thread_delivers_bytes_then_the_error_then_closes() -> None:
    chunks: list[bytes | Exception] = [b"ab", b"", b"cd", OSError("unplugged")]
    closed: list[bool] = []

    def read() -> bytes:
        item = chunks.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def main() -> bytes:
        received = b""
        async with asyncio.timeout(GUARD_S):
            reader = ReaderThread(read, lambda: closed.append(True), "t")
            async with reader:
                with pytest.raises(OSError, match="unplugged"):
                    while True:
                        received += await reader.read()
        return received

    assert asyncio.run(main()) == b"abcd"
    assert closed == [True]


def test_reader_thread_bounds_what_it_holds() -> None:
    sent = [b"x" * 600, b"y" * 600, b"z" * 600]

    def read() -> bytes:
        if sent:
            return sent.pop(0)
        time.sleep(0.005)  # a quiet port's read timeout
        return b""

    async def main() -> tuple[bytes, int]:
        async with asyncio.timeout(GUARD_S):
            reader = ReaderThread(read, lambda: None, "t", max_pending_bytes=1000)
            async with reader:
                while sent:
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.05)
                return await reader.read(), reader.overflow_bytes

    data, overflow = asyncio.run(main())
    assert data == b"x" * 600 + b"y" * 400
    assert overflow == 800
