"""Home Assistant MQTT discovery: every device the daemon serves appears as a sensor.

Opt-in with ``[homeassistant] enabled = true``. When a device's first samples arrive,
the daemon publishes, retained, one discovery config on
``<discovery_prefix>/sensor/<node_id>/<object_id>/config`` (Home Assistant's documented
topic, ``node_id`` the daemon's id and ``object_id`` the device's, each reduced to
``[a-zA-Z0-9_-]`` by :func:`discovery_id`). Home Assistant then shows a sensor
"<device> Action" whose state is the ``label`` of each prediction (``unknown`` for
out-of-distribution windows) and whose attributes are its ``confidence``, ``probs``,
``unknown``, ``seq``, ``t_end``, ``latency_ms`` and ``model``. No YAML is needed.

Availability follows harbridge's retained statuses: the sensor is available while both
the device's status and the daemon's status say ``online``, so a daemon that stops or
dies (its last will) makes its sensors unavailable. A state older than
``expire_after_s`` (no prediction for that long: a stalled sensor) expires too.

The configs are republished on every connection, as the statuses are: a broker that
restarts without persistence has forgotten them. The daemon never removes a config: a
sensor stays known (unavailable) while its daemon is stopped and resumes with its
history. To remove one, publish an empty retained message on its config topic or delete
the device in Home Assistant, which does that itself.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from harbridge import __version__
from harbridge.runtime.config import HomeAssistantSettings
from harbridge.runtime.payloads import prediction_topic, status_topic
from harbridge.runtime.publisher import Publisher

__all__ = [
    "ATTRIBUTES_TEMPLATE",
    "HomeAssistantDiscovery",
    "discovery_config",
    "discovery_id",
    "discovery_topic",
]

#: Home Assistant's component of the entity every device becomes.
COMPONENT = "sensor"
#: The prediction fields exposed as the sensor's attributes (a Jinja template of HA's).
ATTRIBUTES_TEMPLATE = (
    "{{ {'confidence': value_json.confidence, 'probs': value_json.probs, "
    "'unknown': value_json.unknown, 'seq': value_json.seq, 't_end': value_json.t_end, "
    "'latency_ms': value_json.latency_ms, 'model': value_json.model} | tojson }}"
)
_NOT_AN_ID = re.compile(r"[^a-zA-Z0-9_-]")


def discovery_id(name: str) -> str:
    """``name`` as a discovery topic level: only ``[a-zA-Z0-9_-]``, distinct for distinct names.

    Other characters become ``_``; a name that had any gets the first 8 hex digits of its
    sha256 appended, so ``wrist.07`` and ``wrist_07`` stay two sensors.
    """
    cleaned = _NOT_AN_ID.sub("_", name)
    if cleaned == name:
        return name
    return f"{cleaned}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def discovery_topic(discovery_prefix: str, daemon: str, device: str) -> str:
    """``<discovery_prefix>/sensor/<node_id>/<object_id>/config`` of ``device``."""
    return f"{discovery_prefix}/{COMPONENT}/{discovery_id(daemon)}/{discovery_id(device)}/config"


def _availability(topic: str) -> dict[str, str]:
    return {
        "topic": topic,
        "value_template": "{{ value_json.state }}",
        "payload_available": "online",
        "payload_not_available": "offline",
    }


def discovery_config(
    *, topic_prefix: str, daemon: str, device: str, qos: int, expire_after_s: int
) -> dict[str, Any]:
    """The discovery config of one device's action sensor (full key names, no abbreviations).

    Parameters
    ----------
    topic_prefix : str
        The daemon's ``[mqtt] topic_prefix``.
    daemon : str
        The daemon's device id (the discovery ``node_id``).
    device : str
        The device's id (the ``object_id`` and the Home Assistant device's name).
    qos : int
        QoS Home Assistant subscribes with.
    expire_after_s : int
        Seconds without a prediction after which the state expires; 0 leaves it out.
    """
    node, obj = discovery_id(daemon), discovery_id(device)
    state = prediction_topic(topic_prefix, device)
    # A device named like the daemon shares its status: one availability topic then.
    statuses = dict.fromkeys(status_topic(topic_prefix, name) for name in (device, daemon))
    config: dict[str, Any] = {
        "name": "Action",
        "unique_id": f"harbridge_{node}_{obj}_action",
        "icon": "mdi:run",
        "state_topic": state,
        "value_template": "{{ value_json.label }}",
        "json_attributes_topic": state,
        "json_attributes_template": ATTRIBUTES_TEMPLATE,
        "availability": [_availability(topic) for topic in statuses],
        "availability_mode": "all",
        "qos": qos,
        "device": {
            "identifiers": [f"harbridge_{node}_{obj}"],
            "name": device,
            "model": "IMU action recognition",
            "manufacturer": "harbridge",
            "sw_version": __version__,
        },
        "origin": {"name": "harbridge", "sw_version": __version__},
    }
    if expire_after_s:
        config["expire_after"] = expire_after_s
    return config


class HomeAssistantDiscovery:
    """Publishes the discovery config of every device announced, again on each connection.

    Parameters
    ----------
    publisher : Publisher
        The daemon's publisher (its device id, topic prefix and QoS are used).
    settings : HomeAssistantSettings
        ``[homeassistant]`` of the config.
    """

    def __init__(self, publisher: Publisher, settings: HomeAssistantSettings) -> None:
        self.publisher = publisher
        self.settings = settings
        self._configs: dict[str, dict[str, Any]] = {}
        publisher.on_connect(self._republish)

    @property
    def devices(self) -> list[str]:
        """The devices announced so far."""
        return list(self._configs)

    def announce(self, device: str) -> None:
        """Publish the retained discovery config of a device seen for the first time."""
        publisher = self.publisher
        self._configs[device] = discovery_config(
            topic_prefix=publisher.topic_prefix,
            daemon=publisher.device,
            device=device,
            qos=publisher.qos,
            expire_after_s=self.settings.expire_after_s,
        )
        self._publish(device)

    def _republish(self) -> None:
        for device in self._configs:
            self._publish(device)

    def _publish(self, device: str) -> None:
        topic = discovery_topic(self.settings.discovery_prefix, self.publisher.device, device)
        self.publisher.publish(topic, self._configs[device], retain=True)
