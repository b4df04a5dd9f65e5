"""Turn each device's stream of sample batches into fixed-size windows on the bundle's grid.

One :class:`DeviceWindower` per device (a :class:`WindowerPool` keeps them) does, per batch
and vectorised over its samples:

1. **Order.** A sample is kept only if its time is later than every sample before it.
   Equal times are dropped as ``duplicate``, earlier ones as ``out_of_order``. A jump
   backwards of more than ``clock_reset_s`` is a device clock reset (a reboot restarts
   the clock at zero): the buffer restarts at that sample, counted as ``clock_reset``.
2. **Gaps.** Two consecutive kept samples further apart than ``max_gap_s`` are never
   interpolated across: the buffer restarts at the later one, counted as ``gap``. A big
   jump forwards is therefore a gap too.
3. **Resampling.** Kept samples are interpolated linearly onto the grid
   ``t0 + j / rate_hz``, where ``t0`` is the first sample after a (re)start. The sensor
   may run at any rate; no anti-alias filter is applied.
4. **Windows.** Every ``hop`` grid samples, once ``window`` of them are there, a
   :class:`Window` is emitted. The buffer holds at most ``window + hop`` grid samples.

Batches without times (``SampleBatch.t is None``) are timestamped on arrival: the
samples are spread evenly between the previous batch's last sample and this batch's
arrival time, so the synthetic clock follows the sensor's real rate and never drifts
from wall-clock time. The first batch (and the first after a pause longer than
``max_gap_s``) is laid out backwards from its arrival time at the bundle's rate.

How batches are split never changes the windows: the same samples give bit-identical
windows whether they come one at a time or all at once.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from harbridge.drivers.samples import SampleBatch
from harbridge.runtime.resample import grid_count, grid_times, interpolate
from harbridge.runtime.time_steps import steps_forward_within

__all__ = ["DeviceWindower", "Window", "WindowCounters", "WindowerPool"]

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Window:
    """One window of resampled samples, ready for the pipeline.

    Attributes
    ----------
    device : str
        Device id the samples came from.
    t_start : float
        Time of the first sample, in seconds on the device's clock.
    t_end : float
        ``t_start + window / rate_hz``: the end of the span the window covers (exclusive).
    data : ndarray of shape (window, C) float32
        Samples on the bundle's grid, channels in the bundle's order.
    t_last_arrival : float
        Arrival time (the clock the caller passes to ``push``) of the batch that
        completed the window; ``now - t_last_arrival`` is the pipeline latency.
    segment : int
        Number of buffer restarts (gaps, clock resets) before this window; windows of
        different segments are not continuous, so smoothing should restart.
    """

    device: str
    t_start: float
    t_end: float
    data: Float32Array
    t_last_arrival: float
    segment: int


@dataclass(slots=True)
class WindowCounters:
    """What a windower did with the samples it was given.

    ``samples`` counts kept raw samples and ``windows`` emitted windows; ``gap`` and
    ``clock_reset`` count buffer restarts; the rest count dropped samples by reason.
    """

    samples: int = 0
    windows: int = 0
    gap: int = 0
    clock_reset: int = 0
    out_of_order: int = 0
    duplicate: int = 0
    non_finite: int = 0
    missing_channel: int = 0
    malformed: int = 0

    def drops(self) -> dict[str, int]:
        """Dropped samples by reason (for the ``drops`` field of the metrics payload)."""
        return {
            "out_of_order": self.out_of_order,
            "duplicate": self.duplicate,
            "non_finite": self.non_finite,
            "missing_channel": self.missing_channel,
            "malformed": self.malformed,
        }

    def as_dict(self) -> dict[str, int]:
        """Every counter by name."""
        return asdict(self)

    def add(self, other: WindowCounters) -> None:
        """Add ``other``'s counts to these (to total several devices)."""
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


class DeviceWindower:
    """Windows of one device's samples on the bundle's time grid.

    Parameters
    ----------
    rate_hz : float
        The bundle's sample rate; windows are on the grid ``t0 + j / rate_hz``.
    window : int
        Samples per window (the bundle's ``window``).
    hop : int
        Grid samples between the starts of consecutive windows (the bundle's ``hop``).
    channels : sequence of str
        The bundle's channel names, in the order of ``Window.data``'s columns.
    max_gap_s : float
        Longest pause between two samples that is still interpolated across.
    clock_reset_s : float
        A jump backwards in time longer than this restarts the buffer (a device reboot);
        shorter jumps only drop the late samples. Must exceed ``max_gap_s``.
    """

    def __init__(
        self,
        rate_hz: float,
        window: int,
        hop: int,
        channels: Sequence[str],
        max_gap_s: float,
        *,
        clock_reset_s: float = 5.0,
    ) -> None:
        if not rate_hz > 0 or window < 1 or hop < 1:
            raise ValueError(
                f"need rate_hz > 0, window ≥ 1, hop ≥ 1; got {rate_hz}, {window}, {hop}"
            )
        if not channels or len(set(channels)) != len(channels):
            raise ValueError(f"channels must be distinct names, got {list(channels)}")
        if not 0 < max_gap_s < clock_reset_s:
            raise ValueError(
                f"need 0 < max_gap_s < clock_reset_s, got {max_gap_s}, {clock_reset_s}"
            )
        self.rate_hz = rate_hz
        self.window = window
        self.hop = hop
        self.channels = tuple(channels)
        self.max_gap_s = max_gap_s
        self.clock_reset_s = clock_reset_s
        self.counters = WindowCounters()
        self._period = 1.0 / rate_hz
        self._buffer = np.empty((window + hop, len(self.channels)), dtype=np.float32)
        self._last_synthetic: float | None = None
        # Stream state, reset by _restart: grid origin (None before the first sample),
        # next grid index to produce, last kept sample, and the buffer's contents.
        self._origin: float | None = None
        self._next_grid = 0
        self._t_prev = -np.inf
        self._x_prev = np.zeros(len(self.channels), dtype=np.float64)
        self._buffered = 0
        self._buffer_start = 0
        self._next_window = 0
        self._segment = 0

    def push(self, batch: SampleBatch, arrival_time: float) -> list[Window]:
        """Add a batch of samples; return the windows it completed, oldest first.

        Parameters
        ----------
        batch : SampleBatch
            Samples of this windower's device. Channels the bundle does not use are
            ignored; a batch missing one of the bundle's channels is dropped.
        arrival_time : float
            When the batch arrived, in seconds (``time.monotonic()`` or any clock the
            caller also uses to measure latency).
        """
        values = self._values(batch)
        if values is None or not values.shape[0]:
            return []
        n = values.shape[0]
        try:
            t = (
                self._synthetic_times(n, arrival_time)
                if batch.t is None
                else np.asarray(batch.t, dtype=np.float64)
            )
        except (TypeError, ValueError):
            t = np.empty(0)
        if t.shape != (n,):
            self.counters.malformed += n
            return []
        # A sum is finite only if every term is (an overflow merely takes the long way),
        # so the common batch costs two reductions instead of a mask per element.
        if not math.isfinite(float(t.sum()) + float(values.sum())):
            finite = np.isfinite(t) & np.isfinite(values).all(axis=1)
            if not finite.all():
                self.counters.non_finite += n - int(finite.sum())
                t, values = t[finite], values[finite]
        elif self._in_order_without_gap(t):
            self.counters.samples += n
            return self._extend(t, values, batch.device, arrival_time)
        windows: list[Window] = []
        while t.size:
            steps = t - np.concatenate(([self._t_prev], t[:-1]))
            if (steps > 0).all():
                windows += self._accept(t, values, steps, batch.device, arrival_time)
                break
            latest = np.maximum.accumulate(np.concatenate(([self._t_prev], t)))[:-1]
            resets = np.flatnonzero(t < latest - self.clock_reset_s)
            stop = int(resets[0]) if resets.size else t.size
            kept = t[:stop] > latest[:stop]
            duplicates = int(np.count_nonzero(t[:stop] == latest[:stop]))
            self.counters.duplicate += duplicates
            self.counters.out_of_order += stop - int(kept.sum()) - duplicates
            if kept.any():
                t_kept = t[:stop][kept]
                steps = t_kept - np.concatenate(([self._t_prev], t_kept[:-1]))
                windows += self._accept(
                    t_kept, values[:stop][kept], steps, batch.device, arrival_time
                )
            if stop == t.size:
                break
            self.counters.clock_reset += 1
            self._restart()
            t, values = t[stop:], values[stop:]
        return windows

    def _in_order_without_gap(self, t: FloatArray) -> bool:
        """Whether finite times ``t`` all follow the last kept sample, with no gap in them.

        The common case, checked with few numpy calls; :meth:`_accept` handles the rest.
        """
        first_gap = math.inf if self._origin is None else self.max_gap_s
        return steps_forward_within(t, self._t_prev, first_gap, self.max_gap_s)

    def _values(self, batch: SampleBatch) -> FloatArray | None:
        """The batch's channels as an (n, C) float64 array, or None if it must be dropped."""
        n = len(batch)
        try:
            columns = [batch.channels[name] for name in self.channels]
        except KeyError:
            self.counters.missing_channel += n
            return None
        try:
            # One conversion of all columns: a third of the cost of one per channel.
            values = np.array(columns, dtype=np.float64)
        except (TypeError, ValueError):
            values = None
        if values is None or values.shape != (len(self.channels), n):
            self.counters.malformed += n
            return None
        return values.T

    def _synthetic_times(self, n: int, arrival_time: float) -> FloatArray:
        """Times for ``n`` samples without timestamps that arrived at ``arrival_time``."""
        steps = np.arange(1, n + 1, dtype=np.float64)
        backwards = arrival_time - (n - steps) * self._period
        last = self._last_synthetic
        if last is None:
            t = backwards
        elif arrival_time <= last:
            # Two batches handled at the same instant: keep them in order at the nominal rate.
            t = last + steps * self._period
        elif arrival_time - last > self.max_gap_s and backwards[0] > last:
            t = backwards
        else:
            t = last + steps * ((arrival_time - last) / n)
        self._last_synthetic = float(t[-1])
        return t

    def _accept(
        self,
        t: FloatArray,
        values: FloatArray,
        steps: FloatArray,
        device: str,
        arrival_time: float,
    ) -> list[Window]:
        """Resample samples later than any before, given their ``steps`` from the previous one.

        The samples are split wherever a step exceeds ``max_gap_s``.
        """
        self.counters.samples += t.size
        gaps = steps > self.max_gap_s
        if self._origin is None:
            gaps[0] = False
        if not gaps.any():
            return self._extend(t, values, device, arrival_time)
        starts = np.flatnonzero(gaps).tolist()
        windows: list[Window] = []
        for begin, end in itertools.pairwise([0, *starts, t.size]):
            if begin == end:  # a gap before the batch's first sample
                continue
            if begin in starts:
                self.counters.gap += 1
                self._restart()
            windows += self._extend(t[begin:end], values[begin:end], device, arrival_time)
        return windows

    def _extend(
        self, t: FloatArray, values: FloatArray, device: str, arrival_time: float
    ) -> list[Window]:
        """Interpolate a gap-free run of samples onto the grid and emit finished windows."""
        if self._origin is None:
            self._origin = origin = float(t[0])
            known_t, known_x = t, values
        else:
            origin = self._origin
            known_t = np.concatenate(([self._t_prev], t))
            known_x = np.concatenate((self._x_prev[None, :], values))
        count = grid_count(origin, self._period, self._next_grid, float(t[-1]))
        self._t_prev, self._x_prev = float(t[-1]), values[-1].copy()
        if not count:
            return []
        grid = grid_times(origin, self._period, self._next_grid, count)
        self._next_grid += count
        return self._append(interpolate(known_t, known_x, grid), origin, device, arrival_time)

    def _append(
        self, samples: FloatArray, origin: float, device: str, arrival_time: float
    ) -> list[Window]:
        """Store new grid samples and cut every window they complete."""
        windows: list[Window] = []
        buffer = self._buffer
        done = 0
        while done < samples.shape[0]:
            take = min(samples.shape[0] - done, buffer.shape[0] - self._buffered)
            buffer[self._buffered : self._buffered + take] = samples[done : done + take]
            self._buffered += take
            done += take
            end = self._buffer_start + self._buffered
            while self._next_window + self.window <= end:
                offset = self._next_window - self._buffer_start
                t_start = origin + self._next_window * self._period
                windows.append(
                    Window(
                        device=device,
                        t_start=t_start,
                        t_end=t_start + self.window * self._period,
                        data=buffer[offset : offset + self.window].copy(),
                        t_last_arrival=arrival_time,
                        segment=self._segment,
                    )
                )
                self._next_window += self.hop
            # Rows before the next window's start are never needed again.
            drop = min(self._next_window - self._buffer_start, self._buffered)
            if drop > 0:
                buffer[: self._buffered - drop] = buffer[drop : self._buffered]
                self._buffered -= drop
                self._buffer_start += drop
        self.counters.windows += len(windows)
        return windows

    def _restart(self) -> None:
        """Forget the buffer: the next sample starts a new grid and a new segment."""
        self._origin = None
        self._next_grid = 0
        self._t_prev = -np.inf
        self._buffered = 0
        self._buffer_start = 0
        self._next_window = 0
        self._segment += 1


class WindowerPool:
    """One :class:`DeviceWindower` per device, created on a device's first batch.

    Parameters
    ----------
    rate_hz, window, hop, channels, max_gap_s, clock_reset_s
        Passed to every :class:`DeviceWindower`.
    max_devices : int
        Most devices served at once; batches of further devices are dropped and counted
        in ``rejected_samples``, so a flood of made-up device ids (an MQTT ``+`` wildcard
        is open to any publisher) cannot exhaust memory.
    """

    def __init__(
        self,
        rate_hz: float,
        window: int,
        hop: int,
        channels: Sequence[str],
        max_gap_s: float,
        *,
        clock_reset_s: float = 5.0,
        max_devices: int = 1024,
    ) -> None:
        self._new_windower = functools.partial(
            DeviceWindower,
            rate_hz,
            window,
            hop,
            tuple(channels),
            max_gap_s,
            clock_reset_s=clock_reset_s,
        )
        self._new_windower()  # bad settings fail here, not at the first device's batch
        self.max_devices = max_devices
        self.windowers: dict[str, DeviceWindower] = {}
        self.rejected_samples = 0

    def push(self, batch: SampleBatch, arrival_time: float) -> list[Window]:
        """Route a batch to its device's windower; return the windows it completed."""
        windower = self.windowers.get(batch.device)
        if windower is None:
            if len(self.windowers) >= self.max_devices:
                self.rejected_samples += len(batch)
                return []
            windower = self.windowers[batch.device] = self._new_windower()
        return windower.push(batch, arrival_time)

    def totals(self) -> WindowCounters:
        """Counters summed over every device."""
        total = WindowCounters()
        for windower in self.windowers.values():
            total.add(windower.counters)
        return total
