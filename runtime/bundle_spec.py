"""What the daemon needs to know about a bundle, read from its verified manifest.

:func:`load_bundle_spec` checks every file's sha256 (through
:func:`harbridge.calibration.bundle.load_manifest`), then that the bundle can serve a
stream of raw IMU samples: it was calibrated on raw windows (not on precomputed
features), names its channels, rate, window and hop, and has no class called
``"unknown"``, the label the daemon publishes for out-of-distribution windows.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harbridge.calibration.bundle import MANIFEST, load_manifest
from harbridge.errors import InputError
from harbridge.runtime.payloads import model_id
from harbridge.runtime.smoothing import UNKNOWN

__all__ = ["BundleSpec", "load_bundle_spec"]


@dataclass(frozen=True, slots=True)
class BundleSpec:
    """The stream contract of a bundle.

    Attributes
    ----------
    path : Path
        The bundle folder.
    classes : tuple of str
        Class names, in the order of the pipeline's ``probs``.
    rate_hz : float
        Sample rate the windows are resampled to.
    window, hop : int
        Samples per window, and between the starts of consecutive windows.
    channels : tuple of str
        Channel names, in the order of the window's columns.
    units : tuple of str
        Unit of each channel as calibrated (``""`` where the data gave none).
    ood_threshold : float or None
        Out-of-distribution score above which a window is "unknown"; None if the bundle
        has none.
    model : str
        :func:`harbridge.runtime.payloads.model_id`: the folder name and the first
        digits of the manifest's sha256, which covers every file's sha256.
    """

    path: Path
    classes: tuple[str, ...]
    rate_hz: float
    window: int
    hop: int
    channels: tuple[str, ...]
    units: tuple[str, ...]
    ood_threshold: float | None
    model: str

    @property
    def unit_of(self) -> dict[str, str]:
        """Channel name → unit as calibrated."""
        return dict(zip(self.channels, self.units, strict=True))


def load_bundle_spec(bundle: str | Path) -> BundleSpec:
    """Verify a bundle and read its stream contract.

    Parameters
    ----------
    bundle : str or path
        A folder written by ``harbridge calibrate``.

    Raises
    ------
    InputError
        Not a bundle, a file that does not match its sha256, a bundle calibrated on IMU
        features, a class named "unknown", or a missing or malformed ``imu`` entry.
    """
    bundle = Path(bundle)
    manifest = load_manifest(bundle)
    where = bundle / MANIFEST
    classes = manifest.get("classes")
    if (
        not isinstance(classes, list)
        or not classes
        or not all(isinstance(name, str) and name for name in classes)
    ):
        raise InputError(where, "classes", "must list the class names; re-export the bundle.")
    if UNKNOWN in classes:
        raise InputError(
            where,
            "classes",
            f"a class is named {UNKNOWN!r}, the label published for windows unlike every "
            "class; rename that class in the labelled data and calibrate again.",
        )
    imu = manifest.get("imu")
    if not isinstance(imu, dict) or imu.get("input") != "imu":
        raise InputError(
            where,
            "imu.input",
            "the bundle was calibrated on precomputed IMU features, but the daemon reads raw "
            "IMU samples; calibrate from raw windows (PAIRS.npz with 'imu', 'sample_rate_hz' "
            "and 'channels').",
        )
    channels = _names(imu, "channels", where)
    units = (
        _names(imu, "units", where, allow_empty=True) if "units" in imu else ("",) * len(channels)
    )
    if len(units) != len(channels):
        raise InputError(
            where, "imu.units", f"has {len(units)} entries for {len(channels)} channels."
        )
    return BundleSpec(
        path=bundle,
        classes=tuple(classes),
        rate_hz=_positive(imu, "sample_rate_hz", where),
        window=_count(imu, "window", where),
        hop=_count(imu, "hop", where),
        channels=channels,
        units=units,
        ood_threshold=_threshold(manifest.get("head"), where),
        model=model_id(bundle.resolve().name, hashlib.sha256(where.read_bytes()).hexdigest()),
    )


def _names(
    imu: dict[str, Any], key: str, where: Path, allow_empty: bool = False
) -> tuple[str, ...]:
    value = imu.get(key)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(name, str) and (allow_empty or name) for name in value)
    ):
        raise InputError(where, f"imu.{key}", "must be a list of names; re-export the bundle.")
    return tuple(value)


def _positive(imu: dict[str, Any], key: str, where: Path) -> float:
    value = imu.get(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value > 0)
    ):
        raise InputError(where, f"imu.{key}", f"must be a positive number, got {value!r}.")
    return float(value)


def _count(imu: dict[str, Any], key: str, where: Path) -> int:
    value = imu.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(where, f"imu.{key}", f"must be a positive integer, got {value!r}.")
    return value


def _threshold(head: object, where: Path) -> float | None:
    value = head.get("ood_threshold") if isinstance(head, dict) else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InputError(
            where, "head.ood_threshold", f"must be a positive number or null, got {value!r}."
        )
    return float(value)
