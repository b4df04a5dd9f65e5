"""Paired windows of a synced recording: equal to the simulator's, with gaps counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from harbridge.calibration.pairing import ImuLog, VideoTrack
from harbridge.calibration.pairing.clock_sync import given_sync
from harbridge.calibration.pairing.imu_grid import sample_grid
from harbridge.calibration.pairing.motion_energy import imu_motion_energy, moving_samples
from harbridge.calibration.pairing.windows import PairedWindows, cut_paired_windows
from harbridge.calibration.simulation import (
    CHANNELS,
    HOP,
    WINDOW,
    cut_windows,
    make_subject,
    simulate_recording,
)
from harbridge.calibration.simulation.raw_recordings import RawRecording, raw_recording


@pytest.fixture(scope="module")
def session() -> tuple[RawRecording, float]:
    """A recording whose camera started 2 s after the IMU, and that start on the IMU clock."""
    recording = simulate_recording(make_subject(1, 0), ["wave", "throw"], [0, 1])
    return raw_recording(recording, 2.0, 0.0, np.random.default_rng(0)), 2.0


def _cut(
    raw: RawRecording, keep: np.ndarray | None = None, keypoints: np.ndarray | None = None
) -> PairedWindows:
    rows = np.arange(raw.imu_t.size) if keep is None else keep
    track = VideoTrack(
        Path("v.json"), raw.frame_t, raw.keypoints if keypoints is None else keypoints, None
    )
    log = ImuLog(Path("i.csv"), raw.imu_t[rows], raw.imu[rows], CHANNELS, {})
    grid = sample_grid(log.t)
    return cut_paired_windows(track, log, grid, given_sync(raw.offset_s), window=WINDOW, hop=HOP)


def test_windows_equal_the_simulators_at_the_same_instants(
    session: tuple[RawRecording, float],
) -> None:
    raw, video_start = session
    recording = simulate_recording(make_subject(1, 0), ["wave", "throw"], [0, 1])
    reference = cut_windows(recording)
    mine = _cut(raw)
    assert mine.candidates == len(mine) > 0
    on_sim_clock = mine.t_video + video_start
    matched = 0
    for i, t in enumerate(reference.t_start):
        j = np.flatnonzero(np.abs(on_sim_clock - t) < 1e-9)
        if j.size:
            matched += 1
            assert_array_equal(mine.imu[j[0]], reference.imu[i])
            assert_allclose(mine.video[j[0]], reference.video[i], atol=1e-12)
    assert matched >= 5
    assert_allclose(mine.t_imu, raw.offset_s + mine.t_video, atol=1e-9)


def test_windows_over_a_gap_in_the_imu_are_skipped_and_counted(
    session: tuple[RawRecording, float],
) -> None:
    raw, _ = session
    whole = _cut(raw)
    lone = np.delete(np.arange(raw.imu_t.size), [400, 700, 701])
    assert len(_cut(raw, keep=lone)) == len(whole)  # a few lost samples are interpolated
    gapped = _cut(raw, keep=np.delete(np.arange(raw.imu_t.size), np.arange(600, 640)))
    assert gapped.missing_imu > 0 and gapped.missing_video == 0
    assert len(gapped) + gapped.missing_imu == gapped.candidates == whole.candidates
    assert np.isfinite(gapped.imu).all()
    # Every window that kept more than 10 % of the gap is the one skipped.
    slots = np.round((whole.t_imu - raw.imu_t[0]) * 50).astype(int)
    hit = np.minimum(slots + WINDOW, 640) - np.maximum(slots, 600)
    assert gapped.missing_imu == np.count_nonzero(hit > 0.1 * WINDOW)


def test_windows_without_the_arms_in_view_are_skipped_and_counted(
    session: tuple[RawRecording, float],
) -> None:
    raw, _ = session
    keypoints = raw.keypoints.copy()
    dark = (raw.frame_t > 6.0) & (raw.frame_t < 10.0)
    keypoints[dark] = np.nan
    windows = _cut(raw, keypoints=keypoints)
    assert windows.missing_video > 0 and windows.missing_imu == 0
    kept_end = windows.t_video + WINDOW / 50
    # No kept window has its arms hidden for more than half its span.
    hidden = np.minimum(kept_end, 10.0) - np.maximum(windows.t_video, 6.0)
    assert np.all(hidden <= 0.5 * WINDOW / 50 + 1 / 30)


def test_per_frame_features_are_averaged_over_the_window(
    session: tuple[RawRecording, float],
) -> None:
    raw, _ = session
    features = np.column_stack([raw.frame_t, np.sin(raw.frame_t)])
    track = VideoTrack(Path("f.npz"), raw.frame_t, None, features)
    log = ImuLog(Path("i.csv"), raw.imu_t, raw.imu, CHANNELS, {})
    windows = cut_paired_windows(
        track, log, sample_grid(log.t), given_sync(raw.offset_s), window=WINDOW, hop=HOP
    )
    for start, feature in zip(windows.t_video, windows.video, strict=True):
        inside = (raw.frame_t >= start - 1e-6) & (raw.frame_t < start + WINDOW / 50 - 1e-6)
        assert_allclose(feature, features[inside].mean(axis=0), atol=1e-9)


@pytest.mark.parametrize("min_moving", [0.5, 0.8])
def test_windows_of_a_still_arm_are_skipped_and_counted(
    session: tuple[RawRecording, float], min_moving: float
) -> None:
    raw, _ = session
    track = VideoTrack(Path("v.json"), raw.frame_t, raw.keypoints, None)
    log = ImuLog(Path("i.csv"), raw.imu_t, raw.imu, CHANNELS, {})
    moving = moving_samples(imu_motion_energy(log))
    grid = sample_grid(log.t)

    def cut(share: float) -> PairedWindows:
        return cut_paired_windows(
            track, log, grid, given_sync(raw.offset_s), window=WINDOW, hop=HOP,
            moving=moving, min_moving=share,
        )  # fmt: skip

    every, some = cut(0.0), cut(min_moving)
    assert every.still == 0 and some.still > 0
    assert len(some) + some.still == len(every)
    slots = np.round((some.t_imu - raw.imu_t[0]) * 50).astype(int)
    shares = np.array([moving[s : s + WINDOW].mean() for s in slots])
    assert np.all(shares >= min_moving)
    # The still windows are those of the subject standing between and around the actions.
    t_seg = [(a, b) for a, b, _ in raw.segments]
    inside = [any(a <= t and t + WINDOW / 50 <= b for a, b in t_seg) for t in every.t_video]
    kept = set(np.round(some.t_video, 6))
    assert (
        np.mean([np.round(t, 6) in kept for t, i in zip(every.t_video, inside, strict=True) if i])
        > 0.9
    )


def test_moving_samples_follow_the_actions(session: tuple[RawRecording, float]) -> None:
    raw, _ = session
    log = ImuLog(Path("i.csv"), raw.imu_t, raw.imu, CHANNELS, {})
    moving = moving_samples(imu_motion_energy(log))
    t_video = raw.imu_t - raw.offset_s
    acting = np.zeros(t_video.size, dtype=bool)
    for a, b, _ in raw.segments:
        acting |= (t_video >= a + 0.5) & (t_video <= b - 0.5)  # past the ramps in and out
    idle = np.ones(t_video.size, dtype=bool)
    for a, b, _ in raw.segments:
        idle &= (t_video < a - 0.2) | (t_video > b + 0.2)
    assert moving[acting].mean() > 0.95
    assert moving[idle].mean() < 0.05
