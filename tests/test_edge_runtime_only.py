"""The device installs only the runtime's four dependencies (numpy, onnxruntime, aiomqtt,
pyserial): everything it runs must work without onnx, scipy, matplotlib, scikit-learn
and amqtt, which only the workstation's extras bring.

Each check runs in a subprocess whose ``sitecustomize`` makes importing any of those
raise ImportError, as on a Raspberry Pi installed by ``deploy/install-pi.sh``: importing
every runtime and driver module, ``harbridge run --check`` on a real bundle, and a short
daemon run publishing predictions to Mosquitto, read back by ``harbridge listen``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon_support import CHANNELS, bundle, class_stream, csv_lines
from tests.mosquitto import Mosquitto, mosquitto_broker

# Exported so that pytest (and ruff) see the imported fixtures as used.
__all__ = ["bundle", "mosquitto_broker"]

GUARD_S = 60.0
NOT_ON_THE_DEVICE = ("onnx", "scipy", "matplotlib", "sklearn", "amqtt")
SITECUSTOMIZE = f'''"""Make the workstation-only packages unimportable, as on the device."""
import importlib.abc
import sys

BLOCKED = {NOT_ON_THE_DEVICE!r}


class NotOnTheDevice(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is not installed on the device", name=name)
        return None


sys.meta_path.insert(0, NotOnTheDevice())
'''
IMPORT_ALL = """
import importlib, pkgutil, sys
import harbridge.cli, harbridge.drivers, harbridge.runtime
names = [
    info.name
    for package in (harbridge.runtime, harbridge.drivers)
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + ".")
]
for name in names:
    importlib.import_module(name)
loaded = sorted({m.partition(".")[0] for m in sys.modules} & set(BLOCKED))
print(len(names), loaded)
"""


@pytest.fixture
def device_env(tmp_path: Path) -> dict[str, str]:
    """Environment of a Python that cannot import the workstation-only packages."""
    shim = tmp_path / "device-shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = os.pathsep.join(p for p in (str(shim), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def harbridge(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "harbridge", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.parametrize("package", NOT_ON_THE_DEVICE)
def test_the_shim_really_hides_the_workstation_packages(
    device_env: dict[str, str], package: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {package}"],
        capture_output=True,
        text=True,
        env=device_env,
        timeout=GUARD_S,
        check=False,
    )
    assert result.returncode == 1
    assert f"ImportError: {package} is not installed on the device" in result.stderr


def test_every_runtime_and_driver_module_imports_without_them(
    device_env: dict[str, str],
) -> None:
    code = f"BLOCKED = {NOT_ON_THE_DEVICE!r}\n{IMPORT_ALL}"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=device_env,
        timeout=GUARD_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    count, loaded = result.stdout.split(" ", 1)
    assert int(count) >= 30 and loaded.strip() == "[]"
    help_text = subprocess.run(
        [sys.executable, "-m", "harbridge", "--help"],
        capture_output=True,
        text=True,
        env=device_env,
        timeout=GUARD_S,
        check=False,
    )
    assert help_text.returncode == 0 and "run" in help_text.stdout, help_text.stderr


@pytest.mark.mosquitto
def test_check_run_and_listen_work_on_a_runtime_only_install(
    tmp_path: Path, bundle: Path, mosquitto_broker: Mosquitto, device_env: dict[str, str]
) -> None:
    recording = tmp_path / "stream.csv"
    t, values, _ = class_stream(["wave"], 3.0)
    recording.write_bytes(
        ("t," + ",".join(CHANNELS) + "\n").encode() + b"".join(csv_lines(t, values))
    )
    config = tmp_path / "harbridge.toml"
    config.write_text(
        f'device = "pi"\nbundle = "{bundle}"\n'
        f'[[sources]]\nkind = "replay"\npath = "{recording}"\nspeed = 2\nloop = true\n'
        f'device = "rec"\n[mqtt]\nurl = "{mosquitto_broker.url}"\n'
        "[postprocess]\nood_threshold = 1e9\n"
    )
    check = harbridge(device_env, "run", "--check", "--config", str(config))
    out, err = check.communicate(timeout=GUARD_S)
    assert (check.returncode, err) == (0, ""), err
    assert out.startswith("OK: harbridge.toml: device pi")

    listen = harbridge(
        device_env, "listen", "--broker", mosquitto_broker.url, "--count", "3", "--timeout", "45"
    )
    daemon = harbridge(device_env, "run", "--config", str(config))
    try:
        lines, listen_err = listen.communicate(timeout=GUARD_S)
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, daemon_err = daemon.communicate(timeout=GUARD_S)
    assert listen.returncode == 0, listen_err + daemon_err
    assert daemon.returncode == 0, daemon_err
    assert len(lines.splitlines()) == 3
    assert all("rec" in line and "wave" in line for line in lines.splitlines())
    assert "Traceback" not in daemon_err and "ImportError" not in daemon_err
