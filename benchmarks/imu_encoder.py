"""Throughput of the built-in IMU encoder graph against onnxruntime's per-call floor.

Prints a markdown table: windows/s and µs per call at batch 1 and batch 256, on one thread
with spinning off (as the daemon runs it), for the encoder and for an Identity graph of the
same input (the cost of a call that does nothing). Timings are the best of several repeats,
in CPU time of the calling thread and in wall-clock time, so other load on the machine
shows less.

Run: ``python benchmarks/imu_encoder.py [--rate 50] [--window 128] [--channels ax,ay,az,gx,gy,gz]``
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
import onnxruntime as ort
from onnx_timing import device_session, identity_graph, seconds_per_call

from harbridge.models.imu_encoder import INPUT_NAME, build_imu_encoder
from harbridge.models.imu_spec import ImuEncoderSpec, feature_names

__all__ = ["main"]

BATCHES = (1, 256)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="sample rate in Hz")
    parser.add_argument("--window", type=int, default=128, help="samples per window")
    parser.add_argument("--channels", default="ax,ay,az,gx,gy,gz", help="comma-separated")
    args = parser.parse_args(argv)
    spec = ImuEncoderSpec(args.rate, args.window, tuple(args.channels.split(",")))
    encoder = build_imu_encoder(spec)
    graphs = {
        "identity (floor)": identity_graph(INPUT_NAME, ["N", spec.window, len(spec.channels)]),
        "imu encoder": encoder,
    }
    rng = np.random.default_rng(0)
    print(
        f"IMU encoder: {spec.sample_rate_hz:g} Hz, T={spec.window}, C={len(spec.channels)}, "
        f"F={len(feature_names(spec))} features, {len(encoder.graph.node)} nodes; "
        f"onnxruntime {ort.__version__}, 1 thread, spinning off\n"
    )
    print("| graph | batch | µs / call (CPU) | windows / s (CPU) | µs / call (wall) |")
    print("|---|---:|---:|---:|---:|")
    for name, model in graphs.items():
        session = device_session(model)
        for batch in BATCHES:
            windows = rng.normal(size=(batch, spec.window, len(spec.channels)))
            cpu, wall = seconds_per_call(session, {INPUT_NAME: windows.astype(np.float32)})
            print(f"| {name} | {batch} | {cpu * 1e6:.1f} | {batch / cpu:,.0f} | {wall * 1e6:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
