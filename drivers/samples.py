"""The unit of data every driver produces: a batch of named IMU samples from one device."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["SampleBatch"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SampleBatch:
    """Consecutive samples of one device, column-oriented and named.

    Attributes
    ----------
    device : str
        Device id (from the config, or the ``+`` segment of an MQTT topic).
    t : ndarray of shape (n,) float64, or None
        Sample times in seconds on the device's clock; ``None`` when the source has no
        time column and samples are to be timestamped on arrival.
    channels : mapping of str to ndarray of shape (n,) float64
        One array per channel, named as in the bundle (``ax``, ``gy``, ...), in the
        units the bundle expects (m/s², rad/s).
    """

    device: str
    t: FloatArray | None
    channels: Mapping[str, FloatArray]

    def __len__(self) -> int:
        return 0 if not self.channels else len(next(iter(self.channels.values())))
