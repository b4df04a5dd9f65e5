"""``harbridge simulate``: write the simulated paired video/IMU dataset (DESIGN §3)."""

from __future__ import annotations

import argparse

__all__ = ["HELP", "add_arguments", "run"]

HELP = (
    "write a simulated paired video/IMU arm-action dataset (UTD-MHAD style, 12 actions, "
    "10 subjects): pairs.npz, labeled_video.npz, test_imu.npz, stream.csv and more"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--out`` and ``--seed``."""
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


def run(args: argparse.Namespace) -> int:
    """Simulate, write, and print what was written."""
    from harbridge.calibration.simulation import simulate_dataset

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
    return 0
