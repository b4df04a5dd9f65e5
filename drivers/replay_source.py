"""IMU samples replayed from a recording, in real time × ``speed`` (a demo, a test, a bench).

Two file kinds, told apart by their suffix:

- **CSV** (``.csv``), as the simulator's ``stream.csv``: a header naming ``t`` and the
  channels (``t,ax,ay,az,gx,gy,gz``; other columns are ignored), then one sample per
  line, read by the serial CSV framing (:class:`~harbridge.drivers.csv_lines.CsvLineParser`),
  whose dropped lines are counted in ``counters.parse``.
- **npz** (``.npz``): one continuous stream, ``t`` of shape (n,) and one array of shape
  (n,) per channel, named as the bundle names them (``ax``, …). Windowed datasets
  (``imu`` of shape (n, T, C)) are not streams and are refused.

Timestamps keep the file's ``t`` on the first pass, so predictions line up with the
recording's ground-truth segments; each further pass of a ``loop`` is shifted by the
recording's length plus one sample period, so time only moves forward. Samples go out in
batches of about ``chunk_s`` seconds, each when the replay clock reaches its last sample:
``speed`` 1 is real time, 10 ten times faster, and 0 or ``inf`` as fast as possible
(batches are the same at every speed). The file is read into memory at start: an hour
at 100 Hz with six channels takes about 20 MB.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from harbridge.drivers.blocking import run_blocking
from harbridge.drivers.csv_lines import CsvLineParser
from harbridge.drivers.parse_stats import DEFAULT_LIMITS, FramingLimits, ParseStats, check_channels
from harbridge.drivers.samples import SampleBatch
from harbridge.drivers.source import SampleSink, SourceCounters
from harbridge.errors import InputError

__all__ = ["Recording", "ReplaySource", "load_recording"]

FloatArray = npt.NDArray[np.float64]

# Bytes of CSV handed to the parser at once.
_CSV_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Recording:
    """A continuous recording held in memory.

    Attributes
    ----------
    t : ndarray of shape (n,) float64
        Sample times in seconds, as in the file.
    channels : mapping of str to ndarray of shape (n,) float64
        One array per channel, in the order asked for.
    """

    t: FloatArray
    channels: Mapping[str, FloatArray]

    @property
    def period_s(self) -> float:
        """Median time between samples, seconds."""
        return float(np.median(np.diff(self.t)))


def load_recording(
    path: str | Path,
    channels: Sequence[str],
    limits: FramingLimits = DEFAULT_LIMITS,
    stats: ParseStats | None = None,
) -> Recording:
    """Read a CSV or npz recording (see the module docstring).

    Parameters
    ----------
    path : str or path
        The file; ``.npz`` is read as arrays, anything else as CSV.
    channels : sequence of str
        Channel names to read, as the bundle names them.
    limits : FramingLimits, optional
        Bounds on CSV lines.
    stats : ParseStats, optional
        Where CSV lines that were dropped are counted.

    Raises
    ------
    InputError
        The file is missing or unreadable, lacks ``t`` or a channel, or holds fewer than
        two usable samples.
    """
    path = Path(path)
    names = check_channels(channels)
    if path.suffix == ".npz":
        recording = _load_npz(path, names)
    else:
        recording = _load_csv(path, names, limits, stats if stats is not None else ParseStats())
    if recording.t.shape[0] < 2 or recording.t.max() <= recording.t[0]:
        raise InputError(
            path, "t", "a replay needs at least two samples at increasing times (seconds)."
        )
    return recording


def _load_csv(
    path: Path, channels: tuple[str, ...], limits: FramingLimits, stats: ParseStats
) -> Recording:
    parser = CsvLineParser(path.name, channels, limits)
    batches: list[SampleBatch] = []
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CSV_CHUNK):
                batches += parser.feed(chunk)
            batches += parser.feed(b"\n")
    except OSError as exc:
        raise InputError(path, "file", f"cannot be read ({exc.strerror}); check the path.") from exc
    for kind, n in parser.stats.counts.items():
        stats.add(kind, n)
    if any(batch.t is None for batch in batches):
        raise InputError(
            path, "t", "the header has no 't' column; a replay needs sample times in seconds."
        )
    if not batches:
        wanted = ",".join(("t", *channels))
        raise InputError(
            path,
            "header",
            f"no usable samples; the file needs a header naming {wanted} and numeric lines "
            f"under it (dropped: {dict(stats.counts)}).",
        )
    t = np.concatenate([batch.t for batch in batches if batch.t is not None])
    columns = {name: np.concatenate([b.channels[name] for b in batches]) for name in channels}
    return Recording(t, columns)


def _load_npz(path: Path, channels: tuple[str, ...]) -> Recording:
    from harbridge.calibration.dataset import load_npz

    data = load_npz(path)
    if "t" not in data:
        hint = (
            " 'imu' holds windows, which are not a stream; replay a CSV or an npz of "
            "continuous 't' and channel arrays."
            if "imu" in data
            else ""
        )
        raise InputError(path, "t", f"missing; a replay needs sample times in seconds.{hint}")
    columns: dict[str, FloatArray] = {}
    for name in ("t", *channels):
        if name not in data:
            raise InputError(path, name, f"missing; the file holds: {', '.join(sorted(data))}.")
        array = data[name]
        if array.ndim != 1 or array.dtype.kind not in "fiu":
            raise InputError(
                path, name, f"must be a 1-D numeric array, got {array.dtype} {array.shape}."
            )
        if columns and array.shape != columns["t"].shape:
            raise InputError(
                path, name, f"has {array.shape[0]} samples but 't' has {columns['t'].shape[0]}."
            )
        columns[name] = array.astype(np.float64)
    finite = np.all([np.isfinite(column) for column in columns.values()], axis=0)
    t = columns.pop("t")[finite]
    return Recording(t, {name: column[finite] for name, column in columns.items()})


class ReplaySource:
    """A :class:`~harbridge.drivers.source.Source` replaying a recording file.

    Parameters
    ----------
    path : str or path
        CSV or npz recording (see the module docstring).
    device : str
        Device id put on every batch.
    channels : sequence of str
        Channel names to emit, as the bundle names them.
    speed : float
        Replay speed relative to real time; 0 or ``inf`` for as fast as possible.
    loop : bool
        Start over at the end, forever, instead of returning.
    chunk_s : float
        Seconds of samples per batch, as a sensor sending small packets would.
    limits : FramingLimits, optional
        Bounds on CSV lines.
    logger : logging.Logger, optional
        Where start and end are logged.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        device: str,
        channels: Sequence[str],
        speed: float = 1.0,
        loop: bool = False,
        chunk_s: float = 0.1,
        limits: FramingLimits = DEFAULT_LIMITS,
        logger: logging.Logger | None = None,
    ) -> None:
        if not speed >= 0:
            raise ValueError(f"replay speed must be ≥ 0 (0 for as fast as possible), got {speed}")
        if not chunk_s > 0:
            raise ValueError(f"chunk_s must be > 0, got {chunk_s}")
        self.path = Path(path)
        self.device = device
        self.channels = check_channels(channels)
        self.speed = speed
        self.loop = loop
        self.chunk_s = chunk_s
        self.limits = limits
        self.logger = logger if logger is not None else logging.getLogger(__name__)
        self._counters = SourceCounters()

    @property
    def name(self) -> str:
        """``replay <path>``."""
        return f"replay {self.path}"

    @property
    def counters(self) -> SourceCounters:
        """Live counters; ``parse`` holds the CSV lines dropped while loading."""
        return self._counters

    async def run(self, sink: SampleSink) -> None:
        """Replay into ``sink``; return at the end unless looping.

        Raises
        ------
        InputError
            The recording cannot be used (see :func:`load_recording`).
        """
        recording = await run_blocking(
            load_recording, self.path, self.channels, self.limits, self._counters.parse
        )
        n = recording.t.shape[0]
        # Pace by the latest time so far: samples out of order in the file go out with
        # their neighbours and are left for the windower to drop.
        pace = np.maximum.accumulate(recording.t)
        step = max(1, round(self.chunk_s / recording.period_s)) if recording.period_s > 0 else 1
        duration = pace[-1] - recording.t[0]
        shift = duration + max(recording.period_s, 0.0)
        realtime = 0 < self.speed < math.inf
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.logger.info(
            "%s: %d samples over %.1f s at speed %g%s",
            self.name,
            n,
            duration,
            self.speed,
            ", looping" if self.loop else "",
        )
        self._counters.connected = True
        try:
            passes = 0
            while True:
                offset = passes * shift
                for first in range(0, n, step):
                    last = min(first + step, n)
                    if realtime:
                        due = start + (offset + pace[last - 1] - recording.t[0]) / self.speed
                        await asyncio.sleep(max(0.0, due - loop.time()))
                    else:
                        # Let the consumers run between batches even at full speed.
                        await asyncio.sleep(0)
                    batch = SampleBatch(
                        self.device,
                        recording.t[first:last] + offset,
                        {name: c[first:last] for name, c in recording.channels.items()},
                    )
                    self._counters.delivered(batch)
                    sink(batch)
                passes += 1
                if not self.loop:
                    return
        finally:
            self._counters.connected = False
