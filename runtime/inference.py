"""The bundle's pipeline in onnxruntime, with windows of all devices micro-batched.

One :class:`InferenceEngine` per bundle holds one ``InferenceSession`` of
``pipeline.onnx`` (input ``[N, T, C]`` raw windows, or ``[N, F]`` features for a bundle
calibrated on features; outputs ``probs`` [N, K], ``latent`` [N, k], ``ood`` [N]). The
session uses ``threads`` intra-op threads (1–2 suit a Raspberry Pi that also reads
sensors), one inter-op thread, and no spinning: idle threads sleep instead of burning a
core while waiting for the next window.

Micro-batching: ``await engine.infer(window)`` queues the window and waits. The batcher
(:meth:`InferenceEngine.run`, a task of the daemon) takes the first waiting window, then
gathers more until ``max_batch`` are there or ``max_wait_ms`` have passed since it took
the first, runs them as one batch in a worker thread, and hands each caller its row.
Running N windows at once costs far less than N runs, so a room of devices shares one
session. The queue holds at most ``max_queue`` windows; a window that finds it full is
refused at once with :class:`EngineOverloadedError` and counted, so an engine that cannot
keep up sheds load instead of growing latency without bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from harbridge.calibration.bundle import load_manifest
from harbridge.drivers.blocking import run_blocking
from harbridge.errors import HarbridgeError, InputError

__all__ = [
    "EngineCounters",
    "EngineOverloadedError",
    "InferenceEngine",
    "InferenceResult",
    "session_options",
]

Float32Array = npt.NDArray[np.float32]

OUTPUTS = ("probs", "latent", "ood")


class EngineOverloadedError(HarbridgeError):
    """A window refused because ``max_queue`` windows already wait for inference."""


class InferenceResult(NamedTuple):
    """What the pipeline says about one window.

    Attributes
    ----------
    probs : ndarray of shape (K,) float32
        Class probabilities, in the order of the bundle's classes.
    latent : ndarray of shape (k,) float32
        The window's point in the aligned latent space.
    ood : float
        Mahalanobis distance to the nearest class (large: unlike any class).
    """

    probs: Float32Array
    latent: Float32Array
    ood: float


@dataclass(slots=True)
class EngineCounters:
    """What the engine has done since it started.

    Attributes
    ----------
    windows, batches : int
        Windows inferred, and the onnxruntime runs they took.
    dropped : int
        Windows refused because the queue was full.
    batch_sizes : Counter of int
        Runs by batch size.
    """

    windows: int = 0
    batches: int = 0
    dropped: int = 0
    batch_sizes: Counter[int] = field(default_factory=Counter)


@dataclass(slots=True)
class _Request:
    window: Float32Array
    result: asyncio.Future[InferenceResult]


class InferenceEngine:
    """One bundle's pipeline, verified, loaded and micro-batched.

    Parameters
    ----------
    bundle_dir : str or path
        A bundle folder; every file's sha256 is checked against the manifest first.
    threads : int
        onnxruntime intra-op threads.
    max_batch : int
        Most windows run at once.
    max_wait_ms : float
        Longest wait for more windows after the first of a batch arrived; 0 runs the
        windows already waiting.
    max_queue : int
        Most windows waiting for inference.
    logger : logging.Logger, optional
        Where load and failures are logged.

    Attributes
    ----------
    manifest : dict
        The verified manifest.
    classes : tuple of str
        Class names, the order of ``probs``.
    input_shape : tuple of int
        Shape of one window, ``(T, C)``, or ``(F,)`` for a features bundle.
    counters : EngineCounters

    Raises
    ------
    InputError
        Not a bundle, a file that does not match its sha256, or a pipeline graph that
        onnxruntime cannot load or that lacks an output.
    """

    def __init__(
        self,
        bundle_dir: str | Path,
        threads: int = 1,
        *,
        max_batch: int = 64,
        max_wait_ms: float = 0.0,
        max_queue: int = 1024,
        logger: logging.Logger | None = None,
    ) -> None:
        if threads < 1 or max_batch < 1 or max_queue < 1 or not max_wait_ms >= 0:
            raise ValueError(
                "threads, max_batch and max_queue must be ≥ 1 and max_wait_ms ≥ 0, got "
                f"{threads}, {max_batch}, {max_queue} and {max_wait_ms}"
            )
        self.bundle_dir = Path(bundle_dir)
        self.threads = threads
        self.max_batch = max_batch
        self.max_wait_ms = max_wait_ms
        self.max_queue = max_queue
        self.logger = logger if logger is not None else logging.getLogger(__name__)
        self.manifest = load_manifest(self.bundle_dir)
        self.classes = tuple(str(name) for name in self.manifest.get("classes", ()))
        graph = self.bundle_dir / str(self.manifest.get("graphs", {}).get("pipeline", ""))
        self.session = _session(graph, threads)
        self.input_name, self.input_shape = _input_of(self.session, graph)
        self.counters = EngineCounters()
        self._queue: asyncio.Queue[_Request] = asyncio.Queue(max_queue)
        self._state = "new"
        self.logger.info(
            "bundle %s: %d classes, window %s, %d thread(s)",
            self.bundle_dir,
            len(self.classes),
            self.input_shape,
            threads,
        )

    @property
    def queued(self) -> int:
        """Windows waiting for inference now."""
        return self._queue.qsize()

    def run_batch(self, windows: Float32Array) -> tuple[Float32Array, Float32Array, Float32Array]:
        """Run the pipeline on a batch, blocking (the batcher calls it in a worker thread).

        Parameters
        ----------
        windows : ndarray of shape (N, *input_shape) float32

        Returns
        -------
        probs : ndarray of shape (N, K) float32
        latent : ndarray of shape (N, k) float32
        ood : ndarray of shape (N,) float32
        """
        probs, latent, ood = self.session.run(list(OUTPUTS), {self.input_name: windows})
        return probs, latent, ood

    async def infer(self, window: npt.ArrayLike) -> InferenceResult:
        """Infer one window, batched with the windows of other callers.

        Parameters
        ----------
        window : array-like of shape ``input_shape``
            E.g. ``Window.data`` (T, C) float32, channels in the bundle's order.

        Raises
        ------
        EngineOverloadedError
            ``max_queue`` windows are already waiting; the window is dropped and counted.
        ValueError
            The window's shape is not ``input_shape``.
        RuntimeError
            :meth:`run` has stopped. (Before it starts, windows wait in the queue.)
        """
        if self._state == "stopped":
            raise RuntimeError("the inference engine has stopped; InferenceEngine.run() ended")
        data = np.asarray(window, dtype=np.float32)
        if data.shape != self.input_shape:
            raise ValueError(
                f"a window of shape {data.shape}; the bundle expects {self.input_shape}"
            )
        request = _Request(data, asyncio.get_running_loop().create_future())
        try:
            self._queue.put_nowait(request)
        except asyncio.QueueFull:
            self.counters.dropped += 1
            raise EngineOverloadedError(
                f"{self.max_queue} windows already wait for inference"
            ) from None
        return await request.result

    async def run(self) -> None:
        """Batch and run queued windows until cancelled; then waiting callers are cancelled.

        Runs once per engine: after it ends, :meth:`infer` raises.
        """
        if self._state != "new":
            raise RuntimeError(f"InferenceEngine.run() can run once; it is {self._state}")
        self._state = "running"
        queue = self._queue
        loop = asyncio.get_running_loop()
        batch: list[_Request] = []
        try:
            while True:
                batch = [await queue.get()]
                deadline = loop.time() + self.max_wait_ms / 1000.0
                while len(batch) < self.max_batch:
                    if queue.empty():
                        try:
                            async with asyncio.timeout_at(deadline):
                                batch.append(await queue.get())
                        except TimeoutError:
                            break
                    else:
                        batch.append(queue.get_nowait())
                await self._run(batch)
                batch = []
        finally:
            self._state = "stopped"
            while not queue.empty():
                batch.append(queue.get_nowait())
            for request in batch:
                request.result.cancel()

    async def _run(self, batch: list[_Request]) -> None:
        # A caller that gave up (cancelled) needs no result.
        live = [request for request in batch if not request.result.done()]
        if not live:
            return
        windows = np.stack([request.window for request in live])
        try:
            probs, latent, ood = await run_blocking(self.run_batch, windows)
        except Exception as exc:  # onnxruntime errors have no common base class
            self.logger.exception("inference of %d windows failed", len(live))
            for request in live:
                if not request.result.done():
                    request.result.set_exception(exc)
            return
        self.counters.windows += len(live)
        self.counters.batches += 1
        self.counters.batch_sizes[len(live)] += 1
        for i, request in enumerate(live):
            if not request.result.done():
                request.result.set_result(InferenceResult(probs[i], latent[i], float(ood[i])))


def session_options(threads: int) -> Any:
    """How the device runs a graph: ``threads`` intra-op threads, sequential, no spinning.

    Spinning threads would burn a core waiting for the next batch on a Raspberry Pi.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def _session(graph: Path, threads: int) -> Any:
    options = session_options(threads)
    if not graph.is_file():
        raise InputError(
            graph.parent / "manifest.json",
            "graphs.pipeline",
            "names no file of the bundle; re-export the bundle with harbridge calibrate.",
        )
    try:
        return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own unrelated exception types
        raise InputError(
            graph, "onnx", f"onnxruntime cannot load it ({exc}); re-export the bundle."
        ) from exc


def _input_of(session: Any, graph: Path) -> tuple[str, tuple[int, ...]]:
    """Name and per-window shape of the pipeline's one input; check its outputs."""
    outputs = {output.name for output in session.get_outputs()}
    missing = [name for name in OUTPUTS if name not in outputs]
    inputs = session.get_inputs()
    dims = inputs[0].shape[1:] if len(inputs) == 1 else []
    if missing or len(inputs) != 1 or not dims or not all(isinstance(d, int) for d in dims):
        raise InputError(
            graph,
            "onnx",
            "is not a harbridge pipeline (one input [N, T, C] or [N, F]; outputs probs, "
            "latent, ood); re-export the bundle with harbridge calibrate.",
        )
    return str(inputs[0].name), tuple(int(d) for d in dims)
