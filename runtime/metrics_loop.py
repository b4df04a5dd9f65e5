"""The periodic metrics message, and the warning that sums up bad input between two.

Every ``[metrics] interval_s`` the daemon publishes a ``harbridge.metrics/1`` payload on
``<prefix>/<daemon-device>/metrics``: totals since start (:mod:`harbridge.runtime.daemon_stats`)
and the latency percentiles of the predictions since the previous message. Input dropped
and clock trouble in the interval are also logged as one warning, so a device that sends
garbage costs one log line per interval, not one per line of garbage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from harbridge.drivers.parse_stats import INFORMATIONAL_KINDS
from harbridge.runtime.daemon_stats import DaemonStats
from harbridge.runtime.latency import LatencyRing
from harbridge.runtime.payloads import metrics_payload

__all__ = ["metrics_loop", "metrics_message"]


def metrics_message(
    device: str, stats: DaemonStats, latency: LatencyRing, interval_s: float
) -> dict[str, Any]:
    """The ``harbridge.metrics/1`` payload of ``stats`` and the latencies held."""
    return metrics_payload(
        device,
        samples=stats.samples,
        windows=stats.windows,
        predictions=stats.predictions,
        drops=stats.drops,
        parse_errors=stats.parse_errors,
        reconnects=stats.reconnects,
        latency=latency.summary(),
        uptime_s=stats.uptime_s,
        interval_s=interval_s,
        devices=stats.devices,
        queues=stats.queues,
        clock=stats.clock,
        t=time.time(),
    )


async def metrics_loop(
    device: str,
    interval_s: float,
    *,
    snapshot: Callable[[], DaemonStats],
    latency: LatencyRing,
    publish: Callable[[dict[str, Any]], None],
    logger: logging.Logger,
) -> None:
    """Publish a metrics message every ``interval_s`` seconds until cancelled.

    Parameters
    ----------
    device : str
        The daemon's device id.
    interval_s : float
        Seconds between messages; ticks do not drift with the time spent publishing.
    snapshot : callable returning DaemonStats
        Reads the current totals.
    latency : LatencyRing
        Latencies of the predictions; cleared after each message.
    publish : callable
        Queues the payload for publishing.
    logger : logging.Logger
        Where the summary of dropped input goes.
    """
    loop = asyncio.get_running_loop()
    tick = loop.time()
    previous = snapshot()
    while True:
        tick = max(tick + interval_s, loop.time())
        await asyncio.sleep(tick - loop.time())
        stats = snapshot()
        publish(metrics_message(device, stats, latency, interval_s))
        latency.clear()
        _log_new_problems(previous, stats, interval_s, logger)
        previous = stats


def _increase(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    return {
        kind: n - before.get(kind, 0)
        for kind, n in after.items()
        if n > before.get(kind, 0) and kind not in INFORMATIONAL_KINDS
    }


def _log_new_problems(
    before: DaemonStats, after: DaemonStats, interval_s: float, logger: logging.Logger
) -> None:
    parse = _increase(before.parse_errors, after.parse_errors)
    drops = _increase(before.drops, after.drops)
    clock = _increase(before.clock, after.clock)
    if parse or drops or clock:
        logger.warning(
            "in the last %g s: parse errors %s; dropped %s; clock trouble %s",
            interval_s,
            parse or "none",
            drops or "nothing",
            clock or "none",
        )
