"""Forward kinematics of the shoulder–elbow–wrist chain.

Body frame: x points forward (the way the subject faces), y to the subject's left, z up.
Joint angles, in radians, in the order of :data:`JOINTS`:

- shoulder flexion (rotation about −y: raises the arm forward),
- shoulder abduction (rotation about −x: raises the right arm sideways, to −y),
- shoulder rotation (about the upper arm's long axis; positive turns the forearm inwards),
- elbow flexion (about the upper arm's −y axis: bends the forearm forwards),
- forearm pronation (about the forearm's long axis).

At zero angles the arm hangs straight down with the palm facing the body. The forearm frame
has its long axis along −z (elbow to wrist). A left arm is the mirror image (y → −y) of a
right arm driven by the same angles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from harbridge.calibration.simulation.rotations import rotation_x, rotation_y, rotation_z

__all__ = ["JOINTS", "ArmPose", "arm_forward_kinematics"]

FloatArray = npt.NDArray[np.float64]

JOINTS = (
    "shoulder_flexion",
    "shoulder_abduction",
    "shoulder_rotation",
    "elbow_flexion",
    "forearm_pronation",
)

_MIRROR = np.diag([1.0, -1.0, 1.0])


@dataclass(frozen=True, eq=False)
class ArmPose:
    """Where an arm is, sample by sample, in the body frame.

    Attributes
    ----------
    elbow : ndarray of shape (n, 3)
        Elbow position in metres.
    wrist : ndarray of shape (n, 3)
        Wrist position in metres (where a wrist-worn sensor sits).
    forearm : ndarray of shape (n, 3, 3)
        Body-from-forearm rotation. For a left arm it is the mirror image ``M R M`` with
        ``M = diag(1, −1, 1)`` of the right-arm rotation, i.e. a right-handed frame whose
        y axis points to the other side.
    """

    elbow: FloatArray
    wrist: FloatArray
    forearm: FloatArray


def arm_forward_kinematics(
    angles: npt.ArrayLike,
    shoulder: npt.ArrayLike,
    upper_arm_m: float,
    forearm_m: float,
    side: Literal["right", "left"] = "right",
) -> ArmPose:
    """Elbow and wrist positions and the forearm orientation from joint angles.

    Parameters
    ----------
    angles : array_like of shape (n, 5)
        Joint angles in radians, ordered as :data:`JOINTS`.
    shoulder : array_like of shape (3,) or (n, 3)
        Shoulder position in the body frame, in metres.
    upper_arm_m, forearm_m : float
        Segment lengths in metres (shoulder–elbow, elbow–wrist).
    side : {"right", "left"}
        Which arm; a left arm mirrors the right one, so the same angles mean the same
        anatomical motion on both sides.

    Returns
    -------
    ArmPose
    """
    q = np.asarray(angles, dtype=np.float64)
    s = np.broadcast_to(np.asarray(shoulder, dtype=np.float64), (q.shape[0], 3))
    if side == "left":
        s = s @ _MIRROR
    upper = rotation_y(-q[:, 0]) @ rotation_x(-q[:, 1]) @ rotation_z(q[:, 2])
    forearm = upper @ rotation_y(-q[:, 3]) @ rotation_z(q[:, 4])
    elbow = s - upper_arm_m * upper[:, :, 2]
    wrist = elbow - forearm_m * forearm[:, :, 2]
    if side == "left":
        return ArmPose(elbow @ _MIRROR, wrist @ _MIRROR, _MIRROR @ forearm @ _MIRROR)
    return ArmPose(elbow, wrist, forearm)
