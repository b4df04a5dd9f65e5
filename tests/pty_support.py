"""Serial stand-ins for tests: a pseudo-terminal pair, and a USB adapter: a pty behind a link."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

__all__ = ["Adapter", "Pty"]


class Pty:
    """A pseudo-terminal pair: the code under test opens ``port``, the test writes to the master."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        self.port = os.ttyname(slave)
        os.close(slave)

    async def write(self, data: bytes) -> None:
        """Write everything, from a thread: a full pty buffer blocks until the reader reads."""

        def write_all() -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(self.master, view) :]

        await asyncio.to_thread(write_all)

    def close(self) -> None:
        os.close(self.master)


class Adapter:
    """A USB-serial adapter stand-in: a :class:`Pty` behind a stable link, as by-id links are.

    Readers open ``link`` (as they open ``/dev/serial/by-id/…``); :meth:`plug` points it at
    a new pty, :meth:`unplug` closes the pty it points at.
    """

    def __init__(self, link: Path) -> None:
        self.link = link
        self.pty: Pty | None = None

    def plug(self) -> None:
        """Point ``link`` at a new pty; a pty plugged before stays open (the caller closes it)."""
        pty = Pty()
        staging = self.link.with_name(self.link.name + ".new")
        os.symlink(pty.port, staging)
        # Replaced in one step, as udev does, so a reader never finds the link missing.
        os.replace(staging, self.link)
        self.pty = pty

    def unplug(self) -> None:
        assert self.pty is not None
        self.pty.close()
        self.pty = None

    async def write(self, data: bytes) -> None:
        """Write everything to the plugged pty."""
        assert self.pty is not None
        await self.pty.write(data)
