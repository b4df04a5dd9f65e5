"""SIGTERM and SIGINT ask the daemon to stop cleanly (systemd's stop, Ctrl-C)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

__all__ = ["STOP_SIGNALS", "watch_signals"]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def watch_signals(
    stop: asyncio.Event,
    logger: logging.Logger,
    signals: Sequence[signal.Signals] = STOP_SIGNALS,
) -> None:
    """Set ``stop`` when one of ``signals`` arrives; runs until cancelled.

    The handlers replace Python's default ones (KeyboardInterrupt for SIGINT, death for
    SIGTERM) while this runs, so a stop always goes through the daemon's clean shutdown:
    ports closed, ``offline`` published. Must run in the main thread.
    """
    loop = asyncio.get_running_loop()

    def handle(sig: signal.Signals) -> None:
        if stop.is_set():
            logger.warning("received %s again; still stopping", sig.name)
        else:
            logger.info("received %s; stopping", sig.name)
            stop.set()

    for sig in signals:
        loop.add_signal_handler(sig, handle, sig)
    try:
        await loop.create_future()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
