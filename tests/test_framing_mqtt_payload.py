"""MQTT IMU payloads: column-oriented JSON, single samples, bounds and every error kind."""

from __future__ import annotations

import json

import pytest
from numpy.testing import assert_array_equal

from harbridge.drivers.mqtt_payload import PayloadError, parse_mqtt_payload
from harbridge.drivers.parse_stats import DEFAULT_LIMITS, FramingLimits, ParseStats
from harbridge.errors import HarbridgeError

CHANNELS = ("ax", "ay", "az")


def test_columns_are_matched_by_name_and_extras_ignored() -> None:
    payload = b'{"az": [3, 13], "seq": "x", "t": [0.5, 0.51], "ay": [2, 12.5], "ax": [1, -11]}'
    batch = parse_mqtt_payload(payload, "wrist-07", CHANNELS)
    assert batch.device == "wrist-07"
    assert list(batch.channels) == list(CHANNELS)
    assert batch.t is not None
    assert_array_equal(batch.t, [0.5, 0.51])
    assert_array_equal(batch.channels["ax"], [1.0, -11.0])
    assert_array_equal(batch.channels["ay"], [2.0, 12.5])
    assert_array_equal(batch.channels["az"], [3.0, 13.0])


def test_single_sample_may_use_plain_numbers() -> None:
    batch = parse_mqtt_payload(b'{"ax": 1, "ay": [2], "az": 3.5}', "d", CHANNELS)
    assert batch.t is None
    assert len(batch) == 1
    assert_array_equal(batch.channels["az"], [3.5])


def test_empty_columns_give_an_empty_batch() -> None:
    batch = parse_mqtt_payload(b'{"t": [], "ax": [], "ay": [], "az": []}', "d", CHANNELS)
    assert len(batch) == 0
    assert batch.t is not None
    assert batch.t.shape == (0,)


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b'{"ax": [1], "ay": [2], "az": [3]', "bad_json"),
        (b"", "bad_json"),
        (b"[1, 2, 3]", "bad_json"),
        (b'"ax"', "bad_json"),
        (b"[" * 100_000, "bad_json"),
        (b'{"ax": [1], "ay": [2], "az": [3]} {}', "bad_json"),
        (b'{"ax": [1], "ay": [2], "az": "\xff"}', "bad_utf8"),
        (b"\xfe\xff\x00{", "bad_utf8"),
        (b'{"ax": [1], "ay": [2]}', "missing_channel"),
        (b'{"ax": [1], "ay": [2], "Az": [3]}', "missing_channel"),
        (b'{"ax": [1], "ay": [2], "az": [true]}', "bad_number"),
        (b'{"ax": [1], "ay": [2], "az": true}', "bad_number"),
        (b'{"ax": [1], "ay": [2], "az": null}', "bad_number"),
        (b'{"ax": [1], "ay": [2], "az": ["3"]}', "bad_number"),
        (b'{"ax": [1], "ay": [2], "az": [[3]]}', "bad_number"),
        (b'{"ax": [1], "ay": [2], "az": {"v": [3]}}', "bad_number"),
        (b'{"t": "now", "ax": [1], "ay": [2], "az": [3]}', "bad_number"),
        (b'{"ax": [1, 2], "ay": [2], "az": [3]}', "unequal_lengths"),
        (b'{"t": [0], "ax": [1, 2], "ay": [2, 3], "az": [3, 4]}', "unequal_lengths"),
        (b'{"ax": 1, "ay": [2, 3], "az": [3, 4]}', "unequal_lengths"),
    ],
    ids=lambda value: value[:40] if isinstance(value, bytes) else value,
)
def test_bad_payload_raises_its_kind(payload: bytes, kind: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_mqtt_payload(payload, "d", CHANNELS)
    assert caught.value.kind == kind
    assert str(caught.value).startswith(f"{kind}: ")
    assert isinstance(caught.value, HarbridgeError)


def test_default_bounds() -> None:
    assert FramingLimits(4096, 256 * 1024, 10_000) == DEFAULT_LIMITS
    columns = {name: [0] * 10_001 for name in CHANNELS}
    with pytest.raises(PayloadError, match="10001 samples") as caught:
        parse_mqtt_payload(json.dumps(columns).encode(), "d", CHANNELS)
    assert caught.value.kind == "too_many_samples"
    at_limit = {name: [0] * 10_000 for name in CHANNELS}
    assert len(parse_mqtt_payload(json.dumps(at_limit).encode(), "d", CHANNELS)) == 10_000
    padded = b'{"ax": 1, "ay": 2, "az": 3, "pad": "' + b"x" * (256 * 1024) + b'"}'
    with pytest.raises(PayloadError) as caught:
        parse_mqtt_payload(padded, "d", CHANNELS)
    assert caught.value.kind == "payload_too_large"


@pytest.mark.parametrize(
    ("limits", "payload", "kind"),
    [
        (
            FramingLimits(max_samples=2),
            b'{"ax": [1, 2, 3], "ay": [2], "az": [3]}',
            "too_many_samples",
        ),
        (FramingLimits(max_payload_bytes=10), b'{"ax": 1, "ay": 2, "az": 3}', "payload_too_large"),
    ],
)
def test_configured_bounds(limits: FramingLimits, payload: bytes, kind: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_mqtt_payload(payload, "d", CHANNELS, limits)
    assert caught.value.kind == kind


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400", "9" * 400])
def test_non_finite_samples_are_dropped_and_counted(bad: str) -> None:
    payload = f'{{"t": [0, 1, 2], "ax": [1, {bad}, 3], "ay": [4, 5, 6], "az": [7, 8, 9]}}'
    stats = ParseStats()
    batch = parse_mqtt_payload(payload.encode(), "d", CHANNELS, stats=stats)
    assert batch.t is not None
    assert_array_equal(batch.t, [0.0, 2.0])
    assert_array_equal(batch.channels["ax"], [1.0, 3.0])
    assert_array_equal(batch.channels["az"], [7.0, 9.0])
    assert stats.counts == {"non_finite": 1}


def test_non_finite_time_drops_the_sample_too() -> None:
    stats = ParseStats()
    batch = parse_mqtt_payload(b'{"t": NaN, "ax": 1, "ay": 2, "az": 3}', "d", CHANNELS, stats=stats)
    assert len(batch) == 0
    assert stats.counts == {"non_finite": 1}
