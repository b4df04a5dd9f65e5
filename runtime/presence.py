"""Retained ``online``/``offline`` status of each device the daemon serves.

A device is announced ``online`` (retained, on ``<prefix>/<device>/status``) when its
first samples arrive, and ``offline`` when the daemon stops cleanly. A broker that
restarts without persistence forgets retained messages, so on every connection of the
publisher (:meth:`~harbridge.runtime.publisher.Publisher.on_connect`) each device's
current status is published again. The daemon's own status, with its last
will, is the :class:`~harbridge.runtime.publisher.Publisher`'s; a device whose id is the
daemon's own shares that status and is not announced separately.
"""

from __future__ import annotations

import time
from typing import Literal

from harbridge.runtime.payloads import status_payload, status_topic
from harbridge.runtime.publisher import Publisher

__all__ = ["Presence"]

State = Literal["online", "offline"]


class Presence:
    """Announces devices through a publisher.

    Parameters
    ----------
    publisher : Publisher
        The daemon's publisher (its device id, topic prefix and model are used).
    """

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self._states: dict[str, State] = {}
        publisher.on_connect(self._republish)

    def online(self, device: str) -> None:
        """Announce a device seen for the first time."""
        if device != self.publisher.device:
            self._publish(device, "online")

    def offline_all(self) -> None:
        """Announce every device offline (the daemon is stopping)."""
        for device in list(self._states):
            self._publish(device, "offline")

    def _republish(self) -> None:
        for device, state in self._states.items():
            self._publish(device, state)

    def _publish(self, device: str, state: State) -> None:
        self._states[device] = state
        publisher = self.publisher
        payload = status_payload(device, state, model=publisher.model, t=time.time())
        publisher.publish(status_topic(publisher.topic_prefix, device), payload, retain=True)
