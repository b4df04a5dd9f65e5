"""A simulated WitMotion IMU behind a real pseudo-terminal, for the demo and tests.

The device replays a recording in real time: every ``tick_s`` it encodes the samples
that have come due as WitMotion packets and writes them to the pty's master side, the
way a USB-serial adapter would deliver them. The daemon reads the slave side like any
serial port. WitMotion carries no timestamps, so the daemon stamps samples on arrival:
pacing in real time is what keeps the stream's clock right.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from harbridge.drivers.witmotion import encode_witmotion

__all__ = ["DeviceProgress", "SimulatedWitMotion"]

FloatArray = npt.NDArray[np.float64]


@dataclass
class DeviceProgress:
    """How far the replay has got: samples written, and the recording time of the last."""

    samples: int = 0
    t_last: float = float("nan")


class SimulatedWitMotion:
    """Replays ``acc`` / ``gyro`` as WitMotion packets into a pty master, paced by ``t``.

    Parameters
    ----------
    master_fd : int
        Master side of an ``os.openpty()`` pair (the daemon opens the slave's path).
    t : ndarray of shape (n,)
        Sample times in seconds, increasing.
    acc : ndarray of shape (n, 3)
        Specific force in m/s².
    gyro : ndarray of shape (n, 3)
        Angular rate in rad/s.
    tick_s : float
        How often due samples are written.
    """

    def __init__(
        self,
        master_fd: int,
        t: npt.ArrayLike,
        acc: npt.ArrayLike,
        gyro: npt.ArrayLike,
        tick_s: float = 0.02,
    ) -> None:
        self.master_fd = master_fd
        times = np.asarray(t, dtype=np.float64)
        self.t = times - times[0]
        self.acc = np.asarray(acc, dtype=np.float64)
        self.gyro = np.asarray(gyro, dtype=np.float64)
        self.tick_s = tick_s
        self.progress = DeviceProgress()
        self.started_at = float("nan")

    async def run(self) -> None:
        """Write every sample at its time after the start; returns when the recording ends."""
        os.set_blocking(self.master_fd, False)
        self.started_at = time.monotonic()
        sent = 0
        while sent < self.t.size:
            due = int(np.searchsorted(self.t, time.monotonic() - self.started_at, side="right"))
            if due > sent:
                await self._write(encode_witmotion(self.acc[sent:due], self.gyro[sent:due]))
                sent = due
                self.progress.samples = sent
                self.progress.t_last = float(self.t[sent - 1])
            await asyncio.sleep(self.tick_s)

    async def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.master_fd, view) :]
            except BlockingIOError:
                # The reader is behind; the pty buffer drains as it reads.
                await asyncio.sleep(self.tick_s)
