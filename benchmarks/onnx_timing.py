"""Timing onnxruntime calls the way the device makes them, against the per-call floor.

Shared by the benchmark scripts in this folder (run them as ``python benchmarks/<name>.py``).
"""

from __future__ import annotations

import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from harbridge.models.onnx_graph import float_input, float_output, make_model
from harbridge.runtime.inference import session_options

__all__ = ["device_session", "identity_graph", "seconds_per_call"]


def identity_graph(input_name: str, shape: list[int | str]) -> onnx.ModelProto:
    """A graph that returns its input unchanged: the floor under any graph's call time."""
    node = helper.make_node("Identity", [input_name], ["out"], "identity")
    graph = helper.make_graph(
        [node], "identity", [float_input(input_name, shape)], [float_output("out", shape)]
    )
    return make_model(graph)


def device_session(model: onnx.ModelProto | str, threads: int = 1) -> ort.InferenceSession:
    """A session with the daemon's options (``threads`` intra-op threads, no spinning)."""
    source = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(
        source, session_options(threads), providers=["CPUExecutionProvider"]
    )


def seconds_per_call(
    session: ort.InferenceSession,
    feed: dict[str, np.ndarray],
    repeats: int = 7,
    budget_s: float = 0.3,
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
