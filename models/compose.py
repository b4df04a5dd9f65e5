"""Fuse part graphs into one graph by their shared tensor names.

Parts are connected where an output name of one equals an input name of a later one
(``imu`` → ``imu_features`` → ``latent`` → ``probs``). Every other name inside a part is
prefixed with the part's name, so parts can reuse names like ``weight`` freely.
"""

from __future__ import annotations

from collections.abc import Sequence

import onnx
from onnx import helper

from harbridge.models.onnx_graph import make_model

__all__ = ["compose"]


def compose(
    parts: Sequence[tuple[str, onnx.ModelProto]], outputs: Sequence[str], name: str, doc: str
) -> onnx.ModelProto:
    """Chain ``parts`` (name, model) into one model whose outputs are ``outputs``.

    The inputs of the fused graph are the part inputs that no earlier part produces.
    """
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    produced: dict[str, onnx.ValueInfoProto] = {}
    graph_inputs: list[onnx.ValueInfoProto] = []
    for part_name, model in parts:
        graph = model.graph
        interface = {v.name for v in graph.input} | {v.name for v in graph.output}

        def rename(tensor: str, prefix: str = part_name, keep: set[str] = interface) -> str:
            return tensor if tensor in keep or tensor == "" else f"{prefix}/{tensor}"

        for value in graph.input:
            if value.name not in produced and all(v.name != value.name for v in graph_inputs):
                graph_inputs.append(value)
        for tensor in graph.initializer:
            renamed = onnx.TensorProto()
            renamed.CopyFrom(tensor)
            renamed.name = rename(tensor.name)
            initializers.append(renamed)
        for node in graph.node:
            copy = onnx.NodeProto()
            copy.CopyFrom(node)
            copy.name = f"{part_name}/{node.name}"
            copy.input[:] = [rename(t) for t in node.input]
            copy.output[:] = [rename(t) for t in node.output]
            nodes.append(copy)
        for value in graph.output:
            produced[value.name] = value
    missing = [o for o in outputs if o not in produced]
    if missing:
        raise ValueError(f"no part produces the outputs {missing}")
    graph = helper.make_graph(
        nodes, name, graph_inputs, [produced[o] for o in outputs], initializer=initializers
    )
    return make_model(graph, doc)
