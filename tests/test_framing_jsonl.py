"""JSON-lines framing: mapping by name, optional t, every error kind, chunking."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from harbridge.drivers.json_lines import JsonLineParser, decode_json
from harbridge.drivers.parse_stats import FramingLimits
from harbridge.drivers.samples import SampleBatch

CHANNELS = ("ax", "ay", "az", "gx", "gy", "gz")


def joined(batches: Sequence[SampleBatch]) -> dict[str, np.ndarray]:
    """All samples of ``batches`` as one column per name; ``t`` is NaN where absent."""
    out: dict[str, list[np.ndarray]] = {"t": []}
    for batch in batches:
        out["t"].append(np.full(len(batch), np.nan) if batch.t is None else batch.t)
        for name, values in batch.channels.items():
            out.setdefault(name, []).append(values)
    return {name: np.concatenate(parts) if parts else np.empty(0) for name, parts in out.items()}


def line(**values: object) -> bytes:
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in values.items()) + "}\n").encode()


def test_keys_are_matched_by_name_and_extras_ignored() -> None:
    parser = JsonLineParser("wrist", CHANNELS)
    data = (
        b'{"gz": 6, "note": "hi", "t": 1.02, "ay": 2.5, "ax": -1, "gy": 5, "az": 3, "gx": 4}\n'
        b'{"ax": 11, "ay": 12, "az": 13, "gx": 14, "gy": 15, "gz": 16, "t": 1.03, "x": [1]}\n'
    )
    (batch,) = parser.feed(data)
    assert batch.device == "wrist"
    assert list(batch.channels) == list(CHANNELS)
    assert batch.t is not None
    assert_array_equal(batch.t, [1.02, 1.03])
    assert_array_equal(batch.channels["ax"], [-1.0, 11.0])
    assert_array_equal(batch.channels["ay"], [2.5, 12.0])
    assert_array_equal(batch.channels["gz"], [6.0, 16.0])
    assert batch.channels["ax"].dtype == np.float64
    assert parser.stats.counts == {}


def test_lines_with_and_without_t_form_separate_batches_in_order() -> None:
    parser = JsonLineParser("d", ("ax",))
    batches = parser.feed(line(ax=1) + line(ax=2) + line(t=0.5, ax=3) + line(ax=4))
    assert [None if b.t is None else b.t.tolist() for b in batches] == [None, [0.5], None]
    assert joined(batches)["ax"].tolist() == [1.0, 2.0, 3.0, 4.0]


GOOD_BEFORE = line(t=0.0, ax=1, ay=2)
GOOD_AFTER = line(t=0.02, ax=11, ay=12)


@pytest.mark.parametrize(
    ("garbage", "kind"),
    [
        (b'{"t": 0.01, "ax": 1, "ay": 2', "bad_json"),
        (b"hello", "bad_json"),
        (b'{"ax": 1, "ay": 2} {"ax": 1, "ay": 2}', "bad_json"),
        (b"[1, 2]", "bad_json"),
        (b"3.5", "bad_json"),
        (b"[" * 3000, "bad_json"),
        (b'{"t": 0.01, "ax": 1}', "missing_channel"),
        (b'{"t": 0.01, "AX": 1, "ay": 2}', "missing_channel"),
        (b'{"t": 0.01, "ax": true, "ay": 2}', "bad_number"),
        (b'{"t": 0.01, "ax": null, "ay": 2}', "bad_number"),
        (b'{"t": 0.01, "ax": "1.5", "ay": 2}', "bad_number"),
        (b'{"t": 0.01, "ax": [1], "ay": 2}', "bad_number"),
        (b'{"t": 0.01, "ax": {"v": 1}, "ay": 2}', "bad_number"),
        (b'{"t": "now", "ax": 1, "ay": 2}', "bad_number"),
        (b'{"t": 0.01, "ax": NaN, "ay": 2}', "non_finite"),
        (b'{"t": 0.01, "ax": 1, "ay": -Infinity}', "non_finite"),
        (b'{"t": Infinity, "ax": 1, "ay": 2}', "non_finite"),
        (b'{"t": 0.01, "ax": 1e999, "ay": 2}', "non_finite"),
        (b'{"t": 0.01, "ax": ' + b"9" * 5000 + b', "ay": 2}', "line_too_long"),
        (b'{"t": 0.01, "ax": ' + b"9" * 400 + b', "ay": 2}', "non_finite"),
        (b'{"t": 0.01, "ax": 1, "ay": 2, "note": "\xff"}', "bad_utf8"),
        (b" " * 10_000, "line_too_long"),
    ],
    ids=lambda value: value[:40] if isinstance(value, bytes) else value,
)
def test_bad_line_is_counted_and_neighbours_survive(garbage: bytes, kind: str) -> None:
    parser = JsonLineParser("d", ("ax", "ay"))
    out = joined(parser.feed(GOOD_BEFORE + garbage + b"\n" + GOOD_AFTER))
    assert out["t"].tolist() == [0.0, 0.02]
    assert out["ay"].tolist() == [2.0, 12.0]
    assert parser.stats.counts == {kind: 1}


@pytest.mark.parametrize(
    "nested", [b"[" * 50_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000], ids=["list", "object"]
)
def test_deep_nesting_is_bad_json_not_a_crash(nested: bytes) -> None:
    parser = JsonLineParser("d", ("ax",), FramingLimits(max_line_bytes=1_000_000))
    assert parser.feed(nested + b"\n" + line(ax=1))[0].channels["ax"].tolist() == [1.0]
    assert parser.stats.counts == {"bad_json": 1}


def test_huge_integer_is_non_finite_not_a_crash() -> None:
    parser = JsonLineParser("d", ("ax",), FramingLimits(max_line_bytes=20_000))
    assert parser.feed(line(ax="9" * 10_000) + line(ax=1))[0].channels["ax"].tolist() == [1.0]
    assert parser.stats.counts == {"non_finite": 1}


def test_decode_json_reads_every_number_as_float() -> None:
    assert decode_json('{"a": 1, "b": [2, 3.5, true]}') == {"a": 1.0, "b": [2.0, 3.5, True]}
    assert type(decode_json("7")) is float


STREAM = (
    b"".join(line(t=k / 100, ax=k, ay=-k) for k in range(30))
    + b"not json\n"
    + line(t=0.5, ax="NaN", ay=0)
    + b"x" * 6000
    + b"\n\r\n"
    + b"".join(line(ax=k, ay=k) for k in range(10))
    + line(ax="true", ay=0)
    + b'{"ax": 1, "ay": 2'  # unfinished last line
)


@pytest.mark.parametrize("chunk", [1, 2, 5, 13, 64, 1000, len(STREAM)])
def test_chunk_boundaries_do_not_change_output(chunk: int) -> None:
    whole = JsonLineParser("d", ("ax", "ay"))
    expected = joined(whole.feed(STREAM))
    pieces = JsonLineParser("d", ("ax", "ay"))
    batches = [b for i in range(0, len(STREAM), chunk) for b in pieces.feed(STREAM[i : i + chunk])]
    got = joined(batches)
    for name in ("t", "ax", "ay"):
        assert_array_equal(got[name], expected[name])
    assert pieces.stats == whole.stats
    assert len(expected["ax"]) == 40
    assert whole.stats.counts == {
        "bad_json": 1,
        "non_finite": 1,
        "line_too_long": 1,
        "bad_number": 1,
    }
