"""Reproducible draws of pairs — held-out, validation, and a bounded sample — by row index.

Every rule here decides a pair's fate from its global row index (or its subject) alone, so
the same pairs are drawn whether the data arrive as one array, shard by shard, or spread
over a cluster, and without seeing all rows first. Pair-level draws use a seeded
permutation of ``[0, n)`` computed row by row (a Feistel network walked back into range),
so the counts are exact, as with ``rng.permutation(n)[:count]``, in O(1) memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "FIT",
    "HOLDOUT",
    "PARTS",
    "VALIDATION",
    "PairSample",
    "PairSplit",
    "plan_split",
    "row_keys",
    "shuffled_position",
]

U64Array = npt.NDArray[np.uint64]
IndexArray = npt.NDArray[np.int64]
PartArray = npt.NDArray[np.uint8]

#: part codes: pairs the solve fits on, pairs that choose the rank (then rejoin the fit),
#: and pairs held out to report how well the alignment carries to unseen pairs
FIT, VALIDATION, HOLDOUT = 0, 1, 2
PARTS = (FIT, VALIDATION, HOLDOUT)

#: fewer subjects than this and pairs are drawn one by one
MIN_SUBJECTS_FOR_GROUPS = 3
#: rounds of the Feistel network; four make a pseudo-random permutation (Luby–Rackoff)
FEISTEL_ROUNDS = 4

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def _mix(x: U64Array) -> U64Array:
    """SplitMix64's finaliser: a bijection of uint64 that scatters nearby inputs."""
    x = (x ^ (x >> np.uint64(30))) * _MIX_1
    x = (x ^ (x >> np.uint64(27))) * _MIX_2
    return np.asarray(x ^ (x >> np.uint64(31)), dtype=np.uint64)


def _seed_word(seed: int, stream: int) -> np.uint64:
    words = np.array([(seed * 0x1F3 + stream) % 2**64], dtype=np.uint64)
    return np.uint64(_mix(words * _GOLDEN + _GOLDEN)[0])


def row_keys(rows: npt.ArrayLike, seed: int) -> U64Array:
    """Seeded random-looking uint64 keys of shape (n,), distinct for distinct rows.

    Parameters
    ----------
    rows : array-like of int of shape (n,)
        Global row indices.
    seed : int
    """
    x = np.asarray(rows).astype(np.uint64) + _seed_word(seed, 0)
    return _mix(x)


def shuffled_position(rows: npt.ArrayLike, n: int, seed: int) -> IndexArray:
    """Position of each row in a seeded random permutation of ``[0, n)``, shape like ``rows``.

    A balanced Feistel network permutes the smallest power of four ≥ n; values that land
    outside ``[0, n)`` are permuted again until they come back (cycle walking), which keeps
    the map a bijection of ``[0, n)``.

    Parameters
    ----------
    rows : array-like of int of shape (m,), each in ``[0, n)``
    n : int
    seed : int
    """
    half = max(1, (max(n - 1, 1).bit_length() + 1) // 2)
    keys = [_seed_word(seed, 1 + r) for r in range(FEISTEL_ROUNDS)]
    x = np.asarray(rows).astype(np.uint64)
    x = _feistel(x, half, keys)
    outside = np.flatnonzero(x >= n)
    while outside.size:
        x[outside] = _feistel(x[outside], half, keys)
        outside = outside[x[outside] >= n]
    return x.astype(np.int64)


def _feistel(x: U64Array, half: int, keys: list[np.uint64]) -> U64Array:
    shift = np.uint64(half)
    mask = np.uint64((1 << half) - 1)
    left, right = x >> shift, x & mask
    for key in keys:
        left, right = right, left ^ (_mix(right + key) & mask)
    return np.asarray((left << shift) | right, dtype=np.uint64)


def _group_count(fraction: float, size: int) -> int:
    """How many of ``size`` items a fraction draws: at least one, never all."""
    return min(max(1, round(fraction * size)), size - 1)


@dataclass(frozen=True)
class PairSplit:
    """Which part — fit, validation or held-out — every pair belongs to.

    Built by :func:`plan_split`; :meth:`parts` answers for any run of rows.

    Attributes
    ----------
    n_pairs : int
    seed : int
    holdout_count, validation_count : int
        Pairs drawn one by one (when the draw is not by subject).
    holdout_subjects, validation_subjects : ndarray or None
        Subjects drawn whole, sorted.
    description : dict
        How the held-out pairs were drawn, for the manifest.
    """

    n_pairs: int
    seed: int
    holdout_count: int = 0
    validation_count: int = 0
    holdout_subjects: npt.NDArray[Any] | None = None
    validation_subjects: npt.NDArray[Any] | None = None
    description: dict[str, Any] = field(default_factory=dict)

    def parts(self, start: int, size: int, subject: npt.NDArray[Any] | None) -> PartArray:
        """Part codes of shape (size,) of the pairs ``start .. start + size − 1``.

        Parameters
        ----------
        start : int
            Global index of the first pair.
        size : int
        subject : ndarray of shape (size,), optional
            Their subjects (needed when subjects are drawn whole).
        """
        rows = np.arange(start, start + size, dtype=np.int64)
        nothing = np.zeros(size, dtype=bool)
        position = None
        if self.holdout_subjects is not None:
            held = _member(subject, self.holdout_subjects)
        elif self.holdout_count:
            position = shuffled_position(rows, self.n_pairs, self.seed)
            held = position < self.holdout_count
        else:
            held = nothing
        if self.validation_subjects is not None:
            chosen = _member(subject, self.validation_subjects)
        elif self.validation_count and self.holdout_subjects is None:
            # Both drawn by pair: validation takes the positions after the held-out ones in
            # the same permutation, so the draws never overlap and both counts are exact.
            if position is None:
                position = shuffled_position(rows, self.n_pairs, self.seed)
            end = self.holdout_count + self.validation_count
            chosen = (position >= self.holdout_count) & (position < end)
        elif self.validation_count:
            chosen = shuffled_position(rows, self.n_pairs, self.seed + 1) < self.validation_count
        else:
            chosen = nothing
        parts = np.full(size, FIT, dtype=np.uint8)
        parts[chosen] = VALIDATION
        parts[held] = HOLDOUT
        return parts


def _member(subject: npt.NDArray[Any] | None, subjects: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    if subject is None:
        raise ValueError("this split draws whole subjects; pass the pairs' subjects")
    return np.isin(subject, subjects)


def plan_split(
    n_pairs: int,
    holdout: float,
    validation: float,
    subjects: npt.ArrayLike | None,
    seed: int,
) -> PairSplit:
    """Plan the held-out and validation draws of ``n_pairs`` pairs.

    Parameters
    ----------
    n_pairs : int
    holdout : float in [0, 1)
        Share of pairs (of subjects, with at least three) held out; 0 holds none out.
    validation : float in [0, 1)
        Share of the remaining pairs (or subjects) that choose an automatic rank.
    subjects : array-like of shape (S,), optional
        The distinct subjects of the pairs. With at least three, whole subjects are held
        out, so held-out metrics measure what a new wearer would see.
    seed : int
        Seed of the held-out draw; the validation draw uses ``seed + 1``.
    """
    distinct = None if subjects is None else np.unique(np.asarray(subjects))
    if holdout <= 0 or n_pairs < 2:
        held_subjects, held_count = None, 0
        description: dict[str, Any] = {"by": "none", "fraction": 0.0}
    elif distinct is not None and distinct.size >= MIN_SUBJECTS_FOR_GROUPS:
        rng = np.random.default_rng(seed)
        count = _group_count(holdout, distinct.size)
        held_subjects, held_count = np.sort(rng.permutation(distinct)[:count]), 0
        description = {
            "by": "subject",
            "fraction": holdout,
            "subjects": [x.item() for x in held_subjects],
        }
    else:
        held_subjects, held_count = None, _group_count(holdout, n_pairs)
        description = {"by": "pair", "fraction": holdout, "seed": seed}

    remaining = (
        distinct
        if distinct is None or held_subjects is None
        else np.setdiff1d(distinct, held_subjects)
    )
    val_subjects, val_count = None, 0
    if validation > 0:
        if remaining is not None and remaining.size >= MIN_SUBJECTS_FOR_GROUPS:
            rng = np.random.default_rng(seed + 1)
            val_subjects = np.sort(
                rng.permutation(remaining)[: _group_count(validation, remaining.size)]
            )
        elif held_subjects is None and n_pairs - held_count >= 2:
            val_count = _group_count(validation, n_pairs - held_count)
        elif held_subjects is not None:
            # Too few training subjects to draw whole ones, and their pair count is unknown
            # before the pass: draw the share of all pairs, and keep the training ones.
            val_count = max(1, round(validation * n_pairs))
    return PairSplit(
        n_pairs=n_pairs,
        seed=seed,
        holdout_count=held_count,
        validation_count=val_count,
        holdout_subjects=held_subjects,
        validation_subjects=val_subjects,
        description=description,
    )


class PairSample:
    """A uniform sample without replacement of at most ``capacity`` pairs, mergeable exactly.

    The sample is the pairs with the smallest :func:`row_keys`: it depends only on which
    pairs were offered, not on their order or on how they were split among shards or
    workers (a bottom-k sketch).

    Parameters
    ----------
    capacity : int or None
        Most pairs kept; None keeps every pair offered.
    seed : int

    Attributes
    ----------
    rows : ndarray of int of shape (m,)
        Global indices of the kept pairs, ascending (after :meth:`sorted`).
    parts : ndarray of uint8 of shape (m,)
    views : list of ndarray of shape (m, d_v)
    subject : ndarray of shape (m,) or None
        Their subjects, when the pairs offered carried them.
    """

    def __init__(self, capacity: int | None, seed: int) -> None:
        self.capacity = capacity
        self.seed = seed
        self.keys: U64Array = np.zeros(0, dtype=np.uint64)
        self.rows: IndexArray = np.zeros(0, dtype=np.int64)
        self.parts: PartArray = np.zeros(0, dtype=np.uint8)
        self.views: list[npt.NDArray[Any]] = []
        self.subject: npt.NDArray[Any] | None = None

    def offer(
        self,
        start: int,
        views: Sequence[npt.NDArray[Any]],
        parts: PartArray,
        *,
        keep: npt.NDArray[np.bool_] | None = None,
        subject: npt.NDArray[Any] | None = None,
    ) -> None:
        """Offer a run of pairs starting at global index ``start``.

        Parameters
        ----------
        views : sequence of ndarray of shape (b, d_v)
        parts : ndarray of uint8 of shape (b,)
        keep : ndarray of bool of shape (b,), optional
            Only these pairs may enter the sample.
        subject : ndarray of shape (b,), optional
            Their subjects, kept with them.
        """
        rows = np.arange(start, start + parts.size, dtype=np.int64)
        keys = row_keys(rows, self.seed)
        eligible = np.ones(parts.size, dtype=bool) if keep is None else keep.copy()
        if self.capacity is not None and self.keys.size >= self.capacity:
            eligible &= keys < self.keys.max()
        chosen = np.flatnonzero(eligible)
        if chosen.size:
            self._absorb(
                keys[chosen],
                rows[chosen],
                parts[chosen],
                [v[chosen] for v in views],
                None if subject is None else subject[chosen],
            )

    def merge(self, other: PairSample) -> None:
        """Add every pair ``other`` kept (same capacity and seed)."""
        if other.keys.size:
            self._absorb(other.keys, other.rows, other.parts, other.views, other.subject)

    def _absorb(
        self,
        keys: U64Array,
        rows: IndexArray,
        parts: PartArray,
        views: Sequence[npt.NDArray[Any]],
        subject: npt.NDArray[Any] | None,
    ) -> None:
        if subject is not None:
            subject = subject if self.subject is None else np.concatenate([self.subject, subject])
        keys = np.concatenate([self.keys, keys])
        rows = np.concatenate([self.rows, rows])
        parts = np.concatenate([self.parts, parts])
        views = (
            [np.concatenate([mine, theirs]) for mine, theirs in zip(self.views, views, strict=True)]
            if self.views
            else [np.array(v) for v in views]
        )
        if self.capacity is not None and keys.size > self.capacity:
            kept = np.argpartition(keys, self.capacity - 1)[: self.capacity]
            keys, rows, parts = keys[kept], rows[kept], parts[kept]
            views = [v[kept] for v in views]
            subject = None if subject is None else subject[kept]
        self.keys, self.rows, self.parts, self.views = keys, rows, parts, views
        self.subject = subject

    def sorted(self) -> PairSample:
        """The same sample ordered by global row index (deterministic whatever the merges)."""
        order = np.argsort(self.rows, kind="stable")
        result = PairSample(self.capacity, self.seed)
        result.keys, result.rows = self.keys[order], self.rows[order]
        result.parts = self.parts[order]
        result.views = [v[order] for v in self.views]
        result.subject = None if self.subject is None else self.subject[order]
        return result

    def select(self, mask: npt.NDArray[np.bool_]) -> list[npt.NDArray[Any]]:
        """The views of the kept pairs where ``mask`` (m,) holds."""
        return [v[mask] for v in self.views]
