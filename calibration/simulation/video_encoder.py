"""The fixed video encoder: a window of 2-D COCO-17 pose keypoints to a feature vector.

It stands in for a pretrained video network's embedding. It is deterministic and has no
trained weights: the pose is normalised by the torso (position and size), the six arm
keypoints are resampled to :data:`N_FRAMES` frames over the window, summarised by
motion descriptors (mean pose, spread, speed, spectrum, turning direction, two-handed
symmetry), and mixed by a fixed random layer ``tanh(W u + b)`` drawn from
:data:`PROJECTION_SEED`. Real pose tracks (from any COCO-17 detector) go through the
same function, with NaN for missed keypoints and dropped frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import numpy.typing as npt

from harbridge.errors import InputError

__all__ = ["D_VIDEO", "N_FRAMES", "encode_video", "encode_video_batch", "pose_descriptor"]

FloatArray = npt.NDArray[np.float64]

#: output dimension d_v
D_VIDEO = 128
#: frames the window is resampled to
N_FRAMES = 32
#: seed of the fixed random layer; changing it changes every video feature
PROJECTION_SEED = 20250319

_N_KEYPOINTS = 17
#: COCO-17 indices: left/right shoulder, elbow, wrist
_ARM = (5, 6, 7, 8, 9, 10)
_SHOULDERS = (5, 6)
_HIPS = (11, 12)
#: DFT bins kept per distal-joint coordinate (bin 1 = one cycle per window)
_N_BINS = 8
#: torso height over shoulder width, to size a pose whose hips are not visible
_TORSO_PER_SHOULDER_WIDTH = 1.6


def _check(keypoints: npt.ArrayLike, times: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    kp = np.asarray(keypoints, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1:] != (_N_KEYPOINTS, 2):
        raise InputError(
            "keypoints", "shape", f"expected (frames, 17, 2) COCO-17 keypoints, got {kp.shape}"
        )
    if t.shape != (kp.shape[0],):
        raise InputError(
            "keypoints", "times", f"expected one time per frame ({kp.shape[0]}), got {t.shape}"
        )
    if kp.shape[0] < 2 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0.0):
        raise InputError(
            "keypoints", "times", "need at least 2 frames with finite, increasing times"
        )
    return kp, t


def _frame_of_reference(kp: FloatArray) -> tuple[FloatArray, float]:
    """Centre (2,) between the shoulders and torso size, medians over the window."""
    shoulders = kp[:, _SHOULDERS]
    hips = kp[:, _HIPS]
    seen = np.all(np.isfinite(shoulders), axis=(1, 2))
    if not np.any(seen):
        raise InputError(
            "keypoints",
            "shoulders",
            "no frame shows both shoulders; the pose cannot be normalised, so drop this window",
        )
    mid_shoulder = shoulders.mean(axis=1)
    centre = np.median(mid_shoulder[seen], axis=0)
    with_hips = seen & np.all(np.isfinite(hips), axis=(1, 2))
    if np.any(with_hips):
        size = np.median(np.linalg.norm(mid_shoulder - hips.mean(axis=1), axis=1)[with_hips])
    else:
        width = np.linalg.norm(shoulders[:, 0] - shoulders[:, 1], axis=1)[seen]
        size = _TORSO_PER_SHOULDER_WIDTH * np.median(width)
    if not size > 0.0:
        raise InputError("keypoints", "shoulders", "the torso has zero size in every frame")
    return centre, float(size)


def _resampled_arms(kp: FloatArray, t: FloatArray) -> tuple[FloatArray, float]:
    """Arm keypoints (N_FRAMES, 6, 2) on a uniform grid, and the grid step in seconds.

    Missed keypoints are filled by linear interpolation in time; a keypoint never seen
    in the window stays at the centre (0).
    """
    grid = np.linspace(t[0], t[-1], N_FRAMES)
    arms = np.zeros((N_FRAMES, len(_ARM), 2))
    for j, joint in enumerate(_ARM):
        seen = np.all(np.isfinite(kp[:, joint]), axis=1)
        if np.any(seen):
            for c in range(2):
                arms[:, j, c] = np.interp(grid, t[seen], kp[seen, joint, c])
    return arms, float(grid[1] - grid[0])


def pose_descriptor(keypoints: npt.ArrayLike, times: npt.ArrayLike) -> FloatArray:
    """The hand-made motion descriptor of one window, before the fixed random layer.

    Parameters
    ----------
    keypoints : array_like of shape (F, 17, 2)
        COCO-17 keypoints in pixels (any image coordinates), NaN where missing.
    times : array_like of shape (F,)
        Frame times in seconds, increasing.

    Returns
    -------
    ndarray of shape (118,)
        Mean and spread of the six arm keypoints (2 × 12), mean and spread of the apparent
        length of the four arm segments (8), RMS speed of the arm keypoints (12), the
        spectrum of the elbows and wrists (64), their turning direction about the shoulder
        (4), the left/right symmetry of the wrists' motion (2), the direction of each
        wrist's strokes (2) and the distance between the wrists (2), each compressed by
        ``asinh``.
    """
    kp, t = _check(keypoints, times)
    centre, size = _frame_of_reference(kp)
    arms, dt = _resampled_arms((kp - centre) / size, t)
    velocity = np.diff(arms, axis=0) / dt
    distal = arms[:, 2:]
    detrended = (distal - distal.mean(axis=0)) * np.hanning(N_FRAMES)[:, None, None]
    spectrum = np.abs(np.fft.rfft(detrended, axis=0))[1 : _N_BINS + 1] / N_FRAMES
    # Upper arms and forearms; their apparent length shrinks when they point at the camera.
    relative = distal - np.tile(arms[:, :2], (1, 2, 1))
    segments = np.concatenate([relative[:, :2], distal[:, 2:] - distal[:, :2]], axis=1)
    length = np.linalg.norm(segments, axis=2)
    # Signed area swept about the shoulder: the sign tells clockwise from anticlockwise.
    r_mid = (relative[1:] + relative[:-1]) / 2.0
    v_distal = velocity[:, 2:]
    turning = np.mean(r_mid[..., 0] * v_distal[..., 1] - r_mid[..., 1] * v_distal[..., 0], axis=0)
    v_left, v_right = velocity[:, 4], velocity[:, 5]
    norm = np.sqrt(np.sum(v_left**2, axis=0) * np.sum(v_right**2, axis=0)) + 1e-6
    symmetry = np.sum(v_left * v_right, axis=0) / norm
    gap = np.linalg.norm(arms[:, 4] - arms[:, 5], axis=1)
    # Direction of each wrist's strokes: correlation of its horizontal and vertical motion.
    wrists = arms[:, 4:] - arms[:, 4:].mean(axis=0)
    spread = np.sqrt(np.sum(wrists[..., 0] ** 2, axis=0) * np.sum(wrists[..., 1] ** 2, axis=0))
    stroke = np.sum(wrists[..., 0] * wrists[..., 1], axis=0) / (spread + 1e-6)
    parts = [
        (arms.mean(axis=0).ravel(), 1.0),
        (arms.std(axis=0).ravel(), 0.1),
        (np.concatenate([length.mean(axis=0), length.std(axis=0)]), 0.1),
        (np.sqrt(np.mean(velocity**2, axis=0)).ravel(), 0.5),
        (spectrum.ravel(), 0.02),
        (turning, 0.2),
        (np.concatenate([symmetry, stroke, [gap.mean(), gap.std()]]), 1.0),
    ]
    return np.concatenate([np.arcsinh(values / scale) for values, scale in parts])


@cache
def _random_layer(d_in: int) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(PROJECTION_SEED)
    weights = rng.normal(0.0, 1.0 / np.sqrt(d_in), size=(D_VIDEO, d_in))
    bias = rng.uniform(-0.5, 0.5, size=D_VIDEO)
    return weights, bias


def encode_video(keypoints: npt.ArrayLike, times: npt.ArrayLike) -> FloatArray:
    """Video features of one window of pose keypoints.

    Parameters
    ----------
    keypoints : array_like of shape (F, 17, 2)
        COCO-17 keypoints in pixels, NaN for missed keypoints or dropped frames.
    times : array_like of shape (F,)
        Frame times in seconds, increasing.

    Returns
    -------
    ndarray of shape (D_VIDEO,)
        ``tanh(W u + b)`` of the descriptor ``u`` (:func:`pose_descriptor`).

    Raises
    ------
    InputError
        Wrong shapes, fewer than two frames, or no frame showing both shoulders.
    """
    u = pose_descriptor(keypoints, times)
    weights, bias = _random_layer(u.shape[0])
    return np.asarray(np.tanh(weights @ u + bias))


def encode_video_batch(windows: Sequence[tuple[npt.ArrayLike, npt.ArrayLike]]) -> FloatArray:
    """Video features of several windows (each may have its own number of frames).

    Parameters
    ----------
    windows : sequence of (keypoints, times)
        As for :func:`encode_video`.

    Returns
    -------
    ndarray of shape (len(windows), D_VIDEO)
    """
    features = np.empty((len(windows), D_VIDEO))
    for i, (keypoints, times) in enumerate(windows):
        features[i] = encode_video(keypoints, times)
    return features
