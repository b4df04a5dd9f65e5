"""Common settings and helpers for every ONNX graph harbridge builds.

Graphs are built deterministically: the same weights give the same bytes (no timestamps,
no random names), so two calibrations on the same data export identical files.

Opset 17 and IR version 8 are what every onnxruntime from 1.14 on accepts, which covers
the versions we support on a Raspberry Pi 4 (see ``pyproject.toml``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = [
    "IR_VERSION",
    "OPSET",
    "PRODUCER",
    "float_input",
    "float_output",
    "initializer",
    "make_model",
]

OPSET = 17
IR_VERSION = 8
PRODUCER = "harbridge"

#: A dimension is an int (fixed) or a str (symbolic, e.g. ``"N"`` for the batch).
Dim = int | str


def float_input(name: str, shape: Sequence[Dim]) -> onnx.ValueInfoProto:
    """A float32 graph input of the given shape (strings are symbolic dimensions)."""
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def float_output(name: str, shape: Sequence[Dim]) -> onnx.ValueInfoProto:
    """A float32 graph output of the given shape (strings are symbolic dimensions)."""
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def initializer(name: str, array: npt.ArrayLike, dtype: type = np.float32) -> onnx.TensorProto:
    """A constant tensor, cast to ``dtype`` (float32 unless said otherwise)."""
    return numpy_helper.from_array(np.ascontiguousarray(np.asarray(array, dtype=dtype)), name)


def make_model(graph: onnx.GraphProto, doc: str = "") -> onnx.ModelProto:
    """Wrap a graph into a checked model with harbridge's opset, IR version and producer.

    Parameters
    ----------
    graph : onnx.GraphProto
        The graph; its nodes should carry stable names.
    doc : str
        A one-line description stored as the model's ``doc_string``.

    Returns
    -------
    onnx.ModelProto
        The model, already passed through :func:`onnx.checker.check_model`.
    """
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER,
        doc_string=doc,
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model
