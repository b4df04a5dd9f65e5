"""The wrist IMU: ideal accelerometer and gyroscope readings, and MEMS sensor errors.

The accelerometer measures specific force, the sensor's linear acceleration minus gravity,
in the sensor frame, so a sensor at rest reads 9.81 m/s² pointing up. The gyroscope
measures the angular velocity of the sensor frame, in the sensor frame. Both are computed
from a trajectory sampled at a fine rate (central differences, error O(dt²)); sampling
them down to 50 Hz afterwards keeps the noise of the simulation out of the derivatives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from harbridge.calibration.simulation.rotations import matrix_to_axis_angle

__all__ = [
    "CHANNELS",
    "GRAVITY",
    "UNITS",
    "WRIST_MOUNT",
    "ImuErrors",
    "apply_imu_errors",
    "draw_imu_errors",
    "ideal_imu",
]

FloatArray = npt.NDArray[np.float64]

#: standard gravity, m/s²
GRAVITY = 9.80665

CHANNELS = ("ax", "ay", "az", "gx", "gy", "gz")
UNITS = ("m/s2", "m/s2", "m/s2", "rad/s", "rad/s", "rad/s")

#: Forearm-from-sensor rotation of a correctly worn watch on the back of the right wrist:
#: sensor x along the forearm towards the hand, z out of the back of the wrist.
WRIST_MOUNT = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])

#: per-recording turn-on bias: accelerometer (m/s²) and gyroscope (rad/s), 1 sigma
ACCEL_BIAS_STD = 0.08
GYRO_BIAS_STD = 0.01
#: per-recording scale-factor error, 1 sigma (relative)
SCALE_STD = 0.01


def ideal_imu(position: npt.ArrayLike, rotation: npt.ArrayLike, dt: float) -> FloatArray:
    """Error-free IMU readings of a sensor moving along a finely sampled trajectory.

    Parameters
    ----------
    position : array_like of shape (n, 3)
        Sensor position in a world frame with z up, metres.
    rotation : array_like of shape (n, 3, 3)
        World-from-sensor rotation.
    dt : float
        Sample interval in seconds; small (≤ 1/200 s) so that central differences are
        accurate.

    Returns
    -------
    ndarray of shape (n - 2, 6)
        ``ax ay az`` specific force (m/s²) and ``gx gy gz`` angular velocity (rad/s) in the
        sensor frame, at the interior samples 1 … n − 2.
    """
    p = np.asarray(position, dtype=np.float64)
    R = np.asarray(rotation, dtype=np.float64)
    acceleration = (p[2:] - 2.0 * p[1:-1] + p[:-2]) / dt**2
    specific_force = acceleration + np.array([0.0, 0.0, GRAVITY])
    accel = np.einsum("nji,nj->ni", R[1:-1], specific_force)
    # The rotation between the two neighbours, read in the sensor frame, over 2 dt.
    gyro = matrix_to_axis_angle(np.swapaxes(R[:-2], 1, 2) @ R[2:]) / (2.0 * dt)
    return np.concatenate([accel, gyro], axis=1)


@dataclass(frozen=True)
class ImuErrors:
    """Errors of one IMU over one recording.

    Attributes
    ----------
    bias : ndarray of shape (6,)
        Constant offset per channel (m/s², rad/s).
    scale : ndarray of shape (6,)
        Scale factor per channel (1 is ideal).
    noise_std : ndarray of shape (6,)
        White-noise standard deviation per channel at the output rate.
    """

    bias: FloatArray
    scale: FloatArray
    noise_std: FloatArray


def draw_imu_errors(
    rng: np.random.Generator, accel_noise_std: float, gyro_noise_std: float
) -> ImuErrors:
    """Draw the turn-on bias and scale error of one recording, with the given noise levels.

    Parameters
    ----------
    rng : numpy.random.Generator
    accel_noise_std : float
        Accelerometer white noise, m/s² (MEMS wearables at 50 Hz: about 0.02–0.05).
    gyro_noise_std : float
        Gyroscope white noise, rad/s (about 0.003–0.01).
    """
    bias_std = np.repeat([ACCEL_BIAS_STD, GYRO_BIAS_STD], 3)
    return ImuErrors(
        bias=rng.normal(0.0, bias_std),
        scale=1.0 + rng.normal(0.0, SCALE_STD, size=6),
        noise_std=np.repeat([accel_noise_std, gyro_noise_std], 3),
    )


def apply_imu_errors(
    ideal: npt.ArrayLike, errors: ImuErrors, rng: np.random.Generator
) -> FloatArray:
    """Measured readings ``scale ⊙ ideal + bias + noise``.

    Parameters
    ----------
    ideal : array_like of shape (n, 6)
        Error-free readings, as from :func:`ideal_imu` sampled at the output rate.
    errors : ImuErrors
    rng : numpy.random.Generator
        Source of the white noise.

    Returns
    -------
    ndarray of shape (n, 6)
    """
    x = np.asarray(ideal, dtype=np.float64)
    noise = rng.normal(size=x.shape) * errors.noise_std
    return np.asarray(errors.scale * x + errors.bias + noise)
