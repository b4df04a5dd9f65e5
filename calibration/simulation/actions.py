"""The arm actions, UTD-MHAD style, as periodic joint-angle cycles of the kinematic chain.

Each action is one cycle ``phase ∈ [0, 1) → joint angles (5,)`` of the right arm (and of
the left arm for two-handed actions), with a base cycle duration. Rhythmic actions (wave,
clap, circles, knock) are sinusoids; discrete ones (throw, boxing, push, ...) pass through
key poses with C²-smooth transitions, so accelerations stay finite and continuous.
Angles follow :data:`harbridge.calibration.simulation.kinematics.JOINTS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ACTIONS", "REST_POSE", "Action", "get_action", "smootherstep"]

FloatArray = npt.NDArray[np.float64]

#: Arm hanging, slightly abducted and bent, palm facing the thigh.
REST_POSE = np.array([0.05, 0.10, 0.0, 0.20, 0.0])

TWO_PI = 2.0 * np.pi


@dataclass(frozen=True)
class Action:
    """One action class.

    Attributes
    ----------
    name : str
        Class name as written in the dataset files.
    period_s : float
        Duration of one cycle at the nominal tempo.
    cycle : callable
        ``phase (n,) -> angles (n, 5)`` of the right arm, phase in cycles.
    two_handed : bool
        Whether the left arm mirrors the right one (otherwise it rests).
    """

    name: str
    period_s: float
    cycle: Callable[[FloatArray], FloatArray]
    two_handed: bool = False

    def mean_pose(self) -> FloatArray:
        """Joint angles of shape (5,) averaged over one cycle: the centre of the motion."""
        phases = np.arange(240) / 240.0
        return np.asarray(self.cycle(phases).mean(axis=0))


def smootherstep(u: npt.ArrayLike) -> FloatArray:
    """``6u⁵ − 15u⁴ + 10u³`` of ``u`` clipped to [0, 1]: 0 → 1, still at both ends.

    Velocity and acceleration are zero at 0 and 1, so motions blended with it start and
    stop without jerks in the simulated accelerometer.
    """
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    return np.asarray(u**3 * (u * (6.0 * u - 15.0) + 10.0))


def _keyframes(
    phases: Sequence[float], poses: Sequence[Sequence[float]]
) -> Callable[[FloatArray], FloatArray]:
    """A periodic cycle through key poses, C²-smooth, resting briefly at each pose.

    Parameters
    ----------
    phases : sequence of float
        Increasing phases in [0, 1) at which the poses are reached.
    poses : sequence of sequences of 5 floats
        Joint angles at those phases; after the last one the cycle returns to the first.
    """
    knots = np.append(np.asarray(phases, dtype=np.float64), phases[0] + 1.0)
    key = np.asarray(poses, dtype=np.float64)
    key = np.vstack([key, key[:1]])

    def cycle(phase: FloatArray) -> FloatArray:
        p = np.mod(phase - knots[0], 1.0) + knots[0]
        i = np.clip(np.searchsorted(knots, p, side="right") - 1, 0, len(knots) - 2)
        u = (p - knots[i]) / (knots[i + 1] - knots[i])
        return np.asarray(key[i] + smootherstep(u)[:, None] * (key[i + 1] - key[i]))

    return cycle


def _sinusoidal(
    center: Sequence[float], amplitude: Sequence[float], lag: Sequence[float]
) -> Callable[[FloatArray], FloatArray]:
    """``center + amplitude · cos(2π (phase − lag))`` per joint."""
    c, a, g = (np.asarray(v, dtype=np.float64) for v in (center, amplitude, lag))

    def cycle(phase: FloatArray) -> FloatArray:
        return np.asarray(c + a * np.cos(TWO_PI * (phase[:, None] - g)))

    return cycle


def _circle(direction: float) -> Callable[[FloatArray], FloatArray]:
    """The raised arm circling: flexion and abduction a quarter cycle apart.

    ``direction`` +1 gives ``circle_cw``, −1 the same circle run the other way round.
    """
    return _sinusoidal(
        [1.2, 0.25, 0.0, 0.30, 0.2], [0.45, 0.40, 0.0, 0.0, 0.0], [0, 0.25 * direction, 0, 0, 0]
    )


def _joints(phase: FloatArray, *angles: float | FloatArray) -> FloatArray:
    """Joint angles of shape (n, 5) from one constant or one curve (n,) per joint."""
    q = np.empty((phase.shape[0], 5))
    for joint, angle in enumerate(angles):
        q[:, joint] = angle
    return q


def _clap(phase: FloatArray) -> FloatArray:
    # The cube of a raised cosine closes the hands fast and opens them slowly, as a clap.
    closing = ((1.0 + np.cos(TWO_PI * phase)) / 2.0) ** 3
    return _joints(
        phase, 1.15, 0.45 - 0.35 * closing, 0.35 + 0.55 * closing, 1.0 - 0.15 * closing, 0.3
    )


def _knock(phase: FloatArray) -> FloatArray:
    tap = np.exp(-(((np.mod(phase, 1.0) - 0.5) / 0.18) ** 2))
    return _joints(phase, 0.85 + 0.06 * tap, 0.25, 0.2, 1.75 - 0.35 * tap, -0.2)


_ACTION_LIST = (
    Action(
        "wave",
        0.55,
        _sinusoidal(
            [0.25, 1.35, -1.30, 1.55, -0.4], [0.0, 0.05, 0.45, 0.12, 0.0], [0, 0, 0, 0.25, 0]
        ),
    ),
    Action("clap", 0.6, _clap, two_handed=True),
    Action(
        "throw",
        1.9,
        _keyframes(
            [0.0, 0.35, 0.55, 0.65, 0.85],
            [
                [0.30, 0.20, 0.0, 0.6, 0.0],
                [2.30, 0.70, -1.10, 2.00, -0.3],
                [1.40, 0.50, 0.40, 0.30, 0.6],
                [1.00, 0.30, 0.60, 0.40, 0.6],
                [0.40, 0.20, 0.20, 0.60, 0.2],
            ],
        ),
    ),
    Action(
        "arm_cross",
        2.6,
        _keyframes(
            [0.0, 0.3, 0.6],
            [
                [0.10, 0.15, 0.0, 0.4, 0.0],
                [1.25, 0.20, 1.50, 1.95, 0.2],
                [1.30, 0.20, 1.55, 1.95, 0.2],
            ],
        ),
        two_handed=True,
    ),
    Action(
        "boxing",
        0.95,
        _keyframes(
            [0.0, 0.2, 0.45],
            [
                [0.55, 0.30, 0.50, 2.10, 1.2],
                [1.50, 0.10, 0.10, 0.15, 1.5],
                [0.60, 0.25, 0.45, 2.00, 1.2],
            ],
        ),
    ),
    Action("circle_cw", 1.5, _circle(+1.0)),
    Action("circle_ccw", 1.5, _circle(-1.0)),
    Action(
        "draw_x",
        2.6,
        _keyframes(
            [0.0, 0.3, 0.5, 0.8],
            [
                [1.65, -0.05, 0.2, 0.45, 0.2],
                [0.90, 0.55, 0.0, 0.30, 0.2],
                [1.65, 0.55, 0.0, 0.45, 0.2],
                [0.90, -0.05, 0.2, 0.30, 0.2],
            ],
        ),
    ),
    Action(
        "arm_curl",
        2.1,
        _keyframes(
            [0.0, 0.1, 0.5, 0.6],
            [
                [0.05, 0.10, 0.0, 0.20, -1.3],
                [0.05, 0.10, 0.0, 0.20, -1.3],
                [0.20, 0.10, 0.0, 2.30, -1.4],
                [0.20, 0.10, 0.0, 2.30, -1.4],
            ],
        ),
        two_handed=True,
    ),
    Action(
        "tennis_swing",
        2.3,
        _keyframes(
            [0.0, 0.35, 0.5, 0.6, 0.8],
            [
                [0.50, 0.35, 0.30, 1.20, 0.0],
                [0.60, 1.20, -1.00, 0.50, -0.3],
                [1.05, 0.90, 0.40, 0.60, 0.2],
                [1.35, 0.45, 1.20, 0.90, 0.4],
                [0.80, 0.35, 0.60, 1.10, 0.1],
            ],
        ),
    ),
    Action(
        "push",
        1.9,
        _keyframes(
            [0.0, 0.15, 0.45, 0.6],
            [
                [0.40, 0.35, 0.30, 2.20, -0.9],
                [0.40, 0.35, 0.30, 2.20, -0.9],
                [1.45, 0.15, 0.00, 0.15, -1.0],
                [1.45, 0.15, 0.00, 0.15, -1.0],
            ],
        ),
        two_handed=True,
    ),
    Action("knock", 0.4, _knock),
)

_BY_NAME = {action.name: action for action in _ACTION_LIST}

#: class names, in label order
ACTIONS: tuple[str, ...] = tuple(action.name for action in _ACTION_LIST)


def get_action(name: str) -> Action:
    """The action called ``name``; raises ``KeyError`` naming the known actions otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown action {name!r}; known actions: {', '.join(ACTIONS)}") from None
