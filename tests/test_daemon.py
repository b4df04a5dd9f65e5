"""The daemon end to end: real ptys and a real Mosquitto, a real bundle and onnxruntime.

Each test starts the daemon in-process (:class:`harbridge.runtime.daemon.Daemon`), feeds
it a continuous stream of the test classes (serial CSV, MQTT JSON from two devices,
WitMotion binary), and checks what a subscriber receives: every message valid against
its JSON Schema, ``seq`` counting up per device, the windows' times, the labels, the
retained statuses, and the metrics.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Any

import aiomqtt
import numpy as np
from numpy.testing import assert_allclose

from harbridge.drivers.witmotion import encode_witmotion
from harbridge.runtime.config import load_config
from harbridge.runtime.daemon import Daemon, run_daemon
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
    mqtt_columns,
    mqtt_config,
    retained,
    subscribed,
    wait_until,
    windows_in,
    write_config,
)
from tests.mosquitto import Mosquitto, mosquitto_broker
from tests.pty_support import Pty

# Exported so that pytest (and ruff) see the imported fixtures as used.
__all__ = ["bundle", "mosquitto_broker"]


def window_class(prediction: dict[str, Any], labels: list[str], t0: float) -> str | None:
    """The class of every sample the prediction's window covers, or None if it spans two."""
    first = round((prediction["t_start"] - t0) * RATE_HZ)
    covered = set(labels[first : first + WINDOW])
    return covered.pop() if len(covered) == 1 else None


def assert_labels_right(predictions: list[dict[str, Any]], labels: list[str], t0: float) -> None:
    """At least 90 % of the windows inside one segment get that segment's class."""
    judged = [(p["label"], window_class(p, labels, t0)) for p in predictions]
    judged = [(label, truth) for label, truth in judged if truth is not None]
    assert len(judged) >= 3
    right = sum(label == truth for label, truth in judged)
    assert right >= 0.9 * len(judged), judged


def assert_seq_counts_up(predictions: list[dict[str, Any]]) -> None:
    assert [p["seq"] for p in predictions] == list(range(len(predictions)))


def test_serial_csv_stream_is_classified_published_and_ends_offline(
    tmp_path: Path, bundle: Path, mosquitto_broker: Mosquitto
) -> None:
    pty = Pty()
    sources = f'[[sources]]\nkind = "serial"\nport = "{pty.port}"\ndevice = "wrist"\n'
    text = mqtt_config(mosquitto_broker, bundle, sources, NO_OOD + "[metrics]\ninterval_s = 0.3\n")
    config = load_config(write_config(tmp_path, text))
    t, values, labels = class_stream(["sway", "wave", "shake"], 6.0)
    n_windows = windows_in(len(t))
    statuses: dict[str, dict[str, Any] | None] = {}

    async def main() -> Subscriber:
        daemon = Daemon(config)
        stop = asyncio.Event()
        async with asyncio.timeout(GUARD_S), subscribed(mosquitto_broker, "hb/#") as sub:
            run = asyncio.create_task(daemon.run(stop))
            await wait_until(lambda: daemon.sources[0].counters.connected)
            await pty.write(HEADER + b"".join(csv_lines(t, values)))
            await wait_until(lambda: len(sub.predictions("wrist")) >= n_windows)
            await wait_until(lambda: any(m["windows"] == n_windows for m in sub.of("metrics")))
            statuses["online"] = await retained(mosquitto_broker, "hb/wrist/status")
            stop.set()
            stats = await run
            assert (stats.samples, stats.windows, stats.predictions) == (
                len(t),
                n_windows,
                n_windows,
            )
            for device in ("wrist", "gateway"):
                statuses[device] = await retained(mosquitto_broker, f"hb/{device}/status")
        return sub

    sub = asyncio.run(main())
    pty.close()
    predictions = sub.predictions("wrist")
    assert len(predictions) == n_windows
    assert_seq_counts_up(predictions)
    assert_allclose(
        [p["t_start"] for p in predictions], np.arange(n_windows) * HOP / RATE_HZ, atol=1e-9
    )
    assert_allclose([p["t_end"] - p["t_start"] for p in predictions], WINDOW / RATE_HZ, atol=1e-9)
    assert_labels_right(predictions, labels, 0.0)
    sha = hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
    assert {p["model"] for p in predictions} == {f"bundle@{sha[:12]}"}
    assert all(p["latency_ms"] >= 0 and not p["unknown"] for p in predictions)
    online, wrist, daemon = statuses["online"], statuses["wrist"], statuses["gateway"]
    assert online is not None and (online["state"], online["role"]) == ("online", "device")
    assert wrist is not None and wrist["state"] == "offline"
    assert daemon is not None and (daemon["state"], daemon["role"]) == ("offline", "daemon")
    last = sub.of("metrics")[-1]
    assert (last["samples"], last["windows"], last["predictions"]) == (
        len(t),
        n_windows,
        n_windows,
    )
    assert last["parse_errors"] == {"header": 1}
    assert not any(last["drops"].values())
    assert any(m["latency_ms"]["count"] > 0 for m in sub.of("metrics"))


def test_mqtt_wildcard_source_serves_two_devices(
    tmp_path: Path, bundle: Path, mosquitto_broker: Mosquitto
) -> None:
    sources = '[[sources]]\nkind = "mqtt"\ntopic = "imu/+/raw"\n'
    config = load_config(
        write_config(tmp_path, mqtt_config(mosquitto_broker, bundle, sources, NO_OOD))
    )
    streams = {
        "wrist-1": class_stream(["sway", "shake"], 4.0, t0=100.0, seed=1),
        "wrist-2": class_stream(["wave", "sway"], 4.0, t0=7.5, seed=2),
    }
    n_windows = windows_in(len(streams["wrist-1"][0]))

    async def publish_streams() -> None:
        async with aiomqtt.Client(mosquitto_broker.host, mosquitto_broker.port) as client:
            for start in range(0, len(streams["wrist-1"][0]), 25):
                for device, (t, values, _) in streams.items():
                    chunk = slice(start, start + 25)
                    payload = mqtt_columns(t[chunk], values[chunk])
                    await client.publish(f"imu/{device}/raw", payload, qos=1)

    async def main() -> Subscriber:
        daemon = Daemon(config)
        stop = asyncio.Event()
        async with asyncio.timeout(GUARD_S), subscribed(mosquitto_broker, "hb/+/prediction") as sub:
            run = asyncio.create_task(daemon.run(stop))
            await wait_until(lambda: daemon.sources[0].counters.connected)
            await publish_streams()
            await wait_until(lambda: all(len(sub.predictions(d)) >= n_windows for d in streams))
            stop.set()
            await run
        return sub

    sub = asyncio.run(main())
    for device, (t, _, labels) in streams.items():
        predictions = sub.predictions(device)
        assert len(predictions) == n_windows
        assert_seq_counts_up(predictions)
        assert_allclose(predictions[0]["t_start"], t[0], atol=1e-9)
        assert_labels_right(predictions, labels, t[0])


def test_witmotion_sensor_through_a_pty(
    tmp_path: Path, bundle: Path, mosquitto_broker: Mosquitto
) -> None:
    """WitMotion sends no times: samples are stamped on arrival, so they are paced in real
    time, and the windows' times are on the wall clock."""
    pty = Pty()
    sources = (
        f'[[sources]]\nkind = "serial"\nport = "{pty.port}"\nformat = "witmotion"\ndevice = "wit"\n'
    )
    config = load_config(
        write_config(tmp_path, mqtt_config(mosquitto_broker, bundle, sources, NO_OOD))
    )
    _, values, labels = class_stream(["wave", "shake"], 2.0, seed=3)
    chunk = 5  # samples per write: a packet burst every 100 ms at 50 Hz

    async def main() -> tuple[Subscriber, float, float]:
        stop = asyncio.Event()
        async with asyncio.timeout(GUARD_S), subscribed(mosquitto_broker, "hb/+/prediction") as sub:
            daemon = Daemon(config)
            run = asyncio.create_task(daemon.run(stop))
            await wait_until(lambda: daemon.sources[0].counters.connected)
            loop = asyncio.get_running_loop()
            start, began = loop.time(), time.time()
            for k in range(0, len(values), chunk):
                await asyncio.sleep(max(0.0, start + (k + chunk) / RATE_HZ - loop.time()))
                block = values[k : k + chunk]
                await pty.write(encode_witmotion(block[:, :3], block[:, 3:]))
            ended = time.time()
            await wait_until(lambda: len(sub.predictions("wit")) >= 4)
            stop.set()
            await run
        return sub, began, ended

    sub, began, ended = asyncio.run(main())
    pty.close()
    predictions = sub.predictions("wit")
    assert len(predictions) == windows_in(len(values))
    assert_seq_counts_up(predictions)
    # Arrival stamps are shifted onto the wall clock: the windows lie within the writes.
    assert began - 0.5 <= predictions[0]["t_start"] <= predictions[-1]["t_end"] <= ended + 0.5
    assert_allclose([p["t_end"] - p["t_start"] for p in predictions], WINDOW / RATE_HZ, atol=1e-6)
    # Window k starts at sample k * HOP of the stream, whatever the clock says.
    assert_labels_right(predictions, labels, predictions[0]["t_start"])


def test_run_daemon_entry_point_stops_on_the_event(
    tmp_path: Path, bundle: Path, mosquitto_broker: Mosquitto
) -> None:
    recording = tmp_path / "stream.csv"
    t, values, _ = class_stream(["wave"], 3.0)
    recording.write_bytes(HEADER + b"".join(csv_lines(t, values)))
    sources = f'[[sources]]\nkind = "replay"\npath = "{recording}"\nspeed = 0\ndevice = "rec"\n'
    config = load_config(
        write_config(tmp_path, mqtt_config(mosquitto_broker, bundle, sources, NO_OOD))
    )
    n_windows = windows_in(len(t))

    async def main() -> tuple[Subscriber, int]:
        stop = asyncio.Event()
        async with asyncio.timeout(GUARD_S), subscribed(mosquitto_broker, "hb/+/prediction") as sub:
            run = asyncio.create_task(run_daemon(config, stop=stop))
            await wait_until(lambda: len(sub.predictions("rec")) >= n_windows)
            stop.set()
            stats = await run
        return sub, stats.predictions

    sub, published = asyncio.run(main())
    assert published == n_windows
    assert [p["label"] for p in sub.predictions("rec")] == ["wave"] * n_windows
