"""Where the IMU features of calibration come from: the file itself, or an encoder graph.

When PAIRS hold raw windows, calibration computes their features by running the very
ONNX encoder graph that goes into the bundle, through onnxruntime: what the device
computes is by construction what calibration aligned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx

from harbridge.calibration.dataset import ImuWindows, Pairs
from harbridge.errors import InputError

__all__ = [
    "ImuFeatureSource",
    "WindowEncoder",
    "feature_source",
    "run_graph",
    "run_graph_outputs",
]

Float32Array = npt.NDArray[np.float32]

#: windows per onnxruntime call when encoding a dataset
ENCODE_BATCH = 4096


@dataclass(frozen=True)
class ImuFeatureSource:
    """The IMU side of a bundle: ready features, or raw windows through ``model``.

    Attributes
    ----------
    model : onnx.ModelProto or None
        Encoder graph ``imu`` [N, T, C] → ``imu_features`` [N, F]; None when the data
        already hold features.
    output_name : str
        Name of the feature tensor that the alignment graphs consume.
    entry : dict
        The manifest's ``imu`` section (without ``hop``).
    """

    model: onnx.ModelProto | None
    output_name: str = "imu_features"
    entry: dict[str, Any] = field(default_factory=dict)

    def manifest_entry(self, hop: int | None) -> dict[str, Any]:
        """The manifest's ``imu`` section; raw windows get a hop (default half a window)."""
        if self.model is None:
            return dict(self.entry)
        window = int(self.entry["window"])
        return {**self.entry, "hop": hop if hop is not None else max(window // 2, 1)}

    def window_encoder(self, path: str | Path) -> WindowEncoder | None:
        """What turns raw windows from ``path`` into features as they stream (None if features)."""
        if self.model is None:
            return None
        return WindowEncoder(
            self.model.SerializeToString(), int(self.entry["feature_dim"]), str(path)
        )


@dataclass(frozen=True)
class WindowEncoder:
    """Raw IMU windows → features through the encoder graph, a chunk at a time.

    Holds the serialised graph, cheap to ship to cluster workers; each stream opens its
    own onnxruntime session.

    Attributes
    ----------
    model : bytes
        Serialised encoder graph ``imu`` [N, T, C] → features [N, F].
    feature_dim : int
        F.
    path : str
        Where the windows come from, for messages.
    """

    model: bytes
    feature_dim: int
    path: str

    def open(self) -> Callable[[Float32Array, int], Float32Array]:
        """A function ``(windows (b, T, C), first_row) -> features (b, F)`` for one stream.

        It raises :class:`InputError` naming the first window whose features are not finite.
        """
        import onnxruntime as ort

        session = ort.InferenceSession(self.model, providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name

        def encode(windows: Float32Array, first_row: int) -> Float32Array:
            windows = np.ascontiguousarray(windows, dtype=np.float32)
            features = np.concatenate(
                [
                    session.run(None, {input_name: windows[start : start + ENCODE_BATCH]})[0]
                    for start in range(0, windows.shape[0], ENCODE_BATCH)
                ]
            ).astype(np.float32, copy=False)
            finite = np.isfinite(features).all(axis=1)
            if not finite.all():
                row = first_row + int(np.argmin(finite))
                raise InputError(
                    self.path,
                    "imu",
                    "the encoder produced NaN or infinite features for some windows (first at "
                    f"row {row}); check the raw data.",
                )
            return features

        return encode


def feature_source(pairs: Pairs, encoder: str) -> ImuFeatureSource:
    """Pick the feature source for ``pairs``: ``encoder`` is ``"builtin"`` or a path to ONNX."""
    if pairs.imu is None:
        assert pairs.imu_features is not None
        if encoder != "builtin":
            raise InputError(
                pairs.path,
                "imu_features",
                "the pairs already hold IMU features; --encoder applies to raw 'imu' windows only.",
            )
        return ImuFeatureSource(
            None, entry={"input": "imu_features", "feature_dim": int(pairs.imu_features.shape[1])}
        )
    imu = pairs.imu
    if encoder == "builtin":
        from harbridge.models.imu_encoder import build_imu_encoder
        from harbridge.models.imu_spec import ImuEncoderSpec

        try:
            spec = ImuEncoderSpec(
                sample_rate_hz=imu.sample_rate_hz,
                window=imu.windows.shape[1],
                channels=imu.channels,
            )
        except ValueError as exc:
            raise InputError(pairs.path, "imu", str(exc)) from exc
        model = build_imu_encoder(spec)
        name = "builtin"
    else:
        model = _custom_encoder(Path(encoder), imu)
        name = Path(encoder).name
    n_features = int(run_graph(model, imu.windows[:1]).shape[1])
    return ImuFeatureSource(
        model,
        entry={
            "input": "imu",
            "sample_rate_hz": imu.sample_rate_hz,
            "window": int(imu.windows.shape[1]),
            "channels": list(imu.channels),
            "units": list(imu.units),
            "encoder": name,
            "feature_dim": n_features,
        },
    )


def _custom_encoder(path: Path, imu: ImuWindows) -> onnx.ModelProto:
    from harbridge.models.custom_encoder import load_custom_encoder

    return load_custom_encoder(path, imu.windows.shape[1], imu.windows.shape[2])


def run_graph_outputs(
    model: onnx.ModelProto | Path, inputs: Float32Array, outputs: Sequence[str] | None = None
) -> list[Float32Array]:
    """Run a one-input graph (a model or an .onnx path) on ``inputs`` in batches.

    Returns the named outputs (all when ``outputs`` is None), concatenated over batches.
    """
    import onnxruntime as ort

    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    names = list(outputs) if outputs is not None else [o.name for o in session.get_outputs()]
    batches = [
        session.run(names, {input_name: inputs[start : start + ENCODE_BATCH]})
        for start in range(0, inputs.shape[0], ENCODE_BATCH)
    ]
    return [np.concatenate([b[i] for b in batches]).astype(np.float32) for i in range(len(names))]


def run_graph(model: onnx.ModelProto, windows: Float32Array) -> Float32Array:
    """The first output of a one-input graph on ``windows``, as float32."""
    return run_graph_outputs(model, windows)[0]
