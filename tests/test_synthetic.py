"""Tests of the synthetic multimodal Gaussian data (harbridge.calibration.synthetic)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from harbridge.calibration.synthetic import (
    make_multimodal,
    make_split,
    random_model,
    sample,
)


@pytest.mark.parametrize("dims", [(16, 12), (5, 7, 9)])
@pytest.mark.parametrize("rank", [1, 4])
def test_shapes_and_labels(dims: tuple[int, ...], rank: int) -> None:
    data = make_multimodal(50, dims, rank, n_classes=3, seed=1)
    assert [v.shape for v in data.views] == [(50, d) for d in dims]
    assert all(v.dtype == np.float64 for v in data.views)
    assert data.latent.shape == (50, rank)
    assert data.label.shape == (50,)
    assert set(np.unique(data.label)) <= {0, 1, 2}


@pytest.mark.parametrize(("dims", "rank"), [((16, 12), 8), ((6, 6), 6), ((16, 12), 20)])
def test_noise_free_views_are_affine_images_of_the_latent(dims: tuple[int, int], rank: int) -> None:
    model = random_model(dims, rank, 4, seed=3)
    data = sample(model, 300, seed=4)
    for x, a, b in zip(data.views, model.mixing, model.offsets, strict=True):
        assert_allclose(x, data.latent @ a.T + b, rtol=1e-12, atol=1e-12)
    # The stacked centred views have rank min(k, d_video + d_imu): the exact-rank case.
    stacked = np.hstack(data.views)
    s = np.linalg.svd(stacked - stacked.mean(axis=0), compute_uv=False)
    expected = min(rank, sum(dims))
    assert np.sum(s > s[0] * 1e-10) == expected


@pytest.mark.parametrize("noise", [0.01, 0.3])
def test_noise_is_a_ratio_to_each_feature_signal_std(noise: float) -> None:
    model = random_model((10, 8), 5, 3, seed=0)
    clean = sample(model, 20000, seed=7)
    noisy = sample(model, 20000, noise=noise, seed=7)
    for x, x0, std in zip(noisy.views, clean.views, model.signal_std, strict=True):
        ratio = (x - x0).std(axis=0) / std
        # 20000 samples: the std of a std estimate is about 0.5 %; 3 % is generous.
        assert_allclose(ratio, noise, rtol=0.03)
        assert_allclose(x0.std(axis=0), std, rtol=0.05)


def test_feature_scales_span_decades_so_standardising_matters() -> None:
    data = make_multimodal(2000, (32, 24), 6, n_classes=3, seed=5)
    for x in data.views:
        std = x.std(axis=0)
        assert std.max() / std.min() > 10.0
        # Offsets are several feature scales: data are far from centred.
        assert np.median(np.abs(x.mean(axis=0)) / std) > 0.5


@pytest.mark.parametrize("separation", [1.0, 4.0])
def test_class_separation_is_the_mean_distance_in_within_class_stds(separation: float) -> None:
    # Averaged over many models: E‖μ_a − μ_b‖² = separation², mean within-class variance 1.
    squared = []
    within = []
    for seed in range(40):
        model = random_model((4, 4), 6, 5, class_separation=separation, seed=seed)
        mu = model.class_means
        diffs = mu[:, None, :] - mu[None, :, :]
        squared.append(np.sum(diffs**2, axis=2)[np.triu_indices(5, 1)].mean())
        covariances = model.class_factors @ np.swapaxes(model.class_factors, 1, 2)
        within.append(np.trace(covariances, axis1=1, axis2=2).mean() / 6)
    assert_allclose(np.mean(squared), separation**2, rtol=0.15)
    assert_allclose(np.mean(within), 1.0, rtol=0.1)


def test_latent_follows_its_class_gaussian() -> None:
    model = random_model((4, 4), 3, 2, seed=11)
    data = sample(model, 40000, seed=12)
    for c in range(2):
        z = data.latent[data.label == c]
        sigma = model.class_factors[c] @ model.class_factors[c].T
        assert_allclose(z.mean(axis=0), model.class_means[c], atol=0.05)
        assert_allclose(np.cov(z, rowvar=False), sigma, atol=0.06)


def test_same_seed_same_data_other_seed_other_data() -> None:
    a = make_multimodal(30, (5, 4), 3, n_classes=2, noise=0.1, seed=9)
    b = make_multimodal(30, (5, 4), 3, n_classes=2, noise=0.1, seed=9)
    c = make_multimodal(30, (5, 4), 3, n_classes=2, noise=0.1, seed=10)
    for x, y in zip(a.views, b.views, strict=True):
        assert_array_equal(x, y)
    assert_array_equal(a.label, b.label)
    assert not np.allclose(a.views[0], c.views[0])


def test_split_draws_train_and_test_from_one_model() -> None:
    train, test = make_split(400, 300, (8, 6), 4, 3, seed=2)
    assert train.views[0].shape == (400, 8)
    assert test.views[1].shape == (300, 6)
    assert not np.allclose(train.latent[:300], test.latent)
    # The affine map latent -> view learned on train reproduces test exactly.
    for x_train, x_test in zip(train.views, test.views, strict=True):
        design = np.hstack([train.latent, np.ones((400, 1))])
        coef, *_ = np.linalg.lstsq(design, x_train, rcond=None)
        predicted = np.hstack([test.latent, np.ones((300, 1))]) @ coef
        assert_allclose(predicted, x_test, rtol=1e-9, atol=1e-9 * np.abs(x_test).max())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dims": ()}, "dims"),
        ({"dims": (3, 0)}, "dims"),
        ({"rank": 0}, "rank"),
        ({"n_classes": 0}, "n_classes"),
        ({"class_separation": -1.0}, "class_separation"),
    ],
)
def test_random_model_rejects_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"dims": (3, 3), "rank": 2, "n_classes": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        random_model(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(("n", "noise", "match"), [(0, 0.0, "n must"), (5, -0.1, "noise")])
def test_sample_rejects_bad_parameters(n: int, noise: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sample(random_model((3, 3), 2, 2), n, noise=noise)
