"""The whole body as the 17 COCO keypoints a 2-D pose detector reports.

The arms come from the kinematic chain; the head, hips and legs are a still template
scaled by the subject's height (the torso's sway is applied by the caller, to the whole
body and the sensor alike).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from harbridge.calibration.simulation.kinematics import ArmPose
from harbridge.calibration.simulation.subjects import Subject

__all__ = ["COCO17", "body_keypoints", "shoulder_positions"]

FloatArray = npt.NDArray[np.float64]

#: COCO-17 keypoint names, in the order of the keypoint axis
COCO17 = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

#: Still keypoints as fractions of body height (x forward, y left, z up); anthropometric
#: proportions of an adult standing upright. Arms and shoulders are filled in separately.
_TEMPLATE = {
    "nose": (0.055, 0.0, 0.925),
    "left_eye": (0.045, 0.018, 0.940),
    "right_eye": (0.045, -0.018, 0.940),
    "left_ear": (-0.005, 0.040, 0.935),
    "right_ear": (-0.005, -0.040, 0.935),
    "left_hip": (0.0, 0.086, 0.530),
    "right_hip": (0.0, -0.086, 0.530),
    "left_knee": (0.010, 0.060, 0.285),
    "right_knee": (0.010, -0.060, 0.285),
    "left_ankle": (-0.010, 0.060, 0.040),
    "right_ankle": (-0.010, -0.060, 0.040),
}


def shoulder_positions(subject: Subject) -> tuple[FloatArray, FloatArray]:
    """Right and left shoulder joint positions of ``subject`` in the body frame, metres."""
    right = np.array([0.0, -subject.shoulder_half_width_m, subject.shoulder_height_m])
    left = right * np.array([1.0, -1.0, 1.0])
    return right, left


def body_keypoints(subject: Subject, right: ArmPose, left: ArmPose) -> FloatArray:
    """COCO-17 keypoints in the body frame.

    Parameters
    ----------
    subject : Subject
    right, left : ArmPose
        The two arms, each with ``n`` samples.

    Returns
    -------
    ndarray of shape (n, 17, 3)
        Positions in metres, ordered as :data:`COCO17`.
    """
    n = right.wrist.shape[0]
    points = np.empty((n, len(COCO17), 3))
    for name, fraction in _TEMPLATE.items():
        points[:, COCO17.index(name)] = np.asarray(fraction) * subject.height_m
    right_shoulder, left_shoulder = shoulder_positions(subject)
    points[:, COCO17.index("right_shoulder")] = right_shoulder
    points[:, COCO17.index("left_shoulder")] = left_shoulder
    points[:, COCO17.index("right_elbow")] = right.elbow
    points[:, COCO17.index("left_elbow")] = left.elbow
    points[:, COCO17.index("right_wrist")] = right.wrist
    points[:, COCO17.index("left_wrist")] = left.wrist
    return points
