"""``harbridge listen``: print the predictions a daemon publishes, one line each."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harbridge.runtime.mqtt_url import BrokerOptions

HELP = "print the predictions published over MQTT, one line each (or raw JSON)"

DEFAULT_BROKER = "mqtt://localhost:1883"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``listen`` (DESIGN §3)."""
    parser.add_argument(
        "--broker",
        default=DEFAULT_BROKER,
        metavar="URL",
        help=f"mqtt://[user:password@]host[:port] or mqtts://… (default {DEFAULT_BROKER})",
    )
    parser.add_argument(
        "--ca-file",
        type=Path,
        metavar="CA.crt",
        help="with mqtts://: trust the broker's certificate if this CA (PEM) signed it, instead "
        "of the system's CAs",
    )
    parser.add_argument(
        "--cert-file",
        type=Path,
        metavar="CLIENT.crt",
        help="with mqtts://: a client certificate (PEM), for brokers that require one",
    )
    parser.add_argument(
        "--key-file",
        type=Path,
        metavar="CLIENT.key",
        help="the client certificate's private key (PEM), unless --cert-file holds it",
    )
    parser.add_argument(
        "--device", metavar="ID", help="only this device's predictions (default: every device)"
    )
    parser.add_argument(
        "--topic-prefix",
        default="harbridge",
        metavar="PREFIX",
        help="the daemons' topic prefix (default harbridge)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print each prediction as one line of JSON"
    )
    parser.add_argument("--count", type=int, metavar="N", help="exit after N predictions")
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="exit after S seconds; with it, a broker that cannot be reached is an error",
    )


def run(args: argparse.Namespace) -> int:
    """Subscribe and print until --count, --timeout or Ctrl-C (all exit 0)."""
    import asyncio
    import json
    import logging
    import os
    import sys
    from datetime import datetime
    from typing import Any

    from harbridge.errors import InputError
    from harbridge.runtime.listener import format_prediction, listen
    from harbridge.runtime.payloads import (
        device_id_problem,
        subscription_topic,
        topic_prefix_problem,
    )

    if args.count is not None and args.count < 1:
        raise InputError("listen", "--count", f"must be at least 1, got {args.count}")
    if args.timeout is not None and not args.timeout > 0:
        raise InputError(
            "listen", "--timeout", f"must be a positive number of seconds, got {args.timeout}"
        )
    for option, problem in (
        ("--device", args.device is not None and device_id_problem(args.device)),
        ("--topic-prefix", topic_prefix_problem(args.topic_prefix)),
    ):
        if problem:
            raise InputError("listen", option, problem)
    broker = _broker(args)
    topic = subscription_topic(args.topic_prefix, "prediction", args.device)

    logger = logging.getLogger("harbridge.listen")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("harbridge listen: %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False

    def show(prediction: dict[str, Any]) -> None:
        if args.json:
            line = json.dumps(prediction, separators=(",", ":"), ensure_ascii=False)
        else:
            line = format_prediction(prediction, datetime.now())
        print(line, flush=True)

    try:
        asyncio.run(
            listen(broker, topic, show, count=args.count, timeout_s=args.timeout, logger=logger)
        )
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        # Whoever read stdout went away (`| head`): end quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _broker(args: argparse.Namespace) -> BrokerOptions:
    """The broker of ``--broker`` with the TLS files of ``--ca-file`` and the client options."""
    import dataclasses

    from harbridge.errors import InputError
    from harbridge.runtime.config import parse_mqtt_url
    from harbridge.runtime.mqtt_url import broker_options

    settings = parse_mqtt_url(args.broker, "listen", "--broker")
    options = {"ca_file": "--ca-file", "cert_file": "--cert-file", "key_file": "--key-file"}
    for key, option in options.items():
        path = getattr(args, key)
        if path is not None and not settings.tls:
            raise InputError("listen", option, "TLS files need an mqtts:// --broker URL")
        if path is not None and not path.is_file():
            raise InputError("listen", option, f"no such file: {path}")
    if args.key_file is not None and args.cert_file is None:
        raise InputError(
            "listen", "--key-file", "a client key needs its certificate; add --cert-file"
        )
    settings = dataclasses.replace(settings, **{key: getattr(args, key) for key in options})
    try:
        return broker_options(settings)
    except InputError as exc:
        # The TLS checks name config keys (mqtt.ca_file); here they are options.
        raise InputError("listen", options[exc.field.removeprefix("mqtt.")], exc.problem) from exc
