"""JSON-lines framing: one JSON object per line, one sample per object.

A line looks like ``{"t": 1.02, "ax": 0.1, "ay": -9.8, ...}``: channels are matched by
name, other keys are ignored, ``t`` (seconds) is optional. Values must be JSON numbers:
``true``, ``null``, strings, lists and objects are ``bad_number``. Python's json module
accepts the ``NaN`` and ``Infinity`` literals and turns exponents beyond float range into
infinity; such samples are dropped as ``non_finite``. Error kinds are those of
:data:`harbridge.drivers.parse_stats.KINDS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np

from harbridge.drivers.line_splitter import LineSplitter
from harbridge.drivers.parse_stats import (
    DEFAULT_LIMITS,
    FramingLimits,
    ParseStats,
    check_channels,
    finite_batch,
)
from harbridge.drivers.samples import SampleBatch

__all__ = ["JsonLineParser", "decode_json"]

#: ``json.loads`` in which every number is a float: integers too, so that a 5,000-digit
#: integer becomes inf instead of tripping Python's int-conversion limit, and booleans
#: stay the only non-float scalars besides strings and null.
decode_json: Final[Callable[[str], Any]] = json.JSONDecoder(
    parse_int=float, parse_constant=float
).decode


class JsonLineParser:
    """Incremental parser of a JSON-lines byte stream into named sample batches.

    Parameters
    ----------
    device : str
        Device id put on every batch.
    channels : sequence of str
        Channel names to emit, as the bundle names them.
    limits : FramingLimits, optional
        Bounds on hostile input (``max_line_bytes`` applies).

    Attributes
    ----------
    stats : ParseStats
        Counts of dropped input by kind.
    """

    def __init__(
        self, device: str, channels: Sequence[str], limits: FramingLimits = DEFAULT_LIMITS
    ) -> None:
        self.device = device
        self.channels = check_channels(channels)
        self.limits = limits
        self.stats = ParseStats()
        self._lines = LineSplitter(limits.max_line_bytes, self.stats)
        self._keys_with_t = ("t", *self.channels)

    def feed(self, data: bytes) -> list[SampleBatch]:
        """Parse the next bytes of the stream.

        Returns
        -------
        list of SampleBatch
            The samples of the lines ``data`` completes, one batch per run of lines that
            all have, or all lack, ``t``; empty when none.
        """
        batches: list[SampleBatch] = []
        rows: list[list[Any]] = []
        rows_have_t = False
        for line in self._lines.feed(data):
            try:
                sample = decode_json(line)
            except (ValueError, RecursionError):
                self.stats.add("bad_json")
                continue
            if type(sample) is not dict:
                self.stats.add("bad_json")
                continue
            has_t = "t" in sample
            try:
                row = [sample[key] for key in (self._keys_with_t if has_t else self.channels)]
            except KeyError:
                self.stats.add("missing_channel")
                continue
            if not all(type(value) is float for value in row):
                self.stats.add("bad_number")
                continue
            if has_t != rows_have_t:
                self._flush(rows, rows_have_t, batches)
                rows = []
                rows_have_t = has_t
            rows.append(row)
        self._flush(rows, rows_have_t, batches)
        return batches

    def _flush(self, rows: list[list[Any]], has_t: bool, batches: list[SampleBatch]) -> None:
        if not rows:
            return
        columns = np.array(rows, dtype=np.float64).T
        batch = finite_batch(self.device, self.channels, columns, has_t, self.stats)
        if len(batch):
            batches.append(batch)
