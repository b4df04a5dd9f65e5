"""The built-in IMU feature encoder as an ONNX graph: raw windows ``[N, T, C]`` -> features.

The graph computes the features defined in :mod:`harbridge.models.imu_spec`, in float32,
equal to the numpy twin :func:`harbridge.models.imu_features.encode_imu` to 1e-5. Calibration
runs this same graph, so what the device computes is what calibration aligned.

Layout of the computation: triad norms are one MatMul over the squared channels; all signals
are then laid out as rows ``[N, S, T]`` and centred. One MatMul with a Hann-tapered DFT basis
gives every signal's spectral coefficients; squared and pooled by a second MatMul they give
all the log mean squares at once; normalised, their Gram matrix holds the correlations. At one
window a call, onnxruntime's cost follows the number of nodes more than their arithmetic, so
the graph is a few large kernels (23 nodes for six channels).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import helper

from harbridge.models.imu_bands import spectral_operator
from harbridge.models.imu_spec import (
    CORRELATION_FLOOR,
    ImuEncoderSpec,
    active_bands,
    correlation_pairs,
    feature_names,
    find_triads,
    signal_names,
)
from harbridge.models.onnx_graph import float_input, float_output, initializer, make_model

__all__ = ["INPUT_NAME", "OUTPUT_NAME", "build_imu_encoder"]

INPUT_NAME = "imu"
OUTPUT_NAME = "imu_features"


class _Graph:
    """Collects nodes and constants under stable, sequential names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[onnx.TensorProto] = []
        self._ints: dict[tuple[int, ...], str] = {}

    def const(self, label: str, array: npt.ArrayLike, dtype: type = np.float32) -> str:
        name = f"c{len(self.constants)}_{label}"
        self.constants.append(initializer(name, array, dtype))
        return name

    def ints(self, values: list[int]) -> str:
        key = tuple(values)
        if key not in self._ints:
            self._ints[key] = self.const("int64", values, np.int64)
        return self._ints[key]

    def rename(self, output: str, new: str) -> None:
        for node in self.nodes:
            node.output[:] = [new if name == output else name for name in node.output]

    def op(self, op_type: str, *inputs: str, out: str = "", **attrs: Any) -> str:
        label = f"n{len(self.nodes)}_{op_type.lower()}"
        output = out or label
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], label, **attrs))
        return output


def _signals(g: _Graph, spec: ImuEncoderSpec) -> tuple[str, int]:
    """Rows ``[N, S, T]`` of every signal: raw channels (when used), then triad norms.

    Returns the tensor name and the index of the first signal that gets per-signal features.
    """
    triads = find_triads(spec.channels) if spec.magnitude else ()
    need_raw = spec.axes or bool(correlation_pairs(spec))
    rows = g.op("Transpose", INPUT_NAME, perm=[0, 2, 1])
    parts = [rows] if need_raw else []
    if triads:
        select = np.zeros((len(triads), len(spec.channels)))
        for j, triad in enumerate(triads):
            select[j, list(triad.indices)] = 1.0
        squares = g.op("Mul", rows, rows)
        parts.append(g.op("Sqrt", g.op("MatMul", g.const("triad_select", select), squares)))
    stacked = g.op("Concat", *parts, axis=1) if len(parts) > 1 else parts[0]
    first = len(spec.channels) if need_raw and not spec.axes else 0
    return stacked, first


def _coefficients(
    g: _Graph, spec: ImuEncoderSpec, centred: str, n_rows: int
) -> tuple[str, npt.NDArray[np.float64]]:
    """``[N, S, K]`` spectral coefficients of the centred rows, and their pooling matrix.

    With correlations, S more columns carry ``√α`` on the row's own column: they add α to each
    row's squared norm and nothing to the cross-products (see
    :data:`~harbridge.models.imu_spec.CORRELATION_FLOOR`); the pooling ignores them.
    """
    basis, pooling = spectral_operator(spec.sample_rate_hz, spec.window, active_bands(spec))
    # The rows are centred with a float32 mean that is off by ~1e-7 of the sensor offset; the
    # Hann taper would spread that constant over bins 0 and 1 and swamp a quiet lowest band.
    # Basis columns with zero sum ((I - 11ᵀ/T) B) are blind to it, at no cost.
    basis = basis - basis.mean(axis=0)
    if not correlation_pairs(spec):
        coefficients = g.op("MatMul", centred, g.const("dft_basis", basis))
        return coefficients, pooling
    n_columns = basis.shape[1]
    regulariser = np.zeros((n_rows, n_columns + n_rows))
    regulariser[:, n_columns:] = np.sqrt(CORRELATION_FLOOR) * np.eye(n_rows)
    padded = np.pad(basis, ((0, 0), (0, n_rows)))
    coefficients = g.op(
        "Add",
        g.op("MatMul", centred, g.const("dft_basis", padded)),
        g.const("correlation_floor", regulariser),
    )
    return coefficients, np.pad(pooling, ((0, n_rows), (0, 0)))


def _spectral_stats(
    g: _Graph, spec: ImuEncoderSpec, coefficients: str, pooling: npt.NDArray[np.float64]
) -> str:
    """``[N, S, 2 + B]``: log mean squares over the bands, of the derivative, per band."""
    power = g.op("Mul", coefficients, coefficients)
    energy = g.op("MatMul", power, g.const("pooling", pooling))
    return g.op("Log", g.op("Add", energy, g.const("energy_floor", spec.energy_floor)))


def _correlations(g: _Graph, spec: ImuEncoderSpec, coefficients: str, n_rows: int) -> str:
    """``[N, P]``: correlations of the triad axis pairs, from the normalised rows' Gram."""
    unit = g.op("LpNormalization", coefficients, axis=2, p=2)
    gram = g.op("MatMul", unit, g.op("Transpose", unit, perm=[0, 2, 1]))
    flat = g.op("Reshape", gram, g.ints([0, n_rows * n_rows]))
    pairs = [a * n_rows + b for a, b in correlation_pairs(spec)]
    return g.op("Gather", flat, g.ints(pairs), axis=1)


def build_imu_encoder(spec: ImuEncoderSpec) -> onnx.ModelProto:
    """The encoder graph for a spec, built deterministically (same spec, same bytes).

    Parameters
    ----------
    spec : ImuEncoderSpec

    Returns
    -------
    onnx.ModelProto
        Input ``imu`` float32 ``[N, T, C]`` (raw samples in physical units, channels in
        ``spec.channels`` order), output ``imu_features`` float32 ``[N, F]`` with
        ``F = len(feature_names(spec))``; checked by :func:`onnx.checker.check_model`. The
        feature names and the spec are stored in the model's metadata.
    """
    g = _Graph()
    rows, first = _signals(g, spec)
    n_rows = first + len(signal_names(spec))
    mean = g.op("ReduceMean", rows, axes=[2])
    per_signal: list[str] = []
    if spec.time_stats and signal_names(spec):
        per_signal += [mean, g.op("ReduceMin", rows, axes=[2]), g.op("ReduceMax", rows, axes=[2])]
    blocks = []
    spectral = spec.band_energy and signal_names(spec)
    if spectral or correlation_pairs(spec):
        centred = g.op("Sub", rows, mean)
        coefficients, pooling = _coefficients(g, spec, centred, n_rows)
        if spectral:
            per_signal.append(_spectral_stats(g, spec, coefficients, pooling))
    if per_signal:
        stats = g.op("Concat", *per_signal, axis=2) if len(per_signal) > 1 else per_signal[0]
        if first:
            # Raw channels are rows only for their correlations: keep the triad norms' rows.
            end = np.iinfo(np.int64).max
            stats = g.op("Slice", stats, g.ints([first]), g.ints([end]), g.ints([1]))
        blocks.append(g.op("Flatten", stats, axis=1))
    if correlation_pairs(spec):
        blocks.append(_correlations(g, spec, coefficients, n_rows))
    if len(blocks) > 1:
        g.op("Concat", *blocks, axis=1, out=OUTPUT_NAME)
    else:
        g.rename(blocks[0], OUTPUT_NAME)
    n_features = len(feature_names(spec))
    graph = helper.make_graph(
        g.nodes,
        "harbridge_imu_encoder",
        [float_input(INPUT_NAME, ["N", spec.window, len(spec.channels)])],
        [float_output(OUTPUT_NAME, ["N", n_features])],
        g.constants,
    )
    model = make_model(graph, doc="harbridge built-in IMU feature encoder")
    helper.set_model_props(
        model,
        {
            "harbridge.imu_encoder.spec": json.dumps(asdict(spec), sort_keys=True),
            "harbridge.imu_encoder.feature_names": json.dumps(feature_names(spec)),
        },
    )
    return model
