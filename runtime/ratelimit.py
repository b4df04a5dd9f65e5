"""Log repeated errors at a bounded rate, so a hostile or broken device cannot flood the log.

The first message of a key is logged at once; later ones within ``interval_s`` are
counted, and the next one after the interval is logged with the number suppressed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["RateLimitedLog"]


class RateLimitedLog:
    """A logger wrapper that logs each key at most once per ``interval_s``.

    Parameters
    ----------
    logger : logging.Logger
        Where messages go.
    interval_s : float
        Least time between two messages of the same key, seconds.
    clock : callable returning float, optional
        Monotonic clock in seconds.
    max_keys : int
        Keys remembered; beyond that the oldest is forgotten, so hostile input that
        makes up new keys cannot grow memory.
    """

    def __init__(
        self,
        logger: logging.Logger,
        interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 256,
    ) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self.clock = clock
        self.max_keys = max_keys
        # key -> (time of the last message logged, messages suppressed since)
        self._last: dict[str, tuple[float, int]] = {}

    def log(self, key: str, level: int, msg: str, *args: object) -> bool:
        """Log ``msg % args`` at ``level`` unless ``key`` was logged within the interval.

        Returns
        -------
        bool
            Whether the message was logged.
        """
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last[0] < self.interval_s:
            self._last[key] = (last[0], last[1] + 1)
            return False
        suppressed = 0 if last is None else last[1]
        if suppressed:
            self.logger.log(level, msg + " (%d similar messages suppressed)", *args, suppressed)
        else:
            self.logger.log(level, msg, *args)
        self._last.pop(key, None)
        self._last[key] = (now, 0)
        if len(self._last) > self.max_keys:
            del self._last[next(iter(self._last))]
        return True
