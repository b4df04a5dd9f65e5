"""The common-case check of a batch's sample times, shared by the windowing and the clock watch."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["steps_forward_within"]


def steps_forward_within(
    times: npt.NDArray[np.float64], previous: float, first_gap: float, max_gap: float
) -> bool:
    """Whether ``times`` step forwards from ``previous``: the first step by at most
    ``first_gap``, every later one by at most ``max_gap`` (seconds).

    Called for every batch of every device, so it costs one subtraction and two reductions;
    a NaN anywhere makes it false.

    Parameters
    ----------
    times : ndarray of shape (n,), n ≥ 1
    previous : float
        The time before ``times[0]`` (``-inf`` when there is none).
    first_gap, max_gap : float
        Longest allowed first step (``inf`` for none), longest allowed later step.
    """
    first = float(times[0]) - previous
    if not 0 < first <= first_gap:
        return False
    inner = times[1:] - times[:-1]
    return inner.size == 0 or bool(inner.min() > 0 and inner.max() <= max_gap)
