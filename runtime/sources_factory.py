"""From the ``[[sources]]`` of a config to driver objects reading the bundle's channels.

:func:`check_sources` finds, without opening anything, what makes a source unable to
feed the bundle: a WitMotion sensor lacks a channel or sends other units, a CSV
``default_header`` misses a channel. :func:`build_sources` then creates the drivers
(nothing is opened until their ``run`` starts).

Units: a WitMotion sensor sends m/s² and rad/s and is checked against the bundle's
``imu.units``. CSV, JSON lines and MQTT payloads carry no units and are assumed to be in
the bundle's units, the ones of the data it was calibrated on.
"""

from __future__ import annotations

import logging

from harbridge.drivers.csv_lines import column_picks
from harbridge.drivers.mqtt_source import MqttSource
from harbridge.drivers.replay_source import ReplaySource
from harbridge.drivers.serial_source import SerialSource
from harbridge.drivers.source import Source
from harbridge.drivers.witmotion import WITMOTION_CHANNELS, WITMOTION_UNITS
from harbridge.errors import InputError
from harbridge.runtime import config as cfg
from harbridge.runtime.bundle_spec import BundleSpec
from harbridge.runtime.mqtt_url import BrokerOptions
from harbridge.runtime.units import check_units

__all__ = ["build_sources", "check_sources", "describe_source"]


def check_sources(config: cfg.Config, spec: BundleSpec) -> None:
    """Refuse sources that cannot deliver the bundle's channels in its units.

    Raises
    ------
    InputError
        Naming the source's key (``sources[2].format``) and what to change.
    """
    for number, source in enumerate(config.sources, start=1):
        if not isinstance(source, cfg.SerialSource):
            continue
        key = f"sources[{number}]"
        if source.format == "witmotion":
            missing = [name for name in spec.channels if name not in WITMOTION_CHANNELS]
            if missing:
                raise InputError(
                    config.path,
                    f"{key}.format",
                    f"a WitMotion sensor sends {', '.join(WITMOTION_CHANNELS)}, but the bundle "
                    f"also needs {', '.join(missing)}; use a bundle calibrated on those channels",
                )
            check_units(
                spec.unit_of, WITMOTION_UNITS, config.path, f"{key}.format", "a WitMotion sensor"
            )
        if source.default_header is not None and isinstance(
            column_picks(source.default_header, spec.channels), str
        ):
            raise InputError(
                config.path,
                f"{key}.default_header",
                f"must name each of the bundle's channels {', '.join(spec.channels)} once "
                f"(and t, if the device sends times), got {', '.join(source.default_header)}",
            )


def build_sources(
    config: cfg.Config, spec: BundleSpec, broker: BrokerOptions, logger: logging.Logger
) -> list[Source]:
    """One driver per ``[[sources]]`` table, emitting the bundle's channels.

    Parameters
    ----------
    config : Config
        The daemon's configuration; call :func:`check_sources` first.
    spec : BundleSpec
        The bundle's channels.
    broker : BrokerOptions
        Where MQTT sources subscribe (the broker the daemon publishes to).
    logger : logging.Logger
        Parent of the drivers' loggers.
    """
    sources: list[Source] = []
    for number, source in enumerate(config.sources, start=1):
        log = logger.getChild(f"source{number}")
        if isinstance(source, cfg.SerialSource):
            sources.append(
                SerialSource(
                    source.port,
                    device=source.device,
                    channels=spec.channels,
                    baudrate=source.baudrate,
                    format=source.format,
                    default_header=source.default_header,
                    logger=log,
                )
            )
        elif isinstance(source, cfg.MqttSource):
            client_id = config.mqtt.client_id
            sources.append(
                MqttSource(
                    broker,
                    source.topic,
                    channels=spec.channels,
                    device=source.device,
                    qos=config.mqtt.qos if source.qos is None else source.qos,
                    identifier=None if client_id is None else f"{client_id}-in{number}",
                    max_queued=config.queues.samples,
                    logger=log,
                )
            )
        else:
            sources.append(
                ReplaySource(
                    source.path,
                    device=source.device,
                    channels=spec.channels,
                    speed=source.speed,
                    loop=source.loop,
                    logger=log,
                )
            )
    return sources


def describe_source(source: cfg.Source) -> str:
    """A source in a few words, for the ``run --check`` summary."""
    if isinstance(source, cfg.SerialSource):
        return f"serial {source.port} ({source.format}) → {source.device}"
    if isinstance(source, cfg.MqttSource):
        return f"mqtt {source.topic}" + ("" if source.device is None else f" → {source.device}")
    return f"replay {source.path.name} ×{source.speed:g} → {source.device}"
