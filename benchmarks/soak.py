"""Soak: the daemon for a long run with 20 devices streaming and a fault injected every minute.

The daemon runs as a subprocess (``harbridge run``), as systemd runs it. Twenty devices
stream a real recording in real time: 12 wearables publishing column JSON over MQTT
(``imu/mq-NN/raw``, with times), 4 serial CSV devices with times and 4 serial WitMotion
sensors without, each on a pseudo-terminal behind a stable link (as by-id links are).
Every ``--fault-every`` seconds one fault, in rotation (the ones that make the daemon
allocate most come first, so that their repeats fall in the part of the run whose memory
is judged):

- ``oversized payload``: a 1.3 MB MQTT payload and one with 10 001 samples;
- ``garbage burst``: random bytes and broken lines on a CSV and a WitMotion port, and
  broken MQTT payloads;
- ``broker restart``: Mosquitto killed (SIGKILL) and started again 3 s later;
- ``serial replug``: a CSV adapter unplugged for 3 s, then a new pty at the same path;
- ``clock jump``: a CSV device's clock jumps an hour forwards, an MQTT device's an hour
  back (a reboot);
- ``device stall``: a WitMotion sensor silent for 8 s.

Every ``--sample-every`` seconds the daemon's RSS and CPU are read from ``/proc`` and its
counters from its latest metrics message. The script prints the time series, the faults
with the counters each moved, and a verdict: the slope of RSS over the last two thirds of
the run (MB/min, should be about 0) and whether every dropped or refused input is
explained by a fault.

Run: ``python benchmarks/soak.py [--minutes 10] [--bundle DIR --recording CSV]``; without
``--bundle`` it simulates the default dataset and calibrates a bundle first (about a
minute), and replays the simulated ``stream.csv``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tty
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import numpy as np

from harbridge.cli import main as harbridge
from harbridge.drivers.witmotion import encode_witmotion

RATE_HZ = 50.0
TICK_S = 0.2
OUTAGE_S = 3.0
UNPLUG_S = 3.0
STALL_S = 8.0
PREFIX = "harbridge"
FAULTS = (
    "oversized payload",
    "garbage burst",
    "broker restart",
    "serial replug",
    "clock jump",
    "device stall",
)
#: The counters each fault may move (``parse.*``, ``drops.*``, ``clock.*``, ``reconnects``).
EFFECTS = {
    "broker restart": {"reconnects", "clock.gap", "clock.stall", "drops.publish_buffer"},
    "serial replug": {"reconnects", "clock.gap", "clock.stall", "parse.header",
                      "parse.too_few_columns", "parse.bad_number", "parse.no_header"},
    "garbage burst": {"parse.bad_utf8", "parse.line_too_long", "parse.bad_number",
                      "parse.too_few_columns", "parse.too_many_columns", "parse.non_finite",
                      "parse.bad_json", "parse.bad_checksum", "parse.resync_bytes",
                      "parse.unpaired", "parse.missing_channel", "drops.out_of_order",
                      "drops.duplicate", "clock.gap"},
    "clock jump": {"clock.gap", "clock.clock_reset", "drops.out_of_order"},
    "oversized payload": {"parse.payload_too_large", "parse.too_many_samples"},
    "device stall": {"clock.stall", "clock.gap"},
}  # fmt: skip
#: A fault's effects show in the metrics up to this long after it (stall, then resume).
EFFECT_DELAY_S = 30.0
#: Below this RSS slope over the last two thirds of the run, memory is flat.
FLAT_MB_PER_MIN = 0.25
INFORMATIONAL = ("parse.header", "parse.resync_bytes")
CLOCK_KINDS = ("gap", "clock_reset", "stall", "slow_rate")


def prepare(folder: Path) -> tuple[Path, Path]:
    """Simulate the default dataset and calibrate a bundle: (bundle, stream.csv)."""
    data, bundle = folder / "data", folder / "bundle"
    for argv in (
        ["simulate", "--out", str(data)],
        ["calibrate", "--pairs", str(data / "pairs.npz"), "--labeled",
         str(data / "labeled_video.npz"), "--out", str(bundle)],
    ):  # fmt: skip
        if harbridge(argv) != 0:
            raise SystemExit(f"harbridge {argv[0]} failed")
    return bundle, data / "stream.csv"


class Broker:
    """Mosquitto on a fixed loopback port that can be killed and started again."""

    def __init__(self, folder: Path) -> None:
        binary = next(
            (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, 1)),
            None,
        )
        if binary is None:
            raise SystemExit("mosquitto is not installed; apt install mosquitto")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\nlog_dest file {folder / 'log'}\n"
        )
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.02)
        raise RuntimeError("mosquitto did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


class Adapter:
    """A serial adapter: a raw pty pair behind a stable link, unpluggable."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master: int | None = None
        self.slave_path = ""

    def plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # as the daemon sets it, so nothing is echoed before it opens
        self.slave_path = os.ttyname(slave)
        staging = self.link.with_name(self.link.name + ".new")
        os.symlink(self.slave_path, staging)
        os.replace(staging, self.link)
        os.close(slave)
        os.set_blocking(master, False)
        self.master = master

    def unplug(self) -> None:
        if self.master is not None:
            os.close(self.master)
            self.master = None

    def opened_by(self, pid: int) -> bool:
        """Whether process ``pid`` holds the current pty open."""
        folder = Path(f"/proc/{pid}/fd")
        with contextlib.suppress(OSError):
            return any(os.readlink(fd) == self.slave_path for fd in folder.iterdir())
        return False

    def write(self, data: bytes) -> None:
        """Write what the pty takes; a port nobody reads loses the rest, as a UART does."""
        if self.master is not None:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self.master, data)


@dataclass
class Device:
    """One simulated wearable replaying the recording from its own offset, in real time."""

    name: str
    kind: str  # mqtt | csv | witmotion
    offset: int
    adapter: Adapter | None = None
    sent: int = 0
    shift_s: float = 0.0
    paused: bool = False
    header_due: bool = True

    def due(self, elapsed_s: float, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Times and values of the samples that came due since the last call."""
        upto = int(elapsed_s * RATE_HZ)
        index = np.arange(self.sent, upto)
        self.sent = max(self.sent, upto)
        t = index / RATE_HZ + self.shift_s
        return t, values[(self.offset + index) % len(values)]


@dataclass
class Run:
    """Everything the soak observes."""

    metrics: dict[str, Any] = field(default_factory=dict)
    received: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)
    faults: list[tuple[float, str]] = field(default_factory=list)


def daemon_config(folder: Path, bundle: Path, broker: Broker, devices: list[Device]) -> Path:
    lines = ['device = "soak"', f'bundle = "{bundle}"']
    for device in devices:
        if device.adapter is not None:
            lines += ["[[sources]]", 'kind = "serial"', f'port = "{device.adapter.link}"',
                      f'format = "{"csv" if device.kind == "csv" else "witmotion"}"',
                      f'device = "{device.name}"']  # fmt: skip
    lines += ["[[sources]]", 'kind = "mqtt"', 'topic = "imu/+/raw"']
    lines += ["[mqtt]", f'url = "mqtt://127.0.0.1:{broker.port}"', f'topic_prefix = "{PREFIX}"']
    lines += ["[metrics]", "interval_s = 10.0", "[windowing]", "stall_s = 5.0"]
    path = folder / "soak.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def stream_serial(devices: list[Device], values: np.ndarray, start: float) -> None:
    """Write every serial device's due samples each tick, as the device would send them."""
    while True:
        elapsed = time.monotonic() - start
        for device in devices:
            t, rows = device.due(elapsed, values)
            if device.paused or device.adapter is None or not len(t):
                continue
            if device.kind == "csv":
                text = "".join(
                    f"{ti:.4f}," + ",".join(f"{x:.5f}" for x in row) + "\n"
                    for ti, row in zip(t, rows, strict=True)
                )
                header = "t,ax,ay,az,gx,gy,gz\n" if device.header_due else ""
                device.header_due = False
                device.adapter.write((header + text).encode())
            else:
                device.adapter.write(encode_witmotion(rows[:, :3], rows[:, 3:]))
        await asyncio.sleep(TICK_S)


async def stream_mqtt(devices: list[Device], values: np.ndarray, start: float, port: int) -> None:
    """Publish every MQTT device's due samples each tick; samples due while away are lost."""
    while True:
        try:
            async with aiomqtt.Client("127.0.0.1", port, identifier="soak-sensors") as client:
                while True:
                    elapsed = time.monotonic() - start
                    for device in devices:
                        t, rows = device.due(elapsed, values)
                        if len(t) and not device.paused:
                            names = ("ax", "ay", "az", "gx", "gy", "gz")
                            body = {"t": t.round(4).tolist()} | {
                                n: rows[:, c].round(5).tolist() for c, n in enumerate(names)
                            }
                            await client.publish(f"imu/{device.name}/raw", json.dumps(body))
                    await asyncio.sleep(TICK_S)
        except aiomqtt.MqttError:
            for device in devices:
                device.due(time.monotonic() - start, values)
            await asyncio.sleep(0.5)


async def observe(run: Run, port: int) -> None:
    """Count predictions received and keep the latest metrics message."""
    while True:
        try:
            async with aiomqtt.Client("127.0.0.1", port, identifier="soak-observer") as client:
                await client.subscribe(f"{PREFIX}/+/prediction")
                await client.subscribe(f"{PREFIX}/soak/metrics")
                async for message in client.messages:
                    if message.topic.value.endswith("/metrics"):
                        assert isinstance(message.payload, bytes)
                        run.metrics = json.loads(message.payload)
                    else:
                        run.received += 1
        except aiomqtt.MqttError:
            await asyncio.sleep(0.5)


def proc_usage(pid: int) -> tuple[float, float]:
    """(RSS in MB, CPU seconds used) of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu_s = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return rss_kb / 1024, cpu_s


def counters(metrics: dict[str, Any]) -> dict[str, int]:
    """Flat counters of a metrics message: ``drops.*``, ``parse.*``, ``clock.*``, ``reconnects``."""
    flat = {"reconnects": int(metrics.get("reconnects", 0))}
    for group, prefix in (("drops", "drops"), ("parse_errors", "parse"), ("clock", "clock")):
        flat |= {f"{prefix}.{k}": int(v) for k, v in metrics.get(group, {}).items()}
    return flat


@dataclass
class Soak:
    """One soak run: its settings, the broker, the devices, the daemon's pid and the clock."""

    args: argparse.Namespace
    broker: Broker
    devices: list[Device]
    values: np.ndarray
    pid: int = 0
    start: float = 0.0
    run: Run = field(default_factory=Run)

    def device(self, name: str) -> Device:
        return next(d for d in self.devices if d.name == name)

    async def sample(self) -> None:
        """Every ``--sample-every`` s until the end: RSS, CPU and the latest counters."""
        every_s, end = self.args.sample_every, self.start + self.args.minutes * 60
        cpu_before, t_before = proc_usage(self.pid)[1], time.monotonic()
        while time.monotonic() < end:
            await asyncio.sleep(every_s - (time.monotonic() - self.start) % every_s)
            rss, cpu = proc_usage(self.pid)
            now = time.monotonic()
            metrics = self.run.metrics
            self.run.samples.append(
                {
                    "t": round(now - self.start),
                    "rss_mb": rss,
                    "cpu_pct": 100 * (cpu - cpu_before) / (now - t_before),
                    "predictions": int(metrics.get("predictions", 0)),
                    "received": self.run.received,
                    "measured": bool(metrics),
                    "counters": counters(metrics),
                }
            )
            cpu_before, t_before = cpu, now

    async def inject(self) -> None:
        """One fault every ``--fault-every`` seconds, in the rotation of :data:`FAULTS`."""
        every_s = self.args.fault_every
        for number in range(int((self.args.minutes * 60 - 20) // every_s)):
            await asyncio.sleep(self.start + (number + 1) * every_s - time.monotonic())
            fault = FAULTS[number % len(FAULTS)]
            self.run.faults.append((time.monotonic() - self.start, fault))
            await getattr(self, fault.replace(" ", "_"))()

    async def broker_restart(self) -> None:
        await asyncio.to_thread(self.broker.kill)
        await asyncio.sleep(OUTAGE_S)
        await asyncio.to_thread(self.broker.start)

    async def serial_replug(self) -> None:
        device = self.device("csv-1")
        assert device.adapter is not None
        device.adapter.unplug()
        await asyncio.sleep(UNPLUG_S)
        device.paused = True
        device.adapter.plug()
        # A CSV device sends its header when it powers up: once the port is open again.
        while not device.adapter.opened_by(self.pid):
            await asyncio.sleep(0.1)
        device.header_due, device.paused = True, False

    async def garbage_burst(self) -> None:
        noise = np.random.default_rng(len(self.run.faults)).integers(0, 256, 4000, np.uint8)
        lines = b"\n1.0,nan,0,0,0,0,0\n1,2\n" + b"9" * 5000 + b"\n"
        for name in ("csv-2", "wit-2"):
            adapter = self.device(name).adapter
            assert adapter is not None
            adapter.write(noise.tobytes() + lines)
        await self.publish("imu/mq-02/raw", b"{not json", b"\xff\xfe", b'{"t": [1.0], "ax": [1.0]}')

    async def clock_jump(self) -> None:
        self.device("csv-3").shift_s += 3600.0
        self.device("mq-03").shift_s -= 3600.0

    async def oversized_payload(self) -> None:
        huge = json.dumps({"t": [0.0] * 260_000}).encode()
        many = json.dumps({name: [0] * 10_001 for name in ("t", "ax")}).encode()
        await self.publish("imu/mq-04/raw", huge, many)

    async def device_stall(self) -> None:
        device = self.device("wit-3")
        device.paused = True
        await asyncio.sleep(STALL_S)
        device.paused = False

    async def publish(self, topic: str, *payloads: bytes) -> None:
        async with aiomqtt.Client("127.0.0.1", self.broker.port) as client:
            for payload in payloads:
                await client.publish(topic, payload, qos=1)


def explain(run: Run) -> list[str]:
    """Counter increases that no fault shortly before explains."""
    unexplained = []
    # Until the first metrics message there is nothing to compare with (the CSV devices'
    # first header lines are in it).
    measured = [row for row in run.samples if row["measured"]]
    for before, after in itertools.pairwise(measured):
        for key, value in after["counters"].items():
            grew = value - before["counters"].get(key, 0)
            causes = [
                fault
                for t, fault in run.faults
                if before["t"] - EFFECT_DELAY_S <= t <= after["t"] and key in EFFECTS[fault]
            ]
            if grew > 0 and not causes:
                unexplained.append(f"{key} +{grew} by {after['t']} s")
    return unexplained


def series_table(run: Run) -> list[str]:
    lines = [
        "| t (s) | RSS (MB) | CPU (%) | predictions | received | drops | parse errors "
        "| clock gap/reset/stall/slow | reconnects | fault |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    last = 0.0
    for row in run.samples:
        c = row["counters"]
        drops = sum(v for k, v in c.items() if k.startswith("drops."))
        parse = sum(v for k, v in c.items() if k.startswith("parse.") and k not in INFORMATIONAL)
        clock = "/".join(str(c.get(f"clock.{k}", 0)) for k in CLOCK_KINDS)
        faults = ", ".join(f for t, f in run.faults if last < t <= row["t"])
        lines.append(
            f"| {row['t']} | {row['rss_mb']:.1f} | {row['cpu_pct']:.1f} | {row['predictions']} "
            f"| {row['received']} | {drops} | {parse} | {clock} | {c['reconnects']} | {faults} |"
        )
        last = row["t"]
    return lines


def fault_table(run: Run) -> list[str]:
    lines = [
        f"| fault at (s) | fault | counters moved until the next (at most {EFFECT_DELAY_S:g} s) |",
        "|---:|---|---|",
    ]
    ends = [t for t, _ in run.faults[1:]] + [float("inf")]
    for (t, fault), end in zip(run.faults, ends, strict=True):
        # From the last sample before the fault to the last before the next one.
        rows = [r for r in run.samples if r["t"] <= min(end, t + EFFECT_DELAY_S)]
        first = next((r for r in reversed(rows) if r["t"] <= t), rows[0])["counters"]
        last = rows[-1]["counters"]
        moved = {k: v - first.get(k, 0) for k, v in last.items() if v > first.get(k, 0)}
        text = ", ".join(f"{k} +{v}" for k, v in sorted(moved.items())) or "none"
        lines.append(f"| {t:.0f} | {fault} | {text} |")
    return lines


def verdict(run: Run, args: argparse.Namespace, exit_code: int) -> list[str]:
    rows = run.samples[len(run.samples) // 3 :]
    minutes = np.array([r["t"] for r in rows]) / 60
    rss = np.array([r["rss_mb"] for r in rows])
    slope = float(np.polyfit(minutes, rss, 1)[0])
    rates = [b["predictions"] - a["predictions"] for a, b in itertools.pairwise(run.samples)]
    unexplained = explain(run)
    return [
        f"RSS over the last two thirds: {rss.min():.1f}–{rss.max():.1f} MB, slope "
        f"{slope:+.3f} MB/min ({'flat' if abs(slope) < FLAT_MB_PER_MIN else 'GROWING'}).",
        f"Predictions per {args.sample_every:g} s: median {np.median(rates):.0f}, min "
        f"{min(rates)}; received by a subscriber: {run.received} of "
        f"{run.samples[-1]['predictions']}. Daemon exit code after SIGTERM: {exit_code}.",
        "Every drop and refused input explained by a fault: "
        + ("yes." if not unexplained else "NO: " + "; ".join(unexplained)),
    ]


def report(run: Run, args: argparse.Namespace, exit_code: int) -> None:
    """Print the time series, the faults and the verdict as markdown."""
    print(
        f"Soak: {args.minutes:g} min, 20 devices (12 MQTT, 4 serial CSV, 4 serial WitMotion), "
        f"a fault every {args.fault_every:g} s, sampled every {args.sample_every:g} s.\n"
    )
    print(
        "\n".join([*series_table(run), "", *fault_table(run), "", *verdict(run, args, exit_code)])
    )


def make_devices(folder: Path, n_rows: int) -> list[Device]:
    """12 MQTT wearables, 4 CSV and 4 WitMotion serial devices, each from its own offset."""
    rng = np.random.default_rng(1)
    devices = [Device(f"mq-{i:02d}", "mqtt", int(rng.integers(n_rows))) for i in range(1, 13)]
    for kind, short in (("csv", "csv"), ("witmotion", "wit")):
        for i in range(1, 5):
            adapter = Adapter(folder / f"{short}-{i}")
            adapter.plug()
            devices.append(Device(f"{short}-{i}", kind, int(rng.integers(n_rows)), adapter))
    return devices


async def soak(
    args: argparse.Namespace, bundle: Path, recording: Path, folder: Path
) -> tuple[Run, int]:
    """Run the daemon, the devices, the faults and the sampling; return what was seen."""
    values = np.loadtxt(recording, delimiter=",", skiprows=1, dtype=np.float64)[:, 1:7]
    broker = Broker(folder / "mosquitto")
    broker.start()
    state = Soak(args, broker, make_devices(folder, len(values)), values)
    config = daemon_config(folder, bundle, broker, state.devices)
    serial = [d for d in state.devices if d.adapter is not None]
    mqtt = [d for d in state.devices if d.adapter is None]
    with (folder / "daemon.log").open("wb") as log:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "harbridge", "run", "--config", str(config),
             "--log-level", "warning"],
            stderr=log,
        )  # fmt: skip
        state.pid = daemon.pid
        try:
            while not all(
                d.adapter is not None and d.adapter.opened_by(daemon.pid) for d in serial
            ):
                await asyncio.sleep(0.1)
            state.start = time.monotonic()
            tasks = [
                asyncio.create_task(stream_serial(serial, values, state.start)),
                asyncio.create_task(stream_mqtt(mqtt, values, state.start, broker.port)),
                asyncio.create_task(observe(state.run, broker.port)),
                asyncio.create_task(state.inject()),
            ]
            await state.sample()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            daemon.send_signal(signal.SIGTERM)
            exit_code = await asyncio.to_thread(daemon.wait, 30)
            broker.kill()
            for adapter in (d.adapter for d in serial):
                if adapter is not None:
                    adapter.unplug()
    return state.run, exit_code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the run")
    parser.add_argument("--fault-every", type=float, default=60.0, metavar="S")
    parser.add_argument("--sample-every", type=float, default=10.0, metavar="S")
    parser.add_argument("--bundle", type=Path, help="bundle (default: simulate + calibrate)")
    parser.add_argument("--recording", type=Path, help="CSV with t,ax,ay,az,gx,gy,gz at 50 Hz")
    args = parser.parse_args(argv)
    if (args.bundle is None) != (args.recording is None):
        parser.error("give both --bundle and --recording, or neither")
    with tempfile.TemporaryDirectory(prefix="harbridge-soak-") as scratch:
        folder = Path(scratch)
        bundle, recording = (args.bundle, args.recording) if args.bundle else prepare(folder)
        run, exit_code = asyncio.run(soak(args, bundle, recording, folder))
        report(run, args, exit_code)
        errors = (folder / "daemon.log").read_text(errors="replace").count("Traceback")
    return 0 if exit_code == 0 and not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
