"""The daemon: sources → windows → micro-batched inference → predictions over MQTT.

One :class:`asyncio.TaskGroup` owns every task, each named: one per source
(``source serial /dev/imu0``), the ``inference batcher``, the ``publisher``, the
``predictions`` task, the ``metrics`` task, the ``clock watch`` (stalled devices, see
:mod:`~harbridge.runtime.clock_watch`) and, when the daemon owns the process, the
``signal watcher``. The flow of one batch of samples:

1. A source calls the sink on the event loop. The sink stamps the arrival time
   (``time.monotonic()``), pushes the batch into the per-device windowers and puts the
   finished windows in a bounded :class:`~harbridge.runtime.window_queue.WindowQueue`;
   it never waits. A device's first batch publishes its retained ``online`` status (and,
   with ``[homeassistant] enabled``, its discovery config).
2. The ``predictions`` task takes the waiting windows and awaits
   :meth:`InferenceEngine.infer` for all of them at once, so the engine runs them as one
   batch in a worker thread; then, per window and in order, the device's smoother,
   the decision, and the payload with the device's next ``seq`` and the latency from the
   arrival of the window's last sample.
3. The publisher sends it with QoS ``[mqtt] qos`` on ``<prefix>/<device>/prediction``,
   buffering while the broker is away.

Stopping (``stop`` set, SIGTERM or SIGINT): the sources are cancelled (ports closed),
every device is announced ``offline``, a last metrics message is queued, and the
publisher sends what it holds and its own ``offline`` before disconnecting. Bad input
never ends the daemon: the framing, the windowers and the queues count it and the
metrics report it. A bug in any task ends them all and is raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from harbridge.drivers.samples import SampleBatch
from harbridge.errors import InputError
from harbridge.runtime.clock_watch import ClockWatch
from harbridge.runtime.config import Config
from harbridge.runtime.daemon_stats import DaemonStats, PipelineCounters, collect_stats
from harbridge.runtime.device_state import DeviceTable
from harbridge.runtime.homeassistant import HomeAssistantDiscovery
from harbridge.runtime.inference import EngineOverloadedError, InferenceResult
from harbridge.runtime.latency import LatencyRing
from harbridge.runtime.metrics_loop import metrics_loop, metrics_message
from harbridge.runtime.mqtt_url import broker_options
from harbridge.runtime.payloads import metrics_topic
from harbridge.runtime.predictor import Predictor
from harbridge.runtime.preflight import open_bundle
from harbridge.runtime.presence import Presence
from harbridge.runtime.publisher import Publisher
from harbridge.runtime.signals import watch_signals
from harbridge.runtime.sources_factory import build_sources
from harbridge.runtime.window_queue import WindowQueue
from harbridge.runtime.windowing import Window, WindowerPool

__all__ = ["Daemon", "run_daemon"]

#: Longest wait, after a stop, for the publisher to send what it holds and say offline.
STOP_TIMEOUT_S = 10.0


class Daemon:
    """The daemon of one configuration, built but not started.

    Building it verifies the bundle, loads the pipeline, resolves the broker password
    and creates the drivers; nothing is opened until :meth:`run`.

    Parameters
    ----------
    config : Config
        From :func:`harbridge.runtime.config.load_config`.
    logger : logging.Logger, optional
        Parent of every component's logger; ``harbridge.daemon`` by default.
    environ : mapping of str to str, optional
        Where ``[mqtt] password_env`` is looked up; ``os.environ`` by default.

    Attributes
    ----------
    spec : BundleSpec
    engine : InferenceEngine
    publisher : Publisher
    sources : list of Source
        One driver per ``[[sources]]`` table, in order.
    devices : DeviceTable

    Raises
    ------
    InputError
        The bundle, the sources or the broker settings cannot be used.
    """

    def __init__(
        self,
        config: Config,
        *,
        logger: logging.Logger | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.logger = logger if logger is not None else logging.getLogger("harbridge.daemon")
        self.spec, self.engine = open_bundle(config, self.logger)
        broker = broker_options(config.mqtt, self.logger, environ)
        self.publisher = Publisher(
            broker,
            config.device,
            topic_prefix=config.mqtt.topic_prefix,
            qos=config.mqtt.qos,
            model=self.spec.model,
            buffer_size=config.queues.publish,
            identifier=config.mqtt.client_id,
            logger=self.logger.getChild("publisher"),
        )
        self.sources = build_sources(config, self.spec, broker, self.logger)
        window = config.windowing
        self.pool = WindowerPool(
            self.spec.rate_hz,
            self.spec.window,
            self.spec.hop,
            self.spec.channels,
            window.max_gap_s,
            clock_reset_s=window.clock_reset_s,
            max_devices=window.max_devices,
        )
        self.devices = DeviceTable(config.postprocess.smoothing)
        self.clocks = ClockWatch(
            self.spec.rate_hz, window.max_gap_s, window.stall_s, self.logger.getChild("clock")
        )
        self.presence = Presence(self.publisher)
        self.discovery = (
            HomeAssistantDiscovery(self.publisher, config.homeassistant)
            if config.homeassistant.enabled
            else None
        )
        self.windows = WindowQueue(config.queues.windows)
        self.latency = LatencyRing()
        self.counters = PipelineCounters()
        self.predictor = Predictor(self.spec, config.postprocess, 0.0)
        self._started = time.monotonic()

    def stats(self) -> DaemonStats:
        """Totals since :meth:`run` started."""
        now = time.monotonic()
        return collect_stats(
            sources=self.sources,
            pool=self.pool,
            window_queue=self.windows,
            engine=self.engine,
            publisher=self.publisher,
            counters=self.counters,
            clock=self.clocks.counters,
            devices=self.devices.active(now - self.config.metrics.interval_s),
            uptime_s=now - self._started,
        )

    async def run(
        self, stop: asyncio.Event | None = None, *, handle_signals: bool = False
    ) -> DaemonStats:
        """Run until ``stop`` is set (or SIGTERM/SIGINT with ``handle_signals``); once.

        Parameters
        ----------
        stop : asyncio.Event, optional
            Set it to stop cleanly.
        handle_signals : bool
            Stop on SIGTERM and SIGINT (the process is the daemon's; main thread only).

        Returns
        -------
        DaemonStats
            The totals at the stop.

        Raises
        ------
        InputError
            A source found its input unusable at start (a replay file without times).
        """
        stop = stop if stop is not None else asyncio.Event()
        self._started = time.monotonic()
        self.predictor.wall_offset_s = time.time() - self._started
        self.logger.info(
            "daemon %s: bundle %s, %d source(s), publishing to %s",
            self.config.device,
            self.spec.model,
            len(self.sources),
            self.publisher.broker.url,
        )
        try:
            async with asyncio.TaskGroup() as tasks:
                publisher = tasks.create_task(self.publisher.run(), name="publisher")
                services = [
                    publisher,
                    tasks.create_task(self.engine.run(), name="inference batcher"),
                ]
                if handle_signals:
                    services.append(
                        tasks.create_task(watch_signals(stop, self.logger), name="signal watcher")
                    )
                workers = [
                    tasks.create_task(source.run(self._sink), name=f"source {source.name}")
                    for source in self.sources
                ]
                workers.append(tasks.create_task(self._predict(), name="predictions"))
                workers.append(tasks.create_task(self._metrics(), name="metrics"))
                workers.append(tasks.create_task(self._watch_clocks(), name="clock watch"))
                await stop.wait()
                await self._shutdown(workers, publisher)
                for task in services:
                    task.cancel()
        except BaseExceptionGroup as group:
            errors = group.subgroup(InputError)
            if errors is None:
                raise
            raise _first(errors) from None
        self.logger.info("daemon %s stopped", self.config.device)
        return self.stats()

    def _sink(self, batch: SampleBatch) -> None:
        now = time.monotonic()
        windows = self.pool.push(batch, now)
        # The pool refuses devices beyond max_devices; they get no state either.
        if batch.device in self.pool.windowers:
            self.clocks.observe(batch, now)
            if self.devices.seen(batch.device, now, untimed=batch.t is None):
                self._announce(batch.device)
        for window in windows:
            self.windows.put(window)

    def _announce(self, device: str) -> None:
        self.presence.online(device)
        if self.discovery is not None:
            self.discovery.announce(device)

    async def _predict(self) -> None:
        while True:
            windows = await self.windows.take(self.config.inference.max_batch)
            results = await asyncio.gather(*(self._infer(window) for window in windows))
            now = time.monotonic()
            for window, result in zip(windows, results, strict=True):
                if result is None:
                    continue
                payload = self.predictor.payload(window, result, self.devices[window.device], now)
                if payload is None:
                    self.counters.non_finite_outputs += 1
                    continue
                self.publisher.publish_prediction(payload)
                self.latency.add(payload["latency_ms"])
                self.counters.predictions += 1

    async def _infer(self, window: Window) -> InferenceResult | None:
        try:
            return await self.engine.infer(window.data)
        except EngineOverloadedError:
            return None  # counted by the engine
        except Exception:  # onnxruntime errors have no common base; the engine logged it
            self.counters.inference_errors += 1
            return None

    async def _watch_clocks(self) -> None:
        while True:
            await asyncio.sleep(self.config.windowing.stall_s / 5)
            self.clocks.check(time.monotonic())

    async def _metrics(self) -> None:
        await metrics_loop(
            self.config.device,
            self.config.metrics.interval_s,
            snapshot=self.stats,
            latency=self.latency,
            publish=self._publish_metrics,
            logger=self.logger,
        )

    def _publish_metrics(self, payload: dict[str, Any]) -> None:
        topic = metrics_topic(self.config.mqtt.topic_prefix, self.config.device)
        self.publisher.publish(topic, payload)

    async def _shutdown(
        self, workers: list[asyncio.Task[None]], publisher: asyncio.Task[None]
    ) -> None:
        """Stop reading, say offline, and let the publisher flush what it holds."""
        for task in workers:
            task.cancel()
        await asyncio.wait(workers)
        self._publish_metrics(
            metrics_message(
                self.config.device, self.stats(), self.latency, self.config.metrics.interval_s
            )
        )
        self.presence.offline_all()
        self.publisher.stop()
        await asyncio.wait([publisher], timeout=STOP_TIMEOUT_S)


def _first(group: BaseExceptionGroup[InputError]) -> InputError:
    error = group.exceptions[0]
    return _first(error) if isinstance(error, BaseExceptionGroup) else error


async def run_daemon(
    config: Config,
    *,
    stop: asyncio.Event | None = None,
    logger: logging.Logger | None = None,
    handle_signals: bool = False,
) -> DaemonStats:
    """Build a :class:`Daemon` for ``config`` and run it until ``stop`` (or a signal).

    The programmatic entry point of ``harbridge run``: tests and the demo call it in
    their own event loop.

    Raises
    ------
    InputError
        The bundle, the sources or the broker settings cannot be used.
    """
    return await Daemon(config, logger=logger).run(stop, handle_signals=handle_signals)
