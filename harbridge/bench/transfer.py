"""``harbridge bench transfer``: zero-label transfer against the supervised IMU ceiling.

Three tables, every number computed in the run (:mod:`harbridge.bench.transfer_tables`):

1. Every method on one data set (the default ``harbridge simulate`` data unless files are
   given): the bundle path (``harbridge calibrate`` with default options, then the
   bundle's ``pipeline.onnx`` through onnxruntime, as the device runs it), the same
   alignment feeding an existing video head, the paper's Gaussian head on video latents,
   CCA, the contrastive baseline, no alignment, and the supervised IMU ceiling.
2. The built-in IMU encoder with each feature group switched off: the ceiling and the
   bundle path's transfer accuracy for each setting.
3. Ceiling and transfer on simulated data sets of several seeds (not with ``--quick``).

The ceiling is what labelled IMU data would buy: logistic regression on standardised
built-in-encoder features of the training subjects' IMU windows (``train_imu.npz``),
tested on the held-out subjects. Calibration never reads those labels.

The parts, one per module: :mod:`.transfer_sizes` (how big a run is),
:mod:`.transfer_data` (the data set), :mod:`.bundle_transfer` (the bundle path),
:mod:`.graphs` (graphs handed to ``calibrate``), :mod:`.aligners` and :mod:`.paper_head`
(the methods outside the bundle), :mod:`.ceiling`, :mod:`.transfer_rows` (the
experiments) and :mod:`.transfer_tables` (the markdown).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harbridge.bench.transfer_data import TransferData, load_files, simulated
from harbridge.bench.transfer_sizes import FULL, QUICK, Sizes
from harbridge.bench.transfer_tables import report
from harbridge.errors import InputError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``harbridge bench transfer``."""
    parser.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="a 'harbridge simulate' directory (pairs.npz, labeled_video.npz, test_imu.npz, "
        "train_imu.npz); default: simulate one with --seed",
    )
    parser.add_argument(
        "--pairs", type=Path, metavar="P", help="PAIRS.npz (with --labeled, --test)"
    )
    parser.add_argument("--labeled", type=Path, metavar="L", help="LABELED.npz")
    parser.add_argument("--test", type=Path, metavar="T", help="TEST.npz: IMU with labels")
    parser.add_argument(
        "--train-imu",
        type=Path,
        metavar="TR",
        help="training subjects' IMU with labels (TEST format), for the ceiling only",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the simulated data and baselines (default 0)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small simulated data, no seeds table (a smoke run)",
    )


def _data(args: argparse.Namespace, sizes: Sizes, workdir: Path) -> TransferData:
    """The data set the options name: a directory, files, or a simulation into ``workdir``."""
    files = (args.pairs, args.labeled, args.test)
    if args.data is not None:
        if any(f is not None for f in (*files, args.train_imu)):
            raise InputError(
                "command line", "--data", "give either --data or --pairs/--labeled/--test."
            )
        train = args.data / "train_imu.npz"
        return load_files(
            args.data / "pairs.npz",
            args.data / "labeled_video.npz",
            args.data / "test_imu.npz",
            train if train.is_file() else None,
        )
    if any(f is not None for f in files):
        if any(f is None for f in files):
            raise InputError(
                "command line", "--pairs", "--pairs, --labeled and --test go together."
            )
        return load_files(args.pairs, args.labeled, args.test, args.train_imu)
    return simulated(args.seed, sizes, workdir)


def run(args: argparse.Namespace) -> int:
    """Print the tables to stdout."""
    sizes = QUICK if args.quick else FULL
    given = args.data is not None or args.pairs is not None
    with tempfile.TemporaryDirectory(prefix="harbridge-bench-data-") as tmp:
        data = _data(args, sizes, Path(tmp))
        print(report(data, sizes, args.seed, None if given else args.seed), end="")
    return 0
