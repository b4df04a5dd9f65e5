"""Checking the time column of a recording: finite, strictly increasing seconds."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike

import numpy as np
import numpy.typing as npt

from harbridge.errors import InputError

__all__ = ["check_times"]

FloatArray = npt.NDArray[np.float64]


def check_times(
    t: npt.ArrayLike,
    source: str | PathLike[str],
    field: str,
    *,
    rows: Sequence[int] | None = None,
    what: str = "sample",
) -> FloatArray:
    """Return ``t`` as float64 after checking that it can be a clock.

    Parameters
    ----------
    t : array_like of shape (n,)
        Sample or frame times in seconds.
    source : str or path-like
        The file they came from, for the error message.
    field : str
        The field or column holding them.
    rows : sequence of int, optional
        The file's own number of each time (a line number, a frame number), so that a
        message points where the user can look; by default the position in ``t``.
    what : str
        What ``rows`` counts, e.g. ``"line"`` or ``"frame"``.

    Returns
    -------
    ndarray of shape (n,)

    Raises
    ------
    InputError
        Fewer than two times, a non-finite time, or a time not after the one before it.
    """
    times = np.asarray(t, dtype=np.float64)
    if times.shape[0] < 2:
        raise InputError(
            source,
            field,
            f"holds {times.shape[0]} time(s); a recording needs at least two samples.",
        )

    def label(i: int) -> int:
        return rows[i] if rows is not None else i

    bad = np.flatnonzero(~np.isfinite(times))
    if bad.size:
        raise InputError(
            source, field, f"{what} {label(int(bad[0]))} has no finite time in seconds."
        )
    back = np.flatnonzero(np.diff(times) <= 0.0)
    if back.size:
        i = int(back[0])
        raise InputError(
            source,
            field,
            f"time does not increase at {what} {label(i + 1)} ({times[i]:.6g} s, then "
            f"{times[i + 1]:.6g} s); times must strictly increase, so sort the file or split "
            "it where the clock was reset.",
        )
    return times
