"""The daemon under faults: a broker that dies mid-stream, garbage on every input, signals.

Real parts throughout: Mosquitto on loopback (killed with SIGKILL and restarted on the
same port), pseudo-terminals for the serial devices, and a ``harbridge run`` subprocess
for the signal tests.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiomqtt
import numpy as np
import pytest

from harbridge.drivers.witmotion import PACKET_BYTES, encode_witmotion
from harbridge.runtime.config import PostprocessSettings, load_config
from harbridge.runtime.daemon import Daemon
from harbridge.runtime.device_state import DeviceState
from harbridge.runtime.inference import InferenceResult
from harbridge.runtime.predictor import Predictor
from harbridge.runtime.smoothing import Smoother
from harbridge.runtime.window_queue import WindowQueue
from harbridge.runtime.windowing import Window
from tests.daemon_support import (
    CHANNELS,
    GUARD_S,
    HEADER,
    NO_OOD,
    WINDOW,
    Subscriber,
    bundle,
    class_stream,
    csv_lines,
    daemon_logger,
    mqtt_config,
    retained,
    subscribed,
    wait_until,
    write_config,
)
from tests.mosquitto import Mosquitto, mosquitto_broker
from tests.pty_support import Pty

# Exported so that pytest (and ruff) see the imported fixtures as used.
__all__ = ["bundle", "mosquitto_broker"]


def recording(folder: Path, segments: list[str], seconds: float) -> Path:
    """A CSV recording of ``segments`` for a replay source."""
    path = folder / "stream.csv"
    t, values, _ = class_stream(segments, seconds)
    path.write_bytes(HEADER + b"".join(csv_lines(t, values)))
    return path


async def retained_state(broker: Mosquitto, topic: str, state: str) -> dict[str, Any]:
    """Wait until the retained status of ``topic`` is ``state``; return it."""
    while True:
        status = await retained(broker, topic)
        if status is not None and status["state"] == state:
            return status
        await asyncio.sleep(0.05)


def test_daemon_survives_a_broker_crash_and_reconnects(
    tmp_path: Path, bundle: Path, mosquitto_broker: Mosquitto
) -> None:
    path = recording(tmp_path, ["wave", "shake"], 3.0)
    sources = (
        f'[[sources]]\nkind = "replay"\npath = "{path}"\nspeed = 4\nloop = true\ndevice = "rec"\n'
    )
    text = mqtt_config(mosquitto_broker, bundle, sources, NO_OOD + "[metrics]\ninterval_s = 0.2\n")
    config = load_config(write_config(tmp_path, text))

    async def main() -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
        daemon = Daemon(config)
        stop = asyncio.Event()
        async with asyncio.timeout(GUARD_S):
            run = asyncio.create_task(daemon.run(stop))
            async with subscribed(mosquitto_broker, "hb/+/prediction") as sub:
                await wait_until(lambda: len(sub.predictions("rec")) >= 3)
            last_before = max(p["seq"] for p in sub.predictions("rec"))
            await asyncio.to_thread(mosquitto_broker.restart, signal.SIGKILL)
            await wait_until(lambda: daemon.publisher.counters.reconnects >= 1)
            async with subscribed(mosquitto_broker, "hb/#") as after:
                await wait_until(
                    lambda: any(p["seq"] > last_before + 3 for p in after.predictions("rec"))
                )
                await wait_until(lambda: any(m["reconnects"] >= 1 for m in after.of("metrics")))
            statuses = [
                await retained_state(mosquitto_broker, f"hb/{device}/status", "online")
                for device in ("gateway", "rec")
            ]
            assert not run.done()
            stop.set()
            await run
        return last_before, after.predictions("rec"), statuses

    last_before, resumed, statuses = asyncio.run(main())
    seqs = [p["seq"] for p in resumed]
    assert max(seqs) > last_before + 3
    assert seqs == sorted(seqs)
    assert [s["role"] for s in statuses] == ["daemon", "device"]


def garbage_csv(rng: np.random.Generator) -> tuple[bytes, list[str]]:
    """Valid CSV around every kind of bad line; also the class of each valid sample."""
    t_a, values_a, labels_a = class_stream(["sway"], 4.0, seed=5)
    t_b, values_b, labels_b = class_stream(["wave"], 4.0, t0=t_a[-1] + t_a[1], seed=6)
    bad = [
        b"\xff\xfe\xfd,1,2,3,4,5,6\n",  # not UTF-8
        b"4.5,nan,0,0,0,0,0\n",  # NaN
        b"4.5,0,inf,0,0,0,0\n",  # infinity
        b"1.0,2.0\n",  # too few columns
        b"9" * 10_000 + b"\n",  # far too long
        rng.integers(0, 256, 3000, dtype=np.uint8).tobytes() + b"\n",  # line noise
        HEADER,  # the device restarted and sends its header again
    ]
    stream = HEADER + b"".join(csv_lines(t_a, values_a)) + b"".join(bad)
    return stream + b"".join(csv_lines(t_b, values_b)), labels_a + labels_b


def garbage_witmotion(rng: np.random.Generator) -> tuple[bytes, int]:
    """WitMotion packets with every 10th checksum wrong and noise in between."""
    _, values, _ = class_stream(["shake"], 2.0, seed=7)
    packets = bytearray(encode_witmotion(values[:, :3], values[:, 3:]))
    corrupted = range(0, len(packets) // PACKET_BYTES, 10)
    for index in corrupted:
        packets[index * PACKET_BYTES + PACKET_BYTES - 1] ^= 0xFF
    middle = len(packets) // 2 // PACKET_BYTES * PACKET_BYTES
    noise = rng.integers(0, 256, 500, dtype=np.uint8).tobytes()
    return bytes(packets[:middle]) + noise + bytes(packets[middle:]), len(corrupted)


BAD_PAYLOADS = [
    ("imu/mq/raw", b"\xff\xfe"),
    ("imu/mq/raw", b"{not json"),
    ("imu/mq/raw", json.dumps({"t": [1.0], "ax": [1.0]}).encode()),
    ("imu/mq/raw", json.dumps({"t": [1.0, 2.0]} | {name: [1.0] for name in CHANNELS}).encode()),
    ("imu/mq/raw", json.dumps({name: ["x"] for name in CHANNELS}).encode()),
    ("imu//raw", json.dumps({name: [1.0] for name in CHANNELS}).encode()),
]


def test_garbage_on_every_input_is_counted_and_valid_data_still_classified(
    tmp_path: Path, bundle: Path, mosquitto_broker: Mosquitto
) -> None:
    rng = np.random.default_rng(11)
    csv_pty, wit_pty = Pty(), Pty()
    sources = (
        f'[[sources]]\nkind = "serial"\nport = "{csv_pty.port}"\ndevice = "csv"\n'
        f'[[sources]]\nkind = "serial"\nport = "{wit_pty.port}"\nformat = "witmotion"\n'
        'device = "wit"\n'
        '[[sources]]\nkind = "mqtt"\ntopic = "imu/+/raw"\n'
    )
    extra = NO_OOD + "[metrics]\ninterval_s = 0.2\n[windowing]\nmax_devices = 2\n"
    config = load_config(
        write_config(tmp_path, mqtt_config(mosquitto_broker, bundle, sources, extra))
    )
    csv_stream, labels = garbage_csv(rng)
    wit_stream, n_corrupted = garbage_witmotion(rng)
    logger, kept = daemon_logger("test.faults.daemon")
    expected_kinds = {
        "bad_utf8", "non_finite", "too_few_columns", "line_too_long", "header",
        "bad_checksum", "resync_bytes", "bad_json", "missing_channel", "unequal_lengths",
        "bad_number",
    }  # fmt: skip

    async def main() -> tuple[Subscriber, Any, int]:
        daemon = Daemon(config, logger=logger)
        stop = asyncio.Event()
        async with asyncio.timeout(GUARD_S), subscribed(mosquitto_broker, "hb/#") as sub:
            run = asyncio.create_task(daemon.run(stop))
            await wait_until(lambda: all(s.counters.connected for s in daemon.sources))
            await csv_pty.write(csv_stream)
            await wit_pty.write(wit_stream)
            await wait_until(lambda: len(daemon.devices) == 2)
            async with aiomqtt.Client(mosquitto_broker.host, mosquitto_broker.port) as client:
                for topic, payload in BAD_PAYLOADS:
                    await client.publish(topic, payload, qos=1)
                valid = {"t": [0.0, 0.02]} | {name: [0.5, 0.6] for name in CHANNELS}
                await client.publish("imu/intruder/raw", json.dumps(valid), qos=1)
            await wait_until(
                lambda: any(
                    expected_kinds <= set(m["parse_errors"])
                    and m["drops"].get("bad_topic")
                    and m["drops"].get("device_limit")
                    for m in sub.of("metrics")
                )
            )
            intruder = await retained(mosquitto_broker, "hb/intruder/status")
            assert intruder is None
            assert not run.done()
            stop.set()
            return sub, await run, daemon.sources[1].counters.samples

    sub, stats, wit_samples = asyncio.run(main())
    csv_pty.close()
    wit_pty.close()
    errors = stats.parse_errors
    assert errors["bad_checksum"] >= n_corrupted
    assert errors["header"] == 2
    assert errors["too_few_columns"] >= 1 and errors["line_too_long"] >= 1
    assert errors["non_finite"] >= 2
    assert stats.drops["bad_topic"] == 1 and stats.drops["device_limit"] == 2
    predictions = sub.predictions("csv")
    assert [p["seq"] for p in predictions] == list(range(len(predictions)))
    inside = [(p["label"], set(labels[round(p["t_start"] * 50) :][:WINDOW])) for p in predictions]
    judged = [(label, truth.pop()) for label, truth in inside if len(truth) == 1]
    assert len(judged) >= 6
    assert sum(label == truth for label, truth in judged) >= 0.9 * len(judged), judged
    # 100 samples; a wrong checksum costs the sample of an acceleration or rate packet.
    assert 100 - n_corrupted <= wit_samples < 100
    # Thousands of bad bytes and lines, a few log lines: one summary per metrics interval.
    messages = kept.warnings()
    assert len(messages) < 40, messages
    assert any("parse errors" in message for message in messages)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_daemon_process_cleanly(
    tmp_path: Path, bundle: Path, mosquitto_broker: Mosquitto, sig: signal.Signals
) -> None:
    path = recording(tmp_path, ["sway"], 3.0)
    sources = (
        f'[[sources]]\nkind = "replay"\npath = "{path}"\nspeed = 4\nloop = true\ndevice = "rec"\n'
    )
    config = write_config(tmp_path, mqtt_config(mosquitto_broker, bundle, sources))
    process = subprocess.Popen(
        [sys.executable, "-m", "harbridge", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    async def main() -> list[dict[str, Any]]:
        async with asyncio.timeout(GUARD_S):
            async with subscribed(mosquitto_broker, "hb/+/prediction") as sub:
                await wait_until(lambda: bool(sub.predictions("rec")) or process.poll() is not None)
            assert process.poll() is None, process.communicate()[1].decode()
            await retained_state(mosquitto_broker, "hb/rec/status", "online")
            process.send_signal(sig)
            await asyncio.to_thread(process.wait, GUARD_S)
            return [
                await retained_state(mosquitto_broker, f"hb/{device}/status", "offline")
                for device in ("gateway", "rec")
            ]

    try:
        statuses = asyncio.run(main())
    finally:
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert f"received {sig.name}; stopping" in stderr.decode()
    assert [s["role"] for s in statuses] == ["daemon", "device"]


def test_window_queue_drops_the_oldest_when_full() -> None:
    queue = WindowQueue(3)
    windows = [
        Window("d", float(i), i + 1.0, np.zeros((WINDOW, 6), np.float32), 0.0, 0) for i in range(5)
    ]
    for window in windows:
        queue.put(window)
    assert (len(queue), queue.dropped) == (3, 2)
    taken = asyncio.run(queue.take(2))
    assert [w.t_start for w in taken] == [2.0, 3.0]
    assert [w.t_start for w in asyncio.run(queue.take(10))] == [4.0]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_probabilities_are_skipped_and_counted_by_the_caller(
    bundle: Path, bad: float
) -> None:
    from harbridge.runtime.bundle_spec import load_bundle_spec

    predictor = Predictor(load_bundle_spec(bundle), PostprocessSettings(), wall_offset_s=100.0)
    state = DeviceState(Smoother(3), untimed=True)
    window = Window("d", 1.0, 2.28, np.zeros((WINDOW, 6), np.float32), 5.0, 0)
    good = InferenceResult(np.array([0.2, 0.7, 0.1], np.float32), np.zeros(3, np.float32), 1.0)
    payload = predictor.payload(window, good, state, now=5.25)
    assert payload is not None
    assert (payload["seq"], payload["label"], payload["latency_ms"]) == (0, "wave", 250.0)
    assert (payload["t_start"], payload["t_end"]) == pytest.approx((101.0, 102.28), abs=1e-9)
    broken = good._replace(probs=np.array([bad, 0.5, 0.5], np.float32))
    assert predictor.payload(window, broken, state, now=5.3) is None
    assert state.seq == 1
    after = predictor.payload(window, good, state, now=5.3)
    assert after is not None and after["seq"] == 1
    assert after["probs"] == pytest.approx({"sway": 0.2, "wave": 0.7, "shake": 0.1}, abs=1e-6)
