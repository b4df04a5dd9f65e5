"""A user's existing video classifier head, adapted to sit at the end of the IMU pipeline.

The head is any standard-domain ONNX graph from video features [N, d_v] to one float
tensor [N, K] of probabilities or logits. It is reused unchanged; harbridge only renames
its input to ``video_features``, its output to ``probs`` and, when the head emits logits,
appends a Softmax.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
from onnx import helper

from harbridge.errors import InputError
from harbridge.models.foreign import load_foreign_model, probe, rename_io
from harbridge.models.onnx_graph import float_output, make_model

__all__ = ["adapt_video_head", "head_outputs_are_probabilities", "load_video_head"]


def load_video_head(path: Path, video_dim: int, n_classes: int) -> onnx.ModelProto:
    """Load and check a video head: one input [N, d_v], first output [N, K].

    Raises
    ------
    InputError
        Unreadable file, non-standard operators, or shapes that do not fit.
    """
    model = load_foreign_model(path)
    out = probe(model, path, np.zeros((2, video_dim), dtype=np.float32))
    if out.shape != (2, n_classes):
        raise InputError(
            path,
            "graph.output",
            f"gives shape {list(out.shape[1:])} per row but --classes names {n_classes} classes.",
        )
    return model


def head_outputs_are_probabilities(outputs: npt.NDArray[np.float32]) -> bool:
    """True when every row of ``outputs`` (n, K) is a probability vector (to 1e-3)."""
    return bool(
        np.all(outputs >= 0)
        and np.all(outputs <= 1)
        and np.allclose(outputs.sum(axis=1), 1, atol=1e-3)
    )


def adapt_video_head(head: onnx.ModelProto, n_classes: int, softmax: bool) -> onnx.ModelProto:
    """The head with input ``video_features`` and output ``probs`` (Softmax appended if asked)."""
    doc = "the user's video head, unchanged, fed with IMU features carried into video space"
    if not softmax:
        return rename_io(head, "video_features", "probs", doc)
    renamed = rename_io(head, "video_features", "head_logits", doc)
    graph = renamed.graph
    adapted = helper.make_graph(
        [
            *graph.node,
            helper.make_node("Softmax", ["head_logits"], ["probs"], name="head_softmax", axis=-1),
        ],
        "video_head",
        list(graph.input),
        [float_output("probs", ["N", n_classes])],
        initializer=list(graph.initializer),
    )
    return make_model(adapted, doc)
