"""``harbridge bench <target>``: benchmarks that print markdown tables.

Each target is a module under :mod:`harbridge.bench` exposing ``add_arguments(parser)``
and ``run(args) -> int``; adding one is one line in :data:`TARGETS`. A target module is
imported only when it is the one asked for, so its numeric dependencies never load for
other commands (``harbridge run`` on a device builds this parser too).
"""

from __future__ import annotations

import argparse
import importlib
from typing import NoReturn, Protocol, cast

from harbridge.errors import InputError

__all__ = ["HELP", "TARGETS", "add_arguments", "run"]

HELP = "run a benchmark and print its markdown tables"

#: target name -> (module implementing it, one-line help)
TARGETS: dict[str, tuple[str, str]] = {
    "paper": (
        "harbridge.bench.paper",
        "the paper's results on synthetic data: alignment, noise, baselines, transfer, ablations",
    ),
    "transfer": ("harbridge.bench.transfer", "zero-label transfer vs the supervised IMU ceiling"),
}


class Target(Protocol):
    """What a bench target module provides."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class _TargetParser(argparse.ArgumentParser):
    """Parses a target's own options; usage errors become one-line :class:`InputError`."""

    def error(self, message: str) -> NoReturn:
        raise InputError(self.prog, "arguments", f"{message} (see '{self.prog} --help')")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the target name and pass everything after it on to the target's parser."""
    listing = "; ".join(f"{name}: {text}" for name, (_, text) in TARGETS.items())
    parser.add_argument("target", choices=sorted(TARGETS), help=f"what to benchmark ({listing})")
    parser.add_argument(
        "options",
        nargs=argparse.REMAINDER,
        help="the target's own options; see 'harbridge bench <target> --help'",
    )


def run(args: argparse.Namespace) -> int:
    """Import the chosen target, parse its options and run it."""
    module_name, text = TARGETS[args.target]
    target = cast(Target, importlib.import_module(module_name))
    parser = _TargetParser(prog=f"harbridge bench {args.target}", description=text)
    target.add_arguments(parser)
    return target.run(parser.parse_args(args.options))
