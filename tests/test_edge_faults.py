"""The daemon against hostile MQTT payloads and a serial adapter pulled out and plugged back.

Real parts: Mosquitto on loopback, pseudo-terminals behind a stable symbolic link (as
``/dev/serial/by-id/…`` links are), a real bundle. What the daemon did is read from its
metrics messages, as an operator would.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiomqtt
import numpy as np

from harbridge.runtime.config import load_config
from harbridge.runtime.daemon import Daemon
from tests.daemon_support import (
    CHANNELS,
    GUARD_S,
    HEADER,
    NO_OOD,
    RATE_HZ,
    Subscriber,
    bundle,
    class_stream,
    csv_lines,
    mqtt_columns,
    mqtt_config,
    subscribed,
    wait_until,
    windows_in,
    write_config,
)
from tests.mosquitto import Mosquitto, mosquitto_broker
from tests.pty_support import Adapter

# Exported so that pytest (and ruff) see the imported fixtures as used.
__all__ = ["bundle", "mosquitto_broker"]


def hostile_payloads() -> dict[str, bytes]:
    """Payloads the daemon must refuse without reading them whole, by the kind counted."""
    zeros = np.zeros((10_001, len(CHANNELS)))
    return {
        # 1 MB of samples (the limit is 256 KiB).
        "payload_too_large": mqtt_columns(np.arange(20_000) / RATE_HZ, np.ones((20_000, 6))),
        # 10 001 samples in 240 KB: small enough, but more samples than a message may hold.
        "too_many_samples": json.dumps({n: [0] * 10_001 for n in CHANNELS}).encode(),
        # 100 000 nested lists: a parser that recursed would overflow its stack.
        "bad_json": b"[" * 100_000 + b"]" * 100_000,
        "unequal_lengths": mqtt_columns(None, zeros[:3]).replace(b"[0.0, 0.0, 0.0]", b"[0.0]", 1),
    }


def test_oversized_and_absurd_payloads_are_refused_counted_and_the_stream_goes_on(
    tmp_path: Path, bundle: Path, mosquitto_broker: Mosquitto
) -> None:
    sources = '[[sources]]\nkind = "mqtt"\ntopic = "imu/+/raw"\n'
    extra = NO_OOD + "[metrics]\ninterval_s = 0.2\n"
    config = load_config(
        write_config(tmp_path, mqtt_config(mosquitto_broker, bundle, sources, extra))
    )
    hostile = hostile_payloads()
    t, values, _ = class_stream(["wave"], 4.0)
    n_windows = windows_in(len(t))

    async def main() -> tuple[Subscriber, Any]:
        daemon = Daemon(config)
        stop = asyncio.Event()
        async with asyncio.timeout(GUARD_S), subscribed(mosquitto_broker, "hb/#") as sub:
            run = asyncio.create_task(daemon.run(stop))
            await wait_until(lambda: daemon.sources[0].counters.connected)
            async with aiomqtt.Client(mosquitto_broker.host, mosquitto_broker.port) as client:
                half = len(t) // 2
                await client.publish("imu/wrist/raw", mqtt_columns(t[:half], values[:half]), qos=1)
                for payload in hostile.values():
                    await client.publish("imu/wrist/raw", payload, qos=1)
                await client.publish("imu/wrist/raw", mqtt_columns(t[half:], values[half:]), qos=1)
            await wait_until(lambda: len(sub.predictions("wrist")) >= n_windows)
            await wait_until(
                lambda: any(hostile.keys() <= m["parse_errors"].keys() for m in sub.of("metrics"))
            )
            assert not run.done()
            stop.set()
            return sub, await run

    sub, stats = asyncio.run(main())
    assert {kind: stats.parse_errors[kind] for kind in hostile} == dict.fromkeys(hostile, 1)
    assert stats.samples == len(t)
    predictions = sub.predictions("wrist")
    assert [p["seq"] for p in predictions] == list(range(n_windows))
    assert {p["label"] for p in predictions} == {"wave"}


def test_serial_unplug_and_replug_resumes_predictions_without_a_restart(
    tmp_path: Path, bundle: Path, mosquitto_broker: Mosquitto
) -> None:
    adapter = Adapter(tmp_path / "usb-imu")
    adapter.plug()
    sources = f'[[sources]]\nkind = "serial"\nport = "{adapter.link}"\ndevice = "wrist"\n'
    extra = NO_OOD + "[metrics]\ninterval_s = 0.2\n"
    config = load_config(
        write_config(tmp_path, mqtt_config(mosquitto_broker, bundle, sources, extra))
    )
    before = class_stream(["sway"], 3.0)
    after = class_stream(["shake"], 3.0, t0=20.0, seed=1)
    per_part = windows_in(len(before[0]))

    async def main() -> tuple[Subscriber, Any, int]:
        daemon = Daemon(config)
        source = daemon.sources[0]
        stop = asyncio.Event()
        async with asyncio.timeout(GUARD_S), subscribed(mosquitto_broker, "hb/#") as sub:
            run = asyncio.create_task(daemon.run(stop))
            await wait_until(lambda: source.counters.connected)
            await adapter.write(HEADER + b"".join(csv_lines(*before[:2])))
            await wait_until(lambda: len(sub.predictions("wrist")) >= per_part)
            adapter.unplug()
            await wait_until(lambda: not source.counters.connected)
            await asyncio.sleep(1.0)  # the daemon retries a port that is not there
            adapter.plug()
            await wait_until(lambda: source.counters.connected)
            # A CSV device sends its header again when it powers up.
            await adapter.write(HEADER + b"".join(csv_lines(*after[:2])))
            await wait_until(lambda: len(sub.predictions("wrist")) >= 2 * per_part)
            await wait_until(lambda: any(m["reconnects"] >= 1 for m in sub.of("metrics")))
            assert not run.done()
            stop.set()
            return sub, await run, source.counters.reconnects

    try:
        sub, stats, reconnects = asyncio.run(main())
    finally:
        if adapter.pty is not None:
            adapter.unplug()
    predictions = sub.predictions("wrist")
    assert [p["seq"] for p in predictions] == list(range(2 * per_part))
    assert {p["label"] for p in predictions[:per_part]} == {"sway"}
    assert {p["label"] for p in predictions[per_part:]} == {"shake"}
    assert predictions[per_part]["t_start"] >= 20.0
    assert reconnects == 1 and stats.reconnects == 1
    assert stats.parse_errors.get("header") == 2
    assert stats.clock["gap"] == 1
