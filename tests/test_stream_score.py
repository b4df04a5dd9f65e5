"""Scoring streamed predictions against action segments."""

from __future__ import annotations

from pathlib import Path

import pytest

from harbridge.calibration.stream_score import Segment, load_segments, score_stream, truth_of
from harbridge.errors import InputError

SEGMENTS = [Segment(2.0, 6.0, "wave"), Segment(9.0, 12.0, "clap")]


@pytest.mark.parametrize(
    ("window", "truth"),
    [
        ((2.0, 4.56), "wave"),
        ((0.5, 3.06), None),
        ((0.6, 3.4), "wave"),
        ((6.5, 9.06), None),
        ((8.0, 10.56), "clap"),
    ],
)
def test_truth_needs_half_the_window_inside_a_segment(
    window: tuple[float, float], truth: str | None
) -> None:
    assert truth_of(*window, SEGMENTS) == truth


def test_score_counts_only_windows_inside_actions() -> None:
    predictions = [(2.0, 4.5, "wave"), (3.0, 5.5, "clap"), (6.5, 8.0, "wave"), (9.0, 11.0, "clap")]
    score = score_stream(predictions, SEGMENTS)
    assert (score.scored, score.correct, score.unscored) == (3, 2, 1)
    assert score.accuracy == pytest.approx(2 / 3)


def test_segments_file_round_trip_and_bad_file(tmp_path: Path) -> None:
    good = tmp_path / "segments.csv"
    good.write_text("t_start,t_end,label\n2.0,6.0,wave\n9,12,clap\n")
    assert load_segments(good) == SEGMENTS
    bad = tmp_path / "bad.csv"
    bad.write_text("start,end\n1,2\n")
    with pytest.raises(InputError, match=r"bad\.csv: segments"):
        load_segments(bad)
