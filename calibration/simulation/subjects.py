"""Simulated subjects: body size, motor style, sensor mounting, IMU quality and camera.

Every quantity that makes one person's recordings differ from another's lives here, drawn
once per subject, so that a cross-subject split (odd subjects train, even subjects test,
as in UTD-MHAD) measures generalisation to new people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from harbridge.calibration.simulation.actions import ACTIONS
from harbridge.calibration.simulation.camera import PinholeCamera, look_at
from harbridge.calibration.simulation.rotations import axis_angle_to_matrix

__all__ = ["ActionStyle", "Subject", "make_subject", "make_subjects"]

FloatArray = npt.NDArray[np.float64]

#: image size in pixels (width, height) of the simulated camera
IMAGE_SIZE = (640, 480)


@dataclass(frozen=True)
class ActionStyle:
    """How one subject performs one action.

    Attributes
    ----------
    offset : ndarray of shape (5,)
        Added to the joint angles of the action's cycle, radians.
    amplitude : float
        Scales the cycle's excursion about its mean pose.
    tempo : float
        Multiplies the cycle rate (above 1 is faster).
    warp : float
        Timing within the cycle, in (−1, 1): the phase runs through
        ``φ + warp · sin(2πφ) / 2π``, so the same path is taken with faster and slower parts
        (the accelerations change, the positions visited do not).
    """

    offset: FloatArray
    amplitude: float
    tempo: float
    warp: float


@dataclass(frozen=True, eq=False)
class Subject:
    """One simulated person with a wrist IMU on the right arm and a camera in front.

    Attributes
    ----------
    number : int
        Subject number, from 1 (odd numbers are training subjects).
    height_m, upper_arm_m, forearm_m, shoulder_half_width_m : float
        Body size in metres.
    tempo : float
        Overall speed factor of the subject's movements.
    amplitude : float
        Overall size factor of the subject's movements.
    style_std : float
        Spread of the subject's per-action offsets of the shoulder and elbow angles, radians.
    pronation_std : float
        Spread of the subject's per-action forearm pronation offsets, radians: how the
        wrist is turned, which the camera barely sees but the wrist IMU feels.
    motion_noise_std : float
        Size of the slow, random deviations within each movement, radians.
    mounting : ndarray of shape (3, 3)
        Sensor-mounting error: rotation from the sensor's actual frame to its nominal frame
        on the wrist.
    accel_noise_std, gyro_noise_std : float
        White noise of the accelerometer (m/s²) and gyroscope (rad/s) at 50 Hz.
    camera : PinholeCamera
        The camera filming this subject, in the subject's body frame.
    jitter_px : float
        Standard deviation of keypoint detection noise, pixels.
    style_seed : int
        Seed of this subject's per-action style (see :meth:`action_style`).
    """

    number: int
    height_m: float
    upper_arm_m: float
    forearm_m: float
    shoulder_half_width_m: float
    tempo: float
    amplitude: float
    style_std: float
    pronation_std: float
    motion_noise_std: float
    mounting: FloatArray
    accel_noise_std: float
    gyro_noise_std: float
    camera: PinholeCamera
    jitter_px: float
    style_seed: int

    @property
    def shoulder_height_m(self) -> float:
        """Height of the shoulder joints above the floor."""
        return 0.818 * self.height_m

    def action_style(self, action: str) -> ActionStyle:
        """The subject's own way of performing ``action``; the same on every call.

        Parameters
        ----------
        action : str
            One of :data:`harbridge.calibration.simulation.actions.ACTIONS`.
        """
        rng = np.random.default_rng([self.style_seed, ACTIONS.index(action)])
        return ActionStyle(
            offset=rng.normal(0.0, [*[self.style_std] * 4, self.pronation_std]),
            amplitude=self.amplitude * float(rng.uniform(0.75, 1.25)),
            tempo=self.tempo * float(np.exp(rng.normal(0.0, 0.18))),
            warp=float(rng.uniform(-0.75, 0.75)),
        )


def _random_rotation(rng: np.random.Generator, min_deg: float, max_deg: float) -> FloatArray:
    axis = rng.normal(size=3)
    angle = np.deg2rad(rng.uniform(min_deg, max_deg))
    return axis_angle_to_matrix(axis / np.linalg.norm(axis) * angle)


def _camera(rng: np.random.Generator, height_m: float) -> PinholeCamera:
    # The subject faces +x; the camera stands in front, a few metres away, at chest height,
    # and the subject does not face it exactly (yaw of the viewing direction).
    distance = rng.uniform(2.5, 3.5)
    yaw = np.deg2rad(rng.uniform(-20.0, 20.0))
    height = rng.uniform(0.9, 1.5)
    position = np.array([distance * np.cos(yaw), distance * np.sin(yaw), height])
    target = np.array([0.0, rng.uniform(-0.15, 0.15), 0.6 * height_m])
    width, image_height = IMAGE_SIZE
    return look_at(
        position,
        target,
        focal_px=rng.uniform(560.0, 640.0),
        center_px=[width / 2.0, image_height / 2.0],
        roll=np.deg2rad(rng.normal(0.0, 2.0)),
    )


def make_subject(number: int, seed: int) -> Subject:
    """Draw subject ``number`` of the population seeded by ``seed``.

    Parameters
    ----------
    number : int
        Subject number, from 1.
    seed : int
        Population seed; the same ``(number, seed)`` always gives the same subject.
    """
    rng = np.random.default_rng([seed, number])
    height = rng.uniform(1.55, 1.92)
    return Subject(
        number=number,
        height_m=height,
        upper_arm_m=0.186 * height * rng.normal(1.0, 0.04),
        forearm_m=0.146 * height * rng.normal(1.0, 0.04),
        shoulder_half_width_m=0.115 * height * rng.normal(1.0, 0.05),
        tempo=float(np.exp(rng.normal(0.0, 0.06))),
        amplitude=float(np.clip(rng.normal(1.0, 0.1), 0.75, 1.25)),
        style_std=rng.uniform(0.15, 0.25),
        pronation_std=rng.uniform(0.4, 0.8),
        motion_noise_std=rng.uniform(0.05, 0.1),
        mounting=_random_rotation(rng, 3.0, 15.0),
        accel_noise_std=rng.uniform(0.02, 0.05),
        gyro_noise_std=rng.uniform(0.003, 0.01),
        camera=_camera(rng, height),
        jitter_px=rng.uniform(1.0, 3.0),
        style_seed=int(rng.integers(2**31)),
    )


def make_subjects(n_subjects: int, seed: int) -> tuple[Subject, ...]:
    """Subjects 1 … ``n_subjects`` of the population seeded by ``seed``."""
    return tuple(make_subject(number, seed) for number in range(1, n_subjects + 1))
