"""Small raw-IMU datasets for CLI tests: rhythmic motions whose video features share a latent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: per class: movement frequency (Hz) and amplitude
CLASSES = {"sway": (0.6, 1.0), "wave": (1.6, 2.0), "shake": (3.5, 1.5)}


def write_raw_dataset(
    folder: Path,
    *,
    rate_hz: float,
    window: int,
    channels: tuple[str, ...],
    n: int = 360,
    seed: int = 0,
) -> dict[str, Path]:
    """Write ``pairs.npz``, ``labeled.npz`` and ``test.npz`` with raw windows ``(n, window, C)``.

    Each window is a noisy oscillation at its class's frequency on every channel, with a
    random phase; its video features are a fixed non-linear function of frequency and
    amplitude, plus noise. The test file lists its channels in reverse order, so channels
    must be matched by name.
    """
    rng = np.random.default_rng(seed)
    projection = rng.normal(size=(4, 32))
    params = np.array(list(CLASSES.values()))
    t = np.arange(window) / rate_hz

    def draw(count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        label = rng.integers(0, len(CLASSES), count)
        freq = params[label, 0] * rng.uniform(0.9, 1.1, count)
        amp = params[label, 1] * rng.uniform(0.8, 1.2, count)
        phase = rng.uniform(0, 2 * np.pi, (count, 1, len(channels)))
        gain = np.linspace(1.0, 2.0, len(channels))
        imu = (
            amp[:, None, None]
            * gain
            * np.sin(2 * np.pi * freq[:, None, None] * t[None, :, None] + phase)
        )
        imu += rng.normal(scale=0.1, size=imu.shape)
        summary = np.stack([freq, amp, freq * amp, np.log(freq)], axis=1)
        video = np.tanh(summary @ projection / 4) + rng.normal(scale=0.01, size=(count, 32))
        return label, imu.astype(np.float32), video.astype(np.float32)

    folder.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "sample_rate_hz": np.array(rate_hz, dtype=np.float32),
        "channels": np.array(channels),
    }
    _, imu, video = draw(n)
    paths = {
        "pairs": folder / "pairs.npz",
        "labeled": folder / "labeled.npz",
        "test": folder / "test.npz",
    }
    np.savez(
        paths["pairs"], video=video, imu=imu, units=np.array(["rad/s"] * len(channels)), **meta
    )
    label, _, video = draw(n)
    np.savez(paths["labeled"], video=video, label=label, class_names=np.array(list(CLASSES)))
    label, imu, _ = draw(n)
    reversed_meta = {**meta, "channels": np.array(channels[::-1])}
    np.savez(paths["test"], imu=np.ascontiguousarray(imu[:, :, ::-1]), label=label, **reversed_meta)
    return paths
