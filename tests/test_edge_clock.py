"""Clock trouble, end to end: timestamps that jump back or forward, a stalled sensor, a
sensor at half the bundle's rate. Each has a defined behaviour (docs/RUNTIME.md, "Clock
rules"), is counted in the metrics message and logged at a bounded rate.

A serial CSV device with a ``t`` column talks to an in-process daemon through a real
pseudo-terminal; a WitMotion device (no timestamps) is paced in real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

from harbridge.drivers.witmotion import encode_witmotion
from harbridge.runtime.config import load_config
from harbridge.runtime.daemon import Daemon
from tests.daemon_support import (
    GUARD_S,
    HEADER,
    HOP,
    NO_OOD,
    RATE_HZ,
    WINDOW,
    Subscriber,
    bundle,
    class_stream,
    csv_lines,
    daemon_logger,
    mqtt_config,
    subscribed,
    wait_until,
    write_config,
)
from tests.mosquitto import Mosquitto, mosquitto_broker
from tests.pty_support import Pty

# Exported so that pytest (and ruff) see the imported fixtures as used.
__all__ = ["bundle", "mosquitto_broker"]

STALL_S = 1.0
SETTINGS = NO_OOD + f"[metrics]\ninterval_s = 0.2\n[windowing]\nstall_s = {STALL_S}\n"
Stream = tuple[np.ndarray, np.ndarray, list[str]]


def windows_of(seconds: float, rate_hz: float = RATE_HZ) -> int:
    """Windows in a gap-free stretch of ``seconds`` of samples at ``rate_hz``."""
    grid = int(np.floor((round(seconds * rate_hz) - 1) / rate_hz * RATE_HZ + 1e-9)) + 1
    return (grid - WINDOW) // HOP + 1


@dataclass
class Scenario:
    """Two parts of a stream written one after the other, with a pause between."""

    first: Stream
    second: Stream
    pause_s: float
    clock: dict[str, int]
    drops: dict[str, int]
    windows: int

    @property
    def restarted(self) -> bool:
        """Whether the windowing restarted at the second part (a gap or a clock reset)."""
        return bool(self.clock["gap"] or self.clock["clock_reset"])

    def starts(self) -> np.ndarray:
        """``t_start`` of every window: the grid restarts at the second part if restarted."""
        if not self.restarted:
            return float(self.first[0][0]) + np.arange(self.windows) * HOP / RATE_HZ
        n = windows_of(len(self.first[0]) / RATE_HZ)
        return np.concatenate(
            [
                self.first[0][0] + np.arange(n) * HOP / RATE_HZ,
                self.second[0][0] + np.arange(self.windows - n) * HOP / RATE_HZ,
            ]
        )


def jump_back_short() -> Scenario:
    # Back by 2 s (< clock_reset_s): samples until the clock catches up are dropped.
    first = class_stream(["wave"], 4.0)
    return Scenario(
        first, class_stream(["wave"], 6.0, t0=2.0, seed=1), 0.0,
        clock={"gap": 0, "clock_reset": 0, "stall": 0, "slow_rate": 0},
        drops={"out_of_order": 99, "duplicate": 1}, windows=windows_of(8.0),
    )  # fmt: skip


def jump_back_reboot() -> Scenario:
    # The device rebooted: its clock restarts at 0 an hour earlier; the buffer restarts.
    first = class_stream(["sway"], 4.0, t0=3600.0)
    return Scenario(
        first, class_stream(["shake"], 4.0, seed=1), 0.0,
        clock={"gap": 0, "clock_reset": 1, "stall": 0, "slow_rate": 0},
        drops={}, windows=2 * windows_of(4.0),
    )  # fmt: skip


def jump_forward() -> Scenario:
    first = class_stream(["sway"], 4.0)
    return Scenario(
        first, class_stream(["shake"], 4.0, t0=3604.0, seed=1), 0.0,
        clock={"gap": 1, "clock_reset": 0, "stall": 0, "slow_rate": 0},
        drops={}, windows=2 * windows_of(4.0),
    )  # fmt: skip


def stall() -> Scenario:
    first = class_stream(["sway"], 3.0)
    return Scenario(
        first, class_stream(["wave"], 3.0, t0=3.0 + 2 * STALL_S, seed=1), 2 * STALL_S,
        clock={"gap": 1, "clock_reset": 0, "stall": 1, "slow_rate": 0},
        drops={}, windows=2 * windows_of(3.0),
    )  # fmt: skip


def half_rate() -> Scenario:
    t, values, labels = class_stream(["wave"], 8.0)
    first = (t[:200:2], values[:200:2], labels[:200:2])
    second = (t[200::2], values[200::2], labels[200::2])
    return Scenario(
        first, second, 0.0,
        clock={"gap": 0, "clock_reset": 0, "stall": 0, "slow_rate": 1},
        drops={}, windows=windows_of(8.0, RATE_HZ / 2),
    )  # fmt: skip


SCENARIOS: list[Callable[[], Scenario]] = [
    jump_back_short,
    jump_back_reboot,
    jump_forward,
    stall,
    half_rate,
]


def label_of(prediction: dict[str, Any], stream: Stream) -> str | None:
    """The class of every sample the window covers, or None if it covers two or none."""
    t, _, labels = stream
    inside = (t >= prediction["t_start"] - 1e-9) & (t < prediction["t_end"] - 1e-9)
    covered = {labels[i] for i in np.flatnonzero(inside)}
    return covered.pop() if len(covered) == 1 else None


@pytest.mark.parametrize("make", SCENARIOS, ids=[make.__name__ for make in SCENARIOS])
def test_clock_trouble_is_handled_counted_and_logged_at_a_bounded_rate(
    tmp_path: Path, bundle: Path, mosquitto_broker: Mosquitto, make: Callable[[], Scenario]
) -> None:
    scenario = make()
    pty = Pty()
    sources = f'[[sources]]\nkind = "serial"\nport = "{pty.port}"\ndevice = "wrist"\n'
    config = load_config(
        write_config(tmp_path, mqtt_config(mosquitto_broker, bundle, sources, SETTINGS))
    )
    logger, records = daemon_logger(f"tests.edge.clock.{make.__name__}")
    first_windows = windows_of(len(scenario.first[0]) / RATE_HZ)

    async def main() -> tuple[Subscriber, Any, list[dict[str, Any]]]:
        daemon = Daemon(config, logger=logger)
        stop = asyncio.Event()
        async with asyncio.timeout(GUARD_S), subscribed(mosquitto_broker, "hb/#") as sub:
            run = asyncio.create_task(daemon.run(stop))
            await wait_until(lambda: daemon.sources[0].counters.connected)
            await pty.write(HEADER + b"".join(csv_lines(*scenario.first[:2])))
            await wait_until(lambda: len(sub.predictions("wrist")) >= min(3, first_windows))
            await asyncio.sleep(scenario.pause_s)
            during = list(sub.of("metrics"))
            await pty.write(b"".join(csv_lines(*scenario.second[:2])))
            await wait_until(lambda: len(sub.predictions("wrist")) >= scenario.windows)
            await wait_until(
                lambda: any(m.get("clock") == scenario.clock for m in sub.of("metrics"))
            )
            assert not run.done()
            stop.set()
            return sub, await run, during

    try:
        sub, stats, during = asyncio.run(main())
    finally:
        pty.close()
    predictions = sub.predictions("wrist")
    assert len(predictions) == scenario.windows
    assert [p["seq"] for p in predictions] == list(range(scenario.windows))
    assert dict(stats.clock) == scenario.clock
    assert {k: v for k, v in stats.drops.items() if v} == scenario.drops
    # Times are the device's: they follow its clock, jumps included.
    assert_allclose([p["t_start"] for p in predictions], scenario.starts(), atol=1e-6)
    judged = [(p["label"], label_of(p, scenario.first) or label_of(p, scenario.second))
              for p in predictions]  # fmt: skip
    judged = [(label, truth) for label, truth in judged if truth is not None]
    assert sum(label == truth for label, truth in judged) >= 0.9 * len(judged) >= 3, judged
    if scenario.clock["stall"]:
        # While it was silent the device was not counted as sending, and the stall was.
        assert any(m["devices"] == 0 and m["clock"]["stall"] == 1 for m in during), during
    warnings = records.warnings()
    assert len(warnings) <= 4, warnings
    if scenario.clock["stall"]:
        assert any("device wrist: no samples for" in w for w in warnings), warnings
    if scenario.clock["slow_rate"]:
        assert any("device wrist: samples at 25.0 Hz" in w for w in warnings), warnings
    if any(scenario.clock.values()) or scenario.drops:
        assert any("clock trouble" in w for w in warnings), warnings


def test_a_sensor_without_timestamps_at_half_rate_is_found_slow(
    tmp_path: Path, bundle: Path, mosquitto_broker: Mosquitto
) -> None:
    """A WitMotion sensor sends no times: its rate is measured on arrival, in real time."""
    pty = Pty()
    sources = (
        f'[[sources]]\nkind = "serial"\nport = "{pty.port}"\nformat = "witmotion"\ndevice = "wit"\n'
    )
    config = load_config(
        write_config(tmp_path, mqtt_config(mosquitto_broker, bundle, sources, SETTINGS))
    )
    _, values, _ = class_stream(["wave"], 10.0)
    slow = values[::2]  # 25 Hz
    logger, records = daemon_logger("tests.edge.clock.witmotion")

    async def main() -> Any:
        daemon = Daemon(config, logger=logger)
        stop = asyncio.Event()
        async with asyncio.timeout(GUARD_S):
            run = asyncio.create_task(daemon.run(stop))
            await wait_until(lambda: daemon.sources[0].counters.connected)
            loop = asyncio.get_running_loop()
            start = loop.time()
            for k in range(0, len(slow), 5):  # a burst every 200 ms
                await asyncio.sleep(max(0.0, start + (k + 5) / (RATE_HZ / 2) - loop.time()))
                block = slow[k : k + 5]
                await pty.write(encode_witmotion(block[:, :3], block[:, 3:]))
                if daemon.clocks.counters.slow_rate:
                    break
            stop.set()
            return await run

    try:
        stats = asyncio.run(main())
    finally:
        pty.close()
    assert stats.clock["slow_rate"] == 1
    assert any("device wit: samples at 2" in w for w in records.warnings())


def batch(device: str, t: np.ndarray | None, n: int) -> Any:
    from harbridge.drivers.samples import SampleBatch

    return SampleBatch(device, t, {"ax": np.zeros(n)})


@pytest.mark.parametrize("timed", [True, False], ids=["timed", "arrival-stamped"])
@pytest.mark.parametrize(
    ("rate_hz", "slow"), [(50.0, 0), (40.0, 0), (36.0, 1), (25.0, 1), (100.0, 0)]
)
def test_clock_watch_finds_slow_devices_once_per_episode(
    timed: bool, rate_hz: float, slow: int
) -> None:
    from harbridge.runtime.clock_watch import ClockWatch

    logger, records = daemon_logger(f"unit.{timed}.{rate_hz}")
    watch = ClockWatch(RATE_HZ, 0.5, 5.0, logger)
    per_batch = 5
    for k in range(0, int(10 * rate_hz), per_batch):  # 10 s of samples
        t = (k + np.arange(per_batch)) / rate_hz
        watch.observe(batch("d", t if timed else None, per_batch), arrival=float(t[-1]))
    assert watch.counters.slow_rate == slow
    assert len(records.warnings()) == slow


@pytest.mark.parametrize("trouble", ["jump_forward_1s", "jump_back", "duplicate_times", "pause_2s"])
def test_clock_watch_does_not_take_clock_trouble_for_a_slow_device(trouble: str) -> None:
    from harbridge.runtime.clock_watch import ClockWatch

    logger, records = daemon_logger(f"unit.{trouble}")
    watch = ClockWatch(RATE_HZ, 0.5, 5.0, logger)
    t = np.arange(500) / RATE_HZ  # 10 s at 50 Hz
    if trouble == "jump_forward_1s":
        t[250:] += 1.0
    elif trouble == "jump_back":
        t[250:] -= 2.0
    elif trouble == "duplicate_times":
        t[250:260] = t[250]
    arrival = t.copy()
    if trouble == "pause_2s":
        t[250:] += 2.0
        arrival[250:] += 2.0
    for k in range(0, 500, 5):
        watch.observe(batch("d", t[k : k + 5], 5), arrival=float(arrival[k + 4]))
    assert (watch.counters.slow_rate, watch.counters.stall) == (0, 0)
    assert records.warnings() == []


def test_clock_watch_counts_a_stall_once_and_its_end() -> None:
    from harbridge.runtime.clock_watch import ClockWatch

    logger, records = daemon_logger("unit.stall")
    watch = ClockWatch(RATE_HZ, 0.5, 2.0, logger)
    watch.observe(batch("a", None, 5), arrival=10.0)
    watch.observe(batch("b", None, 5), arrival=10.0)
    for now in (11.0, 11.9):
        watch.check(now)
    assert watch.counters.stall == 0
    watch.observe(batch("b", None, 5), arrival=11.9)
    for now in (12.0, 12.5, 13.0):  # a is silent from 10.0 on; b from 11.9
        watch.check(now)
    assert watch.counters.stall == 1
    watch.observe(batch("a", None, 5), arrival=14.0)  # a is back
    watch.check(14.0)  # b, silent for 2.1 s, stalls now
    assert watch.counters.stall == 2
    messages = [r.getMessage() for r in records.records]
    assert messages == [
        "device a: no samples for 2.0 s (stalled); its predictions resume when samples come back",
        "device a: samples again after 4.0 s",
        "device b: no samples for 2.1 s (stalled); its predictions resume when samples come back",
    ]


@pytest.mark.parametrize(
    ("windowing", "expected"),
    [("", 5.0), ("max_gap_s = 4.0\n", 8.0), ("stall_s = 2.5\n", 2.5)],
)
def test_stall_s_defaults_above_max_gap_s(
    tmp_path: Path, bundle: Path, windowing: str, expected: float
) -> None:
    path = write_config(
        tmp_path,
        f'device = "pi"\nbundle = "{bundle}"\n[[sources]]\nkind = "mqtt"\ntopic = "imu/+/raw"\n'
        f"[windowing]\n{windowing}",
    )
    assert load_config(path).windowing.stall_s == expected


def test_a_stall_s_not_above_max_gap_s_is_refused(tmp_path: Path, bundle: Path) -> None:
    from harbridge.errors import InputError

    path = write_config(
        tmp_path,
        f'device = "pi"\nbundle = "{bundle}"\n[[sources]]\nkind = "mqtt"\ntopic = "imu/+/raw"\n'
        "[windowing]\nmax_gap_s = 1.0\nstall_s = 1.0\n",
    )
    with pytest.raises(InputError) as info:
        load_config(path)
    assert (info.value.field, info.value.problem) == ("windowing.stall_s", "must be > 1.0, got 1.0")
