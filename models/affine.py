"""Affine projection graphs ``y = x Wᵀ + b``: imu_to_latent, video_to_latent, imu_to_video.

One MatMul and one Add, and their numpy twin.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import onnx
from onnx import helper

from harbridge.models.onnx_graph import float_input, float_output, initializer, make_model

__all__ = ["affine", "build_affine"]


def affine(X: npt.ArrayLike, W: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Numpy twin of :func:`build_affine`: ``X`` (n, d_in) → (n, d_out) in float32."""
    W32 = np.asarray(W, dtype=np.float32)
    b32 = np.asarray(b, dtype=np.float32)
    return np.asarray(X, dtype=np.float32) @ W32.T + b32


def build_affine(
    W: npt.ArrayLike, b: npt.ArrayLike, input_name: str, output_name: str, doc: str
) -> onnx.ModelProto:
    """Graph ``output = input @ Wᵀ + b`` with a dynamic batch.

    Parameters
    ----------
    W : array-like of shape (d_out, d_in)
    b : array-like of shape (d_out,)
    input_name, output_name : str
        Tensor names, e.g. ``"imu_features"`` → ``"latent"``.
    doc : str
        One-line description stored in the model.
    """
    W = np.asarray(W, dtype=np.float64)
    d_out, d_in = W.shape
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [input_name, "weight"], ["projected"], name="project"),
            helper.make_node("Add", ["projected", "bias"], [output_name], name="offset"),
        ],
        f"{input_name}_to_{output_name}",
        [float_input(input_name, ["N", d_in])],
        [float_output(output_name, ["N", d_out])],
        initializer=[initializer("weight", W.T), initializer("bias", b)],
    )
    return make_model(graph, doc)
