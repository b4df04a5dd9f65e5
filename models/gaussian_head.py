"""The Gaussian class head: latent → class posteriors and an out-of-distribution score.

All classes' whitening matrices are concatenated into one MatMul, so the head costs one
(k × K·k) product per window whatever the number of classes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import onnx
from onnx import helper

from harbridge.calibration.gaussian import GaussianParameters
from harbridge.models.onnx_graph import float_input, float_output, initializer, make_model

__all__ = ["build_gaussian_head", "gaussian_head", "read_gaussian_head"]


def _stacked(
    parameters: GaussianParameters,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """(k, K·k) whitening weights and (K·k,) offsets, in float32 as exported."""
    n_classes, k, _ = parameters.whiten.shape
    weights = np.concatenate([W.T for W in parameters.whiten], axis=1)
    offsets = np.einsum("cij,cj->ci", parameters.whiten, parameters.means).reshape(n_classes * k)
    return weights.astype(np.float32), offsets.astype(np.float32)


def gaussian_head(
    latent: npt.ArrayLike, parameters: GaussianParameters
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Numpy twin of :func:`build_gaussian_head`.

    Parameters
    ----------
    latent : array-like of shape (n, k)
    parameters : GaussianParameters

    Returns
    -------
    probs : ndarray of shape (n, K)
    ood : ndarray of shape (n,)
        Mahalanobis distance to the nearest class.
    """
    n_classes, k, _ = parameters.whiten.shape
    weights, offsets = _stacked(parameters)
    whitened = np.asarray(latent, dtype=np.float32) @ weights - offsets
    squared = np.sum((whitened * whitened).reshape(-1, n_classes, k), axis=2)
    logits = squared * np.float32(-0.5) + parameters.log_norm.astype(np.float32)
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return probs, np.sqrt(squared.min(axis=1))


def build_gaussian_head(parameters: GaussianParameters, with_probs: bool = True) -> onnx.ModelProto:
    """Graph ``latent`` [N, k] → ``probs`` [N, K], ``ood`` [N] (see :func:`gaussian_head`).

    With ``with_probs=False`` the graph has only the ``ood`` output: the OOD score beside a
    user's own video head.
    """
    n_classes, k, _ = parameters.whiten.shape
    weights, offsets = _stacked(parameters)
    nodes = [
        helper.make_node(
            "Gemm", ["latent", "whiten", "whiten_offset"], ["whitened"], name="whiten"
        ),
        helper.make_node(
            "Reshape", ["whitened", "per_class_shape"], ["whitened_by_class"], name="split"
        ),
        helper.make_node(
            "ReduceSumSquare",
            ["whitened_by_class"],
            ["mahalanobis2"],
            name="distance",
            axes=[2],
            keepdims=0,
        ),
        helper.make_node("Mul", ["mahalanobis2", "minus_half"], ["half_distance"], name="halve"),
        helper.make_node("Add", ["half_distance", "log_norm"], ["logits"], name="log_likelihood"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="posterior", axis=-1),
        helper.make_node(
            "ReduceMin", ["mahalanobis2"], ["nearest2"], name="nearest", axes=[1], keepdims=0
        ),
        helper.make_node("Sqrt", ["nearest2"], ["ood"], name="ood_distance"),
    ]
    outputs = [float_output("ood", ["N"])]
    if with_probs:
        outputs.insert(0, float_output("probs", ["N", n_classes]))
    else:
        nodes = [n for n in nodes if n.name not in ("halve", "log_likelihood", "posterior")]
    graph = helper.make_graph(
        nodes,
        "gaussian_head",
        [float_input("latent", ["N", k])],
        outputs,
        initializer=[
            initializer("whiten", weights),
            initializer("whiten_offset", -offsets),
            initializer("per_class_shape", [-1, n_classes, k], dtype=np.int64),
            *(
                [initializer("minus_half", -0.5), initializer("log_norm", parameters.log_norm)]
                if with_probs
                else []
            ),
        ],
    )
    return make_model(graph, "Gaussian class head: latent -> class posteriors and OOD distance")


def read_gaussian_head(model: onnx.ModelProto) -> GaussianParameters:
    """The parameters a head built by :func:`build_gaussian_head` holds (float32-rounded)."""
    from onnx import numpy_helper

    weights = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    n_classes, k = (int(d) for d in weights["per_class_shape"][1:])
    whiten = weights["whiten"].T.reshape(n_classes, k, k)
    offsets = -weights["whiten_offset"].reshape(n_classes, k)
    means = np.asarray(np.linalg.solve(whiten, offsets[..., None])[..., 0], dtype=np.float64)
    return GaussianParameters(whiten, means, weights["log_norm"])
