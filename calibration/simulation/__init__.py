"""A physically grounded simulated paired video/IMU dataset of arm actions (UTD-MHAD style).

Subjects with their own body size, motor style, sensor mounting and camera perform arm
actions through a shoulder–elbow–wrist kinematic chain. A wrist IMU (50 Hz, m/s² and
rad/s) and a camera (COCO-17 2-D keypoints at 30 fps, summarised by a fixed video encoder)
record them on one clock. :func:`simulate_dataset` writes the default dataset of
``harbridge simulate``; :func:`build_dataset` and :func:`simulate_recording` give the same
data in memory.
"""

from harbridge.calibration.simulation.actions import ACTIONS
from harbridge.calibration.simulation.dataset import SimulatedDataset, build_dataset
from harbridge.calibration.simulation.imu import CHANNELS, UNITS
from harbridge.calibration.simulation.recording import Recording, Segment, simulate_recording
from harbridge.calibration.simulation.subjects import Subject, make_subject, make_subjects
from harbridge.calibration.simulation.video_encoder import (
    D_VIDEO,
    encode_video,
    encode_video_batch,
)
from harbridge.calibration.simulation.windows import HOP, WINDOW, Windows, cut_windows
from harbridge.calibration.simulation.writer import (
    SimulationSummary,
    simulate_dataset,
    write_dataset,
)

__all__ = [
    "ACTIONS",
    "CHANNELS",
    "D_VIDEO",
    "HOP",
    "UNITS",
    "WINDOW",
    "Recording",
    "Segment",
    "SimulatedDataset",
    "SimulationSummary",
    "Subject",
    "Windows",
    "build_dataset",
    "cut_windows",
    "encode_video",
    "encode_video_batch",
    "make_subject",
    "make_subjects",
    "simulate_dataset",
    "simulate_recording",
    "write_dataset",
]
