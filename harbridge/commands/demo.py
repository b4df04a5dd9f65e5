"""``harbridge demo``: the whole product working on this machine, with nothing else running."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = (
    "simulate, calibrate and stream a simulated wearable through the daemon, with live predictions"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``demo``; none are needed."""
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the dataset, bundle and config here (default: a temporary folder)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the simulated dataset (default 0)"
    )
    parser.add_argument(
        "--duration", type=float, help="stream only this many seconds of the recording"
    )
    parser.add_argument(
        "--broker", help="use this broker (mqtt://host:port) instead of finding or starting one"
    )
    parser.add_argument("--no-colour", action="store_true", help="plain text even on a terminal")


def run(args: argparse.Namespace) -> int:
    """Run the demo and print its summary."""
    import asyncio
    import logging
    import sys
    import tempfile

    from harbridge.demo.display import DemoScreen
    from harbridge.demo.session import DemoOptions, run_demo
    from harbridge.errors import InputError

    if args.duration is not None and args.duration <= 0:
        raise InputError(
            "command line",
            "--duration",
            f"must be a positive number of seconds, got {args.duration}.",
        )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    screen = DemoScreen(sys.stdout, colour=sys.stdout.isatty() and not args.no_colour)
    with tempfile.TemporaryDirectory(prefix="harbridge-demo-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        options = DemoOptions(
            workdir, seed=args.seed, duration_s=args.duration, broker_url=args.broker
        )
        result = asyncio.run(run_demo(options, screen))
    screen.summary(
        [
            (
                "predictions",
                f"{result.predictions} windows ({result.scored} inside actions, scored)",
            ),
            (
                "streaming accuracy",
                f"{result.streaming_accuracy:.3f} over the live stream, window by window",
            ),
            (
                "offline accuracy",
                f"{result.offline_accuracy:.3f} on held-out subjects' test windows",
            ),
            (
                "latency p50 / p99",
                f"{result.latency_p50_ms:.1f} / {result.latency_p99_ms:.1f} ms from a "
                "window's last sample to its prediction",
            ),
            ("IMU labels used", "none: the head was fitted on video labels only"),
        ]
    )
    return 0
