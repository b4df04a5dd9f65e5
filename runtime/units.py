"""Physical units of IMU channels: spellings compared, and a source's units checked.

A bundle records the unit of each channel it was calibrated on (``imu.units`` in the
manifest). A source that knows the units it delivers (a WitMotion sensor sends m/s² and
rad/s) is checked against them when the daemon starts: the pipeline would silently
misclassify samples off by a factor of 9.81 or 57.3. Sources that do not know their units
(CSV, JSON lines, MQTT) are taken to deliver the bundle's.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike

from harbridge.errors import InputError

__all__ = ["check_units", "same_unit"]

# Spellings of one unit, after lower-casing and removing spaces, mapped to one of them.
_ALIASES = {
    "m/s^2": "m/s2",
    "m/s²": "m/s2",
    "m/s/s": "m/s2",
    "ms-2": "m/s2",
    "ms^-2": "m/s2",
    "rad/sec": "rad/s",
    "rads-1": "rad/s",
    "rads^-1": "rad/s",
    "°/s": "deg/s",
    "dps": "deg/s",
    "deg/sec": "deg/s",
}


def _canonical(unit: str) -> str:
    text = "".join(unit.split()).lower()
    return _ALIASES.get(text, text)


def same_unit(a: str, b: str) -> bool:
    """Whether two spellings name the same unit (``m/s^2`` and ``m/s²`` do)."""
    return _canonical(a) == _canonical(b)


def check_units(
    expected: Mapping[str, str],
    delivered: Mapping[str, str],
    source: str | PathLike[str],
    field: str,
    what: str,
) -> None:
    """Refuse a source whose units differ from those a bundle was calibrated on.

    Parameters
    ----------
    expected : mapping of str to str
        Channel → unit of the bundle (``""``: unknown, not checked).
    delivered : mapping of str to str
        Channel → unit the source delivers; channels it does not know are not checked.
    source, field : str
        The config file and key of the source, for the error.
    what : str
        The source in the user's words, e.g. "a WitMotion sensor".

    Raises
    ------
    InputError
        Naming each channel whose units differ.
    """
    wrong = [
        f"{name} in {delivered[name]} (bundle: {unit})"
        for name, unit in expected.items()
        if unit and name in delivered and not same_unit(unit, delivered[name])
    ]
    if wrong:
        raise InputError(
            source,
            field,
            f"{what} sends {', '.join(wrong)}; calibrate the bundle on data in the sensor's "
            "units, or convert the recordings before calibrating.",
        )
