"""A real Mosquitto broker for integration tests, on a free loopback port.

Import the fixture explicitly in a test module (no conftest is involved)::

    from tests.mosquitto import Mosquitto, mosquitto_broker

Tests that take it skip when no ``mosquitto`` binary is installed, unless the environment
sets ``HARBRIDGE_REQUIRE_MOSQUITTO=1`` (CI does), in which case they fail. By default the
broker keeps nothing on disk, so a restart forgets retained messages and sessions, as a
broker that crashed and came back would; ``persistence=True`` keeps them across a clean
stop, as Debian's default configuration does.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["Mosquitto", "find_mosquitto", "free_port", "mosquitto_broker", "require_mosquitto"]

# Debian installs the broker in sbin, which is not on a normal user's PATH.
_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")
START_TIMEOUT_S = 10.0


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary, or None."""
    found = shutil.which("mosquitto")
    if found is not None:
        return found
    return next((path for path in _CANDIDATES if os.access(path, os.X_OK)), None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Mosquitto:
    """One mosquitto process that can be stopped, killed and started again on its port.

    Parameters
    ----------
    binary : str
        The mosquitto executable.
    folder : path
        Where its config and log go.
    extra_config : str
        Lines appended to the generated config (e.g. a TLS listener).
    persistence : bool
        Save sessions, subscriptions, queued and retained messages on a clean stop and
        restore them at start, as Debian's default config does.
    """

    host = "127.0.0.1"

    def __init__(
        self, binary: str, folder: Path, extra_config: str = "", persistence: bool = False
    ) -> None:
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.extra_config = extra_config
        self.persistence = persistence
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.config_path = folder / "mosquitto.conf"
        self.log_path = folder / "mosquitto.log"

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:<port>``."""
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        user = pwd.getpwuid(os.geteuid()).pw_name
        persistence = (
            ["persistence true", f"persistence_location {self.folder}/"]
            if self.persistence
            else ["persistence false"]
        )
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            *persistence,
            # Run as root, mosquitto would switch to its own user and lose the log file.
            f"user {user}",
            f"log_dest file {self.log_path}",
            *(f"log_type {kind}" for kind in ("error", "warning", "notice", "information")),
        ]
        self.config_path.write_text("\n".join(lines) + "\n" + self.extra_config)
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start; log:\n{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen within {START_TIMEOUT_S} s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the broker (SIGTERM: clean shutdown; SIGKILL: a crash) and wait for it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self, sig: int = signal.SIGKILL) -> None:
        """Kill the broker and start a fresh one on the same port (an outage)."""
        self.stop(sig)
        self.start()

    def log(self) -> str:
        """The broker's log so far."""
        return self.log_path.read_text() if self.log_path.exists() else "(no log)"


def require_mosquitto() -> str:
    """The mosquitto binary; skip the test without one (fail if CI requires it)."""
    binary = find_mosquitto()
    if binary is None:
        if os.environ.get("HARBRIDGE_REQUIRE_MOSQUITTO") == "1":
            pytest.fail("mosquitto is not installed but HARBRIDGE_REQUIRE_MOSQUITTO=1")
        pytest.skip("mosquitto is not installed (apt install mosquitto)")
    return binary


@pytest.fixture
def mosquitto_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running broker on a free loopback port, stopped after the test."""
    broker = Mosquitto(require_mosquitto(), tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
