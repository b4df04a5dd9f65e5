"""The daemon's configuration: a TOML file read into frozen dataclasses by :func:`load_config`.

A complete file, every optional key at its default::

    device = "pi-kitchen"           # default device id; defaults to the host name
    bundle = "bundle"               # folder written by `harbridge calibrate --out`

    [[sources]]                     # one or more
    kind = "serial"                 # serial | mqtt | replay
    port = "/dev/ttyUSB0"
    baudrate = 115200
    format = "csv"                  # csv | jsonl | witmotion (sends m/s², rad/s; csv and
                                    # jsonl carry no units: the bundle's are assumed)
    # device = "wrist-01"           # defaults to the top-level device
    # default_header = ["t", "ax", "ay", "az", "gx", "gy", "gz"]   # csv only: columns
    #                               # assumed until the device sends its own header line

    [[sources]]
    kind = "mqtt"
    topic = "imu/+/raw"             # one '+' level names the device; no '#'
    # qos = 1                       # defaults to [mqtt] qos

    [[sources]]
    kind = "replay"
    path = "stream.csv"             # .csv or .npz
    speed = 1.0                     # × real time; 0 = as fast as possible
    loop = false
    device = "replay-1"

    [mqtt]
    url = "mqtt://localhost:1883"   # or mqtts://user:password@host:8883
    # username = "harbridge"        # or in the URL
    # password_env = "HARBRIDGE_MQTT_PASSWORD"   # or password_file = "/etc/harbridge/pw"
    topic_prefix = "harbridge"
    qos = 1
    # client_id = "harbridge-pi-kitchen"
    # ca_file, cert_file, key_file = "…"; tls_insecure = false   (mqtts:// only)

    [windowing]
    max_gap_s = 0.5                 # longest pause still interpolated across
    clock_reset_s = 5.0             # a jump back in time this long restarts the buffer
    stall_s = 5.0                   # a device silent this long is reported stalled
    max_devices = 1024

    [inference]
    max_batch = 64
    max_wait_ms = 0.0              # > 0: wait this long for more windows after the first
    threads = 1

    [postprocess]
    smoothing = 1                   # integer N: mean of the last N windows; float a: EMA weight
    confidence_floor = 0.0
    # ood_threshold = 4.0           # defaults to the bundle's

    [metrics]
    interval_s = 10.0

    [queues]                        # capacities; what overflows is dropped and counted
    samples = 256                   # MQTT sample messages received, not yet windowed
    windows = 1024                  # windows waiting for inference (oldest dropped)
    publish = 1024                  # messages held while the broker is away (oldest dropped)

    [homeassistant]                 # MQTT discovery: each device becomes a sensor
    enabled = false
    discovery_prefix = "homeassistant"
    expire_after_s = 30             # no prediction this long: the state is unavailable; 0 = never

Relative paths are resolved against the config file's folder; ``~`` is expanded. The
broker URL is read by :func:`parse_mqtt_url`, the one parser of broker URLs (``harbridge
listen --broker`` uses it too). Every mistake raises :class:`harbridge.errors.InputError`
naming the config file, the key (``sources[2].baudrate``, sources counted from 1) and the
fix.
"""

from __future__ import annotations

import difflib
import math
import os
import socket
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, cast
from urllib.parse import unquote, urlsplit

from harbridge.drivers.csv_lines import is_header
from harbridge.errors import InputError
from harbridge.runtime.payloads import device_id_problem, topic_prefix_problem

__all__ = [
    "DEFAULT_MQTT_URL",
    "Config",
    "HomeAssistantSettings",
    "InferenceSettings",
    "MetricsSettings",
    "MqttSettings",
    "MqttSource",
    "PostprocessSettings",
    "QueueSettings",
    "ReplaySource",
    "SerialSource",
    "Source",
    "WindowingSettings",
    "load_config",
    "parse_mqtt_url",
    "resolve_password",
]

DEFAULT_MQTT_URL = "mqtt://localhost:1883"

SerialFormat = Literal["csv", "jsonl", "witmotion"]


@dataclass(frozen=True, slots=True)
class SerialSource:
    """Samples from a serial port (USB adapter, UART, Bluetooth SPP).

    ``default_header`` (CSV only) names the columns of data lines that arrive before the
    device's own header line, for devices that send it once at boot or never.
    """

    kind: ClassVar[str] = "serial"
    port: str
    device: str
    baudrate: int = 115200
    format: SerialFormat = "csv"
    default_header: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class MqttSource:
    """Samples from an MQTT topic filter; a ``+`` level, if any, names the device.

    ``device`` is the device of a topic without ``+``, and None for a topic with one.
    ``qos`` None means the ``[mqtt]`` default.
    """

    kind: ClassVar[str] = "mqtt"
    topic: str
    device: str | None
    qos: int | None = None

    @property
    def wildcard_level(self) -> int | None:
        """Index of the ``+`` level in ``topic``, or None."""
        levels = self.topic.split("/")
        return levels.index("+") if "+" in levels else None

    def device_for(self, topic: str) -> str | None:
        """Device id of a message received on ``topic``; None if it names no valid one."""
        level = self.wildcard_level
        if level is None:
            return self.device
        levels = topic.split("/")
        device = levels[level] if level < len(levels) else ""
        return None if device_id_problem(device) else device


@dataclass(frozen=True, slots=True)
class ReplaySource:
    """Samples replayed from a recording (``.csv`` or ``.npz``) at ``speed`` × real time.

    ``speed`` 0 replays as fast as the daemon takes the samples (tests, benchmarks).
    """

    kind: ClassVar[str] = "replay"
    path: Path
    device: str
    speed: float = 1.0
    loop: bool = False


Source = SerialSource | MqttSource | ReplaySource


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """The broker connection and the topics published.

    ``password`` is the one written in the URL; ``password_env`` and ``password_file``
    are read by :func:`resolve_password` when the daemon connects. ``source`` is the
    config file, for error messages.
    """

    host: str = "localhost"
    port: int = 1883
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    password_env: str | None = None
    password_file: Path | None = None
    topic_prefix: str = "harbridge"
    qos: int = 1
    client_id: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    tls_insecure: bool = False
    source: Path | None = None

    @property
    def url(self) -> str:
        """The broker's URL without credentials, for logs."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class WindowingSettings:
    """See :class:`harbridge.runtime.windowing.DeviceWindower`.

    ``stall_s``: see :class:`harbridge.runtime.clock_watch.ClockWatch`.
    """

    max_gap_s: float = 0.5
    clock_reset_s: float = 5.0
    max_devices: int = 1024
    stall_s: float = 5.0


@dataclass(frozen=True, slots=True)
class InferenceSettings:
    """Micro-batching: run when ``max_batch`` windows wait or the oldest waited ``max_wait_ms``.

    The default 0 runs whatever is waiting at once: windows that arrive together (one
    device's message completing several, or many devices' while a batch runs) are batched
    without adding latency.
    """

    max_batch: int = 64
    max_wait_ms: float = 0.0
    threads: int = 1


@dataclass(frozen=True, slots=True)
class PostprocessSettings:
    """``smoothing``: an int N averages the last N windows (1 = off), a float is an EMA weight.

    ``ood_threshold`` None means the bundle's own threshold.
    """

    smoothing: int | float = 1
    confidence_floor: float = 0.0
    ood_threshold: float | None = None


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """Seconds between two metrics messages."""

    interval_s: float = 10.0


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """Capacities of the daemon's queues: sample batches, windows, messages to publish."""

    samples: int = 256
    windows: int = 1024
    publish: int = 1024


@dataclass(frozen=True, slots=True)
class HomeAssistantSettings:
    """Home Assistant MQTT discovery (:mod:`harbridge.runtime.homeassistant`), opt-in.

    ``expire_after_s`` 0 means a sensor's state never expires.
    """

    enabled: bool = False
    discovery_prefix: str = "homeassistant"
    expire_after_s: int = 30


@dataclass(frozen=True, slots=True)
class Config:
    """A whole configuration file; ``path`` is the file it was read from."""

    path: Path
    device: str
    bundle: Path
    sources: tuple[Source, ...]
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    windowing: WindowingSettings = field(default_factory=WindowingSettings)
    inference: InferenceSettings = field(default_factory=InferenceSettings)
    postprocess: PostprocessSettings = field(default_factory=PostprocessSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    queues: QueueSettings = field(default_factory=QueueSettings)
    homeassistant: HomeAssistantSettings = field(default_factory=HomeAssistantSettings)


_TOP_KEYS = (
    "device", "bundle", "sources", "mqtt", "windowing",
    "inference", "postprocess", "metrics", "queues", "homeassistant",
)  # fmt: skip
_SOURCE_KEYS = {
    "serial": ("kind", "port", "baudrate", "format", "device", "default_header"),
    "mqtt": ("kind", "topic", "qos", "device"),
    "replay": ("kind", "path", "speed", "loop", "device"),
}
_MQTT_KEYS = (
    "url", "username", "password_env", "password_file", "topic_prefix", "qos",
    "client_id", "ca_file", "cert_file", "key_file", "tls_insecure",
)  # fmt: skip
_TLS_FILES = ("ca_file", "cert_file", "key_file")
_SECTION_KEYS = {
    "windowing": ("max_gap_s", "clock_reset_s", "stall_s", "max_devices"),
    "inference": ("max_batch", "max_wait_ms", "threads"),
    "postprocess": ("smoothing", "confidence_floor", "ood_threshold"),
    "metrics": ("interval_s",),
    "queues": ("samples", "windows", "publish"),
    "homeassistant": ("enabled", "discovery_prefix", "expire_after_s"),
}

_T = TypeVar("_T", str, int, float, bool)

_EXPECTED = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _describe(value: object) -> str:
    """A TOML value's type in the user's words, with the value when it is short."""
    kinds = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    for kind, word in kinds.items():
        if isinstance(value, kind):
            return f"{word} ({value!r})" if len(repr(value)) <= 40 else word
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return "a date/time"


class _Table:
    """Typed access to one TOML table; knows the key path and label for error messages."""

    def __init__(self, source: Path, data: Mapping[str, Any], where: str, label: str) -> None:
        self.source = source
        self.data = data
        self.where = where
        self.label = label

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def error(self, name: str, problem: str) -> InputError:
        return InputError(self.source, self.key(name), problem)

    def check_keys(self, known: Iterable[str], elsewhere: Mapping[str, str] | None = None) -> None:
        """Refuse the first key not in ``known``, suggesting the closest known one."""
        known = list(known)
        for name in self.data:
            if name in known:
                continue
            problem = f"unknown key '{name}' {self.label}"
            close = difflib.get_close_matches(name, known, n=1)
            if elsewhere and name in elsewhere:
                problem += f"; '{name}' belongs to {elsewhere[name]}"
            elif close:
                problem += f"; did you mean '{close[0]}'?"
            else:
                problem += f"; known keys are {', '.join(known)}"
            raise self.error(name, problem)

    def get(self, name: str, kind: type[_T]) -> _T | None:
        """The value of ``name`` if present, checked to be of ``kind`` (ints pass as floats)."""
        if name not in self.data:
            return None
        value = self.data[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise self.error(name, f"expected {_EXPECTED[kind]}, got {_describe(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(name, f"must be a finite number, got {value}")
        if isinstance(value, str) and not value.strip():
            raise self.error(name, "must not be empty")
        return value

    def require(self, name: str, kind: type[_T], example: str) -> _T:
        value = self.get(name, kind)
        if value is None:
            raise self.error(name, f"missing {self.label}; add e.g. {name} = {example}")
        return value

    def table(self, name: str, label: str) -> _Table:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise self.error(name, f"expected a table {label}, got {_describe(value)}")
        return _Table(self.source, value, self.key(name), f"in {label}")


def _ranged(
    table: _Table,
    name: str,
    kind: type[int] | type[float],
    default: float | None,
    *,
    above: float | None = None,
    at_least: float | None = None,
    at_most: float | None = None,
) -> Any:
    """A number with bounds (``above`` is exclusive, the others inclusive)."""
    value = table.get(name, kind)
    if value is None:
        return default
    if (
        (above is not None and not value > above)
        or (at_least is not None and value < at_least)
        or (at_most is not None and value > at_most)
    ):
        bounds = [
            f"> {above}" if above is not None else "",
            f"≥ {at_least}" if at_least is not None else "",
            f"≤ {at_most}" if at_most is not None else "",
        ]
        raise table.error(name, f"must be {' and '.join(b for b in bounds if b)}, got {value}")
    return value


def _choice(table: _Table, name: str, options: tuple[str, ...], default: str | None) -> str:
    value = (
        table.get(name, str) if default is not None else table.require(name, str, f'"{options[0]}"')
    )
    if value is None:
        return cast(str, default)
    if value not in options:
        close = difflib.get_close_matches(value, options, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"use one of {', '.join(options)}"
        raise table.error(name, f"'{value}' is not one of {', '.join(options)}; {hint}")
    return value


def _path(
    table: _Table, name: str, base: Path, must_be: Literal["file", "dir"] | None
) -> Path | None:
    """A path, resolved against the config's folder, optionally required to exist."""
    text = table.get(name, str)
    if text is None:
        return None
    path = (base / Path(text).expanduser()).resolve()
    if must_be == "file" and not path.is_file():
        raise table.error(name, f"no such file: {path}; fix the path (relative to {base})")
    if must_be == "dir" and not path.is_dir():
        raise table.error(name, f"no such folder: {path}; fix the path (relative to {base})")
    return path


def _device(table: _Table, name: str, default: str) -> str:
    device = table.get(name, str)
    if device is None:
        return default
    problem = device_id_problem(device)
    if problem is not None:
        raise table.error(name, problem)
    return device


def _qos(table: _Table, default: int | None) -> Any:
    return _ranged(table, "qos", int, default, at_least=0, at_most=2)


def _topic_filter_problem(topic: str) -> str | None:
    levels = topic.split("/")
    if "#" in topic:
        return f"topic {topic!r} holds '#'; subscribe with at most one '+' level naming the device"
    if topic.count("+") > 1:
        return f"topic {topic!r} holds {topic.count('+')} '+'; only one level may name the device"
    if "+" in topic and "+" not in levels:
        return f"'+' must be a whole level of topic {topic!r}, e.g. 'imu/+/raw'"
    if any(ord(c) < 0x20 for c in topic):
        return f"topic {topic!r} holds control characters"
    return None


def _default_header(table: _Table, format: str) -> tuple[str, ...] | None:
    """The CSV columns to assume before the device's header; which channels are needed is
    checked against the bundle when the daemon starts."""
    if "default_header" not in table.data:
        return None
    if format != "csv":
        raise table.error(
            "default_header", f"applies to format = 'csv' only, not '{format}'; remove it"
        )
    value = table.data["default_header"]
    example = 'e.g. default_header = ["t", "ax", "ay", "az"]'
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise table.error(
            "default_header", f"expected a non-empty array of column names, {example}"
        )
    names = tuple(name.strip() for name in value)
    if not is_header(names):
        bad = next(name for name in names if not is_header((name,)))
        raise table.error(
            "default_header",
            f"{bad!r} is not a column name (letters, digits and '_', not starting with a "
            f"digit), {example}",
        )
    if len(set(names)) != len(names):
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise table.error("default_header", f"names {', '.join(repeated)} more than once")
    return names


def _source(table: _Table, base: Path, default_device: str) -> Source:
    kind = _choice(table, "kind", tuple(_SOURCE_KEYS), None)
    elsewhere = {
        key: f"kind = '{other}' sources"
        for other, keys in _SOURCE_KEYS.items()
        if other != kind
        for key in keys
    }
    table.check_keys(_SOURCE_KEYS[kind], elsewhere)
    if kind == "serial":
        format = cast(SerialFormat, _choice(table, "format", ("csv", "jsonl", "witmotion"), "csv"))
        return SerialSource(
            port=table.require("port", str, '"/dev/ttyUSB0"'),
            device=_device(table, "device", default_device),
            baudrate=_ranged(table, "baudrate", int, 115200, at_least=1),
            format=format,
            default_header=_default_header(table, format),
        )
    if kind == "mqtt":
        topic = table.require("topic", str, '"imu/+/raw"')
        problem = _topic_filter_problem(topic)
        if problem is not None:
            raise table.error("topic", problem)
        wildcard = "+" in topic
        if wildcard and "device" in table.data:
            raise table.error(
                "device", "the '+' level of the topic names the device; remove device"
            )
        return MqttSource(
            topic=topic,
            device=None if wildcard else _device(table, "device", default_device),
            qos=_qos(table, None),
        )
    path = _path(table, "path", base, "file")
    if path is None:
        raise table.error("path", f'missing {table.label}; add e.g. path = "stream.csv"')
    if path.suffix.lower() not in (".csv", ".npz"):
        raise table.error("path", f"replay reads .csv or .npz recordings, got {path.name!r}")
    return ReplaySource(
        path=path,
        device=_device(table, "device", default_device),
        speed=_ranged(table, "speed", float, 1.0, at_least=0.0),
        loop=bool(table.get("loop", bool)),
    )


def _sources(root: _Table, base: Path, default_device: str) -> tuple[Source, ...]:
    raw = root.data.get("sources")
    example = 'add at least one, e.g. [[sources]] kind = "serial" port = "/dev/ttyUSB0"'
    if raw is None or raw == []:
        raise root.error("sources", f"no [[sources]] table; {example}")
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise root.error("sources", f"expected [[sources]] tables, got {_describe(raw)}; {example}")
    sources: list[Source] = []
    owner: dict[str, int] = {}
    for number, item in enumerate(raw, start=1):
        table = _Table(root.source, item, f"sources[{number}]", f"in [[sources]] #{number}")
        source = _source(table, base, default_device)
        if source.device is not None:
            if source.device in owner:
                raise table.error(
                    "device",
                    f"device '{source.device}' is already read by sources[{owner[source.device]}];"
                    " give each source its own device id",
                )
            owner[source.device] = number
        sources.append(source)
    return tuple(sources)


def parse_mqtt_url(
    url: str, source: str | os.PathLike[str] = "--broker", field: str = "url"
) -> MqttSettings:
    """Read a broker URL into settings (the other ``[mqtt]`` keys at their defaults).

    The one parser of broker URLs: ``[mqtt] url`` and ``harbridge listen --broker``.

    Parameters
    ----------
    url : str
        ``mqtt://[user[:password]@]host[:port]`` (port 1883 by default) or ``mqtts://…``
        (TLS, port 8883); user and password may be percent-encoded.
    source : str or path-like
        Where the URL came from, for error messages (an option, a config file).
    field : str
        The key or option that holds it, for error messages.

    Raises
    ------
    InputError
        Another scheme, no host, a bad port, anything after the port, or a password
        without a user name.
    """
    example = f"{DEFAULT_MQTT_URL} or mqtts://user:password@broker:8883"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "mqtts") or "://" not in url:
        got = f"got '{parts.scheme}://'" if "://" in url else "it has no scheme"
        raise InputError(
            source, field, f"must start with mqtt:// or mqtts:// ({got}), e.g. {example}"
        )
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise InputError(
            source, field, "the port must be a number from 1 to 65535, e.g. mqtt://host:1883"
        )
    if not parts.hostname:
        raise InputError(source, field, f"names no broker host; write e.g. {example}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InputError(
            source, field, "must be scheme://[user[:password]@]host[:port] with nothing after"
        )
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and username is None:
        raise InputError(source, field, "a password needs a username: mqtt://user:password@host")
    tls = scheme == "mqtts"
    return MqttSettings(
        host=parts.hostname,
        port=port if port is not None else (8883 if tls else 1883),
        tls=tls,
        username=username,
        password=password,
    )


def _mqtt(table: _Table, base: Path) -> MqttSettings:
    table.check_keys(_MQTT_KEYS)
    url = parse_mqtt_url(table.get("url", str) or DEFAULT_MQTT_URL, table.source, table.key("url"))
    username = url.username
    if username is not None and "username" in table.data:
        raise table.error("username", "a username is in mqtt.url too; keep only one")
    username = username or table.get("username", str)
    password = url.password
    password_env = table.get("password_env", str)
    password_file = _path(table, "password_file", base, None)
    given = [k for k, v in (("url", password), ("password_env", password_env),
                            ("password_file", password_file)) if v is not None]  # fmt: skip
    if len(given) > 1:
        raise table.error(given[1], f"the password is also given by mqtt.{given[0]}; keep only one")
    if given and username is None:
        raise table.error(given[0], 'a password needs a username; add username = "…"')
    tls = url.tls
    prefix = table.get("topic_prefix", str) or "harbridge"
    problem = topic_prefix_problem(prefix)
    if problem is not None:
        raise table.error("topic_prefix", problem)
    tls_files = {name: _path(table, name, base, "file") for name in _TLS_FILES}
    tls_insecure = bool(table.get("tls_insecure", bool))
    tls_keys = [name for name, path in tls_files.items() if path is not None]
    if not tls and (tls_keys or tls_insecure):
        raise table.error(
            (tls_keys or ["tls_insecure"])[0],
            "TLS settings need an mqtts:// url; change mqtt.url or remove this key",
        )
    if tls_files["key_file"] is not None and tls_files["cert_file"] is None:
        raise table.error("key_file", "a client key needs its certificate; add cert_file")
    return MqttSettings(
        host=url.host,
        port=url.port,
        tls=tls,
        username=username,
        password=password,
        password_env=password_env,
        password_file=password_file,
        topic_prefix=prefix,
        qos=_qos(table, 1),
        client_id=table.get("client_id", str),
        ca_file=tls_files["ca_file"],
        cert_file=tls_files["cert_file"],
        key_file=tls_files["key_file"],
        tls_insecure=tls_insecure,
        source=table.source,
    )


def _smoothing(table: _Table) -> int | float:
    value = table.data.get("smoothing", 1)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise table.error(
            "smoothing",
            f"expected an integer N (mean of the last N windows) or a number in (0, 1] "
            f"(EMA weight), got {_describe(value)}",
        )
    if isinstance(value, int) and value < 1:
        raise table.error("smoothing", f"must average at least 1 window (1 = off), got {value}")
    if isinstance(value, float) and not 0.0 < value <= 1.0:
        raise table.error(
            "smoothing",
            f"a float is an EMA weight in (0, 1], got {value}; for a mean of the last N "
            "windows write the integer N",
        )
    return value


def _homeassistant(table: _Table) -> HomeAssistantSettings:
    prefix = table.get("discovery_prefix", str) or "homeassistant"
    problem = topic_prefix_problem(prefix)
    if problem is not None:
        raise table.error("discovery_prefix", problem.replace("topic prefix", "discovery prefix"))
    return HomeAssistantSettings(
        enabled=bool(table.get("enabled", bool)),
        discovery_prefix=prefix,
        expire_after_s=_ranged(table, "expire_after_s", int, 30, at_least=0),
    )


def _default_device(root: _Table) -> str:
    host = socket.gethostname()
    problem = device_id_problem(host)
    if problem is not None:
        raise root.error("device", f"missing, and the host name cannot stand in: {problem}")
    return host


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and check a TOML configuration file.

    Parameters
    ----------
    path : str or path-like
        The ``.toml`` file.

    Returns
    -------
    Config
        Every setting, defaults filled in, paths absolute.

    Raises
    ------
    harbridge.errors.InputError
        For an unreadable file, bad TOML, an unknown key (with the closest known one),
        a value of the wrong type or out of range, a missing required key, a bad URL or
        topic, or a path that does not exist.
    """
    config_path = Path(path)
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "config", "no such file; pass the path of a TOML config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, "config", f"cannot read it as UTF-8 text ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, "toml", f"{exc}; fix the TOML syntax") from exc
    base = config_path.resolve().parent
    root = _Table(config_path, data, "", "at the top level")
    root.check_keys(_TOP_KEYS)
    sections = {name: root.table(name, f"[{name}]") for name in ("mqtt", *_SECTION_KEYS)}
    for name, keys in _SECTION_KEYS.items():
        sections[name].check_keys(keys)
    device = _device(root, "device", "") if "device" in data else _default_device(root)
    bundle = _path(root, "bundle", base, "dir")
    if bundle is None:
        raise root.error(
            "bundle", 'missing; add e.g. bundle = "bundle", a folder written by harbridge calibrate'
        )
    windowing, inference = sections["windowing"], sections["inference"]
    postprocess, metrics, queues = sections["postprocess"], sections["metrics"], sections["queues"]
    max_gap_s = _ranged(windowing, "max_gap_s", float, 0.5, above=0.0)
    homeassistant = sections["homeassistant"]
    return Config(
        path=config_path.resolve(),
        device=device,
        bundle=bundle,
        sources=_sources(root, base, device),
        mqtt=_mqtt(sections["mqtt"], base),
        windowing=WindowingSettings(
            max_gap_s=max_gap_s,
            clock_reset_s=_ranged(
                windowing, "clock_reset_s", float, max(5.0, 2 * max_gap_s), above=max_gap_s
            ),
            max_devices=_ranged(windowing, "max_devices", int, 1024, at_least=1),
            stall_s=_ranged(windowing, "stall_s", float, max(5.0, 2 * max_gap_s), above=max_gap_s),
        ),
        inference=InferenceSettings(
            max_batch=_ranged(inference, "max_batch", int, 64, at_least=1),
            max_wait_ms=_ranged(inference, "max_wait_ms", float, 0.0, at_least=0.0),
            threads=_ranged(inference, "threads", int, 1, at_least=1),
        ),
        postprocess=PostprocessSettings(
            smoothing=_smoothing(postprocess),
            confidence_floor=_ranged(
                postprocess, "confidence_floor", float, 0.0, at_least=0.0, at_most=1.0
            ),
            ood_threshold=_ranged(postprocess, "ood_threshold", float, None, above=0.0),
        ),
        metrics=MetricsSettings(interval_s=_ranged(metrics, "interval_s", float, 10.0, above=0.0)),
        queues=QueueSettings(
            samples=_ranged(queues, "samples", int, 256, at_least=1),
            windows=_ranged(queues, "windows", int, 1024, at_least=1),
            publish=_ranged(queues, "publish", int, 1024, at_least=1),
        ),
        homeassistant=_homeassistant(homeassistant),
    )


def resolve_password(
    settings: MqttSettings, environ: Mapping[str, str] | None = None
) -> str | None:
    """The broker password: from the URL, the environment variable, or the file; else None.

    Called by the daemon when it connects, so secrets need not be in the config file.

    Parameters
    ----------
    settings : MqttSettings
        ``Config.mqtt``.
    environ : mapping of str to str, optional
        Where to look up ``password_env``; ``os.environ`` by default.

    Raises
    ------
    harbridge.errors.InputError
        The variable is unset or empty, or the file is missing, unreadable or empty.
    """
    source = settings.source or "config"
    if settings.password is not None:
        return settings.password
    if settings.password_env is not None:
        name = settings.password_env
        value = (os.environ if environ is None else environ).get(name)
        if not value:
            state = "not set" if value is None else "empty"
            raise InputError(
                source,
                "mqtt.password_env",
                f"environment variable {name} is {state}; export it before starting the daemon "
                "(with systemd: Environment= or EnvironmentFile= in the unit)",
            )
        return value
    if settings.password_file is not None:
        try:
            value = settings.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except FileNotFoundError:
            raise InputError(
                source,
                "mqtt.password_file",
                f"no such file: {settings.password_file}; create it holding the password",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                source, "mqtt.password_file", f"cannot read {settings.password_file} ({exc})"
            ) from exc
        if not value:
            raise InputError(
                source,
                "mqtt.password_file",
                f"{settings.password_file} is empty; write the password",
            )
        return value
    return None
