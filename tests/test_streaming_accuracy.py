"""Streaming accuracy (issue 4): the held-out subject's ``stream.csv`` through the daemon.

The default simulated dataset (``harbridge simulate``, seed 0) is calibrated with default
options and evaluated offline on ``test_imu.npz``. Its continuous recording is then
streamed into an in-process daemon, as fast as the daemon reads it, over a real
pseudo-terminal (serial CSV with ``t``) and over a real Mosquitto (column JSON with
``t``), and the predictions are checked two ways:

* the transport changes nothing: the daemon publishes every window of the recording, on
  the recording's own time grid, and labels each as the pipeline labels that window cut
  from the file in numpy, smoothed alike (the mean of the last two windows' probabilities);
* scored by the rule of :mod:`harbridge.calibration.stream_score` (a window counts when at
  least half of it lies in one action segment), the stream reaches at least 0.75 of the
  offline accuracy, ``unknown`` counting as wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import numpy as np
import pytest
from numpy.testing import assert_allclose

from harbridge.calibration.simulation import simulate_dataset
from harbridge.calibration.stream_score import load_segments, score_stream
from harbridge.cli import main as harbridge
from harbridge.drivers.replay_source import Recording, load_recording
from harbridge.runtime.bundle_spec import BundleSpec, load_bundle_spec
from harbridge.runtime.config import load_config
from harbridge.runtime.daemon import Daemon
from harbridge.runtime.inference import InferenceEngine
from harbridge.runtime.smoothing import Smoother, decide
from tests.daemon_support import Subscriber, subscribed, wait_until
from tests.mosquitto import Mosquitto, require_mosquitto
from tests.pty_support import Pty

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

GUARD_S = 60.0
DEVICE = "wrist-01"
RATIO = 0.75
#: ``[postprocess] smoothing`` of the daemon: the mean of the last two windows' probabilities
SMOOTHING = 2


class Prepared:
    """The simulated data, its bundle, the offline accuracy and the recording."""

    def __init__(self, folder: Path) -> None:
        self.data, self.bundle = folder / "data", folder / "bundle"
        simulate_dataset(self.data, 0)
        for argv in (
            ["calibrate", "--pairs", str(self.data / "pairs.npz"), "--labeled",
             str(self.data / "labeled_video.npz"), "--out", str(self.bundle)],
            ["evaluate", str(self.bundle), "--imu", str(self.data / "test_imu.npz"),
             "--json", str(folder / "offline.json"), "--no-report"],
        ):  # fmt: skip
            with contextlib.redirect_stdout(io.StringIO()):
                assert harbridge(argv) == 0, argv
        self.offline_accuracy = float(json.loads((folder / "offline.json").read_text())["accuracy"])
        self.spec: BundleSpec = load_bundle_spec(self.bundle)
        self.recording: Recording = load_recording(self.data / "stream.csv", self.spec.channels)
        self.segments = load_segments(self.data / "stream_segments.csv")

    @property
    def n_windows(self) -> int:
        return (self.recording.t.size - self.spec.window) // self.spec.hop + 1

    def values(self) -> np.ndarray:
        """The recording's samples, (n, C), in the bundle's channel order."""
        return np.column_stack([self.recording.channels[c] for c in self.spec.channels])

    def reference(self) -> tuple[np.ndarray, list[str]]:
        """Start times and labels of the recording's windows, cut, inferred and smoothed in
        numpy."""
        starts = np.arange(self.n_windows) * self.spec.hop
        windows = self.values().astype(np.float32)[starts[:, None] + np.arange(self.spec.window)]
        probs, _, ood = InferenceEngine(self.bundle).run_batch(windows)
        smoother = Smoother(SMOOTHING)
        labels = [
            decide(
                smoother.update(p), float(o), self.spec.classes, 0.0, self.spec.ood_threshold
            ).label
            for p, o in zip(probs, ood, strict=True)
        ]
        return self.recording.t[starts], labels


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    return Prepared(tmp_path_factory.mktemp("streaming"))


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    server = Mosquitto(require_mosquitto(), tmp_path_factory.mktemp("mosquitto"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _config(folder: Path, prepared: Prepared, broker: Mosquitto, sources: str) -> Path:
    path = folder / "streaming.toml"
    path.write_text(
        f'device = "gateway"\nbundle = "{prepared.bundle}"\n{sources}\n'
        f'[mqtt]\nurl = "{broker.url}"\ntopic_prefix = "hb"\n'
        f"[postprocess]\nsmoothing = {SMOOTHING}\n"
    )
    return path


async def _stream_pty(pty: Pty, prepared: Prepared) -> None:
    rows = np.column_stack([prepared.recording.t, prepared.values()])
    text = "t," + ",".join(prepared.spec.channels) + "\n"
    text += "".join(",".join(f"{x:.6f}" for x in row) + "\n" for row in rows)
    await pty.write(text.encode())


async def _stream_mqtt(broker: Mosquitto, prepared: Prepared) -> None:
    columns = {"t": prepared.recording.t} | {
        name: prepared.recording.channels[name] for name in prepared.spec.channels
    }
    bodies = [
        json.dumps({name: values[begin : begin + 10].tolist() for name, values in columns.items()})
        for begin in range(0, prepared.recording.t.size, 10)
    ]
    async with aiomqtt.Client(broker.host, broker.port) as client:
        # Ten at a time, sent in order (each publish is written before its task awaits);
        # aiomqtt warns beyond ten awaiting their acknowledgement.
        for first in range(0, len(bodies), 10):
            await asyncio.gather(
                *(
                    client.publish(f"imu/{DEVICE}/raw", body, qos=1)
                    for body in bodies[first : first + 10]
                )
            )


@pytest.fixture(scope="module", params=["pty", "mqtt"])
def streamed(
    request: pytest.FixtureRequest,
    prepared: Prepared,
    broker: Mosquitto,
    tmp_path_factory: pytest.TempPathFactory,
) -> list[dict[str, Any]]:
    """The predictions of the whole recording streamed over a pty or over MQTT."""
    folder = tmp_path_factory.mktemp(request.param)
    pty = Pty()
    sources = {
        "pty": f'[[sources]]\nkind = "serial"\nport = "{pty.port}"\ndevice = "{DEVICE}"\n',
        "mqtt": '[[sources]]\nkind = "mqtt"\ntopic = "imu/+/raw"\n',
    }[request.param]
    config = load_config(_config(folder, prepared, broker, sources))

    async def main() -> Subscriber:
        daemon = Daemon(config)
        stop = asyncio.Event()
        async with asyncio.timeout(GUARD_S), subscribed(broker, "hb/+/prediction") as sub:
            run = asyncio.create_task(daemon.run(stop))
            await wait_until(lambda: daemon.sources[0].counters.connected)
            if request.param == "pty":
                await _stream_pty(pty, prepared)
            else:
                await _stream_mqtt(broker, prepared)
            # Counted raw: validating every message at every poll would cost seconds.
            await wait_until(lambda: len(sub.messages) >= prepared.n_windows)
            stop.set()
            await run
        return sub

    try:
        return asyncio.run(main()).predictions(DEVICE)
    finally:
        pty.close()


def test_the_transport_changes_no_window_and_no_label(
    streamed: list[dict[str, Any]], prepared: Prepared
) -> None:
    t_start, labels = prepared.reference()
    assert len(streamed) == prepared.n_windows
    assert_allclose([p["t_start"] for p in streamed], t_start, atol=1e-6)
    window_s = prepared.spec.window / prepared.spec.rate_hz
    assert_allclose([p["t_end"] - p["t_start"] for p in streamed], window_s, atol=1e-6)
    assert [p["label"] for p in streamed] == labels


def test_streaming_accuracy_reaches_three_quarters_of_offline(
    streamed: list[dict[str, Any]], prepared: Prepared
) -> None:
    predictions = [(p["t_start"], p["t_end"], p["label"]) for p in streamed]
    score = score_stream(predictions, prepared.segments)
    # The recording is long enough for a ratio that one window more or less cannot flip.
    assert score.scored >= 80
    assert score.accuracy >= RATIO * prepared.offline_accuracy, (
        score,
        prepared.offline_accuracy,
    )
