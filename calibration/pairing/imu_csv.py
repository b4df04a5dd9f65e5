"""The IMU side of a recording: the serial driver's CSV, read whole.

The format is the one ``harbridge run`` reads from a serial port (DESIGN §3): a header
naming the columns (``t,ax,ay,az,gx,gy,gz``), then one sample per line; ``t`` is the
sensor's clock in seconds. Lines are framed by the driver's own parser
(:class:`~harbridge.drivers.csv_lines.CsvLineParser`), so a log captured from a port
reads exactly as the daemon would read it; lines it drops (garbled, too few fields, NaN)
are counted and reported, and become gaps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from harbridge.calibration.pairing.times import check_times
from harbridge.drivers.csv_lines import CsvLineParser, is_header
from harbridge.drivers.parse_stats import INFORMATIONAL_KINDS
from harbridge.errors import InputError

__all__ = ["ImuLog", "default_units", "read_imu_csv"]

FloatArray = npt.NDArray[np.float64]

#: units the serial driver's channel names stand for (DESIGN §3: drivers deliver m/s², rad/s)
_UNITS = {"ax": "m/s2", "ay": "m/s2", "az": "m/s2", "gx": "rad/s", "gy": "rad/s", "gz": "rad/s"}


@dataclass(frozen=True, eq=False)
class ImuLog:
    """A continuous IMU recording on the sensor's own clock.

    Attributes
    ----------
    path : Path
    t : ndarray of shape (n,)
        Sample times in seconds, strictly increasing.
    samples : ndarray of shape (n, C)
        One column per channel.
    channels : tuple of str, length C
    dropped : mapping of str to int
        Lines the CSV framing dropped, by kind (see
        :data:`harbridge.drivers.parse_stats.KINDS`).
    """

    path: Path
    t: FloatArray
    samples: FloatArray
    channels: tuple[str, ...]
    dropped: Mapping[str, int]


def default_units(channels: Sequence[str]) -> tuple[str, ...]:
    """Units of the driver's channel names (``ax`` → ``m/s2``, ``gx`` → ``rad/s``), else ``""``."""
    return tuple(_UNITS.get(name, "") for name in channels)


def _header(text: str, path: Path) -> list[str]:
    for line in text.splitlines():
        if line.strip():
            fields = [field.strip() for field in line.split(",")]
            if not is_header(fields):
                raise InputError(
                    path,
                    "header",
                    f"the first line {line[:60]!r} is not a header; the file must start with "
                    "the column names, e.g. t,ax,ay,az,gx,gy,gz.",
                )
            return fields
    raise InputError(path, "file", "is empty; expected a header line t,ax,ay,... and samples.")


def _channels(header: list[str], wanted: Sequence[str] | None, path: Path) -> tuple[str, ...]:
    if "t" not in header:
        raise InputError(
            path,
            "t",
            f"missing; the header names {','.join(header)}, and pairing needs the sensor's "
            "sample times in a 't' column (seconds).",
        )
    names = tuple(name for name in header if name != "t") if wanted is None else tuple(wanted)
    for name in names:
        if name not in header:
            raise InputError(path, name, f"missing; the header names {','.join(header)}.")
    if not names:
        raise InputError(path, "header", "names no channel besides t.")
    repeated = sorted({name for name in ("t", *names) if header.count(name) > 1})
    if repeated or len(set(names)) != len(names):
        raise InputError(path, "header", f"names {', '.join(repeated or names)} more than once.")
    return names


def read_imu_csv(path: str | Path, channels: Sequence[str] | None = None) -> ImuLog:
    """Read an IMU CSV log.

    Parameters
    ----------
    path : str or Path
    channels : sequence of str, optional
        Channels to keep, in this order; by default every column but ``t``.

    Returns
    -------
    ImuLog

    Raises
    ------
    InputError
        Unreadable or empty file, no header, no ``t`` column, a missing channel, no
        usable sample, or times that do not strictly increase.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, "file", f"cannot be read ({exc.strerror}); check the path.") from exc
    header = _header(data.decode("utf-8", errors="replace"), path)
    names = _channels(header, channels, path)
    parser = CsvLineParser(path.name, names)
    batches = parser.feed(data) + parser.feed(b"\n")
    dropped = {k: n for k, n in parser.stats.counts.items() if k not in INFORMATIONAL_KINDS}
    if not batches:
        raise InputError(
            path,
            "t",
            f"no usable sample under the header (lines dropped: {dropped or 'none'}); every "
            "line needs a number in each column.",
        )
    t = np.concatenate([batch.t for batch in batches if batch.t is not None])
    samples = np.column_stack(
        [np.concatenate([batch.channels[name] for batch in batches]) for name in names]
    )
    return ImuLog(path, check_times(t, path, "t"), samples, names, dropped)
