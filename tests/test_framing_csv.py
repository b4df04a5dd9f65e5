"""Serial CSV framing: mapping by name, headers, every error kind, chunking, line bounds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from harbridge.drivers.csv_lines import CsvLineParser, column_picks, is_header
from harbridge.drivers.line_splitter import LineSplitter
from harbridge.drivers.parse_stats import FramingLimits, ParseStats
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


def feed_all(parser: CsvLineParser, data: bytes, chunk: int) -> list[SampleBatch]:
    return [b for i in range(0, len(data), chunk) for b in parser.feed(data[i : i + chunk])]


def test_columns_are_matched_by_name_not_position() -> None:
    parser = CsvLineParser("wrist", CHANNELS)
    data = b"gz,extra,t,ay,ax,gy,az,gx\n6,hello,0.5,2,1,5,3,4\n16,,0.51,12,11,15,13,14\n"
    (batch,) = parser.feed(data)
    assert batch.device == "wrist"
    assert list(batch.channels) == list(CHANNELS)
    assert batch.t is not None
    assert_array_equal(batch.t, [0.5, 0.51])
    for offset, name in enumerate(CHANNELS, start=1):
        assert_array_equal(batch.channels[name], [offset, 10 + offset])
    assert parser.stats.counts == {"header": 1}


def test_without_t_column_batches_have_no_times() -> None:
    parser = CsvLineParser("d", ("ax", "ay", "az"))
    (batch,) = parser.feed(b"ax,ay,az\r\n0.1,-9.81,1e-3\r\n")
    assert batch.t is None
    assert_allclose(batch.channels["ay"], [-9.81], rtol=0, atol=0)
    assert_allclose(batch.channels["az"], [1e-3], rtol=0, atol=0)


def test_data_before_any_header_is_dropped_and_counted() -> None:
    parser = CsvLineParser("d", ("ax",))
    assert parser.feed(b"1.0\n2.0\nax\n3.0\n")[0].channels["ax"].tolist() == [3.0]
    assert parser.stats.counts == {"no_header": 2, "header": 1}


def test_default_header_applies_until_the_device_sends_one() -> None:
    parser = CsvLineParser("d", ("ax", "ay"), default_header=("ay", "ax"))
    batches = parser.feed(b"1,2\nt,ax,ay\n0.0,3,4\n")
    assert [b.t is None for b in batches] == [True, False]
    assert batches[0].channels["ax"].tolist() == [2.0]
    assert batches[1].channels["ax"].tolist() == [3.0]
    assert parser.stats.counts == {"header": 1}


@pytest.mark.parametrize(
    ("default_header", "channels"),
    [(("ax",), ("ax", "ay")), (("ax", "ax"), ("ax",)), (("t", "ay"), ("t",)), ((), ())],
)
def test_unusable_configuration_is_refused(
    default_header: tuple[str, ...], channels: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match=r"channel|header|time"):
        CsvLineParser("d", channels, default_header=default_header)


def test_repeated_header_remaps_columns() -> None:
    # The device rebooted and came back with a different column order and no t column.
    parser = CsvLineParser("d", ("ax", "ay"))
    batches = parser.feed(b"t,ax,ay\n0.0,1,2\nay,ax\n3,4\nay,ax\n5,6\n")
    assert [b.t is None for b in batches] == [False, True, True]
    assert joined(batches)["ax"].tolist() == [1.0, 4.0, 6.0]
    assert joined(batches)["ay"].tolist() == [2.0, 3.0, 5.0]
    assert parser.stats.counts == {"header": 3}


@pytest.mark.parametrize(
    ("bad_header", "kind"),
    [(b"t,ax,gx", "missing_channel"), (b"ax,ay,ax", "duplicate_column")],
)
def test_unusable_header_stops_data_until_a_good_one(bad_header: bytes, kind: str) -> None:
    parser = CsvLineParser("d", ("ax", "ay"))
    data = b"ax,ay\n1,2\n" + bad_header + b"\n7,8,9\n7,8,9\nay,ax\n3,4\n"
    assert joined(parser.feed(data))["ax"].tolist() == [1.0, 4.0]
    assert parser.stats.counts == {"header": 3, kind: 1, "no_header": 2}


def test_duplicates_among_ignored_columns_are_harmless() -> None:
    parser = CsvLineParser("d", ("ax",))
    assert parser.feed(b"x,ax,x\n1,2,3\n")[0].channels["ax"].tolist() == [2.0]


GOOD_BEFORE = b"t,ax,ay,az,gx,gy,gz\n0.00,1,2,3,4,5,6\n"
GOOD_AFTER = b"0.02,11,12,13,14,15,16\n"


@pytest.mark.parametrize(
    ("garbage", "kind"),
    [
        (b"0.01,1,2,3", "too_few_columns"),
        (b"0.01,1,2,3,4,5,6,70.01,1,2,3,4,5,6", "too_many_columns"),
        (b"0.01,1,oops,3,4,5,6", "bad_number"),
        (b"0.01,1,,3,4,5,6", "bad_number"),
        (b"0.01,true,2,3,4,5,6", "bad_number"),
        (b"0.01,1,2\xff\xfe,3,4,5,6", "bad_utf8"),
        (b"\xc3\x28", "bad_utf8"),
        (b"0.01,nan,2,3,4,5,6", "non_finite"),
        (b"0.01,1,2,3,4,5,-inf", "non_finite"),
        (b"nan,1,2,3,4,5,6", "non_finite"),
        (b"0.01,1e999,2,3,4,5,6", "non_finite"),
        (b"nan,nan,nan,nan,nan,nan,nan", "non_finite"),
        (b"9" * 10_000, "line_too_long"),
        (b"0.01," * 2000, "line_too_long"),
    ],
    ids=lambda value: value[:40] if isinstance(value, bytes) else value,
)
def test_bad_line_is_counted_and_neighbours_survive(garbage: bytes, kind: str) -> None:
    parser = CsvLineParser("d", CHANNELS)
    out = joined(parser.feed(GOOD_BEFORE + garbage + b"\n" + GOOD_AFTER))
    assert out["t"].tolist() == [0.0, 0.02]
    assert out["gz"].tolist() == [6.0, 16.0]
    assert parser.stats.counts == {"header": 1, kind: 1}


def test_blank_lines_are_skipped_silently() -> None:
    parser = CsvLineParser("d", ("ax",))
    assert parser.feed(b"\n\r\nax\n \t\n1\n\n")[0].channels["ax"].tolist() == [1.0]
    assert parser.stats.counts == {"header": 1}


@pytest.mark.parametrize("max_line_bytes", [8, 16, 4096])
def test_line_limit_is_exact(max_line_bytes: int) -> None:
    parser = CsvLineParser("d", ("ax",), FramingLimits(max_line_bytes=max_line_bytes))
    fits = b"0." + b"0" * (max_line_bytes - 3) + b"1"
    too_long = b"0" + fits
    out = joined(parser.feed(b"ax\n" + fits + b"\n" + too_long + b"\n" + fits + b"\n"))
    assert out["ax"].tolist() == [float(fits)] * 2
    assert parser.stats.counts == {"header": 1, "line_too_long": 1}


@pytest.mark.parametrize("chunk", [1, 100, 4095, 4097])
def test_overlong_line_is_never_buffered_whole(chunk: int) -> None:
    stats = ParseStats()
    splitter = LineSplitter(4096, stats)
    data = b"ok\n" + b"x" * 10_000 + b"\nnext\n"
    lines = []
    for i in range(0, len(data), chunk):
        lines += splitter.feed(data[i : i + chunk])
        assert splitter.buffered_bytes <= 4096
    assert lines == ["ok", "next"]
    assert stats.counts == {"line_too_long": 1}


STREAM = (
    b"1,2,3,4,5,6\n"  # before any header
    + GOOD_BEFORE
    + b"0.01,1,2,3,4,5\n"
    + b"0.011,nan,2,3,4,5,6\r\n"
    + b"\xff" * 50
    + b"\n"
    + b"z" * 5000
    + b"\n"
    + GOOD_AFTER
    + b"gx,gy,gz,ax,ay,az\n"
    + b"".join(b"%d,%d,%d,%d,%d,%d\n" % tuple(range(k, k + 6)) for k in range(40))
    + b"ax,ay\n9,9\n"
    + b"t,gz,gy,gx,az,ay,ax\n0.5,1,2,3,4,5,6\n0.6,1,2,3"  # unfinished last line
)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 11, 64, 1000, len(STREAM)])
def test_chunk_boundaries_do_not_change_output(chunk: int) -> None:
    whole = CsvLineParser("d", CHANNELS)
    expected = joined(whole.feed(STREAM))
    pieces = CsvLineParser("d", CHANNELS)
    got = joined(feed_all(pieces, STREAM, chunk))
    assert got.keys() == expected.keys()
    for name in expected:
        assert_array_equal(got[name], expected[name])
    assert pieces.stats == whole.stats
    assert len(expected["ax"]) == 2 + 40 + 1
    assert whole.stats.counts == {
        "no_header": 2,
        "header": 4,
        "too_few_columns": 1,
        "non_finite": 1,
        "bad_utf8": 1,
        "line_too_long": 1,
        "missing_channel": 1,
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (["t", " ax", "ay "], True),
        (["acc_x", "_raw2"], True),
        (["nan", "inf"], False),
        (["t", "Infinity"], False),
        (["t", "1"], False),
        (["t", ""], False),
        (["a b"], False),
    ],
)
def test_is_header(fields: list[str], expected: bool) -> None:
    assert is_header(fields) is expected


def test_column_picks_put_t_first_then_channels_in_order() -> None:
    assert column_picks(["az", "t", "ax"], ("ax", "az")) == (1, 2, 0)
    assert column_picks(["az", "ax"], ("ax", "az")) == (1, 0)
    assert column_picks(["az"], ("ax", "az")) == "missing_channel"
    assert column_picks(["t", "t", "ax"], ("ax",)) == "duplicate_column"


def test_parse_stats_total_and_unknown_kind() -> None:
    stats = ParseStats()
    stats.add("header")
    stats.add("resync_bytes", 40)
    stats.add("bad_number")
    stats.add("non_finite", 3)
    assert stats.total == 4
    with pytest.raises(ValueError, match="unknown parse error kind"):
        stats.add("typo_kind")


@pytest.mark.parametrize("field", ["max_line_bytes", "max_payload_bytes", "max_samples"])
def test_limits_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        FramingLimits(**{field: 0})
