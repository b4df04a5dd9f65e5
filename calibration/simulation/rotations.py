"""Rotation matrices: elementary rotations, Rodrigues' formula and its inverse (the log map).

Every function is batched over leading axes, so a whole trajectory sampled at a fine rate
is handled in one call.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "rotation_x",
    "rotation_y",
    "rotation_z",
]

FloatArray = npt.NDArray[np.float64]


def _elementary(angle: npt.ArrayLike, i: int, j: int) -> FloatArray:
    """Rotation by ``angle`` in the plane of axes ``i → j`` (shape (..., 3, 3))."""
    a = np.asarray(angle, dtype=np.float64)
    R = np.zeros((*a.shape, 3, 3))
    k = 3 - i - j
    c, s = np.cos(a), np.sin(a)
    R[..., k, k] = 1.0
    R[..., i, i] = c
    R[..., j, j] = c
    R[..., j, i] = s
    R[..., i, j] = -s
    return R


def rotation_x(angle: npt.ArrayLike) -> FloatArray:
    """Right-handed rotation about the x axis.

    Parameters
    ----------
    angle : array_like of shape (...)
        Angle in radians.

    Returns
    -------
    ndarray of shape (..., 3, 3)
    """
    return _elementary(angle, 1, 2)


def rotation_y(angle: npt.ArrayLike) -> FloatArray:
    """Right-handed rotation about the y axis; see :func:`rotation_x`."""
    return _elementary(angle, 2, 0)


def rotation_z(angle: npt.ArrayLike) -> FloatArray:
    """Right-handed rotation about the z axis; see :func:`rotation_x`."""
    return _elementary(angle, 0, 1)


def axis_angle_to_matrix(rotvec: npt.ArrayLike) -> FloatArray:
    """Rodrigues' formula ``R = I + sin θ K + (1 − cos θ) K²`` for a rotation vector.

    Parameters
    ----------
    rotvec : array_like of shape (..., 3)
        Rotation axis times angle in radians.

    Returns
    -------
    ndarray of shape (..., 3, 3)
    """
    v = np.asarray(rotvec, dtype=np.float64)
    theta = np.linalg.norm(v, axis=-1)
    axis = v / np.where(theta > 0.0, theta, 1.0)[..., None]
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    K = np.zeros((*v.shape[:-1], 3, 3))
    K[..., 0, 1], K[..., 0, 2] = -z, y
    K[..., 1, 0], K[..., 1, 2] = z, -x
    K[..., 2, 0], K[..., 2, 1] = -y, x
    s = np.sin(theta)[..., None, None]
    c = np.cos(theta)[..., None, None]
    return np.asarray(np.eye(3) + s * K + (1.0 - c) * (K @ K))


def matrix_to_axis_angle(R: npt.ArrayLike) -> FloatArray:
    """The rotation vector of ``R`` (the log map), for angles below π.

    Parameters
    ----------
    R : array_like of shape (..., 3, 3)
        Rotation matrices whose angle is well below π (e.g. the rotation between two
        consecutive samples of a trajectory); near π the axis is ill-defined.

    Returns
    -------
    ndarray of shape (..., 3)
        Axis times angle in radians.
    """
    M = np.asarray(R, dtype=np.float64)
    cos_theta = np.clip((np.trace(M, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    theta = np.arccos(cos_theta)
    vee = np.stack(
        [M[..., 2, 1] - M[..., 1, 2], M[..., 0, 2] - M[..., 2, 0], M[..., 1, 0] - M[..., 0, 1]],
        axis=-1,
    )
    # θ / (2 sin θ) → 1/2 as θ → 0; the series keeps full precision for tiny steps.
    small = theta < 1e-4
    factor = np.where(
        small, 0.5 + theta**2 / 12.0, theta / (2.0 * np.sin(np.where(small, 1.0, theta)))
    )
    return np.asarray(vee * factor[..., None])
