"""``harbridge simulate``: write the simulated paired video/IMU dataset (DESIGN §3)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["HELP", "add_arguments", "run"]

HELP = (
    "write a simulated paired video/IMU arm-action dataset (UTD-MHAD style, 12 actions, "
    "10 subjects): pairs.npz, labeled_video.npz, test_imu.npz, stream.csv and more"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--out``, ``--seed`` and ``--recordings``."""
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="directory to write; must be new, empty, or an earlier simulate output",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="non-negative seed; the same seed gives identical files (default: 0)",
    )
    parser.add_argument(
        "--recordings",
        type=Path,
        metavar="DIR",
        help="also write a raw session of each training subject to DIR (outside --out), as "
        "'harbridge pair' reads them: video/*.json COCO-17 keypoints at 30 fps and imu/*.csv "
        "at 50 Hz, each device on its own clock (offsets, drifts and actions in "
        "DIR/recordings.json)",
    )


def run(args: argparse.Namespace) -> int:
    """Simulate, write, and print what was written."""
    from harbridge.calibration.simulation import simulate_dataset

    if args.recordings is not None:
        _check_apart(Path(args.out), args.recordings)
    summary = simulate_dataset(args.out, seed=args.seed)
    print(f"wrote {summary.out_dir} (seed {summary.seed})")
    print(
        f"  pairs.npz, labeled_video.npz: {summary.n_pairs} windows of training subjects "
        f"{', '.join(map(str, summary.train_subjects))} (d_v = {summary.d_video})"
    )
    print(
        f"  test_imu.npz: {summary.n_test} windows of held-out subjects "
        f"{', '.join(map(str, summary.test_subjects))}"
    )
    print(
        f"  stream.csv: subject {summary.stream_subject}, {summary.stream_duration_s:.0f} s, "
        f"{summary.n_stream_segments} action segments in stream_segments.csv"
    )
    print(f"  classes ({len(summary.class_names)}): {', '.join(summary.class_names)}")
    if args.recordings is not None:
        from harbridge.calibration.simulation.raw_recordings import write_raw_recordings

        raw = write_raw_recordings(args.recordings, seed=args.seed)
        print(
            f"wrote {raw.out_dir}: {raw.n_recordings} raw recordings ({raw.duration_s:.0f} s), "
            f"offsets up to ±{raw.max_abs_offset_s:.1f} s, drifts up to "
            f"±{raw.max_abs_drift_ppm:.0f} ppm; pair them with: harbridge pair --video "
            f"{raw.out_dir / 'video'} --imu {raw.out_dir / 'imu'} --out PAIRS.npz"
        )
    return 0


def _check_apart(out: Path, recordings: Path) -> None:
    """Refuse nesting (each folder is replaced as a whole and must not hold the other) and a
    folder of the user's, before the minutes of simulation."""
    from harbridge.calibration.simulation.raw_recordings import check_out_dir
    from harbridge.errors import InputError

    a, b = out.resolve(), recordings.resolve()
    if a == b or a in b.parents or b in a.parents:
        raise InputError(
            recordings,
            "--recordings",
            f"must lie outside --out {out} (and not contain it); give a separate folder.",
        )
    check_out_dir(recordings)
