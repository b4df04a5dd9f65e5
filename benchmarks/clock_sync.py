"""Clock sync of ``harbridge pair`` on simulated recordings, and transfer from its PAIRS.

Prints markdown tables:

1. the error of the estimated offset, over short recordings (one action four times,
   about 30 s) and sessions (every action four times, about five and a half minutes), with offsets
   uniform in ±5 s and drifts uniform in ±100 ppm, with the gyroscope and without it;
2. the confidence (peak correlation, margin) of those syncs against recordings without
   motion and the video of one recording paired with the IMU of another, and what the
   thresholds refuse;
3. transfer: a bundle calibrated from ``pair``'s output on ``simulate --recordings``
   against bundles calibrated from the simulator's own windows of the same sessions and
   from its ``pairs.npz``, all evaluated on ``test_imu.npz`` with ``harbridge evaluate``.

Run: ``python benchmarks/clock_sync.py [--seed 0] [--short 200] [--sessions 20]
[--null 40] [--no-transfer]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from harbridge.calibration.pairing import (
    ClockSync,
    ImuLog,
    SyncError,
    VideoTrack,
    estimate_sync,
    imu_motion_energy,
    video_motion_energy,
)
from harbridge.calibration.pairing.clock_sync import MIN_CORRELATION, MIN_MARGIN
from harbridge.calibration.simulation import (
    ACTIONS,
    CHANNELS,
    UNITS,
    cut_windows,
    make_subject,
    simulate_recording,
)
from harbridge.calibration.simulation.raw_recordings import (
    RawRecording,
    raw_recording,
    training_sessions,
)
from harbridge.cli import main as harbridge

__all__ = ["main"]

FloatArray = npt.NDArray[np.float64]

FRAME_S = 1.0 / 30.0
MAX_OFFSET_S = 5.0
MAX_DRIFT = 100e-6
RANKS = (8, 12, 16)
HOLDOUT_SEEDS = ("0", "1", "2")


def _views(raw: RawRecording, gyro: bool = True) -> tuple[VideoTrack, ImuLog]:
    keep = [i for i, name in enumerate(CHANNELS) if gyro or not name.startswith("g")]
    track = VideoTrack(Path("simulated"), raw.frame_t, raw.keypoints, None)
    log = ImuLog(
        Path("simulated"), raw.imu_t, raw.imu[:, keep], tuple(CHANNELS[i] for i in keep), {}
    )
    return track, log


def _sync(track: VideoTrack, log: ImuLog) -> ClockSync | None:
    try:
        return estimate_sync(video_motion_energy(track, "right"), imu_motion_energy(log))
    except SyncError:
        return None


def _recording(seed: int, index: int, session: bool) -> RawRecording:
    rng = np.random.default_rng([seed, index, int(session)])
    subject = make_subject(int(rng.integers(1, 11)), seed)
    if session:
        actions = [str(a) for a in rng.permutation(np.repeat(ACTIONS, 4))]
    else:
        actions = [ACTIONS[index % len(ACTIONS)]] * 4
    recording = simulate_recording(subject, actions, [seed, index, int(session), 1])
    offset = rng.uniform(-MAX_OFFSET_S, MAX_OFFSET_S)
    return raw_recording(recording, offset, rng.uniform(-MAX_DRIFT, MAX_DRIFT), rng)


def _errors(raw: RawRecording, sync: ClockSync | None) -> tuple[float, float, float]:
    """Offset error at video time 0, worst sync error over the video, drift error (ppm)."""
    if sync is None:
        return np.nan, np.nan, np.nan
    at_zero = sync.offset_s - raw.offset_s
    at_end = at_zero + (sync.drift - raw.drift) * raw.frame_t[-1]
    return at_zero, max(abs(at_zero), abs(at_end)), (sync.drift - raw.drift) * 1e6


def _error_row(label: str, n: int, errors: FloatArray, failed: int, drift: FloatArray) -> str:
    ms = np.abs(errors) * 1e3
    p50, p90, p99 = np.percentile(ms, [50, 90, 99]) if ms.size else (np.nan,) * 3
    within = np.mean(ms < FRAME_S * 1e3) if ms.size else np.nan
    drift_text = f"{np.percentile(np.abs(drift), 90):.1f}" if drift.size else "–"
    return (
        f"| {label} | {n} | {failed} | {p50:.1f} | {p90:.1f} | {p99:.1f} | {ms.max():.1f} | "
        f"{within:.1%} | {drift_text} |"
    )


def accuracy_tables(seed: int, n_short: int, n_sessions: int) -> list[tuple[float, float] | None]:
    """Print table 1; return (correlation, margin) of the short syncs with the gyroscope."""
    print("### Offset error\n")
    print(
        "| recordings | n | no estimate or refused | median ms | p90 ms | p99 ms | max ms | "
        "within one frame | drift error p90 (ppm) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    confidence: list[tuple[float, float] | None] = []
    cases = (
        ("short (30 s), gyroscope", n_short, False, True),
        ("short (30 s), accelerometer only", n_short, False, False),
        ("sessions (5.5 min), gyroscope", n_sessions, True, True),
    )
    for label, n, session, gyro in cases:
        worst: list[float] = []
        drift: list[float] = []
        failed = 0
        for index in range(n):
            raw = _recording(seed, index, session)
            sync = _sync(*_views(raw, gyro))
            if gyro and not session:
                confidence.append(
                    None if sync is None else (sync.correlation or 0.0, sync.margin or 0.0)
                )
            if sync is None or sync.doubt() is not None:
                failed += 1
                continue
            _, sync_error, drift_error = _errors(raw, sync)
            worst.append(sync_error)
            if sync.drift_estimated:
                drift.append(drift_error)
        print(_error_row(label, n, np.asarray(worst), failed, np.asarray(drift)))
    print(
        f"\nError: the largest |estimated − true| IMU time over the video's span (offset "
        f"and drift together); one frame is {FRAME_S * 1e3:.1f} ms. Offsets uniform in "
        f"±{MAX_OFFSET_S:g} s, drifts uniform in ±{MAX_DRIFT * 1e6:g} ppm; drift is estimated "
        "on recordings of five minutes or more, and its error is over those. Seed "
        f"{seed}.\n"
    )
    return confidence


def _confidence_row(label: str, values: list[tuple[float, float] | None]) -> str:
    found = np.array([v for v in values if v is not None]).reshape(-1, 2)
    refused = sum(v is None or v[0] < MIN_CORRELATION or v[1] < MIN_MARGIN for v in values) / max(
        len(values), 1
    )
    r, m = found[:, 0], found[:, 1]
    return (
        f"| {label} | {len(values)} | {r.min():.2f} | {np.median(r):.2f} | {r.max():.2f} | "
        f"{m.min():.2f} | {np.median(m):.2f} | {m.max():.2f} | {refused:.0%} |"
    )


def confidence_table(
    seed: int, n_null: int, n_sessions: int, correct: list[tuple[float, float] | None]
) -> None:
    """Print table 2."""
    still: list[tuple[float, float] | None] = []
    same: list[tuple[float, float] | None] = []
    other: list[tuple[float, float] | None] = []
    for index in range(n_null):
        rng = np.random.default_rng([seed, index, 7])
        subject = make_subject(int(rng.integers(1, 11)), seed)
        idle = simulate_recording(subject, [], [seed, index, 7, 1], idle_s=(30.0, 30.0))
        for bucket, raw_video, raw_imu in (
            (still, raw_recording(idle, 0.0, 0.0, rng), None),
            (same, _recording(seed + 1, index, False), _recording(seed + 2, index, False)),
            (other, _recording(seed + 1, index, False), _recording(seed + 2, index + 5, False)),
        ):
            track, log = _views(raw_video)
            if raw_imu is not None:
                log = _views(raw_imu)[1]
            sync = _sync(track, log)
            found = None if sync is None else (sync.correlation or 0.0, sync.margin or 0.0)
            bucket.append(found)
    sessions: list[tuple[float, float] | None] = []
    for index in range(n_sessions):
        track = _views(_recording(seed + 1, index, True))[0]
        sync = _sync(track, _views(_recording(seed + 2, index, True))[1])
        sessions.append(None if sync is None else (sync.correlation or 0.0, sync.margin or 0.0))
    print("### Confidence of the sync\n")
    print(
        "| recordings | n | r min | r median | r max | margin min | margin median | "
        "margin max | refused |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(_confidence_row("same recording (short, gyroscope)", correct))
    print(_confidence_row("no motion (standing, 30 s)", still))
    print(_confidence_row("mismatched, same action", same))
    print(_confidence_row("mismatched, other action", other))
    print(_confidence_row("mismatched sessions (5.5 min)", sessions))
    print(
        f"\nr: peak correlation of the motion energies; margin: r minus the next peak's. "
        f"Refused: r < {MIN_CORRELATION} or margin < {MIN_MARGIN} (or no estimate), the "
        "thresholds of harbridge.calibration.pairing.clock_sync. Mismatched: the video of "
        "one simulated recording with the IMU of another.\n"
    )


def _run(argv: list[str]) -> None:
    """Run a harbridge command, keeping its own printout out of the tables."""
    with contextlib.redirect_stdout(io.StringIO()):
        code = harbridge(argv)
    if code != 0:
        raise SystemExit(f"harbridge {' '.join(argv)} failed")


def _calibrate(
    pairs: Path, labeled: Path, test: Path, out: Path, extra: list[str]
) -> tuple[int, float, float]:
    _run(["calibrate", "--pairs", str(pairs), "--labeled", str(labeled), "--out", str(out), *extra])
    _run(
        ["evaluate", str(out), "--imu", str(test), "--json", str(out / "eval.json"), "--no-report"]
    )
    results = json.loads((out / "eval.json").read_text())
    rank = json.loads((out / "manifest.json").read_text())["alignment"]["rank"]
    return int(rank), float(results["accuracy"]), float(results["macro_f1"])


def _session_windows(seed: int, path: Path) -> Path:
    """PAIRS of the raw recordings' sessions cut by the simulator itself: true clock, windows
    inside the true action segments only."""
    sessions = training_sessions(seed)
    windows = [cut_windows(session.recording) for session in sessions]
    np.savez(
        path,
        video=np.concatenate([w.video for w in windows]).astype(np.float32),
        imu=np.concatenate([w.imu for w in windows]).astype(np.float32),
        sample_rate_hz=np.float32(50.0),
        channels=np.array(CHANNELS),
        units=np.array(UNITS),
        subject=np.concatenate(
            [np.full(len(w), s.name) for w, s in zip(windows, sessions, strict=True)]
        ),
    )
    return path


def transfer_table(seed: int, folder: Path) -> None:
    """Print table 3: simulate with raw recordings, pair, calibrate three ways, evaluate."""
    data, raw = folder / "data", folder / "raw"
    _run(["simulate", "--out", str(data), "--recordings", str(raw), "--seed", str(seed)])
    paired = folder / "pairs_from_pair.npz"
    _run(["pair", "--video", str(raw / "video"), "--imu", str(raw / "imu"), "--out", str(paired)])
    sources = (
        ("`pair` on the raw recordings", paired),
        ("simulator's windows of the same sessions", _session_windows(seed, folder / "s.npz")),
        ("simulator's `pairs.npz`", data / "pairs.npz"),
    )
    labeled, test = data / "labeled_video.npz", data / "test_imu.npz"
    rows = []
    for k, (label, pairs) in enumerate(sources):
        n = int(np.load(pairs)["video"].shape[0])
        auto = [
            _calibrate(pairs, labeled, test, folder / f"b{k}auto{s}", ["--seed", s])
            for s in HOLDOUT_SEEDS
        ]
        fixed = [
            _calibrate(pairs, labeled, test, folder / f"b{k}rank{r}", ["--rank", str(r)])
            for r in RANKS
        ]
        autos = ", ".join(f"{rank}: {acc:.3f}" for rank, acc, _ in auto)
        fixes = " | ".join(f"{acc:.3f} / {f1:.3f}" for _, acc, f1 in fixed)
        rows.append(f"| {label} | {n} | {autos} | {fixes} |")
    print("### Transfer: bundle from `pair` vs from the simulator's pairs\n")
    header = " | ".join(f"rank {r}: accuracy / macro-F1" for r in RANKS)
    seeds = ", ".join(HOLDOUT_SEEDS)
    print(f"| PAIRS | pairs | rank auto (--seed {seeds}) → rank: accuracy | {header} |")
    print("|---|---:|---|" + "---:|" * len(RANKS))
    print("\n".join(rows))
    print(
        "\nEvery bundle uses the same labelled video (`labeled_video.npz`) and is evaluated on "
        "the same held-out subjects (`test_imu.npz`). The raw recordings are one session per "
        "training subject, every action four times (`simulate --recordings`); `pair` syncs "
        "and windows them with no knowledge of the clocks or the actions. The simulator's "
        "windows of the same sessions use the true clock and only windows inside the true "
        "action segments. The simulator's `pairs.npz` comes from other recordings of the "
        "same subjects, and its windows are the very ones of `labeled_video.npz`. Seed "
        f"{seed}.\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Print the three tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--short", type=int, default=200, help="short recordings")
    parser.add_argument(
        "--sessions", type=int, default=20, help="sessions of five and a half minutes"
    )
    parser.add_argument("--null", type=int, default=40, help="recordings per null case")
    parser.add_argument("--no-transfer", action="store_true", help="skip table 3")
    args = parser.parse_args(argv)
    correct = accuracy_tables(args.seed, args.short, args.sessions)
    confidence_table(args.seed, args.null, args.sessions, correct)
    if not args.no_transfer:
        with tempfile.TemporaryDirectory() as scratch:
            transfer_table(args.seed, Path(scratch))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
