"""Tests of harbridge.runtime.windowing and .resample: resampling, windows, gaps, bad timestamps."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from harbridge.drivers.samples import SampleBatch
from harbridge.runtime.resample import grid_count, grid_times, interpolate
from harbridge.runtime.windowing import DeviceWindower, Window, WindowerPool

FloatArray = npt.NDArray[np.float64]
CHANNELS = ("ax", "ay")


def batch(t: FloatArray | None, x: FloatArray, device: str = "wrist") -> SampleBatch:
    """Channel ``ax`` holds ``x`` and ``ay`` holds ``-2 x``."""
    return SampleBatch(device, t, {"ax": x, "ay": -2.0 * x})


def push_split(
    windower: DeviceWindower, t: FloatArray, x: FloatArray, cuts: list[int]
) -> list[Window]:
    windows: list[Window] = []
    bounds = [0, *cuts, t.size]
    for begin, end in itertools.pairwise(bounds):
        windows += windower.push(batch(t[begin:end], x[begin:end]), arrival_time=float(end))
    return windows


def sine(t: FloatArray, hz: float = 1.3) -> FloatArray:
    return np.sin(2 * np.pi * hz * t + 0.4)


@pytest.mark.parametrize(
    ("sensor_hz", "tolerance"),
    [
        # Every other 100 Hz sample lies on the 50 Hz grid: exact up to float32 rounding.
        (100.0, 1e-6),
        # Linear interpolation errs by at most h²/8 · max|f''| = h²/8 · (2π · 1.3)².
        (25.0, (1 / 25) ** 2 / 8 * (2 * np.pi * 1.3) ** 2),
        (73.0, (1 / 73) ** 2 / 8 * (2 * np.pi * 1.3) ** 2),
    ],
)
def test_resampled_sine_equals_the_analytic_values(sensor_hz: float, tolerance: float) -> None:
    t = 3.017 + np.arange(int(12 * sensor_hz)) / sensor_hz
    windower = DeviceWindower(50.0, window=100, hop=50, channels=CHANNELS, max_gap_s=0.5)
    windows = windower.push(batch(t, sine(t)), arrival_time=0.0)
    assert windows
    for window in windows:
        grid = window.t_start + np.arange(100) / 50.0
        assert window.data.dtype == np.float32 and window.data.shape == (100, 2)
        assert_allclose(window.data[:, 0], sine(grid), rtol=0, atol=tolerance)
        assert_allclose(window.data[:, 1], -2 * sine(grid), rtol=0, atol=2 * tolerance)


@pytest.mark.parametrize(
    ("sensor_hz", "n_samples", "window", "hop", "expected"),
    [
        (100.0, 1000, 100, 50, 9),  # 500 grid points at 50 Hz: starts 0, 50, ..., 400
        (50.0, 1000, 128, 32, 28),  # (1000 − 128) // 32 + 1
        (50.0, 100, 10, 25, 4),  # hop longer than the window: starts 0, 25, 50, 75
        (50.0, 99, 100, 50, 0),  # not one full window yet
        (50.0, 100, 100, 50, 1),
    ],
)
def test_window_count_and_times(
    sensor_hz: float, n_samples: int, window: int, hop: int, expected: int
) -> None:
    t = 10.0 + np.arange(n_samples) / sensor_hz
    windower = DeviceWindower(50.0, window=window, hop=hop, channels=CHANNELS, max_gap_s=0.5)
    windows = windower.push(batch(t, t.copy()), arrival_time=123.0)
    assert len(windows) == expected == windower.counters.windows
    for k, w in enumerate(windows):
        assert w.t_start == pytest.approx(10.0 + k * hop / 50.0, abs=1e-9)
        assert w.t_end == pytest.approx(w.t_start + window / 50.0, abs=1e-9)
        # The signal is the time itself, so each window holds its own grid times.
        assert_allclose(w.data[:, 0], w.t_start + np.arange(window) / 50.0, atol=1e-5)
        assert (w.device, w.t_last_arrival, w.segment) == ("wrist", 123.0, 0)


def test_gap_restarts_the_buffer_and_no_window_spans_it() -> None:
    first = np.arange(150) / 50.0  # 3 s
    second = first[-1] + 1.0 + np.arange(150) / 50.0  # after a 1 s pause
    t = np.concatenate([first, second])
    windower = DeviceWindower(50.0, window=100, hop=25, channels=CHANNELS, max_gap_s=0.5)
    windows = windower.push(batch(t, t.copy()), arrival_time=0.0)
    assert windower.counters.gap == 1
    assert [w.segment for w in windows] == [0, 0, 0, 1, 1, 1]
    assert [w.t_start for w in windows[3:]] == pytest.approx(second[0] + np.arange(3) / 2.0)
    for w in windows:
        assert w.t_end <= first[-1] + 0.02 or w.t_start >= second[0]
        assert_allclose(np.diff(w.data[:, 0]), 0.02, atol=1e-5)


def test_short_pause_is_interpolated_across() -> None:
    t = np.arange(300) / 50.0
    kept = (t < 2.0) | (t > 2.4)  # a 0.42 s hole, under max_gap_s
    windower = DeviceWindower(50.0, window=100, hop=50, channels=CHANNELS, max_gap_s=0.5)
    windows = windower.push(batch(t[kept], t[kept]), arrival_time=0.0)
    assert windower.counters.gap == 0
    assert len(windows) == 5
    # A linear signal is interpolated exactly across the hole.
    assert_allclose(np.concatenate([w.data[:, 0] for w in windows[::2]]), t[:300], atol=1e-5)


def test_out_of_order_and_duplicates_are_dropped_and_counted() -> None:
    clean = np.arange(400) / 100.0
    t = clean.copy()
    t = np.insert(t, [11, 50, 51], [clean[10], clean[49], clean[20]])  # two repeats, one late
    t = np.insert(t, 300, clean[200])  # late
    x = sine(t)
    late_batch_t = np.array([clean[5], clean[399]])  # a whole late batch
    windower = DeviceWindower(50.0, window=100, hop=50, channels=CHANNELS, max_gap_s=0.5)
    windows = push_split(windower, t, x, [100, 250])
    windows += windower.push(batch(late_batch_t, sine(late_batch_t)), arrival_time=9.0)
    assert (windower.counters.duplicate, windower.counters.out_of_order) == (3, 3)
    assert windower.counters.samples == 400
    reference = DeviceWindower(50.0, window=100, hop=50, channels=CHANNELS, max_gap_s=0.5)
    expected = reference.push(batch(clean, sine(clean)), arrival_time=0.0)
    assert len(windows) == len(expected) == 3
    for got, want in zip(windows, expected, strict=True):
        assert_array_equal(got.data, want.data)


def test_clock_reset_restarts_the_buffer() -> None:
    before = 500.0 + np.arange(150) / 50.0
    after = np.arange(150) / 50.0  # the device rebooted: its clock starts again at 0
    windower = DeviceWindower(50.0, window=100, hop=50, channels=CHANNELS, max_gap_s=0.5)
    windows = windower.push(batch(before, before.copy()), arrival_time=0.0)
    windows += windower.push(batch(after[:70], after[:70]), arrival_time=1.0)
    windows += windower.push(batch(after[70:], after[70:]), arrival_time=2.0)
    assert (windower.counters.clock_reset, windower.counters.out_of_order) == (1, 0)
    assert [w.t_start for w in windows] == pytest.approx([500.0, 501.0, 0.0, 1.0])
    assert [w.segment for w in windows] == [0, 0, 1, 1]
    assert [w.t_last_arrival for w in windows] == [0.0, 0.0, 2.0, 2.0]


def _stream() -> tuple[FloatArray, FloatArray]:
    """8 s at an irregular ~97 Hz with a pause, a repeat and a late sample in it."""
    rng = np.random.default_rng(7)
    t = np.cumsum(rng.uniform(0.008, 0.0126, size=800))
    t[400:] += 0.9
    t = np.insert(t, [120, 530], [t[119], t[300]])
    return t, sine(t) + 0.1 * rng.standard_normal(t.size)


@pytest.mark.parametrize("split", ["whole", "ones", "sevens", "random-a", "random-b"])
def test_any_split_into_batches_gives_identical_windows(split: str) -> None:
    t, x = _stream()
    whole = DeviceWindower(50.0, window=64, hop=16, channels=CHANNELS, max_gap_s=0.5)
    expected = whole.push(batch(t, x), arrival_time=0.0)
    cuts = {
        "whole": [],
        "ones": list(range(1, t.size)),
        "sevens": list(range(7, t.size, 7)),
        "random-a": sorted(np.random.default_rng(1).choice(t.size, 40, replace=False).tolist()),
        "random-b": sorted(np.random.default_rng(2).choice(t.size, 300, replace=False).tolist()),
    }[split]
    windower = DeviceWindower(50.0, window=64, hop=16, channels=CHANNELS, max_gap_s=0.5)
    windows = push_split(windower, t, x, [c for c in cuts if c > 0])
    # Each 4 s run between the pause and its neighbours gives its own windows.
    runs = [t[:401], t[401:]]
    grid_points = [int(np.floor((run[-1] - run[0]) * 50.0)) + 1 for run in runs]
    assert len(expected) == sum((n - 64) // 16 + 1 for n in grid_points) == 18
    assert len(windows) == len(expected)
    for got, want in zip(windows, expected, strict=True):
        assert (got.t_start, got.t_end, got.segment) == (want.t_start, want.t_end, want.segment)
        assert_array_equal(got.data, want.data)
    assert windower.counters.as_dict() == whole.counters.as_dict()
    assert (whole.counters.gap, whole.counters.duplicate, whole.counters.out_of_order) == (1, 1, 1)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.sampled_from([0.01, 0.013, 0.02, 0.0, -0.005, 0.7, -30.0]), min_size=1, max_size=300
    ),
    cut_seed=st.integers(0, 2**32 - 1),
)
def test_split_invariance_holds_for_any_stream(steps: list[float], cut_seed: int) -> None:
    """Repeats, late samples, gaps and clock resets included, splitting changes nothing."""
    t = 100.0 + np.cumsum(steps)
    x = np.cos(t)
    whole = DeviceWindower(50.0, window=8, hop=3, channels=CHANNELS, max_gap_s=0.5)
    expected = whole.push(batch(t, x), arrival_time=0.0)
    rng = np.random.default_rng(cut_seed)
    cuts = sorted(set(rng.integers(1, max(2, t.size), size=rng.integers(0, t.size + 1)).tolist()))
    windower = DeviceWindower(50.0, window=8, hop=3, channels=CHANNELS, max_gap_s=0.5)
    windows = push_split(windower, t, x, [c for c in cuts if c < t.size])
    assert [(w.t_start, w.segment) for w in windows] == [(w.t_start, w.segment) for w in expected]
    for got, want in zip(windows, expected, strict=True):
        assert_array_equal(got.data, want.data)
    assert windower.counters.as_dict() == whole.counters.as_dict()


def test_samples_without_times_are_timestamped_on_arrival() -> None:
    ramp = np.arange(300, dtype=np.float64)
    windower = DeviceWindower(100.0, window=50, hop=50, channels=CHANNELS, max_gap_s=0.5)
    windows: list[Window] = []
    for k in range(30):  # 10 samples every 0.1 s: a 100 Hz sensor
        windows += windower.push(
            batch(None, ramp[10 * k : 10 * k + 10]), arrival_time=5.0 + 0.1 * k
        )
    assert len(windows) == 6
    for k, w in enumerate(windows):
        # The first batch ends at its arrival, 0.01 s apart; later ones fill the time between.
        assert w.t_start == pytest.approx(5.0 - 0.09 + 0.5 * k, abs=1e-9)
        assert_allclose(w.data[:, 0], ramp[50 * k : 50 * k + 50], atol=1e-4)
        assert w.t_last_arrival == pytest.approx(5.0 + 0.1 * (5 * k + 4))


def test_batches_without_times_arriving_together_are_all_kept() -> None:
    windower = DeviceWindower(50.0, window=10, hop=10, channels=CHANNELS, max_gap_s=0.5)
    ones = np.ones(4)
    for _ in range(5):
        windower.push(batch(None, ones), arrival_time=1.0)
    windower.push(batch(None, ones), arrival_time=1.3)
    assert windower.counters.samples == 24
    assert windower.counters.duplicate == windower.counters.out_of_order == 0
    assert windower.counters.gap == 0


def test_bad_samples_are_dropped_and_counted() -> None:
    windower = DeviceWindower(50.0, window=10, hop=10, channels=CHANNELS, max_gap_s=0.5)
    t = np.arange(12) / 50.0
    x = t.copy()
    x[3] = np.nan
    t[5] = np.inf
    (window,) = windower.push(batch(t, x), arrival_time=0.0)
    assert windower.counters.non_finite == 2
    # The dropped samples of a linear signal are interpolated back exactly.
    assert_allclose(window.data[:, 0], np.arange(10) / 50.0, atol=1e-7)
    assert windower.push(SampleBatch("wrist", t, {"ax": x}), arrival_time=0.0) == []
    assert windower.counters.missing_channel == 12
    short = SampleBatch("wrist", t, {"ax": x, "ay": x[:5]})
    assert windower.push(short, arrival_time=0.0) == []
    text = SampleBatch("wrist", t[:2], {"ax": np.array(["a", "b"]), "ay": x[:2]})
    assert windower.push(text, arrival_time=0.0) == []
    words = SampleBatch("wrist", np.array(["now", "later"]), {"ax": x[:2], "ay": x[:2]})
    assert windower.push(words, arrival_time=0.0) == []
    assert windower.counters.malformed == 16
    assert windower.counters.samples == 10
    assert windower.counters.windows == 1


def test_channels_follow_the_bundle_order_and_extras_are_ignored() -> None:
    windower = DeviceWindower(50.0, window=5, hop=5, channels=("gz", "ax"), max_gap_s=0.5)
    t = np.arange(5) / 50.0
    sample = SampleBatch("w", t, {"ax": np.full(5, 1.0), "temp": np.full(5, 9.0), "gz": t})
    (window,) = windower.push(sample, arrival_time=0.0)
    assert_allclose(window.data, np.stack([t, np.ones(5)], axis=1), atol=1e-7)


def test_pool_keeps_one_windower_per_device_and_caps_devices() -> None:
    pool = WindowerPool(50.0, window=10, hop=10, channels=CHANNELS, max_gap_s=0.5, max_devices=2)
    t = np.arange(10) / 50.0
    assert pool.push(batch(t, t, "a"), 0.0)[0].device == "a"
    assert pool.push(batch(t + 100.0, t, "b"), 0.0)[0].device == "b"
    assert pool.push(batch(t, t, "c"), 0.0) == []
    assert sorted(pool.windowers) == ["a", "b"]
    assert pool.rejected_samples == 10
    totals = pool.totals()
    assert (totals.samples, totals.windows) == (20, 2)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate_hz": 0.0},
        {"window": 0},
        {"hop": 0},
        {"channels": ("ax", "ax")},
        {"max_gap_s": 0.0},
        {"max_gap_s": 6.0},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    settings: dict[str, object] = {
        "rate_hz": 50.0,
        "window": 10,
        "hop": 5,
        "channels": CHANNELS,
        "max_gap_s": 0.5,
    }
    with pytest.raises(ValueError):
        DeviceWindower(**{**settings, **kwargs})  # type: ignore[arg-type]


@pytest.mark.parametrize(("origin", "period"), [(0.1, 0.1), (3.017, 0.02), (-2.5, 1 / 3)])
def test_grid_count_matches_grid_times_at_the_boundary(origin: float, period: float) -> None:
    times = grid_times(origin, period, 0, 200)
    for j in (0, 1, 17, 199):
        assert grid_count(origin, period, 0, float(times[j])) == j + 1
        assert grid_count(origin, period, 0, float(np.nextafter(times[j], -np.inf))) == j
        assert grid_count(origin, period, 5, float(times[j])) == max(0, j + 1 - 5)


def test_interpolate_is_exact_at_sample_times_and_linear_between() -> None:
    rng = np.random.default_rng(3)
    t = np.cumsum(rng.uniform(0.1, 1.0, 20))
    x = rng.standard_normal((20, 3))
    assert_array_equal(interpolate(t, x, t), x)
    middle = (t[:-1] + t[1:]) / 2
    assert_allclose(interpolate(t, x, middle), (x[:-1] + x[1:]) / 2, rtol=1e-12, atol=1e-12)
    assert_array_equal(interpolate(t[:1], x[:1], t[:1]), x[:1])
