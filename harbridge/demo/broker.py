"""An MQTT broker for the demo: the user's own when one answers, else an in-process amqtt.

amqtt (MQTT 3.1.1, asyncio) runs inside the demo's event loop on a free loopback port,
so a fresh machine needs no Mosquitto for ``harbridge demo``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

__all__ = ["DemoBroker", "demo_broker"]

#: how long to wait for an existing broker to accept a TCP connection
PROBE_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class DemoBroker:
    """Where the demo's broker listens and whose it is."""

    url: str
    in_process: bool


async def _answers(host: str, port: int) -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def demo_broker(url: str | None) -> AsyncIterator[DemoBroker]:
    """Use ``url`` if given; else a broker on localhost:1883 if one answers; else amqtt."""
    if url is not None:
        yield DemoBroker(url, in_process=False)
        return
    if await _answers("127.0.0.1", 1883):
        yield DemoBroker("mqtt://127.0.0.1:1883", in_process=False)
        return
    from amqtt.broker import Broker

    # amqtt logs every connection at INFO; the demo's screen is for predictions.
    logging.getLogger("amqtt").setLevel(logging.WARNING)
    port = _free_port()
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await broker.start()
    try:
        yield DemoBroker(f"mqtt://127.0.0.1:{port}", in_process=True)
    finally:
        await broker.shutdown()
