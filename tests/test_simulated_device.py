"""The simulated WitMotion device, read back through a real pseudo-terminal."""

from __future__ import annotations

import asyncio
import os
import tty

import numpy as np
from numpy.testing import assert_allclose

from harbridge.drivers.simulated_device import SimulatedWitMotion
from harbridge.drivers.witmotion import ACC_LSB_MPS2, GYRO_LSB_RADS, WitMotionParser


def test_replayed_samples_arrive_through_the_pty_in_order() -> None:
    rng = np.random.default_rng(0)
    n = 120
    t = np.arange(n) * 0.002
    acc = rng.normal(scale=5.0, size=(n, 3))
    gyro = rng.normal(scale=2.0, size=(n, 3))
    master, slave = os.openpty()
    tty.setraw(slave)  # as pyserial configures a port: bytes, not lines
    parser = WitMotionParser("dev")
    device = SimulatedWitMotion(master, t, acc, gyro, tick_s=0.005)

    async def scenario() -> None:
        async with asyncio.timeout(10):
            await device.run()

    try:
        asyncio.run(scenario())
        os.set_blocking(slave, False)
        data = b""
        while True:
            try:
                chunk = os.read(slave, 65536)
            except BlockingIOError:
                break
            data += chunk
    finally:
        os.close(master)
        os.close(slave)
    batches = parser.feed(data)
    got = {name: np.concatenate([b.channels[name] for b in batches]) for name in ("ax", "gz")}
    assert device.progress.samples == n
    assert got["ax"].size == n
    assert_allclose(got["ax"], acc[:, 0], atol=ACC_LSB_MPS2)
    assert_allclose(got["gz"], gyro[:, 2], atol=GYRO_LSB_RADS)
    assert parser.stats.total == 0
