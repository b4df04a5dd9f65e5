"""A pinhole camera filming the subject: world points to pixel coordinates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from harbridge.calibration.simulation.rotations import rotation_z

__all__ = ["PinholeCamera", "look_at"]

FloatArray = npt.NDArray[np.float64]

_UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True, eq=False)
class PinholeCamera:
    """An ideal pinhole camera (no lens distortion).

    Attributes
    ----------
    rotation : ndarray of shape (3, 3)
        Camera-from-world rotation. Camera axes: x to the image right, y down, z along the
        optical axis.
    position : ndarray of shape (3,)
        Optical centre in world coordinates, metres.
    focal_px : float
        Focal length in pixels (square pixels).
    center_px : ndarray of shape (2,)
        Principal point in pixels.
    """

    rotation: FloatArray
    position: FloatArray
    focal_px: float
    center_px: FloatArray

    def project(self, points: npt.ArrayLike) -> FloatArray:
        """Pixel coordinates of world points.

        Parameters
        ----------
        points : array_like of shape (..., 3)
            World coordinates in metres, in front of the camera.

        Returns
        -------
        ndarray of shape (..., 2)
            ``(u, v)`` pixels, u to the right and v down.
        """
        p = (np.asarray(points, dtype=np.float64) - self.position) @ self.rotation.T
        return np.asarray(self.focal_px * p[..., :2] / p[..., 2:3] + self.center_px)


def look_at(
    position: npt.ArrayLike,
    target: npt.ArrayLike,
    focal_px: float,
    center_px: npt.ArrayLike,
    roll: float = 0.0,
) -> PinholeCamera:
    """A camera at ``position`` aimed at ``target``, upright up to a ``roll`` about its axis.

    Parameters
    ----------
    position, target : array_like of shape (3,)
        World coordinates in metres (z up); the line between them must not be vertical.
    focal_px : float
        Focal length in pixels.
    center_px : array_like of shape (2,)
        Principal point in pixels.
    roll : float
        Rotation of the image about the optical axis, radians.
    """
    c = np.asarray(position, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - c
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, _UP)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    upright = np.stack([right, down, forward])
    return PinholeCamera(
        rotation_z(roll) @ upright,
        c,
        float(focal_px),
        np.asarray(center_px, dtype=np.float64),
    )
