"""Latency percentiles over the most recent predictions, in bounded memory."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["LatencyRing", "LatencySummary"]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Percentiles of the latencies held, in milliseconds; ``None`` when there are none.

    ``count`` is the number of latencies recorded since the last ``clear``, which may
    exceed what the ring holds.
    """

    p50: float | None
    p99: float | None
    count: int


class LatencyRing:
    """The last ``size`` latencies, in milliseconds, and their p50 and p99.

    Parameters
    ----------
    size : int
        Latencies kept; older ones are overwritten. 1024 gives a p99 resolved by ten
        samples while costing 8 KiB per ring.
    """

    def __init__(self, size: int = 1024) -> None:
        if size < 1:
            raise ValueError(f"size must be ≥ 1, got {size}")
        self._values: npt.NDArray[np.float64] = np.zeros(size, dtype=np.float64)
        self._count = 0

    def add(self, latency_ms: float) -> None:
        """Record one latency in milliseconds."""
        self._values[self._count % self._values.shape[0]] = latency_ms
        self._count += 1

    def clear(self) -> None:
        """Forget every latency (e.g. at the start of a metrics interval)."""
        self._count = 0

    def summary(self) -> LatencySummary:
        """p50 and p99 (linear interpolation between order statistics) of the held latencies."""
        held = self._values[: min(self._count, self._values.shape[0])]
        if not held.size:
            return LatencySummary(None, None, 0)
        p50, p99 = np.percentile(held, [50.0, 99.0])
        return LatencySummary(float(p50), float(p99), self._count)
