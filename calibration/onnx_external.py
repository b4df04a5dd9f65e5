"""Find ONNX tensors whose data live in another file, reading the protobuf wire format.

An ONNX tensor may keep its values in an external file named by a relative path
(``data_location = EXTERNAL`` plus a ``location`` entry), which onnxruntime opens when it
loads the graph. onnxruntime 1.20, the version the Raspberry Pi installer pins, follows
such a path even out of the model's folder (``../../etc/…``); later releases refuse it.
harbridge's graphs keep every weight inline, so a bundle refuses any external tensor
(:func:`harbridge.calibration.bundle.load_manifest`), whichever onnxruntime is installed.

Standard library only: the device has no ``onnx`` package. The walk follows every
message that can hold a tensor: the model's graph and functions, a graph's nodes,
initializers and sparse initializers, a node's attributes (tensors and subgraphs of
``If``, ``Loop`` and ``Scan``), and sparse tensors.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["external_tensor"]

# Field numbers of onnx.proto3 that lead to a TensorProto, by message kind.
_LINKS: dict[str, dict[int, str]] = {
    "model": {7: "graph", 25: "function"},
    "graph": {1: "node", 5: "tensor", 15: "sparse_tensor"},
    "function": {7: "node"},
    "node": {5: "attribute"},
    "attribute": {
        5: "tensor",
        6: "graph",
        10: "tensor",
        11: "graph",
        22: "sparse_tensor",
        23: "sparse_tensor",
    },
    "sparse_tensor": {1: "tensor", 2: "tensor"},
}
_TENSOR_NAME = 8
_TENSOR_EXTERNAL_DATA = 13
_TENSOR_DATA_LOCATION = 14
_EXTERNAL = 1
# Subgraphs nest (an If inside a Loop…); a file nesting deeper than this is refused.
_MAX_DEPTH = 64


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(data: memoryview) -> Iterator[tuple[int, int | memoryview]]:
    """(field number, value) of one message: an int for varints, bytes for the rest."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | memoryview
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = data[pos : pos + size], pos + size
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        else:
            raise ValueError(f"wire type {wire} is not used by ONNX")
        if pos > len(data):
            raise ValueError("truncated field")
        yield number, value


def _walk(data: memoryview, kind: str, depth: int) -> str | None:
    if depth > _MAX_DEPTH:
        raise ValueError(f"graphs nested more than {_MAX_DEPTH} deep")
    if kind == "tensor":
        name, external = "", False
        for number, value in _fields(data):
            if number == _TENSOR_NAME and isinstance(value, memoryview):
                name = bytes(value).decode("utf-8", "replace")
            external |= number == _TENSOR_EXTERNAL_DATA or (
                number == _TENSOR_DATA_LOCATION and value == _EXTERNAL
            )
        return name if external else None
    links = _LINKS[kind]
    for number, value in _fields(data):
        if number in links and isinstance(value, memoryview):
            found = _walk(value, links[number], depth + 1)
            if found is not None:
                return found
    return None


def external_tensor(model: bytes) -> str | None:
    """The name of the first tensor of a serialised ONNX model kept in an external file.

    Parameters
    ----------
    model : bytes
        A serialised ``ModelProto`` (the content of a ``.onnx`` file).

    Returns
    -------
    str or None
        The tensor's name (possibly empty), or None when every tensor is inline.

    Raises
    ------
    ValueError
        The bytes are not a well-formed protobuf message.
    """
    return _walk(memoryview(model), "model", 0)
