"""The one place where blocking calls leave the event loop.

Two shapes of blocking work occur in harbridge:

- one-off calls (open a serial port, run one onnxruntime batch, read a replay file):
  :func:`run_blocking` runs them in the loop's default thread pool;
- endless reads (a serial port): a :class:`ReaderThread` owns one dedicated thread per
  stream, so a port that blocks for long never starves the pool, and hands the bytes to
  the loop in arrival order.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType
from typing import ParamSpec, TypeVar

__all__ = ["ReaderThread", "run_blocking"]

P = ParamSpec("P")
T = TypeVar("T")


async def run_blocking(func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``func(*args, **kwargs)`` in a worker thread and await its result."""
    return await asyncio.to_thread(func, *args, **kwargs)


class ReaderThread:
    """Blocking reads in a dedicated thread, delivered to the event loop as bytes.

    The thread calls ``read()`` until stopped; ``read`` returns the bytes it got
    (``b""`` after a quiet timeout) and raises when the stream is lost. The first
    exception ends the thread and is re-raised by :meth:`read` once the bytes before it
    are consumed. ``close`` runs in the thread when it ends, never concurrently with a
    read.

    Create it on the event loop and use it as an async context manager; leaving the
    context stops the thread (calling ``cancel`` to interrupt a read in progress) and
    waits for it.

    Parameters
    ----------
    read : callable returning bytes
        One blocking read with a timeout (a serial port's read).
    close : callable
        Releases the stream, called once in the thread after the last read.
    name : str
        Thread name, shown by debuggers and ``py-spy``.
    cancel : callable, optional
        Thread-safe interruption of a blocking ``read`` (pyserial's ``cancel_read``);
        without it, stopping waits for the read's timeout.
    max_pending_bytes : int
        Bytes held for the loop at most; beyond that, new bytes are dropped and counted
        in :attr:`overflow_bytes` (the framing parsers resynchronise after a gap).
    """

    def __init__(
        self,
        read: Callable[[], bytes],
        close: Callable[[], None],
        name: str,
        cancel: Callable[[], None] | None = None,
        max_pending_bytes: int = 1 << 20,
    ) -> None:
        self._read = read
        self._close = close
        self._cancel = cancel
        self.name = name
        self.max_pending_bytes = max_pending_bytes
        self.overflow_bytes = 0
        self._pending = bytearray()
        self._error: BaseException | None = None
        self._ready = asyncio.Event()
        self._stop = threading.Event()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    async def __aenter__(self) -> ReaderThread:
        self._thread.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._cancel is not None:
            self._cancel()
        await run_blocking(self._thread.join)

    async def read(self) -> bytes:
        """All bytes read since the last call, waiting until there are some.

        Raises
        ------
        Exception
            Whatever the blocking ``read`` raised, after the bytes read before it.
        """
        while not self._pending:
            if self._error is not None:
                raise self._error
            self._ready.clear()
            await self._ready.wait()
        data = bytes(self._pending)
        self._pending.clear()
        return data

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._read()
                if data:
                    self._to_loop(self._deliver, data)
        except Exception as exc:
            self._to_loop(self._fail, exc)
        finally:
            self._close()

    def _to_loop(self, callback: Callable[[T], None], arg: T) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, arg)
        except RuntimeError:
            # The loop is closed: nobody is left to read, so the thread just ends.
            self._stop.set()

    def _deliver(self, data: bytes) -> None:
        room = self.max_pending_bytes - len(self._pending)
        if len(data) > room:
            self.overflow_bytes += len(data) - max(room, 0)
            data = data[: max(room, 0)]
        self._pending += data
        self._ready.set()

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        self._ready.set()
