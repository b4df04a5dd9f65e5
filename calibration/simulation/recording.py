"""One recording session: a subject performs actions separated by idle periods, filmed by
a camera and measured by the wrist IMU on one clock.

Motion is simulated at :data:`FINE_RATE_HZ`, a common multiple of the IMU rate (50 Hz) and
the video frame rate (30 fps); the IMU is computed from the fine trajectory and then
sampled, the camera sees the same trajectory at its frame times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from harbridge.calibration.simulation.actions import REST_POSE, get_action, smootherstep
from harbridge.calibration.simulation.body import body_keypoints, shoulder_positions
from harbridge.calibration.simulation.imu import (
    WRIST_MOUNT,
    apply_imu_errors,
    draw_imu_errors,
    ideal_imu,
)
from harbridge.calibration.simulation.kinematics import arm_forward_kinematics
from harbridge.calibration.simulation.noise import smooth_noise
from harbridge.calibration.simulation.rotations import rotation_z
from harbridge.calibration.simulation.subjects import Subject

__all__ = [
    "FINE_RATE_HZ",
    "IMU_RATE_HZ",
    "VIDEO_FPS",
    "Recording",
    "Segment",
    "simulate_recording",
]

FloatArray = npt.NDArray[np.float64]

FINE_RATE_HZ = 300
_DT = 1.0 / FINE_RATE_HZ
IMU_RATE_HZ = 50
VIDEO_FPS = 30

#: time to move from rest into an action and back, seconds
RAMP_S = 0.5
#: probability that the pose detector misses a whole frame, or one keypoint in a frame
FRAME_DROP_RATE = 0.03
KEYPOINT_MISS_RATE = 0.02
#: repetition-to-repetition variation of one subject's action: pose (rad), size, tempo
REPETITION_OFFSET_STD = 0.04
REPETITION_SCALE_STD = 0.05


@dataclass(frozen=True)
class Segment:
    """An action performed from ``t_start`` to ``t_end`` (seconds, on the recording clock)."""

    t_start: float
    t_end: float
    label: str


@dataclass(frozen=True, eq=False)
class Recording:
    """What the IMU and the camera recorded, with the ground truth.

    Attributes
    ----------
    subject : int
        Subject number.
    imu_t : ndarray of shape (n,)
        IMU sample times in seconds, at 50 Hz from 0.
    imu : ndarray of shape (n, 6)
        ``ax ay az`` (m/s²) and ``gx gy gz`` (rad/s) in the sensor frame.
    frame_t : ndarray of shape (F,)
        Video frame times in seconds, at 30 fps from 0.
    keypoints : ndarray of shape (F, 17, 2)
        COCO-17 keypoints in pixels; NaN where the detector missed them.
    segments : tuple of Segment
        The actions, in time order; everything else is idle.
    """

    subject: int
    imu_t: FloatArray
    imu: FloatArray
    frame_t: FloatArray
    keypoints: FloatArray
    segments: tuple[Segment, ...]

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds."""
        return float(self.imu_t[-1] + 1.0 / IMU_RATE_HZ)


def _plan(
    actions: Sequence[str],
    rng: np.random.Generator,
    action_s: tuple[float, float],
    idle_s: tuple[float, float],
) -> tuple[list[Segment], float]:
    """Idle, action, idle, action, …, idle; returns the segments and the total duration."""
    t = rng.uniform(*idle_s)
    segments = []
    for name in actions:
        get_action(name)  # an unknown name fails here, before any simulation
        duration = rng.uniform(*action_s)
        segments.append(Segment(float(t), float(t + duration), name))
        t += duration + rng.uniform(*idle_s)
    return segments, float(t)


def _arm_in_action(
    subject: Subject,
    segment: Segment,
    t: FloatArray,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray | None]:
    """Joint angles (n, 5) of the right arm, and of the left arm if it takes part (else
    None), at times ``t`` inside one action segment."""
    action = get_action(segment.label)
    style = subject.action_style(segment.label)
    tempo = style.tempo * rng.normal(1.0, REPETITION_SCALE_STD)
    wander = smooth_noise(len(t), _DT, rng, 1, std=0.05, bandwidth_hz=0.5)[:, 0]
    rate = tempo / action.period_s * (1.0 + wander)
    phase = rng.uniform(0.0, 1.0) + np.concatenate([[0.0], np.cumsum(rate[1:] * np.diff(t))])
    phase += style.warp * np.sin(2.0 * np.pi * phase) / (2.0 * np.pi)
    amplitude = style.amplitude * rng.normal(1.0, REPETITION_SCALE_STD)
    center = action.mean_pose()

    def arm(arm_phase: FloatArray) -> FloatArray:
        cycle = action.cycle(arm_phase)
        offset = style.offset + rng.normal(0.0, REPETITION_OFFSET_STD, size=5)
        wobble = smooth_noise(len(t), _DT, rng, 5, std=subject.motion_noise_std, bandwidth_hz=1.5)
        return np.asarray(center + amplitude * (cycle - center) + offset + wobble)

    right = arm(phase)
    # Two hands are never perfectly in step: the left one lags a little.
    left = arm(phase - rng.uniform(0.0, 0.03)) if action.two_handed else None
    return right, left


def _joint_angles(
    subject: Subject, segments: Sequence[Segment], t: FloatArray, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Joint angles (n, 5) of both arms over the whole recording."""
    rest = [
        REST_POSE
        + rng.normal(0.0, 0.05, size=5)
        + smooth_noise(len(t), _DT, rng, 5, std=0.02, bandwidth_hz=0.3)
        for _ in range(2)
    ]
    right, left = rest[0].copy(), rest[1].copy()
    for segment in segments:
        inside = (t >= segment.t_start) & (t <= segment.t_end)
        ts = t[inside]
        into = smootherstep((ts - segment.t_start) / RAMP_S)
        out_of = smootherstep((segment.t_end - ts) / RAMP_S)
        weight = (into * out_of)[:, None]
        action_right, action_left = _arm_in_action(subject, segment, ts, rng)
        right[inside] += weight * (action_right - rest[0][inside])
        if action_left is not None:
            left[inside] += weight * (action_left - rest[1][inside])
    return right, left


def _observe_keypoints(subject: Subject, world: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Pixel keypoints (F, 17, 2) of world points (F, 17, 3), with detector errors."""
    pixels = subject.camera.project(world)
    pixels += rng.normal(0.0, subject.jitter_px, size=pixels.shape)
    missed = np.less(rng.random(pixels.shape[:2]), KEYPOINT_MISS_RATE)
    missed |= np.less(rng.random(pixels.shape[0]), FRAME_DROP_RATE)[:, None]
    pixels[missed] = np.nan
    return pixels


def simulate_recording(
    subject: Subject,
    actions: Sequence[str],
    seed: int | Sequence[int],
    *,
    action_s: tuple[float, float] = (4.0, 6.0),
    idle_s: tuple[float, float] = (1.0, 2.5),
) -> Recording:
    """Simulate one session of ``subject`` performing ``actions`` in order.

    Parameters
    ----------
    subject : Subject
    actions : sequence of str
        Action names (see :data:`~harbridge.calibration.simulation.actions.ACTIONS`);
        empty for a recording of the subject standing idle.
    seed : int or sequence of int
        Seed of everything that varies between sessions: durations, repetition style,
        sway, IMU bias and noise, detector noise. The same seed gives the same recording.
    action_s, idle_s : (float, float)
        Ranges of the durations of each action and of each idle period (one before the
        first action and one after each), seconds.

    Returns
    -------
    Recording
    """
    rng = np.random.default_rng(seed)
    segments, duration = _plan(actions, rng, action_s, idle_s)
    n = round(duration * IMU_RATE_HZ) * (FINE_RATE_HZ // IMU_RATE_HZ)
    # One extra fine sample at each end: the central differences of the IMU need them.
    t = np.arange(-1, n + 1) / FINE_RATE_HZ
    right_angles, left_angles = _joint_angles(subject, segments, t, rng)
    right_shoulder, left_shoulder = shoulder_positions(subject)
    right = arm_forward_kinematics(
        right_angles, right_shoulder, subject.upper_arm_m, subject.forearm_m, "right"
    )
    left = arm_forward_kinematics(
        left_angles, left_shoulder, subject.upper_arm_m, subject.forearm_m, "left"
    )
    # The whole body sways a little and turns slowly about the vertical.
    torso = rotation_z(smooth_noise(len(t), _DT, rng, 1, std=0.02, bandwidth_hz=0.3)[:, 0])
    sway_m = np.array([0.006, 0.006, 0.002])
    sway = sway_m * smooth_noise(len(t), _DT, rng, 3, std=1.0, bandwidth_hz=0.5)

    sensor_position = np.einsum("nij,nj->ni", torso, right.wrist) + sway
    sensor_rotation = torso @ right.forearm @ WRIST_MOUNT @ subject.mounting
    imu_step = FINE_RATE_HZ // IMU_RATE_HZ
    ideal = ideal_imu(sensor_position, sensor_rotation, _DT)[::imu_step]
    errors = draw_imu_errors(rng, subject.accel_noise_std, subject.gyro_noise_std)
    imu = apply_imu_errors(ideal, errors, rng)

    frame_step = FINE_RATE_HZ // VIDEO_FPS
    frames = slice(1, n + 1, frame_step)
    body = body_keypoints(subject, right, left)[frames]
    world = np.einsum("nij,nkj->nki", torso[frames], body) + sway[frames, None, :]
    keypoints = _observe_keypoints(subject, world, rng)
    return Recording(
        subject=subject.number,
        imu_t=np.arange(imu.shape[0]) / IMU_RATE_HZ,
        imu=imu,
        frame_t=np.arange(keypoints.shape[0]) / VIDEO_FPS,
        keypoints=keypoints,
        segments=tuple(segments),
    )
