"""The daemon's totals since it started, gathered from every part of the pipeline.

``drops`` mixes units, each named by its reason: samples the windower dropped
(``out_of_order``, ``duplicate``, ``non_finite``, ``missing_channel``, ``malformed``) or
refused past ``max_devices`` (``device_limit``); windows dropped from a full queue
(``window_queue``), refused by an overloaded engine (``inference_overload``), failed in
onnxruntime (``inference_error``) or whose probabilities were not finite
(``non_finite_output``); messages dropped from the publisher's full outage buffer
(``publish_buffer``), with a topic naming no device (``bad_topic``) or received while
aiomqtt's queue was full (``mqtt_queue``); bytes a serial
reader could not hold (``overflow``). ``parse_errors`` counts the framing's kinds
(:data:`harbridge.drivers.parse_stats.KINDS`), summed over sources; ``header`` (a CSV
header line) and ``resync_bytes`` (bytes) are informational. ``clock`` counts clock
trouble by kind: buffer restarts at a pause (``gap``) or a jump back in time
(``clock_reset``) from the windowing, and stalled or slow devices
(:mod:`harbridge.runtime.clock_watch`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harbridge.drivers.source import Source
from harbridge.runtime.clock_watch import ClockCounters
from harbridge.runtime.inference import InferenceEngine
from harbridge.runtime.publisher import Publisher
from harbridge.runtime.window_queue import WindowQueue
from harbridge.runtime.windowing import WindowerPool

__all__ = ["DaemonStats", "PipelineCounters", "collect_stats"]


@dataclass(slots=True)
class PipelineCounters:
    """What the prediction task counts itself."""

    predictions: int = 0
    inference_errors: int = 0
    non_finite_outputs: int = 0


@dataclass(frozen=True, slots=True)
class DaemonStats:
    """Totals since the daemon started (see the module docstring for ``drops``).

    Attributes
    ----------
    samples : int
        Samples the sources delivered.
    windows : int
        Windows cut from them.
    predictions : int
        Predictions handed to the publisher.
    drops, parse_errors : mapping of str to int
        Dropped input by reason, and framing errors by kind.
    reconnects : int
        Reconnections of serial ports and MQTT clients.
    devices : int
        Devices that sent samples in the last metrics interval.
    queues : mapping of str to int
        Current depth of the window, inference and publish queues.
    clock : mapping of str to int
        Clock trouble by kind: ``gap``, ``clock_reset``, ``stall``, ``slow_rate``.
    uptime_s : float
        Seconds since the daemon started.
    """

    samples: int
    windows: int
    predictions: int
    drops: Mapping[str, int]
    parse_errors: Mapping[str, int]
    reconnects: int
    devices: int
    queues: Mapping[str, int]
    clock: Mapping[str, int]
    uptime_s: float


def collect_stats(
    *,
    sources: Sequence[Source],
    pool: WindowerPool,
    window_queue: WindowQueue,
    engine: InferenceEngine,
    publisher: Publisher,
    counters: PipelineCounters,
    clock: ClockCounters,
    devices: int,
    uptime_s: float,
) -> DaemonStats:
    """Read every counter of the pipeline into one :class:`DaemonStats`."""
    windowed = pool.totals()
    drops: Counter[str] = Counter(windowed.drops())
    drops.update(
        device_limit=pool.rejected_samples,
        window_queue=window_queue.dropped,
        inference_overload=engine.counters.dropped,
        inference_error=counters.inference_errors,
        non_finite_output=counters.non_finite_outputs,
        publish_buffer=publisher.counters.dropped,
    )
    parse_errors: Counter[str] = Counter()
    for source in sources:
        drops.update(source.counters.dropped)
        parse_errors.update(source.counters.parse.counts)
    return DaemonStats(
        samples=sum(source.counters.samples for source in sources),
        windows=windowed.windows,
        predictions=counters.predictions,
        drops=dict(drops),
        parse_errors=dict(parse_errors),
        reconnects=publisher.counters.reconnects
        + sum(source.counters.reconnects for source in sources),
        devices=devices,
        queues={
            "windows": len(window_queue),
            "inference": engine.queued,
            "publish": publisher.buffered,
        },
        clock={
            "gap": windowed.gap,
            "clock_reset": windowed.clock_reset,
            "stall": clock.stall,
            "slow_rate": clock.slow_rate,
        },
        uptime_s=uptime_s,
    )
