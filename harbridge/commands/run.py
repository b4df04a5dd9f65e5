"""``harbridge run``: the daemon, or with ``--check`` a dry check of its configuration."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run the daemon: read IMU streams, recognise actions, publish them over MQTT"

_LEVELS = ("debug", "info", "warning", "error")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``run`` (DESIGN §3)."""
    parser.add_argument(
        "--config",
        required=True,
        type=Path,
        metavar="CONFIG.toml",
        help="the daemon's settings (an example: deploy/config.example.toml)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="check the config and the bundle (sha256, channels, units), print one line and "
        "exit; opens no device and no broker connection",
    )
    parser.add_argument(
        "--log-level",
        choices=_LEVELS,
        help="least important messages logged on stderr (default: info; warning with --check)",
    )


def run(args: argparse.Namespace) -> int:
    """Check, or run the daemon until SIGTERM or SIGINT; exit 0 after a clean stop."""
    import asyncio
    import logging

    from harbridge.runtime.config import load_config

    level = args.log_level or ("warning" if args.check else "info")
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logger = logging.getLogger("harbridge")
    config = load_config(args.config)
    if args.check:
        from harbridge.runtime.preflight import check_config, check_summary

        print(check_summary(config, check_config(config, logger)))
        return 0
    from harbridge.runtime.daemon import run_daemon

    asyncio.run(run_daemon(config, logger=logger, handle_signals=True))
    return 0
