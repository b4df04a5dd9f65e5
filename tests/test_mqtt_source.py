"""MQTT source against a real Mosquitto; broker URLs, TLS verification, rate-limited logs."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import ssl
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, cast

import aiomqtt
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from harbridge.drivers.backoff import BackoffPolicy
from harbridge.drivers.mqtt_source import MqttSource, counting_queue, wildcard_level
from harbridge.drivers.samples import SampleBatch
from harbridge.drivers.source import SourceCounters
from harbridge.errors import InputError
from harbridge.runtime.config import MqttSettings
from harbridge.runtime.mqtt_url import BrokerOptions, broker_options, parse_mqtt_url, tls_context
from harbridge.runtime.ratelimit import RateLimitedLog
from tests.daemon_support import daemon_logger
from tests.mosquitto import Mosquitto, free_port, mosquitto_broker, require_mosquitto
from tests.pki import make_test_pki

# Exporting the imported fixture is what makes pytest (and ruff) see it as used here.
__all__ = ["mosquitto_broker"]

CHANNELS = ("ax", "ay", "az")
FAST = BackoffPolicy(initial_s=0.02, maximum_s=0.2, healthy_s=60.0)
GUARD_S = 15.0


def options(broker: Mosquitto) -> BrokerOptions:
    return BrokerOptions(broker.host, broker.port)


async def publish(broker: Mosquitto, messages: list[tuple[str, bytes]]) -> None:
    """Publish each (topic, payload) with QoS 1, in order, from a separate client."""
    async with options(broker).client() as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll every 10 ms; the caller's timeout guard bounds the wait."""
    while not condition():
        await asyncio.sleep(0.01)


def run_with_source(
    source: MqttSource, body: Callable[[list[SampleBatch]], Coroutine[Any, Any, None]]
) -> list[SampleBatch]:
    batches: list[SampleBatch] = []

    async def main() -> None:
        async with asyncio.timeout(GUARD_S):
            task = asyncio.create_task(source.run(batches.append), name=source.name)
            try:
                await wait_until(lambda: source.counters.connected)
                await body(batches)
            finally:
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task

    asyncio.run(main())
    return batches


def columns(t0: float, values: np.ndarray) -> bytes:
    """Column JSON of DESIGN §3 for ``values`` (n, 3) at 100 Hz from ``t0``."""
    message: dict[str, Any] = {"t": (t0 + 0.01 * np.arange(len(values))).tolist()}
    message.update({name: values[:, i].tolist() for i, name in enumerate(CHANNELS)})
    return json.dumps(message).encode()


@pytest.mark.mosquitto
@pytest.mark.parametrize(
    ("topic", "device", "published_on", "expected"),
    [
        ("imu/+/raw", None, "imu/dev1/raw", "dev1"),
        ("+/imu", None, "wrist-07/imu", "wrist-07"),
        ("lab/imu", "chest", "lab/imu", "chest"),
    ],
)
def test_column_json_arrives_from_the_device_the_topic_names(
    mosquitto_broker: Mosquitto, topic: str, device: str | None, published_on: str, expected: str
) -> None:
    values = np.random.default_rng(0).normal(size=(8, 3))
    source = MqttSource(
        options(mosquitto_broker), topic, channels=CHANNELS, device=device, backoff=FAST
    )

    async def body(batches: list[SampleBatch]) -> None:
        await publish(mosquitto_broker, [(published_on, columns(1.0, values))])
        await wait_until(lambda: source.counters.samples == 8)

    (batch,) = run_with_source(source, body)
    assert batch.device == expected
    assert batch.t is not None
    assert_allclose(batch.t, 1.0 + 0.01 * np.arange(8), rtol=0, atol=1e-12)
    assert_array_equal(np.column_stack([batch.channels[c] for c in CHANNELS]), values)
    assert source.counters.reconnects == 0


@pytest.mark.mosquitto
def test_bad_payloads_are_counted_by_kind_and_logged_at_a_rate_limit(
    mosquitto_broker: Mosquitto,
) -> None:
    logger, records = daemon_logger("tests.mqtt.bad")
    source = MqttSource(
        options(mosquitto_broker), "imu/+/raw", channels=CHANNELS, backoff=FAST, logger=logger
    )
    good = columns(0.0, np.ones((2, 3)))
    bad = [
        b"\xff\xfe",
        b"not json",
        b"[1, 2]",
        b"{]",
        b'{"ax": [1, 2], "ay": [1], "az": [1, 2]}',
        b'{"ax": 1, "ay": 2}',
        b'{"ax": "x", "ay": 2, "az": 3}',
    ]
    messages = [("imu/d/raw", payload) for payload in bad]
    messages += [("imu//raw", good), ("imu/d/raw", good)]

    async def body(batches: list[SampleBatch]) -> None:
        await publish(mosquitto_broker, messages)
        await wait_until(lambda: source.counters.samples == 2)

    batches = run_with_source(source, body)
    assert [b.device for b in batches] == ["d"]
    assert source.counters.parse.counts == {
        "bad_utf8": 1,
        "bad_json": 3,
        "unequal_lengths": 1,
        "missing_channel": 1,
        "bad_number": 1,
    }
    assert source.counters.dropped == {"bad_topic": 1}
    logged = records.warnings()
    # One line per kind within the interval: three bad_json payloads log once.
    assert sum("bad_json" in line for line in logged) == 1
    assert sum("names no device" in line for line in logged) == 1
    assert len(logged) == 6


def test_messages_refused_by_a_full_receive_queue_are_counted() -> None:
    counters = SourceCounters()
    queue = counting_queue(counters)(maxsize=2)
    message = cast(aiomqtt.Message, object())
    queue.put_nowait(message)
    queue.put_nowait(message)
    for _ in range(3):
        # aiomqtt catches QueueFull, logs and drops the message; the count is ours.
        with pytest.raises(asyncio.QueueFull):
            queue.put_nowait(message)
    assert counters.dropped == {"mqtt_queue": 3}
    assert queue.qsize() == 2


@pytest.mark.mosquitto
def test_a_broker_restart_mid_stream_is_survived(mosquitto_broker: Mosquitto) -> None:
    source = MqttSource(options(mosquitto_broker), "imu/+/raw", channels=CHANNELS, backoff=FAST)
    before, after = np.zeros((3, 3)), np.ones((5, 3))

    async def body(batches: list[SampleBatch]) -> None:
        await publish(mosquitto_broker, [("imu/dev1/raw", columns(0.0, before))])
        await wait_until(lambda: source.counters.samples == 3)
        await asyncio.to_thread(mosquitto_broker.restart, signal.SIGKILL)
        # Subscribed again on the new broker, which knew nothing of the old session.
        await wait_until(lambda: source.counters.reconnects == 1 and source.counters.connected)
        await publish(mosquitto_broker, [("imu/dev1/raw", columns(1.0, after))])
        await wait_until(lambda: source.counters.samples == 8)

    batches = run_with_source(source, body)
    assert [len(b) for b in batches] == [3, 5]
    assert_array_equal(batches[1].channels["ax"], np.ones(5))


@pytest.mark.parametrize(
    ("topic", "level"), [("imu/+/raw", 1), ("+", 0), ("a/b/+", 2), ("imu/raw", None)]
)
def test_wildcard_level_finds_the_device_level(topic: str, level: int | None) -> None:
    assert wildcard_level(topic) == level


@pytest.mark.parametrize("topic", ["imu/#", "+/+/raw", "imu/dev+/raw", ""])
def test_bad_topic_filters_are_refused(topic: str) -> None:
    with pytest.raises(ValueError, match="topic"):
        MqttSource(BrokerOptions("localhost", 1883), topic, channels=CHANNELS)


def test_a_topic_without_wildcard_needs_a_device() -> None:
    with pytest.raises(ValueError, match="needs a device id"):
        MqttSource(BrokerOptions("localhost", 1883), "imu/raw", channels=CHANNELS)


@pytest.mark.parametrize(
    ("received", "device"),
    [("imu/w-1/raw", "w-1"), ("imu//raw", None), ("imu/a\x01/raw", None), ("imu", None)],
)
def test_device_for_reads_the_wildcard_level(received: str, device: str | None) -> None:
    source = MqttSource(BrokerOptions("localhost", 1883), "imu/+/raw", channels=CHANNELS)
    assert source.device_for(received) == device


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "username", "password"),
    [
        ("mqtt://localhost", "localhost", 1883, False, None, None),
        ("mqtts://broker.example", "broker.example", 8883, True, None, None),
        ("mqtt://user:pass@10.0.0.2:1884", "10.0.0.2", 1884, False, "user", "pass"),
        ("MQTTS://u%40x:p%3Aw@h:9", "h", 9, True, "u@x", "p:w"),
        ("mqtt://[::1]:1883/", "::1", 1883, False, None, None),
    ],
)
def test_broker_urls_are_read(
    url: str, host: str, port: int, tls: bool, username: str | None, password: str | None
) -> None:
    settings = parse_mqtt_url(url)
    assert (settings.host, settings.port, settings.tls) == (host, port, tls)
    assert (settings.username, settings.password) == (username, password)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://host", "mqtt:// or mqtts://"),
        ("localhost:1883", "mqtt:// or mqtts://"),
        ("mqtt://host:99999", "port"),
        ("mqtt://host:0", "port"),
        ("mqtt://host:abc", "port"),
        ("mqtt://:1883", "no broker host"),
        ("mqtt://host/topic", "nothing after"),
        ("mqtt://host?x=1", "nothing after"),
        ("mqtt://:pw@host", "needs a username"),
    ],
)
def test_bad_broker_urls_raise_input_errors(url: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        parse_mqtt_url(url, "--broker")
    assert (info.value.source, info.value.field) == ("--broker", "url")


def test_tls_verifies_the_broker_by_default() -> None:
    assert tls_context(parse_mqtt_url("mqtt://host")) is None
    context = tls_context(parse_mqtt_url("mqtts://host"))
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_tls_insecure_turns_verification_off_and_says_so() -> None:
    logger, records = daemon_logger("tests.mqtt.insecure")
    settings = MqttSettings(host="h", port=8883, tls=True, tls_insecure=True)
    context = tls_context(settings, logger)
    assert context is not None
    assert context.verify_mode == ssl.CERT_NONE
    assert not context.check_hostname
    (warning,) = records.warnings()
    assert "NOT VERIFIED" in warning
    assert "mqtts://h:8883" in warning


@pytest.mark.parametrize("key", ["ca_file", "cert_file"])
def test_unloadable_tls_files_raise_input_errors(tmp_path: Path, key: str) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    settings = MqttSettings(
        host="h",
        tls=True,
        source=tmp_path / "harbridge.toml",
        ca_file=bad if key == "ca_file" else None,
        cert_file=bad if key == "cert_file" else None,
    )
    with pytest.raises(InputError) as info:
        tls_context(settings)
    assert info.value.field == f"mqtt.{key}"
    assert info.value.source == str(tmp_path / "harbridge.toml")


def test_broker_options_resolve_the_password_from_the_environment() -> None:
    settings = MqttSettings(host="h", port=1, username="u", password_env="PW")
    opts = broker_options(settings, environ={"PW": "s3cret"})
    assert (opts.hostname, opts.port, opts.username, opts.password) == ("h", 1, "u", "s3cret")
    assert "s3cret" not in repr(opts)
    assert opts.url == "mqtt://h:1"
    with pytest.raises(InputError, match="PW is not set"):
        broker_options(settings, environ={})


@pytest.mark.mosquitto
def test_mqtts_connects_only_to_a_broker_it_can_verify(tmp_path: Path) -> None:
    pki = make_test_pki(tmp_path / "pki")
    tls_port = free_port()
    broker = Mosquitto(
        require_mosquitto(),
        tmp_path / "mosquitto",
        extra_config=f"listener {tls_port} 127.0.0.1\ncafile {pki['ca']}\n"
        f"certfile {pki['cert']}\nkeyfile {pki['key']}\n",
    )
    broker.start()
    logger, _ = daemon_logger("tests.mqtt.tls")

    async def connects(**tls: Any) -> bool:
        settings = MqttSettings(host="127.0.0.1", port=tls_port, tls=True, **tls)
        try:
            async with broker_options(settings, logger).client(timeout=5):
                return True
        except aiomqtt.MqttError:
            return False

    async def main() -> list[bool]:
        async with asyncio.timeout(GUARD_S):
            return [
                await connects(),
                await connects(ca_file=pki["ca"]),
                await connects(tls_insecure=True),
            ]

    try:
        assert asyncio.run(main()) == [False, True, True]
    finally:
        broker.stop()


def test_rate_limited_log_counts_what_it_suppressed() -> None:
    logger, records = daemon_logger("tests.mqtt.ratelimit")
    now = [0.0]
    log = RateLimitedLog(logger, interval_s=10.0, clock=lambda: now[0], max_keys=2)
    assert log.log("a", logging.WARNING, "bad %s", "x")
    assert not log.log("a", logging.WARNING, "bad %s", "y")
    assert not log.log("a", logging.WARNING, "bad %s", "z")
    assert log.log("b", logging.WARNING, "other")
    now[0] = 10.0
    assert log.log("a", logging.WARNING, "bad %s", "w")
    assert records.warnings() == ["bad x", "other", "bad w (2 similar messages suppressed)"]
    log.log("c", logging.WARNING, "third key")  # forgets the oldest key, "b"
    assert log.log("b", logging.WARNING, "other")


class RefusingClient:
    """Stands in for a broker whose ACL refuses the subscription (SUBACK 0x80).

    Mosquitto 2.0 grants a refused MQTT 3.1.1 subscription and silently delivers
    nothing, so this needs a stand-in; other brokers answer 0x80 as the spec says.
    """

    subscribed = 0

    async def __aenter__(self) -> RefusingClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def subscribe(self, topic: str, qos: int = 0) -> list[int]:
        RefusingClient.subscribed += 1
        return [0x80]


class RefusingBroker(BrokerOptions):
    def client(self, **_: Any) -> aiomqtt.Client:
        return cast(aiomqtt.Client, RefusingClient())


def test_a_subscription_the_broker_refuses_is_reported_and_retried() -> None:
    logger, records = daemon_logger("tests.mqtt.acl")
    source = MqttSource(
        RefusingBroker("h", 1), "imu/+/raw", channels=CHANNELS, backoff=FAST, logger=logger
    )

    async def main() -> None:
        async with asyncio.timeout(GUARD_S):
            task = asyncio.create_task(source.run(lambda batch: None), name=source.name)
            await wait_until(lambda: RefusingClient.subscribed >= 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    assert not source.counters.connected
    (message,) = records.warnings()  # rate-limited: retried, logged once
    assert "refused the subscription to 'imu/+/raw'" in message
    assert "access control list" in message
