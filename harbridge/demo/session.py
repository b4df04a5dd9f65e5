"""The demo, step by step: simulate → calibrate → broker → device on a pty → daemon → live view.

Everything runs in this process except nothing: the simulated wearable writes WitMotion
packets into a real pseudo-terminal, the daemon reads it like a USB adapter, publishes
over a real MQTT broker, and the live view is one more MQTT subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harbridge.calibration.stream_score import Segment, load_segments, score_stream, truth_of
from harbridge.cli import main as harbridge
from harbridge.demo.broker import demo_broker
from harbridge.demo.display import DemoScreen, LiveLine
from harbridge.drivers.replay_source import load_recording
from harbridge.drivers.simulated_device import SimulatedWitMotion
from harbridge.errors import HarbridgeError
from harbridge.runtime.config import Config, load_config
from harbridge.runtime.daemon import run_daemon
from harbridge.runtime.listener import read_prediction
from harbridge.runtime.mqtt_url import broker_options

__all__ = ["DemoOptions", "DemoResult", "run_demo"]

STEPS = 5
DEVICE = "wrist-01"
#: seconds the daemon keeps running after the recording ends, for the last windows
DRAIN_S = 2.0


@dataclass(frozen=True)
class DemoOptions:
    """What ``harbridge demo`` was asked."""

    workdir: Path
    seed: int = 0
    duration_s: float | None = None
    broker_url: str | None = None


@dataclass(frozen=True)
class DemoResult:
    """What the demo measured."""

    predictions: int
    scored: int
    streaming_accuracy: float
    offline_accuracy: float
    latency_p50_ms: float
    latency_p99_ms: float


def _quietly(argv: list[str]) -> str:
    """Run a harbridge command, capturing what it prints; fail loudly if it fails."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = harbridge(argv)
    if code != 0:
        raise HarbridgeError(f"harbridge {argv[0]} failed with exit code {code}")
    return buffer.getvalue()


def _prepare(options: DemoOptions, screen: DemoScreen) -> tuple[Path, float]:
    """Steps 1–2: the dataset and the bundle; returns the bundle and the offline accuracy."""
    from harbridge.calibration.simulation import simulate_dataset

    data, bundle = options.workdir / "data", options.workdir / "bundle"
    screen.step(1, STEPS, "simulating a wrist IMU + video dataset (12 arm actions, 10 people)")
    simulate_dataset(data, options.seed, stream_repetitions=1)
    screen.note(f"{data}: paired windows of 5 training subjects, a held-out subject's stream")
    screen.step(
        2, STEPS, "calibrating: perfect alignment of video and IMU, Gaussian head on video labels"
    )
    started = time.perf_counter()
    printed = _quietly(
        [
            "calibrate",
            "--pairs",
            str(data / "pairs.npz"),
            "--labeled",
            str(data / "labeled_video.npz"),
            "--out",
            str(bundle),
        ]
    )
    screen.note(printed.splitlines()[0] + f" in {time.perf_counter() - started:.1f} s")
    results = options.workdir / "offline.json"
    _quietly(
        [
            "evaluate",
            str(bundle),
            "--imu",
            str(data / "test_imu.npz"),
            "--json",
            str(results),
            "--no-report",
        ]
    )
    offline = float(json.loads(results.read_text())["accuracy"])
    screen.note(
        f"offline accuracy on held-out subjects' IMU windows (zero IMU labels): {offline:.3f}"
    )
    return bundle, offline


def _write_config(workdir: Path, bundle: Path, port: str, broker_url: str) -> Path:
    config = workdir / "config.toml"
    config.write_text(
        f'device = "demo"\nbundle = "{bundle}"\n\n'
        f'[[sources]]\nkind = "serial"\nport = "{port}"\nformat = "witmotion"\n'
        f'device = "{DEVICE}"\n\n'
        f'[mqtt]\nurl = "{broker_url}"\n\n[metrics]\ninterval_s = 5.0\n\n'
        # The mean of the last two windows' probabilities: fewer flickering labels.
        "[postprocess]\nsmoothing = 2\n"
    )
    return config


async def run_demo(options: DemoOptions, screen: DemoScreen) -> DemoResult:
    """Run every step and return what was measured."""
    bundle, offline = await asyncio.to_thread(_prepare, options, screen)
    data = options.workdir / "data"
    segments = load_segments(data / "stream_segments.csv")
    recording = load_recording(data / "stream.csv", ("ax", "ay", "az", "gx", "gy", "gz"))
    samples = recording.t.size
    if options.duration_s is not None:
        samples = int(np.searchsorted(recording.t, recording.t[0] + options.duration_s))
    acc = np.stack([recording.channels[c][:samples] for c in ("ax", "ay", "az")], axis=1)
    gyro = np.stack([recording.channels[c][:samples] for c in ("gx", "gy", "gz")], axis=1)

    async with demo_broker(options.broker_url) as broker:
        where = "in-process amqtt broker" if broker.in_process else "existing broker"
        screen.step(3, STEPS, f"MQTT: {where} at {broker.url}")
        master, slave = os.openpty()
        try:
            port = os.ttyname(slave)
            config = load_config(_write_config(options.workdir, bundle, port, broker.url))
            screen.step(
                4,
                STEPS,
                f"a simulated WitMotion IMU on the pseudo-terminal {port}, read by the daemon",
            )
            screen.note(
                f"streaming {recording.t[samples - 1] - recording.t[0]:.0f} s of a held-out "
                "person's recording in real time"
            )
            screen.step(
                5, STEPS, "live predictions (daemon → MQTT → this screen) next to the ground truth"
            )
            device = SimulatedWitMotion(master, recording.t[:samples], acc, gyro)
            lines = await _stream(config, device, segments, screen)
        finally:
            os.close(master)
            os.close(slave)

    score = score_stream(((line.t_start, line.t_end, line.label) for line in lines), segments)
    latencies = np.array([line.latency_ms for line in lines]) if lines else np.array([np.nan])
    return DemoResult(
        predictions=len(lines),
        scored=score.scored,
        streaming_accuracy=score.accuracy,
        offline_accuracy=offline,
        latency_p50_ms=float(np.percentile(latencies, 50)),
        latency_p99_ms=float(np.percentile(latencies, 99)),
    )


async def _stream(
    config: Config, device: SimulatedWitMotion, segments: list[Segment], screen: DemoScreen
) -> list[LiveLine]:
    """Run daemon, device and live view together until the recording has been played."""
    stop = asyncio.Event()
    lines: list[LiveLine] = []
    subscribed = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    async def view() -> None:
        options = broker_options(config.mqtt)
        async with options.client(identifier=None) as client:
            await client.subscribe(f"{config.mqtt.topic_prefix}/{DEVICE}/prediction", qos=1)
            subscribed.set()
            async for message in client.messages:
                payload = message.payload
                prediction = read_prediction(payload) if isinstance(payload, bytes) else None
                if prediction is None:
                    continue
                # The daemon stamps untimed WitMotion samples with the wall clock on arrival.
                origin = time.time() - time.monotonic() + device.started_at
                t_start, t_end = prediction["t_start"] - origin, prediction["t_end"] - origin
                line = LiveLine(
                    t_start,
                    t_end,
                    prediction["label"],
                    prediction["confidence"],
                    prediction["unknown"],
                    truth_of(t_start, t_end, segments),
                    prediction["latency_ms"],
                )
                lines.append(line)
                screen.live(line)

    async def play() -> None:
        await subscribed.wait()
        await device.run()
        await asyncio.sleep(DRAIN_S)
        stop.set()

    try:
        async with asyncio.TaskGroup() as group:
            daemon = group.create_task(run_daemon(config, stop=stop), name="daemon")
            viewer = group.create_task(view(), name="live view")
            player = group.create_task(play(), name="simulated device")
            await stop.wait()
            player.cancel()
            await daemon
            viewer.cancel()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return lines
