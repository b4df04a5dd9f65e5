"""Clock sync of `harbridge pair`: masked cross-correlation, offsets, drift, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from harbridge.calibration.pairing import (
    ClockSync,
    ImuLog,
    SyncError,
    VideoTrack,
    estimate_sync,
    imu_motion_energy,
    sync_recording,
    video_motion_energy,
)
from harbridge.calibration.pairing.clock_sync import (
    MIN_DRIFT_SPAN_S,
    best_peak,
    given_sync,
    masked_ncc,
)
from harbridge.calibration.simulation import ACTIONS, CHANNELS, make_subject, simulate_recording
from harbridge.calibration.simulation.raw_recordings import RawRecording, raw_recording
from harbridge.errors import InputError

FRAME_S = 1.0 / 30.0


def _views(raw: RawRecording, channels: tuple[str, ...] = CHANNELS) -> tuple[VideoTrack, ImuLog]:
    keep = [CHANNELS.index(c) for c in channels]
    track = VideoTrack(Path("video.json"), raw.frame_t, raw.keypoints, None)
    return track, ImuLog(Path("imu.csv"), raw.imu_t, raw.imu[:, keep], channels, {})


def _raw(
    seed: int, actions: list[str], offset: float, drift: float, subject: int = 1
) -> RawRecording:
    recording = simulate_recording(make_subject(subject, seed), actions, [seed, 1])
    return raw_recording(recording, offset, drift, np.random.default_rng(seed))


def _worst_error(raw: RawRecording, offset: float, drift: float) -> float:
    """Largest |estimated − true| IMU time over the video's span, seconds."""
    ends = np.array([0.0, raw.frame_t[-1]])
    return float(np.max(np.abs(offset - raw.offset_s + (drift - raw.drift) * ends)))


# --- the numeric kernels ---------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_masked_ncc_equals_pearson_at_every_lag(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=40), rng.normal(size=55)
    mx, my = rng.random(40) > 0.2, rng.random(55) > 0.3
    lags, r = masked_ncc(x, mx, y, my, min_overlap=5)
    for lag, value in zip(lags, r, strict=True):
        k = np.arange(max(0, -lag), min(40, 55 - lag))
        both = k[mx[k] & my[k + lag]]
        if both.size < 5:
            assert np.isnan(value)
        else:
            expected = np.corrcoef(x[both], y[both + lag])[0, 1]
            assert_allclose(value, expected, atol=1e-9)


@pytest.mark.parametrize("shift", [-0.4, 0.0, 0.23])
def test_best_peak_finds_a_parabola_vertex_between_steps(shift: float) -> None:
    lags = np.arange(-20, 21)
    r = np.asarray(0.9 - 0.01 * (lags - 3.0 - shift) ** 2, dtype=np.float64)
    r[lags < -10] = 0.5 - 0.01 * (lags[lags < -10] + 15) ** 2  # a rival at -15
    peak = best_peak(lags, r, exclusion=5)
    assert peak is not None
    assert_allclose(peak.lag, 3 + shift, atol=1e-9)
    assert_allclose(peak.correlation, r[23], atol=1e-12)
    assert_allclose(peak.margin, r[23] - 0.5, atol=1e-12)


@pytest.mark.parametrize(("offset", "drift"), [(2.5, 1e-4), (-3.1, -7e-5)])
def test_clock_sync_maps_back_and_forth(offset: float, drift: float) -> None:
    sync = ClockSync(offset, drift, 0.9, 0.5, True, 5, "auto")
    t = np.linspace(-10.0, 1000.0, 7)
    assert_allclose(sync.to_video(sync.to_imu(t)), t, atol=1e-9)
    assert_allclose(sync.to_imu(0.0), offset)
    assert given_sync(offset).doubt() is None


# --- offsets on simulated recordings ---------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "action", "offset", "drift"),
    [
        (0, "wave", 4.83, 9e-5),
        (1, "throw", -4.9, -1e-4),
        (2, "circle_cw", 0.37, 3e-5),
        (3, "push", -1.62, -6e-5),
        (4, "knock", 2.71, 1e-4),
    ],
)
def test_sync_recovers_the_offset_within_one_frame(
    seed: int, action: str, offset: float, drift: float
) -> None:
    raw = _raw(seed, [action] * 4, offset, drift, subject=seed + 1)
    sync, energy = sync_recording(*_views(raw), "right")
    assert energy == ("right wrist speed", "angular-rate magnitude")
    assert sync.method == "auto" and not sync.drift_estimated
    assert _worst_error(raw, sync.offset_s, sync.drift) < FRAME_S
    assert sync.correlation is not None and sync.correlation > 0.5


def test_sync_without_a_gyroscope_uses_the_acceleration() -> None:
    raw = _raw(5, ["boxing"] * 4, -2.2, 5e-5)
    track, log = _views(raw, ("ax", "ay", "az"))
    sync = estimate_sync(video_motion_energy(track, "right"), imu_motion_energy(log))
    assert imu_motion_energy(log).source == "rate of change of the acceleration"
    # Coarser than with the gyroscope (benchmarks/clock_sync.py): within three frames.
    assert _worst_error(raw, sync.offset_s, sync.drift) < 3 * FRAME_S


@pytest.mark.parametrize(("seed", "drift"), [(6, 1e-4), (7, -8e-5)])
def test_drift_is_estimated_over_long_recordings(seed: int, drift: float) -> None:
    order = [str(a) for a in np.random.default_rng(seed).permutation(np.repeat(ACTIONS, 4))]
    raw = _raw(seed, order, 3.3, drift)
    assert raw.frame_t[-1] > MIN_DRIFT_SPAN_S
    track, log = _views(raw)
    sync = estimate_sync(video_motion_energy(track, "right"), imu_motion_energy(log))
    assert sync.drift_estimated and sync.segments >= 8
    # Piece offsets scatter by a few ms, so five minutes pin the drift to tens of ppm.
    assert_allclose(sync.drift, drift, atol=6e-5)
    assert _worst_error(raw, sync.offset_s, sync.drift) < FRAME_S / 2
    # Ignoring the drift would have been off by about drift × duration / 2 at the ends.
    assert _worst_error(raw, sync.offset_s, 0.0) > 0.01


# --- refusals --------------------------------------------------------------------------


def test_a_recording_without_motion_is_refused() -> None:
    idle = simulate_recording(make_subject(2, 0), [], [0, 9], idle_s=(30.0, 30.0))
    raw = raw_recording(idle, 1.0, 0.0, np.random.default_rng(0))
    with pytest.raises(InputError) as info:
        sync_recording(*_views(raw), "right")
    assert info.value.field == "sync"
    assert "correlate at only" in info.value.problem
    assert "--sync SECONDS" in info.value.problem


def test_the_video_of_one_session_with_the_imu_of_another_is_refused() -> None:
    order = list(ACTIONS)
    video = _views(_raw(8, order, 0.5, 0.0, subject=3))[0]
    imu = _views(_raw(9, order[::-1], -0.5, 0.0, subject=5))[1]
    with pytest.raises(InputError, match="sync"):
        sync_recording(video, imu, "right")


def test_a_recording_too_short_to_sync_is_refused() -> None:
    raw = _raw(10, ["clap"], 0.0, 0.0)
    cut = RawRecording(
        raw.frame_t[:150], raw.keypoints[:150], raw.imu_t, raw.imu, 0.0, 0.0, raw.segments
    )
    track, log = _views(cut)
    with pytest.raises(SyncError, match="usable motion signal"):
        estimate_sync(video_motion_energy(track, "right"), imu_motion_energy(log))


def test_the_wrong_wrist_does_not_sync() -> None:
    raw = _raw(11, ["wave"] * 4, 1.5, 0.0)  # a one-handed action, IMU on the right
    with pytest.raises(InputError, match="sync"):
        sync_recording(*_views(raw), "left")


def test_a_given_offset_skips_the_estimate() -> None:
    idle = simulate_recording(make_subject(2, 0), [], [0, 9], idle_s=(30.0, 30.0))
    raw = raw_recording(idle, 1.0, 0.0, np.random.default_rng(0))
    sync, _ = sync_recording(*_views(raw), "right", offset_s=1.25)
    assert (sync.offset_s, sync.drift, sync.method) == (1.25, 0.0, "given")
