"""Everything the daemon checks before it opens a device or a broker.

:func:`open_bundle` verifies the bundle, loads its pipeline in onnxruntime and checks
that the sources can feed it; the daemon starts with it, and ``harbridge run --check``
runs it (plus :func:`check_config`'s TLS files) without starting anything.
"""

from __future__ import annotations

import logging

from harbridge.errors import InputError
from harbridge.runtime.bundle_spec import BundleSpec, load_bundle_spec
from harbridge.runtime.config import Config
from harbridge.runtime.inference import InferenceEngine
from harbridge.runtime.mqtt_url import tls_context
from harbridge.runtime.sources_factory import check_sources, describe_source

__all__ = ["check_config", "check_summary", "open_bundle"]


def open_bundle(config: Config, logger: logging.Logger) -> tuple[BundleSpec, InferenceEngine]:
    """Verify and load the bundle of ``config``; check the sources against it.

    Returns
    -------
    spec : BundleSpec
        The bundle's stream contract.
    engine : InferenceEngine
        Its pipeline, micro-batched as ``[inference]`` and ``[queues] windows`` say.

    Raises
    ------
    InputError
        A bundle that fails verification or cannot serve a stream, a pipeline whose
        input is not one window of the bundle's channels, or a source that cannot feed it.
    """
    spec = load_bundle_spec(config.bundle)
    engine = InferenceEngine(
        config.bundle,
        config.inference.threads,
        max_batch=config.inference.max_batch,
        max_wait_ms=config.inference.max_wait_ms,
        max_queue=config.queues.windows,
        logger=logger.getChild("inference"),
    )
    expected = (spec.window, len(spec.channels))
    if engine.input_shape != expected:
        raise InputError(
            config.bundle / "pipeline.onnx",
            "imu",
            f"takes windows of shape {engine.input_shape}, but the manifest says {expected} "
            "(window, channels); re-export the bundle with harbridge calibrate.",
        )
    check_sources(config, spec)
    return spec, engine


def check_config(config: Config, logger: logging.Logger) -> BundleSpec:
    """What ``run --check`` checks: the bundle, the sources against it, the TLS files.

    Nothing is opened: no port, no broker connection, and the broker password (which
    may live in the daemon's environment only) is not looked up.
    """
    spec, _ = open_bundle(config, logger)
    tls_context(config.mqtt, logger)
    return spec


def check_summary(config: Config, spec: BundleSpec) -> str:
    """One line saying what the daemon would do."""
    sources = "; ".join(describe_source(source) for source in config.sources)
    return (
        f"OK: {config.path.name}: device {config.device}; "
        f"{len(config.sources)} source(s): {sources}; "
        f"bundle {spec.model}: {len(spec.classes)} classes ({', '.join(spec.classes)}), "
        f"{', '.join(spec.channels)} at {spec.rate_hz:g} Hz, window {spec.window}, "
        f"hop {spec.hop}; publishing to {config.mqtt.url} under {config.mqtt.topic_prefix}/"
    )
