"""Gateway throughput: simulated wearables at 100 Hz over a real Mosquitto into one daemon.

For each number of devices the benchmark starts its own Mosquitto, a daemon as a
separate process (``harbridge run --config …``, subscribed to ``imu/+/raw``), a load
generator process, and a subscriber in this process. The generator plays one wearable
per MQTT connection (paho, QoS 0, topic ``imu/dev-XXXX/raw``): every device sends column
JSON with ``t`` in wall-clock seconds, ``rate`` samples a second in messages of
``batch`` samples, replaying the simulated held-out subject's ``stream.csv`` resampled to
the device rate, each device from its own place in it and with its own phase, so the
messages of all devices are spread evenly over time. After a warm-up, during the
measurement window:

* **daemon CPU** is the change of ``utime + stime`` in ``/proc/<pid>/stat`` over the
  window (every thread, onnxruntime's included), in % of one core; **RSS** the largest
  ``VmRSS`` sampled each second;
* **latency, daemon**: the ``latency_ms`` of each prediction, from the arrival at the
  daemon of the message that completed the window to the prediction being handed to the
  publisher;
* **latency, end to end**: the prediction's arrival at the subscriber minus the time the
  generator was due to send the message carrying the sample that completed the window
  (the first sample at or after the window's last grid point; all clocks on one
  machine). The generator's own lateness is part of it, and reported apart;
* **devices served**: devices whose every window ending inside the measurement window
  arrived as a prediction; **drops**: windows that did not arrive (lost samples, dropped
  windows and lost predictions alike).

Devices double (100, 200, 400, …) until a limit breaks: p99 end to end > 100 ms, daemon
CPU ≥ 100 %, a device not served, or a drop; then one point halfway between the last
good and the first bad count narrows down where it saturates.

Run: ``python benchmarks/gateway.py [--quick] [--devices 100,200] [--measure 30]
[--max-wait-ms MS]``
(``python benchmarks/gateway.py load …`` is the generator process it starts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import numpy as np
import numpy.typing as npt
from broker import Broker, mosquitto

from harbridge.bench.table import Cell, Column, markdown_table

__all__ = [
    "LoadPlan",
    "PointResult",
    "PointSettings",
    "batch_fragments",
    "device_signals",
    "e2e_send_time",
    "measure_point",
]

FloatArray = npt.NDArray[np.float64]

PREFIX = "hb"
DAEMON_DEVICE = "gateway"
CHANNELS = ("ax", "ay", "az", "gx", "gy", "gz")
#: the limits of the sweep
P99_LIMIT_MS = 100.0
CPU_LIMIT_PERCENT = 100.0
#: the target at 100 devices
CPU_TARGET_PERCENT = 50.0
#: seconds given to the last predictions after the generator stopped
DRAIN_S = 3.0
METRICS_INTERVAL_S = 2.0
START_TIMEOUT_S = 60.0
MAX_DEVICES = 3200


def topic_of(device: int) -> str:
    """``imu/dev-XXXX/raw``."""
    return f"imu/dev-{device:04d}/raw"


@dataclass(frozen=True)
class PointSettings:
    """What every device sends, how long each point lasts, and how the broker runs.

    Attributes
    ----------
    rate : float
        Samples a second per device.
    batch : int
        Samples per message.
    warmup, measure : float
        Seconds before the measurement window, and its length.
    tcp_nodelay : bool
        Mosquitto's ``set_tcp_nodelay``: off (its default), Nagle's algorithm holds a
        small packet while an earlier one waits for the peer's delayed ACK, up to 40 ms
        per hop.
    max_wait_ms : float or None
        The daemon's ``[inference] max_wait_ms``; None keeps its default.
    """

    rate: float
    batch: int
    warmup: float
    measure: float
    tcp_nodelay: bool
    max_wait_ms: float | None = None


@dataclass(frozen=True)
class LoadPlan:
    """When each simulated device sends what.

    Device ``d`` has sample ``k`` at ``t0 + phase(d) + k / rate`` and sends samples
    ``batch·j … batch·j + batch − 1`` in message ``j``, due when its last sample is.
    """

    devices: int
    rate: float
    batch: int
    t0: float

    def phase(self, device: int) -> float:
        """Offset of ``device`` within one message period, rounded to 0.1 ms."""
        return round(device / self.devices * self.batch / self.rate, 4)

    def due(self, device: int, message: int) -> float:
        """Wall time at which ``message`` of ``device`` is due."""
        return self.t0 + self.phase(device) + (self.batch * message + self.batch - 1) / self.rate


def e2e_send_time(plan: LoadPlan, device: int, last_grid_t: float) -> float:
    """When the message carrying the first sample at or after ``last_grid_t`` was due.

    That sample is the one that lets the daemon interpolate a window's last grid point,
    so its message is the one that completed the window.
    """
    first = plan.t0 + plan.phase(device)
    sample = math.ceil((last_grid_t - first) * plan.rate - 1e-6)
    return plan.due(device, sample // plan.batch)


def device_signals(stream_csv: Path, rate: float) -> FloatArray:
    """The recording resampled (linearly) to ``rate``: array of shape (n, 6), ``CHANNELS``."""
    table = np.loadtxt(stream_csv, delimiter=",", skiprows=1)
    t, values = table[:, 0], table[:, 1:7]
    grid = np.arange(t[0], t[-1], 1.0 / rate)
    return np.column_stack([np.interp(grid, t, values[:, c]) for c in range(values.shape[1])])


def batch_fragments(values: FloatArray, batch: int) -> list[str]:
    """The channel part of each message's JSON, ``"ax":[…],…,"gz":[…]}``, per batch.

    Parameters
    ----------
    values : ndarray of shape (n, 6)
        Samples in ``CHANNELS`` order.
    batch : int
        Samples per message; a trailing partial batch is left out.
    """
    fragments = []
    for begin in range(0, values.shape[0] - batch + 1, batch):
        block = values[begin : begin + batch]
        columns = (
            f'"{name}":[' + ",".join(f"{x:.5f}" for x in block[:, c]) + "]"
            for c, name in enumerate(CHANNELS)
        )
        fragments.append(",".join(columns) + "}")
    return fragments


def _cpu_seconds(pid: int) -> float:
    """``utime + stime`` of a process, every thread included, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


# --- the load generator process -------------------------------------------------------


def run_load(args: argparse.Namespace) -> int:
    """Connect ``devices`` wearables, publish until the end, report as JSON on stdout.

    Prints ``{"t0": …}`` once every device is connected, then sends from ``t0``; at the
    end prints the messages sent in total and inside the measurement window, its lateness
    percentiles (ms) and its CPU use while sending (% of one core).
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    fragments = batch_fragments(device_signals(args.stream, args.rate), args.batch)
    clients = []
    for device in range(args.devices):
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"dev-{device:04d}",
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        # No network loop: a QoS 0 publish is written at once, and nothing else is needed
        # within a keepalive this long.
        client.connect(args.host, args.port, keepalive=3600)
        clients.append(client)
    # paho's loop() uses select(), which refuses descriptors past 1024: read the CONNACKs
    # of the non-blocking sockets directly.
    waiting, deadline = clients, time.monotonic() + START_TIMEOUT_S
    while waiting:
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(waiting)} devices not connected in {START_TIMEOUT_S} s")
        time.sleep(0.01)
        for client in waiting:
            client.loop_read()
        waiting = [client for client in waiting if not client.is_connected()]
    plan = LoadPlan(args.devices, args.rate, args.batch, round(time.time() + 0.5, 1))
    print(json.dumps({"t0": plan.t0}), flush=True)
    window = (plan.t0 + args.warmup, plan.t0 + args.warmup + args.measure)
    end = window[1] + 1.0
    topics = [topic_of(d) for d in range(args.devices)]
    offsets = [(d * 211) % len(fragments) for d in range(args.devices)]
    step = 1.0 / args.rate
    lateness: list[float] = []
    sent = in_window = message = 0
    cpu_start = _own_cpu_seconds()
    while plan.due(0, message) < end:
        for device, client in enumerate(clients):
            due = plan.due(device, message)
            if due >= end:
                break
            wait = due - time.time()
            if wait > 0:
                time.sleep(wait)
            first = due - (args.batch - 1) * step
            times = ",".join(f"{first + i * step:.4f}" for i in range(args.batch))
            fragment = fragments[(offsets[device] + message) % len(fragments)]
            client.publish(topics[device], f'{{"t":[{times}],{fragment}', qos=0)
            lateness.append(time.time() - due)
            sent += 1
            in_window += window[0] <= due < window[1]
        message += 1
        # A publish the socket could not take at once waits in paho until written here.
        for client in clients:
            if client.want_write():
                client.loop_write()
    cpu_s = _own_cpu_seconds() - cpu_start
    for client in clients:
        client.disconnect()
    late_ms = np.array(lateness) * 1000.0
    report = {
        "sent": sent,
        "in_window": in_window,
        "lateness_ms": {
            "p50": float(np.percentile(late_ms, 50)),
            "p99": float(np.percentile(late_ms, 99)),
            "max": float(late_ms.max()),
        },
        "cpu_percent": 100.0 * cpu_s / (end - plan.t0),
    }
    print(json.dumps(report), flush=True)
    return 0


# --- one point of the sweep --------------------------------------------------------------


@dataclass
class _Received:
    """What the subscriber saw: predictions as (device, t_end, latency_ms, arrival)."""

    predictions: list[tuple[str, float, float, float]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class PointResult:
    """One row of the table, and which limits it keeps.

    Attributes
    ----------
    row : dict
        The table's cells.
    keeps_up : bool
        Every device served, no drop, daemon CPU below one core: the throughput limits.
    fast : bool
        p99 end to end within :data:`P99_LIMIT_MS`.
    meets_target : bool
        Within every limit, and daemon CPU within :data:`CPU_TARGET_PERCENT`.
    """

    row: dict[str, Cell]
    keeps_up: bool
    fast: bool
    meets_target: bool

    @property
    def devices(self) -> int:
        return int(self.row["devices"] or 0)

    @property
    def within_limits(self) -> bool:
        return self.keeps_up and self.fast


def _daemon_config(
    folder: Path, bundle: Path, broker: Broker, devices: int, max_wait_ms: float | None
) -> Path:
    path = folder / "gateway.toml"
    inference = "" if max_wait_ms is None else f"[inference]\nmax_wait_ms = {max_wait_ms}\n\n"
    path.write_text(
        f'device = "{DAEMON_DEVICE}"\nbundle = "{bundle}"\n\n'
        '[[sources]]\nkind = "mqtt"\ntopic = "imu/+/raw"\nqos = 0\n\n'
        f'[mqtt]\nurl = "{broker.url}"\ntopic_prefix = "{PREFIX}"\n\n'
        f"[windowing]\nmax_devices = {max(1024, 2 * devices)}\n\n"
        f"[metrics]\ninterval_s = {METRICS_INTERVAL_S}\n\n{inference}"
        # About a second of input at the largest loads, so a pause of the event loop
        # shows as latency, not as lost samples.
        "[queues]\nsamples = 8192\n"
    )
    return path


async def _wait_for_line(log: Path, text: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"the daemon exited at start:\n{log.read_text()}")
        if log.exists() and text in log.read_text():
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the daemon did not log {text!r} within {START_TIMEOUT_S} s")


async def _collect(client: aiomqtt.Client, received: _Received) -> None:
    async for message in client.messages:
        arrival = time.time()
        assert isinstance(message.payload, bytes)
        body = json.loads(message.payload)
        if message.topic.value.endswith("/metrics"):
            received.metrics.append(body)
        else:
            received.predictions.append(
                (body["device"], body["t_end"], body["latency_ms"], arrival)
            )


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(15):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


@dataclass(frozen=True)
class _Measured:
    """Resource use over the measurement window."""

    seconds: float
    daemon_cpu: float
    daemon_rss_mb: float
    broker_cpu: float


async def _resources(daemon_pid: int, broker_pid: int, start: float, end: float) -> _Measured:
    await asyncio.sleep(max(0.0, start - time.time()))
    began, daemon0, broker0 = time.time(), _cpu_seconds(daemon_pid), _cpu_seconds(broker_pid)
    rss = [_rss_mb(daemon_pid)]
    while time.time() < end:
        await asyncio.sleep(min(1.0, max(0.0, end - time.time())))
        rss.append(_rss_mb(daemon_pid))
    seconds = time.time() - began
    return _Measured(
        seconds,
        100.0 * (_cpu_seconds(daemon_pid) - daemon0) / seconds,
        max(rss),
        100.0 * (_cpu_seconds(broker_pid) - broker0) / seconds,
    )


async def measure_point(
    devices: int, settings: PointSettings, *, bundle: Path, stream_csv: Path, folder: Path
) -> PointResult:
    """Run broker, daemon, generator and subscriber for one number of devices."""
    folder.mkdir(parents=True, exist_ok=True)
    load_average = os.getloadavg()[0]
    broker_config = ["set_tcp_nodelay true"] if settings.tcp_nodelay else []
    with mosquitto(folder / "mosquitto", broker_config) as broker:
        log = folder / "daemon.log"
        with log.open("wb") as log_file:
            daemon = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "harbridge",
                "run",
                "--config",
                str(_daemon_config(folder, bundle, broker, devices, settings.max_wait_ms)),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log_file,
            )
        try:
            await _wait_for_line(log, "subscribed at", daemon)
            received, plan, load, measured = await _drive(
                broker, daemon.pid, devices, stream_csv, settings
            )
        finally:
            await _stop(daemon)
    spec = json.loads((bundle / "manifest.json").read_text())["imu"]
    start = plan.t0 + settings.warmup
    return _analyse(
        received,
        plan,
        load,
        measured,
        spec=spec,
        window=(start, start + settings.measure),
        load_average=load_average,
    )


async def _drive(
    broker: Broker, daemon_pid: int, devices: int, stream_csv: Path, settings: PointSettings
) -> tuple[_Received, LoadPlan, dict[str, Any], _Measured]:
    received = _Received()
    async with aiomqtt.Client(broker.host, broker.port, max_queued_incoming_messages=0) as client:
        await client.subscribe(f"{PREFIX}/+/prediction", qos=0)
        await client.subscribe(f"{PREFIX}/{DAEMON_DEVICE}/metrics", qos=0)
        collector = asyncio.create_task(_collect(client, received), name="subscriber")
        generator = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "load",
            f"--host={broker.host}",
            f"--port={broker.port}",
            f"--devices={devices}",
            f"--rate={settings.rate}",
            f"--batch={settings.batch}",
            f"--warmup={settings.warmup}",
            f"--measure={settings.measure}",
            f"--stream={stream_csv}",
            stdout=asyncio.subprocess.PIPE,
        )
        assert generator.stdout is not None
        try:
            t0 = json.loads(await generator.stdout.readline())["t0"]
            plan = LoadPlan(devices, settings.rate, settings.batch, t0)
            start = t0 + settings.warmup
            measured = await _resources(
                daemon_pid, broker.process.pid, start, start + settings.measure
            )
            load = json.loads(await generator.stdout.readline())
            await generator.wait()
            await asyncio.sleep(DRAIN_S)
        finally:
            if generator.returncode is None:
                generator.kill()
                await generator.wait()
            collector.cancel()
            await asyncio.gather(collector, return_exceptions=True)
    return received, plan, load, measured


def _expected_windows(
    plan: LoadPlan, device: int, spec: dict[str, Any], start: float, end: float
) -> int:
    """Windows of ``device`` whose end lies in ``[start, end)``.

    Window ``i`` of a device ends at ``first + (i·hop + window) / rate_hz``, ``first``
    being the time of its first sample (the daemon's grid origin).
    """
    period = 1.0 / float(spec["sample_rate_hz"])
    window, hop = int(spec["window"]), int(spec["hop"])
    first = plan.t0 + plan.phase(device)

    def before(t: float) -> int:
        return max(0, math.ceil(((t - first) / period - window) / hop - 1e-9))

    return before(end) - before(start)


def _analyse(
    received: _Received,
    plan: LoadPlan,
    load: dict[str, Any],
    measured: _Measured,
    *,
    spec: dict[str, Any],
    window: tuple[float, float],
    load_average: float,
) -> PointResult:
    start, end = window
    period = 1.0 / float(spec["sample_rate_hz"])
    inside = [p for p in received.predictions if start <= p[1] < end]
    per_device: dict[str, set[float]] = {}
    daemon_ms, e2e_ms = [], []
    for device, t_end, latency_ms, arrival in inside:
        per_device.setdefault(device, set()).add(round(t_end, 4))
        number = int(device.removeprefix("dev-"))
        daemon_ms.append(latency_ms)
        e2e_ms.append(1000.0 * (arrival - e2e_send_time(plan, number, t_end - period)))
    missing = [
        _expected_windows(plan, d, spec, start, end) - len(per_device.get(f"dev-{d:04d}", ()))
        for d in range(plan.devices)
    ]
    served = sum(m <= 0 for m in missing)
    drops = sum(max(0, m) for m in missing)
    windows_per_s = _metrics_rate(received.metrics, "windows", start, end)
    daemon_p = np.percentile(daemon_ms, [50, 99]) if daemon_ms else [math.nan] * 2
    e2e_p = np.percentile(e2e_ms, [50, 99]) if e2e_ms else [math.nan] * 2
    row: dict[str, Cell] = {
        "devices": plan.devices,
        "rate": plan.rate,
        "msgs": load["in_window"] / (end - start),
        "windows": windows_per_s,
        "predictions": len(inside) / (end - start),
        "cpu": measured.daemon_cpu,
        "rss": measured.daemon_rss_mb,
        "daemon_p50": float(daemon_p[0]),
        "daemon_p99": float(daemon_p[1]),
        "e2e_p50": float(e2e_p[0]),
        "e2e_p99": float(e2e_p[1]),
        "served": f"{served}/{plan.devices}",
        "drops": drops,
        "late_p99": load["lateness_ms"]["p99"],
        "generator_cpu": load["cpu_percent"],
        "broker_cpu": measured.broker_cpu,
        "load": load_average,
    }
    keeps_up = served == plan.devices and drops == 0 and measured.daemon_cpu < CPU_LIMIT_PERCENT
    fast = float(e2e_p[1]) <= P99_LIMIT_MS
    target = keeps_up and fast and measured.daemon_cpu <= CPU_TARGET_PERCENT
    return PointResult(row, keeps_up, fast, target)


def _metrics_rate(metrics: list[dict[str, Any]], key: str, start: float, end: float) -> float:
    """Per-second increase of a metrics total between the first and last report inside."""
    inside = [m for m in metrics if start <= m.get("t", 0.0) <= end]
    if len(inside) < 2:
        return math.nan
    first, last = inside[0], inside[-1]
    return float((last[key] - first[key]) / (last["uptime_s"] - first["uptime_s"]))


COLUMNS = (
    Column("devices", "devices", "d"),
    Column("rate", "rate (Hz)", ".0f"),
    Column("msgs", "msgs/s in", ".0f"),
    Column("windows", "windows/s", ".1f"),
    Column("predictions", "predictions/s", ".1f"),
    Column("cpu", "daemon CPU %", ".1f"),
    Column("rss", "RSS MB", ".0f"),
    Column("daemon_p50", "daemon p50 (ms)", ".1f"),
    Column("daemon_p99", "daemon p99 (ms)", ".1f"),
    Column("e2e_p50", "e2e p50 (ms)", ".1f"),
    Column("e2e_p99", "e2e p99 (ms)", ".1f"),
    Column("served", "devices served"),
    Column("drops", "drops", "d"),
    Column("late_p99", "generator late p99 (ms)", ".1f"),
    Column("generator_cpu", "generator CPU %", ".0f"),
    Column("broker_cpu", "mosquitto CPU %", ".0f"),
    Column("load", "load avg (1 min) before", ".2f"),
)


# --- the sweep ---------------------------------------------------------------------------


def _counts(args: argparse.Namespace) -> list[int] | None:
    if args.devices:
        return [int(n) for n in args.devices.split(",")]
    return [100] if args.quick else None


async def _sweep(args: argparse.Namespace, bundle: Path, stream_csv: Path, folder: Path) -> str:
    fixed = _counts(args)
    results: list[PointResult] = []

    async def point(devices: int) -> PointResult:
        result = await measure_point(
            devices,
            PointSettings(
                args.rate,
                args.batch,
                args.warmup,
                args.measure,
                args.tcp_nodelay,
                args.max_wait_ms,
            ),
            bundle=bundle,
            stream_csv=stream_csv,
            folder=folder / f"devices-{devices}",
        )
        print(f"{devices} devices: {result.row}", file=sys.stderr, flush=True)
        results.append(result)
        return result

    if fixed is not None:
        for devices in fixed:
            await point(devices)
    else:
        devices = 100
        while devices <= MAX_DEVICES and (await point(devices)).keeps_up:
            devices *= 2
        # One point halfway between the last count within a limit and the first past it.
        for throughput_only in (False, True):
            good, bad = _split(results, throughput_only)
            if good and bad and min(bad) > max(good):
                middle = (max(good) + min(bad)) // 2
                if middle not in {r.devices for r in results}:
                    await point(middle)
    rows = sorted((r.row for r in results), key=lambda row: int(row["devices"] or 0))
    return markdown_table(
        f"Gateway: wearables × {args.rate:g} Hz over Mosquitto into one daemon",
        COLUMNS,
        rows,
        _notes(args, results),
    )


def _split(results: list[PointResult], throughput_only: bool) -> tuple[list[int], list[int]]:
    """Device counts within the limits (or the throughput limits only), and past them."""
    within = [r.keeps_up if throughput_only else r.within_limits for r in results]
    return (
        [r.devices for r, ok in zip(results, within, strict=True) if ok],
        [r.devices for r, ok in zip(results, within, strict=True) if not ok],
    )


def _notes(args: argparse.Namespace, results: list[PointResult]) -> list[str]:
    at_100 = next((r for r in results if r.devices == 100), None)
    broker = (
        "`set_tcp_nodelay true`"
        if args.tcp_nodelay
        else "its default `set_tcp_nodelay false` (Nagle's algorithm on)"
    )
    waiting = (
        "" if args.max_wait_ms is None else f", `[inference] max_wait_ms = {args.max_wait_ms:g}`"
    )
    notes = [
        f"Each point: {args.warmup:g} s warm-up, then {args.measure:g} s measured; column JSON "
        f"with t, {args.batch} samples a message (QoS 0, one MQTT connection per device); "
        f"Mosquitto with {broker}; the daemon is `harbridge run` in its own process with the "
        "bundle of `harbridge simulate` + `harbridge calibrate` (default options) and its "
        f"default settings but `[queues] samples = 8192`, `[windowing] max_devices`{waiting}. "
        "Limits: e2e p99 ≤ 100 ms; daemon CPU < 100 % of one core, every device served, no drops "
        f"(throughput). Machine: {os.cpu_count()} CPU cores, shared with other work.",
    ]
    if at_100 is not None:
        verdict = "met" if at_100.meets_target else "NOT met"
        notes.append(
            f"Target at 100 devices (every device served, p99 ≤ 100 ms, CPU ≤ 50 %): {verdict}."
        )
    for name, throughput_only in (("every limit", False), ("the throughput limits", True)):
        good, bad = _split(results, throughput_only)
        if results:
            notes.append(
                f"Within {name}: up to {max(good, default=0)} devices"
                + (f"; past them from {min(bad)} devices." if bad else "; none was past them.")
            )
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    """The sweep, or with ``load`` as first argument the load generator."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["load"]:
        return run_load(_load_parser().parse_args(argv[1:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="100 devices, short windows")
    parser.add_argument("--devices", help="comma-separated device counts instead of the sweep")
    parser.add_argument("--rate", type=float, default=100.0, help="samples/s per device")
    parser.add_argument("--batch", type=int, default=10, help="samples per message")
    parser.add_argument("--warmup", type=float, help="seconds before measuring (10; quick 5)")
    parser.add_argument("--measure", type=float, help="seconds measured (30; quick 10)")
    parser.add_argument(
        "--no-tcp-nodelay",
        dest="tcp_nodelay",
        action="store_false",
        help="run Mosquitto with its default set_tcp_nodelay false (Nagle's algorithm on)",
    )
    parser.add_argument(
        "--max-wait-ms",
        type=float,
        help="the daemon's [inference] max_wait_ms (default: the daemon's default)",
    )
    parser.add_argument("--bundle", type=Path, help="a bundle (default: simulate + calibrate)")
    parser.add_argument(
        "--stream", type=Path, help="stream.csv to replay (default: the simulated one)"
    )
    args = parser.parse_args(argv)
    args.warmup = args.warmup if args.warmup is not None else (5.0 if args.quick else 10.0)
    args.measure = args.measure if args.measure is not None else (10.0 if args.quick else 30.0)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        bundle, stream_csv = args.bundle, args.stream
        if bundle is None or stream_csv is None:
            from streaming import prepare

            prepared = prepare(folder / "prepared")
            bundle = bundle or prepared.bundle
            stream_csv = stream_csv or prepared.data / "stream.csv"
        load_before = os.getloadavg()
        table = asyncio.run(_sweep(args, bundle, stream_csv, folder))
    print(table)
    print(
        "load average (1, 5, 15 min) at the start: "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; at the end: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    return 0


def _load_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway.py load")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--warmup", type=float, required=True)
    parser.add_argument("--measure", type=float, required=True)
    parser.add_argument("--stream", type=Path, required=True)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
