"""Serial CSV framing: a header line names the columns, then one sample per line.

A header is a line whose fields are all names (Python identifiers other than ``nan``,
``inf`` and ``infinity``), e.g. ``t,ax,ay,az,gx,gy,gz``. Channels are matched to the
bundle by name, never by position; other columns are ignored and need not be numbers.
Without a ``t`` column the batches carry ``t=None`` and the transport timestamps the
samples on arrival. A device that restarts sends its header again: any header line
re-maps the columns (counted as ``header``). A header that lacks an expected channel
(``missing_channel``) or repeats a used one (``duplicate_column``) is not usable: the
data lines under it are dropped as ``no_header`` until a good header arrives. A data
line must have exactly as many fields as its header, because a lost newline runs two
lines together. Error kinds are those of :data:`harbridge.drivers.parse_stats.KINDS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

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

__all__ = ["CsvLineParser", "column_picks", "is_header"]

# Identifiers that float() reads as numbers, so a line of them is data, not a header.
_FLOAT_WORDS: Final = frozenset({"nan", "inf", "infinity"})


def is_header(fields: Sequence[str]) -> bool:
    """Whether a split CSV line is a header: every field is a column name."""
    for field in fields:
        name = field.strip()
        if not name.isidentifier() or name.lower() in _FLOAT_WORDS:
            return False
    return True


def column_picks(header: Sequence[str], channels: tuple[str, ...]) -> tuple[int, ...] | str:
    """Indices of the fields to read under ``header``: ``t`` first if present, then channels.

    Parameters
    ----------
    header : sequence of str
        Column names of the header line.
    channels : tuple of str
        Expected channel names, in output order.

    Returns
    -------
    tuple of int or str
        Field indices, one more than ``len(channels)`` when the header has ``t``; or the
        error kind (``missing_channel``, ``duplicate_column``) that makes it unusable.
    """
    names = [field.strip() for field in header]
    wanted = ("t", *channels) if "t" in names else channels
    picks = []
    for name in wanted:
        if name not in names:
            return "missing_channel"
        if names.count(name) > 1:
            return "duplicate_column"
        picks.append(names.index(name))
    return tuple(picks)


class CsvLineParser:
    """Incremental parser of a CSV byte stream into named sample batches.

    Parameters
    ----------
    device : str
        Device id put on every batch.
    channels : sequence of str
        Channel names to emit, as the bundle names them (e.g. ``ax``, ``ay``, ``az``).
    limits : FramingLimits, optional
        Bounds on hostile input (``max_line_bytes`` applies).
    default_header : sequence of str, optional
        Column names to assume before the device sends a header, for devices that
        never send one. Without it, data lines before the first header are dropped.

    Attributes
    ----------
    stats : ParseStats
        Counts of dropped input by kind.

    Raises
    ------
    ValueError
        If ``channels`` is empty or repeats a name, or ``default_header`` is not usable.
    """

    def __init__(
        self,
        device: str,
        channels: Sequence[str],
        limits: FramingLimits = DEFAULT_LIMITS,
        default_header: Sequence[str] | None = None,
    ) -> None:
        self.device = device
        self.channels = check_channels(channels)
        self.limits = limits
        self.default_header = default_header
        self.stats = ParseStats()
        self._lines = LineSplitter(limits.max_line_bytes, self.stats)
        # No usable header yet: a width of -1 never matches, so every line takes the
        # slow path that tells headers from data.
        self._width = -1
        self._picks: tuple[int, ...] = ()
        self._has_t = False
        self._usable = False
        if default_header is not None:
            picks = column_picks(default_header, self.channels)
            if isinstance(picks, str):
                raise ValueError(
                    f"default header {list(default_header)} is not usable ({picks}); it "
                    f"must name each of {list(self.channels)} once"
                )
            self._map(len(default_header), picks)

    def feed(self, data: bytes) -> list[SampleBatch]:
        """Parse the next bytes of the stream.

        Returns
        -------
        list of SampleBatch
            The samples of the lines ``data`` completes, one batch per run of lines
            under the same header; empty when none.
        """
        batches: list[SampleBatch] = []
        rows: list[list[float]] = []
        for line in self._lines.feed(data):
            fields = line.split(",")
            if len(fields) == self._width:
                try:
                    rows.append([float(fields[i]) for i in self._picks])
                    continue
                except ValueError:
                    pass
            if is_header(fields):
                self._flush(rows, batches)
                rows = []
                self._use_header(fields)
            elif not self._usable:
                self.stats.add("no_header")
            elif len(fields) < self._width:
                self.stats.add("too_few_columns")
            elif len(fields) > self._width:
                self.stats.add("too_many_columns")
            else:
                self.stats.add("bad_number")
        self._flush(rows, batches)
        return batches

    def _use_header(self, header: list[str]) -> None:
        self.stats.add("header")
        picks = column_picks(header, self.channels)
        if isinstance(picks, str):
            self.stats.add(picks)
            self._width = -1
            self._usable = False
        else:
            self._map(len(header), picks)

    def _map(self, width: int, picks: tuple[int, ...]) -> None:
        self._width = width
        self._picks = picks
        self._has_t = len(picks) > len(self.channels)
        self._usable = True

    def _flush(self, rows: list[list[float]], batches: list[SampleBatch]) -> None:
        if not rows:
            return
        columns = np.array(rows, dtype=np.float64).T
        batch = finite_batch(self.device, self.channels, columns, self._has_t, self.stats)
        if len(batch):
            batches.append(batch)
