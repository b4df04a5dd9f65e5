"""The video side of a recording: per-frame pose keypoints or per-frame features, timed.

Three file kinds, told apart by their suffix (``docs/FORMATS.md`` has the details):

- ``.json``: COCO-17 keypoints (:mod:`~harbridge.calibration.pairing.coco_json`);
- ``.csv``: MediaPipe-style landmarks (:mod:`~harbridge.calibration.pairing.mediapipe_csv`);
- ``.npz``: ``t`` (F,) seconds and ``features`` (F, d), one row per frame from any pose
  track or frame embedding; a row with a NaN in it is a missing frame.

Keypoints go through the simulator's fixed video encoder, one window at a time, so that
calibration and simulation speak one language; per-frame features are averaged over the
window's frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from harbridge.calibration.pairing.coco_json import read_coco_json
from harbridge.calibration.pairing.mediapipe_csv import read_mediapipe_csv
from harbridge.calibration.pairing.times import check_times
from harbridge.calibration.simulation.body import COCO17
from harbridge.errors import InputError

__all__ = ["MIN_SCORE", "VIDEO_SUFFIXES", "VideoTrack", "Wrist", "read_video"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Wrist = Literal["left", "right"]

#: keypoints scored below this are missing; pose estimators put visible joints well above
#: it and guessed, occluded ones below (COCO's visibility flags 1 and 2 pass, 0 does not)
MIN_SCORE = 0.3
VIDEO_SUFFIXES = (".json", ".csv", ".npz")

_SHOULDERS = (COCO17.index("left_shoulder"), COCO17.index("right_shoulder"))
_WRISTS = (COCO17.index("left_wrist"), COCO17.index("right_wrist"))


@dataclass(frozen=True, eq=False)
class VideoTrack:
    """What the camera saw, frame by frame, on the video's own clock.

    Exactly one of ``keypoints`` and ``features`` is set.

    Attributes
    ----------
    path : Path
        The file it was read from.
    t : ndarray of shape (F,)
        Frame times in seconds, strictly increasing.
    keypoints : ndarray of shape (F, 17, 2) or None
        COCO-17 keypoints in pixels, NaN where missing.
    features : ndarray of shape (F, d) or None
        Per-frame features, NaN rows where missing.
    """

    path: Path
    t: FloatArray
    keypoints: FloatArray | None
    features: FloatArray | None

    @property
    def fps(self) -> float:
        """Median frame rate, frames per second."""
        return float(1.0 / np.median(np.diff(self.t)))

    def usable(self) -> BoolArray:
        """Frames of shape (F,) that can describe the arms: both shoulders and both wrists
        seen, or a finite feature row."""
        if self.keypoints is not None:
            joints = self.keypoints[:, [*_SHOULDERS, *_WRISTS]]
            return np.asarray(np.all(np.isfinite(joints), axis=(1, 2)))
        assert self.features is not None
        return np.asarray(np.all(np.isfinite(self.features), axis=1))

    def motion_track(self, wrist: Wrist) -> FloatArray:
        """The trajectory whose speed measures motion: shape (F, 2) pixels of the wrist
        wearing the IMU, or (F, d) for features; NaN where missing."""
        if self.keypoints is not None:
            return self.keypoints[:, _WRISTS[wrist == "right"]]
        assert self.features is not None
        return self.features


def _read_features(path: Path) -> VideoTrack:
    from harbridge.calibration.dataset import load_npz

    data = load_npz(path)
    for name, ndim in (("t", 1), ("features", 2)):
        if name not in data:
            raise InputError(
                path,
                name,
                f"missing; a video npz needs t (F,) in seconds and features (F, d); the file "
                f"holds: {', '.join(sorted(data)) or 'nothing'}.",
            )
        if data[name].dtype.kind not in "fiu" or data[name].ndim != ndim:
            raise InputError(
                path,
                name,
                f"must be a {ndim}-D numeric array, got {data[name].dtype} {data[name].shape}.",
            )
    t, features = data["t"], data["features"].astype(np.float64)
    if features.shape[0] != t.shape[0] or features.shape[1] == 0:
        raise InputError(
            path,
            "features",
            f"shape {features.shape} does not give one feature row per time (t has {t.shape[0]}).",
        )
    features[~np.all(np.isfinite(features), axis=1)] = np.nan
    return VideoTrack(path, check_times(t, path, "t", what="frame"), None, features)


def read_video(
    path: str | Path, *, fps: float | None = None, min_score: float = MIN_SCORE
) -> VideoTrack:
    """Read the video side of a recording (see the module docstring).

    Parameters
    ----------
    path : str or Path
    fps : float, optional
        Frame rate of a COCO JSON that numbers its frames instead of timing them.
    min_score : float
        Keypoints scored below it are missing.

    Raises
    ------
    InputError
        Unknown suffix, or anything the readers refuse; or no usable frame at all.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file", "no such file; check the path.")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        track = _read_features(path)
    elif suffix == ".json":
        track = VideoTrack(path, *read_coco_json(path, fps=fps, min_score=min_score), None)
    elif suffix == ".csv":
        track = VideoTrack(path, *read_mediapipe_csv(path, min_score=min_score), None)
    else:
        raise InputError(
            path,
            "file",
            "unknown video format; give COCO-17 keypoints (.json), MediaPipe-style landmarks "
            "(.csv) or per-frame features (.npz).",
        )
    if not np.any(track.usable()):
        what = "both shoulders and both wrists" if track.keypoints is not None else "a finite row"
        raise InputError(
            path,
            "keypoints" if track.keypoints is not None else "features",
            f"no frame has {what}; nothing to pair (is the person in view, and the score "
            "threshold sensible?).",
        )
    return track
