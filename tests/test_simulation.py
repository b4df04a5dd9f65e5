"""Tests of the simulated paired video/IMU dataset (``harbridge simulate``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from harbridge.calibration.simulation import (
    ACTIONS,
    CHANNELS,
    D_VIDEO,
    UNITS,
    WINDOW,
    build_dataset,
    cut_windows,
    encode_video,
    make_subject,
    make_subjects,
    simulate_dataset,
    simulate_recording,
)
from harbridge.calibration.simulation.dataset import N_SUBJECTS
from harbridge.calibration.simulation.imu import GRAVITY, WRIST_MOUNT, ideal_imu
from harbridge.calibration.simulation.kinematics import arm_forward_kinematics
from harbridge.calibration.simulation.noise import smooth_noise
from harbridge.calibration.simulation.recording import IMU_RATE_HZ, VIDEO_FPS
from harbridge.calibration.simulation.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    rotation_x,
    rotation_y,
    rotation_z,
)
from harbridge.calibration.simulation.writer import FILES, write_dataset
from harbridge.cli import main
from harbridge.errors import InputError

FINE_DT = 1.0 / 1000.0

Array = npt.NDArray[np.float64]
Window = tuple[Array, Array]


@pytest.fixture(scope="module")
def small_dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small dataset (4 subjects, 1 repetition) written through the public API."""
    out = tmp_path_factory.mktemp("sim") / "dataset"
    simulate_dataset(out, seed=3, n_subjects=4, repetitions=1, stream_repetitions=1)
    return out


# --- rotations and noise ---------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_map_inverts_rodrigues(seed: int) -> None:
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=(50, 3))
    rotvec = axis / np.linalg.norm(axis, axis=1, keepdims=True) * rng.uniform(0, 3.0, (50, 1))
    R = axis_angle_to_matrix(rotvec)
    assert_allclose(R @ np.swapaxes(R, 1, 2), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    assert_allclose(matrix_to_axis_angle(R), rotvec, atol=1e-9)


@pytest.mark.parametrize(
    ("elementary", "axis"),
    [(rotation_x, [1.0, 0, 0]), (rotation_y, [0, 1.0, 0]), (rotation_z, [0, 0, 1.0])],
)
def test_elementary_rotations_match_rodrigues(
    elementary: Callable[[Array], Array], axis: list[float]
) -> None:
    angles = np.linspace(-3.0, 3.0, 7)
    expected = axis_angle_to_matrix(np.outer(angles, axis))
    assert_allclose(elementary(angles), expected, atol=1e-12)


@pytest.mark.parametrize("bandwidth_hz", [0.3, 1.5])
def test_smooth_noise_has_requested_spread_and_band(bandwidth_hz: float) -> None:
    rng = np.random.default_rng(4)
    x = smooth_noise(3000, 1 / 300, rng, 400, std=0.1, bandwidth_hz=bandwidth_hz)
    assert x.shape == (3000, 400)
    assert_allclose(x.std(), 0.1, rtol=0.1)
    # A Hann taper keeps the leakage of the finite span out of the high band.
    tapered = (x - x.mean(axis=0)) * np.hanning(3000)[:, None]
    power = np.abs(np.fft.rfft(tapered, axis=0)) ** 2
    above = np.fft.rfftfreq(3000, 1 / 300) > bandwidth_hz + 0.2
    assert power[above].sum() < 1e-3 * power.sum()


# --- physics ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_static_sensor_reads_gravity_up_and_no_rotation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    R = np.repeat(axis_angle_to_matrix(rng.normal(size=3))[None], 20, axis=0)
    position = np.repeat(rng.normal(size=(1, 3)), 20, axis=0)
    readings = ideal_imu(position, R, FINE_DT)
    assert_allclose(readings[:, :3], np.broadcast_to(R[0].T @ [0, 0, GRAVITY], (18, 3)))
    assert_allclose(np.linalg.norm(readings[:, :3], axis=1), GRAVITY, rtol=1e-12)
    assert_allclose(readings[:, 3:], 0.0, atol=1e-12)


@pytest.mark.parametrize("rate", [-3.0, 1.0, 5.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_pure_elbow_rotation_gives_the_elbow_rate(rate: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(400) * FINE_DT
    angles = np.tile(rng.uniform(-0.5, 0.5, size=5), (t.size, 1))
    angles[:, 3] = 1.0 + rate * t
    subject = make_subject(1, seed)
    arm = arm_forward_kinematics(angles, [0.0, -0.2, 1.4], 0.3, 0.25)
    sensor = WRIST_MOUNT @ subject.mounting
    readings = ideal_imu(arm.wrist, arm.forearm @ sensor, FINE_DT)
    # Elbow flexion turns the forearm about the elbow axis (−y before pronation) at the
    # elbow rate, whatever the other joints hold.
    expected_gyro = sensor.T @ rotation_z(angles[0, 4]).T @ [0.0, -rate, 0.0]
    assert_allclose(readings[:, 3:], np.broadcast_to(expected_gyro, (398, 3)), atol=1e-9)
    # The wrist circles the elbow: centripetal acceleration rate² · forearm length.
    R = (arm.forearm @ sensor)[1:-1]
    linear = np.einsum("nij,nj->ni", R, readings[:, :3]) - [0.0, 0.0, GRAVITY]
    assert_allclose(np.linalg.norm(linear, axis=1), rate**2 * 0.25, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mounting_rotation_preserves_magnitudes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(300) * FINE_DT
    angles = rng.uniform(-0.5, 1.0, size=5) + np.sin(2 * np.pi * t[:, None] * [1, 2, 3, 1.5, 2.5])
    arm = arm_forward_kinematics(angles, [0.0, -0.2, 1.4], 0.3, 0.25)
    mounting = make_subject(2, seed).mounting
    nominal = ideal_imu(arm.wrist, arm.forearm @ WRIST_MOUNT, FINE_DT)
    mounted = ideal_imu(arm.wrist, arm.forearm @ WRIST_MOUNT @ mounting, FINE_DT)
    for block in (slice(0, 3), slice(3, 6)):
        assert_allclose(
            np.linalg.norm(mounted[:, block], axis=1),
            np.linalg.norm(nominal[:, block], axis=1),
            rtol=1e-9,
        )
        assert_allclose(mounted[:, block], nominal[:, block] @ mounting, atol=1e-9)
    assert not np.allclose(mounted, nominal, atol=1e-3)


@pytest.mark.parametrize("number", [1, 2, 3])
def test_idle_accelerometer_magnitude_is_gravity(number: int) -> None:
    recording = simulate_recording(make_subject(number, 0), [], seed=number)
    magnitude = np.linalg.norm(recording.imu[:, :3], axis=1)
    # Within per-recording bias (0.08 m/s²) and scale error (1 %), both 1 sigma.
    assert abs(magnitude.mean() - GRAVITY) < 0.4
    assert magnitude.std() < 0.15
    assert np.abs(recording.imu[:, 3:]).mean() < 0.1


def test_actions_move_the_wrist_more_than_idle() -> None:
    recording = simulate_recording(make_subject(1, 0), ["wave", "boxing"], seed=5)
    t = recording.imu_t
    active = np.zeros(t.shape, dtype=bool)
    idle = np.ones(t.shape, dtype=bool)
    for segment in recording.segments:
        active |= (t > segment.t_start + 0.5) & (t < segment.t_end - 0.5)
        idle &= (t < segment.t_start) | (t > segment.t_end)
    gyro = np.linalg.norm(recording.imu[:, 3:], axis=1)
    assert gyro[active].mean() > 20 * gyro[idle].mean()


# --- recordings ------------------------------------------------------------------------


def test_recording_shapes_and_clocks() -> None:
    recording = simulate_recording(make_subject(2, 0), ["clap", "draw_x"], seed=9)
    n, frames = recording.imu_t.size, recording.frame_t.size
    assert recording.imu.shape == (n, 6)
    assert recording.keypoints.shape == (frames, 17, 2)
    assert_allclose(np.diff(recording.imu_t), 1 / IMU_RATE_HZ)
    assert_allclose(np.diff(recording.frame_t), 1 / VIDEO_FPS)
    assert_allclose(recording.frame_t[-1], recording.imu_t[-1], atol=1 / VIDEO_FPS)
    assert np.all(np.isfinite(recording.imu))
    missing = np.isnan(recording.keypoints).any(axis=2)
    assert 0.005 < missing.mean() < 0.15
    assert [s.label for s in recording.segments] == ["clap", "draw_x"]


def test_same_seed_same_recording_other_seed_other_recording() -> None:
    subject = make_subject(3, 7)
    a = simulate_recording(subject, ["throw", "push"], seed=11)
    b = simulate_recording(make_subject(3, 7), ["throw", "push"], seed=11)
    c = simulate_recording(subject, ["throw", "push"], seed=12)
    assert_array_equal(a.imu, b.imu)
    assert_array_equal(a.keypoints, b.keypoints)
    assert a.segments == b.segments
    assert a.segments != c.segments


def test_unknown_action_is_refused() -> None:
    with pytest.raises(KeyError, match="known actions"):
        simulate_recording(make_subject(1, 0), ["moonwalk"], seed=0)


def test_windows_lie_inside_their_segments() -> None:
    recording = simulate_recording(make_subject(1, 1), ["arm_curl", "knock"], seed=2)
    windows = cut_windows(recording)
    span = WINDOW / IMU_RATE_HZ
    assert len(windows) > 0
    assert windows.imu.shape == (len(windows), WINDOW, 6)
    assert windows.video.shape == (len(windows), D_VIDEO)
    for t0, label in zip(windows.t_start, windows.label, strict=True):
        inside = [s for s in recording.segments if s.t_start <= t0 and t0 + span <= s.t_end + 1e-9]
        assert [ACTIONS.index(s.label) for s in inside] == [label]


def test_half_inside_windows_reach_into_idle_time_and_keep_the_whole_ones() -> None:
    recording = simulate_recording(make_subject(1, 1), ["arm_curl", "knock"], seed=2)
    whole = cut_windows(recording)
    half = cut_windows(recording, min_inside=0.5)
    span = WINDOW / IMU_RATE_HZ
    assert_array_equal(whole.inside, 1.0)
    assert set(whole.t_start) < set(half.t_start)
    assert half.inside.min() == 0.5
    for t0, label, share in zip(half.t_start, half.label, half.inside, strict=True):
        overlaps = [
            (min(t0 + span, s.t_end) - max(t0, s.t_start)) / span for s in recording.segments
        ]
        best = int(np.argmax(overlaps))
        assert ACTIONS.index(recording.segments[best].label) == label
        # Segment edges fall between samples: the share counts whole samples.
        assert abs(overlaps[best] - share) <= 1.0 / WINDOW + 1e-9
    assert_array_equal(half.select(half.inside >= 1.0).imu, whole.imu)
    with pytest.raises(ValueError, match="min_inside"):
        cut_windows(recording, min_inside=0.4)


# --- the video encoder -----------------------------------------------------------------


@pytest.fixture(scope="module")
def video_window() -> Window:
    recording = simulate_recording(make_subject(2, 0), ["circle_cw"], seed=1, action_s=(4, 4))
    start = recording.segments[0].t_start + 0.5
    frames = (recording.frame_t >= start) & (recording.frame_t < start + 2.56)
    keypoints = recording.keypoints[frames].copy()
    times = recording.frame_t[frames]
    # Fill the detector's gaps from a clean neighbour so the test controls what is missing.
    missing = np.isnan(keypoints)
    keypoints[missing] = np.nanmean(keypoints, axis=0, keepdims=True).repeat(len(times), 0)[missing]
    return keypoints, times


def test_video_encoder_is_deterministic_and_bounded(
    video_window: Window,
) -> None:
    keypoints, times = video_window
    a = encode_video(keypoints, times)
    b = encode_video(keypoints.copy(), times.copy())
    assert a.shape == (D_VIDEO,)
    assert_array_equal(a, b)
    assert np.all(np.abs(a) < 1.0)


def test_video_encoder_ignores_image_position_scale_and_clock(
    video_window: Window,
) -> None:
    keypoints, times = video_window
    moved = keypoints * 1.7 + np.array([40.0, -25.0])
    assert_allclose(encode_video(moved, times + 100.0), encode_video(keypoints, times), atol=1e-9)


@pytest.mark.parametrize("drop_rate", [0.05, 0.2])
def test_video_encoder_survives_dropped_frames(video_window: Window, drop_rate: float) -> None:
    keypoints, times = video_window
    rng = np.random.default_rng(0)
    holed = keypoints.copy()
    holed[1:-1][rng.random(len(times) - 2) < drop_rate] = np.nan
    holed[rng.random(holed.shape[:2]) < drop_rate / 2] = np.nan
    clean = encode_video(keypoints, times)
    features = encode_video(holed, times)
    assert np.all(np.isfinite(features))
    assert np.corrcoef(clean, features)[0, 1] > 0.95
    assert np.abs(features - clean).max() < 0.3


def test_video_encoder_without_a_wrist_still_encodes(
    video_window: Window,
) -> None:
    keypoints, times = video_window
    holed = keypoints.copy()
    holed[:, 9] = np.nan
    assert np.all(np.isfinite(encode_video(holed, times)))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda k, t: (k[:, :13], t), "shape"),
        (lambda k, t: (k, t[:-1]), "times"),
        (lambda k, t: (k, t[::-1]), "times"),
        (lambda k, t: (k[:1], t[:1]), "times"),
        (lambda k, t: (np.where(np.arange(17)[None, :, None] == 6, np.nan, k), t), "shoulders"),
    ],
)
def test_video_encoder_refuses_bad_windows(
    video_window: Window, change: Callable[[Array, Array], Window], field: str
) -> None:
    keypoints, times = change(*video_window)
    with pytest.raises(InputError) as caught:
        encode_video(keypoints, times)
    assert caught.value.field == field


def test_video_features_tell_actions_apart_across_subjects() -> None:
    dataset = build_dataset(5, n_subjects=4, repetitions=1, stream_repetitions=1)
    train, test = dataset.train, dataset.test
    centroids = np.stack([train.video[train.label == k].mean(axis=0) for k in range(12)])
    distance = np.linalg.norm(test.video[:, None, :] - centroids[None], axis=2)
    accuracy = np.mean(distance.argmin(axis=1) == test.label)
    assert accuracy > 0.6


# --- the dataset and its files ---------------------------------------------------------


def test_default_population_has_enough_classes_and_subjects() -> None:
    assert len(ACTIONS) >= 10
    assert len(set(ACTIONS)) == len(ACTIONS)
    subjects = make_subjects(N_SUBJECTS, 0)
    assert len(subjects) >= 8
    mounting_deg = [np.degrees(np.linalg.norm(matrix_to_axis_angle(s.mounting))) for s in subjects]
    assert min(mounting_deg) >= 3.0 - 1e-9
    assert max(mounting_deg) <= 15.0 + 1e-9
    assert len({round(s.forearm_m, 6) for s in subjects}) == len(subjects)


def test_build_dataset_is_deterministic_and_cross_subject() -> None:
    a = build_dataset(8, n_subjects=3, repetitions=1, stream_repetitions=1)
    b = build_dataset(8, n_subjects=3, repetitions=1, stream_repetitions=1)
    for name in ("imu", "video", "label", "subject"):
        assert_array_equal(getattr(a.train, name), getattr(b.train, name))
        assert_array_equal(getattr(a.test, name), getattr(b.test, name))
    assert_array_equal(a.stream.imu, b.stream.imu)
    assert set(np.unique(a.train.subject)) == {1, 3}
    assert set(np.unique(a.test.subject)) == {2}
    assert a.stream.subject == 2
    assert set(np.unique(a.train.label)) == set(range(len(ACTIONS)))
    # Training windows reach into idle time by up to half; held-out ones lie inside.
    assert a.train.inside.min() == 0.5
    assert_array_equal(a.test.inside, 1.0)


def test_files_have_the_documented_fields(small_dataset_dir: Path) -> None:
    assert {p.name for p in small_dataset_dir.iterdir()} == set(FILES)
    pairs = np.load(small_dataset_dir / "pairs.npz")
    labeled = np.load(small_dataset_dir / "labeled_video.npz")
    test = np.load(small_dataset_dir / "test_imu.npz")
    train = np.load(small_dataset_dir / "train_imu.npz")
    assert set(pairs.files) == {"video", "imu", "sample_rate_hz", "channels", "units", "subject"}
    assert set(labeled.files) == {"video", "label", "class_names"}
    imu_fields = {"imu", "sample_rate_hz", "channels", "units", "label", "subject", "class_names"}
    assert set(test.files) == imu_fields
    assert set(train.files) == imu_fields
    n, m = pairs["video"].shape[0], test["imu"].shape[0]
    assert pairs["video"].shape == (n, D_VIDEO)
    assert pairs["imu"].shape == (n, WINDOW, 6)
    assert test["imu"].shape == (m, WINDOW, 6)
    for archive in (pairs, test, train):
        assert archive["imu"].dtype == np.float32
        assert archive["sample_rate_hz"].shape == ()
        assert float(archive["sample_rate_hz"]) == 50.0
        assert archive["channels"].tolist() == list(CHANNELS)
        assert archive["units"].tolist() == list(UNITS)
    assert pairs["video"].dtype == np.float32
    assert labeled["video"].dtype == np.float32
    assert_array_equal(labeled["video"], pairs["video"])
    assert labeled["label"].shape == (n,)
    assert np.issubdtype(labeled["label"].dtype, np.integer)
    assert labeled["class_names"].tolist() == list(ACTIONS)
    assert test["class_names"].dtype.kind == "U"
    assert set(np.unique(pairs["subject"])) == {1, 3}
    assert set(np.unique(test["subject"])) == {2, 4}
    assert test["label"].min() >= 0
    assert test["label"].max() < len(ACTIONS)
    description = json.loads((small_dataset_dir / "dataset.json").read_text())
    assert description["generator"] == "harbridge simulate"
    assert description["seed"] == 3
    assert description["counts"]["pairs"] == n
    # The ceiling's training windows are the pairs' windows that lie wholly inside an action.
    assert 0 < train["imu"].shape[0] < n


def test_stream_and_its_segments(small_dataset_dir: Path) -> None:
    with (small_dataset_dir / "stream.csv").open() as f:
        header = f.readline().strip()
    assert header == "t,ax,ay,az,gx,gy,gz"
    stream = np.loadtxt(small_dataset_dir / "stream.csv", delimiter=",", skiprows=1)
    assert stream.shape[1] == 7
    assert_allclose(np.diff(stream[:, 0]), 0.02, atol=1e-9)
    with (small_dataset_dir / "stream_segments.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows
    assert set(rows[0]) == {"t_start", "t_end", "label"}
    starts = np.array([float(r["t_start"]) for r in rows])
    ends = np.array([float(r["t_end"]) for r in rows])
    assert sorted(r["label"] for r in rows) == sorted(ACTIONS)
    assert np.all(starts >= stream[0, 0])
    assert np.all(ends <= stream[-1, 0])
    assert np.all(ends > starts)
    assert np.all(starts[1:] >= ends[:-1] + 1.0)
    idle = np.ones(len(stream), dtype=bool)
    for start, end in zip(starts, ends, strict=True):
        idle &= (stream[:, 0] < start) | (stream[:, 0] > end)
    assert abs(np.linalg.norm(stream[idle, 1:4], axis=1).mean() - GRAVITY) < 0.4


def test_same_seed_gives_identical_files(tmp_path: Path, small_dataset_dir: Path) -> None:
    again = tmp_path / "again"
    simulate_dataset(again, seed=3, n_subjects=4, repetitions=1, stream_repetitions=1)
    for name in FILES:
        assert (again / name).read_bytes() == (small_dataset_dir / name).read_bytes(), name


def test_previous_output_is_replaced_and_foreign_directory_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    small = {"n_subjects": 2, "repetitions": 1, "stream_repetitions": 1}
    simulate_dataset(out, seed=1, **small)
    summary = simulate_dataset(out, seed=2, **small)
    assert summary.out_dir == out
    assert json.loads((out / "dataset.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError) as caught:
        simulate_dataset(out, seed=3, **small)
    assert caught.value.field == "--out"
    assert (out / "notes.txt").read_text() == "mine"


def test_empty_directory_is_accepted(tmp_path: Path) -> None:
    summary = write_dataset(
        build_dataset(2, n_subjects=2, repetitions=1, stream_repetitions=1), tmp_path
    )
    assert summary.n_pairs == np.load(tmp_path / "pairs.npz")["video"].shape[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seed", "-1"], "--seed"),
        (["--seed", "x"], "invalid int"),
    ],
)
def test_cli_refuses_bad_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(["simulate", "--out", str(tmp_path / "o"), *argv]))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("harbridge: error: ")
    assert err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "o").exists()


def test_cli_refuses_a_foreign_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "thesis.tex").write_text("precious")
    assert main(["simulate", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"harbridge: error: {tmp_path}: --out: ")
    assert (tmp_path / "thesis.tex").read_text() == "precious"


@pytest.mark.slow
def test_cli_writes_the_default_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sim"
    assert main(["simulate", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    pairs = np.load(out / "pairs.npz")
    test = np.load(out / "test_imu.npz")
    assert len(np.unique(pairs["subject"])) + len(np.unique(test["subject"])) >= 8
    assert len(test["class_names"]) >= 10
    assert 1000 <= pairs["video"].shape[0] <= 5000
    stream = np.loadtxt(out / "stream.csv", delimiter=",", skiprows=1)
    assert 120.0 <= stream[-1, 0] <= 240.0
    with (out / "stream_segments.csv").open() as f:
        assert 20 <= len(list(csv.DictReader(f))) <= 30
