"""IMU samples from an MQTT topic, one device per ``+`` level (``imu/+/raw`` → ``wrist-07``).

Transport only: each message body goes to
:func:`~harbridge.drivers.mqtt_payload.parse_mqtt_payload`. A payload that cannot be read
is counted by kind in ``counters.parse`` and logged at a bounded rate; a message whose
``+`` level is not a usable device id (an empty level, control characters) is counted as
``bad_topic`` in ``counters.dropped``. When the broker goes away, the source connects
again with backoff and subscribes again, and counts a reconnect; messages published
while it was away are lost (the session is clean: a sensor stream is only worth its
latest samples). Received messages wait in a bounded queue; if the windowing falls that
far behind, aiomqtt drops the newest and logs it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import aiomqtt

from harbridge.drivers.backoff import Backoff, BackoffPolicy
from harbridge.drivers.mqtt_payload import PayloadError, parse_mqtt_payload
from harbridge.drivers.parse_stats import DEFAULT_LIMITS, FramingLimits, check_channels
from harbridge.drivers.source import SampleSink, SourceCounters
from harbridge.runtime.mqtt_url import BrokerOptions, connect_hint
from harbridge.runtime.payloads import device_id_problem
from harbridge.runtime.ratelimit import RateLimitedLog

__all__ = ["MqttSource", "counting_queue", "wildcard_level"]

# SUBACK return codes from 0x80 up mean the subscription was refused (MQTT 3.1.1 and 5).
_SUBACK_FAILURE = 0x80


def wildcard_level(topic: str) -> int | None:
    """Index of the ``+`` level of a source topic filter, or None when it has none.

    Raises
    ------
    ValueError
        For ``#``, more than one ``+``, a ``+`` that is not a whole level, or an empty
        filter.
    """
    levels = topic.split("/")
    if not topic or "#" in topic:
        raise ValueError(f"topic {topic!r} must be non-empty and hold no '#'")
    if topic.count("+") > 1:
        raise ValueError(f"topic {topic!r} holds more than one '+'; one level names the device")
    if "+" in topic and "+" not in levels:
        raise ValueError(f"'+' must be a whole level of topic {topic!r}, e.g. 'imu/+/raw'")
    return levels.index("+") if "+" in levels else None


class MqttSource:
    """A :class:`~harbridge.drivers.source.Source` subscribed to one MQTT topic filter.

    Parameters
    ----------
    broker : BrokerOptions
        Where to connect (:func:`harbridge.runtime.mqtt_url.broker_options`).
    topic : str
        Topic filter with at most one ``+`` level, which names the device.
    channels : sequence of str
        Channel names to read, as the bundle names them.
    device : str, optional
        Device id of a topic without ``+``; required then, ignored otherwise.
    qos : int
        Subscription QoS.
    limits : FramingLimits, optional
        Bounds on hostile payloads.
    backoff : BackoffPolicy, optional
        Delays between connection attempts.
    identifier : str, optional
        MQTT client id; random when None.
    keepalive : int
        Seconds between pings; a dead broker is noticed within about 1.5× this.
    max_queued : int
        Received messages held for the loop at most.
    logger : logging.Logger, optional
        Where connection events and rate-limited payload errors go.
    """

    def __init__(
        self,
        broker: BrokerOptions,
        topic: str,
        *,
        channels: Sequence[str],
        device: str | None = None,
        qos: int = 1,
        limits: FramingLimits = DEFAULT_LIMITS,
        backoff: BackoffPolicy | None = None,
        identifier: str | None = None,
        keepalive: int = 30,
        max_queued: int = 10_000,
        logger: logging.Logger | None = None,
    ) -> None:
        self._level = wildcard_level(topic)
        if self._level is None:
            if device is None:
                raise ValueError(f"topic {topic!r} has no '+' level, so it needs a device id")
            problem = device_id_problem(device)
            if problem is not None:
                raise ValueError(problem)
        self.broker = broker
        self.topic = topic
        self.channels = check_channels(channels)
        self.device = device
        self.qos = qos
        self.limits = limits
        self.backoff = backoff if backoff is not None else BackoffPolicy()
        self.identifier = identifier
        self.keepalive = keepalive
        self.max_queued = max_queued
        self.logger = logger if logger is not None else logging.getLogger(__name__)
        self._counters = SourceCounters()
        self._log = RateLimitedLog(self.logger)
        self._queue_type = counting_queue(self._counters)

    @property
    def name(self) -> str:
        """``mqtt <topic>``."""
        return f"mqtt {self.topic}"

    @property
    def counters(self) -> SourceCounters:
        """Live counters."""
        return self._counters

    def device_for(self, topic: str) -> str | None:
        """Device id of a message received on ``topic``; None if it names no valid one."""
        if self._level is None:
            return self.device
        levels = topic.split("/")
        device = levels[self._level] if self._level < len(levels) else ""
        return None if device_id_problem(device) else device

    async def run(self, sink: SampleSink) -> None:
        """Receive into ``sink`` until cancelled, reconnecting whenever the broker is lost."""
        backoff = Backoff(self.backoff)
        subscribed_before = False
        while True:
            client = self.broker.client(
                identifier=self.identifier,
                keepalive=self.keepalive,
                logger=self.logger,
                max_queued_incoming_messages=self.max_queued,
                queue_type=self._queue_type,
            )
            try:
                async with client:
                    granted = await client.subscribe(self.topic, qos=self.qos)
                    if any(code >= _SUBACK_FAILURE for code in granted):
                        raise aiomqtt.MqttError(
                            f"the broker refused the subscription to {self.topic!r}; check "
                            "its access control list for this user"
                        )
                    if subscribed_before:
                        self._counters.reconnects += 1
                    subscribed_before = True
                    backoff.connected()
                    self._counters.connected = True
                    self.logger.info("%s: subscribed at %s", self.name, self.broker.url)
                    async for message in client.messages:
                        self._receive(message, sink)
            except aiomqtt.MqttError as exc:
                self._log.log(
                    "connection",
                    logging.WARNING,
                    "%s: broker %s unavailable (%s%s); reconnecting",
                    self.name,
                    self.broker.url,
                    exc,
                    connect_hint(exc),
                )
            finally:
                self._counters.connected = False
            await asyncio.sleep(backoff.next_delay())

    def _receive(self, message: aiomqtt.Message, sink: SampleSink) -> None:
        topic = message.topic.value
        device = self.device_for(topic)
        if device is None:
            self._counters.drop("bad_topic")
            self._log.log(
                "bad_topic", logging.WARNING, "%s: %r names no device; dropped", self.name, topic
            )
            return
        payload = message.payload
        body = payload if isinstance(payload, bytes) else str(payload).encode()
        try:
            batch = parse_mqtt_payload(
                body, device, self.channels, self.limits, self._counters.parse
            )
        except PayloadError as exc:
            self._counters.parse.add(exc.kind)
            self._log.log(
                exc.kind,
                logging.WARNING,
                "%s: dropped a payload on %s: %s",
                self.name,
                topic,
                exc,
            )
            return
        if len(batch):
            self._counters.delivered(batch)
            sink(batch)


def counting_queue(counters: SourceCounters) -> type[asyncio.Queue[aiomqtt.Message]]:
    """A queue class for aiomqtt's received messages that counts the ones it refuses.

    aiomqtt drops a message that finds its queue full (the loop fell ``max_queued``
    messages behind) and only logs it; this makes it an ``mqtt_queue`` drop in the metrics.
    """

    class CountingQueue(asyncio.Queue[aiomqtt.Message]):
        def put_nowait(self, item: aiomqtt.Message) -> None:
            try:
                super().put_nowait(item)
            except asyncio.QueueFull:
                counters.drop("mqtt_queue")
                raise

    return CountingQueue
