"""Paired data as a stream: arrays in memory, shard files, or shards generated on the fly.

A :class:`PairSource` says what the pairs are — names, feature dimensions, how many, the
distinct subjects — and splits them into partitions (a shard, or a block of rows) that
each stream chunks of pairs on their own. The solve reads every partition once
(:func:`accumulate_pairs`): here in order, or on a cluster one partition per task
(:mod:`harbridge.calibration.dask_gram`). Partitions are small picklable descriptions
that open their files, or generate their rows, only when streamed.

Raw IMU windows become features chunk by chunk as they stream, through the encoder graph
that goes into the bundle, so a source always delivers features.

On disk, ``--pairs`` takes one or more paths. Each is a shard — an ``.npz`` file, or a
directory of ``<field>.npy`` files (``video.npy``, ``imu_features.npy``, optionally
``subject.npy``; memory-mapped) — or a directory of shards: its ``*.npz`` files and
shard directories, in name order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from harbridge.calibration.dataset import (
    SHARD_DIRECTORY,
    ArrayFile,
    ImuWindows,
    Pairs,
    PairsLayout,
    check_finite,
    scan_pairs,
)
from harbridge.calibration.gram import GramScratch, MomentSpec, PairMoments, chunk_rows_for
from harbridge.calibration.imu_features import WindowEncoder
from harbridge.calibration.split import PairSplit
from harbridge.errors import InputError

__all__ = [
    "ArrayPairs",
    "GeneratedPairs",
    "PairChunk",
    "PairFiles",
    "PairPartition",
    "PairSource",
    "Progress",
    "ShardedPairs",
    "accumulate_pairs",
    "accumulate_partition",
    "open_pairs",
    "pairs_source",
]

#: rows per partition when one array or memory-mapped shard is cut into blocks
PARTITION_ROWS = 1 << 20
#: float32 rounding: what the dataset files hold
FLOAT32_EPS = float(np.finfo(np.float32).eps)

#: called with (pairs read so far, pairs in all)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PairChunk:
    """A run of consecutive pairs.

    Attributes
    ----------
    start : int
        Global index of the first pair.
    views : tuple of ndarray of shape (b, d_m)
        Features of each modality.
    subject : ndarray of shape (b,) or None
    """

    start: int
    views: tuple[npt.NDArray[Any], ...]
    subject: npt.NDArray[Any] | None


class PairPartition(Protocol):
    """A part of the pairs that streams on its own (a shard, or a block of rows)."""

    @property
    def start(self) -> int:
        """Global index of its first pair."""
        ...

    @property
    def size(self) -> int:
        """Number of pairs."""
        ...

    def chunks(self, rows: int) -> Iterator[PairChunk]:
        """Its pairs, at most ``rows`` at a time, in order."""
        ...


class PairSource(Protocol):
    """Paired data the solve can stream."""

    @property
    def path(self) -> str:
        """Where the pairs come from, for messages."""
        ...

    @property
    def names(self) -> tuple[str, ...]:
        """Modality names."""
        ...

    @property
    def dims(self) -> tuple[int, ...]:
        """Feature dimension of each modality."""
        ...

    @property
    def n_pairs(self) -> int:
        """Number of pairs."""
        ...

    @property
    def eps(self) -> float:
        """Machine epsilon of the features (their rounding, for exact-rank detection)."""
        ...

    @property
    def subjects(self) -> npt.NDArray[Any] | None:
        """The distinct subjects, sorted, or None when pairs carry no subject."""
        ...

    def partitions(self) -> Sequence[PairPartition]:
        """Partitions covering pairs ``0 .. n_pairs − 1`` in order."""
        ...


def _blocks(lo: int, hi: int, rows: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` cut into runs of at most ``rows``."""
    return [(start, min(start + rows, hi)) for start in range(lo, hi, rows)]


@dataclass(frozen=True)
class _ArrayPartition:
    start: int
    views: tuple[npt.NDArray[Any], ...]
    subject: npt.NDArray[Any] | None
    encoder: WindowEncoder | None

    @property
    def size(self) -> int:
        return int(self.views[0].shape[0])

    def chunks(self, rows: int) -> Iterator[PairChunk]:
        encode = self.encoder.open() if self.encoder is not None else None
        for lo, hi in _blocks(0, self.size, rows):
            views = tuple(v[lo:hi] for v in self.views)
            if encode is not None:
                views = (views[0], encode(views[1], self.start + lo), *views[2:])
            subject = None if self.subject is None else self.subject[lo:hi]
            yield PairChunk(self.start + lo, views, subject)


class ArrayPairs:
    """Pairs held in memory, one array per modality.

    Parameters
    ----------
    views : sequence of array-like of shape (n, d_m)
        Row i of every view is the same moment seen by each modality. With ``encoder``,
        the second view holds raw IMU windows (n, T, C) instead.
    names : sequence of str, optional
        Default ``video``, ``imu``, ``modality2``, ...
    subject : array-like of shape (n,), optional
    encoder : WindowEncoder, optional
        Turns the second view's raw windows into features as they stream.
    path : str
        What to call the pairs in messages.
    """

    def __init__(
        self,
        views: Sequence[npt.ArrayLike],
        *,
        names: Sequence[str] | None = None,
        subject: npt.ArrayLike | None = None,
        encoder: WindowEncoder | None = None,
        path: str = "pairs",
    ) -> None:
        self.arrays = tuple(np.asarray(v) for v in views)
        self.names = (
            tuple(names)
            if names is not None
            else ("video", "imu", *(f"modality{m}" for m in range(2, len(self.arrays))))
        )
        self.subject = None if subject is None else np.asarray(subject)
        self.encoder = encoder
        self.path = path
        widths = [int(a.shape[1]) if a.ndim > 1 else 0 for a in self.arrays]
        if encoder is not None:
            widths[1] = encoder.feature_dim
        self.dims = tuple(widths)
        self.n_pairs = int(self.arrays[0].shape[0]) if self.arrays else 0
        dtypes = [a.dtype for a in self.arrays]
        self.eps = float(np.finfo(np.result_type(*dtypes, np.float32)).eps)
        self.subjects = None if self.subject is None else np.unique(self.subject)

    def partitions(self) -> list[_ArrayPartition]:
        """Blocks of ``PARTITION_ROWS`` rows."""
        return [
            _ArrayPartition(
                lo,
                tuple(a[lo:hi] for a in self.arrays),
                None if self.subject is None else self.subject[lo:hi],
                self.encoder,
            )
            for lo, hi in _blocks(0, self.n_pairs, PARTITION_ROWS)
        ]


#: what :class:`GeneratedPairs` calls: shard index -> (views, subject or None)
ShardMaker = Callable[[int], tuple[Sequence[npt.NDArray[Any]], npt.NDArray[Any] | None]]


@dataclass(frozen=True)
class _GeneratedPartition:
    make_shard: ShardMaker
    index: int
    start: int
    size: int
    dims: tuple[int, ...]

    def chunks(self, rows: int) -> Iterator[PairChunk]:
        views, subject = self.make_shard(self.index)
        shapes = [tuple(np.shape(v)) for v in views]
        if shapes != [(self.size, d) for d in self.dims] or (
            subject is not None and np.shape(subject) != (self.size,)
        ):
            raise ValueError(
                f"shard {self.index} was generated with views of shapes {shapes}; expected "
                f"{self.size} rows of {self.dims} features"
            )
        for lo, hi in _blocks(0, self.size, rows):
            yield PairChunk(
                self.start + lo,
                tuple(v[lo:hi] for v in views),
                None if subject is None else subject[lo:hi],
            )


@dataclass(frozen=True)
class GeneratedPairs:
    """Pairs generated shard by shard as they stream — a calibration set that needs no disk.

    Attributes
    ----------
    make_shard : callable
        ``make_shard(i) -> (views, subject)``: the views (``shard_sizes[i]`` rows of each
        of ``dims``) and subjects (or None) of shard i. Called once per pass, possibly on
        another process; it must give the same rows every time.
    shard_sizes : tuple of int
    dims : tuple of int
    names : tuple of str
    subjects : ndarray or None
        The distinct subjects the shards use (needed up front to hold out whole subjects).
    eps : float
        Rounding of the generated features.
    path : str
    """

    make_shard: ShardMaker
    shard_sizes: tuple[int, ...]
    dims: tuple[int, ...]
    names: tuple[str, ...] = ("video", "imu")
    subjects: npt.NDArray[Any] | None = None
    eps: float = FLOAT32_EPS
    path: str = "generated pairs"

    @property
    def n_pairs(self) -> int:
        """Number of pairs."""
        return sum(self.shard_sizes)

    def partitions(self) -> list[_GeneratedPartition]:
        """One partition per shard."""
        starts = np.cumsum([0, *self.shard_sizes])
        return [
            _GeneratedPartition(self.make_shard, i, int(starts[i]), size, self.dims)
            for i, size in enumerate(self.shard_sizes)
        ]


@dataclass(frozen=True)
class _ShardPartition:
    layout: PairsLayout
    start: int
    lo: int
    hi: int
    encoder: WindowEncoder | None

    @property
    def size(self) -> int:
        return self.hi - self.lo

    def chunks(self, rows: int) -> Iterator[PairChunk]:
        file = ArrayFile(self.layout.path)
        path, imu_field = file.path, self.layout.imu_field
        video = file.read("video", mapped=True)
        imu = file.read(imu_field, mapped=True)
        subject = file.read("subject") if self.layout.subjects is not None else None
        encode = self.encoder.open() if self.encoder is not None else None
        for lo, hi in _blocks(self.lo, self.hi, rows):
            video_rows = _float32_rows(path, "video", video, lo, hi)
            imu_rows = _float32_rows(path, imu_field, imu, lo, hi)
            if encode is not None:
                imu_rows = encode(imu_rows, lo)
            yield PairChunk(
                self.start + lo - self.lo,
                (video_rows, imu_rows),
                None if subject is None else np.asarray(subject[lo:hi]),
            )


def _float32_rows(
    path: Path, name: str, values: npt.NDArray[Any], lo: int, hi: int
) -> npt.NDArray[np.float32]:
    rows = np.asarray(values[lo:hi])
    check_finite(path, name, rows, first_row=lo)
    return rows.astype(np.float32, copy=False)


@dataclass(frozen=True)
class ShardedPairs:
    """Pairs in shard files, streamed shard by shard (features from the encoder if raw)."""

    path: str
    layouts: tuple[PairsLayout, ...]
    dims: tuple[int, ...]
    subjects: npt.NDArray[Any] | None
    encoder: WindowEncoder | None
    names: tuple[str, ...] = ("video", "imu")
    eps: float = FLOAT32_EPS

    @property
    def n_pairs(self) -> int:
        """Number of pairs."""
        return sum(layout.n_pairs for layout in self.layouts)

    def partitions(self) -> list[_ShardPartition]:
        """One per ``.npz`` shard; memory-mapped shards in blocks of ``PARTITION_ROWS``."""
        partitions = []
        start = 0
        for layout in self.layouts:
            blocks = (
                _blocks(0, layout.n_pairs, PARTITION_ROWS)
                if layout.path.is_dir()
                else [(0, layout.n_pairs)]
            )
            for lo, hi in blocks:
                partitions.append(_ShardPartition(layout, start + lo, lo, hi, self.encoder))
            start += layout.n_pairs
        return partitions


@dataclass(frozen=True)
class PairFiles:
    """PAIRS spread over one or more shard files, their layouts checked to agree.

    Attributes
    ----------
    path : Path
        The first path given, for messages.
    layouts : tuple of PairsLayout
        One per shard, in stream order.
    subjects : ndarray or None
        Distinct subjects over every shard.
    """

    path: Path
    layouts: tuple[PairsLayout, ...]
    subjects: npt.NDArray[Any] | None = field(default=None)

    @property
    def n_pairs(self) -> int:
        """Number of pairs."""
        return sum(layout.n_pairs for layout in self.layouts)

    @property
    def imu_field(self) -> str:
        """``imu_features`` or ``imu`` (raw windows)."""
        return self.layouts[0].imu_field

    def preview(self) -> Pairs:
        """The first pair, with the IMU metadata: enough to choose and probe an encoder."""
        first = self.layouts[0]
        file = ArrayFile(first.path)
        video = file.read_head("video", 1).astype(np.float32)
        imu = file.read_head(first.imu_field, 1).astype(np.float32)
        if first.imu_field == "imu_features":
            return Pairs(first.path, video, imu, None, None)
        assert first.sample_rate_hz is not None
        windows = ImuWindows(imu, first.sample_rate_hz, first.channels, first.units)
        return Pairs(first.path, video, None, windows, None)

    def source(self, encoder: WindowEncoder | None, feature_dim: int) -> ShardedPairs:
        """The pairs as a stream of features (``encoder`` turns raw windows into them)."""
        return ShardedPairs(
            path=str(self.path),
            layouts=self.layouts,
            dims=(self.layouts[0].video_dim, feature_dim),
            subjects=self.subjects,
            encoder=encoder,
        )


def _shard_paths(path: Path) -> list[Path]:
    if not path.is_dir() or (path / "video.npy").exists():
        return [path]
    shards = sorted(
        (p for p in path.iterdir() if p.suffix == ".npz" or (p / "video.npy").exists()),
        key=lambda p: p.name,
    )
    if not shards:
        raise InputError(path, "file", f"holds no .npz shards and no video.npy; {SHARD_DIRECTORY}.")
    return shards


def _check_agree(first: PairsLayout, other: PairsLayout) -> None:
    def differ(name: str, what: str, mine: object, theirs: object) -> InputError:
        return InputError(
            other.path,
            name,
            f"has {what} {theirs} but {first.path} has {mine}; every shard must hold the same "
            "kind of pairs.",
        )

    if other.video_dim != first.video_dim:
        raise differ("video", "features per row:", first.video_dim, other.video_dim)
    if other.imu_field != first.imu_field:
        raise differ(other.imu_field, "IMU field", first.imu_field, other.imu_field)
    if other.imu_shape != first.imu_shape:
        raise differ(other.imu_field, "row shape", first.imu_shape, other.imu_shape)
    if (other.sample_rate_hz, other.channels) != (first.sample_rate_hz, first.channels):
        raise differ(
            "channels",
            "rate and channels",
            (first.sample_rate_hz, first.channels),
            (other.sample_rate_hz, other.channels),
        )
    if (other.subjects is None) != (first.subjects is None):
        raise differ(
            "subject",
            "a subject field:",
            "yes" if first.subjects is not None else "no",
            "yes" if other.subjects is not None else "no",
        )
    if other.subjects is not None and first.subjects is not None:
        kinds = {first.subjects.dtype.kind in "iu", other.subjects.dtype.kind in "iu"}
        if len(kinds) > 1:
            raise differ("subject", "ids of dtype", first.subjects.dtype, other.subjects.dtype)


def open_pairs(paths: Sequence[str | Path]) -> PairFiles:
    """Find and check the shards of PAIRS given as files and/or directories.

    Reads array headers and small fields (IMU metadata, subjects) only.

    Raises
    ------
    InputError
        A shard that is missing, unreadable, malformed, or unlike the first one.
    """
    shard_paths = list(itertools.chain.from_iterable(_shard_paths(Path(p)) for p in paths))
    layouts = tuple(scan_pairs(ArrayFile(p)) for p in shard_paths)
    for layout in layouts[1:]:
        _check_agree(layouts[0], layout)
    subjects = None
    if layouts[0].subjects is not None:
        subjects = np.unique(
            np.concatenate([layout.subjects for layout in layouts if layout.subjects is not None])
        )
    return PairFiles(Path(paths[0]), layouts, subjects)


def accumulate_partition(
    partition: PairPartition,
    split: PairSplit,
    spec: MomentSpec,
    *,
    into: PairMoments | None = None,
    scratch: GramScratch | None = None,
    progress: Callable[[int], None] | None = None,
) -> PairMoments:
    """Stream one partition into moments (new ones, or ``into``).

    Parameters
    ----------
    partition : PairPartition
    split : PairSplit
        Which part every pair belongs to.
    spec : MomentSpec
    into : PairMoments, optional
        Accumulate into these instead of new ones.
    scratch : GramScratch, optional
        Working rows to reuse.
    progress : callable, optional
        Called with the number of pairs of every chunk read.
    """
    moments = into if into is not None else spec.empty()
    rows = chunk_rows_for(spec.dim)
    scratch = scratch if scratch is not None else GramScratch(spec.dim, rows)
    for chunk in partition.chunks(rows):
        size = chunk.views[0].shape[0]
        parts = split.parts(chunk.start, size, chunk.subject)
        moments.add(chunk.start, chunk.views, parts, scratch, chunk.subject)
        if progress is not None:
            progress(size)
    return moments


def accumulate_pairs(
    source: PairSource, split: PairSplit, spec: MomentSpec, progress: Progress | None = None
) -> PairMoments:
    """Read every pair once, on this machine, into the moments of the solve.

    Parameters
    ----------
    source : PairSource
    split : PairSplit
    spec : MomentSpec
    progress : callable, optional
        Called with (pairs read so far, pairs in all) after every chunk.
    """
    moments = spec.empty()
    scratch = GramScratch(spec.dim, chunk_rows_for(spec.dim))
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, source.n_pairs)

    for partition in source.partitions():
        accumulate_partition(
            partition, split, spec, into=moments, scratch=scratch, progress=advance
        )
    return moments


def pairs_source(pairs: Pairs, encoder: WindowEncoder | None) -> ArrayPairs:
    """In-memory :class:`Pairs` as a source of features."""
    imu = pairs.imu_features if pairs.imu_features is not None else pairs.imu.windows  # type: ignore[union-attr]
    return ArrayPairs(
        [pairs.video, imu],
        subject=pairs.subject,
        encoder=encoder,
        path=str(pairs.path),
    )
