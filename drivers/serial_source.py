"""IMU samples from a serial port (USB-serial adapter, Bluetooth SPP, pseudo-terminal).

Transport only: the bytes go to the framing parser chosen by ``format`` (``csv``,
``jsonl`` or ``witmotion``). Reads run in one dedicated thread per port
(:class:`~harbridge.drivers.blocking.ReaderThread`).

An adapter that is pulled out shows up as a read error, as a port that reports data but
returns none, or as a device path that vanished or now names another device (checked on
every quiet read timeout). The port is then closed and reopened with backoff, until the
device is back, and each reconnection is counted. Every connection starts a fresh
parser, so half a line or packet from before the loss is never joined to bytes from
after it; a CSV device is expected to send its header again when it restarts, or the
source is given a ``default_header``. ``port`` may also be any pyserial URL, such as
``socket://host:port`` or ``rfc2217://host:port``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from typing import Final, Protocol

import serial

from harbridge.drivers.backoff import Backoff, BackoffPolicy
from harbridge.drivers.blocking import ReaderThread, run_blocking
from harbridge.drivers.csv_lines import CsvLineParser
from harbridge.drivers.json_lines import JsonLineParser
from harbridge.drivers.parse_stats import DEFAULT_LIMITS, FramingLimits, ParseStats
from harbridge.drivers.samples import SampleBatch
from harbridge.drivers.source import SampleSink, SourceCounters
from harbridge.drivers.witmotion import WitMotionParser
from harbridge.runtime.ratelimit import RateLimitedLog

__all__ = ["SERIAL_FORMATS", "FramingParser", "PortGoneError", "SerialSource", "make_parser"]

SERIAL_FORMATS: Final = ("csv", "jsonl", "witmotion")


class FramingParser(Protocol):
    """What the serial source needs of a framing parser."""

    @property
    def stats(self) -> ParseStats:
        """Counts of dropped input by kind."""
        ...

    def feed(self, data: bytes) -> list[SampleBatch]:
        """Parse the next bytes of the stream."""
        ...


class PortGoneError(serial.SerialException):  # type: ignore[misc]
    """The device path vanished or now names another device (adapter unplugged)."""


def make_parser(
    format: str,
    device: str,
    channels: Sequence[str],
    limits: FramingLimits = DEFAULT_LIMITS,
    default_header: Sequence[str] | None = None,
) -> FramingParser:
    """The framing parser of a serial ``format``.

    Raises
    ------
    ValueError
        For an unknown format, or channels the format cannot provide.
    """
    if format == "csv":
        return CsvLineParser(device, channels, limits, default_header)
    if format == "jsonl":
        return JsonLineParser(device, channels, limits)
    if format == "witmotion":
        return WitMotionParser(device, channels)
    raise ValueError(f"unknown serial format {format!r}; choose one of {', '.join(SERIAL_FORMATS)}")


class SerialSource:
    """A :class:`~harbridge.drivers.source.Source` reading one serial port.

    Parameters
    ----------
    port : str
        Device path (``/dev/ttyUSB0``, a stable ``/dev/serial/by-id/…`` link) or a
        pyserial URL.
    device : str
        Device id put on every batch.
    channels : sequence of str
        Channel names to emit, as the bundle names them.
    baudrate : int
        Line speed.
    format : {"csv", "jsonl", "witmotion"}
        Framing of the byte stream.
    limits : FramingLimits, optional
        Bounds on hostile input.
    default_header : sequence of str, optional
        CSV columns to assume before (or without) a header line.
    backoff : BackoffPolicy, optional
        Delays between attempts to reopen the port.
    read_timeout_s : float
        Longest blocking read; also how often a quiet port's path is checked.
    logger : logging.Logger, optional
        Where connection events and rate-limited errors go.
    """

    def __init__(
        self,
        port: str,
        *,
        device: str,
        channels: Sequence[str],
        baudrate: int = 115200,
        format: str = "csv",
        limits: FramingLimits = DEFAULT_LIMITS,
        default_header: Sequence[str] | None = None,
        backoff: BackoffPolicy | None = None,
        read_timeout_s: float = 0.5,
        logger: logging.Logger | None = None,
    ) -> None:
        # Build one parser now so that a bad format or channel list fails at start-up.
        make_parser(format, device, channels, limits, default_header)
        self.port = port
        self.device = device
        self.channels = tuple(channels)
        self.baudrate = baudrate
        self.format = format
        self.limits = limits
        self.default_header = default_header
        self.backoff = backoff if backoff is not None else BackoffPolicy()
        self.read_timeout_s = read_timeout_s
        self.logger = logger if logger is not None else logging.getLogger(__name__)
        self._counters = SourceCounters()
        self._log = RateLimitedLog(self.logger)
        # Parse counts of connections already closed; the live parser's are added on top.
        self._retired: dict[str, int] = {}

    @property
    def name(self) -> str:
        """``serial <port>``."""
        return f"serial {self.port}"

    @property
    def counters(self) -> SourceCounters:
        """Live counters."""
        return self._counters

    async def run(self, sink: SampleSink) -> None:
        """Read the port into ``sink`` until cancelled, reopening it whenever it is lost."""
        backoff = Backoff(self.backoff)
        opened_before = False
        while True:
            try:
                port, rdev = await run_blocking(self._open)
            except (serial.SerialException, OSError, ValueError) as exc:
                delay = backoff.next_delay()
                self._log.log(
                    "open",
                    logging.WARNING,
                    "%s: cannot open (%s); retrying in %.1f s",
                    self.name,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            if opened_before:
                self._counters.reconnects += 1
            opened_before = True
            backoff.connected()
            self.logger.info(
                "%s: open at %d baud, %s framing", self.name, self.baudrate, self.format
            )
            try:
                await self._pump(port, rdev, sink)
            except (serial.SerialException, OSError) as exc:
                self._log.log("lost", logging.WARNING, "%s: lost (%s); reopening", self.name, exc)
            await asyncio.sleep(backoff.next_delay())

    def _open(self) -> tuple[serial.SerialBase, int | None]:
        """Open the port; also return the device number its path names, if it is a file."""
        port = serial.serial_for_url(
            self.port, baudrate=self.baudrate, timeout=self.read_timeout_s, exclusive=True
        )
        try:
            rdev = os.stat(self.port).st_rdev
        except OSError:
            rdev = None
        return port, rdev

    async def _pump(self, port: serial.SerialBase, rdev: int | None, sink: SampleSink) -> None:
        parser = make_parser(
            self.format, self.device, self.channels, self.limits, self.default_header
        )
        counters = self._counters
        reader = ReaderThread(
            lambda: self._read(port, rdev),
            port.close,
            name=f"harbridge {self.name}",
            cancel=getattr(port, "cancel_read", None),
        )
        overflow = 0
        counters.connected = True
        try:
            async with reader:
                while True:
                    data = await reader.read()
                    for batch in parser.feed(data):
                        counters.delivered(batch)
                        sink(batch)
                    counters.parse.counts = _sum_counts(self._retired, parser.stats.counts)
                    if reader.overflow_bytes > overflow:
                        counters.drop("overflow", reader.overflow_bytes - overflow)
                        overflow = reader.overflow_bytes
        finally:
            counters.connected = False
            self._retired = _sum_counts(self._retired, parser.stats.counts)
            counters.parse.counts = dict(self._retired)

    def _read(self, port: serial.SerialBase, rdev: int | None) -> bytes:
        """One blocking read, in the reader thread; raises when the device is gone."""
        data: bytes = port.read(port.in_waiting or 1)
        if not data and rdev is not None:
            try:
                same = os.stat(self.port).st_rdev == rdev
            except FileNotFoundError:
                same = False
            if not same:
                raise PortGoneError(f"{self.port} no longer names the device that was opened")
        return data


def _sum_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    total = dict(a)
    for kind, n in b.items():
        total[kind] = total.get(kind, 0) + n
    return total
