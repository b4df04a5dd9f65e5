"""``harbridge listen`` against a real Mosquitto: readable lines, JSON lines, filters, exits."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from datetime import datetime
from typing import Any

import aiomqtt
import numpy as np
import pytest

from harbridge.cli import main
from harbridge.runtime.listener import format_prediction, read_prediction
from harbridge.runtime.payloads import encode, prediction_payload
from tests.mosquitto import Mosquitto, free_port, mosquitto_broker

__all__ = ["mosquitto_broker"]

GUARD_S = 20.0
CLASSES = ("sway", "wave", "shake")


def prediction(device: str, seq: int, *, unknown: bool = False) -> dict[str, Any]:
    probs = np.array([0.1, 0.25, 0.65]) if not unknown else np.array([0.3, 0.45, 0.25])
    return prediction_payload(
        device=device,
        seq=seq,
        t_start=10.0 + seq,
        t_end=11.28 + seq,
        label="unknown" if unknown else "shake",
        confidence=float(probs.max()),
        class_names=CLASSES,
        probs=probs,
        unknown=unknown,
        latency_ms=12.345,
        model="bundle@0123456789ab",
    )


def start_listen(broker: Mosquitto, *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "harbridge", "listen", "--broker", broker.url, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def feed_until_exit(
    broker: Mosquitto, process: subprocess.Popen[bytes], messages: list[tuple[str, bytes]]
) -> tuple[str, str]:
    """Publish ``messages`` over and over until ``process`` exits (it subscribes late)."""

    async def feed() -> None:
        async with (
            asyncio.timeout(GUARD_S),
            aiomqtt.Client(broker.host, broker.port) as client,
        ):
            while process.poll() is None:
                for topic, payload in messages:
                    await client.publish(topic, payload, qos=1)
                await asyncio.sleep(0.1)

    try:
        asyncio.run(feed())
    finally:
        if process.poll() is None:
            process.kill()
    out, err = process.communicate()
    return out.decode(), err.decode()


def test_readable_lines_until_count(mosquitto_broker: Mosquitto) -> None:
    process = start_listen(mosquitto_broker, "--count", "3", "--timeout", str(GUARD_S))
    messages = [
        ("harbridge/wrist-07/prediction", encode(prediction("wrist-07", 1))),
        ("harbridge/wrist-07/prediction", encode(prediction("wrist-07", 2, unknown=True))),
    ]
    out, err = feed_until_exit(mosquitto_broker, process, messages)
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    for line in lines:
        assert "wrist-07" in line and "12.3 ms" in line
    known = [line for line in lines if "? unknown" not in line]
    unknown = [line for line in lines if "? unknown" in line]
    assert known and unknown
    assert all("shake" in line and "65.0%" in line for line in known)
    assert all("45.0%" in line and "(closest: wave)" in line for line in unknown)


def test_json_lines_are_the_payloads(mosquitto_broker: Mosquitto) -> None:
    process = start_listen(mosquitto_broker, "--json", "--count", "2", "--timeout", str(GUARD_S))
    payload = prediction("wrist-07", 4)
    out, err = feed_until_exit(
        mosquitto_broker, process, [("harbridge/wrist-07/prediction", encode(payload))]
    )
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    assert [json.loads(line) for line in lines] == [payload, payload]


def test_device_filter_prefix_and_garbage(mosquitto_broker: Mosquitto) -> None:
    process = start_listen(
        mosquitto_broker,
        *("--device", "wrist-2", "--topic-prefix", "site/hb", "--json", "--count", "3"),
    )
    messages = [
        ("site/hb/wrist-1/prediction", encode(prediction("wrist-1", 0))),
        ("site/hb/wrist-2/prediction", b"\xff not a prediction"),
        ("site/hb/wrist-2/prediction", encode(prediction("wrist-2", 0))),
        ("harbridge/wrist-2/prediction", encode(prediction("wrist-2", 99))),
    ]
    out, err = feed_until_exit(mosquitto_broker, process, messages)
    assert process.returncode == 0, err
    assert {json.loads(line)["device"] for line in out.splitlines()} == {"wrist-2"}
    assert {json.loads(line)["seq"] for line in out.splitlines()} == {0}
    assert "skipped a message on site/hb/wrist-2/prediction" in err
    assert err.count("skipped") == 1  # rate-limited, though garbage came several times


def test_timeout_without_predictions_exits_0_quietly(mosquitto_broker: Mosquitto) -> None:
    process = start_listen(mosquitto_broker, "--timeout", "0.5")
    out, err = process.communicate(timeout=GUARD_S)
    assert (process.returncode, out, err) == (0, b"", b"")


def test_ctrl_c_exits_0(mosquitto_broker: Mosquitto) -> None:
    process = start_listen(mosquitto_broker)
    deadline = time.monotonic() + GUARD_S
    # Wait until it is subscribed: the broker logs the new client.
    while "New client connected" not in mosquitto_broker.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=GUARD_S)
    assert (process.returncode, out) == (0, b""), err


def test_unreachable_broker_is_one_line_error_with_a_timeout() -> None:
    url = f"mqtt://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "harbridge", "listen", "--broker", url, "--timeout", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = process.communicate(timeout=GUARD_S)
    assert (process.returncode, out) == (2, b"")
    (line,) = err.decode().splitlines()
    assert line.startswith(f"harbridge: error: listen: --broker: cannot connect to {url}")


def test_unreachable_broker_without_timeout_waits_with_one_status_line() -> None:
    url = f"mqtt://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "harbridge", "listen", "--broker", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stderr = process.stderr
    assert stderr is not None

    async def first_line() -> bytes:
        async with asyncio.timeout(GUARD_S):
            return await asyncio.to_thread(stderr.readline)

    try:
        status = asyncio.run(first_line()).decode()
        time.sleep(1.5)  # more retries: the first waits 0.25–0.5 s, the next twice that
    finally:
        process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=GUARD_S)
    assert (process.returncode, out, err) == (0, b"", b"")
    assert status.startswith(f"harbridge listen: waiting for the broker at {url}")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--broker", "http://localhost"], "listen: --broker: must start with mqtt://"),
        (["--device", "a/b"], "listen: --device: device id 'a/b' contains '/'"),
        (["--count", "0"], "listen: --count: must be at least 1"),
        (["--timeout", "-1"], "listen: --timeout: must be a positive number"),
    ],
)
def test_bad_options_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    assert main(["listen", *argv]) == 2
    _, err = capsys.readouterr()
    assert err.startswith(f"harbridge: error: {words}")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"schema": "harbridge.status/1", "state": "online"}',
        json.dumps(prediction("d", 0) | {"confidence": "high"}).encode(),
        json.dumps(prediction("d", 0) | {"unknown": 1}).encode(),
        json.dumps({k: v for k, v in prediction("d", 0).items() if k != "probs"}).encode(),
        encode(prediction("d", 0)).replace(b'"latency_ms":12.345', b'"latency_ms":NaN'),
    ],
)
def test_only_prediction_payloads_are_read(payload: bytes) -> None:
    assert read_prediction(payload) is None


def test_format_prediction_reads_like_a_log_line() -> None:
    when = datetime(2025, 1, 2, 12, 4, 5, 123456)
    known = read_prediction(encode(prediction("wrist-07", 3)))
    unknown = read_prediction(encode(prediction("wrist-07", 4, unknown=True)))
    assert known is not None and unknown is not None
    assert format_prediction(known, when) == (
        "12:04:05.123  wrist-07      shake           65.0%    12.3 ms"
    )
    assert format_prediction(unknown, when) == (
        "12:04:05.123  wrist-07      ? unknown       45.0%    12.3 ms  (closest: wave)"
    )
