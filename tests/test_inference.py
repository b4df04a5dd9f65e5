"""Inference engine on real bundles: verification, session settings, micro-batching."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from harbridge.calibration.bundle import write_bundle
from harbridge.calibration.calibrate import CalibrationOptions, calibrate
from harbridge.calibration.dataset import ImuWindows, LabeledVideo, Pairs, load_labeled, load_pairs
from harbridge.calibration.imu_features import feature_source, run_graph
from harbridge.errors import InputError
from harbridge.runtime.inference import (
    EngineOverloadedError,
    InferenceEngine,
    InferenceResult,
)
from tests.feature_data import write_feature_dataset

GUARD_S = 20.0
CHANNELS = ("ax", "ay", "az", "gx", "gy", "gz")
WINDOW = 32


def raw_window_bundle(folder: Path) -> Path:
    """A bundle of the built-in encoder on 32-sample windows, 3 classes by motion frequency.

    Video features are an exact linear image of the encoder's IMU features, so the
    calibration is well posed; what the classes mean does not matter here.
    """
    rng = np.random.default_rng(0)
    n = 180
    label = rng.integers(0, 3, n)
    t = np.arange(WINDOW) / 50.0
    freq = np.array([0.5, 2.0, 5.0])[label]
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 6))
    windows = np.sin(2 * np.pi * freq[:, None, None] * t[None, :, None] + phase)
    windows = (windows + rng.normal(0, 0.1, windows.shape)).astype(np.float32)
    units = ("m/s^2",) * 3 + ("rad/s",) * 3
    imu = ImuWindows(windows, 50.0, CHANNELS, units)
    path = folder / "pairs.npz"
    placeholder = Pairs(path, np.zeros((n, 1), np.float32), None, imu, None)
    source = feature_source(placeholder, "builtin")
    features = run_graph(source.model, windows) if source.model is not None else None
    assert features is not None
    video = (features @ rng.normal(size=(features.shape[1], 16))).astype(np.float32)
    pairs = Pairs(path, video, None, imu, None)
    labeled = LabeledVideo(folder / "labeled.npz", video, label, ("still", "walk", "shake"))
    files, manifest = calibrate(pairs, labeled, None, source, CalibrationOptions(rank=4))
    return write_bundle(folder / "bundle", files, manifest)


def feature_bundle(folder: Path) -> Path:
    """A bundle calibrated on IMU features (pipeline input [N, 10])."""
    paths = write_feature_dataset(folder / "data")
    pairs = load_pairs(paths["pairs"])
    labeled = load_labeled(paths["labeled"])
    files, manifest = calibrate(
        pairs, labeled, None, feature_source(pairs, "builtin"), CalibrationOptions()
    )
    return write_bundle(folder / "bundle", files, manifest)


@pytest.fixture(scope="module", params=["raw", "features"])
def bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp(request.param)
    return raw_window_bundle(folder) if request.param == "raw" else feature_bundle(folder)


def windows_for(engine: InferenceEngine, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *engine.input_shape)).astype(np.float32)


async def serve(engine: InferenceEngine, windows: np.ndarray) -> list[InferenceResult]:
    """Infer ``windows`` concurrently, as that many devices would, while the batcher runs."""
    async with asyncio.timeout(GUARD_S):
        batcher = asyncio.create_task(engine.run(), name="inference")
        await asyncio.sleep(0)
        try:
            return await asyncio.gather(*(engine.infer(w) for w in windows))
        finally:
            batcher.cancel()
            with pytest.raises(asyncio.CancelledError):
                await batcher


def test_the_bundle_is_verified_and_described(bundle: Path) -> None:
    engine = InferenceEngine(bundle, threads=2)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert engine.classes == tuple(manifest["classes"])
    if manifest["imu"]["input"] == "imu":
        assert engine.input_shape == (WINDOW, len(CHANNELS))
    else:
        assert engine.input_shape == (manifest["imu"]["feature_dim"],)
    options = engine.session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (2, 1)
    for key in ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning"):
        assert options.get_session_config_entry(key) == "0"


@pytest.mark.parametrize(("max_batch", "sizes"), [(4, {4: 2, 2: 1}), (64, {10: 1})])
def test_micro_batched_results_equal_one_direct_batch(
    bundle: Path, max_batch: int, sizes: dict[int, int]
) -> None:
    engine = InferenceEngine(bundle, max_batch=max_batch, max_wait_ms=50.0)
    windows = windows_for(engine, 10)
    results = asyncio.run(serve(engine, windows))
    probs, latent, ood = engine.run_batch(windows)
    assert_allclose(np.stack([r.probs for r in results]), probs, rtol=1e-6, atol=1e-6)
    assert_allclose(np.stack([r.latent for r in results]), latent, rtol=1e-6, atol=1e-6)
    assert_allclose([r.ood for r in results], ood, rtol=1e-6, atol=1e-6)
    assert probs.shape == (10, len(engine.classes))
    assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # All ten callers were waiting together, so they shared runs of at most max_batch.
    assert engine.counters.batch_sizes == Counter(sizes)
    assert engine.counters.batches == sum(sizes.values())
    assert engine.counters.windows == 10


def test_without_a_wait_a_lone_caller_runs_at_once(bundle: Path) -> None:
    engine = InferenceEngine(bundle, max_batch=64, max_wait_ms=0.0)
    windows = windows_for(engine, 3)

    async def main() -> list[InferenceResult]:
        async with asyncio.timeout(GUARD_S):
            batcher = asyncio.create_task(engine.run(), name="inference")
            results = [await engine.infer(w) for w in windows]
            batcher.cancel()
            return results

    results = asyncio.run(main())
    assert engine.counters.batch_sizes == Counter({1: 3})
    assert_allclose(results[2].probs, engine.run_batch(windows)[0][2], rtol=1e-6, atol=1e-6)


def test_a_full_queue_refuses_and_counts(bundle: Path) -> None:
    engine = InferenceEngine(bundle, max_batch=1, max_wait_ms=0.0, max_queue=3)
    windows = windows_for(engine, 10)

    async def main() -> list[InferenceResult | BaseException]:
        async with asyncio.timeout(GUARD_S):
            batcher = asyncio.create_task(engine.run(), name="inference")
            await asyncio.sleep(0)
            results = await asyncio.gather(
                *(engine.infer(w) for w in windows), return_exceptions=True
            )
            batcher.cancel()
            return results

    results = asyncio.run(main())
    refused = [r for r in results if isinstance(r, EngineOverloadedError)]
    assert len(refused) == 7
    assert engine.counters.dropped == 7
    assert engine.counters.windows == 3
    assert all(isinstance(r, InferenceResult) for r in results[:3])


def test_stopping_the_batcher_cancels_waiting_callers(bundle: Path) -> None:
    engine = InferenceEngine(bundle, max_batch=64, max_wait_ms=10_000.0)
    window = windows_for(engine, 1)[0]

    async def main() -> None:
        async with asyncio.timeout(GUARD_S):
            batcher = asyncio.create_task(engine.run(), name="inference")
            await asyncio.sleep(0)
            caller = asyncio.create_task(engine.infer(window))
            await asyncio.sleep(0.01)
            assert engine.queued == 0  # taken by the batcher, waiting for more
            batcher.cancel()
            with pytest.raises(asyncio.CancelledError):
                await caller
            with pytest.raises(RuntimeError, match="has stopped"):
                await engine.infer(window)

    asyncio.run(main())


def test_misuse_is_refused(bundle: Path) -> None:
    engine = InferenceEngine(bundle)

    async def main() -> None:
        batcher = asyncio.create_task(engine.run(), name="inference")
        await asyncio.sleep(0)
        with pytest.raises(ValueError, match="the bundle expects"):
            await engine.infer(np.zeros((3, 3), np.float32))
        with pytest.raises(RuntimeError, match="can run once; it is running"):
            await engine.run()
        batcher.cancel()

    asyncio.run(main())
    with pytest.raises(ValueError, match="threads"):
        InferenceEngine(bundle, threads=0)


def test_a_modified_bundle_is_refused(bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    copy.mkdir()
    for path in bundle.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    pipeline = copy / "pipeline.onnx"
    pipeline.write_bytes(pipeline.read_bytes() + b"\0")
    with pytest.raises(InputError, match="does not match the manifest") as info:
        InferenceEngine(copy)
    assert info.value.field == "sha256"
    with pytest.raises(InputError, match="not a harbridge bundle"):
        InferenceEngine(tmp_path)
