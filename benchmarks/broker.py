"""A Mosquitto broker of the benchmarks' own, on a free loopback port.

Benchmarks do not import the tests, so this holds the few lines of ``tests/mosquitto.py``
they need: find the binary (Debian installs it in sbin), write a config, start the
process and wait until it listens, stop it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Broker", "find_mosquitto", "free_port", "mosquitto"]

_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")
START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Broker:
    """A running broker: where it listens and its process."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        """``mqtt://host:port``."""
        return f"mqtt://{self.host}:{self.port}"


def find_mosquitto() -> str:
    """Path of the mosquitto binary.

    Raises
    ------
    SystemExit
        None is installed; the message says how to install it.
    """
    found = shutil.which("mosquitto") or next(
        (path for path in _CANDIDATES if os.access(path, os.X_OK)), None
    )
    if found is None:
        raise SystemExit("mosquitto is not installed; apt install mosquitto")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def mosquitto(folder: Path, extra_config: Sequence[str] = ()) -> Iterator[Broker]:
    """Run a mosquitto on a free loopback port, without persistence, for the ``with`` block.

    Parameters
    ----------
    folder : Path
        Where its config and log go (created if missing).
    extra_config : sequence of str
        Config lines appended to the generated ones (e.g. queue limits).
    """
    folder.mkdir(parents=True, exist_ok=True)
    host, port = "127.0.0.1", free_port()
    log_path = folder / "mosquitto.log"
    lines = [
        f"listener {port} {host}",
        "allow_anonymous true",
        "persistence false",
        # Started as root, mosquitto would switch to its own user and lose the log file.
        f"user {pwd.getpwuid(os.geteuid()).pw_name}",
        f"log_dest file {log_path}",
        "log_type error",
        "log_type warning",
        *extra_config,
    ]
    config = folder / "mosquitto.conf"
    config.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(
        [find_mosquitto(), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(host, port, process, log_path)
        yield Broker(host, port, process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_listening(host: str, port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text() if log_path.exists() else "(no log)"
            raise RuntimeError(f"mosquitto exited at start; log:\n{log}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"mosquitto did not listen on {host}:{port} within {START_TIMEOUT_S} s")
