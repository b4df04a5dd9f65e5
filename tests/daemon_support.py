"""Shared parts of the daemon tests: a bundle, IMU streams, configs, logs, ptys, MQTT helpers."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import jsonschema
import numpy as np
import pytest

from harbridge.calibration.bundle import write_bundle
from harbridge.calibration.calibrate import CalibrationOptions, calibrate
from harbridge.calibration.dataset import load_labeled, load_pairs
from harbridge.calibration.imu_features import feature_source
from harbridge.runtime.payloads import load_schema
from tests.mosquitto import Mosquitto
from tests.raw_data import CLASSES, write_raw_dataset

__all__ = [
    "CHANNELS",
    "GUARD_S",
    "HEADER",
    "HOP",
    "NO_OOD",
    "RATE_HZ",
    "UNITS",
    "WINDOW",
    "LogRecords",
    "Subscriber",
    "build_bundle",
    "bundle",
    "class_stream",
    "csv_lines",
    "daemon_logger",
    "mqtt_columns",
    "mqtt_config",
    "retained",
    "subscribed",
    "valid",
    "wait_until",
    "windows_in",
    "write_config",
]

CHANNELS = ("ax", "ay", "az", "gx", "gy", "gz")
UNITS = ("m/s2",) * 3 + ("rad/s",) * 3
RATE_HZ = 50.0
WINDOW = 64
HOP = WINDOW // 2
#: what a CSV device sends first: ``t`` then ``CHANNELS``
HEADER = ("t," + ",".join(CHANNELS) + "\n").encode()
#: the ``asyncio.timeout`` around a daemon test, so that a hang fails instead of stalling
GUARD_S = 30.0
# The bundle's own OOD threshold flags many windows of these noisy test classes as
# unknown; tests of the labels raise it so that they measure the labels.
NO_OOD = "[postprocess]\nood_threshold = 1e9\n"


def build_bundle(
    folder: Path,
    *,
    units: Sequence[str] = UNITS,
    classes: Sequence[str] | None = None,
    seed: int = 0,
) -> Path:
    """A bundle of the built-in encoder on the classes of ``tests/raw_data.py``.

    50 Hz, windows of 64 samples (hop 32), channels ``CHANNELS`` in ``units``; ``classes``
    renames the three classes (to test names the daemon refuses).
    """
    paths = write_raw_dataset(
        folder / "data", rate_hz=RATE_HZ, window=WINDOW, channels=CHANNELS, n=240, seed=seed
    )
    with np.load(paths["pairs"]) as data:
        arrays = {name: data[name] for name in data.files}
    np.savez(paths["pairs"], **{**arrays, "units": np.array(units)})
    if classes is not None:
        with np.load(paths["labeled"]) as data:
            arrays = {name: data[name] for name in data.files}
        np.savez(paths["labeled"], **{**arrays, "class_names": np.array(classes)})
    pairs = load_pairs(paths["pairs"])
    labeled = load_labeled(paths["labeled"])
    files, manifest = calibrate(
        pairs, labeled, None, feature_source(pairs, "builtin"), CalibrationOptions()
    )
    return write_bundle(folder / "bundle", files, manifest)


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One :func:`build_bundle` shared by every daemon test (import it as a fixture)."""
    return build_bundle(tmp_path_factory.mktemp("daemon-bundle"))


def class_stream(
    segments: Sequence[str], seconds: float, *, t0: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A continuous recording: ``seconds`` of each class of ``segments`` in turn.

    Each class is the oscillation of ``tests/raw_data.py`` at its nominal frequency and
    amplitude, with a random phase per channel and noise.

    Returns
    -------
    t : ndarray of shape (n,)
        Sample times from ``t0`` at ``RATE_HZ``.
    values : ndarray of shape (n, 6)
        Samples in ``CHANNELS`` order.
    labels : list of str, length n
        The class of each sample.
    """
    rng = np.random.default_rng(seed)
    per = round(seconds * RATE_HZ)
    gain = np.linspace(1.0, 2.0, len(CHANNELS))
    parts, labels = [], []
    for number, name in enumerate(segments):
        freq, amp = CLASSES[name]
        tau = (number * per + np.arange(per)) / RATE_HZ
        phase = rng.uniform(0, 2 * np.pi, len(CHANNELS))
        wave = amp * gain * np.sin(2 * np.pi * freq * tau[:, None] + phase)
        parts.append(wave + rng.normal(scale=0.1, size=wave.shape))
        labels += [name] * per
    values = np.concatenate(parts)
    return t0 + np.arange(len(values)) / RATE_HZ, values, labels


def csv_lines(t: np.ndarray | None, values: np.ndarray) -> list[bytes]:
    """One CSV line per sample (``t`` first when given), each ending in a newline."""
    rows = values if t is None else np.column_stack([t, values])
    return [(",".join(f"{x:.6f}" for x in row) + "\n").encode() for row in rows]


def mqtt_columns(t: np.ndarray | None, values: np.ndarray) -> bytes:
    """One MQTT IMU payload: a JSON object of named columns, ``t`` first when given."""
    body: dict[str, Any] = {} if t is None else {"t": t.tolist()}
    body |= {name: values[:, c].tolist() for c, name in enumerate(CHANNELS)}
    return json.dumps(body).encode()


def windows_in(samples: int) -> int:
    """Windows of ``WINDOW`` samples every ``HOP`` in a gap-free stream of ``samples``."""
    return (samples - WINDOW) // HOP + 1


def mqtt_config(broker: Mosquitto, bundle: Path, sources: str, extra: str = "") -> str:
    """A daemon config publishing to ``broker`` under the prefix ``hb``."""
    return (
        f'device = "gateway"\nbundle = "{bundle}"\n{sources}\n'
        f'[mqtt]\nurl = "{broker.url}"\ntopic_prefix = "hb"\n{extra}'
    )


def write_config(folder: Path, text: str) -> Path:
    """``text`` saved as ``folder/harbridge.toml``; returns its path."""
    path = folder / "harbridge.toml"
    path.write_text(text)
    return path


class LogRecords(logging.Handler):
    """A log handler that keeps every record from INFO up."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def warnings(self) -> list[str]:
        """The messages of the records at WARNING or above."""
        return [r.getMessage() for r in self.records if r.levelno >= logging.WARNING]


def daemon_logger(name: str) -> tuple[logging.Logger, LogRecords]:
    """A logger ``name`` at INFO to hand to the daemon, and the handler that keeps its records."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    records = LogRecords()
    logger.addHandler(records)
    return logger, records


def valid(kind: str, payload: bytes) -> dict[str, Any]:
    """The payload as JSON, checked against the published JSON Schema of ``kind``."""
    message: dict[str, Any] = json.loads(payload)
    jsonschema.validate(message, load_schema(kind))
    return message


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` every 20 ms; the caller's ``asyncio.timeout`` bounds the wait."""
    while not condition():
        await asyncio.sleep(0.02)


@dataclass
class Subscriber:
    """Every message received on the subscribed topics, by topic kind."""

    client: aiomqtt.Client
    messages: list[tuple[str, bytes]] = field(default_factory=list)

    def of(self, kind: str) -> list[dict[str, Any]]:
        """Payloads of ``<prefix>/<device>/<kind>`` topics, validated against their schema."""
        return [
            valid(kind, payload)
            for topic, payload in self.messages
            if topic.rsplit("/", 1)[-1] == kind
        ]

    def predictions(self, device: str) -> list[dict[str, Any]]:
        return [p for p in self.of("prediction") if p["device"] == device]


@asynccontextmanager
async def subscribed(broker: Mosquitto, *topics: str) -> AsyncIterator[Subscriber]:
    """A client subscribed to ``topics`` (QoS 1), collecting messages in the background."""
    async with aiomqtt.Client(broker.host, broker.port) as client:
        for topic in topics:
            await client.subscribe(topic, qos=1)
        subscriber = Subscriber(client)

        async def collect() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                subscriber.messages.append((message.topic.value, message.payload))

        task = asyncio.create_task(collect(), name="test subscriber")
        try:
            yield subscriber
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def retained(broker: Mosquitto, topic: str) -> dict[str, Any] | None:
    """The retained message of ``topic`` as JSON, or None (waits briefly for it)."""
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(topic, qos=1)
        try:
            async with asyncio.timeout(0.5):
                message = await anext(client.messages)
        except TimeoutError:
            return None
        assert isinstance(message.payload, bytes)
        return valid("status", message.payload)
