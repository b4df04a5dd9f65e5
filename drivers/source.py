"""The one interface every sample source implements: run, hand batches to a sink, count.

A source (serial port, MQTT topic, replayed file) is driven by the daemon as one named
task::

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(source.run(on_batch), name=f"source {source.name}")

Contract of :meth:`Source.run`:

- It calls ``sink(batch)`` on the event loop for every non-empty :class:`SampleBatch`, in
  arrival order. The sink must be quick and must not raise: an exception from it is a
  bug and ends the source.
- It never raises because of bad device data or a lost connection: bad input is counted
  in ``counters.parse`` (framing) or ``counters.dropped`` (transport), and a lost link is
  reopened with backoff and counted in ``counters.reconnects``.
- Live sources run until cancelled; a replay without ``loop`` returns when the file is
  done. A configuration problem found when starting (a replay file that cannot be read)
  raises :class:`~harbridge.errors.InputError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from harbridge.drivers.parse_stats import ParseStats
from harbridge.drivers.samples import SampleBatch

__all__ = ["SampleSink", "Source", "SourceCounters"]

#: Receives every batch a source produces, on the event loop.
SampleSink = Callable[[SampleBatch], None]


@dataclass(slots=True)
class SourceCounters:
    """What a source has done since it started.

    Attributes
    ----------
    batches, samples : int
        Batches handed to the sink, and the samples in them.
    connected : bool
        Whether the source is connected (and, for MQTT, subscribed) right now.
    reconnects : int
        Connections made after a lost one (the first connection is not counted).
    parse : ParseStats
        Framing errors by kind (:data:`~harbridge.drivers.parse_stats.KINDS`).
    dropped : dict of str to int
        Input dropped by the transport, by reason (``bad_topic``, ``mqtt_queue``,
        ``overflow``).
    """

    batches: int = 0
    samples: int = 0
    connected: bool = False
    reconnects: int = 0
    parse: ParseStats = field(default_factory=ParseStats)
    dropped: dict[str, int] = field(default_factory=dict)

    def delivered(self, batch: SampleBatch) -> None:
        """Count one batch handed to the sink."""
        self.batches += 1
        self.samples += len(batch)

    def drop(self, reason: str, n: int = 1) -> None:
        """Count ``n`` inputs dropped by the transport for ``reason``."""
        self.dropped[reason] = self.dropped.get(reason, 0) + n


class Source(Protocol):
    """A producer of sample batches; see the module docstring for the contract."""

    @property
    def name(self) -> str:
        """Short label for logs and task names, e.g. ``serial /dev/ttyUSB0``."""
        ...

    @property
    def counters(self) -> SourceCounters:
        """Live counters, read by the metrics publisher."""
        ...

    async def run(self, sink: SampleSink) -> None:
        """Produce batches into ``sink`` until cancelled (or, for a replay, done)."""
        ...
