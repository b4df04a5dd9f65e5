"""The daemon's MQTT output: predictions, metrics, and its retained online/offline status.

On every connection the publisher first publishes the retained status ``online`` on
``<prefix>/<device>/status``; the matching ``offline`` is registered as the MQTT last
will, which the broker publishes if the daemon dies or its link breaks, and is also
published (retained, before disconnecting) on a clean stop or cancellation. A lost
broker is reconnected with backoff, and ``online`` is published again.

While the broker is unreachable, messages wait in a bounded buffer and are sent, in
order, once it is back: a consumer that cares about history gets the predictions of the
outage late rather than never, and a long outage costs bounded memory. When the buffer
is full the oldest message is dropped and counted (the newest predictions are the ones
worth having). Retained messages (statuses) are kept apart, only the latest per topic,
and go out before the buffer. Delivery is at least once: a message whose acknowledgement
was lost with the connection is sent again.

Whoever keeps retained state of its own (device statuses, Home Assistant discovery)
registers with :meth:`Publisher.on_connect` and republishes it on every connection: a
broker that restarts without persistence has forgotten it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiomqtt

from harbridge.drivers.backoff import Backoff, BackoffPolicy
from harbridge.runtime.mqtt_url import BrokerOptions, connect_hint
from harbridge.runtime.payloads import encode, prediction_topic, status_payload, status_topic
from harbridge.runtime.ratelimit import RateLimitedLog

__all__ = ["Message", "Publisher", "PublisherCounters"]


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message to publish."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(slots=True)
class PublisherCounters:
    """What the publisher has done since it started.

    Attributes
    ----------
    published : int
        Messages the broker acknowledged (QoS ≥ 1) or took (QoS 0).
    dropped : int
        Messages dropped from a full buffer, oldest first.
    reconnects : int
        Connections made after a lost one.
    connected : bool
        Whether the broker is connected right now.
    """

    published: int = 0
    dropped: int = 0
    reconnects: int = 0
    connected: bool = False


class Publisher:
    """An aiomqtt client that publishes the daemon's messages and keeps its status.

    Parameters
    ----------
    broker : BrokerOptions
        Where to connect (:func:`harbridge.runtime.mqtt_url.broker_options`).
    device : str
        The daemon's device id; its status topic is ``<prefix>/<device>/status``.
    topic_prefix : str
        First level(s) of every topic.
    qos : int
        QoS of messages published without one, and of the status.
    model : str, optional
        :func:`harbridge.runtime.payloads.model_id` of the bundle, put in the status.
    buffer_size : int
        Messages held while the broker is unreachable (retained ones apart).
    max_inflight : int
        Messages sent before waiting for their acknowledgements; aiomqtt warns about
        every publish beyond 10 awaiting theirs.
    backoff : BackoffPolicy, optional
        Delays between connection attempts.
    identifier : str, optional
        MQTT client id; random when None.
    keepalive : int
        Seconds between pings; the broker publishes the will after about 1.5× this
        without a word from a daemon whose link died silently.
    timeout_s : float
        Longest wait for the broker's answer to a connect or publish.
    logger : logging.Logger, optional
        Where connection events go.
    """

    def __init__(
        self,
        broker: BrokerOptions,
        device: str,
        *,
        topic_prefix: str = "harbridge",
        qos: int = 1,
        model: str | None = None,
        buffer_size: int = 1024,
        max_inflight: int = 10,
        backoff: BackoffPolicy | None = None,
        identifier: str | None = None,
        keepalive: int = 30,
        timeout_s: float = 10.0,
        logger: logging.Logger | None = None,
    ) -> None:
        if buffer_size < 1 or max_inflight < 1 or qos not in (0, 1, 2):
            raise ValueError(
                f"need buffer_size ≥ 1, max_inflight ≥ 1 and qos in 0..2, got {buffer_size}, "
                f"{max_inflight} and {qos}"
            )
        self.broker = broker
        self.device = device
        self.topic_prefix = topic_prefix
        self.status_topic = status_topic(topic_prefix, device)
        self.qos = qos
        self.model = model
        self.buffer_size = buffer_size
        self.max_inflight = max_inflight
        self.backoff = backoff if backoff is not None else BackoffPolicy()
        self.identifier = identifier
        self.keepalive = keepalive
        self.timeout_s = timeout_s
        self.logger = logger if logger is not None else logging.getLogger(__name__)
        self.counters = PublisherCounters()
        self._log = RateLimitedLog(self.logger)
        self._offline = encode(status_payload(device, "offline", role="daemon", model=model))
        self._retained: dict[str, Message] = {}
        self._buffer: deque[Message] = deque()
        self._wakeup = asyncio.Event()
        self._stop = asyncio.Event()
        self._connect_hooks: list[Callable[[], None]] = []

    @property
    def buffered(self) -> int:
        """Messages waiting to be sent (retained ones included)."""
        return len(self._buffer) + len(self._retained)

    def publish(
        self,
        topic: str,
        payload: Mapping[str, Any] | bytes,
        *,
        qos: int | None = None,
        retain: bool = False,
    ) -> None:
        """Queue a message; it is sent as soon as the broker is connected. Never blocks.

        Parameters
        ----------
        topic : str
            Topic to publish on.
        payload : mapping or bytes
            A payload dict (encoded as compact JSON) or ready bytes.
        qos : int, optional
            QoS; the publisher's by default.
        retain : bool
            Whether the broker keeps it for later subscribers; only the latest retained
            message per topic is kept while waiting.
        """
        body = payload if isinstance(payload, bytes) else encode(payload)
        message = Message(topic, body, self.qos if qos is None else qos, retain)
        if retain:
            self._retained.pop(topic, None)
            self._retained[topic] = message
        else:
            self._buffer.append(message)
            self._trim()
        self._wakeup.set()

    def on_connect(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` on every connection to the broker, the first one included.

        It runs on the event loop after the daemon's ``online`` status is queued and
        before anything is sent, so the retained messages it publishes go out first on
        the new connection. It must be quick and must not raise.
        """
        self._connect_hooks.append(hook)

    def publish_prediction(self, payload: Mapping[str, Any]) -> None:
        """Queue a ``harbridge.prediction/1`` payload on its device's prediction topic."""
        self.publish(prediction_topic(self.topic_prefix, payload["device"]), payload)

    def stop(self) -> None:
        """Ask :meth:`run` to send what is buffered, publish ``offline`` and return.

        While the broker is unreachable, :meth:`run` returns at once and the buffered
        messages are lost; the status is left to the last will.
        """
        self._stop.set()
        self._wakeup.set()

    async def run(self) -> None:
        """Stay connected and publish until :meth:`stop` (or cancellation)."""
        backoff = Backoff(self.backoff)
        connected_before = False
        will = aiomqtt.Will(self.status_topic, self._offline, qos=self.qos, retain=True)
        while not self._stop.is_set():
            client = self.broker.client(
                identifier=self.identifier,
                will=will,
                keepalive=self.keepalive,
                timeout=self.timeout_s,
                logger=self.logger,
            )
            try:
                async with client:
                    if connected_before:
                        self.counters.reconnects += 1
                    connected_before = True
                    backoff.connected()
                    self.logger.info("publishing to %s as %s", self.broker.url, self.device)
                    await self._connected(client)
                    return
            except aiomqtt.MqttError as exc:
                self._log.log(
                    "connection",
                    logging.WARNING,
                    "broker %s unavailable (%s%s); %d messages buffered; reconnecting",
                    self.broker.url,
                    exc,
                    connect_hint(exc),
                    self.buffered,
                )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff.next_delay()):
                    await self._stop.wait()

    async def _connected(self, client: aiomqtt.Client) -> None:
        """Serve one connection until stopped; raise MqttError when it is lost."""
        online = status_payload(
            self.device, "online", role="daemon", model=self.model, t=time.time()
        )
        self.publish(self.status_topic, online, retain=True)
        for hook in self._connect_hooks:
            hook()
        self.counters.connected = True
        try:
            await self._serve(client)
        except asyncio.CancelledError:
            await self._goodbye(client)
            raise
        finally:
            self.counters.connected = False
        await self._goodbye(client)

    async def _serve(self, client: aiomqtt.Client) -> None:
        # The publisher subscribes to nothing, so the message iterator only ever ends,
        # with MqttError, when the connection is lost: it is the loss detector.
        watch = asyncio.create_task(_drain(client), name="mqtt publisher watch")
        pump = asyncio.create_task(self._pump(client), name="mqtt publisher pump")
        try:
            done, _ = await asyncio.wait({watch, pump}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch.cancel()
            pump.cancel()
            await asyncio.gather(watch, pump, return_exceptions=True)
        (done.pop()).result()

    async def _pump(self, client: aiomqtt.Client) -> None:
        """Send buffered messages in order until stopped with nothing left.

        Up to ``max_inflight`` messages wait for their acknowledgement at once, and each
        acknowledgement lets the next message go: a late one (a broker's delayed TCP ACK
        can hold it 40 ms) holds up one slot, not every message behind it. When the
        connection fails, the messages not acknowledged go back to the front of the
        buffer, in order.
        """
        inflight: dict[asyncio.Task[None], Message] = {}
        wakeup: asyncio.Task[bool] | None = None
        try:
            while True:
                for message in self._take(self.max_inflight - len(inflight)):
                    inflight[asyncio.create_task(self._send(client, message))] = message
                if not inflight and self._stop.is_set():
                    return
                self._wakeup.clear()
                wakeup = asyncio.create_task(self._wakeup.wait())
                done, _ = await asyncio.wait(
                    [*inflight, wakeup], return_when=asyncio.FIRST_COMPLETED
                )
                wakeup.cancel()
                finished = [task for task in inflight if task in done]
                for task in finished:
                    if task.exception() is None:
                        del inflight[task]
                for task in finished:
                    error = task.exception()
                    if error is not None:
                        raise error
        finally:
            if wakeup is not None:
                wakeup.cancel()
            for task in inflight:
                task.cancel()
            self._give_back([m for task, m in inflight.items() if not _succeeded(task)])

    async def _send(self, client: aiomqtt.Client, message: Message) -> None:
        """Publish one message; return once the broker has it."""
        await client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
        self.counters.published += 1

    def _take(self, most: int) -> list[Message]:
        """The next ``most`` messages or fewer: retained ones first, then the buffer's."""
        batch = list(self._retained.values())[:most]
        for message in batch:
            del self._retained[message.topic]
        while self._buffer and len(batch) < most:
            batch.append(self._buffer.popleft())
        return batch

    def _give_back(self, messages: list[Message]) -> None:
        for message in reversed(messages):
            if message.retain:
                # A newer value queued meanwhile wins over the one that was not sent.
                self._retained.setdefault(message.topic, message)
            else:
                self._buffer.appendleft(message)
        self._trim()

    def _trim(self) -> None:
        while len(self._buffer) > self.buffer_size:
            self._buffer.popleft()
            self.counters.dropped += 1

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        """Publish the retained ``offline`` before a clean disconnect, if the link allows."""
        try:
            async with asyncio.timeout(self.timeout_s):
                await client.publish(self.status_topic, self._offline, qos=self.qos, retain=True)
            self.counters.published += 1
        except (aiomqtt.MqttError, TimeoutError) as exc:
            self.logger.warning("could not publish offline status (%s); the will stands in", exc)


def _succeeded(task: asyncio.Task[None]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None


async def _drain(client: aiomqtt.Client) -> None:
    async for _ in client.messages:
        pass
