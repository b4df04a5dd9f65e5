"""Reading the dataset files of DESIGN §3 (PAIRS, LABELED, TEST) with clear errors.

Every problem is an :class:`~harbridge.errors.InputError` naming the file, the field and
what to do. Files are read with ``allow_pickle=False``: an npz can hold no code.

A file is read field by field (:class:`ArrayFile`): an ``.npz`` archive one member at a
time, or a directory of ``<field>.npy`` files memory-mapped. :func:`scan_pairs` checks
the layout of PAIRS from array headers and small fields alone, so a calibration set
sharded over many files is checked before any feature is read, and features are
checked for NaN chunk by chunk as they stream (:func:`check_finite`).
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from harbridge.errors import InputError

__all__ = [
    "ArrayFile",
    "ImuWindows",
    "LabeledVideo",
    "Pairs",
    "PairsLayout",
    "TestSet",
    "check_finite",
    "load_labeled",
    "load_npz",
    "load_pairs",
    "load_test",
    "scan_pairs",
]

Float32Array = npt.NDArray[np.float32]

#: the first bytes of every .npz (a zip archive)
ZIP_MAGIC = b"PK\x03\x04"
#: fixed part of a zip member's local header; its name and extra field follow
ZIP_LOCAL_HEADER = 30
#: the built-in encoder's shortest window
MIN_WINDOW = 16
#: what a shard directory holds, for messages
SHARD_DIRECTORY = (
    "a shard directory holds video.npy and imu_features.npy (or imu.npy, sample_rate_hz.npy "
    "and channels.npy), and optionally subject.npy"
)


@dataclass(frozen=True)
class ImuWindows:
    """Raw IMU windows and what they mean.

    Attributes
    ----------
    windows : ndarray of shape (n, T, C) float32, physical units
    sample_rate_hz : float
    channels : tuple of str, length C
    units : tuple of str, length C (empty strings where the file gives none)
    """

    windows: Float32Array
    sample_rate_hz: float
    channels: tuple[str, ...]
    units: tuple[str, ...]


@dataclass(frozen=True)
class Pairs:
    """PAIRS: paired video features and IMU (features or raw windows)."""

    path: Path
    video: Float32Array
    imu_features: Float32Array | None
    imu: ImuWindows | None
    subject: npt.NDArray[Any] | None

    @property
    def imu_field(self) -> str:
        """The field the IMU side came from."""
        return "imu_features" if self.imu_features is not None else "imu"


@dataclass(frozen=True)
class PairsLayout:
    """What a PAIRS file holds, read from array headers and small fields only.

    Attributes
    ----------
    path : Path
    n_pairs : int
    video_dim : int
    imu_field : {"imu_features", "imu"}
    imu_shape : tuple of int
        ``(d_i,)`` for features, ``(T, C)`` for raw windows.
    sample_rate_hz : float or None
        Raw windows only, as are ``channels`` and ``units``.
    channels, units : tuple of str
    subjects : ndarray or None
        The distinct subjects, when the file has a ``subject`` field.
    """

    path: Path
    n_pairs: int
    video_dim: int
    imu_field: str
    imu_shape: tuple[int, ...]
    sample_rate_hz: float | None = None
    channels: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    subjects: npt.NDArray[Any] | None = None


@dataclass(frozen=True)
class LabeledVideo:
    """LABELED: video features with labels."""

    path: Path
    video: Float32Array
    label: npt.NDArray[np.int64]
    class_names: tuple[str, ...]


@dataclass(frozen=True)
class TestSet:
    """TEST: IMU (features or raw windows) with labels."""

    path: Path
    imu_features: Float32Array | None
    imu: ImuWindows | None
    label: npt.NDArray[np.int64]


def _unreadable(path: Path, exc: Exception) -> InputError:
    return InputError(
        path, "file", f"is not a readable .npz archive ({exc}); re-create it with numpy.savez."
    )


class ArrayFile:
    """A dataset file read field by field.

    An ``.npz`` archive gives one member at a time; a directory gives one ``<field>.npy``
    file per field. Fields of either kind, if not compressed (``numpy.savez`` does not
    compress), can also be memory-mapped, read from disk only as their rows are used.

    Parameters
    ----------
    path : str or Path

    Raises
    ------
    InputError
        Missing file, not an npz, truncated or corrupt, or an empty directory.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.is_directory = self.path.is_dir()
        if self.is_directory:
            self.fields = tuple(sorted(p.stem for p in self.path.glob("*.npy")))
            if not self.fields:
                raise InputError(self.path, "file", f"holds no .npy fields; {SHARD_DIRECTORY}.")
            return
        if not self.path.is_file():
            raise InputError(self.path, "file", "no such file; check the path.")
        with self.path.open("rb") as handle:
            magic = handle.read(len(ZIP_MAGIC))
        if magic != ZIP_MAGIC:
            raise InputError(
                self.path,
                "file",
                "is not a readable .npz archive (no zip header); save it with numpy.savez.",
            )
        try:
            with zipfile.ZipFile(self.path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise _unreadable(self.path, exc) from exc
        self.fields = tuple(sorted(name[:-4] for name in names if name.endswith(".npy")))

    def require(self, name: str) -> None:
        """Raise unless the file has field ``name``."""
        if name not in self.fields:
            present = ", ".join(self.fields) or "none"
            raise InputError(self.path, name, f"missing; the file holds: {present}.")

    def header(self, name: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
        """Shape and dtype of field ``name``, without reading its values."""
        self.require(name)
        try:
            if self.is_directory:
                array = np.load(self.path / f"{name}.npy", mmap_mode="r", allow_pickle=False)
                return tuple(array.shape), array.dtype
            with zipfile.ZipFile(self.path) as archive, archive.open(f"{name}.npy") as member:
                shape, _, dtype = _read_header(member)
                return tuple(shape), dtype
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise self._field_error(name, exc) from exc

    def read(self, name: str, *, mapped: bool = False) -> npt.NDArray[Any]:
        """The whole field ``name``, in memory, or read-only and memory-mapped if it can be.

        Parameters
        ----------
        mapped : bool
            Map ``.npy`` fields and uncompressed ``.npz`` members instead of reading them:
            rows are read from disk as they are used, and never copied.
        """
        self.require(name)
        try:
            if self.is_directory:
                values_npy: npt.NDArray[Any] = np.load(
                    self.path / f"{name}.npy", mmap_mode="r" if mapped else None, allow_pickle=False
                )
                return values_npy
            mapped_member = self._map_stored(name) if mapped else None
            if mapped_member is not None:
                return mapped_member
            with np.load(self.path, allow_pickle=False) as archive:
                values: npt.NDArray[Any] = archive[name]
                return values
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise self._field_error(name, exc) from exc

    def _map_stored(self, name: str) -> npt.NDArray[Any] | None:
        """Memory-map a member stored without compression (as numpy.savez writes it).

        Its bytes lie in the archive as they are, so they are read from disk only as rows
        are used, and never copied. Compressed or object members return None (read whole).
        """
        with zipfile.ZipFile(self.path) as archive:
            info = archive.getinfo(f"{name}.npy")
            if info.compress_type != zipfile.ZIP_STORED:
                return None
            with archive.open(info) as member:
                shape, fortran_order, dtype = _read_header(member)
                npy_header = member.tell()
        if dtype.hasobject or not shape or 0 in shape:
            return None
        with self.path.open("rb") as handle:
            handle.seek(info.header_offset)
            local = handle.read(ZIP_LOCAL_HEADER)
        name_length, extra_length = struct.unpack("<HH", local[26:30])
        offset = info.header_offset + ZIP_LOCAL_HEADER + name_length + extra_length + npy_header
        return np.memmap(
            self.path,
            dtype=dtype,
            mode="r",
            offset=offset,
            shape=tuple(shape),
            order="F" if fortran_order else "C",
        )

    def read_head(self, name: str, rows: int) -> npt.NDArray[Any]:
        """The first ``rows`` rows of field ``name``, reading no further into the file."""
        if self.is_directory:
            return np.array(self.read(name, mapped=True)[:rows])
        self.require(name)
        try:
            with zipfile.ZipFile(self.path) as archive, archive.open(f"{name}.npy") as member:
                shape, fortran_order, dtype = _read_header(member)
                if fortran_order or dtype.hasobject or not shape:
                    return np.array(self.read(name)[:rows])
                count = min(rows, shape[0])
                row_items = int(np.prod(shape[1:], dtype=np.int64))
                data = member.read(count * row_items * dtype.itemsize)
                return np.frombuffer(data, dtype=dtype).reshape(count, *shape[1:]).copy()
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise self._field_error(name, exc) from exc

    def _field_error(self, name: str, exc: Exception) -> InputError:
        if isinstance(exc, ValueError) and "pickle" in str(exc).lower():
            return InputError(
                self.path,
                "file",
                f"cannot be read without pickle ({exc}); store plain numeric and string arrays.",
            )
        if self.is_directory:
            return InputError(
                self.path,
                name,
                f"{name}.npy is not a readable array ({exc}); save it with numpy.save.",
            )
        return _unreadable(self.path, exc)


def _read_header(member: Any) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(member)
    return np.lib.format.read_array_header_2_0(member)


def load_npz(path: str | Path) -> dict[str, npt.NDArray[Any]]:
    """Read every array of an npz file into memory.

    Raises
    ------
    InputError
        Missing file, not an npz, truncated or corrupt, or holding pickled objects.
    """
    file = ArrayFile(path)
    if file.is_directory:
        raise InputError(file.path, "file", "is a directory; pass an .npz file.")
    return {name: file.read(name) for name in file.fields}


def check_layout(
    path: Path,
    name: str,
    header: tuple[tuple[int, ...], np.dtype[Any]],
    *,
    ndim: int,
    what: str,
) -> None:
    """Raise unless a numeric field has ``ndim`` dimensions, rows, and no empty axis.

    Parameters
    ----------
    header : (shape, dtype)
        From :meth:`ArrayFile.header`.
    """
    shape, dtype = header
    if dtype.kind not in "fiu":
        raise InputError(
            path, name, f"must be numeric, got dtype {dtype}; store {what} as float32."
        )
    if len(shape) != ndim:
        raise InputError(path, name, f"must be {ndim}-D {what}, got shape {shape}.")
    if shape[0] == 0:
        raise InputError(path, name, "has zero rows; the file holds no samples.")
    if any(size == 0 for size in shape[1:]):
        raise InputError(path, name, f"has an empty dimension, shape {shape}.")


def check_finite(
    path: Path, name: str, values: npt.NDArray[Any], first_row: int | None = None
) -> None:
    """Raise if ``values`` hold NaN or inf, naming the first bad index in the whole field.

    Parameters
    ----------
    values : ndarray of shape (b, ...)
        The whole field, or (with ``first_row``) a run of its rows.
    first_row : int, optional
        Row of the field where ``values`` start, when they are a chunk of it.
    """
    if values.dtype.kind != "f" or np.isfinite(values).all():
        return
    bad = ~np.isfinite(values)
    first = np.argwhere(bad)[0].tolist()
    where = ""
    if first_row is not None:
        first[0] += first_row
        where = f" in rows {first_row}..{first_row + values.shape[0] - 1}"
    raise InputError(
        path,
        name,
        f"holds {int(bad.sum())} NaN or infinite values{where} (first at index {first}); "
        "remove or repair those rows.",
    )


def _strings(
    file: ArrayFile, name: str, count: int | None, *, unique: bool = True
) -> tuple[str, ...]:
    shape, dtype = file.header(name)
    if dtype.kind not in "US" or len(shape) != 1:
        raise InputError(
            file.path, name, f"must be a 1-D string array, got dtype {dtype} shape {shape}."
        )
    values = tuple(str(v) for v in file.read(name).tolist())
    if count is not None and len(values) != count:
        raise InputError(file.path, name, f"has {len(values)} names for {count} columns.")
    if any(not v for v in values):
        raise InputError(file.path, name, f"names must be non-empty, got {list(values)}.")
    if unique and len(set(values)) != len(values):
        raise InputError(file.path, name, f"names must be unique, got {list(values)}.")
    return values


def _imu_meta(
    file: ArrayFile, shape: tuple[int, ...]
) -> tuple[float, tuple[str, ...], tuple[str, ...]]:
    """Sample rate, channel names and units of raw windows of shape (n, T, C)."""
    if shape[1] < MIN_WINDOW:
        raise InputError(
            file.path,
            "imu",
            f"windows of {shape[1]} samples are too short; the encoder needs T ≥ {MIN_WINDOW}.",
        )
    file.require("sample_rate_hz")
    rate = np.asarray(file.read("sample_rate_hz"))
    if (
        rate.dtype.kind not in "fiu"
        or rate.size != 1
        or not np.isfinite(rate).all()
        or float(rate.reshape(())) <= 0
    ):
        raise InputError(
            file.path,
            "sample_rate_hz",
            f"must be one positive number (samples per second), got {rate!r}.",
        )
    channels = _strings(file, "channels", shape[2])
    units = (
        _strings(file, "units", shape[2], unique=False)
        if "units" in file.fields
        else ("",) * len(channels)
    )
    return float(rate.reshape(())), channels, units


def _check_rows(path: Path, field: str, n: int, other: str, m: int) -> None:
    if n != m:
        raise InputError(
            path, field, f"has {n} rows but {other} has {m}; every row must be one pair."
        )


def _imu_layout(file: ArrayFile) -> tuple[str, tuple[int, ...]]:
    """Which IMU field the file holds, and its shape."""
    if "imu_features" in file.fields:
        header = file.header("imu_features")
        check_layout(file.path, "imu_features", header, ndim=2, what="IMU features (n, d_i)")
        return "imu_features", header[0]
    if "imu" in file.fields:
        header = file.header("imu")
        check_layout(file.path, "imu", header, ndim=3, what="raw IMU windows (n, T, C)")
        return "imu", header[0]
    present = ", ".join(file.fields) or "none"
    raise InputError(
        file.path,
        "imu_features",
        f"missing (and no raw 'imu' windows either); the file holds: {present}.",
    )


def scan_pairs(file: ArrayFile) -> PairsLayout:
    """Check the layout of PAIRS from headers and small fields; read no features.

    Raises
    ------
    InputError
        A missing or malformed field, mismatched row counts, or bad IMU metadata.
    """
    video_shape, video_dtype = file.header("video")
    check_layout(
        file.path, "video", (video_shape, video_dtype), ndim=2, what="video features (n, d_v)"
    )
    imu_field, imu_shape = _imu_layout(file)
    n = video_shape[0]
    _check_rows(file.path, imu_field, imu_shape[0], "video", n)
    rate, channels, units = _imu_meta(file, imu_shape) if imu_field == "imu" else (None, (), ())
    subjects = None
    if "subject" in file.fields:
        shape, dtype = file.header("subject")
        if len(shape) != 1 or dtype.kind not in "iuUS":
            raise InputError(
                file.path,
                "subject",
                f"must be a 1-D array of ids, got dtype {dtype} shape {shape}.",
            )
        _check_rows(file.path, "subject", shape[0], "video", n)
        subjects = np.unique(file.read("subject"))
    return PairsLayout(
        path=file.path,
        n_pairs=n,
        video_dim=video_shape[1],
        imu_field=imu_field,
        imu_shape=tuple(imu_shape[1:]),
        sample_rate_hz=rate,
        channels=channels,
        units=units,
        subjects=subjects,
    )


def _float32(file: ArrayFile, name: str) -> Float32Array:
    values = file.read(name)
    check_finite(file.path, name, values)
    return np.ascontiguousarray(values, dtype=np.float32)


def load_pairs(path: str | Path) -> Pairs:
    """Read PAIRS: ``video`` (n, d_v) and ``imu_features`` (n, d_i) or raw ``imu`` (n, T, C)."""
    file = ArrayFile(path)
    layout = scan_pairs(file)
    video = _float32(file, "video")
    imu_values = _float32(file, layout.imu_field)
    subject = np.asarray(file.read("subject")) if layout.subjects is not None else None
    if layout.imu_field == "imu_features":
        return Pairs(file.path, video, imu_values, None, subject)
    assert layout.sample_rate_hz is not None
    imu = ImuWindows(imu_values, layout.sample_rate_hz, layout.channels, layout.units)
    return Pairs(file.path, video, None, imu, subject)


def _labels(file: ArrayFile, n: int, n_classes: int | None) -> npt.NDArray[np.int64]:
    shape, dtype = file.header("label")
    if dtype.kind not in "iu" or len(shape) != 1:
        raise InputError(
            file.path,
            "label",
            f"must be a 1-D integer array, got dtype {dtype} shape {shape}.",
        )
    _check_rows(file.path, "label", shape[0], "the data", n)
    label = np.asarray(file.read("label"))
    if n_classes is not None and label.size and (label.min() < 0 or label.max() >= n_classes):
        raise InputError(
            file.path,
            "label",
            f"values must lie in [0, {n_classes}) for {n_classes} classes, found "
            f"{label.min()}..{label.max()}.",
        )
    return label.astype(np.int64)


def _numeric(file: ArrayFile, name: str, ndim: int, what: str) -> Float32Array:
    check_layout(file.path, name, file.header(name), ndim=ndim, what=what)
    return _float32(file, name)


def load_labeled(path: str | Path) -> LabeledVideo:
    """Read LABELED: ``video`` (m, d_v), ``label`` (m,) in [0, K), ``class_names`` (K,)."""
    file = ArrayFile(path)
    video = _numeric(file, "video", 2, "video features (m, d_v)")
    class_names = _strings(file, "class_names", None)
    label = _labels(file, video.shape[0], len(class_names))
    missing = sorted(set(range(len(class_names))) - set(label.tolist()))
    if missing:
        names = ", ".join(class_names[c] for c in missing)
        raise InputError(
            file.path,
            "label",
            f"no labelled samples for class {names}; every class needs at least one.",
        )
    return LabeledVideo(file.path, video, label, class_names)


def load_test(path: str | Path, n_classes: int) -> TestSet:
    """Read TEST: ``imu_features`` (N, d_i) or raw ``imu`` (N, T, C), and ``label`` (N,)."""
    file = ArrayFile(path)
    imu_field, imu_shape = _imu_layout(file)
    meta = _imu_meta(file, imu_shape) if imu_field == "imu" else None
    values = _float32(file, imu_field)
    label = _labels(file, values.shape[0], n_classes)
    if meta is None:
        return TestSet(file.path, values, None, label)
    return TestSet(file.path, None, ImuWindows(values, *meta), label)
