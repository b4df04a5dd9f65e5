"""Speed of a bundle's fused ``pipeline.onnx`` as the daemon runs it, against the per-call floor.

Prints a markdown table: µs per call and windows/s at batch 1 and batch 256 on one thread
with spinning off, for the pipeline and for an Identity graph of the same input (the cost
of an onnxruntime call that does nothing), and the ratio of the two at batch 1.

Run: ``python benchmarks/pipeline.py [--bundle DIR]``; without ``--bundle`` it simulates
the default dataset and calibrates a bundle in a temporary folder first.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnx_timing import device_session, identity_graph, seconds_per_call

BATCHES = (1, 256)


def default_bundle(folder: Path) -> Path:
    """Simulate the default dataset and calibrate a bundle from it inside ``folder``.

    Both run in a child process, as on a device, whose process never calibrates. Timed in
    the process that had just calibrated, every call was slower (floor 9.7 against 6.9 µs,
    pipeline 53 against 30 µs, one run each on a quiet machine).
    """
    data, bundle = folder / "data", folder / "bundle"
    for argv in (
        ["simulate", "--out", str(data)],
        [
            "calibrate",
            "--pairs",
            str(data / "pairs.npz"),
            "--labeled",
            str(data / "labeled_video.npz"),
            "--out",
            str(bundle),
        ],
    ):
        if subprocess.run([sys.executable, "-m", "harbridge", *argv], check=False).returncode:
            raise SystemExit(f"harbridge {argv[0]} failed")
    return bundle


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table for one bundle."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--bundle", type=Path, help="bundle directory (default: simulate + calibrate)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        bundle = args.bundle or default_bundle(Path(scratch))
        manifest = json.loads((bundle / "manifest.json").read_text())
        pipeline = device_session(str(bundle / manifest["graphs"]["pipeline"]))
        model_input = pipeline.get_inputs()[0]
        shape = [int(d) for d in model_input.shape[1:]]
        floor = device_session(identity_graph(model_input.name, ["N", *shape]))
        rng = np.random.default_rng(0)
        print(
            f"pipeline.onnx of {bundle.name}: input {model_input.name} {shape}, "
            f"{len(manifest['classes'])} classes, rank {manifest['alignment']['rank']}; "
            f"onnxruntime {ort.__version__}, 1 thread, spinning off\n"
        )
        print("| graph | batch | µs / call (CPU) | windows / s (CPU) | µs / call (wall) |")
        print("|---|---:|---:|---:|---:|")
        per_call = {}
        for name, session in (("identity (floor)", floor), ("pipeline", pipeline)):
            for batch in BATCHES:
                feed = {model_input.name: rng.normal(size=(batch, *shape)).astype(np.float32)}
                cpu, wall = seconds_per_call(session, feed)
                per_call[name, batch] = cpu
                cells = [name, str(batch), f"{cpu * 1e6:.1f}", f"{batch / cpu:,.0f}"]
                print("| " + " | ".join([*cells, f"{wall * 1e6:.1f}"]) + " |")
        ratio = per_call["pipeline", 1] / per_call["identity (floor)", 1]
        print(f"\nsingle-window latency: {ratio:.1f}× the floor of an onnxruntime call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
