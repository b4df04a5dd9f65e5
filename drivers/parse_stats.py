"""What every framing parser shares: the bounds it enforces and the counters of what it dropped.

Framing parsers never raise on bad device data. They drop what they cannot use, count it
by kind in a :class:`ParseStats`, resynchronise and go on; the daemon publishes the counts
as metrics. The kinds are stable snake_case strings, listed with their meaning in
:data:`KINDS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

from harbridge.drivers.samples import SampleBatch

__all__ = [
    "DEFAULT_LIMITS",
    "INFORMATIONAL_KINDS",
    "KINDS",
    "FramingLimits",
    "ParseStats",
    "check_channels",
    "finite_batch",
]

#: Every kind a parser counts, and what one count of it means.
KINDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "bad_utf8": "a line or payload that is not valid UTF-8, dropped",
        "line_too_long": "a line longer than max_line_bytes, dropped up to the next newline",
        "bad_number": "a sample with a value that is not a number (text, JSON true/null/list/"
        "object), dropped",
        "too_few_columns": "a CSV line with fewer fields than its header, dropped",
        "too_many_columns": "a CSV line with more fields than its header (often two lines "
        "run together), dropped",
        "non_finite": "a sample with NaN or ±inf in t or a channel (JSON NaN/Infinity "
        "literals, exponents beyond float range), dropped",
        "no_header": "a CSV data line with no usable header before it, dropped",
        "header": "a CSV header line; a repeated one (device restart) re-maps the columns",
        "missing_channel": "a CSV header, JSON line or MQTT payload without an expected "
        "channel; its data are dropped",
        "duplicate_column": "a CSV header naming t or an expected channel twice; its data "
        "are dropped",
        "bad_json": "a line or payload that is not one JSON object",
        "bad_checksum": "a WitMotion packet whose checksum does not match, skipped",
        "resync_bytes": "bytes skipped while looking for the next WitMotion packet (a byte "
        "count, not an event count)",
        "unpaired": "a WitMotion acceleration packet not followed by an angular-rate "
        "packet, or an angular-rate packet not preceded by one, dropped",
        "payload_too_large": "an MQTT payload longer than max_payload_bytes, dropped",
        "too_many_samples": "an MQTT payload with more than max_samples samples, dropped",
        "unequal_lengths": "an MQTT payload whose columns differ in length, dropped",
    }
)

#: Kinds that do not count dropped-data events: ``header`` is normal traffic and
#: ``resync_bytes`` counts bytes.
INFORMATIONAL_KINDS: Final = frozenset({"header", "resync_bytes"})

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FramingLimits:
    """Bounds on hostile input, one set for every parser of a source.

    Attributes
    ----------
    max_line_bytes : int
        Longest CSV or JSON line accepted, newline excluded. A longer line is dropped and
        counted once, and the parser resynchronises at the next newline without
        buffering it.
    max_payload_bytes : int
        Largest MQTT payload accepted.
    max_samples : int
        Most samples accepted in one MQTT payload.
    """

    max_line_bytes: int = 4096
    max_payload_bytes: int = 256 * 1024
    max_samples: int = 10_000

    def __post_init__(self) -> None:
        for name in ("max_line_bytes", "max_payload_bytes", "max_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


DEFAULT_LIMITS: Final = FramingLimits()


@dataclass(slots=True)
class ParseStats:
    """Counts of dropped or notable input, by kind (see :data:`KINDS`).

    Attributes
    ----------
    counts : dict of str to int
        Count per kind; a kind never seen is absent.
    """

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, n: int = 1) -> None:
        """Count ``n`` more of ``kind``; an unknown kind is a bug and raises ValueError."""
        if kind not in KINDS:
            raise ValueError(f"unknown parse error kind {kind!r}; known kinds: {sorted(KINDS)}")
        self.counts[kind] = self.counts.get(kind, 0) + n

    @property
    def total(self) -> int:
        """Number of events in which input was dropped (every kind but the informational)."""
        return sum(n for kind, n in self.counts.items() if kind not in INFORMATIONAL_KINDS)


def check_channels(channels: Sequence[str]) -> tuple[str, ...]:
    """Validate the channel names a parser is to emit (the bundle's, e.g. ``ax``).

    Raises
    ------
    ValueError
        If there are none, one repeats, or one is ``t`` (reserved for the time column).
    """
    names = tuple(channels)
    if not names:
        raise ValueError("at least one channel name is needed, e.g. ('ax', 'ay', 'az')")
    if len(set(names)) != len(names):
        raise ValueError(f"channel names repeat: {names}")
    if "t" in names:
        raise ValueError("'t' is the time column and cannot be a channel name")
    return names


def finite_batch(
    device: str,
    channels: tuple[str, ...],
    columns: FloatArray,
    has_t: bool,
    stats: ParseStats | None,
) -> SampleBatch:
    """Build a batch from named columns, dropping every sample with a NaN or ±inf in it.

    Parameters
    ----------
    device : str
        Device id of the batch.
    channels : tuple of str, length c
        Names of the channel columns.
    columns : ndarray of shape (c, n) or (c + 1, n) float64
        ``t`` first when ``has_t``, then one row per channel.
    has_t : bool
        Whether the first row is the time column.
    stats : ParseStats or None
        Where dropped samples are counted as ``non_finite``.

    Returns
    -------
    SampleBatch
        The finite samples, possibly none.
    """
    # A sum is finite only if every term is (an overflow, silenced, merely takes the long
    # way), so the common batch costs one reduction instead of a mask per element.
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(columns.sum())
    finite = None if math.isfinite(total) else np.isfinite(columns).all(axis=0)
    if finite is None or finite.all():
        # Row views of a transposed array are strided; consumers slice them per channel.
        columns = np.ascontiguousarray(columns)
    else:
        if stats is not None:
            stats.add("non_finite", columns.shape[1] - int(np.count_nonzero(finite)))
        columns = columns[:, finite]
    t = columns[0] if has_t else None
    values = columns[1:] if has_t else columns
    return SampleBatch(device, t, dict(zip(channels, values, strict=True)))
