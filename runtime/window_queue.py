"""The bounded queue of windows between the samples' sink and inference.

The sink runs inside a source's callback and must never wait, so :meth:`WindowQueue.put`
never blocks: when inference falls behind and the queue is full, the oldest window is
dropped and counted (a late prediction of an old window is worth less than a current
one). The prediction task takes windows in batches with :meth:`WindowQueue.take`.
"""

from __future__ import annotations

import asyncio
from collections import deque

from harbridge.runtime.windowing import Window

__all__ = ["WindowQueue"]


class WindowQueue:
    """Windows waiting for inference, oldest first, at most ``capacity``.

    Parameters
    ----------
    capacity : int
        Windows held at most (``[queues] windows`` of the config).

    Attributes
    ----------
    dropped : int
        Windows dropped because the queue was full.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be ≥ 1, got {capacity}")
        self.capacity = capacity
        self.dropped = 0
        self._windows: deque[Window] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._windows)

    def put(self, window: Window) -> None:
        """Add a window; drop the oldest one if the queue is full. Never blocks."""
        self._windows.append(window)
        if len(self._windows) > self.capacity:
            self._windows.popleft()
            self.dropped += 1
        self._ready.set()

    async def take(self, most: int) -> list[Window]:
        """The oldest ``most`` windows or fewer, waiting until there is at least one."""
        while not self._windows:
            self._ready.clear()
            await self._ready.wait()
        return [self._windows.popleft() for _ in range(min(most, len(self._windows)))]
