"""COCO-17 pose keypoints as JSON, in the two shapes pose estimators write.

**Frames document** (one JSON object)::

    {"fps": 30, "frames": [{"t": 0.0, "keypoints": [[x, y, score], ... 17 ...]}, ...]}

Each frame has its time ``t`` in seconds, or a frame number ``frame`` that the
document's ``fps`` (or ``--fps``) turns into seconds. ``keypoints`` holds 17 ``[x, y]``
or ``[x, y, score]`` triples in COCO order, or the same 34 / 51 numbers flat; ``null``
or ``[]`` means no person was found in that frame. Frames are in time order.

**COCO results list** (one JSON array, as detectors evaluated on COCO write it)::

    [{"image_id": 0, "keypoints": [x, y, score, ... 51 numbers], "score": 0.93}, ...]

``image_id`` (or ``frame``) is the frame number; times are ``frame / fps`` with the frame
rate given by ``--fps``. With several people in a frame, the detection with the highest
``score`` (else the highest mean keypoint score) is the person kept.

A keypoint whose score is below ``min_score`` is missing (NaN), and so is a coordinate
that is not a finite number. See ``docs/FORMATS.md``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from harbridge.calibration.pairing.times import check_times
from harbridge.errors import InputError

__all__ = ["N_KEYPOINTS", "read_coco_json"]

FloatArray = npt.NDArray[np.float64]

N_KEYPOINTS = 17


def _number(value: Any) -> float | None:
    """A JSON number as float; ``None`` for anything else (bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _keypoints(value: Any, path: Path, field: str, min_score: float) -> tuple[FloatArray, float]:
    """(17, 2) pixels with NaN where missing, and the mean keypoint score."""
    points = np.full((N_KEYPOINTS, 2), np.nan)
    if value is None or value == []:
        return points, 0.0
    if not isinstance(value, list):
        raise InputError(
            path, field, f"must be a list of 17 keypoints, got {type(value).__name__}."
        )
    if all(isinstance(v, list) for v in value):
        rows = value
    elif len(value) in (2 * N_KEYPOINTS, 3 * N_KEYPOINTS):
        width = len(value) // N_KEYPOINTS
        rows = [value[i : i + width] for i in range(0, len(value), width)]
    else:
        raise InputError(
            path,
            field,
            f"holds {len(value)} values; expected 17 [x, y, score] lists or 51 (or 34) "
            "numbers in COCO-17 order.",
        )
    if len(rows) != N_KEYPOINTS or any(len(row) not in (2, 3) for row in rows):
        raise InputError(
            path, field, "must hold exactly 17 keypoints of [x, y] or [x, y, score] each."
        )
    scores = []
    for j, row in enumerate(rows):
        numbers = [_number(v) for v in row]
        if any(n is None for n in numbers) and not all(v is None for v in row):
            raise InputError(path, f"{field}[{j}]", f"must hold numbers, got {row!r}.")
        x, y = numbers[0], numbers[1]
        score = numbers[2] if len(numbers) == 3 else 1.0
        scores.append(score if score is not None else 0.0)
        if x is None or y is None or score is None or not score >= min_score:
            continue
        if math.isfinite(x) and math.isfinite(y):
            points[j] = (x, y)
    return points, float(np.mean(scores))


def _frame_rate(fps: float | None, path: Path, field: str) -> float:
    if fps is None:
        raise InputError(
            path,
            field,
            "frames carry frame numbers but no times, and no frame rate is known; pass --fps.",
        )
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(path, field, f"frame rate must be a positive number, got {fps!r}.")
    return fps


def _frames_document(
    document: dict[str, Any], path: Path, fps: float | None, min_score: float
) -> tuple[FloatArray, FloatArray]:
    frames = document.get("frames")
    if not isinstance(frames, list):
        raise InputError(
            path, "frames", 'missing or not a list; expected {"fps": 30, "frames": [...]}.'
        )
    if not frames:
        raise InputError(path, "frames", "is empty; the file holds no frames.")
    rate = fps if fps is not None else _number(document.get("fps"))
    times = np.empty(len(frames))
    keypoints = np.empty((len(frames), N_KEYPOINTS, 2))
    for i, frame in enumerate(frames):
        field = f"frames[{i}]"
        if not isinstance(frame, dict):
            raise InputError(path, field, f"must be an object, got {type(frame).__name__}.")
        if "keypoints" not in frame:
            raise InputError(path, f"{field}.keypoints", "missing; every frame needs keypoints.")
        keypoints[i], _ = _keypoints(frame["keypoints"], path, f"{field}.keypoints", min_score)
        t = _number(frame.get("t"))
        if t is None:
            number = frame.get("frame")
            if isinstance(number, bool) or not isinstance(number, int):
                raise InputError(
                    path,
                    f"{field}.t",
                    "missing; give each frame a time 't' in seconds or "
                    "an integer 'frame' number with the document's 'fps'.",
                )
            t = number / _frame_rate(rate, path, "fps")
        times[i] = t
    return check_times(times, path, "frames[].t", what="frame"), keypoints


def _results_list(
    results: list[Any], path: Path, fps: float | None, min_score: float
) -> tuple[FloatArray, FloatArray]:
    if not results:
        raise InputError(path, "file", "is an empty list; the file holds no detections.")
    rate = _frame_rate(fps, path, "fps")
    best: dict[int, tuple[float, FloatArray]] = {}
    for i, item in enumerate(results):
        field = f"[{i}]"
        if not isinstance(item, dict):
            raise InputError(path, field, f"must be an object, got {type(item).__name__}.")
        number = item.get("image_id", item.get("frame"))
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise InputError(
                path,
                f"{field}.image_id",
                f"must be a non-negative integer frame number, got {number!r}.",
            )
        if "keypoints" not in item:
            raise InputError(path, f"{field}.keypoints", "missing; every detection needs them.")
        points, mean_score = _keypoints(item["keypoints"], path, f"{field}.keypoints", min_score)
        score = _number(item.get("score"))
        rank = score if score is not None else mean_score
        if number not in best or rank > best[number][0]:
            best[number] = (rank, points)
    numbers = sorted(best)
    times = np.asarray(numbers, dtype=np.float64) / rate
    keypoints = np.stack([best[n][1] for n in numbers])
    return check_times(times, path, "image_id", rows=numbers, what="image_id"), keypoints


def read_coco_json(
    path: str | Path, *, fps: float | None = None, min_score: float = 0.3
) -> tuple[FloatArray, FloatArray]:
    """Read COCO-17 keypoints from a frames document or a COCO results list.

    Parameters
    ----------
    path : str or Path
    fps : float, optional
        Frame rate for frame numbers; overrides the document's ``fps``.
    min_score : float
        Keypoints scored below it are missing.

    Returns
    -------
    t : ndarray of shape (F,)
        Frame times in seconds, strictly increasing.
    keypoints : ndarray of shape (F, 17, 2)
        Pixels, NaN where missing.

    Raises
    ------
    InputError
        Unreadable or malformed JSON, missing fields, or times that do not increase.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            document = json.load(handle)
    except OSError as exc:
        raise InputError(path, "file", f"cannot be read ({exc.strerror}); check the path.") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, "file", f"is not valid JSON ({exc}).") from exc
    if isinstance(document, dict):
        return _frames_document(document, path, fps, min_score)
    if isinstance(document, list):
        return _results_list(document, path, fps, min_score)
    raise InputError(path, "file", 'must hold a {"frames": [...]} object or a COCO results list.')
