"""Watch each device's stream for trouble the windowing alone cannot see: stalls, slow rates.

The windowing (:mod:`harbridge.runtime.windowing`) already handles what timestamps do:
a jump forwards longer than ``max_gap_s`` restarts the device's buffer (``gap``), a jump
backwards drops the late samples (``out_of_order``) or, beyond ``clock_reset_s``,
restarts the buffer (``clock_reset``). :class:`ClockWatch` adds two checks of the
stream's pace, each counted once per episode and logged at a bounded rate:

- **stall**: a device that sent samples and then none for ``stall_s`` seconds of arrival
  time (the sensor froze, its cable or radio link dropped). Its windows simply stop; when
  samples come back the windowing restarts its buffer at the pause.
- **slow_rate**: a device whose samples come at less than :data:`SLOW_FRACTION` of the
  bundle's rate, measured over spans of :data:`RATE_SPAN_S` seconds of the device's clock
  (its timestamps, or arrival time for samples without them). Its samples are still
  interpolated onto the bundle's grid, so windows come at the usual pace, but they carry
  less of the motion than the model was calibrated on.

The measuring span restarts at every pause longer than ``max_gap_s`` and at every jump
backwards, so clock trouble is not mistaken for a slow sensor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from harbridge.drivers.samples import SampleBatch
from harbridge.runtime.ratelimit import RateLimitedLog
from harbridge.runtime.time_steps import steps_forward_within

__all__ = ["RATE_SPAN_S", "SLOW_FRACTION", "ClockCounters", "ClockWatch"]

FloatArray = npt.NDArray[np.float64]

#: A device below this fraction of the bundle's rate is slow.
SLOW_FRACTION = 0.75
#: Seconds of samples (on the device's clock) over which a device's rate is measured.
RATE_SPAN_S = 2.0


@dataclass(slots=True)
class ClockCounters:
    """Episodes seen since the daemon started: devices that stalled, devices found slow."""

    stall: int = 0
    slow_rate: int = 0


@dataclass(slots=True)
class _Pace:
    """One device's pace: its latest arrival and the span its rate is measured over."""

    last_arrival: float
    span_start: float
    span_end: float
    samples: int = 0
    stalled: bool = False
    slow: bool = False


class ClockWatch:
    """Stall and rate checks of every device's stream.

    Parameters
    ----------
    rate_hz : float
        The bundle's sample rate.
    max_gap_s : float
        ``[windowing] max_gap_s``: a longer pause restarts the rate measurement.
    stall_s : float
        ``[windowing] stall_s``: silence after which a device is reported stalled.
    logger : logging.Logger
        Where stalls and slow devices are reported, at most once per device and kind
        every 10 s.
    """

    def __init__(
        self, rate_hz: float, max_gap_s: float, stall_s: float, logger: logging.Logger
    ) -> None:
        if not 0 < max_gap_s < stall_s or not rate_hz > 0:
            raise ValueError(
                f"need rate_hz > 0 and 0 < max_gap_s < stall_s, got {rate_hz}, {max_gap_s} "
                f"and {stall_s}"
            )
        self.rate_hz = rate_hz
        self.max_gap_s = max_gap_s
        self.stall_s = stall_s
        self.counters = ClockCounters()
        self._log = RateLimitedLog(logger)
        self._paces: dict[str, _Pace] = {}

    def observe(self, batch: SampleBatch, arrival: float) -> None:
        """Note a batch of samples that arrived at monotonic time ``arrival``."""
        times = None if batch.t is None else np.asarray(batch.t, dtype=np.float64)
        last = arrival if times is None else float(times[-1])
        pace = self._paces.get(batch.device)
        if pace is None:
            self._paces[batch.device] = _Pace(arrival, last, last)
            return
        if pace.stalled:
            pace.stalled = False
            self._log.log(
                f"resumed {batch.device}",
                logging.INFO,
                "device %s: samples again after %.1f s",
                batch.device,
                arrival - pace.last_arrival,
            )
        pace.last_arrival = arrival
        n = len(batch)
        if not self._steady(times, last, pace.span_end, n):
            pace.span_start = pace.span_end = last
            pace.samples = 0
            return
        pace.span_end = last
        pace.samples += n
        span = last - pace.span_start
        if span >= RATE_SPAN_S:
            self._judge(batch.device, pace, pace.samples / span)
            pace.span_start, pace.samples = last, 0

    def _steady(self, times: FloatArray | None, last: float, previous: float, n: int) -> bool:
        """Whether every step from ``previous`` through ``times`` is forwards and at most
        ``max_gap_s``; samples without times are spread evenly up to ``last``. Called for
        every batch."""
        if times is None:
            step = (last - previous) / n
            return 0 < step <= self.max_gap_s
        return steps_forward_within(times, previous, self.max_gap_s, self.max_gap_s)

    def check(self, now: float) -> None:
        """Report the devices that have sent nothing for ``stall_s`` at monotonic ``now``."""
        for device, pace in self._paces.items():
            silence = now - pace.last_arrival
            if not pace.stalled and silence >= self.stall_s:
                pace.stalled = True
                self.counters.stall += 1
                self._log.log(
                    f"stall {device}",
                    logging.WARNING,
                    "device %s: no samples for %.1f s (stalled); its predictions resume "
                    "when samples come back",
                    device,
                    silence,
                )

    def _judge(self, device: str, pace: _Pace, rate: float) -> None:
        slow = rate < SLOW_FRACTION * self.rate_hz
        if slow and not pace.slow:
            self.counters.slow_rate += 1
            self._log.log(
                f"slow {device}",
                logging.WARNING,
                "device %s: samples at %.1f Hz, the bundle expects %g Hz; they are "
                "interpolated, but windows carry less of the motion than the model knows",
                device,
                rate,
                self.rate_hz,
            )
        elif pace.slow and not slow:
            self._log.log(
                f"rate {device}", logging.INFO, "device %s: back to %.1f Hz", device, rate
            )
        pace.slow = slow
