"""Pose landmarks as CSV, MediaPipe-style: a time column and ``<landmark>_x,<landmark>_y``.

MediaPipe Pose reports 33 landmarks; 17 of them carry the very names of the COCO-17
keypoints (``nose``, ``left_eye``, ``right_eye``, ``left_ear``, ``right_ear``,
``left_shoulder`` … ``right_ankle``), so a landmark maps onto the COCO keypoint of the
same name and the other 16 (eye corners, mouth, hands, heels, feet) are ignored.
Required columns: ``t`` (seconds) and ``<name>_x``, ``<name>_y`` for the 17 names, in
pixels (MediaPipe's normalised coordinates times the image width and height). Optional:
``<name>_visibility`` (or ``<name>_score``); a landmark below ``min_score`` is missing, and
so is an empty or non-finite coordinate. See ``docs/FORMATS.md``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt

from harbridge.calibration.pairing.times import check_times
from harbridge.calibration.simulation.body import COCO17
from harbridge.errors import InputError

__all__ = ["read_mediapipe_csv"]

FloatArray = npt.NDArray[np.float64]


def _cell(text: str, path: Path, line: int, column: str) -> float:
    if not text.strip():
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise InputError(
            path, column, f"line {line} holds {text!r}, which is not a number."
        ) from None


def _columns(header: list[str], path: Path) -> tuple[int, list[tuple[int, int, int | None]]]:
    """Index of ``t`` and, per COCO-17 keypoint, the indices of x, y and its score."""
    names = [name.strip() for name in header]
    where = {name: i for i, name in enumerate(names)}
    missing = [
        f"{kp}_{axis}" for kp in COCO17 for axis in ("x", "y") if f"{kp}_{axis}" not in where
    ]
    if "t" not in where:
        missing.insert(0, "t")
    if missing:
        shown = ", ".join(missing[:6]) + (
            f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        )
        raise InputError(
            path,
            "header",
            f"missing column(s) {shown}; a landmark CSV needs t and <landmark>_x, <landmark>_y "
            "for the 17 COCO-named MediaPipe landmarks (see docs/FORMATS.md).",
        )
    picks = []
    for kp in COCO17:
        score = where.get(f"{kp}_visibility", where.get(f"{kp}_score"))
        picks.append((where[f"{kp}_x"], where[f"{kp}_y"], score))
    return where["t"], picks


def read_mediapipe_csv(
    path: str | Path, *, min_score: float = 0.3
) -> tuple[FloatArray, FloatArray]:
    """Read a landmark CSV into COCO-17 keypoints.

    Parameters
    ----------
    path : str or Path
    min_score : float
        Landmarks whose visibility is below it are missing.

    Returns
    -------
    t : ndarray of shape (F,)
        Frame times in seconds, strictly increasing.
    keypoints : ndarray of shape (F, 17, 2)
        Pixels, NaN where missing.

    Raises
    ------
    InputError
        Unreadable file, missing columns, a row of the wrong width, a cell that is not a
        number, or times that do not increase.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise InputError(path, "file", f"cannot be read ({exc.strerror}); check the path.") from exc
    except UnicodeDecodeError as exc:
        raise InputError(path, "file", f"is not UTF-8 text ({exc.reason}).") from exc
    if not rows:
        raise InputError(path, "header", "the file is empty; expected a header line and rows.")
    t_column, picks = _columns(rows[0], path)
    body = [(line, row) for line, row in enumerate(rows[1:], start=2) if row]
    if not body:
        raise InputError(path, "t", "no rows under the header; the file holds no frames.")
    times = np.empty(len(body))
    keypoints = np.full((len(body), len(COCO17), 2), np.nan)
    width = len(rows[0])
    for i, (line, row) in enumerate(body):
        if len(row) != width:
            raise InputError(
                path, "row", f"line {line} has {len(row)} fields but the header has {width}."
            )
        times[i] = _cell(row[t_column], path, line, "t")
        for j, (x_col, y_col, score_col) in enumerate(picks):
            if (
                score_col is not None
                and not _cell(row[score_col], path, line, "score") >= min_score
            ):
                continue
            x = _cell(row[x_col], path, line, f"{COCO17[j]}_x")
            y = _cell(row[y_col], path, line, f"{COCO17[j]}_y")
            if math.isfinite(x) and math.isfinite(y):
                keypoints[i, j] = (x, y)
    return check_times(times, path, "t", rows=[line for line, _ in body], what="line"), keypoints
