"""How long to wait before reconnecting: exponential, capped, jittered, reset after health.

Every transport that can lose its peer (a serial adapter pulled out, a broker restarted)
reconnects through a :class:`Backoff`. The n-th consecutive failure waits
``min(maximum_s, initial_s · factor^n)`` scaled down by a random jitter, so a room of
devices that lost the same broker does not reconnect in lockstep. A connection that
stayed up for ``healthy_s`` resets the sequence: the next drop is retried quickly again,
while a link that flaps keeps backing off.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Backoff", "BackoffPolicy", "backoff_delay"]


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Settings of a reconnect backoff.

    Attributes
    ----------
    initial_s : float
        Delay before the first retry, seconds.
    maximum_s : float
        Cap of the delay, seconds.
    factor : float
        Growth per consecutive failure (≥ 1).
    jitter : float
        Fraction in [0, 1] by which each delay is shortened at random.
    healthy_s : float
        A connection that lasted this long resets the delay to ``initial_s``.
    """

    initial_s: float = 0.5
    maximum_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    healthy_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.maximum_s:
            raise ValueError(
                f"backoff needs 0 < initial_s ≤ maximum_s, got {self.initial_s} and "
                f"{self.maximum_s}"
            )
        if self.factor < 1:
            raise ValueError(f"backoff factor must be ≥ 1, got {self.factor}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"backoff jitter must lie in [0, 1], got {self.jitter}")
        if self.healthy_s < 0:
            raise ValueError(f"backoff healthy_s must be ≥ 0, got {self.healthy_s}")


def backoff_delay(attempt: int, policy: BackoffPolicy, u: float) -> float:
    """Delay before retry number ``attempt`` (0 for the first retry after a failure).

    Parameters
    ----------
    attempt : int
        Consecutive failures before this one (≥ 0).
    policy : BackoffPolicy
        The delay grows as ``initial_s · factor^attempt`` up to ``maximum_s``, and is
        shortened at random by up to the fraction ``jitter``.
    u : float
        A uniform random number in [0, 1).

    Returns
    -------
    float
        ``min(maximum_s, initial_s · factor^attempt) · (1 − jitter · u)``, in seconds.
    """
    if policy.factor > 1:
        # Past the cap the exponent stops growing, so factor**attempt cannot overflow
        # after days of failures.
        ceiling = math.ceil(math.log(policy.maximum_s / policy.initial_s, policy.factor))
        growth = policy.factor ** min(attempt, ceiling)
    else:
        growth = 1.0
    return min(policy.maximum_s, policy.initial_s * growth) * (1.0 - policy.jitter * u)


class Backoff:
    """The reconnect state of one transport.

    Call :meth:`connected` when a connection is up and :meth:`next_delay` after every
    failed attempt or lost connection; sleep for the delay it returns, then retry.

    Parameters
    ----------
    policy : BackoffPolicy
        The delays.
    rng : random.Random, optional
        Source of jitter (seed it in tests).
    clock : callable returning float, optional
        Monotonic clock in seconds.
    """

    def __init__(
        self,
        policy: BackoffPolicy,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.rng = rng if rng is not None else random.Random()
        self.clock = clock
        self._failures = 0
        self._up_since: float | None = None

    @property
    def failures(self) -> int:
        """Consecutive failures counted since the last reset."""
        return self._failures

    def connected(self) -> None:
        """Note that a connection is up now."""
        self._up_since = self.clock()

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt, after a failure or a lost connection."""
        policy = self.policy
        if self._up_since is not None and self.clock() - self._up_since >= policy.healthy_s:
            self._failures = 0
        self._up_since = None
        delay = backoff_delay(self._failures, policy, self.rng.random())
        self._failures += 1
        return delay
