"""``harbridge pair``: a video's pose track and an IMU log of one session → PAIRS.npz."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harbridge.calibration.pairing import RecordingInput, RecordingPairs

__all__ = ["HELP", "add_arguments", "run"]

HELP = (
    "pair recordings: sync a video's pose keypoints (COCO-17 JSON, MediaPipe CSV) or "
    "per-frame features with an IMU CSV of the same session, and write PAIRS.npz"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``pair``."""
    parser.add_argument(
        "--video",
        action="append",
        required=True,
        type=Path,
        metavar="VIDEO",
        help="keypoints (.json COCO-17, .csv MediaPipe-style) or per-frame features (.npz) "
        "of one recording; repeat once per recording, or give a folder",
    )
    parser.add_argument(
        "--imu",
        action="append",
        required=True,
        type=Path,
        metavar="IMU.csv",
        help="IMU log of the same recording (header t,ax,ay,...); one per --video, or a "
        "folder of CSVs named as the videos",
    )
    parser.add_argument(
        "--out", required=True, type=Path, metavar="PAIRS.npz", help="PAIRS file to write"
    )
    parser.add_argument(
        "--window", type=float, default=2.56, metavar="S", help="window length (default 2.56)"
    )
    parser.add_argument(
        "--hop", type=float, default=0.32, metavar="S", help="hop between windows (default 0.32)"
    )
    parser.add_argument(
        "--sync",
        action="append",
        metavar="auto|SECONDS",
        help="clock offset, IMU clock minus video clock; 'auto' (default) estimates it from "
        "the motion; give once for all recordings or once per recording",
    )
    parser.add_argument(
        "--wrist",
        choices=("left", "right"),
        default="right",
        help="the wrist wearing the IMU (default right)",
    )
    parser.add_argument(
        "--fps", type=float, help="frame rate of COCO JSON files that number frames, not time them"
    )
    parser.add_argument(
        "--channels", help="IMU channels to keep, comma-separated (default: every column but t)"
    )
    parser.add_argument(
        "--min-motion",
        type=float,
        default=0.8,
        metavar="SHARE",
        help="skip windows whose arm moves for less than this share of them, such as standing "
        "between actions (default 0.8; 0 keeps every window)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="also write the syncs here")


def _recordings(args: argparse.Namespace) -> list[RecordingInput]:
    from harbridge.calibration.pairing import RecordingInput, recordings_in_folders
    from harbridge.errors import InputError

    videos, imus = args.video, args.imu
    if any(p.is_dir() for p in videos + imus):
        if len(videos) != 1 or len(imus) != 1 or not (videos[0].is_dir() and imus[0].is_dir()):
            raise InputError(
                "command line",
                "--video",
                "give either one folder to --video and one to --imu, or files for both.",
            )
        return recordings_in_folders(videos[0], imus[0])
    if len(videos) != len(imus):
        raise InputError(
            "command line",
            "--imu",
            f"got {len(videos)} --video and {len(imus)} --imu; give one IMU log per video.",
        )
    stems = [p.stem for p in videos]
    names = stems if len(set(stems)) == len(stems) else [str(p) for p in videos]
    return [
        RecordingInput(name, video, imu)
        for name, video, imu in zip(names, videos, imus, strict=True)
    ]


def _offsets(values: list[str] | None, count: int) -> list[float | None]:
    from harbridge.errors import InputError

    if not values:
        return [None] * count
    if len(values) not in (1, count):
        raise InputError(
            "command line",
            "--sync",
            f"given {len(values)} times for {count} recordings; give it once, or once per "
            "recording in the order of --video.",
        )
    offsets: list[float | None] = []
    for value in values:
        if value == "auto":
            offsets.append(None)
            continue
        try:
            offsets.append(float(value))
        except ValueError:
            raise InputError(
                "command line", "--sync", f"must be 'auto' or seconds, got {value!r}."
            ) from None
    return offsets * count if len(offsets) == 1 else offsets


def _describe(result: RecordingPairs) -> str:
    sync, windows = result.sync, result.windows
    if sync.method == "given":
        how = "given"
    else:
        drift = (
            f"drift {sync.drift * 1e6:+.0f} ppm over {sync.segments} pieces"
            if sync.drift_estimated
            else "drift not estimated"
        )
        how = f"r = {sync.correlation:.2f}, margin {sync.margin:.2f}, {drift}"
    return (
        f"{result.recording.name}: IMU clock = video clock {sync.offset_s:+.3f} s ({how}); "
        f"{len(windows)} pairs of {windows.candidates} windows (skipped {windows.still} still, "
        f"{windows.missing_imu} for missing IMU samples, {windows.missing_video} for missing "
        "frames)"
    )


def _report(result: RecordingPairs) -> dict[str, Any]:
    sync, windows = result.sync, result.windows
    return {
        "name": result.recording.name,
        "video": str(result.recording.video),
        "imu": str(result.recording.imu),
        "sync": {
            "method": sync.method,
            "offset_s": sync.offset_s,
            "drift_ppm": sync.drift * 1e6,
            "drift_estimated": sync.drift_estimated,
            "correlation": sync.correlation,
            "margin": sync.margin,
            "motion_energy": {"video": result.energy[0], "imu": result.energy[1]},
        },
        "windows": {
            "pairs": len(windows),
            "candidates": windows.candidates,
            "skipped_still": windows.still,
            "skipped_missing_imu": windows.missing_imu,
            "skipped_missing_video": windows.missing_video,
        },
        "imu_lines_dropped": dict(result.dropped),
    }


def run(args: argparse.Namespace) -> int:
    """Pair every recording, write PAIRS atomically, print one line per recording."""
    import json
    from dataclasses import replace

    from harbridge.calibration.pairing import PairOptions, pair_recordings, write_pairs
    from harbridge.errors import InputError

    for option in ("window", "hop"):
        value = getattr(args, option)
        if not value > 0:
            raise InputError("command line", f"--{option}", f"must be > 0 seconds, got {value}.")
    if not 0.0 <= args.min_motion <= 1.0:
        raise InputError(
            "command line", "--min-motion", f"must be a share in [0, 1], got {args.min_motion}."
        )
    recordings = _recordings(args)
    offsets = _offsets(args.sync, len(recordings))
    recordings = [
        replace(recording, offset_s=offset)
        for recording, offset in zip(recordings, offsets, strict=True)
    ]
    channels = None
    if args.channels is not None:
        channels = tuple(name.strip() for name in args.channels.split(",") if name.strip())
    options = PairOptions(
        window_s=args.window,
        hop_s=args.hop,
        wrist=args.wrist,
        fps=args.fps,
        channels=channels,
        min_motion=args.min_motion,
    )
    results = pair_recordings(recordings, options)
    for result in results:
        print(_describe(result))
    n = write_pairs(args.out, results)
    first = results[0]
    print(
        f"wrote {args.out}: {n} pairs from {len(results)} recording(s); video "
        f"{first.windows.video.shape[1]} features, IMU windows of {first.windows.imu.shape[1]} "
        f"samples × {len(first.channels)} channels ({','.join(first.channels)}) at "
        f"{first.rate_hz:g} Hz"
    )
    if args.json is not None:
        text = json.dumps([_report(r) for r in results], indent=2) + "\n"
        args.json.write_text(text, encoding="utf-8")
    return 0
