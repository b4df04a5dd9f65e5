"""Reading the dataset files of DESIGN §3 (PAIRS, LABELED, TEST) with clear errors.

Every problem is an :class:`~harbridge.errors.InputError` naming the file, the field and
what to do. Files are read with ``allow_pickle=False``: an npz can hold no code.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from harbridge.errors import InputError

__all__ = [
    "ImuWindows",
    "LabeledVideo",
    "Pairs",
    "TestSet",
    "load_labeled",
    "load_npz",
    "load_pairs",
    "load_test",
]

Float32Array = npt.NDArray[np.float32]

#: the first bytes of every .npz (a zip archive)
ZIP_MAGIC = b"PK\x03\x04"
#: the built-in encoder's shortest window
MIN_WINDOW = 16


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


def load_npz(path: str | Path) -> dict[str, npt.NDArray[Any]]:
    """Read every array of an npz file into memory.

    Raises
    ------
    InputError
        Missing file, not an npz, truncated or corrupt, or holding pickled objects.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file", "no such file; check the path.")
    with path.open("rb") as handle:
        magic = handle.read(len(ZIP_MAGIC))
    if magic != ZIP_MAGIC:
        raise InputError(
            path,
            "file",
            "is not a readable .npz archive (no zip header); save it with numpy.savez.",
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise InputError(
            path, "file", f"is not a readable .npz archive ({exc}); re-create it with numpy.savez."
        ) from exc
    except ValueError as exc:
        raise InputError(
            path,
            "file",
            f"cannot be read without pickle ({exc}); store plain numeric and string arrays.",
        ) from exc


def _field(data: dict[str, npt.NDArray[Any]], path: Path, name: str) -> npt.NDArray[Any]:
    if name not in data:
        present = ", ".join(sorted(data)) or "none"
        raise InputError(path, name, f"missing; the file holds: {present}.")
    return data[name]


def _numeric(
    data: dict[str, npt.NDArray[Any]], path: Path, name: str, ndim: int, what: str
) -> Float32Array:
    array = _field(data, path, name)
    if array.dtype.kind not in "fiu":
        raise InputError(
            path, name, f"must be numeric, got dtype {array.dtype}; store {what} as float32."
        )
    if array.ndim != ndim:
        raise InputError(path, name, f"must be {ndim}-D {what}, got shape {array.shape}.")
    if array.shape[0] == 0:
        raise InputError(path, name, "has zero rows; the file holds no samples.")
    if any(size == 0 for size in array.shape[1:]):
        raise InputError(path, name, f"has an empty dimension, shape {array.shape}.")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.isfinite(array)))
        first = np.argwhere(~np.isfinite(array))[0].tolist()
        raise InputError(
            path,
            name,
            f"holds {bad} NaN or infinite values (first at index {first}); remove or repair "
            "those rows.",
        )
    return np.ascontiguousarray(array, dtype=np.float32)


def _strings(
    data: dict[str, npt.NDArray[Any]],
    path: Path,
    name: str,
    count: int | None,
    *,
    unique: bool = True,
) -> tuple[str, ...]:
    array = _field(data, path, name)
    if array.dtype.kind not in "US" or array.ndim != 1:
        raise InputError(
            path, name, f"must be a 1-D string array, got dtype {array.dtype} shape {array.shape}."
        )
    values = tuple(str(v) for v in array.tolist())
    if count is not None and len(values) != count:
        raise InputError(path, name, f"has {len(values)} names for {count} columns.")
    if any(not v for v in values):
        raise InputError(path, name, f"names must be non-empty, got {list(values)}.")
    if unique and len(set(values)) != len(values):
        raise InputError(path, name, f"names must be unique, got {list(values)}.")
    return values


def _imu_windows(data: dict[str, npt.NDArray[Any]], path: Path) -> ImuWindows:
    windows = _numeric(data, path, "imu", 3, "raw IMU windows (n, T, C)")
    if windows.shape[1] < MIN_WINDOW:
        raise InputError(
            path,
            "imu",
            f"windows of {windows.shape[1]} samples are too short; the encoder needs T ≥ "
            f"{MIN_WINDOW}.",
        )
    rate = _field(data, path, "sample_rate_hz")
    if (
        rate.dtype.kind not in "fiu"
        or rate.size != 1
        or not np.isfinite(rate).all()
        or float(rate.reshape(())) <= 0
    ):
        raise InputError(
            path,
            "sample_rate_hz",
            f"must be one positive number (samples per second), got {rate!r}.",
        )
    channels = _strings(data, path, "channels", windows.shape[2])
    units = (
        _strings(data, path, "units", windows.shape[2], unique=False)
        if "units" in data
        else ("",) * len(channels)
    )
    return ImuWindows(windows, float(rate.reshape(())), channels, units)


def _imu_side(
    data: dict[str, npt.NDArray[Any]], path: Path
) -> tuple[Float32Array | None, ImuWindows | None]:
    if "imu_features" in data:
        return _numeric(data, path, "imu_features", 2, "IMU features (n, d_i)"), None
    if "imu" in data:
        return None, _imu_windows(data, path)
    present = ", ".join(sorted(data)) or "none"
    raise InputError(
        path,
        "imu_features",
        f"missing (and no raw 'imu' windows either); the file holds: {present}.",
    )


def _check_rows(path: Path, field: str, n: int, other: str, m: int) -> None:
    if n != m:
        raise InputError(
            path, field, f"has {n} rows but {other} has {m}; every row must be one pair."
        )


def load_pairs(path: str | Path) -> Pairs:
    """Read PAIRS: ``video`` (n, d_v) and ``imu_features`` (n, d_i) or raw ``imu`` (n, T, C)."""
    path = Path(path)
    data = load_npz(path)
    video = _numeric(data, path, "video", 2, "video features (n, d_v)")
    imu_features, imu = _imu_side(data, path)
    n_imu = (imu_features if imu_features is not None else imu.windows).shape[0]  # type: ignore[union-attr]
    _check_rows(
        path, "imu_features" if imu_features is not None else "imu", n_imu, "video", video.shape[0]
    )
    subject = None
    if "subject" in data:
        subject = data["subject"]
        if subject.ndim != 1 or subject.dtype.kind not in "iuUS":
            raise InputError(
                path,
                "subject",
                f"must be a 1-D array of ids, got dtype {subject.dtype} shape {subject.shape}.",
            )
        _check_rows(path, "subject", subject.shape[0], "video", video.shape[0])
    return Pairs(path, video, imu_features, imu, subject)


def _labels(
    data: dict[str, npt.NDArray[Any]], path: Path, n: int, n_classes: int | None
) -> npt.NDArray[np.int64]:
    label = _field(data, path, "label")
    if label.dtype.kind not in "iu" or label.ndim != 1:
        raise InputError(
            path,
            "label",
            f"must be a 1-D integer array, got dtype {label.dtype} shape {label.shape}.",
        )
    _check_rows(path, "label", label.shape[0], "the data", n)
    if n_classes is not None and label.size and (label.min() < 0 or label.max() >= n_classes):
        raise InputError(
            path,
            "label",
            f"values must lie in [0, {n_classes}) for {n_classes} classes, found "
            f"{label.min()}..{label.max()}.",
        )
    return label.astype(np.int64)


def load_labeled(path: str | Path) -> LabeledVideo:
    """Read LABELED: ``video`` (m, d_v), ``label`` (m,) in [0, K), ``class_names`` (K,)."""
    path = Path(path)
    data = load_npz(path)
    video = _numeric(data, path, "video", 2, "video features (m, d_v)")
    class_names = _strings(data, path, "class_names", None)
    label = _labels(data, path, video.shape[0], len(class_names))
    missing = sorted(set(range(len(class_names))) - set(label.tolist()))
    if missing:
        names = ", ".join(class_names[c] for c in missing)
        raise InputError(
            path, "label", f"no labelled samples for class {names}; every class needs at least one."
        )
    return LabeledVideo(path, video, label, class_names)


def load_test(path: str | Path, n_classes: int) -> TestSet:
    """Read TEST: ``imu_features`` (N, d_i) or raw ``imu`` (N, T, C), and ``label`` (N,)."""
    path = Path(path)
    data = load_npz(path)
    imu_features, imu = _imu_side(data, path)
    n = (imu_features if imu_features is not None else imu.windows).shape[0]  # type: ignore[union-attr]
    return TestSet(path, imu_features, imu, _labels(data, path, n, n_classes))
