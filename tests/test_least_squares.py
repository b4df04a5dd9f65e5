"""Cross-fitted least squares: the leave-group-out shortcut equals refitting every fold."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from harbridge.calibration import least_squares
from harbridge.calibration.gaussian import CrossModalCarry, cross_fit_folds
from harbridge.calibration.least_squares import cross_fitted_least_squares


def refitted(X: np.ndarray, Y: np.ndarray, folds: list[np.ndarray]) -> np.ndarray:
    """Cross-fitted residuals the long way: a fit without each fold (intercept unpenalised,
    minimum-norm slopes from the pseudo-inverse of the centred rows)."""
    residual = np.empty_like(Y)
    for rows in folds:
        keep = np.ones(X.shape[0], dtype=bool)
        keep[rows] = False
        mean_x, mean_y = X[keep].mean(axis=0), Y[keep].mean(axis=0)
        B = np.linalg.pinv(X[keep] - mean_x) @ (Y[keep] - mean_y)
        residual[rows] = Y[rows] - (X[rows] @ B + mean_y - mean_x @ B)
    return residual


def dataset(seed: int, n: int, d: int, subjects: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) / np.sqrt(d)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    Y = X @ rng.normal(size=(d, 5)) + rng.normal(size=(n, 5)) + 3.0
    return X, Y, rng.integers(0, subjects, n)


def count_shortcuts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the folds whose residuals come from the leave-group-out identity."""
    taken = [0]
    identity = least_squares._leave_group_out

    def counted(*args: object) -> np.ndarray | None:
        held = identity(*args)  # type: ignore[arg-type]
        taken[0] += held is not None
        return held

    monkeypatch.setattr(least_squares, "_leave_group_out", counted)
    return taken


@pytest.mark.parametrize(
    ("n", "d", "subjects", "shortcuts"),
    [
        (600, 20, 60, 60),  # every fold smaller than d: the shortcut throughout
        (600, 12, 5, 0),  # every fold larger than d: refitted from moments
        (400, 24, 16, 8),  # both (folds of 17 to 33 pairs)
    ],
)
def test_residuals_equal_refitting_without_each_fold(
    monkeypatch: pytest.MonkeyPatch, n: int, d: int, subjects: int, shortcuts: int
) -> None:
    X, Y, subject = dataset(n + d + subjects, n, d, subjects)
    folds, _ = cross_fit_folds(n, subject)
    taken = count_shortcuts(monkeypatch)
    B, c, residual = cross_fitted_least_squares(X, Y, folds)
    assert taken[0] == shortcuts == sum(rows.size <= d for rows in folds)
    solution = np.linalg.lstsq(np.column_stack([X, np.ones(n)]), Y, rcond=None)[0]
    assert_allclose(B, solution[:-1], rtol=1e-9, atol=1e-9)
    assert_allclose(c, solution[-1], rtol=1e-9)
    assert_allclose(residual, refitted(X, Y, folds), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("subjects", [40, 80])
def test_shortcut_equals_the_moment_path(monkeypatch: pytest.MonkeyPatch, subjects: int) -> None:
    X, Y, subject = dataset(subjects, 800, 32, subjects)
    folds, _ = cross_fit_folds(800, subject)
    taken = count_shortcuts(monkeypatch)
    fast = cross_fitted_least_squares(X, Y, folds)
    assert taken[0] == subjects
    # No scatter is well posed enough for the shortcut: every fold is refitted.
    monkeypatch.setattr(least_squares, "WELL_POSED", np.inf)
    slow = cross_fitted_least_squares(X, Y, folds)
    for a, b in zip(fast, slow, strict=True):
        assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_fold_alone_spanning_a_direction_is_refitted(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(240, 60))
    X[40:, 5] = 0.0  # only the first subject varies along feature 5
    Y = X @ rng.normal(size=(60, 3)) + rng.normal(size=(240, 3))
    folds, _ = cross_fit_folds(240, np.repeat(np.arange(6), 40))
    taken = count_shortcuts(monkeypatch)
    _, _, residual = cross_fitted_least_squares(X, Y, folds)
    assert taken[0] == 5
    # Without the first subject feature 5 is all zeros: the minimum-norm fit gives it 0.
    assert_allclose(residual, refitted(X, Y, folds), rtol=1e-8, atol=1e-10)


def test_more_features_than_pairs_falls_back_to_the_pseudo_inverse() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 90))
    Y = X[:, :4] @ rng.normal(size=(4, 3)) + rng.normal(size=(60, 3))
    folds, _ = cross_fit_folds(60, np.repeat(np.arange(6), 10))
    _, _, residual = cross_fitted_least_squares(X, Y, folds)
    assert_allclose(residual, refitted(X, Y, folds), rtol=1e-7, atol=1e-9)


def test_carry_with_many_subjects_and_a_constant_feature_equals_refitting() -> None:
    rng = np.random.default_rng(3)
    video = rng.normal(size=(1000, 10)) * rng.uniform(0.1, 10, 10) + 4
    video[:, 2] = 7.0
    imu = video @ rng.normal(size=(10, 4)) + rng.normal(size=(1000, 4))
    subject = rng.integers(0, 50, 1000)
    carry = CrossModalCarry().fit(video, imu, subject)
    assert (carry.folds_, carry.n_folds_) == ("subject", 50)
    folds, _ = cross_fit_folds(1000, subject)
    residual = refitted(video, imu, folds)
    assert_allclose(carry.residual_covariance_, np.cov(residual.T), rtol=1e-8)
    assert carry.coef_[2].tolist() == [0.0] * 4
