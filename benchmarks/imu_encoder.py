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
import time
from collections.abc import Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from harbridge.models.imu_encoder import INPUT_NAME, build_imu_encoder
from harbridge.models.imu_spec import ImuEncoderSpec, feature_names
from harbridge.models.onnx_graph import float_input, float_output, make_model

__all__ = ["identity_graph", "main", "seconds_per_call"]

BATCHES = (1, 256)


def identity_graph(window: int, n_channels: int) -> onnx.ModelProto:
    """A graph that returns its ``imu`` input: the floor under any graph's call time."""
    shape: list[int | str] = ["N", window, n_channels]
    node = helper.make_node("Identity", [INPUT_NAME], ["out"], "identity")
    graph = helper.make_graph(
        [node], "identity", [float_input(INPUT_NAME, shape)], [float_output("out", shape)]
    )
    return make_model(graph)


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def seconds_per_call(
    session: ort.InferenceSession, windows: np.ndarray, repeats: int = 7, budget_s: float = 0.3
) -> tuple[float, float]:
    """Best over ``repeats`` of the mean time of one ``run`` call, each repeat ~``budget_s``.

    Returns
    -------
    cpu_s : float
        CPU time of the calling thread, which runs the graph with one intra-op thread; it
        leaves out time the thread spent descheduled on a busy machine.
    wall_s : float
        Wall-clock time.
    """
    feed = {INPUT_NAME: windows}
    for _ in range(10):
        session.run(None, feed)
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < budget_s / 4:
        session.run(None, feed)
        calls += 1
    per_repeat = max(1, 4 * calls)
    best_cpu = best_wall = float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.thread_time()
        for _ in range(per_repeat):
            session.run(None, feed)
        best_cpu = min(best_cpu, (time.thread_time() - cpu) / per_repeat)
        best_wall = min(best_wall, (time.perf_counter() - wall) / per_repeat)
    return best_cpu, best_wall


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="sample rate in Hz")
    parser.add_argument("--window", type=int, default=128, help="samples per window")
    parser.add_argument("--channels", default="ax,ay,az,gx,gy,gz", help="comma-separated")
    args = parser.parse_args(argv)
    spec = ImuEncoderSpec(args.rate, args.window, tuple(args.channels.split(",")))
    encoder = build_imu_encoder(spec)
    graphs = {
        "identity (floor)": identity_graph(spec.window, len(spec.channels)),
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
        session = _session(model)
        for batch in BATCHES:
            windows = rng.normal(size=(batch, spec.window, len(spec.channels)))
            cpu, wall = seconds_per_call(session, windows.astype(np.float32))
            print(f"| {name} | {batch} | {cpu * 1e6:.1f} | {batch / cpu:,.0f} | {wall * 1e6:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
