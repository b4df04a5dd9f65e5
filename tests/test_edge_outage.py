"""A 30-second broker outage, for real: the daemon keeps windowing and predicting, holds
what it cannot publish in its bounded buffer (``[queues] publish``), drops the oldest
when that is full and counts them, and sends the rest, in order, once the broker is back.

The broker keeps sessions on disk (as Debian's does), so an observer with a persistent
session receives what the daemon sends after the restart even if it reconnects later.
This test takes about 40 seconds.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from harbridge.drivers.backoff import BackoffPolicy
from harbridge.runtime.config import load_config
from harbridge.runtime.daemon import Daemon
from tests.daemon_support import CHANNELS, bundle, class_stream, csv_lines, mqtt_config, wait_until
from tests.mosquitto import Mosquitto, require_mosquitto

# Exported so that pytest (and ruff) see the imported fixture as used.
__all__ = ["bundle"]

OUTAGE_S = 30.0
BUFFER = 20
GUARD_S = OUTAGE_S + 60.0


async def observe(broker: Mosquitto, received: list[dict[str, Any]]) -> None:
    """Collect predictions with a persistent session, reconnecting across the outage."""
    while True:
        try:
            async with aiomqtt.Client(
                broker.host, broker.port, identifier="edge-outage-observer", clean_session=False
            ) as client:
                await client.subscribe("hb/+/prediction", qos=1)
                async for message in client.messages:
                    assert isinstance(message.payload, bytes)
                    received.append(json.loads(message.payload))
        except aiomqtt.MqttError:
            await asyncio.sleep(0.2)


def real_time_config(folder: Path, bundle: Path, broker: Mosquitto) -> Path:
    """A daemon replaying a recording in real time, in a loop, with a small outage buffer."""
    recording = folder / "stream.csv"
    t, values, _ = class_stream(["wave"], 10.0)
    header = ("t," + ",".join(CHANNELS) + "\n").encode()
    recording.write_bytes(header + b"".join(csv_lines(t, values)))
    sources = (
        f'[[sources]]\nkind = "replay"\npath = "{recording}"\nspeed = 1\nloop = true\n'
        'device = "rec"\n'
    )
    extra = (
        "[postprocess]\nood_threshold = 1e9\n[metrics]\ninterval_s = 1000\n"
        f"[queues]\npublish = {BUFFER}\n"
    )
    path = folder / "harbridge.toml"
    path.write_text(mqtt_config(broker, bundle, sources, extra))
    return path


@pytest.mark.slow
@pytest.mark.mosquitto
def test_predictions_of_a_30_s_outage_arrive_afterwards_up_to_the_buffer(
    tmp_path: Path, bundle: Path
) -> None:
    broker = Mosquitto(require_mosquitto(), tmp_path / "mosquitto", persistence=True)
    broker.start()
    config = load_config(real_time_config(tmp_path, bundle, broker))
    received: list[dict[str, Any]] = []

    async def main() -> tuple[Any, int, int, int, int]:
        daemon = Daemon(config)
        # Reconnect within a second of the broker's return, not after the default backoff.
        daemon.publisher.backoff = BackoffPolicy(initial_s=0.2, maximum_s=1.0)
        stop = asyncio.Event()
        async with asyncio.timeout(GUARD_S):
            watcher = asyncio.create_task(observe(broker, received))
            run = asyncio.create_task(daemon.run(stop))
            await wait_until(lambda: len(received) >= 3)
            await asyncio.to_thread(broker.stop, signal.SIGTERM)
            began = time.monotonic()
            stopped_at = daemon.counters.predictions
            windows_before = daemon.stats().windows
            await asyncio.sleep(OUTAGE_S)
            assert not daemon.publisher.counters.connected
            windows_during = daemon.stats().windows - windows_before
            made = daemon.counters.predictions - stopped_at
            await asyncio.to_thread(broker.start)
            await wait_until(lambda: daemon.publisher.counters.reconnects >= 1)
            await wait_until(lambda: daemon.publisher.buffered == 0)
            latest = daemon.counters.predictions - 1
            await wait_until(lambda: any(p["seq"] >= latest for p in received))
            outage_s = time.monotonic() - began
            stop.set()
            stats = await run
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        return stats, stopped_at, made, windows_during, round(outage_s)

    try:
        stats, stopped_at, made, windows_during, outage_s = asyncio.run(main())
    finally:
        broker.stop()
    seqs = sorted({p["seq"] for p in received})
    missing = sorted(set(range(seqs[-1] + 1)) - set(seqs))
    dropped = stats.drops["publish_buffer"]
    # 30 s at 50 Hz, a window every 32 samples: about 47 windows, all predicted.
    assert windows_during >= 0.9 * OUTAGE_S * 50 / 32
    assert made == windows_during
    # The buffer kept the latest BUFFER predictions; the older ones are the counted drops.
    assert dropped == len(missing) > 0
    assert made - dropped <= BUFFER <= made
    assert missing == list(range(missing[0], missing[-1] + 1))
    assert stopped_at - 2 <= missing[0]
    assert seqs[-1] >= stopped_at + made - 1
    print(
        f"outage {outage_s} s: {made} predictions made while the broker was away, "
        f"{made - dropped} delivered afterwards, {dropped} dropped (buffer {BUFFER})"
    )
