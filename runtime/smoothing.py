"""Post-processing of one device's class probabilities: smoothing over windows, then a decision.

Smoothing trades a little latency for fewer flickering labels. ``Smoother(n)`` averages
the last ``n`` probability vectors (``n = 1`` is off); ``Smoother(alpha=a)`` keeps an
exponential moving average ``s ← a p + (1 − a) s``. Only the probabilities are smoothed:
the out-of-distribution score of each window is judged on its own, so "unknown" reacts
at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = ["UNKNOWN", "Decision", "Smoother", "decide"]

FloatArray = npt.NDArray[np.float64]

#: The label published when a window is out of distribution or not confident enough.
UNKNOWN = "unknown"


class Smoother:
    """Moving average or exponential moving average of one device's probability vectors.

    Parameters
    ----------
    n : int
        Number of recent windows averaged (≥ 1); ``1`` turns smoothing off. Ignored
        when ``alpha`` is given.
    alpha : float or None
        Weight of the newest window in an exponential moving average, in ``(0, 1]``.
    """

    def __init__(self, n: int = 1, alpha: float | None = None) -> None:
        if n < 1:
            raise ValueError(f"the moving average needs n ≥ 1 windows, got {n}")
        if alpha is not None and not 0.0 < alpha <= 1.0:
            raise ValueError(f"the EMA weight alpha must be in (0, 1], got {alpha}")
        self.n = n
        self.alpha = alpha
        # Ring of the last n vectors (moving average) or the single running EMA row.
        self._history: FloatArray | None = None
        self._count = 0
        self._segment: int | None = None

    @classmethod
    def from_setting(cls, smoothing: int | float) -> Smoother:
        """The smoother a config's ``postprocess.smoothing`` asks for.

        An ``int`` is a moving-average length, a ``float`` an EMA weight (see
        :class:`harbridge.runtime.config.PostprocessSettings`).
        """
        if isinstance(smoothing, int):
            return cls(n=smoothing)
        return cls(alpha=smoothing)

    def reset(self) -> None:
        """Forget every window seen so far."""
        self._history = None
        self._count = 0

    def update(self, probs: npt.ArrayLike, segment: int | None = None) -> FloatArray:
        """Add one window's probabilities; return the smoothed ones.

        Parameters
        ----------
        probs : array-like of shape (K,)
            Class probabilities of the newest window.
        segment : int or None
            ``Window.segment`` of that window; when it differs from the previous call's,
            the history is forgotten first, so no average spans a gap in the data.

        Returns
        -------
        ndarray of shape (K,) float64
            The mean of the last ``min(n, windows seen)`` vectors, or the EMA.
        """
        p = np.asarray(probs, dtype=np.float64)
        if segment is not None and segment != self._segment:
            self.reset()
            self._segment = segment
        if p.ndim != 1:
            raise ValueError(f"expected one vector of probabilities, got shape {p.shape}")
        if self._history is None:
            self._history = np.zeros((1 if self.alpha is not None else self.n, p.shape[0]))
        elif self._history.shape[1] != p.shape[0]:
            raise ValueError(f"got {p.shape[0]} probabilities, expected {self._history.shape[1]}")
        if self.alpha is not None:
            previous = self._history[0] if self._count else p
            self._history[0] = self.alpha * p + (1.0 - self.alpha) * previous
            self._count += 1
            smoothed: FloatArray = self._history[0].copy()
            return smoothed
        self._history[self._count % self.n] = p
        self._count += 1
        mean: FloatArray = self._history[: min(self._count, self.n)].mean(axis=0)
        return mean


class Decision(NamedTuple):
    """What to publish for one window."""

    label: str
    """The most probable class, or ``"unknown"``."""
    confidence: float
    """Probability of the most probable class (reported even when the label is unknown)."""
    unknown: bool
    """True when the window is out of distribution or below the confidence floor."""


def decide(
    probs: npt.ArrayLike,
    ood: float,
    class_names: Sequence[str],
    confidence_floor: float = 0.0,
    ood_threshold: float | None = None,
) -> Decision:
    """Turn (smoothed) class probabilities and an OOD score into a label.

    Parameters
    ----------
    probs : array-like of shape (K,)
        Class probabilities, in the order of ``class_names``.
    ood : float
        The window's out-of-distribution score (Mahalanobis distance to the nearest
        class, DESIGN §1); larger is further from every class.
    class_names : sequence of str of length K
        The bundle's classes.
    confidence_floor : float
        Below this top probability the label is unknown.
    ood_threshold : float or None
        Above this OOD score the label is unknown; ``None`` turns the check off.

    Returns
    -------
    Decision
        ``(label, confidence, unknown)``; non-finite inputs give unknown with confidence 0.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.shape != (len(class_names),):
        raise ValueError(f"got {p.shape} probabilities for {len(class_names)} classes")
    if not (np.isfinite(p).all() and math.isfinite(ood)):
        return Decision(UNKNOWN, 0.0, True)
    best = int(np.argmax(p))
    confidence = float(p[best])
    unknown = confidence < confidence_floor or (ood_threshold is not None and ood > ood_threshold)
    return Decision(UNKNOWN if unknown else class_names[best], confidence, unknown)
