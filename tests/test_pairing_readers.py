"""Readers of `harbridge pair`: COCO-17 JSON, MediaPipe-style CSV, feature npz, IMU CSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from harbridge.calibration.pairing import read_imu_csv, read_video
from harbridge.calibration.pairing.imu_grid import nominal_rate, sample_grid
from harbridge.calibration.simulation.body import COCO17
from harbridge.errors import InputError

MEDIAPIPE33 = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip


def _pose(rng: np.random.Generator, n: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    return rng.uniform(50.0, 600.0, size=(n, 17, 2)).round(2)


def _write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


# --- COCO-17 JSON ----------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["nested3", "nested2", "flat51", "flat34"])
def test_coco_frames_document_reads_every_keypoint_layout(tmp_path: Path, layout: str) -> None:
    rng = np.random.default_rng(0)
    pose = _pose(rng, 4)
    frames = []
    for i, points in enumerate(pose):
        rows = [[*p, 0.9] if layout in ("nested3", "flat51") else list(p) for p in points.tolist()]
        value: object = [v for row in rows for v in row] if layout.startswith("flat") else rows
        frames.append({"t": 0.5 + i / 25, "keypoints": value})
    track = read_video(_write_json(tmp_path / "v.json", {"frames": frames}))
    assert track.keypoints is not None
    assert_allclose(track.t, 0.5 + np.arange(4) / 25)
    assert_allclose(track.keypoints, pose)
    assert track.fps == pytest.approx(25.0)


def test_coco_low_scores_and_empty_frames_are_missing(tmp_path: Path) -> None:
    pose = _pose(np.random.default_rng(1), 3)
    rows = [[[*p, 0.8] for p in points] for points in pose.tolist()]
    rows[0][10][2] = 0.29  # right wrist below the 0.3 threshold
    document = {
        "fps": 30,
        "frames": [
            {"frame": 0, "keypoints": rows[0]},
            {"frame": 1, "keypoints": None},
            {"frame": 2, "keypoints": rows[2]},
        ],
    }
    track = read_video(_write_json(tmp_path / "v.json", document))
    assert track.keypoints is not None
    assert_allclose(track.t, [0.0, 1 / 30, 2 / 30])
    assert np.isnan(track.keypoints[0, 10]).all()
    assert np.isfinite(track.keypoints[0, 9]).all()
    assert np.isnan(track.keypoints[1]).all()
    assert_array_equal(track.usable(), [False, False, True])


def test_coco_results_list_keeps_the_best_person_per_frame(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    pose, other = _pose(rng, 3), _pose(rng, 3)
    detections = []
    for i in (2, 0, 1):  # results need not be in frame order
        flat = [v for p in pose[i].tolist() for v in (*p, 0.9)]
        worse = [v for p in other[i].tolist() for v in (*p, 0.9)]
        detections += [
            {"image_id": i, "keypoints": worse, "score": 0.4},
            {"image_id": i, "keypoints": flat, "score": 0.95, "category_id": 1},
        ]
    track = read_video(_write_json(tmp_path / "res.json", detections), fps=10.0)
    assert track.keypoints is not None
    assert_allclose(track.t, [0.0, 0.1, 0.2])
    assert_allclose(track.keypoints, pose)


def _frame(t: float) -> dict[str, object]:
    return {"t": t, "keypoints": [[100.0, 100.0, 0.9]] * 17}


@pytest.mark.parametrize(
    ("document", "fps", "field", "words"),
    [
        ({"frames": []}, None, "frames", "no frames"),
        ({"video": []}, None, "frames", "missing"),
        ("just text", None, "file", "frames"),
        ([{"image_id": 0, "keypoints": [1.0] * 51}], None, "fps", "--fps"),
        ([{"image_id": "a.jpg", "keypoints": [1.0] * 51}], 30.0, "[0].image_id", "integer"),
        ({"frames": [_frame(0.0), {"t": 0.1}]}, None, "frames[1].keypoints", "missing"),
        ({"frames": [{"keypoints": [[1.0, 2.0]] * 17}]}, None, "frames[0].t", "time"),
        ({"frames": [{"frame": 3, "keypoints": []}]}, None, "fps", "--fps"),
        ({"frames": [{"t": 0.0, "keypoints": [1.0] * 50}]}, None, "frames[0].keypoints", "50"),
        ({"frames": [{"t": 0.0, "keypoints": [[1.0, "x", 0.9]] * 17}]}, None, "[0]", "numbers"),
        ({"frames": [_frame(0.0), _frame(0.2), _frame(0.1)]}, None, "frames[].t", "frame 2"),
        ({"frames": [_frame(0.0)]}, None, "frames[].t", "at least two"),
    ],
)
def test_coco_json_refuses_bad_files_naming_the_field(
    tmp_path: Path, document: object, fps: float | None, field: str, words: str
) -> None:
    path = _write_json(tmp_path / "v.json", document)
    with pytest.raises(InputError) as info:
        read_video(path, fps=fps)
    assert info.value.source == str(path)
    assert field in info.value.field
    assert words in info.value.problem


def test_coco_json_refuses_text_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "v.json"
    path.write_text('{"frames": [', encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        read_video(path)


def test_a_track_without_visible_arms_is_refused(tmp_path: Path) -> None:
    frames = [{"t": i / 30, "keypoints": [[10.0, 10.0, 0.1]] * 17} for i in range(5)]
    with pytest.raises(InputError, match="no frame has both shoulders") as info:
        read_video(_write_json(tmp_path / "v.json", {"frames": frames}))
    assert info.value.field == "keypoints"


# --- MediaPipe-style CSV ---------------------------------------------------------------


def _mediapipe(path: Path, pose: np.ndarray[Any, Any], times: list[float], **edit: str) -> Path:
    header = ["t"] + [f"{n}_{c}" for n in MEDIAPIPE33 for c in ("x", "y", "z", "visibility")]
    lines = [",".join(header)]
    for t, points in zip(times, pose, strict=True):
        cells = [f"{t:.4f}"]
        for name in MEDIAPIPE33:
            x, y = points[COCO17.index(name)] if name in COCO17 else (7.0, 7.0)
            cells += [f"{x:.2f}", f"{y:.2f}", "0.0", "0.95"]
        lines.append(",".join(cells))
    text = "\n".join(lines) + "\n"
    for old, new in edit.items():
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


def test_mediapipe_csv_maps_landmarks_onto_coco_by_name(tmp_path: Path) -> None:
    pose = _pose(np.random.default_rng(3), 3)
    path = _mediapipe(tmp_path / "v.csv", pose, [0.0, 0.04, 0.08])
    track = read_video(path)
    assert track.keypoints is not None
    assert_allclose(track.keypoints, pose)
    assert_allclose(track.t, [0.0, 0.04, 0.08])


def test_mediapipe_low_visibility_and_empty_cells_are_missing(tmp_path: Path) -> None:
    pose = _pose(np.random.default_rng(4), 2)
    path = _mediapipe(tmp_path / "v.csv", pose, [0.0, 0.04])
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("left_wrist_visibility")] = "0.1"
    row[header.index("nose_x")] = ""
    lines[1] = ",".join(row)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    track = read_video(path)
    assert track.keypoints is not None
    assert np.isnan(track.keypoints[0, COCO17.index("left_wrist")]).all()
    assert np.isnan(track.keypoints[0, COCO17.index("nose")]).all()
    assert_allclose(track.keypoints[1], pose[1])


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        ({"right_wrist_x,": "right_wristx,"}, "header", "right_wrist_x"),
        ({"t,nose_x": "time,nose_x"}, "header", "missing column(s) t"),
        ({"\n0.0400,": "\nabc,"}, "t", "line 3"),
        ({"\n0.0800,": "\n0.0200,"}, "t", "line 4"),
    ],
)
def test_mediapipe_csv_refuses_bad_files(
    tmp_path: Path, edit: dict[str, str], field: str, words: str
) -> None:
    pose = _pose(np.random.default_rng(5), 3)
    path = _mediapipe(tmp_path / "v.csv", pose, [0.0, 0.04, 0.08], **edit)
    with pytest.raises(InputError) as info:
        read_video(path)
    assert (info.value.source, info.value.field) == (str(path), field)
    assert words in info.value.problem


def test_mediapipe_csv_refuses_a_short_row_and_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        read_video(path)
    pose = _pose(np.random.default_rng(6), 2)
    path = _mediapipe(tmp_path / "w.csv", pose, [0.0, 0.04])
    path.write_text(path.read_text(encoding="utf-8") + "0.08,1.0\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 4 has 2 fields"):
        read_video(path)


# --- per-frame features ----------------------------------------------------------------


def test_feature_npz_keeps_nan_rows_as_missing_frames(tmp_path: Path) -> None:
    features = np.random.default_rng(7).normal(size=(5, 8))
    features[2, 3] = np.nan
    np.savez(tmp_path / "f.npz", t=np.arange(5) / 30.0, features=features)
    track = read_video(tmp_path / "f.npz")
    assert track.features is not None and track.keypoints is None
    assert_array_equal(track.usable(), [True, True, False, True, True])
    assert_allclose(track.motion_track("right")[[0, 1, 3, 4]], features[[0, 1, 3, 4]])


@pytest.mark.parametrize(
    ("arrays", "field", "words"),
    [
        ({"t": np.arange(4.0)}, "features", "missing"),
        ({"features": np.ones((4, 2))}, "t", "missing"),
        ({"t": np.arange(4.0), "features": np.ones((3, 2))}, "features", "one feature row"),
        ({"t": np.array([0.0, 1, 1, 2]), "features": np.ones((4, 2))}, "t", "frame 2"),
        ({"t": np.arange(4.0), "features": np.array(["a"] * 4)}, "features", "numeric"),
    ],
)
def test_feature_npz_refuses_bad_files(
    tmp_path: Path, arrays: dict[str, Any], field: str, words: str
) -> None:
    np.savez(tmp_path / "f.npz", **arrays)
    with pytest.raises(InputError) as info:
        read_video(tmp_path / "f.npz")
    assert info.value.field == field
    assert words in info.value.problem


@pytest.mark.parametrize(
    ("name", "words"), [("v.mp4", "unknown video format"), ("gone.json", "no such")]
)
def test_read_video_refuses_unknown_or_missing_files(tmp_path: Path, name: str, words: str) -> None:
    (tmp_path / "v.mp4").write_bytes(b"\x00\x00")
    with pytest.raises(InputError, match=words):
        read_video(tmp_path / name)


# --- IMU CSV ---------------------------------------------------------------------------


def _imu_text(n: int = 6, rate: float = 50.0) -> str:
    rows = [f"{i / rate:.4f},{i}.0,1.0,9.8,0.1,0.2,{-i}.0" for i in range(n)]
    return "t,ax,ay,az,gx,gy,gz\n" + "\n".join(rows) + "\n"


def test_imu_csv_reads_named_channels_and_counts_dropped_lines(tmp_path: Path) -> None:
    text = _imu_text().replace("\n0.0400,", "\n0.0400,garbled,\n0.0400,")
    path = tmp_path / "imu.csv"
    path.write_text(text, encoding="utf-8")
    log = read_imu_csv(path)
    assert log.channels == ("ax", "ay", "az", "gx", "gy", "gz")
    assert_allclose(log.t, np.arange(6) / 50.0)
    assert_allclose(log.samples[:, 0], np.arange(6.0))
    assert log.dropped == {"too_few_columns": 1}
    picked = read_imu_csv(path, ["gz", "ax"])
    assert_allclose(picked.samples, np.column_stack([-np.arange(6.0), np.arange(6.0)]))


@pytest.mark.parametrize(
    ("text", "channels", "field", "words"),
    [
        ("", None, "file", "empty"),
        ("\n\n", None, "file", "empty"),
        ("0.0,1,2\n0.02,1,2\n", None, "header", "not a header"),
        ("time,ax,ay\n0.0,1,2\n0.02,1,2\n", None, "t", "'t' column"),
        ("t,ax,ay\n0.0,1,2\n0.02,1,2\n", ("ax", "gz"), "gz", "missing"),
        ("t\n0.0\n0.02\n", None, "header", "no channel"),
        ("t,ax,ax\n0.0,1,2\n", None, "header", "more than once"),
        ("t,ax\n0.0,x\n0.02,y\n", None, "t", "no usable sample"),
        ("t,ax\n0.0,1\n0.04,1\n0.02,1\n", None, "t", "sample 2"),
        ("t,ax\n0.0,1\n", None, "t", "at least two"),
    ],
)
def test_imu_csv_refuses_bad_files(
    tmp_path: Path, text: str, channels: tuple[str, ...] | None, field: str, words: str
) -> None:
    path = tmp_path / "imu.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_imu_csv(path, channels)
    assert (info.value.source, info.value.field) == (str(path), field)
    assert words in info.value.problem


# --- the IMU's sample grid -------------------------------------------------------------


@pytest.mark.parametrize(("rate", "drift"), [(50.0, 1e-4), (100.0, -8e-5), (104.0, 0.0)])
def test_sample_grid_finds_slots_through_gaps_and_jitter(rate: float, drift: float) -> None:
    rng = np.random.default_rng(8)
    slots = np.delete(np.arange(3000), [10, 11, 12, 500])
    t = 12.5 + slots * (1.0 + drift) / rate + rng.uniform(-0.2, 0.2, slots.size) / rate
    grid = sample_grid(t)
    assert_array_equal(grid.slot, slots)
    assert grid.n_slots == 3000
    assert grid.rate_hz == rate
    assert_allclose(grid.period_s, (1.0 + drift) / rate, rtol=1e-5)


@pytest.mark.parametrize(
    ("measured", "nominal"), [(49.995, 50.0), (50.08, 50.0), (99.0, 99.0), (33.333, 33.33)]
)
def test_nominal_rate_rounds_only_crystal_sized_errors(measured: float, nominal: float) -> None:
    assert nominal_rate(measured) == nominal
