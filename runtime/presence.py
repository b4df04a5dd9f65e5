"""Retained ``online``/``offline`` status of each device the daemon serves.

A device is announced ``online`` (retained, on ``<prefix>/<device>/status``) when its
first samples arrive, and ``offline`` when the daemon stops cleanly. A broker that
restarts without persistence forgets retained messages, so after every reconnection of
the publisher the statuses are published again. The daemon's own status, with its last
will, is the :class:`~harbridge.runtime.publisher.Publisher`'s; a device whose id is the
daemon's own shares that status and is not announced separately.
"""

from __future__ import annotations

import time
from typing import Literal

from harbridge.runtime.payloads import status_payload, status_topic
from harbridge.runtime.publisher import Publisher

__all__ = ["Presence"]


class Presence:
    """Announces devices through a publisher.

    Parameters
    ----------
    publisher : Publisher
        The daemon's publisher (its device id, topic prefix and model are used).
    """

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self._online: set[str] = set()
        self._reconnects = 0

    def online(self, device: str) -> None:
        """Announce a device seen for the first time."""
        if device != self.publisher.device:
            self._online.add(device)
            self._publish(device, "online")

    def refresh(self) -> None:
        """Publish every status again if the publisher reconnected since the last call."""
        reconnects = self.publisher.counters.reconnects
        if reconnects != self._reconnects:
            self._reconnects = reconnects
            for device in self._online:
                self._publish(device, "online")

    def offline_all(self) -> None:
        """Announce every device offline (the daemon is stopping)."""
        for device in self._online:
            self._publish(device, "offline")

    def _publish(self, device: str, state: Literal["online", "offline"]) -> None:
        publisher = self.publisher
        payload = status_payload(device, state, model=publisher.model, t=time.time())
        publisher.publish(status_topic(publisher.topic_prefix, device), payload, retain=True)
