"""Properties of every framing parser on arbitrary input (hypothesis).

Any byte string, cut anywhere, must parse without an exception into well-formed batches,
and the cuts must not change what comes out. Valid data must survive a round trip.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from harbridge.drivers.csv_lines import CsvLineParser
from harbridge.drivers.json_lines import JsonLineParser
from harbridge.drivers.mqtt_payload import PayloadError, parse_mqtt_payload
from harbridge.drivers.parse_stats import KINDS, FramingLimits, ParseStats
from harbridge.drivers.samples import SampleBatch
from harbridge.drivers.witmotion import WITMOTION_CHANNELS, WitMotionParser, encode_witmotion

CHANNELS = ("ax", "ay", "gz")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class StreamParser(Protocol):
    stats: ParseStats

    def feed(self, data: bytes) -> list[SampleBatch]: ...


PARSERS: dict[str, Callable[[], StreamParser]] = {
    "csv": lambda: CsvLineParser("d", CHANNELS, FramingLimits(max_line_bytes=64)),
    "csv_default_header": lambda: CsvLineParser(
        "d", CHANNELS, FramingLimits(max_line_bytes=64), default_header=("gz", "t", "ay", "ax")
    ),
    "jsonl": lambda: JsonLineParser("d", CHANNELS, FramingLimits(max_line_bytes=64)),
    "witmotion": lambda: WitMotionParser("d"),
}

TOKENS = [
    b"t", b"ax", b"ay", b"gz", b"x", b",", b"\n", b"\r", b" ", b"0", b"1.5", b"-2e3",
    b"nan", b"inf", b"1e999", b"\xff", b"\xc3", b'{"', b'":', b"}", b"[", b"true", b"null",
    b"NaN", b"\x55", b"\x51", b"\x52", b"\x53",
    encode_witmotion([[1.0, 2.0, 9.8]], [[0.1, 0.2, 0.3]]),
]  # fmt: skip

#: Bytes that mean something to one parser or another, and bytes that mean nothing.
hostile_bytes = st.one_of(
    st.binary(max_size=400),
    st.lists(st.sampled_from(TOKENS), max_size=120).map(b"".join),
)


def feed_in_pieces(parser: StreamParser, data: bytes, cuts: Sequence[int]) -> list[SampleBatch]:
    bounds = [0, *sorted({c % (len(data) + 1) for c in cuts}), len(data)]
    return [b for lo, hi in itertools.pairwise(bounds) for b in parser.feed(data[lo:hi])]


def as_rows(batches: Sequence[SampleBatch]) -> list[tuple[float, ...]]:
    """Every sample as (t or NaN, channel values...), to compare outputs cut differently."""
    rows: list[tuple[float, ...]] = []
    for batch in batches:
        t = np.full(len(batch), np.nan) if batch.t is None else batch.t
        rows += zip(t, *batch.channels.values(), strict=True)
    return rows


def assert_well_formed(batch: SampleBatch, channels: Sequence[str]) -> None:
    assert batch.device == "d"
    assert tuple(batch.channels) == tuple(channels)
    n = len(batch)
    assert n > 0
    columns = [*batch.channels.values()] + ([] if batch.t is None else [batch.t])
    for column in columns:
        assert column.dtype == np.float64
        assert column.shape == (n,)
        assert np.isfinite(column).all()


@SETTINGS
@given(
    name=st.sampled_from(sorted(PARSERS)),
    data=hostile_bytes,
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
)
def test_any_bytes_cut_anywhere_parse_the_same(name: str, data: bytes, cuts: list[int]) -> None:
    whole = PARSERS[name]()
    expected = whole.feed(data)
    pieces = PARSERS[name]()
    got = feed_in_pieces(pieces, data, cuts)
    channels = WITMOTION_CHANNELS if name == "witmotion" else CHANNELS
    for batch in expected + got:
        assert_well_formed(batch, channels)
    assert_array_equal(np.array(as_rows(got)), np.array(as_rows(expected)))
    assert pieces.stats == whole.stats
    assert set(whole.stats.counts) <= set(KINDS)
    assert all(n > 0 for n in whole.stats.counts.values())


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers()
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)
payload_objects = st.dictionaries(
    st.sampled_from(["t", *CHANNELS, "other"]),
    json_values | st.lists(st.floats() | st.integers(), max_size=5),
    max_size=6,
)


@SETTINGS
@given(
    payload=st.one_of(
        hostile_bytes,
        payload_objects.map(lambda obj: json.dumps(obj).encode()),
    )
)
def test_any_payload_is_a_batch_or_a_payload_error(payload: bytes) -> None:
    limits = FramingLimits(max_payload_bytes=300, max_samples=4)
    stats = ParseStats()
    try:
        batch = parse_mqtt_payload(payload, "d", CHANNELS, limits, stats)
    except PayloadError as exc:
        assert exc.kind in KINDS
        return
    if len(batch):
        assert_well_formed(batch, CHANNELS)
    assert set(stats.counts) <= {"non_finite"}


finite = st.floats(allow_nan=False, allow_infinity=False)
sample_rows = st.lists(st.tuples(finite, finite, finite, finite), min_size=1, max_size=30)


@SETTINGS
@given(rows=sample_rows, cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=6))
def test_csv_round_trip_is_exact(rows: list[tuple[float, ...]], cuts: list[int]) -> None:
    text = "gz,t,ay,ax\n" + "".join(f"{gz!r},{t!r},{ay!r},{ax!r}\n" for t, ax, ay, gz in rows)
    parser = CsvLineParser("d", CHANNELS)
    assert as_rows(feed_in_pieces(parser, text.encode(), cuts)) == rows
    assert parser.stats.counts == {"header": 1}


@SETTINGS
@given(rows=sample_rows, cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=6))
def test_jsonl_round_trip_is_exact(rows: list[tuple[float, ...]], cuts: list[int]) -> None:
    text = "".join(
        json.dumps({"gz": gz, "t": t, "ay": ay, "ax": ax, "n": "x"}) + "\n"
        for t, ax, ay, gz in rows
    )
    parser = JsonLineParser("d", CHANNELS)
    assert as_rows(feed_in_pieces(parser, text.encode(), cuts)) == rows
    assert parser.stats.counts == {}


@SETTINGS
@given(rows=sample_rows)
def test_mqtt_round_trip_is_exact(rows: list[tuple[float, ...]]) -> None:
    t, ax, ay, gz = (list(column) for column in zip(*rows, strict=True))
    payload = json.dumps({"gz": gz, "ay": ay, "t": t, "ax": ax}).encode()
    assert as_rows([parse_mqtt_payload(payload, "d", CHANNELS)]) == rows


@SETTINGS
@given(
    n=st.integers(min_value=1, max_value=20),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    garbage=st.lists(
        st.tuples(st.integers(min_value=0), st.binary(min_size=1, max_size=30)), max_size=6
    ),
)
def test_witmotion_recovers_every_packet_around_garbage(
    n: int, seed: int, garbage: list[tuple[int, bytes]]
) -> None:
    rng = np.random.default_rng(seed)
    data = encode_witmotion(rng.normal(0, 30, (n, 3)), rng.normal(0, 5, (n, 3)))
    packets = [data[i : i + 11] for i in range(0, len(data), 11)]
    # Garbage without a header byte cannot pose as a packet, so nothing may be lost.
    for position, junk in garbage:
        packets.insert(position % (len(packets) + 1), junk.replace(b"\x55", b"\x00"))
    parser = WitMotionParser("d")
    got = as_rows(parser.feed(b"".join(packets)))
    clean = as_rows(WitMotionParser("d").feed(data))
    assert len(got) == n
    assert_array_equal(np.array(got), np.array(clean))
    assert parser.stats.counts.get("resync_bytes", 0) == sum(len(j) for _, j in garbage)
    assert math.isclose(parser.stats.total, 0)
