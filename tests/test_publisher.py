"""MQTT publisher against a real Mosquitto: retained status, last will, outages, buffering."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import jsonschema
import numpy as np
import pytest

from harbridge.drivers.backoff import BackoffPolicy
from harbridge.runtime.mqtt_url import BrokerOptions
from harbridge.runtime.payloads import load_schema, prediction_payload
from harbridge.runtime.publisher import Publisher
from tests.mosquitto import Mosquitto, mosquitto_broker, require_mosquitto

# Exporting the imported fixture is what makes pytest (and ruff) see it as used here.
__all__ = ["mosquitto_broker"]

FAST = BackoffPolicy(initial_s=0.02, maximum_s=0.2, healthy_s=60.0)
GUARD_S = 20.0
CLASSES = ("walk", "run")


def prediction(device: str, seq: int) -> dict[str, Any]:
    return prediction_payload(
        device=device,
        seq=seq,
        t_start=float(seq),
        t_end=seq + 1.28,
        label="walk",
        confidence=0.75,
        class_names=CLASSES,
        probs=np.array([0.75, 0.25]),
        unknown=False,
        latency_ms=3.5,
        model="bundle@0123456789ab",
    )


def valid(kind: str, payload: bytes) -> dict[str, Any]:
    """The payload as JSON, checked against its published JSON Schema."""
    message: dict[str, Any] = json.loads(payload)
    jsonschema.validate(message, load_schema(kind))
    return message


class Listener:
    """A subscriber client; ``next()`` returns the next (topic, payload) it receives."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self._messages = client.messages

    async def next(self) -> tuple[str, bytes]:
        message = await anext(self._messages)
        assert isinstance(message.payload, bytes)
        return message.topic.value, message.payload


@asynccontextmanager
async def listening(
    broker: Mosquitto, topic: str, identifier: str | None = None, clean: bool = True
) -> AsyncIterator[Listener]:
    client = aiomqtt.Client(broker.host, broker.port, identifier=identifier, clean_session=clean)
    async with client:
        await client.subscribe(topic, qos=1)
        yield Listener(client)


async def retained(broker: Mosquitto, topic: str) -> dict[str, Any]:
    """What a fresh subscriber is told first on ``topic``: its retained status."""
    async with listening(broker, topic) as listener:
        _, payload = await listener.next()
    return valid("status", payload)


async def wait_until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)


def start(publisher: Publisher) -> asyncio.Task[None]:
    return asyncio.create_task(publisher.run(), name="publisher")


@pytest.mark.mosquitto
def test_status_is_retained_and_predictions_arrive_and_stop_says_offline(
    mosquitto_broker: Mosquitto,
) -> None:
    broker = BrokerOptions(mosquitto_broker.host, mosquitto_broker.port)
    publisher = Publisher(broker, "pi-kitchen", model="bundle@0123456789ab", backoff=FAST)

    async def main() -> None:
        async with asyncio.timeout(GUARD_S):
            task = start(publisher)
            await wait_until(lambda: publisher.counters.published >= 1)
            status = await retained(mosquitto_broker, "harbridge/pi-kitchen/status")
            assert status["state"] == "online"
            assert (status["device"], status["role"]) == ("pi-kitchen", "daemon")
            assert status["model"] == "bundle@0123456789ab"
            assert status["t"] > 1.6e9
            async with listening(mosquitto_broker, "harbridge/+/prediction") as listener:
                publisher.publish_prediction(prediction("wrist-1", 0))
                publisher.publish_prediction(prediction("wrist-2", 1))
                received = [await listener.next(), await listener.next()]
            topics = [topic for topic, _ in received]
            assert topics == ["harbridge/wrist-1/prediction", "harbridge/wrist-2/prediction"]
            assert [valid("prediction", p)["seq"] for _, p in received] == [0, 1]
            publisher.stop()
            await task  # a clean stop returns
            status = await retained(mosquitto_broker, "harbridge/pi-kitchen/status")
            assert status["state"] == "offline"
            assert "t" not in status

    asyncio.run(main())
    assert publisher.counters.published == 4  # online, two predictions, offline
    assert publisher.counters.dropped == 0


@pytest.mark.mosquitto
def test_cancelling_the_publisher_also_says_offline(mosquitto_broker: Mosquitto) -> None:
    broker = BrokerOptions(mosquitto_broker.host, mosquitto_broker.port)
    publisher = Publisher(broker, "pi", backoff=FAST)

    async def main() -> None:
        async with asyncio.timeout(GUARD_S):
            task = start(publisher)
            await wait_until(lambda: publisher.counters.published >= 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert (await retained(mosquitto_broker, "harbridge/pi/status"))["state"] == "offline"

    asyncio.run(main())


KILLED_DAEMON = """
import asyncio, sys
from harbridge.runtime.mqtt_url import BrokerOptions
from harbridge.runtime.publisher import Publisher
asyncio.run(Publisher(BrokerOptions("127.0.0.1", int(sys.argv[1])), "doomed").run())
"""


@pytest.mark.mosquitto
def test_a_daemon_killed_abruptly_is_declared_offline_by_its_will(
    mosquitto_broker: Mosquitto,
) -> None:
    async def main() -> list[dict[str, Any]]:
        async with (
            asyncio.timeout(GUARD_S),
            listening(mosquitto_broker, "harbridge/doomed/status") as listener,
        ):
            daemon = subprocess.Popen(
                [sys.executable, "-c", KILLED_DAEMON, str(mosquitto_broker.port)]
            )
            try:
                online = valid("status", (await listener.next())[1])
            finally:
                daemon.send_signal(signal.SIGKILL)  # no DISCONNECT, no goodbye
                await asyncio.to_thread(daemon.wait)
            will = valid("status", (await listener.next())[1])
            return [online, will]

    online, will = asyncio.run(main())
    assert online["state"] == "online"
    assert will["state"] == "offline"
    assert will["device"] == "doomed"


@pytest.mark.mosquitto
def test_after_a_broker_outage_status_and_buffered_predictions_come_back(
    tmp_path: Path,
) -> None:
    # A persistent broker and a persistent subscriber session: what the publisher sends
    # after the restart waits for the subscriber, whenever each of them reconnects.
    broker = Mosquitto(require_mosquitto(), tmp_path / "mosquitto", persistence=True)
    broker.start()
    publisher = Publisher(BrokerOptions(broker.host, broker.port), "pi", backoff=FAST)
    topic = "harbridge/+/prediction"

    async def main() -> tuple[list[int], float, dict[str, Any]]:
        async with asyncio.timeout(GUARD_S):
            async with listening(broker, topic, identifier="watcher", clean=False):
                pass  # leaves a session subscribed to the predictions
            task = start(publisher)
            await wait_until(lambda: publisher.counters.published >= 1)
            first = await retained(broker, "harbridge/pi/status")
            await asyncio.to_thread(broker.stop, signal.SIGTERM)
            await wait_until(lambda: not publisher.counters.connected)
            for seq in range(3):
                publisher.publish_prediction(prediction("wrist", seq))
            assert publisher.buffered == 3
            await asyncio.to_thread(broker.start)
            await wait_until(lambda: publisher.counters.reconnects == 1)
            await wait_until(lambda: publisher.buffered == 0)
            async with listening(broker, topic, identifier="watcher", clean=False) as listener:
                seqs = [valid("prediction", (await listener.next())[1])["seq"] for _ in range(3)]
            again = await retained(broker, "harbridge/pi/status")
            publisher.stop()
            await task
            return seqs, first["t"], again

    try:
        seqs, first_t, again = asyncio.run(main())
    finally:
        broker.stop()
    assert seqs == [0, 1, 2]
    assert again["state"] == "online"
    assert again["t"] > first_t  # published anew, not the copy the broker restored
    assert publisher.counters.dropped == 0


@pytest.mark.mosquitto
def test_a_full_buffer_drops_the_oldest_and_keeps_the_latest_retained(
    mosquitto_broker: Mosquitto,
) -> None:
    broker = BrokerOptions(mosquitto_broker.host, mosquitto_broker.port)
    publisher = Publisher(broker, "pi", buffer_size=3, max_inflight=2, backoff=FAST)
    for seq in range(5):
        publisher.publish_prediction(prediction("wrist", seq))
    publisher.publish("harbridge/wrist/status", b'{"n": 1}', retain=True)
    publisher.publish("harbridge/wrist/status", b'{"n": 2}', retain=True)
    assert publisher.counters.dropped == 2
    assert publisher.buffered == 4

    async def main() -> tuple[list[int], bytes]:
        async with asyncio.timeout(GUARD_S):
            async with listening(mosquitto_broker, "harbridge/+/prediction") as listener:
                task = start(publisher)
                seqs = [valid("prediction", (await listener.next())[1])["seq"] for _ in range(3)]
            async with listening(mosquitto_broker, "harbridge/wrist/status") as listener:
                _, status = await listener.next()
            publisher.stop()
            await task
            return seqs, status

    seqs, status = asyncio.run(main())
    assert seqs == [2, 3, 4]
    assert status == b'{"n": 2}'
    assert publisher.counters.published == 6  # online, the retained status, 3 predictions, offline


@pytest.mark.parametrize(("buffer_size", "max_inflight", "qos"), [(0, 1, 1), (1, 0, 1), (1, 1, 3)])
def test_bad_settings_are_refused(buffer_size: int, max_inflight: int, qos: int) -> None:
    with pytest.raises(ValueError, match="need buffer_size"):
        Publisher(
            BrokerOptions("localhost", 1883),
            "pi",
            buffer_size=buffer_size,
            max_inflight=max_inflight,
            qos=qos,
        )
