"""MQTT topics and JSON payloads the daemon publishes (DESIGN §3), and their JSON Schemas.

Topics are ``<prefix>/<device>/prediction``, ``…/status`` (retained) and ``…/metrics``.
Each builder returns a dict that validates against the schema of the same name
(``load_schema("prediction")``, shipped in ``harbridge/runtime/schemas/``); builders
refuse values that would break it, so what is published is always valid. :func:`encode`
turns a payload into compact UTF-8 JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from harbridge import __version__
from harbridge.runtime.latency import LatencySummary
from harbridge.runtime.smoothing import UNKNOWN

__all__ = [
    "METRICS_SCHEMA",
    "PREDICTION_SCHEMA",
    "SCHEMA_NAMES",
    "STATUS_SCHEMA",
    "check_device_id",
    "device_id_problem",
    "encode",
    "load_schema",
    "metrics_payload",
    "metrics_topic",
    "model_id",
    "prediction_payload",
    "prediction_topic",
    "status_payload",
    "status_topic",
    "subscription_topic",
    "topic_prefix_problem",
]

PREDICTION_SCHEMA = "harbridge.prediction/1"
STATUS_SCHEMA = "harbridge.status/1"
METRICS_SCHEMA = "harbridge.metrics/1"
SCHEMA_NAMES = ("prediction", "status", "metrics")

TopicKind = Literal["prediction", "status", "metrics"]

# Digits kept in published floats: probabilities and latencies need no more, and 100
# devices publishing every second make payload size matter.
_PROB_DIGITS = 6
_MS_DIGITS = 3


def device_id_problem(device: str) -> str | None:
    """Why ``device`` cannot be a device id (one MQTT topic level), or None if it can."""
    if not device:
        return "a device id must not be empty"
    bad = sorted({c for c in device if c in "/+#" or ord(c) < 0x20 or ord(c) == 0x7F})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return f"device id {device!r} contains {shown}; use letters, digits, '-', '_' or '.'"
    return None


def check_device_id(device: str) -> str:
    """Return ``device`` if it is a valid device id; raise ValueError saying why not."""
    problem = device_id_problem(device)
    if problem is not None:
        raise ValueError(problem)
    return device


def topic_prefix_problem(prefix: str) -> str | None:
    """Why ``prefix`` cannot start harbridge's topics, or None if it can.

    A prefix is one or more non-empty topic levels without wildcards, e.g. ``harbridge``
    or ``site-3/harbridge``.
    """
    if not prefix or any(not level for level in prefix.split("/")):
        return (
            f"topic prefix {prefix!r} has an empty level; "
            "write e.g. 'harbridge' or 'site-3/harbridge'"
        )
    if any(c in "+#" or ord(c) < 0x20 for c in prefix):
        return f"topic prefix {prefix!r} must not hold '+', '#' or control characters"
    return None


def _checked_prefix(prefix: str) -> str:
    problem = topic_prefix_problem(prefix)
    if problem is not None:
        raise ValueError(problem)
    return prefix


def _topic(prefix: str, device: str, kind: TopicKind) -> str:
    return f"{_checked_prefix(prefix)}/{check_device_id(device)}/{kind}"


def prediction_topic(prefix: str, device: str) -> str:
    """``<prefix>/<device>/prediction``; ValueError for a bad prefix or device id."""
    return _topic(prefix, device, "prediction")


def status_topic(prefix: str, device: str) -> str:
    """``<prefix>/<device>/status`` (published retained)."""
    return _topic(prefix, device, "status")


def metrics_topic(prefix: str, device: str) -> str:
    """``<prefix>/<device>/metrics``."""
    return _topic(prefix, device, "metrics")


def subscription_topic(prefix: str, kind: TopicKind, device: str | None = None) -> str:
    """The filter that receives ``kind`` messages of one device, or of all (``+``)."""
    if device is None:
        return f"{_checked_prefix(prefix)}/+/{kind}"
    return _topic(prefix, device, kind)


def model_id(bundle_name: str, sha256: str) -> str:
    """The ``model`` field: the bundle's name and the first 12 hex digits of its sha256."""
    return f"{bundle_name}@{sha256[:12]}"


def _number(name: str, value: float, minimum: float | None = None) -> float:
    number = float(value)
    if not math.isfinite(number) or (minimum is not None and number < minimum):
        bound = "" if minimum is None else f" ≥ {minimum}"
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return number


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _counts(name: str, values: Mapping[str, int]) -> dict[str, int]:
    return {str(key): _count(f"{name}[{key!r}]", value) for key, value in values.items()}


def prediction_payload(
    *,
    device: str,
    seq: int,
    t_start: float,
    t_end: float,
    label: str,
    confidence: float,
    class_names: Sequence[str],
    probs: npt.ArrayLike,
    unknown: bool,
    latency_ms: float,
    model: str,
) -> dict[str, Any]:
    """The ``harbridge.prediction/1`` payload of one window.

    Parameters
    ----------
    device : str
        Device id.
    seq : int
        Per-device prediction counter (≥ 0).
    t_start, t_end : float
        ``Window.t_start`` and ``Window.t_end``, seconds on the device's clock.
    label, confidence, unknown
        The :class:`harbridge.runtime.smoothing.Decision` for the window.
    class_names : sequence of str of length K
        The bundle's classes.
    probs : array-like of shape (K,)
        Class probabilities (smoothed), each in [0, 1].
    latency_ms : float
        Milliseconds from the arrival of the window's last sample to now (≥ 0).
    model : str
        :func:`model_id` of the bundle.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.shape != (len(class_names),):
        raise ValueError(f"got {p.shape} probabilities for {len(class_names)} classes")
    if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
        raise ValueError(f"probabilities must be finite and in [0, 1], got {p.tolist()}")
    if unknown != (label == UNKNOWN) or not (unknown or label in class_names):
        raise ValueError(f"label {label!r} does not match unknown={unknown} and the classes")
    if not 0.0 <= confidence <= 1.0:
        raise ValueError(f"confidence must be in [0, 1], got {confidence!r}")
    if not model:
        raise ValueError("model must name the bundle")
    return {
        "schema": PREDICTION_SCHEMA,
        "device": check_device_id(device),
        "seq": _count("seq", seq),
        "t_start": _number("t_start", t_start),
        "t_end": _number("t_end", t_end),
        "label": label,
        "confidence": round(float(confidence), _PROB_DIGITS),
        "probs": {
            name: round(value, _PROB_DIGITS)
            for name, value in zip(class_names, p.tolist(), strict=True)
        },
        "unknown": bool(unknown),
        "latency_ms": round(_number("latency_ms", latency_ms, 0.0), _MS_DIGITS),
        "model": model,
    }


def status_payload(
    device: str,
    state: Literal["online", "offline"],
    *,
    role: Literal["daemon", "device"] = "device",
    model: str | None = None,
    t: float | None = None,
) -> dict[str, Any]:
    """The retained ``harbridge.status/1`` payload of the daemon or one of its devices.

    Parameters
    ----------
    device : str
        Device id (the daemon's own id for ``role="daemon"``).
    state : {"online", "offline"}
        The offline status of the daemon is also its MQTT last will.
    role : {"daemon", "device"}
        Whether ``device`` is the daemon itself or a sensor it serves.
    model : str or None
        :func:`model_id` of the bundle in use, if any.
    t : float or None
        When the state was entered, seconds since the Unix epoch; leave it out of a
        last will, which is published long after it was built.
    """
    if state not in ("online", "offline"):
        raise ValueError(f"state must be 'online' or 'offline', got {state!r}")
    if role not in ("daemon", "device"):
        raise ValueError(f"role must be 'daemon' or 'device', got {role!r}")
    payload: dict[str, Any] = {
        "schema": STATUS_SCHEMA,
        "state": state,
        "device": check_device_id(device),
        "role": role,
        "version": __version__,
    }
    if model:
        payload["model"] = model
    if t is not None:
        payload["t"] = _number("t", t, 0.0)
    return payload


def metrics_payload(
    device: str,
    *,
    samples: int,
    windows: int,
    predictions: int,
    drops: Mapping[str, int],
    parse_errors: Mapping[str, int],
    reconnects: int,
    latency: LatencySummary,
    uptime_s: float,
    interval_s: float | None = None,
    devices: int | None = None,
    queues: Mapping[str, int] | None = None,
    clock: Mapping[str, int] | None = None,
    t: float | None = None,
) -> dict[str, Any]:
    """The ``harbridge.metrics/1`` payload: totals since start, latency over recent windows.

    Parameters
    ----------
    device : str
        The daemon's device id.
    samples, windows, predictions, reconnects : int
        Totals since the daemon started.
    drops, parse_errors : mapping of str to int
        Totals by reason (e.g. ``WindowCounters.drops()`` plus queue overflows) and by
        source.
    latency : LatencySummary
        From :meth:`harbridge.runtime.latency.LatencyRing.summary`.
    uptime_s : float
        Seconds since the daemon started.
    interval_s, devices, queues, clock, t
        Optional: the metrics period, devices currently sending, queue depths by name,
        clock trouble by kind (totals since start), and the time of the report in seconds
        since the Unix epoch.
    """
    payload: dict[str, Any] = {
        "schema": METRICS_SCHEMA,
        "device": check_device_id(device),
        "samples": _count("samples", samples),
        "windows": _count("windows", windows),
        "predictions": _count("predictions", predictions),
        "drops": _counts("drops", drops),
        "parse_errors": _counts("parse_errors", parse_errors),
        "reconnects": _count("reconnects", reconnects),
        "latency_ms": {
            "p50": _rounded_ms("latency p50", latency.p50),
            "p99": _rounded_ms("latency p99", latency.p99),
            "count": _count("latency count", latency.count),
        },
        "uptime_s": round(_number("uptime_s", uptime_s, 0.0), _MS_DIGITS),
    }
    if interval_s is not None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
        payload["interval_s"] = _number("interval_s", interval_s)
    if devices is not None:
        payload["devices"] = _count("devices", devices)
    if queues is not None:
        payload["queues"] = _counts("queues", queues)
    if clock is not None:
        payload["clock"] = _counts("clock", clock)
    if t is not None:
        payload["t"] = _number("t", t, 0.0)
    return payload


def _rounded_ms(name: str, value: float | None) -> float | None:
    return None if value is None else round(_number(name, value, 0.0), _MS_DIGITS)


def encode(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON of a payload; NaN or infinity raise ValueError (invalid JSON)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def load_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``name`` in :data:`SCHEMA_NAMES`, as a fresh dict."""
    if name not in SCHEMA_NAMES:
        raise ValueError(f"no schema {name!r}; choose one of {', '.join(SCHEMA_NAMES)}")
    text = (
        resources.files("harbridge.runtime")
        .joinpath("schemas", f"{name}.schema.json")
        .read_text(encoding="utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema
