"""ONNX graphs the transfer benchmark hands to ``harbridge calibrate``.

:func:`softmax_video_head` stands in for a user's existing video head (``--video-head``);
:func:`ablated_encoder` is the built-in IMU encoder with feature groups switched off
(``--encoder``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import onnx
from onnx import helper

from harbridge.calibration.dataset import Pairs
from harbridge.errors import InputError
from harbridge.models.imu_spec import ImuEncoderSpec
from harbridge.models.onnx_graph import float_input, float_output, initializer, make_model

__all__ = ["ablated_encoder", "softmax_video_head"]


def softmax_video_head(
    video: npt.ArrayLike, labels: npt.ArrayLike, n_classes: int
) -> onnx.ModelProto:
    """A softmax-regression classifier of video features as a standard-ops ONNX graph.

    Multinomial logistic regression (scikit-learn) on standardised features, with the
    standardisation folded into the weights: ``video_features`` [N, d] → MatMul, Add,
    Softmax → ``probs`` [N, K]. It stands in for a user's existing video head.
    """
    from sklearn.linear_model import LogisticRegression

    X = np.asarray(video, dtype=np.float64)
    mean, std = X.mean(axis=0), X.std(axis=0)
    scale = np.divide(1.0, std, out=np.zeros_like(std), where=std > 0)
    model = LogisticRegression(max_iter=2000).fit((X - mean) * scale, np.asarray(labels))
    weights = model.coef_.T * scale[:, None]
    bias = model.intercept_ - mean @ weights
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["video_features", "weights"], ["scores"], name="matmul"),
            helper.make_node("Add", ["scores", "bias"], ["logits"], name="add"),
            helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
        ],
        "video_head",
        [float_input("video_features", ["N", X.shape[1]])],
        [float_output("probs", ["N", n_classes])],
        initializer=[initializer("weights", weights), initializer("bias", bias)],
    )
    return make_model(graph, "softmax regression over video features (benchmark video head)")


def ablated_encoder(pairs: Pairs, off: Sequence[str]) -> onnx.ModelProto:
    """The built-in encoder graph for ``pairs`` with the feature groups in ``off`` switched off.

    Raises
    ------
    InputError
        When the pairs hold features, not raw IMU windows.
    """
    from harbridge.models.imu_encoder import build_imu_encoder

    if pairs.imu is None:
        raise InputError(
            pairs.path, "imu", "the encoder ablation needs raw IMU windows, not features."
        )
    return build_imu_encoder(
        ImuEncoderSpec(
            sample_rate_hz=pairs.imu.sample_rate_hz,
            window=pairs.imu.windows.shape[1],
            channels=pairs.imu.channels,
            axes="axes" not in off,
            magnitude="magnitude" not in off,
            time_stats="time_stats" not in off,
            band_energy="band_energy" not in off,
            correlation="correlation" not in off,
        )
    )
