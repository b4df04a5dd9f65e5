"""From a broker URL or the ``[mqtt]`` settings to what an aiomqtt client needs.

``mqtt://[user[:password]@]host[:port]`` connects in plain TCP (port 1883 by default),
``mqtts://…`` over TLS (port 8883). TLS verifies the broker's certificate and host name
against the system's CAs, or against ``ca_file`` for a private CA; ``cert_file`` and
``key_file`` add a client certificate. ``tls_insecure`` turns verification off, which
lets anyone on the path read and forge the traffic, and logs a warning saying so.

The password comes from the URL, ``password_env`` or ``password_file``, looked up by
:func:`harbridge.runtime.config.resolve_password` when the options are built, so a
secret need not sit in the config file. :func:`parse_mqtt_url` is re-exported from
:mod:`harbridge.runtime.config`, which holds the one parser of broker URLs.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harbridge.errors import InputError
from harbridge.runtime.config import MqttSettings, parse_mqtt_url, resolve_password

if TYPE_CHECKING:
    import asyncio

    import aiomqtt

__all__ = ["BrokerOptions", "broker_options", "connect_hint", "parse_mqtt_url", "tls_context"]

# What a failed connection's error says, and what to do about it.
_HINTS = (
    (
        "CERTIFICATE_VERIFY_FAILED",
        "the broker's certificate is not signed by a CA this client trusts, or does not name "
        "the URL's host: give the CA that signed it (ca_file; listen --ca-file)",
    ),
    (
        "CERTIFICATE_REQUIRED",
        "the broker requires a client certificate (cert_file and key_file; listen "
        "--cert-file and --key-file)",
    ),
    ("Not authorized", "the broker refused this user name and password"),
)


def tls_context(
    settings: MqttSettings, logger: logging.Logger | None = None
) -> ssl.SSLContext | None:
    """The TLS context of an ``mqtts://`` connection, or None for plain ``mqtt://``.

    Raises
    ------
    InputError
        A CA, certificate or key file that cannot be loaded.
    """
    if not settings.tls:
        return None
    source = settings.source or "config"
    try:
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file is not None else None
        )
    except (OSError, ssl.SSLError) as exc:
        raise InputError(
            source, "mqtt.ca_file", f"cannot load {settings.ca_file} as PEM CA certificates ({exc})"
        ) from exc
    if settings.cert_file is not None:
        try:
            context.load_cert_chain(
                str(settings.cert_file),
                str(settings.key_file) if settings.key_file is not None else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise InputError(
                source,
                "mqtt.cert_file",
                f"cannot load the client certificate {settings.cert_file} and its key ({exc}); "
                "both must be PEM and match",
            ) from exc
    if settings.tls_insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        (logger or logging.getLogger(__name__)).warning(
            "TLS to %s is NOT VERIFIED (tls_insecure = true): anyone on the network path can "
            "read and forge this traffic. Set ca_file to the broker's CA instead.",
            settings.url,
        )
    return context


def connect_hint(error: BaseException) -> str:
    """Advice for an error of a broker connection, as ``"; <advice>"``, or ``""``."""
    text = str(error)
    return next((f"; {hint}" for words, hint in _HINTS if words in text), "")


@dataclass(frozen=True, slots=True)
class BrokerOptions:
    """Everything needed to open a connection to one broker.

    Attributes
    ----------
    hostname : str
    port : int
    username, password : str or None
    tls_context : ssl.SSLContext or None
        None for plain TCP.
    """

    hostname: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls_context: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        """The broker's URL without credentials, for logs."""
        return f"{'mqtts' if self.tls_context else 'mqtt'}://{self.hostname}:{self.port}"

    def client(
        self,
        *,
        identifier: str | None = None,
        will: aiomqtt.Will | None = None,
        keepalive: int = 30,
        timeout: float = 10.0,
        logger: logging.Logger | None = None,
        max_queued_incoming_messages: int | None = None,
        queue_type: type[asyncio.Queue[aiomqtt.Message]] | None = None,
    ) -> aiomqtt.Client:
        """A new aiomqtt client for this broker (enter it to connect).

        Parameters
        ----------
        identifier : str, optional
            MQTT client id; a random one when None. Two clients with one id knock each
            other off the broker, so every client of a process needs its own.
        will : aiomqtt.Will, optional
            Message the broker publishes if the connection dies without a DISCONNECT.
        keepalive : int
            Seconds between pings; the broker declares the client dead after 1.5×.
        timeout : float
            Seconds to wait for the broker's answer to connect, subscribe or publish.
        logger : logging.Logger, optional
            Where aiomqtt and paho log.
        max_queued_incoming_messages : int, optional
            Bound on received messages waiting to be read; beyond it aiomqtt drops them.
        queue_type : type of asyncio.Queue, optional
            The queue class for received messages (one that counts what it refuses).
        """
        import aiomqtt

        return aiomqtt.Client(
            self.hostname,
            self.port,
            username=self.username,
            password=self.password,
            identifier=identifier,
            will=will,
            keepalive=keepalive,
            timeout=timeout,
            logger=logger,
            tls_context=self.tls_context,
            max_queued_incoming_messages=max_queued_incoming_messages,
            queue_type=queue_type,
        )


def broker_options(
    settings: MqttSettings,
    logger: logging.Logger | None = None,
    environ: Mapping[str, str] | None = None,
) -> BrokerOptions:
    """Resolve the password and build the TLS context of ``settings``.

    Raises
    ------
    InputError
        The password's variable or file is missing, or a TLS file cannot be loaded.
    """
    return BrokerOptions(
        hostname=settings.host,
        port=settings.port,
        username=settings.username,
        password=resolve_password(settings, environ),
        tls_context=tls_context(settings, logger),
    )
