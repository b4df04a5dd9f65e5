"""What the built-in IMU feature encoder computes, and the names of the features it returns.

An :class:`ImuEncoderSpec` fixes the sample rate, the window length, the channel names and
the frequency bands, and switches feature groups on or off. Everything downstream (the numpy
twin in :mod:`harbridge.models.imu_features`, the ONNX graph in
:mod:`harbridge.models.imu_encoder`) derives its layout from the spec alone, so the feature
count and order depend only on the spec.

Features, in output order:

1. Per signal, signal-major: the time statistics ``mean``, ``min``, ``max`` (group
   ``time_stats``); then, from the Hann-windowed periodogram of the centred window over the
   frequencies the bands cover (group ``band_energy``), the log mean square ``energy``, the
   log mean square of the derivative ``jerk_energy`` ((units/s)², the first difference times
   the rate) and one log mean square ``band_<lo>-<hi>Hz`` per active band. Signals are the raw
   channels (group ``axes``), then the Euclidean norm of every complete triad (group
   ``magnitude``: ``acc_mag``, ``gyro_mag``), which does not change when the sensor is worn
   rotated.
2. Correlations ``corr.<a>_<b>`` between the axes of each triad (group ``correlation``): the
   cross-power of the two axes over the bands' frequencies over the geometric mean of their
   powers, a Pearson correlation of the tapered, band-limited window.

Ablation is a one-liner: ``dataclasses.replace(spec, magnitude=False)``; :data:`FEATURE_GROUPS`
lists the switches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import NamedTuple

__all__ = [
    "CORRELATION_FLOOR",
    "DEFAULT_BANDS_HZ",
    "FEATURE_GROUPS",
    "MIN_WINDOW",
    "SPECTRAL_STATS",
    "TIME_STATS",
    "ImuEncoderSpec",
    "Triad",
    "active_bands",
    "correlation_pairs",
    "feature_names",
    "find_triads",
    "signal_names",
]

#: Bands (Hz) that separate posture (< 0.5 Hz), gait and gestures (0.5-3 Hz), brisk motion
#: (3-8 Hz) and tremor or impacts (> 8 Hz).
DEFAULT_BANDS_HZ: tuple[tuple[float, float], ...] = (
    (0.0, 0.5),
    (0.5, 1.0),
    (1.0, 2.0),
    (2.0, 3.0),
    (3.0, 5.0),
    (5.0, 8.0),
    (8.0, 12.0),
    (12.0, 20.0),
)

#: The feature-group switches of :class:`ImuEncoderSpec`.
FEATURE_GROUPS = ("axes", "magnitude", "time_stats", "band_energy", "correlation")

#: Time statistics per signal, in output order.
TIME_STATS = ("mean", "min", "max")

#: Log mean squares per signal over the bands' frequencies, before the bands, in output order.
SPECTRAL_STATS = ("energy", "jerk_energy")

#: Shortest window: below 16 samples the lowest bands hold no more than a bin or two.
MIN_WINDOW = 16

#: Correlations divide by sqrt((E_a + α)(E_b + α)), E the mean square over the bands (squared
#: units). A channel that does not vary then correlates 0 instead of 0/0. The spectral basis
#: has no constant component, so the float32 rounding of the window mean (a constant of a few
#: 1e-8 |mean|) adds no power and cannot make a constant channel correlate ±1.
CORRELATION_FLOOR = 1e-12

# Short triad prefixes spelled out for feature names: ax ay az -> acc_mag.
_TRIAD_STEMS = {"a": "acc", "g": "gyro", "m": "magn"}


class Triad(NamedTuple):
    """Three channels that are the x, y, z axes of one sensor.

    Attributes
    ----------
    name : str
        Name of the triad's magnitude signal, e.g. ``"acc_mag"``.
    indices : tuple of 3 int
        Positions of the x, y and z channels in the channel list.
    """

    name: str
    indices: tuple[int, int, int]


@dataclass(frozen=True)
class ImuEncoderSpec:
    """Settings of the built-in IMU feature encoder.

    Parameters
    ----------
    sample_rate_hz : float
        Sample rate of the windows, > 0.
    window : int
        Samples per window T, at least :data:`MIN_WINDOW`.
    channels : tuple of str
        Channel names in window order (``ax ay az gx gy gz``); at least one, unique.
    bands_hz : tuple of (float, float)
        Frequency bands ``(lo, hi)`` in Hz with ``0 <= lo < hi``. Bands are in Hz, not in DFT
        bins, so the same bands mean the same thing at any rate and window. A band starting at
        or above the Nyquist frequency is dropped; one straddling it keeps its part below.
    axes : bool
        Per-signal features of every raw channel.
    magnitude : bool
        Per-signal features of the norm of every complete triad.
    time_stats : bool
        The :data:`TIME_STATS` of every signal.
    band_energy : bool
        The :data:`SPECTRAL_STATS` and log band energies of every signal.
    correlation : bool
        Correlations between the axes of every triad.
    energy_floor : float
        Added to every mean square (squared signal units, (units/s)² for ``jerk_energy``)
        before the log; a mean square far below it (sensor noise) no longer moves the feature.

    Raises
    ------
    ValueError
        If a setting is out of range, or the settings leave no feature at all.

    Notes
    -----
    Sequences are stored as tuples and numbers as Python ``float`` / ``int``, so a spec built
    from numpy values or lists equals, hashes and serialises like one built from literals.
    """

    sample_rate_hz: float
    window: int
    channels: tuple[str, ...]
    bands_hz: tuple[tuple[float, float], ...] = DEFAULT_BANDS_HZ
    axes: bool = True
    magnitude: bool = True
    time_stats: bool = True
    band_energy: bool = True
    correlation: bool = True
    energy_floor: float = 1e-6

    def __post_init__(self) -> None:
        rate = _positive_real("sample_rate_hz", self.sample_rate_hz)
        window = _window(self.window)
        given: object = self.channels
        if isinstance(given, str):
            raise ValueError(f"channels must be a sequence of names, got the string {given!r}")
        channels = tuple(self.channels)
        if not channels:
            raise ValueError("channels is empty; name at least one IMU channel, e.g. 'ax'")
        for name in channels:
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"channel names must be non-empty strings, got {name!r}")
        channels = tuple(str(name) for name in channels)
        if len(set(channels)) != len(channels):
            raise ValueError(f"channel names repeat in {list(channels)}; give each a unique name")
        bands = tuple(_band(band) for band in self.bands_hz)
        for group in FEATURE_GROUPS:
            if not isinstance(getattr(self, group), bool):
                raise ValueError(f"{group} must be True or False, got {getattr(self, group)!r}")
        floor = _positive_real("energy_floor", self.energy_floor)
        object.__setattr__(self, "sample_rate_hz", rate)
        object.__setattr__(self, "window", window)
        object.__setattr__(self, "channels", channels)
        object.__setattr__(self, "bands_hz", bands)
        object.__setattr__(self, "energy_floor", floor)
        spectral = (self.band_energy and signal_names(self)) or correlation_pairs(self)
        if spectral and not active_bands(self):
            raise ValueError(
                f"no band of {list(bands)} starts below the Nyquist frequency "
                f"{self.nyquist_hz:g} Hz; add lower bands or turn band_energy and correlation off"
            )
        names = feature_names(self)
        if not names:
            raise ValueError(
                f"these settings give no feature for channels {list(channels)}; "
                "turn on axes, or magnitude and correlation with complete x/y/z triads"
            )
        if len(set(names)) != len(names):
            raise ValueError(
                f"channel names {list(channels)} give duplicate feature names; rename the "
                "channels so that none is also a triad magnitude name such as 'acc_mag'"
            )

    @property
    def nyquist_hz(self) -> float:
        """Half the sample rate: the highest frequency a window can show."""
        return self.sample_rate_hz / 2.0


def _window(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"window must be an integer number of samples, got {value!r}")
    if value < MIN_WINDOW:
        raise ValueError(
            f"window is {value} samples; the IMU encoder needs at least {MIN_WINDOW}. "
            "Use a longer window or a higher sample rate."
        )
    return int(value)


def _positive_real(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{field} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0.0:
        raise ValueError(f"{field} must be finite and > 0, got {number:g}")
    return number


def _band(band: object) -> tuple[float, float]:
    try:
        lo, hi = (float(edge) for edge in band)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ValueError(f"each band must be a pair (lo_hz, hi_hz), got {band!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo < hi):
        raise ValueError(f"band ({lo:g}, {hi:g}) Hz must satisfy 0 <= lo < hi, both finite")
    return lo, hi


def find_triads(channels: tuple[str, ...]) -> tuple[Triad, ...]:
    """Complete x/y/z triads among the channels, in the order of their x channel.

    A triad is three channels whose names differ only in a final ``x``, ``y``, ``z``
    (``ax ay az``, ``gyro_x gyro_y gyro_z``). Its magnitude is named after the common prefix,
    with ``a``, ``g``, ``m`` spelled out: ``acc_mag``, ``gyro_mag``, ``magn_mag``.

    Parameters
    ----------
    channels : tuple of str
        Channel names.

    Returns
    -------
    tuple of Triad
    """
    position = {name: i for i, name in enumerate(channels)}
    triads = []
    for name in channels:
        if not name.endswith(("x", "X")):
            continue
        prefix, x = name[:-1], name[-1]
        y, z = ("y", "z") if x == "x" else ("Y", "Z")
        if prefix + y in position and prefix + z in position:
            stem = prefix.rstrip("_.- ")
            label = _TRIAD_STEMS.get(stem, stem or "xyz")
            indices = (position[name], position[prefix + y], position[prefix + z])
            triads.append(Triad(f"{label}_mag", indices))
    return tuple(triads)


def signal_names(spec: ImuEncoderSpec) -> tuple[str, ...]:
    """Names of the signals that get per-signal features: raw channels, then magnitudes."""
    raw = spec.channels if spec.axes else ()
    magnitudes = tuple(t.name for t in find_triads(spec.channels)) if spec.magnitude else ()
    return raw + magnitudes


def active_bands(spec: ImuEncoderSpec) -> tuple[tuple[float, float], ...]:
    """The bands of the spec that start below the Nyquist frequency, in spec order."""
    return tuple((lo, hi) for lo, hi in spec.bands_hz if lo < spec.nyquist_hz)


def correlation_pairs(spec: ImuEncoderSpec) -> tuple[tuple[int, int], ...]:
    """Channel index pairs (x-y, x-z, y-z of each triad) whose correlation is a feature."""
    if not spec.correlation:
        return ()
    pairs = []
    for triad in find_triads(spec.channels):
        x, y, z = triad.indices
        pairs += [(x, y), (x, z), (y, z)]
    return tuple(pairs)


def feature_names(spec: ImuEncoderSpec) -> list[str]:
    """Names of the encoder's output features, in output order.

    Parameters
    ----------
    spec : ImuEncoderSpec

    Returns
    -------
    list of str
        ``F`` names such as ``ax.mean``, ``ax.band_1-2Hz``, ``acc_mag.energy``, ``corr.ax_ay``.
    """
    per_signal = list(TIME_STATS) if spec.time_stats else []
    if spec.band_energy:
        per_signal += list(SPECTRAL_STATS)
        per_signal += [f"band_{lo:g}-{hi:g}Hz" for lo, hi in active_bands(spec)]
    names = [f"{signal}.{stat}" for signal in signal_names(spec) for stat in per_signal]
    channels = spec.channels
    names += [f"corr.{channels[a]}_{channels[b]}" for a, b in correlation_pairs(spec)]
    return names
