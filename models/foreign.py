"""Bringing a user's own ONNX graph (a video head, an IMU encoder) into harbridge's graphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
from onnx import version_converter

from harbridge.errors import InputError
from harbridge.models.onnx_graph import OPSET, make_model

__all__ = ["load_foreign_model", "probe", "rename_io"]


def load_foreign_model(path: Path) -> onnx.ModelProto:
    """Load a user's graph: valid ONNX, standard operators, one input, opset ``OPSET``.

    Raises
    ------
    InputError
        Unreadable or invalid file, custom operator domains, several inputs, or an opset
        that cannot be converted.
    """
    if not path.is_file():
        raise InputError(path, "file", "no such file; check the path.")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises several unrelated types for a bad file
        raise InputError(path, "file", f"is not a valid ONNX model ({exc}).") from exc
    domains = {op.domain for op in model.opset_import} - {"", "ai.onnx"}
    if domains:
        raise InputError(
            path,
            "opset_import",
            f"uses operator domains {sorted(domains)}; export it with standard ONNX operators "
            "only.",
        )
    if len(model.graph.input) != 1 or not model.graph.output:
        raise InputError(
            path,
            "graph.input",
            "the graph must take exactly one input and give at least one output.",
        )
    version = next(op.version for op in model.opset_import if op.domain in ("", "ai.onnx"))
    if version != OPSET:
        try:
            model = version_converter.convert_version(model, OPSET)
        except Exception as exc:  # the converter raises bare RuntimeErrors
            raise InputError(
                path,
                "opset_import",
                f"opset {version} cannot be converted to {OPSET} ({exc}); export it with "
                f"opset {OPSET}.",
            ) from exc
    return model


def probe(
    model: onnx.ModelProto, path: Path, sample: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Run the model's first output on ``sample``; a failure is the user's input error."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        return np.asarray(
            session.run([model.graph.output[0].name], {model.graph.input[0].name: sample})[0]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors on shape mismatches
        raise InputError(
            path, "graph.input", f"does not accept input of shape {list(sample.shape)} ({exc})."
        ) from exc


def rename_io(
    model: onnx.ModelProto, input_name: str, output_name: str, doc: str
) -> onnx.ModelProto:
    """The model with its input renamed ``input_name`` and only its first output, renamed "
    "``output_name``."""
    graph = model.graph
    names = {graph.input[0].name: input_name, graph.output[0].name: output_name}
    nodes = []
    for node in graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.input[:] = [names.get(t, t) for t in node.input]
        copy.output[:] = [names.get(t, t) for t in node.output]
        nodes.append(copy)
    renamed_input = onnx.ValueInfoProto()
    renamed_input.CopyFrom(graph.input[0])
    renamed_input.name = input_name
    renamed_output = onnx.ValueInfoProto()
    renamed_output.CopyFrom(graph.output[0])
    renamed_output.name = output_name
    renamed = onnx.helper.make_graph(
        nodes,
        graph.name or "foreign",
        [renamed_input],
        [renamed_output],
        initializer=list(graph.initializer),
    )
    return make_model(renamed, doc)
