"""Scoring a stream of window predictions against ground-truth action segments.

A window counts when at least half of it lies inside one action segment; its truth is
that segment's label. Windows mostly in idle time are not scored: idle is not a class,
and the offline test windows are cut inside actions too, so the two accuracies compare.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harbridge.errors import InputError

__all__ = ["Segment", "StreamScore", "load_segments", "score_stream", "truth_of"]

#: share of a window that must lie inside one segment for the window to be scored
MIN_OVERLAP = 0.5


@dataclass(frozen=True)
class Segment:
    """One action, from ``t_start`` to ``t_end`` seconds on the recording's clock."""

    t_start: float
    t_end: float
    label: str


@dataclass(frozen=True)
class StreamScore:
    """How many windows were scored and how many of them were right."""

    scored: int
    correct: int
    unscored: int

    @property
    def accuracy(self) -> float:
        """Correct share of the scored windows (NaN when none was scored)."""
        return self.correct / self.scored if self.scored else float("nan")


def load_segments(path: str | Path) -> list[Segment]:
    """Read ``t_start,t_end,label`` rows (the simulator's ``stream_segments.csv``)."""
    path = Path(path)
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        return [Segment(float(r["t_start"]), float(r["t_end"]), r["label"]) for r in rows]
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise InputError(path, "segments", f"is not a t_start,t_end,label CSV ({exc}).") from exc


def truth_of(t_start: float, t_end: float, segments: Iterable[Segment]) -> str | None:
    """The label of the segment covering at least half of the window, if any."""
    length = t_end - t_start
    for segment in segments:
        overlap = min(t_end, segment.t_end) - max(t_start, segment.t_start)
        if length > 0 and overlap >= MIN_OVERLAP * length:
            return segment.label
    return None


def score_stream(
    predictions: Iterable[tuple[float, float, str]], segments: list[Segment]
) -> StreamScore:
    """Score ``(t_start, t_end, label)`` predictions, times on the recording's clock."""
    scored = correct = unscored = 0
    for t_start, t_end, label in predictions:
        truth = truth_of(t_start, t_end, segments)
        if truth is None:
            unscored += 1
            continue
        scored += 1
        correct += label == truth
    return StreamScore(scored, correct, unscored)
