"""Receive the daemon's predictions from MQTT and put them in words (``harbridge listen``).

:func:`listen` subscribes to ``<prefix>/+/prediction`` (or one device's topic) and hands
every prediction to a callback, until ``count`` arrived or ``timeout_s`` passed. A broker
that cannot be reached is waited for, with backoff and one status line, unless a timeout
is set: then the first failure is an error, as a script wants. A connection lost later is
always waited for. Messages that are not ``harbridge.prediction/1`` payloads are skipped
and logged at a bounded rate. :func:`format_prediction` is the one-line human form.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import aiomqtt

from harbridge.drivers.backoff import Backoff, BackoffPolicy
from harbridge.errors import InputError
from harbridge.runtime.mqtt_url import BrokerOptions, connect_hint
from harbridge.runtime.payloads import PREDICTION_SCHEMA
from harbridge.runtime.ratelimit import RateLimitedLog

__all__ = ["format_prediction", "listen", "read_prediction"]

_RETRY = BackoffPolicy(initial_s=0.5, maximum_s=10.0)


def read_prediction(payload: bytes) -> dict[str, Any] | None:
    """The prediction in an MQTT payload, or None if it is not one.

    Checks what :func:`format_prediction` relies on: a JSON object of schema
    ``harbridge.prediction/1`` with a string ``device`` and ``label``, a number
    ``confidence`` and ``latency_ms``, a boolean ``unknown`` and an object ``probs``.
    """
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or message.get("schema") != PREDICTION_SCHEMA:
        return None
    kinds = {
        "device": str,
        "label": str,
        "confidence": float | int,
        "latency_ms": float | int,
        "unknown": bool,
        "probs": dict,
    }
    if not all(isinstance(message.get(key), kind) for key, kind in kinds.items()):
        return None
    if not (math.isfinite(message["confidence"]) and math.isfinite(message["latency_ms"])):
        return None
    return message


def format_prediction(prediction: Mapping[str, Any], received: datetime) -> str:
    """One line: time received, device, label, confidence in %, latency.

    An unknown window reads ``? unknown`` followed by the closest class, e.g.
    ``12:04:05.623  wrist-07      ? unknown        41.0%   11.9 ms  (closest: walk)``.
    """
    label = str(prediction["label"])
    closest = ""
    if prediction["unknown"]:
        label = f"? {label}"
        probs = {
            name: p
            for name, p in prediction["probs"].items()
            if isinstance(p, int | float) and math.isfinite(p)
        }
        if probs:
            closest = f"  (closest: {max(probs, key=probs.__getitem__)})"
    return (
        f"{received.strftime('%H:%M:%S.%f')[:-3]}  {prediction['device']:<12}  {label:<14} "
        f"{100.0 * prediction['confidence']:5.1f}%  {prediction['latency_ms']:6.1f} ms{closest}"
    )


async def listen(
    broker: BrokerOptions,
    topic: str,
    on_prediction: Callable[[dict[str, Any]], None],
    *,
    count: int | None = None,
    timeout_s: float | None = None,
    logger: logging.Logger,
) -> int:
    """Hand every prediction received on ``topic`` to ``on_prediction``.

    Parameters
    ----------
    broker : BrokerOptions
        Where to subscribe.
    topic : str
        Topic filter, e.g. ``harbridge/+/prediction``.
    on_prediction : callable
        Called with each prediction (see :func:`read_prediction`).
    count : int, optional
        Return after this many predictions.
    timeout_s : float, optional
        Return after this many seconds; then a broker that cannot be reached at once is
        an error.
    logger : logging.Logger
        Status lines (waiting for the broker, connected again) and skipped messages.

    Returns
    -------
    int
        Predictions received.

    Raises
    ------
    InputError
        With ``timeout_s``: the broker refused or did not answer the first connection.
    """
    received = 0
    connected = False
    try:
        async with asyncio.timeout(timeout_s):
            backoff = Backoff(_RETRY)
            skipped = RateLimitedLog(logger)
            waiting = False
            while True:
                try:
                    async with broker.client() as client:
                        await client.subscribe(topic, qos=1)
                        backoff.connected()
                        if waiting:
                            logger.warning("connected to %s", broker.url)
                        connected, waiting = True, False
                        async for message in client.messages:
                            body = message.payload
                            prediction = read_prediction(body) if isinstance(body, bytes) else None
                            if prediction is None:
                                skipped.log(
                                    "skipped",
                                    logging.WARNING,
                                    "skipped a message on %s that is not a %s payload",
                                    message.topic.value,
                                    PREDICTION_SCHEMA,
                                )
                                continue
                            on_prediction(prediction)
                            received += 1
                            if count is not None and received >= count:
                                return received
                except aiomqtt.MqttError as exc:
                    if timeout_s is not None and not connected:
                        raise _unreachable(broker, f"{exc}{connect_hint(exc)}") from exc
                    if not waiting:
                        logger.warning(
                            "waiting for the broker at %s (%s); retrying", broker.url, exc
                        )
                        waiting = True
                await asyncio.sleep(backoff.next_delay())
    except TimeoutError:
        if not connected:
            raise _unreachable(broker, f"no answer within {timeout_s:g} s") from None
    return received


def _unreachable(broker: BrokerOptions, reason: str) -> InputError:
    return InputError(
        "listen",
        "--broker",
        f"cannot connect to {broker.url} ({reason}); is the broker running and the URL right?",
    )
