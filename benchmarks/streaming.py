"""Streaming accuracy: a held-out subject's ``stream.csv`` through the daemon, window by window.

Prints a markdown table. The first row is the offline accuracy of the bundle on the
held-out subjects' test windows (``harbridge evaluate`` on ``test_imu.npz``). Then the
recording is streamed into a daemon (in this process, onnxruntime, a real Mosquitto),
and its predictions are scored against ``stream_segments.csv``:

* over a pseudo-terminal as serial CSV with a ``t`` column, faster than real time
  (the daemon windows by the samples' own times);
* over a pseudo-terminal as WitMotion binary packets, in real time (WitMotion carries no
  times: the daemon stamps samples on arrival, and the windows are mapped back onto the
  recording's clock from the moment the simulated sensor started);
* over MQTT as column JSON with ``t`` (10 samples a message), published by another task
  to the broker the daemon subscribes to, faster than real time.

A second reference row runs the same pipeline on windows cut from the recording in
numpy, with no transport: what the stream's windows are worth on their own.

Scoring: a window is scored when at least half of it lies inside one action segment
(:func:`harbridge.calibration.stream_score.score_stream`); an ``unknown`` label counts
as wrong. Because the offline test windows lie wholly inside a segment, the table also
scores only the streamed windows that lie wholly inside one, which compares like with
like. *same label* is the share of streamed windows whose label equals the one the
pipeline gives the recording's window at the same place: what the transport changed.
The daemons average the last ``--smoothing`` windows' probabilities (``[postprocess]
smoothing``); the reference row is given with and without that smoothing.

Run: ``python benchmarks/streaming.py [--seed 0] [--speed 4] [--seconds S] [--smoothing 2]``;
``--seeds 0,1,2,3,4`` prints instead the no-transport rows of several seeds' data sets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import aiomqtt
import numpy as np
import numpy.typing as npt
from broker import Broker, mosquitto

from harbridge.bench.table import Cell, Column, markdown_table
from harbridge.calibration.simulation import simulate_dataset
from harbridge.calibration.stream_score import Segment, load_segments, score_stream, truth_of
from harbridge.cli import main as harbridge
from harbridge.drivers.replay_source import Recording, load_recording
from harbridge.drivers.simulated_device import SimulatedWitMotion
from harbridge.runtime.bundle_spec import BundleSpec, load_bundle_spec
from harbridge.runtime.config import load_config
from harbridge.runtime.daemon import Daemon
from harbridge.runtime.inference import InferenceEngine
from harbridge.runtime.listener import read_prediction
from harbridge.runtime.smoothing import UNKNOWN, Smoother, decide

__all__ = [
    "Prediction",
    "Prepared",
    "StreamScore",
    "prepare",
    "reference_labels",
    "score",
    "stream_csv_pty",
    "stream_mqtt",
    "stream_witmotion_pty",
]

FloatArray = npt.NDArray[np.float64]

DEVICE = "wrist-01"
PREFIX = "hb"
#: samples per MQTT message, and per write of paced serial CSV
MQTT_BATCH = 10
CSV_CHUNK = 5
#: longest wait for the last windows once the recording has been sent
DRAIN_S = 10.0


@dataclass(frozen=True)
class Prepared:
    """A simulated dataset, its bundle, and the bundle's offline accuracy."""

    data: Path
    bundle: Path
    offline_accuracy: float
    offline_unknown_rate: float


class Prediction(NamedTuple):
    """One streamed window's prediction, times on the recording's clock (seconds)."""

    t_start: float
    t_end: float
    label: str
    latency_ms: float


def _harbridge(argv: list[str]) -> None:
    """Run a harbridge command quietly; fail loudly if it fails."""
    with contextlib.redirect_stdout(io.StringIO()):
        code = harbridge(argv)
    if code != 0:
        raise SystemExit(f"harbridge {argv[0]} failed with exit code {code}")


def prepare(folder: Path, seed: int = 0) -> Prepared:
    """Simulate the default dataset, calibrate with default options, evaluate offline.

    Parameters
    ----------
    folder : Path
        Gets ``data/``, ``bundle/`` and ``offline.json``.
    seed : int
        Seed of ``harbridge simulate``.
    """
    data, bundle, results = folder / "data", folder / "bundle", folder / "offline.json"
    simulate_dataset(data, seed)
    _harbridge(
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
    _harbridge(
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
    offline = json.loads(results.read_text())
    return Prepared(data, bundle, float(offline["accuracy"]), float(offline["unknown_rate"]))


def _config(folder: Path, bundle: Path, broker: Broker, sources: str, smoothing: int) -> Path:
    path = folder / "streaming.toml"
    path.write_text(
        f'device = "gateway"\nbundle = "{bundle}"\n{sources}\n'
        f'[mqtt]\nurl = "{broker.url}"\ntopic_prefix = "{PREFIX}"\n'
        f"[postprocess]\nsmoothing = {smoothing}\n"
    )
    return path


async def _run_daemon(
    config_path: Path,
    broker: Broker,
    feed: Callable[[], Awaitable[None]],
    expected: int | None,
) -> tuple[Daemon, list[tuple[dict[str, Any], float]]]:
    """Run a daemon and a subscriber while ``feed`` sends the recording.

    Returns the daemon and every prediction of :data:`DEVICE` with its arrival time
    (``time.monotonic()``). The daemon stops once ``expected`` predictions arrived, or
    :data:`DRAIN_S` after ``feed`` returned.
    """
    daemon = Daemon(load_config(config_path))
    received: list[tuple[dict[str, Any], float]] = []
    stop = asyncio.Event()
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(f"{PREFIX}/{DEVICE}/prediction", qos=1)

        async def collect() -> None:
            async for message in client.messages:
                payload = message.payload
                prediction = read_prediction(payload) if isinstance(payload, bytes) else None
                if prediction is not None:
                    received.append((prediction, time.monotonic()))

        collector = asyncio.create_task(collect(), name="prediction subscriber")
        run = asyncio.create_task(daemon.run(stop), name="daemon")
        while not all(source.counters.connected for source in daemon.sources):
            await _alive(run)
            await asyncio.sleep(0.02)
        await feed()
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline and (expected is None or len(received) < expected):
            await _alive(run)
            await asyncio.sleep(0.05)
        stop.set()
        await run
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)
    return daemon, received


async def _alive(run: asyncio.Task[Any]) -> None:
    """Raise what ended the daemon's task, if it ended before it was told to stop."""
    if run.done():
        await run
        raise RuntimeError("the daemon stopped by itself")


def _n_windows(samples: int, spec: BundleSpec) -> int:
    return max(0, (samples - spec.window) // spec.hop + 1)


def _csv_rows(recording: Recording, channels: Sequence[str]) -> list[bytes]:
    table = np.column_stack([recording.t, *(recording.channels[c] for c in channels)])
    return [(",".join(f"{x:.6f}" for x in row) + "\n").encode() for row in table]


async def _write_all(fd: int, data: bytes) -> None:
    """Write everything to a pty master from a thread: a full pty blocks until read."""

    def write() -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    await asyncio.to_thread(write)


async def _paced(
    times: FloatArray, speed: float, send: Callable[[int, int], Awaitable[None]], step: int
) -> None:
    """Call ``send(begin, end)`` for consecutive runs of ``step`` samples when they are due
    at ``speed`` × real time (all at once when ``speed`` is 0)."""
    started = time.monotonic()
    for begin in range(0, times.size, step):
        end = min(begin + step, times.size)
        if speed > 0:
            due = started + (times[end - 1] - times[0]) / speed
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        await send(begin, end)


def _recording_clock(received: list[tuple[dict[str, Any], float]]) -> list[Prediction]:
    return [Prediction(p["t_start"], p["t_end"], p["label"], p["latency_ms"]) for p, _ in received]


async def stream_csv_pty(
    folder: Path,
    bundle: Path,
    broker: Broker,
    recording: Recording,
    *,
    speed: float,
    smoothing: int,
) -> list[Prediction]:
    """Stream ``recording`` as serial CSV with ``t`` into a pty read by a daemon.

    Parameters
    ----------
    folder : Path
        Where the daemon's config goes.
    bundle : Path
    broker : Broker
    recording : Recording
        ``t`` and the bundle's channels.
    speed : float
        × real time; 0 writes everything at once (the pty paces it as the daemon reads).
    """
    spec = load_bundle_spec(bundle)
    master, slave = os.openpty()
    port = os.ttyname(slave)
    os.close(slave)
    sources = f'[[sources]]\nkind = "serial"\nport = "{port}"\ndevice = "{DEVICE}"\n'
    rows = _csv_rows(recording, spec.channels)
    header = ("t," + ",".join(spec.channels) + "\n").encode()

    async def feed() -> None:
        await _write_all(master, header)

        async def send(begin: int, end: int) -> None:
            await _write_all(master, b"".join(rows[begin:end]))

        await _paced(recording.t, speed, send, len(rows) if speed == 0 else CSV_CHUNK)

    try:
        _, received = await _run_daemon(
            _config(folder, bundle, broker, sources, smoothing),
            broker,
            feed,
            _n_windows(recording.t.size, spec),
        )
    finally:
        os.close(master)
    return _recording_clock(received)


async def stream_witmotion_pty(
    folder: Path, bundle: Path, broker: Broker, recording: Recording, *, smoothing: int
) -> list[Prediction]:
    """Stream ``recording`` in real time as WitMotion packets into a pty read by a daemon.

    The daemon stamps the samples on arrival and publishes wall-clock times; they are
    mapped back onto the recording's clock from the moment the sensor started.
    """
    spec = load_bundle_spec(bundle)
    master, slave = os.openpty()
    port = os.ttyname(slave)
    os.close(slave)
    sources = (
        f'[[sources]]\nkind = "serial"\nport = "{port}"\nformat = "witmotion"\n'
        f'device = "{DEVICE}"\n'
    )
    c = recording.channels
    device = SimulatedWitMotion(
        master,
        recording.t,
        np.column_stack([c["ax"], c["ay"], c["az"]]),
        np.column_stack([c["gx"], c["gy"], c["gz"]]),
    )

    async def feed() -> None:
        await device.run()

    try:
        daemon, received = await _run_daemon(
            _config(folder, bundle, broker, sources, smoothing),
            broker,
            feed,
            _n_windows(recording.t.size, spec),
        )
    finally:
        os.close(master)
    # Published time = monotonic arrival stamp + the daemon's wall offset; sample k was
    # written at device.started_at + (t[k] - t[0]) on the same monotonic clock.
    shift = daemon.predictor.wall_offset_s + device.started_at - float(recording.t[0])
    return [
        Prediction(p.t_start - shift, p.t_end - shift, p.label, p.latency_ms)
        for p in _recording_clock(received)
    ]


async def stream_mqtt(
    folder: Path,
    bundle: Path,
    broker: Broker,
    recording: Recording,
    *,
    speed: float,
    smoothing: int,
) -> list[Prediction]:
    """Publish ``recording`` as column JSON with ``t`` to ``imu/<device>/raw``, read by a
    daemon subscribed to ``imu/+/raw``; ``speed`` as in :func:`stream_csv_pty`."""
    spec = load_bundle_spec(bundle)
    sources = '[[sources]]\nkind = "mqtt"\ntopic = "imu/+/raw"\n'
    columns = {"t": recording.t, **{c: recording.channels[c] for c in spec.channels}}

    async def feed() -> None:
        async with aiomqtt.Client(broker.host, broker.port) as client:

            async def send(begin: int, end: int) -> None:
                body = {name: values[begin:end].tolist() for name, values in columns.items()}
                await client.publish(f"imu/{DEVICE}/raw", json.dumps(body), qos=1)

            await _paced(recording.t, speed, send, MQTT_BATCH)

    _, received = await _run_daemon(
        _config(folder, bundle, broker, sources, smoothing),
        broker,
        feed,
        _n_windows(recording.t.size, spec),
    )
    return _recording_clock(received)


def reference_labels(
    bundle: Path, recording: Recording, predictions: Sequence[Prediction], smoothing: int
) -> list[str]:
    """The label the pipeline gives the recording's window starting where each prediction
    starts (nearest sample), the probabilities averaged over the last ``smoothing`` of those
    windows as the daemon does, decided with the bundle's OOD threshold."""
    spec = load_bundle_spec(bundle)
    values = np.column_stack([recording.channels[c] for c in spec.channels]).astype(np.float32)
    period = 1.0 / spec.rate_hz
    starts = np.rint((np.array([p.t_start for p in predictions]) - recording.t[0]) / period)
    starts = np.clip(starts.astype(np.int64), 0, values.shape[0] - spec.window)
    if not starts.size:
        return []
    windows = values[starts[:, None] + np.arange(spec.window)]
    probs, _, ood = InferenceEngine(bundle).run_batch(windows)
    smoother = Smoother(smoothing)
    return [
        decide(smoother.update(p), float(o), spec.classes, 0.0, spec.ood_threshold).label
        for p, o in zip(probs, ood, strict=True)
    ]


@dataclass(frozen=True)
class StreamScore:
    """Streamed windows scored against the segments (``unknown`` counts as wrong).

    Attributes
    ----------
    windows : int
        Predictions received.
    scored, unknown, accuracy
        Windows at least half inside one segment, how many of them were unknown, and the
        right share.
    whole, whole_accuracy
        The same for windows wholly inside one segment, as the offline test windows are.
    """

    windows: int
    scored: int
    unknown: int
    accuracy: float
    whole: int
    whole_accuracy: float


def score(predictions: Sequence[Prediction], segments: Sequence[Segment]) -> StreamScore:
    """Score predictions on the recording's clock against ``segments``."""
    triples = [(p.t_start, p.t_end, p.label) for p in predictions]
    half = score_stream(triples, list(segments))
    inside = [
        triple
        for triple in triples
        if any(s.t_start <= triple[0] and triple[1] <= s.t_end for s in segments)
    ]
    whole = score_stream(inside, list(segments))
    unknown = sum(
        p.label == UNKNOWN and truth_of(p.t_start, p.t_end, segments) is not None
        for p in predictions
    )
    return StreamScore(
        len(predictions), half.scored, unknown, half.accuracy, whole.scored, whole.accuracy
    )


def _row(
    path: str,
    speed: str,
    smoothing: int,
    *,
    result: StreamScore,
    offline: float,
    same_label: float,
    latency: Sequence[float],
) -> dict[str, Cell]:
    return {
        "path": path,
        "speed": speed,
        "smoothing": smoothing,
        "windows": result.windows,
        "scored": result.scored,
        "unknown": result.unknown,
        "accuracy": result.accuracy,
        "ratio": result.accuracy / offline,
        "whole": result.whole,
        "whole_accuracy": result.whole_accuracy,
        "whole_ratio": result.whole_accuracy / offline,
        "same": same_label,
        "p99": float(np.percentile(latency, 99)) if len(latency) else float("nan"),
    }


COLUMNS = (
    Column("path", "path"),
    Column("speed", "speed"),
    Column("smoothing", "smoothing", "d"),
    Column("windows", "windows", "d"),
    Column("scored", "scored (≥ ½ in a segment)", "d"),
    Column("unknown", "of them unknown", "d"),
    Column("accuracy", "accuracy", ".3f"),
    Column("ratio", "÷ offline", ".2f"),
    Column("whole", "wholly inside", "d"),
    Column("whole_accuracy", "accuracy (wholly inside)", ".3f"),
    Column("whole_ratio", "÷ offline (wholly inside)", ".2f"),
    Column("same", "same label as the recording's window", ".3f"),
    Column("p99", "daemon latency p99 (ms)", ".1f"),
)

#: the across-seeds table: the seed, its offline accuracy, then columns of COLUMNS
SEED_COLUMNS = (
    Column("seed", "seed", "d"),
    Column("offline", "offline accuracy", ".3f"),
    *(
        column
        for column in COLUMNS
        if column.key in {"smoothing", "scored", "accuracy", "ratio", "whole", "whole_ratio"}
    ),
)


def _reference_rows(
    prepared: Prepared, recording: Recording, smoothings: Sequence[int]
) -> list[dict[str, Cell]]:
    """Rows of the recording's own windows, no transport, one per smoothing."""
    segments = load_segments(prepared.data / "stream_segments.csv")
    spec = load_bundle_spec(prepared.bundle)
    period = 1.0 / spec.rate_hz
    starts = recording.t[0] + np.arange(_n_windows(recording.t.size, spec)) * spec.hop * period
    windows = [Prediction(t, t + spec.window * period, "", 0.0) for t in starts]
    rows = []
    for smoothing in smoothings:
        labels = reference_labels(prepared.bundle, recording, windows, smoothing)
        reference = [p._replace(label=label) for p, label in zip(windows, labels, strict=True)]
        rows.append(
            _row(
                "the recording's windows, no transport",
                "-",
                smoothing,
                result=score(reference, segments),
                offline=prepared.offline_accuracy,
                same_label=1.0,
                latency=[],
            )
        )
    return rows


def across_seeds(folder: Path, seeds: Sequence[int], smoothing: int) -> list[dict[str, Cell]]:
    """The no-transport rows of every seed's data set, without and with ``smoothing``."""
    rows: list[dict[str, Cell]] = []
    for seed in seeds:
        prepared = prepare(folder / f"seed-{seed}", seed)
        spec = load_bundle_spec(prepared.bundle)
        recording = load_recording(prepared.data / "stream.csv", spec.channels)
        for row in _reference_rows(prepared, recording, sorted({1, smoothing})):
            rows.append({**row, "seed": seed, "offline": prepared.offline_accuracy})
    return rows


async def _measure(
    prepared: Prepared, recording: Recording, folder: Path, speed: float, smoothing: int
) -> list[dict[str, Cell]]:
    segments = load_segments(prepared.data / "stream_segments.csv")
    offline = prepared.offline_accuracy
    rows: list[dict[str, Cell]] = [
        {"path": "offline: harbridge evaluate, test_imu.npz", "accuracy": offline, "ratio": 1.0},
        *_reference_rows(prepared, recording, sorted({1, smoothing})),
    ]
    runs: list[tuple[str, str, Callable[[Broker], Awaitable[list[Prediction]]]]] = [
        (
            "pty, serial CSV with t",
            f"{speed:g}×",
            lambda b: stream_csv_pty(
                folder, prepared.bundle, b, recording, speed=speed, smoothing=smoothing
            ),
        ),
        (
            "pty, WitMotion binary (no t)",
            "1× (real time)",
            lambda b: stream_witmotion_pty(
                folder, prepared.bundle, b, recording, smoothing=smoothing
            ),
        ),
        (
            "MQTT, column JSON with t",
            f"{speed:g}×",
            lambda b: stream_mqtt(
                folder, prepared.bundle, b, recording, speed=speed, smoothing=smoothing
            ),
        ),
    ]
    with mosquitto(folder / "mosquitto") as broker:
        for path, speed_text, run in runs:
            predictions = await run(broker)
            labels = reference_labels(prepared.bundle, recording, predictions, smoothing)
            same = float(np.mean([p.label == r for p, r in zip(predictions, labels, strict=True)]))
            latency = [p.latency_ms for p in predictions]
            rows.append(
                _row(
                    path,
                    speed_text,
                    smoothing,
                    result=score(predictions, segments),
                    offline=offline,
                    same_label=same,
                    latency=latency,
                )
            )
    return rows


def _stretch(recording: Recording, seconds: float | None) -> Recording:
    if seconds is None:
        return recording
    n = int(np.searchsorted(recording.t, recording.t[0] + seconds))
    return Recording(recording.t[:n], {c: v[:n] for c, v in recording.channels.items()})


def main(argv: Sequence[str] | None = None) -> int:
    """Prepare the data and the bundle, stream, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=0, help="harbridge simulate seed")
    parser.add_argument(
        "--speed", type=float, default=4.0, help="× real time of the timed streams (default 4)"
    )
    parser.add_argument("--seconds", type=float, help="stream only the first SECONDS of stream.csv")
    parser.add_argument(
        "--smoothing",
        type=int,
        default=2,
        help="the daemon's [postprocess] smoothing: mean of the last N windows (default 2)",
    )
    parser.add_argument(
        "--seeds",
        help="instead: the recording's own windows (no transport) of these seeds' data sets, "
        "comma-separated",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.seeds:
        seeds = [int(seed) for seed in args.seeds.split(",")]
        with tempfile.TemporaryDirectory() as scratch:
            rows = across_seeds(Path(scratch), seeds, args.smoothing)
        note = (
            "Each seed: `harbridge simulate --seed S`, `harbridge calibrate` with default "
            "options, the held-out subject's whole stream.csv cut into the bundle's windows "
            "and run through pipeline.onnx, no transport; scored as in the main table."
        )
        print(markdown_table("The recording's windows across seeds", SEED_COLUMNS, rows, [note]))
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        prepared = prepare(folder, args.seed)
        spec = load_bundle_spec(prepared.bundle)
        recording = _stretch(
            load_recording(prepared.data / "stream.csv", spec.channels), args.seconds
        )
        rows = asyncio.run(_measure(prepared, recording, folder, args.speed, args.smoothing))
    duration = recording.t[-1] - recording.t[0]
    notes = [
        f"Seed {args.seed}: `harbridge simulate`, `harbridge calibrate` with default options; "
        f"{duration:.0f} s of the held-out subject's stream.csv, windows of {spec.window} "
        f"samples every {spec.hop} at {spec.rate_hz:g} Hz. Offline: "
        f"{prepared.offline_unknown_rate:.1%} of the test windows are past the OOD "
        "threshold (harbridge evaluate scores them by their label).",
        "*scored*: windows at least half inside one action segment (stream_score); *unknown* "
        "counts as wrong. *wholly inside*: windows lying entirely inside one segment, as every "
        "offline test window does. *÷ offline*: streaming accuracy over the offline accuracy. "
        "*same label*: share of streamed windows labelled as the pipeline labels the "
        "recording's window at the same start (WitMotion: nearest sample after mapping the "
        "arrival stamps back onto the recording's clock).",
    ]
    print(markdown_table("Streaming accuracy against stream_segments.csv", COLUMNS, rows, notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
