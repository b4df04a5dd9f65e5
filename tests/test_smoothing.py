"""Tests of harbridge.runtime.smoothing and .latency: averaging, decisions, percentiles."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from numpy.testing import assert_allclose

from harbridge.runtime.latency import LatencyRing
from harbridge.runtime.smoothing import UNKNOWN, Decision, Smoother, decide

CLASSES = ("walk", "sit", "wave")


def probabilities(seed: int, count: int) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=(count, len(CLASSES)))
    normalised: npt.NDArray[np.float64] = p / p.sum(axis=1, keepdims=True)
    return normalised


@pytest.mark.parametrize("n", [1, 2, 5])
def test_moving_average_is_the_mean_of_the_last_n(n: int) -> None:
    p = probabilities(0, 12)
    smoother = Smoother(n)
    for i in range(len(p)):
        expected = p[max(0, i - n + 1) : i + 1].mean(axis=0)
        assert_allclose(smoother.update(p[i]), expected, rtol=1e-12)


def test_n_of_one_leaves_probabilities_unchanged() -> None:
    p = probabilities(1, 5)
    smoother = Smoother(1)
    for row in p:
        assert_allclose(smoother.update(row), row, rtol=0, atol=0)


@pytest.mark.parametrize("alpha", [0.2, 0.5, 1.0])
def test_ema_follows_its_recurrence(alpha: float) -> None:
    p = probabilities(2, 10)
    smoother = Smoother(alpha=alpha)
    expected = p[0]
    assert_allclose(smoother.update(p[0]), expected, rtol=1e-12)
    for row in p[1:]:
        expected = alpha * row + (1 - alpha) * expected
        assert_allclose(smoother.update(row), expected, rtol=1e-12)


def test_smoothed_probabilities_still_sum_to_one() -> None:
    p = probabilities(3, 20)
    for smoother in (Smoother(4), Smoother(alpha=0.3)):
        for row in p:
            assert smoother.update(row).sum() == pytest.approx(1.0, abs=1e-12)


def test_a_new_segment_restarts_the_average() -> None:
    p = probabilities(4, 4)
    smoother = Smoother(3)
    smoother.update(p[0], segment=0)
    smoother.update(p[1], segment=0)
    assert_allclose(smoother.update(p[2], segment=1), p[2], rtol=1e-12)
    assert_allclose(smoother.update(p[3], segment=1), (p[2] + p[3]) / 2, rtol=1e-12)
    smoother.reset()
    assert_allclose(smoother.update(p[0]), p[0], rtol=1e-12)


def test_from_setting_reads_the_config_value() -> None:
    moving = Smoother.from_setting(3)
    ema = Smoother.from_setting(0.25)
    assert (moving.n, moving.alpha) == (3, None)
    assert ema.alpha == 0.25


@pytest.mark.parametrize(("n", "alpha"), [(0, None), (1, 0.0), (1, 1.5)])
def test_bad_smoother_settings_are_refused(n: int, alpha: float | None) -> None:
    with pytest.raises(ValueError):
        Smoother(n, alpha)


def test_changing_class_count_is_refused() -> None:
    smoother = Smoother(2)
    smoother.update([0.5, 0.5])
    with pytest.raises(ValueError, match="expected 2"):
        smoother.update([0.2, 0.3, 0.5])


@pytest.mark.parametrize(
    ("probs", "ood", "floor", "threshold", "expected"),
    [
        ([0.1, 0.7, 0.2], 1.0, 0.0, None, Decision("sit", 0.7, False)),
        ([0.1, 0.7, 0.2], 1.0, 0.0, 3.0, Decision("sit", 0.7, False)),
        ([0.1, 0.7, 0.2], 3.5, 0.0, 3.0, Decision(UNKNOWN, 0.7, True)),
        ([0.1, 0.7, 0.2], 3.0, 0.0, 3.0, Decision("sit", 0.7, False)),  # threshold is inclusive
        ([0.3, 0.3, 0.4], 1.0, 0.5, None, Decision(UNKNOWN, 0.4, True)),
        ([0.3, 0.3, 0.4], 1.0, 0.4, None, Decision("wave", 0.4, False)),
        ([0.1, np.nan, 0.2], 1.0, 0.0, None, Decision(UNKNOWN, 0.0, True)),
        ([0.1, 0.7, 0.2], np.inf, 0.0, None, Decision(UNKNOWN, 0.0, True)),
    ],
)
def test_decide(
    probs: list[float], ood: float, floor: float, threshold: float | None, expected: Decision
) -> None:
    decision = decide(probs, ood, CLASSES, confidence_floor=floor, ood_threshold=threshold)
    assert decision.label == expected.label
    assert decision.unknown is expected.unknown
    assert decision.confidence == pytest.approx(expected.confidence, abs=1e-12)
    assert tuple(decision)[::2] == (expected.label, expected.unknown)  # unpacks as a tuple


def test_decide_refuses_a_probability_count_that_does_not_match_the_classes() -> None:
    with pytest.raises(ValueError, match="3 classes"):
        decide([0.5, 0.5], 0.0, CLASSES)


def test_latency_percentiles_match_numpy_over_the_ring() -> None:
    rng = np.random.default_rng(5)
    values = rng.exponential(20.0, size=3000)
    ring = LatencyRing(size=1000)
    assert ring.summary().p50 is None and ring.summary().count == 0
    for v in values:
        ring.add(float(v))
    summary = ring.summary()
    assert summary.count == 3000
    # Only the newest 1000 are held.
    assert summary.p50 == pytest.approx(float(np.percentile(values[-1000:], 50)), rel=1e-12)
    assert summary.p99 == pytest.approx(float(np.percentile(values[-1000:], 99)), rel=1e-12)
    ring.clear()
    ring.add(4.0)
    assert (ring.summary().p50, ring.summary().p99, ring.summary().count) == (4.0, 4.0, 1)
