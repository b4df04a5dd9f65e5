"""MQTT IMU payload framing: one JSON object per message, column-oriented and named.

A payload looks like ``{"t": [0.00, 0.01], "ax": [0.1, 0.2], "ay": [...], ...}``; a
number instead of a list is a single sample. Channels are matched by name, other keys
are ignored, ``t`` (seconds) is optional. A payload that cannot be read as a whole raises
:class:`PayloadError`, whose ``kind`` the transport counts in its
:class:`~harbridge.drivers.parse_stats.ParseStats`; samples with NaN or ±inf are dropped
one by one and counted as ``non_finite``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harbridge.drivers.json_lines import decode_json
from harbridge.drivers.parse_stats import (
    DEFAULT_LIMITS,
    FramingLimits,
    ParseStats,
    check_channels,
    finite_batch,
)
from harbridge.drivers.samples import SampleBatch
from harbridge.errors import HarbridgeError

__all__ = ["PayloadError", "parse_mqtt_payload"]


class PayloadError(HarbridgeError):
    """An MQTT payload that cannot be read, and why.

    Parameters
    ----------
    kind : str
        Error kind, one of :data:`~harbridge.drivers.parse_stats.KINDS`: ``bad_utf8``,
        ``bad_json``, ``bad_number``, ``missing_channel``, ``payload_too_large``,
        ``too_many_samples`` or ``unequal_lengths``.
    detail : str
        What was wrong, for a log line.
    """

    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind}: {detail}")


def parse_mqtt_payload(
    payload: bytes,
    device: str,
    channels: Sequence[str],
    limits: FramingLimits = DEFAULT_LIMITS,
    stats: ParseStats | None = None,
) -> SampleBatch:
    """Read one MQTT IMU payload into a batch.

    Parameters
    ----------
    payload : bytes
        The message body.
    device : str
        Device id put on the batch (the ``+`` segment of the topic).
    channels : sequence of str
        Channel names to read, as the bundle names them.
    limits : FramingLimits, optional
        ``max_payload_bytes`` and ``max_samples`` apply.
    stats : ParseStats, optional
        Where samples dropped as ``non_finite`` are counted.

    Returns
    -------
    SampleBatch
        The finite samples; empty when the columns are empty or every sample had a NaN
        or ±inf (transports skip empty batches).

    Raises
    ------
    PayloadError
        For a payload that is too large, not UTF-8, not a JSON object, lacks a channel,
        has non-numbers, too many samples or columns of unequal length.
    """
    names = check_channels(channels)
    if len(payload) > limits.max_payload_bytes:
        raise PayloadError(
            "payload_too_large", f"{len(payload)} bytes, the limit is {limits.max_payload_bytes}"
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("bad_utf8", f"not UTF-8 at byte {exc.start}") from exc
    try:
        message = decode_json(text)
    except (ValueError, RecursionError) as exc:
        raise PayloadError("bad_json", f"not JSON: {exc}") from exc
    if type(message) is not dict:
        raise PayloadError("bad_json", "expected an object of named columns, e.g. {'ax': [..]}")
    has_t = "t" in message
    columns: list[list[float]] = []
    for name in ("t", *names) if has_t else names:
        if name not in message:
            raise PayloadError("missing_channel", f"no {name!r} column")
        column = message[name]
        if type(column) is float:
            column = [column]
        elif type(column) is not list:
            raise PayloadError("bad_number", f"{name!r} is neither a number nor a list")
        if len(column) > limits.max_samples:
            raise PayloadError(
                "too_many_samples", f"{len(column)} samples, the limit is {limits.max_samples}"
            )
        if columns and len(column) != len(columns[0]):
            raise PayloadError(
                "unequal_lengths", f"{name!r} has {len(column)} values, not {len(columns[0])}"
            )
        if not all(type(value) is float for value in column):
            raise PayloadError("bad_number", f"{name!r} holds a value that is not a number")
        columns.append(column)
    values = np.array(columns, dtype=np.float64)
    return finite_batch(device, names, values, has_t, stats)
