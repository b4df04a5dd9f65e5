"""``harbridge run --check``: the config and the bundle are checked, nothing is opened.

Every refusal is exit code 2 with one line naming the file and the key. The configs
name a serial port that does not exist and a broker port nothing listens on: a check
that tried to open either would fail or hang.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harbridge.cli import main
from tests.daemon_support import bundle
from tests.mosquitto import free_port

# Exported so that pytest (and ruff) see the imported fixture as used.
__all__ = ["bundle"]

MISSING_PORT = "/dev/harbridge-test-no-such-port"


def config_text(bundle: Path, sources: str | None = None, extra: str = "") -> str:
    sources = (
        sources or f'[[sources]]\nkind = "serial"\nport = "{MISSING_PORT}"\ndevice = "wrist"\n'
    )
    return (
        f'device = "pi-1"\nbundle = "{bundle}"\n{sources}\n'
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{free_port()}"\n{extra}'
    )


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    path = tmp_path / "harbridge.toml"
    path.write_text(text)
    code = main(["run", "--check", "--config", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def edited_bundle(bundle: Path, folder: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of ``bundle`` whose manifest ``edit`` changed (file hashes stay right)."""
    copy = folder / "edited"
    shutil.copytree(bundle, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    edit(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def test_a_good_config_prints_one_ok_line_without_opening_anything(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = (
        f'[[sources]]\nkind = "serial"\nport = "{MISSING_PORT}"\nformat = "witmotion"\n'
        'device = "wrist"\n[[sources]]\nkind = "mqtt"\ntopic = "imu/+/raw"\n'
    )
    extra = 'username = "hb"\npassword_env = "HARBRIDGE_TEST_UNSET_PASSWORD"\n'
    code, out, err = check(tmp_path, config_text(bundle, sources, extra), capsys)
    assert (code, err) == (0, "")
    (line,) = out.splitlines()
    assert line.startswith("OK: harbridge.toml: device pi-1; 2 source(s)")
    manifest = json.loads((bundle / "manifest.json").read_text())
    for words in (
        f"serial {MISSING_PORT} (witmotion) → wrist",
        "mqtt imu/+/raw",
        "3 classes (sway, wave, shake)",
        "ax, ay, az, gx, gy, gz at 50 Hz, window 64, hop 32",
        "under harbridge/",
    ):
        assert words in line
    assert manifest["classes"] == ["sway", "wave", "shake"]


def tamper(bundle: Path, folder: Path) -> Path:
    copy = folder / "tampered"
    shutil.copytree(bundle, copy)
    graph = copy / "pipeline.onnx"
    graph.write_bytes(graph.read_bytes() + b"\0")
    return copy


def rename_class(bundle: Path, folder: Path) -> Path:
    return edited_bundle(bundle, folder, lambda m: m.update(classes=["sway", "unknown", "shake"]))


def features_only(bundle: Path, folder: Path) -> Path:
    return edited_bundle(bundle, folder, lambda m: m["imu"].update(input="imu_features"))


def degrees(bundle: Path, folder: Path) -> Path:
    return edited_bundle(
        bundle, folder, lambda m: m["imu"].update(units=["m/s²"] * 3 + ["deg/s"] * 3)
    )


def magnetometer(bundle: Path, folder: Path) -> Path:
    return edited_bundle(
        bundle, folder, lambda m: m["imu"].update(channels=["ax", "ay", "az", "gx", "gy", "mz"])
    )


@pytest.mark.parametrize(
    ("make_bundle", "sources", "where", "words"),
    [
        (tamper, None, "pipeline.onnx: sha256", "does not match the manifest"),
        (rename_class, None, "manifest.json: classes", "a class is named 'unknown'"),
        (features_only, None, "manifest.json: imu.input", "calibrate from raw windows"),
        (
            degrees,
            'format = "witmotion"',
            "harbridge.toml: sources[1].format",
            "gx in rad/s (bundle: deg/s), gy in rad/s",
        ),
        (magnetometer, 'format = "witmotion"', "sources[1].format", "also needs mz"),
        (
            None,
            'default_header = ["t", "ax", "ay", "az", "gx", "gy"]',
            "sources[1].default_header",
            "must name each of the bundle's channels",
        ),
    ],
    ids=["tampered", "unknown-class", "features", "units", "channels", "default-header"],
)
def test_bundles_and_sources_that_cannot_work_are_refused(
    tmp_path: Path,
    bundle: Path,
    capsys: pytest.CaptureFixture[str],
    make_bundle: Callable[[Path, Path], Path] | None,
    sources: str | None,
    where: str,
    words: str,
) -> None:
    used = bundle if make_bundle is None else make_bundle(bundle, tmp_path)
    serial = f'[[sources]]\nkind = "serial"\nport = "{MISSING_PORT}"\n{sources or ""}\n'
    code, out, err = check(tmp_path, config_text(used, serial), capsys)
    assert (code, out) == (2, "")
    (line,) = err.splitlines()
    assert line.startswith("harbridge: error: ")
    assert where in line and words in line


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ("[postprocess]\nsmoothing = 0\n", "postprocess.smoothing", "at least 1 window"),
        ("[queues]\nwindow = 5\n", "queues.window", "did you mean 'windows'?"),
        (
            '[[sources]]\nkind = "serial"\nport = "/dev/x"\nbaudrat = 9600\n',
            "sources[2].baudrat",
            "did you mean 'baudrate'?",
        ),
        (
            '[[sources]]\nkind = "serial"\nport = "/dev/x"\nformat = "witmotion"\ndefault_header = ["ax"]\n',
            "sources[2].default_header",
            "format = 'csv' only",
        ),
    ],
)
def test_config_mistakes_are_refused_naming_the_key(
    tmp_path: Path,
    bundle: Path,
    capsys: pytest.CaptureFixture[str],
    extra: str,
    key: str,
    words: str,
) -> None:
    text = config_text(bundle)
    text = text.replace("[mqtt]", extra + "\n[mqtt]") if extra.startswith("[[") else text + extra
    code, out, err = check(tmp_path, text, capsys)
    assert (code, out) == (2, "")
    assert f"harbridge.toml: {key}: " in err and words in err


def test_a_missing_bundle_folder_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = check(tmp_path, config_text(tmp_path / "nowhere"), capsys)
    assert code == 2
    assert "harbridge.toml: bundle: no such folder" in err


def test_run_without_check_refuses_an_unset_password_before_starting(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = 'username = "hb"\npassword_env = "HARBRIDGE_TEST_UNSET_PASSWORD"\n'
    path = tmp_path / "harbridge.toml"
    path.write_text(config_text(bundle, extra=extra))
    code = main(["run", "--config", str(path)])
    _, err = capsys.readouterr()
    assert code == 2
    assert "mqtt.password_env: environment variable HARBRIDGE_TEST_UNSET_PASSWORD is not set" in err
