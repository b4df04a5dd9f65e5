"""The simulated UTD-MHAD-like dataset in memory: training and held-out windows, and a
continuous recording of a held-out subject.

Cross-subject protocol as in UTD-MHAD: odd-numbered subjects train, even-numbered subjects
are held out. Training windows are cut as from a continuous recording, each labelled by the
action filling at least half of it (:data:`TRAIN_MIN_INSIDE`), so that calibration sees the
windows a device sees at the start and end of an action; held-out windows lie wholly inside
an action. Every recording has its own seed derived from the dataset seed, the subject
and the action, so the same seed always gives the same dataset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harbridge.calibration.simulation.actions import ACTIONS
from harbridge.calibration.simulation.recording import Recording, simulate_recording
from harbridge.calibration.simulation.subjects import make_subjects
from harbridge.calibration.simulation.windows import Windows, cut_windows

__all__ = [
    "N_SUBJECTS",
    "REPETITIONS",
    "STREAM_REPETITIONS",
    "TRAIN_MIN_INSIDE",
    "SimulatedDataset",
    "build_dataset",
]

N_SUBJECTS = 10
#: times each subject performs each action (UTD-MHAD: 4)
REPETITIONS = 4
#: times each action appears in the continuous stream
STREAM_REPETITIONS = 2
#: share of a training window that must lie inside its action (see cut_windows)
TRAIN_MIN_INSIDE = 0.5
#: seed-path component of the stream, apart from the per-action recordings
_STREAM_KEY = 1000


@dataclass(frozen=True, eq=False)
class SimulatedDataset:
    """Everything ``harbridge simulate`` writes, before it is written.

    Attributes
    ----------
    seed : int
    class_names : tuple of str
    train : Windows
        Windows of the training (odd-numbered) subjects, at least half inside an action.
    test : Windows
        Windows of the held-out (even-numbered) subjects.
    stream : Recording
        A held-out subject performing every action in a random order, with idle periods.
    """

    seed: int
    class_names: tuple[str, ...]
    train: Windows
    test: Windows
    stream: Recording


def _concatenate(parts: list[Windows]) -> Windows:
    return Windows(
        imu=np.concatenate([w.imu for w in parts]),
        video=np.concatenate([w.video for w in parts]),
        label=np.concatenate([w.label for w in parts]),
        subject=np.concatenate([w.subject for w in parts]),
        t_start=np.concatenate([w.t_start for w in parts]),
        inside=np.concatenate([w.inside for w in parts]),
    )


def build_dataset(
    seed: int,
    n_subjects: int = N_SUBJECTS,
    repetitions: int = REPETITIONS,
    stream_repetitions: int = STREAM_REPETITIONS,
) -> SimulatedDataset:
    """Simulate the whole dataset.

    Parameters
    ----------
    seed : int
        Non-negative seed of the subject population and of every recording.
    n_subjects : int
        Number of subjects, at least 2 (one training, one held out).
    repetitions : int
        Action segments per subject and action.
    stream_repetitions : int
        Occurrences of each action in the continuous stream.

    Returns
    -------
    SimulatedDataset
    """
    if n_subjects < 2:
        raise ValueError(f"need at least 2 subjects (1 training, 1 held out), got {n_subjects}")
    subjects = make_subjects(n_subjects, seed)
    train: list[Windows] = []
    test: list[Windows] = []
    for subject in subjects:
        for k, action in enumerate(ACTIONS):
            recording = simulate_recording(
                subject, [action] * repetitions, [seed, subject.number, k]
            )
            if subject.number % 2 == 1:
                train.append(cut_windows(recording, min_inside=TRAIN_MIN_INSIDE))
            else:
                test.append(cut_windows(recording))
    stream_subject = subjects[1]
    rng = np.random.default_rng([seed, stream_subject.number, _STREAM_KEY])
    order = [str(a) for a in rng.permutation(np.repeat(ACTIONS, stream_repetitions))]
    stream = simulate_recording(
        stream_subject,
        order,
        [seed, stream_subject.number, _STREAM_KEY + 1],
        action_s=(3.0, 6.0),
        idle_s=(2.0, 5.0),
    )
    return SimulatedDataset(seed, ACTIONS, _concatenate(train), _concatenate(test), stream)
