"""Tests of harbridge.runtime.payloads: topics, payload builders and their JSON Schemas."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harbridge.runtime.latency import LatencySummary
from harbridge.runtime.payloads import (
    SCHEMA_NAMES,
    check_device_id,
    encode,
    load_schema,
    metrics_payload,
    metrics_topic,
    model_id,
    prediction_payload,
    prediction_topic,
    status_payload,
    status_topic,
    subscription_topic,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "schemas"
CLASSES = ("walk", "sit", "wave")


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def prediction(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "device": "wrist-07",
        "seq": 41,
        "t_start": 12.5,
        "t_end": 14.5,
        "label": "sit",
        "confidence": 0.8123456789,
        "class_names": CLASSES,
        "probs": [0.1, 0.8123456789, 0.0876543211],
        "unknown": False,
        "latency_ms": 3.14159,
        "model": model_id("kitchen", "ab" * 32),
    }
    return prediction_payload(**{**fields, **changes})


def metrics(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "samples": 1000,
        "windows": 20,
        "predictions": 19,
        "drops": {"out_of_order": 2, "queue_full": 0},
        "parse_errors": {"serial:/dev/ttyUSB0": 1},
        "reconnects": 3,
        "latency": LatencySummary(4.2, 9.75, 19),
        "uptime_s": 60.0,
    }
    return metrics_payload("pi-kitchen", **{**fields, **changes})


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_docs_hold_the_packaged_schemas(name: str) -> None:
    filename = f"{name}.schema.json"
    packaged = resources.files("harbridge.runtime").joinpath("schemas", filename).read_bytes()
    assert (DOCS / filename).read_bytes() == packaged
    schema = load_schema(name)
    assert schema == json.loads(packaged)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_docs_hold_no_other_schema() -> None:
    assert sorted(p.name for p in DOCS.glob("*.json")) == sorted(
        f"{name}.schema.json" for name in SCHEMA_NAMES
    )


def test_prediction_payload_is_exactly_the_contract() -> None:
    payload = prediction()
    assert payload == {
        "schema": "harbridge.prediction/1",
        "device": "wrist-07",
        "seq": 41,
        "t_start": 12.5,
        "t_end": 14.5,
        "label": "sit",
        "confidence": 0.812346,
        "probs": {"walk": 0.1, "sit": 0.812346, "wave": 0.087654},
        "unknown": False,
        "latency_ms": 3.142,
        "model": "kitchen@abababababab",
    }
    validator("prediction").validate(payload)
    assert json.loads(encode(payload)) == payload


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(prediction(), id="known"),
        pytest.param(prediction(label="unknown", unknown=True), id="unknown"),
        pytest.param(prediction(seq=0, latency_ms=0.0), id="zeros"),
    ],
)
def test_built_predictions_validate(payload: dict[str, Any]) -> None:
    validator("prediction").validate(payload)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"schema": "harbridge.prediction/2"}, "schema"),
        ({"seq": -1}, "seq"),
        ({"seq": 1.5}, "seq"),
        ({"confidence": 1.2}, "confidence"),
        ({"probs": {"sit": "high"}}, "probs"),
        ({"probs": {}}, "probs"),
        ({"device": "a/b"}, "device"),
        ({"device": ""}, "device"),
        ({"unknown": "no"}, "unknown"),
        ({"label": "unknown"}, "label"),  # unknown label but unknown is false
        ({"unknown": True}, "label"),  # unknown but a class label
        ({"latency_ms": -1}, "latency_ms"),
        ({"extra": 1}, ""),
    ],
)
def test_invalid_predictions_fail_the_schema(change: dict[str, Any], path: str) -> None:
    payload = {**prediction(), **change}
    errors = list(validator("prediction").iter_errors(payload))
    assert errors
    assert any(".".join(str(p) for p in error.absolute_path).startswith(path) for error in errors)


@pytest.mark.parametrize("missing", ["schema", "device", "seq", "probs", "model", "latency_ms"])
def test_predictions_missing_a_field_fail_the_schema(missing: str) -> None:
    payload = prediction()
    del payload[missing]
    assert not validator("prediction").is_valid(payload)


@pytest.mark.parametrize(
    "change",
    [
        {"device": "a+b"},
        {"seq": -1},
        {"probs": [0.5, 0.6, float("nan")]},
        {"probs": [0.5, 0.5]},
        {"confidence": 1.5},
        {"label": "dance"},
        {"label": "unknown"},
        {"unknown": True},
        {"latency_ms": -0.1},
        {"t_start": float("inf")},
        {"model": ""},
    ],
)
def test_prediction_builder_refuses_what_would_break_the_contract(
    change: dict[str, Any],
) -> None:
    with pytest.raises(ValueError):
        prediction(**change)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(status_payload("wrist-07", "online"), id="device-online"),
        pytest.param(
            status_payload("pi-kitchen", "online", role="daemon", model="m@1", t=1.7e9),
            id="daemon-online",
        ),
        pytest.param(status_payload("pi-kitchen", "offline", role="daemon"), id="last-will"),
    ],
)
def test_status_payloads_validate(payload: dict[str, Any]) -> None:
    validator("status").validate(payload)
    assert payload["schema"] == "harbridge.status/1"


def test_status_payload_fields() -> None:
    payload = status_payload("pi", "online", role="daemon", model="m@1", t=5.0)
    assert payload["state"] == "online" and payload["device"] == "pi"
    assert (payload["role"], payload["model"], payload["t"]) == ("daemon", "m@1", 5.0)
    assert set(status_payload("pi", "offline")) == {"schema", "state", "device", "role", "version"}


@pytest.mark.parametrize(
    "change",
    [{"state": "away"}, {"role": "broker"}, {"device": "#"}, {"t": -1}, {"colour": "red"}],
)
def test_invalid_status_fails_the_schema(change: dict[str, Any]) -> None:
    assert not validator("status").is_valid({**status_payload("pi", "online"), **change})


def test_status_builder_refuses_bad_values() -> None:
    with pytest.raises(ValueError):
        status_payload("pi", "away")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        status_payload("p/i", "online")


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(metrics(), id="required"),
        pytest.param(metrics(latency=LatencySummary(None, None, 0)), id="no-latency"),
        pytest.param(
            metrics(interval_s=10.0, devices=3, queues={"samples": 0, "publish": 5}, t=1.7e9),
            id="optional",
        ),
    ],
)
def test_metrics_payloads_validate(payload: dict[str, Any]) -> None:
    validator("metrics").validate(payload)


def test_metrics_payload_fields() -> None:
    payload = metrics()
    assert payload["latency_ms"] == {"p50": 4.2, "p99": 9.75, "count": 19}
    assert payload["drops"] == {"out_of_order": 2, "queue_full": 0}
    assert (payload["samples"], payload["reconnects"], payload["uptime_s"]) == (1000, 3, 60.0)


@pytest.mark.parametrize(
    "change",
    [
        {"samples": -1},
        {"drops": {"queue_full": 1.5}},
        {"latency_ms": {"p50": 1.0}},
        {"latency_ms": {"p50": -1.0, "p99": 2.0}},
        {"uptime_s": "long"},
        {"interval_s": 0},
        {"cpu": 0.3},
    ],
)
def test_invalid_metrics_fail_the_schema(change: dict[str, Any]) -> None:
    assert not validator("metrics").is_valid({**metrics(), **change})


@pytest.mark.parametrize(
    "change",
    [
        {"samples": -1},
        {"windows": True},
        {"drops": {"x": -2}},
        {"uptime_s": float("nan")},
        {"latency": LatencySummary(float("inf"), 1.0, 1)},
        {"interval_s": 0.0},
    ],
)
def test_metrics_builder_refuses_bad_values(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        metrics(**change)


def test_topics() -> None:
    assert prediction_topic("harbridge", "wrist-07") == "harbridge/wrist-07/prediction"
    assert status_topic("site-3/harbridge", "pi") == "site-3/harbridge/pi/status"
    assert metrics_topic("harbridge", "pi") == "harbridge/pi/metrics"
    assert subscription_topic("harbridge", "prediction") == "harbridge/+/prediction"
    assert subscription_topic("harbridge", "status", "pi") == "harbridge/pi/status"


@pytest.mark.parametrize("device", ["", "a/b", "a+b", "a#", "tab\there", "nul\x00"])
def test_bad_device_ids_are_refused_in_topics(device: str) -> None:
    with pytest.raises(ValueError):
        prediction_topic("harbridge", device)
    with pytest.raises(ValueError):
        check_device_id(device)


@pytest.mark.parametrize("prefix", ["", "/harbridge", "harbridge/", "a//b", "a/+", "#"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError):
        status_topic(prefix, "pi")


def test_encode_is_compact_utf8_and_refuses_nan() -> None:
    assert encode({"device": "küche", "x": [1, 2]}) == '{"device":"küche","x":[1,2]}'.encode()
    with pytest.raises(ValueError):
        encode({"x": float("nan")})


def test_unknown_schema_name_is_refused() -> None:
    with pytest.raises(ValueError, match="prediction, status, metrics"):
        load_schema("bundle")
