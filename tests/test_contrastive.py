"""Tests of the learned contrastive alignment baseline (harbridge.calibration.contrastive)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from harbridge.calibration.alignment import PerfectAlignment
from harbridge.calibration.contrastive import ContrastiveAlignment, adam_step, info_nce
from harbridge.calibration.metrics import cmae
from harbridge.calibration.synthetic import make_multimodal


def _naive_info_nce(
    Xv: np.ndarray, Xi: np.ndarray, Wv: np.ndarray, Wi: np.ndarray, tau: float
) -> float:
    """The loss written out pair by pair, as in the CLIP paper."""
    B = Xv.shape[0]
    u = [x @ w.T for x, w in ((Xv, Wv), (Xi, Wi))]
    u = [e / np.linalg.norm(e, axis=1, keepdims=True) for e in u]
    total = 0.0
    for a in range(B):
        row = [float(u[0][a] @ u[1][b]) / tau for b in range(B)]
        col = [float(u[0][b] @ u[1][a]) / tau for b in range(B)]
        total += -row[a] + np.log(np.sum(np.exp(row)))
        total += -col[a] + np.log(np.sum(np.exp(col)))
    return float(total / (2 * B))


def _problem(seed: int, B: int, d_v: int, d_i: int, k: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((B, d_v)),
        rng.standard_normal((B, d_i)),
        rng.standard_normal((k, d_v)),
        rng.standard_normal((k, d_i)),
    )


@pytest.mark.parametrize("temperature", [0.1, 1.0])
@pytest.mark.parametrize(("B", "d_v", "d_i", "k"), [(6, 5, 4, 3), (9, 3, 7, 2)])
def test_loss_matches_pairwise_definition(
    temperature: float, B: int, d_v: int, d_i: int, k: int
) -> None:
    Xv, Xi, Wv, Wi = _problem(0, B, d_v, d_i, k)
    loss, _, _ = info_nce(Xv, Xi, Wv, Wi, temperature)
    assert_allclose(loss, _naive_info_nce(Xv, Xi, Wv, Wi, temperature), rtol=1e-12)


@pytest.mark.parametrize("temperature", [0.1, 0.5])
@pytest.mark.parametrize(("B", "d_v", "d_i", "k"), [(7, 5, 4, 3), (4, 2, 6, 5)])
def test_gradients_match_finite_differences(
    temperature: float, B: int, d_v: int, d_i: int, k: int
) -> None:
    Xv, Xi, Wv, Wi = _problem(1, B, d_v, d_i, k)
    _, grad_v, grad_i = info_nce(Xv, Xi, Wv, Wi, temperature)
    h = 1e-6
    for W, grad, which in ((Wv, grad_v, 0), (Wi, grad_i, 1)):
        numeric = np.zeros_like(W)
        for index in np.ndindex(W.shape):
            plus, minus = W.copy(), W.copy()
            plus[index] += h
            minus[index] -= h
            args_plus = (Xv, Xi, plus, Wi) if which == 0 else (Xv, Xi, Wv, plus)
            args_minus = (Xv, Xi, minus, Wi) if which == 0 else (Xv, Xi, Wv, minus)
            numeric[index] = (
                info_nce(*args_plus, temperature)[0] - info_nce(*args_minus, temperature)[0]
            ) / (2 * h)
        # Central differences with h = 1e-6: truncation and rounding both below 1e-7.
        assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_loss_ignores_embedding_length() -> None:
    Xv, Xi, Wv, Wi = _problem(2, 5, 4, 4, 3)
    base = info_nce(Xv, Xi, Wv, Wi, 0.2)
    scaled = info_nce(Xv, Xi, 7.0 * Wv, 0.01 * Wi, 0.2)
    assert_allclose(scaled[0], base[0], rtol=1e-12)
    # So the gradient is orthogonal to W itself (row by row through each embedding).
    assert_allclose(np.sum(base[1] * Wv), 0.0, atol=1e-12)


def test_adam_first_step_moves_by_lr_against_the_gradient_sign() -> None:
    param = np.array([1.0, -2.0, 3.0])
    grad = np.array([0.5, -4.0, 1e-3])
    updated, first, second = adam_step(param, grad, np.zeros(3), np.zeros(3), step=1, lr=0.01)
    # Bias correction makes the first step lr · g / (|g| + ε).
    assert_allclose(updated, param - 0.01 * grad / (np.abs(grad) + 1e-8), rtol=1e-12)
    assert_allclose(first, 0.1 * grad, rtol=1e-12)
    assert_allclose(second, 0.001 * grad**2, rtol=1e-12)


@pytest.fixture(scope="module")
def noise_free() -> list[np.ndarray]:
    return make_multimodal(600, (10, 8), 4, n_classes=3, seed=0).views


def test_training_lowers_the_loss_and_finds_the_pairs(noise_free: list[np.ndarray]) -> None:
    model = ContrastiveAlignment(4, epochs=60, batch_size=200, seed=0).fit(noise_free)
    history = model.loss_history_
    assert history.shape == (60,)
    assert history[-1] < 0.5 * history[0]
    Ev = model.embed(0, noise_free[0])
    Ei = model.embed(1, noise_free[1])
    assert_allclose(np.linalg.norm(Ev, axis=1), 1.0, rtol=1e-12)
    # Retrieval: for most video rows, the nearest IMU embedding is its own pair.
    retrieved = np.argmax(Ev @ Ei.T, axis=1)
    assert np.mean(retrieved == np.arange(600)) > 0.5


def test_transform_is_the_encoder_on_standardised_features(noise_free: list[np.ndarray]) -> None:
    model = ContrastiveAlignment(3, epochs=2, seed=1).fit(noise_free)
    for m, X in enumerate(noise_free):
        st = model.standardizers_[m]
        expected = ((X - X.mean(axis=0)) * st.scale) @ model.encoders_[m].T
        assert_allclose(model.transform(m, X), expected, rtol=1e-10, atol=1e-12)
        assert model.encoders_[m].shape == (3, X.shape[1])


@pytest.mark.parametrize("batch_size", [None, 128])
def test_fit_is_deterministic(noise_free: list[np.ndarray], batch_size: int | None) -> None:
    a = ContrastiveAlignment(4, epochs=5, batch_size=batch_size, seed=3).fit(noise_free)
    b = ContrastiveAlignment(4, epochs=5, batch_size=batch_size, seed=3).fit(noise_free)
    c = ContrastiveAlignment(4, epochs=5, batch_size=batch_size, seed=4).fit(noise_free)
    for Wa, Wb, Wc in zip(a.encoders_, b.encoders_, c.encoders_, strict=True):
        assert_array_equal(Wa, Wb)
        assert not np.allclose(Wa, Wc)


def test_cmae_is_over_100_times_perfect_alignment(noise_free: list[np.ndarray]) -> None:
    learned = ContrastiveAlignment(4, epochs=30, seed=0).fit(noise_free)
    perfect = PerfectAlignment(rank=4, holdout=0.0).fit(noise_free)
    contrastive_cmae = cmae(
        learned.transform(0, noise_free[0]), learned.transform(1, noise_free[1])
    )
    perfect_cmae = cmae(perfect.transform(0, noise_free[0]), perfect.transform(1, noise_free[1]))
    assert contrastive_cmae >= 100 * perfect_cmae


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rank": 0}, "rank"),
        ({"temperature": 0.0}, "temperature"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 1}, "batch"),
    ],
)
def test_rejects_bad_hyper_parameters(
    noise_free: list[np.ndarray], kwargs: dict[str, float], match: str
) -> None:
    args: dict[str, float] = {"rank": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        ContrastiveAlignment(**args).fit(noise_free)  # type: ignore[arg-type]


def test_rejects_anything_but_two_paired_views(noise_free: list[np.ndarray]) -> None:
    with pytest.raises(ValueError, match="exactly two"):
        ContrastiveAlignment(2).fit([noise_free[0]] * 3)
    with pytest.raises(ValueError, match="same number of rows"):
        ContrastiveAlignment(2).fit([noise_free[0], noise_free[1][:10]])
