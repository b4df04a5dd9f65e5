"""Speed of a bundle's fused ``pipeline.onnx`` as the daemon runs it, against the per-call floor.

Prints a markdown table: µs per call and windows/s at batch 1 and batch 256 on one thread
with spinning off, for the pipeline and for an Identity graph of the same input (the cost
of an onnxruntime call that does nothing), and the ratio of the two at batch 1. Each
figure is the median of several rounds that alternate the two graphs.

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
#: measurements of each graph and batch; the table shows their medians
ROUNDS = 7


def default_bundle(folder: Path) -> Path:
    """Simulate the default dataset and calibrate a bundle from it inside ``folder``.

    Both run in a child process, as on a device, whose process never calibrates: timed in
    the process that had just calibrated, every call was slower (the floor by about half).
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
        sessions = {"identity (floor)": floor, "pipeline": pipeline}
        feeds = {
            batch: {model_input.name: rng.normal(size=(batch, *shape)).astype(np.float32)}
            for batch in BATCHES
        }
        # Every round times both graphs, so a change of machine load hits both alike.
        timings: dict[tuple[str, int], list[tuple[float, float]]] = {
            (name, batch): [] for name in sessions for batch in BATCHES
        }
        for _ in range(ROUNDS):
            for (name, batch), runs in timings.items():
                runs.append(seconds_per_call(sessions[name], feeds[batch]))
        for (name, batch), runs in timings.items():
            cpu, wall = np.median(np.array(runs), axis=0)
            cells = [name, str(batch), f"{cpu * 1e6:.1f}", f"{batch / cpu:,.0f}"]
            print("| " + " | ".join([*cells, f"{wall * 1e6:.1f}"]) + " |")
        ratios = [
            pipe[0] / ident[0]
            for pipe, ident in zip(
                timings["pipeline", 1], timings["identity (floor)", 1], strict=True
            )
        ]
        print(
            f"\nsingle-window latency: {np.median(ratios):.1f}× the floor of an onnxruntime "
            f"call (median of {ROUNDS} rounds; lowest {min(ratios):.1f}×, highest "
            f"{max(ratios):.1f}×)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
