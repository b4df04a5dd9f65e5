"""What the daemon remembers about each device it has heard from.

A :class:`DeviceState` is created when a device's first samples are windowed and holds
its prediction counter, its smoother, and whether its samples carry their own times.
The :class:`DeviceTable` holds no more states than the windower pool holds windowers
(``[windowing] max_devices``), so made-up device ids cannot grow memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from harbridge.runtime.smoothing import Smoother

__all__ = ["DeviceState", "DeviceTable"]


@dataclass(slots=True)
class DeviceState:
    """One device's state.

    Attributes
    ----------
    smoother : Smoother
        Smooths the device's class probabilities over windows.
    seq : int
        ``seq`` of the device's next prediction.
    untimed : bool
        Whether the device's latest samples came without times, so that they were
        timestamped on arrival with the daemon's monotonic clock.
    last_seen : float
        Monotonic time of the device's latest batch, seconds.
    """

    smoother: Smoother
    seq: int = 0
    untimed: bool = False
    last_seen: float = 0.0


class DeviceTable:
    """Device id → :class:`DeviceState`, created on first sight.

    Parameters
    ----------
    smoothing : int or float
        ``[postprocess] smoothing``, see :meth:`Smoother.from_setting`.
    """

    def __init__(self, smoothing: int | float) -> None:
        self.smoothing = smoothing
        self._states: dict[str, DeviceState] = {}

    def __len__(self) -> int:
        return len(self._states)

    def __getitem__(self, device: str) -> DeviceState:
        return self._states[device]

    def seen(self, device: str, now: float, untimed: bool) -> bool:
        """Note a batch of ``device`` at monotonic time ``now``; return True if it is new."""
        state = self._states.get(device)
        new = state is None
        if state is None:
            state = self._states[device] = DeviceState(Smoother.from_setting(self.smoothing))
        state.last_seen = now
        state.untimed = untimed
        return new

    def active(self, since: float) -> int:
        """Devices whose latest batch arrived at monotonic time ``since`` or later."""
        return sum(state.last_seen >= since for state in self._states.values())
