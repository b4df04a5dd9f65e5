"""Home Assistant MQTT discovery: the payloads against HA's documented format, and the daemon.

The format checked here is Home Assistant's documentation of MQTT discovery and of the
MQTT sensor (https://www.home-assistant.io/integrations/mqtt/#discovery-messages and
https://www.home-assistant.io/integrations/sensor.mqtt/): the topic
``<discovery_prefix>/<component>/[<node_id>/]<object_id>/config`` with ids in
``[a-zA-Z0-9_-]`` (the regular expression of HA's ``discovery.py``), the sensor's
configuration variables, ``state_topic`` required, ``availability`` and
``availability_topic`` exclusive, a device identified by ``identifiers`` or
``connections``, and ``origin`` with a ``name``. HA renders templates with Jinja2, whose
``tojson`` filter it uses too, so the templates are rendered here on real payloads.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import jsonschema
import pytest

from harbridge.errors import InputError
from harbridge.runtime.config import HomeAssistantSettings, load_config
from harbridge.runtime.daemon import Daemon
from harbridge.runtime.homeassistant import (
    ATTRIBUTES_TEMPLATE,
    discovery_config,
    discovery_id,
    discovery_topic,
)
from harbridge.runtime.payloads import prediction_payload, status_payload
from tests.daemon_support import CHANNELS, bundle, class_stream, mqtt_config, wait_until
from tests.mosquitto import Mosquitto, mosquitto_broker

# Exported so that pytest (and ruff) see the imported fixtures as used.
__all__ = ["bundle", "mosquitto_broker"]

GUARD_S = 30.0
NO_OOD = "[postprocess]\nood_threshold = 1e9\n"

# homeassistant/components/mqtt/discovery.py: what follows the discovery prefix.
HA_TOPIC = re.compile(
    r"(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config"
)
_STRING = {"type": "string", "minLength": 1}
_TEMPLATE = {"type": "string", "pattern": r"^\{\{.*\}\}$"}
# The MQTT sensor's documented configuration variables, full names (HA also accepts
# abbreviations such as stat_t; harbridge writes none, so any abbreviation fails here).
HA_SENSOR = {
    "type": "object",
    "required": ["state_topic"],
    "additionalProperties": False,
    "not": {"required": ["availability", "availability_topic"]},
    "properties": {
        "availability": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["topic"],
                "additionalProperties": False,
                "properties": {
                    "topic": _STRING,
                    "payload_available": _STRING,
                    "payload_not_available": _STRING,
                    "value_template": _TEMPLATE,
                },
            },
        },
        "availability_mode": {"enum": ["all", "any", "latest"]},
        "availability_template": _TEMPLATE,
        "availability_topic": _STRING,
        "device": {
            "type": "object",
            "additionalProperties": False,
            "anyOf": [{"required": ["identifiers"]}, {"required": ["connections"]}],
            "properties": {
                "configuration_url": _STRING,
                "connections": {"type": "array"},
                "hw_version": _STRING,
                "identifiers": {"type": ["array", "string"], "items": _STRING},
                "manufacturer": _STRING,
                "model": _STRING,
                "model_id": _STRING,
                "name": _STRING,
                "serial_number": _STRING,
                "suggested_area": _STRING,
                "sw_version": _STRING,
                "via_device": _STRING,
            },
        },
        "device_class": _STRING,
        "enabled_by_default": {"type": "boolean"},
        "encoding": {"type": "string"},
        "entity_category": {"enum": ["config", "diagnostic"]},
        "entity_picture": _STRING,
        "expire_after": {"type": "integer", "minimum": 1},
        "force_update": {"type": "boolean"},
        "icon": {"type": "string", "pattern": r"^mdi:[a-z0-9-]+$"},
        "json_attributes_template": _TEMPLATE,
        "json_attributes_topic": _STRING,
        "last_reset_value_template": _TEMPLATE,
        "name": {"type": ["string", "null"]},
        "options": {"type": "array"},
        "origin": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {"name": _STRING, "sw_version": _STRING, "support_url": _STRING},
        },
        "payload_available": _STRING,
        "payload_not_available": _STRING,
        "qos": {"enum": [0, 1, 2]},
        "state_class": {"enum": ["measurement", "measurement_angle", "total", "total_increasing"]},
        "state_topic": _STRING,
        "suggested_display_precision": {"type": "integer", "minimum": 0},
        "unique_id": _STRING,
        "unit_of_measurement": {"type": ["string", "null"]},
        "value_template": _TEMPLATE,
    },
}
CLASSES = ("sway", "wave", "shake")


def render(template: str, payload: dict[str, Any]) -> str:
    """``template`` rendered as Home Assistant renders an MQTT template (``value_json``)."""
    jinja2 = pytest.importorskip("jinja2")
    return str(jinja2.Environment().from_string(template).render(value_json=payload))


def check_discovery(topic: str, config: dict[str, Any], prefix: str = "homeassistant") -> None:
    """Assert what Home Assistant requires of one sensor's retained discovery message."""
    assert topic.startswith(f"{prefix}/")
    match = HA_TOPIC.fullmatch(topic.removeprefix(f"{prefix}/"))
    assert match is not None and match["component"] == "sensor", topic
    jsonschema.validate(config, HA_SENSOR)
    # An entity with a device must have a unique_id; it also lets users rename it in HA.
    assert config["unique_id"] and config["device"]


def prediction(device: str, label: str = "wave") -> dict[str, Any]:
    return prediction_payload(
        device=device,
        seq=7,
        t_start=1.0,
        t_end=2.28,
        label=label,
        confidence=0.8,
        class_names=CLASSES,
        probs=[0.1, 0.8, 0.1],
        unknown=label == "unknown",
        latency_ms=3.5,
        model="bundle@0123456789ab",
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [("wrist-07", "wrist-07"), ("Pi_Kitchen", "Pi_Kitchen"), ("wrist.07", None), ("a b", None)],
)
def test_discovery_ids_keep_only_what_home_assistant_allows(
    name: str, expected: str | None
) -> None:
    ident = discovery_id(name)
    assert re.fullmatch(r"[a-zA-Z0-9_-]+", ident)
    if expected is not None:
        assert ident == expected
    else:
        assert ident.startswith(re.sub(r"[^a-zA-Z0-9_-]", "_", name) + "_")
    # Names that clean up alike still get ids of their own.
    assert discovery_id("wrist.07") != discovery_id("wrist_07")


@pytest.mark.parametrize("expire_after_s", [0, 30])
@pytest.mark.parametrize(("daemon", "device"), [("pi-1", "wrist.07"), ("pi-1", "pi-1")])
def test_discovery_config_is_a_valid_home_assistant_sensor(
    daemon: str, device: str, expire_after_s: int
) -> None:
    config = discovery_config(
        topic_prefix="site-3/hb", daemon=daemon, device=device, qos=1, expire_after_s=expire_after_s
    )
    topic = discovery_topic("homeassistant", daemon, device)
    check_discovery(topic, config)
    assert (
        config["state_topic"] == config["json_attributes_topic"] == f"site-3/hb/{device}/prediction"
    )
    statuses = [entry["topic"] for entry in config["availability"]]
    # The device's status and the daemon's (whose last will covers a crash), once each.
    assert statuses == list(
        dict.fromkeys([f"site-3/hb/{device}/status", f"site-3/hb/{daemon}/status"])
    )
    assert config["availability_mode"] == "all"
    assert config.get("expire_after") == (expire_after_s or None)
    assert config["device"]["name"] == device
    other = discovery_config(
        topic_prefix="site-3/hb", daemon=daemon, device="other", qos=1, expire_after_s=0
    )
    assert other["unique_id"] != config["unique_id"]
    assert other["device"]["identifiers"] != config["device"]["identifiers"]


@pytest.mark.parametrize("label", ["wave", "unknown"])
def test_templates_read_our_payloads_as_home_assistant_renders_them(label: str) -> None:
    config = discovery_config(topic_prefix="hb", daemon="pi", device="w", qos=1, expire_after_s=0)
    payload = json.loads(json.dumps(prediction("w", label)))
    assert render(config["value_template"], payload) == label
    attributes = json.loads(render(config["json_attributes_template"], payload))
    assert attributes == {
        "confidence": 0.8,
        "probs": {"sway": 0.1, "wave": 0.8, "shake": 0.1},
        "unknown": label == "unknown",
        "seq": 7,
        "t_end": 2.28,
        "latency_ms": 3.5,
        "model": "bundle@0123456789ab",
    }
    assert config["json_attributes_template"] == ATTRIBUTES_TEMPLATE
    for state in ("online", "offline"):
        status = json.loads(json.dumps(status_payload("w", state, t=5.0)))
        for entry in config["availability"]:
            rendered = render(entry["value_template"], status)
            expected = entry["payload_available" if state == "online" else "payload_not_available"]
            assert rendered == expected


def write_config(folder: Path, text: str) -> Path:
    path = folder / "harbridge.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("", HomeAssistantSettings(False, "homeassistant", 30)),
        ("[homeassistant]\nenabled = true\n", HomeAssistantSettings(True, "homeassistant", 30)),
        (
            '[homeassistant]\nenabled = true\ndiscovery_prefix = "ha/disc"\nexpire_after_s = 0\n',
            HomeAssistantSettings(True, "ha/disc", 0),
        ),
    ],
)
def test_homeassistant_settings(
    tmp_path: Path, bundle: Path, section: str, expected: HomeAssistantSettings
) -> None:
    text = f'device = "pi"\nbundle = "{bundle}"\n[[sources]]\nkind = "mqtt"\ntopic = "imu/+/raw"\n'
    assert load_config(write_config(tmp_path, text + section)).homeassistant == expected


@pytest.mark.parametrize(
    ("section", "key", "words"),
    [
        ('discovery_prefix = "ha/+"\n', "homeassistant.discovery_prefix", "must not hold '+'"),
        ('discovery_prefix = "ha//x"\n', "homeassistant.discovery_prefix", "empty level"),
        ("expire_after_s = -1\n", "homeassistant.expire_after_s", "must be ≥ 0"),
        ("enabled = 1\n", "homeassistant.enabled", "expected true or false"),
        ("enable = true\n", "homeassistant.enable", "did you mean 'enabled'?"),
    ],
)
def test_bad_homeassistant_settings_are_refused(
    tmp_path: Path, bundle: Path, section: str, key: str, words: str
) -> None:
    text = (
        f'device = "pi"\nbundle = "{bundle}"\n[[sources]]\nkind = "mqtt"\ntopic = "imu/+/raw"\n'
        f"[homeassistant]\n{section}"
    )
    with pytest.raises(InputError) as info:
        load_config(write_config(tmp_path, text))
    assert info.value.field == key
    assert words in info.value.problem


@asynccontextmanager
async def collecting(broker: Mosquitto, topic: str) -> AsyncIterator[list[tuple[str, bytes, bool]]]:
    """Messages of ``topic`` as (topic, payload, retained), collected in the background."""
    received: list[tuple[str, bytes, bool]] = []
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(topic, qos=1)

        async def collect() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                received.append((message.topic.value, message.payload, message.retain))

        task = asyncio.create_task(collect(), name="test collector")
        try:
            yield received
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def stream(broker: Mosquitto, devices: list[str], seconds: float, t0: float = 0.0) -> None:
    """``seconds`` of samples per device from ``t0``, on ``imu/<device>/raw``, 25 a message."""
    t, values, _ = class_stream(["wave"], seconds, t0=t0)
    async with aiomqtt.Client(broker.host, broker.port) as client:
        for start in range(0, len(t), 25):
            for device in devices:
                body = {"t": t[start : start + 25].tolist()} | {
                    name: values[start : start + 25, c].tolist() for c, name in enumerate(CHANNELS)
                }
                await client.publish(f"imu/{device}/raw", json.dumps(body), qos=1)


def configs(received: list[tuple[str, bytes, bool]]) -> dict[str, dict[str, Any]]:
    """The latest retained discovery config of each topic."""
    return {topic: json.loads(body) for topic, body, retained in received if retained and body}


@pytest.mark.mosquitto
def test_the_daemon_announces_each_device_and_again_after_a_broker_restart(
    tmp_path: Path, bundle: Path, mosquitto_broker: Mosquitto
) -> None:
    devices = ["wrist-07", "wrist.08"]
    sources = '[[sources]]\nkind = "mqtt"\ntopic = "imu/+/raw"\n'
    extra = NO_OOD + '[homeassistant]\nenabled = true\ndiscovery_prefix = "ha"\n'
    config = load_config(
        write_config(tmp_path, mqtt_config(mosquitto_broker, bundle, sources, extra))
    )
    topics = {device: discovery_topic("ha", "gateway", device) for device in devices}

    async def main() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        daemon = Daemon(config)
        stop = asyncio.Event()
        async with asyncio.timeout(GUARD_S):
            run = asyncio.create_task(daemon.run(stop))
            await wait_until(lambda: daemon.sources[0].counters.connected)
            await stream(mosquitto_broker, devices, 3.0)
            await wait_until(lambda: len(daemon.devices) == 2)
            # A subscriber that comes later gets the configs: they are retained.
            async with collecting(mosquitto_broker, "ha/#") as first:
                await wait_until(lambda: configs(first).keys() == set(topics.values()))
            async with collecting(mosquitto_broker, "hb/+/prediction") as states:
                await stream(mosquitto_broker, devices, 2.0, t0=10.0)
                await wait_until(lambda: len(states) >= 4)
            await asyncio.to_thread(mosquitto_broker.restart, signal.SIGKILL)
            await wait_until(lambda: daemon.publisher.counters.reconnects >= 1)
            async with collecting(mosquitto_broker, "ha/#") as again:
                await wait_until(lambda: configs(again).keys() == set(topics.values()))
            stop.set()
            await run
            async with collecting(mosquitto_broker, "ha/#") as after_stop:
                await wait_until(lambda: configs(after_stop).keys() == set(topics.values()))
        predictions = [json.loads(body) for _, body, _ in states]
        return configs(first), configs(again), predictions

    first, again, predictions = asyncio.run(main())
    assert first == again
    for device, topic in topics.items():
        check_discovery(topic, first[topic], prefix="ha")
        assert first[topic]["state_topic"] == f"hb/{device}/prediction"
    for payload in predictions:
        config = first[topics[payload["device"]]]
        assert render(config["value_template"], payload) == payload["label"] == "wave"


@pytest.mark.mosquitto
def test_without_the_opt_in_nothing_is_announced(
    tmp_path: Path, bundle: Path, mosquitto_broker: Mosquitto
) -> None:
    sources = '[[sources]]\nkind = "mqtt"\ntopic = "imu/+/raw"\n'
    config = load_config(
        write_config(tmp_path, mqtt_config(mosquitto_broker, bundle, sources, NO_OOD))
    )

    async def main() -> list[tuple[str, bytes, bool]]:
        daemon = Daemon(config)
        stop = asyncio.Event()
        async with asyncio.timeout(GUARD_S), collecting(mosquitto_broker, "#") as received:
            run = asyncio.create_task(daemon.run(stop))
            await wait_until(lambda: daemon.sources[0].counters.connected)
            await stream(mosquitto_broker, ["wrist-07"], 3.0)
            await wait_until(lambda: any(t.endswith("/prediction") for t, _, _ in received))
            stop.set()
            await run
        return received

    received = asyncio.run(main())
    assert daemon_topics(received) == {"imu", "hb"}


def daemon_topics(received: list[tuple[str, bytes, bool]]) -> set[str]:
    return {topic.split("/", 1)[0] for topic, _, _ in received}
