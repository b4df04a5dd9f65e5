"""The ``harbridge`` command line: one sub-command per module in :mod:`harbridge.commands`.

Exit codes: 0 ok, 2 bad input or usage (one line ``harbridge: error: …`` on stderr),
1 only for a bug. Command modules import only the standard library at import time, so
``harbridge run`` on a device never loads what only calibration needs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn, Protocol, cast

from harbridge import __version__
from harbridge.errors import InputError

__all__ = ["main"]

#: sub-command name -> module that implements it
COMMANDS: dict[str, str] = {
    "simulate": "harbridge.commands.simulate",
    "pair": "harbridge.commands.pair",
    "calibrate": "harbridge.commands.calibrate",
    "evaluate": "harbridge.commands.evaluate",
    "run": "harbridge.commands.run",
    "listen": "harbridge.commands.listen",
    "demo": "harbridge.commands.demo",
    "bench": "harbridge.commands.bench",
}


class Command(Protocol):
    """What a command module provides."""

    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, as the CLI contract wants."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"harbridge: error: {self.prog}: {message} (see '{self.prog} --help')\n")


def _available_commands() -> dict[str, Command]:
    commands: dict[str, Command] = {}
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        commands[name] = cast(Command, module)
    return commands


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    """Build the top-level parser with every available sub-command."""
    parser = _Parser(
        prog="harbridge",
        description="Recognise actions from a wearable IMU with a video-trained model.",
    )
    parser.add_argument("--version", action="version", version=f"harbridge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands = _available_commands()
    for name, command in commands.items():
        command.add_arguments(sub.add_parser(name, help=command.HELP, description=command.HELP))
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    try:
        return commands[args.command].run(args)
    except InputError as exc:
        print(f"harbridge: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
