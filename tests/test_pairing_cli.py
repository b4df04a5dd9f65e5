"""`harbridge pair` end to end: raw recordings → PAIRS → calibrate, and every bad input."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from harbridge import cli
from harbridge.calibration.dataset import load_pairs
from harbridge.calibration.simulation import make_subject, simulate_recording
from harbridge.calibration.simulation.raw_recordings import (
    coco_document,
    imu_csv_text,
    raw_recording,
    write_raw_recordings,
)
from harbridge.errors import InputError

FRAME_S = 1.0 / 30.0


@pytest.fixture(autouse=True)
def _pair_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # The command is registered in harbridge.cli.COMMANDS by name; make sure it is here.
    monkeypatch.setitem(cli.COMMANDS, "pair", "harbridge.commands.pair")


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two simulated sessions (subjects 1 and 3, every action once) on their own clocks."""
    out = tmp_path_factory.mktemp("pair") / "raw"
    write_raw_recordings(out, seed=4, n_subjects=4, repetitions=1)
    return out


def _truth(raw: Path) -> dict[str, dict[str, float]]:
    recordings = json.loads((raw / "recordings.json").read_text())["recordings"]
    return {r["name"]: r for r in recordings}


def _pair(*argv: str) -> int:
    return cli.main(["pair", *argv])


@pytest.fixture(scope="module")
def paired(raw: Path) -> tuple[Path, Path]:
    """PAIRS and the sync report of ``pair`` run on the whole folder."""
    out, report = raw.parent / "pairs.npz", raw.parent / "sync.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(cli.COMMANDS, "pair", "harbridge.commands.pair")
        code = _pair(
            "--video", str(raw / "video"), "--imu", str(raw / "imu"), "--out", str(out),
            "--json", str(report),
        )  # fmt: skip
    assert code == 0
    return out, report


def test_pair_a_folder_writes_pairs_and_finds_each_offset(
    raw: Path, paired: tuple[Path, Path]
) -> None:
    out, report = paired
    pairs = load_pairs(out)
    assert pairs.imu is not None and pairs.subject is not None
    assert pairs.video.shape[1] == 128
    assert pairs.imu.windows.shape[1:] == (128, 6)
    assert (pairs.imu.sample_rate_hz, pairs.imu.channels) == (
        50.0,
        ("ax", "ay", "az", "gx", "gy", "gz"),
    )
    assert pairs.imu.units == ("m/s2",) * 3 + ("rad/s",) * 3
    assert set(pairs.subject.tolist()) == {"subject01", "subject03"}
    truth = _truth(raw)
    for entry in json.loads(report.read_text()):
        sync = entry["sync"]
        assert sync["method"] == "auto"
        assert abs(sync["offset_s"] - truth[entry["name"]]["offset_s"]) < FRAME_S
        assert entry["windows"]["pairs"] == np.count_nonzero(pairs.subject == entry["name"])


def test_pairs_from_pair_calibrate_into_a_bundle(paired: tuple[Path, Path], tmp_path: Path) -> None:
    out = paired[0]
    video = np.load(out)["video"]
    labels = (np.arange(video.shape[0]) // 40) % 3
    np.savez(
        tmp_path / "labeled.npz", video=video, label=labels, class_names=np.array(["a", "b", "c"])
    )
    bundle = tmp_path / "bundle"
    code = cli.main(
        ["calibrate", "--pairs", str(out), "--labeled", str(tmp_path / "labeled.npz"),
         "--out", str(bundle)]
    )  # fmt: skip
    assert code == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["imu"]["sample_rate_hz"] == 50.0


def test_files_one_by_one_with_a_given_offset(raw: Path, tmp_path: Path) -> None:
    truth = _truth(raw)
    report = tmp_path / "sync.json"
    argv = []
    for name in ("subject01", "subject03"):
        argv += [
            "--video",
            str(raw / "video" / f"{name}.json"),
            "--imu",
            str(raw / "imu" / f"{name}.csv"),
        ]
    code = _pair(
        *argv, "--sync", f"{truth['subject01']['offset_s']:.4f}", "--sync", "auto",
        "--out", str(tmp_path / "p.npz"), "--json", str(report), "--hop", "0.64",
    )  # fmt: skip
    assert code == 0
    given, auto = json.loads(report.read_text())
    assert (given["sync"]["method"], auto["sync"]["method"]) == ("given", "auto")
    assert given["sync"]["offset_s"] == pytest.approx(truth["subject01"]["offset_s"], abs=1e-4)
    assert given["sync"]["correlation"] is None


# --- bad recordings: exit 2 and one line naming the file and the field ---------------------


def _copy(raw: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    return copy


def _edit_imu(edit: Callable[[list[str]], list[str]]) -> Callable[[Path], list[str]]:
    def apply(folder: Path) -> list[str]:
        path = folder / "imu" / "subject01.csv"
        path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")
        return ["--video", str(folder / "video"), "--imu", str(folder / "imu")]

    return apply


def _still(folder: Path) -> list[str]:
    idle = simulate_recording(make_subject(1, 4), [], [4, 1], idle_s=(30.0, 30.0))
    rng = np.random.default_rng(0)
    still = raw_recording(idle, 0.7, 0.0, rng)
    video, imu = folder / "still.json", folder / "still.csv"
    video.write_text(json.dumps(coco_document(still.frame_t, still.keypoints, rng)))
    imu.write_text(imu_csv_text(still.imu_t, still.imu))
    return ["--video", str(video), "--imu", str(imu)]


def _one(folder: Path, *extra: str) -> list[str]:
    video, imu = folder / "video" / "subject01.json", folder / "imu" / "subject01.csv"
    return ["--video", str(video), "--imu", str(imu), *extra]


def _landmarks_without_wrists(folder: Path) -> list[str]:
    video = folder / "v.csv"
    video.write_text("t,nose_x,nose_y\n0.0,1,2\n0.04,1,2\n")
    return ["--video", str(video), "--imu", str(folder / "imu" / "subject01.csv")]


def _unmatched(folder: Path) -> list[str]:
    shutil.copy(folder / "video" / "subject01.json", folder / "video" / "extra.json")
    return ["--video", str(folder / "video"), "--imu", str(folder / "imu")]


def _empty_video(folder: Path) -> list[str]:
    (folder / "video" / "subject01.json").write_text('{"fps": 30, "frames": []}')
    return _one(folder)


BAD = [
    pytest.param(_edit_imu(lambda lines: []), "subject01.csv: file: ", id="empty-imu"),
    pytest.param(_edit_imu(lambda lines: ["time" + lines[0][1:], *lines[1:]]), "subject01.csv: t: missing", id="no-t-column"),
    pytest.param(_edit_imu(lambda lines: [lines[0], lines[1], lines[3], lines[2], *lines[4:]]), "subject01.csv: t: time does not increase", id="non-monotonic"),
    pytest.param(_edit_imu(lambda lines: [lines[0].replace("gz", "gq"), *lines[1:]]), "subject03.csv: channels: ax,ay,az,gx,gy,gz here but ax,ay,az,gx,gy,gq in subject01", id="renamed-channel"),
    pytest.param(_landmarks_without_wrists, "v.csv: header: missing column", id="missing-columns"),
    pytest.param(_empty_video, "subject01.json: frames: is empty", id="empty-video"),
    pytest.param(_still, "still.json: sync: the camera's and the IMU's motion correlate", id="motionless"),
    pytest.param(lambda f: _one(f, "--sync", "1000"), "subject01.json: windows: after sync the recordings overlap for 0.00 s", id="no-overlap"),
    pytest.param(_unmatched, "video: extra: has no file of the same name", id="unmatched-names"),
    pytest.param(lambda f: [*_one(f), "--imu", str(f / "imu" / "subject03.csv")], "--imu: got 1 --video and 2 --imu", id="count-mismatch"),
    pytest.param(lambda f: _one(f, "--sync", "soon"), "--sync: must be 'auto' or seconds", id="bad-sync"),
    pytest.param(lambda f: _one(f, "--window", "0.1"), "--window: 0.1 s is 5 samples", id="short-window"),
    pytest.param(lambda f: _one(f, "--hop", "-1"), "--hop: must be > 0", id="negative-hop"),
    pytest.param(lambda f: _one(f, "--min-motion", "1.5"), "--min-motion: must be a share in [0, 1]", id="bad-min-motion"),
]  # fmt: skip


@pytest.mark.parametrize(("prepare", "message"), BAD)
def test_bad_recordings_exit_2_with_one_line(
    raw: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    prepare: Callable[[Path], list[str]],
    message: str,
) -> None:
    folder = _copy(raw, tmp_path)
    argv = prepare(folder)
    capsys.readouterr()
    assert _pair(*argv, "--out", str(tmp_path / "p.npz")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("harbridge: error: ")
    assert message in err
    assert not (tmp_path / "p.npz").exists()


def test_a_mixed_recording_set_is_refused_as_a_whole(raw: Path, tmp_path: Path) -> None:
    folder = _copy(raw, tmp_path)
    path = folder / "imu" / "subject03.csv"
    lines = path.read_text().splitlines()
    path.write_text(
        "\n".join([lines[0].replace(",gz", ""), *(line.rsplit(",", 1)[0] for line in lines[1:])])
        + "\n"
    )
    assert (
        _pair(
            "--video",
            str(folder / "video"),
            "--imu",
            str(folder / "imu"),
            "--out",
            str(tmp_path / "p.npz"),
        )
        == 2
    )
    assert not (tmp_path / "p.npz").exists()


# --- simulate --recordings -------------------------------------------------------------


def test_simulate_refuses_recordings_inside_its_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["simulate", "--out", str(tmp_path / "d"), "--recordings", str(tmp_path / "d" / "raw")]
    )
    assert code == 2
    assert "--recordings: must lie outside --out" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_raw_recordings_hold_their_truth_and_replace_only_their_own(
    raw: Path, tmp_path: Path
) -> None:
    truth = json.loads((raw / "recordings.json").read_text())
    assert truth["clock_model"] == "t_imu = offset_s + (1 + drift_ppm * 1e-6) * t_video"
    for entry in truth["recordings"]:
        assert abs(entry["offset_s"]) <= 5.0 and abs(entry["drift_ppm"]) <= 100.0
        assert len(entry["segments"]) == 12
        document = json.loads((raw / entry["video"]).read_text())
        assert document["fps"] == 30 and document["frames"][0]["t"] == 0.0
        assert (raw / entry["imu"]).read_text().startswith("t,ax,ay,az,gx,gy,gz\n0.000000,")
    again = tmp_path / "again"
    shutil.copytree(raw, again)
    write_raw_recordings(again, seed=5, n_subjects=2, repetitions=1)
    assert [
        r["name"] for r in json.loads((again / "recordings.json").read_text())["recordings"]
    ] == ["subject01"]
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not an earlier 'simulate --recordings' output"):
        write_raw_recordings(foreign, seed=5, n_subjects=2, repetitions=1)


def test_simulate_refuses_a_foreign_recordings_folder_before_simulating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code = cli.main(["simulate", "--out", str(tmp_path / "d"), "--recordings", str(foreign)])
    assert code == 2
    assert "not an earlier 'simulate --recordings' output" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
    assert (foreign / "notes.txt").read_text() == "mine"
