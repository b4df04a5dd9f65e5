"""`harbridge demo` end to end, in a subprocess, on a short stretch of the recording."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_runs_the_whole_chain_and_summarises(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harbridge",
            "demo",
            "--duration",
            "15",
            "--workdir",
            str(tmp_path),
            "--no-colour",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for step in range(1, 6):
        assert f"[{step}/5]" in out
    assert (tmp_path / "bundle" / "manifest.json").is_file()
    assert (tmp_path / "config.toml").is_file()
    live = re.findall(r"^\s+\d+\.\d–\s*\d+\.\d s  \S+", out, flags=re.MULTILINE)
    assert len(live) >= 8  # 15 s of stream at a 1.28 s hop
    predictions = re.search(r"predictions\s+(\d+) windows", out)
    assert predictions is not None and int(predictions.group(1)) == len(live)
    assert re.search(r"streaming accuracy\s+\d\.\d{3}", out)
    assert re.search(r"offline accuracy\s+\d\.\d{3}", out)
    assert "Traceback" not in result.stderr
