"""The Gaussian class model and its ONNX head."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from numpy.testing import assert_allclose
from scipy.stats import chi2, multivariate_normal

from harbridge.calibration.gaussian import GaussianClassifier, ledoit_wolf
from harbridge.models.gaussian_head import build_gaussian_head, gaussian_head, read_gaussian_head


def blobs(seed: int, n: int = 600, k: int = 4, n_classes: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n_classes, k)) * 4
    y = rng.integers(0, n_classes, n)
    scales = rng.uniform(0.5, 2.0, size=(n_classes, k))
    return means[y] + rng.normal(size=(n, k)) * scales[y], y


def test_posteriors_match_bayes_rule_with_scipy_densities() -> None:
    Z, y = blobs(0)
    model = GaussianClassifier(shrinkage=0.1).fit(Z, y, 5)
    density = np.stack(
        [multivariate_normal(model.means_[c], model.covariances_[c]).pdf(Z) for c in range(5)],
        axis=1,
    )
    expected = density * model.priors_
    expected /= expected.sum(axis=1, keepdims=True)
    assert_allclose(model.predict_proba(Z), expected, atol=1e-10)


def test_shared_covariance_uses_one_matrix_for_all_classes() -> None:
    Z, y = blobs(1)
    model = GaussianClassifier(covariance="shared").fit(Z, y, 5)
    for c in range(1, 5):
        assert_allclose(model.covariances_[c], model.covariances_[0])


def test_ledoit_wolf_matches_scikit_learn() -> None:
    sklearn = pytest.importorskip("sklearn.covariance")
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 6))
    X -= X.mean(axis=0)
    covariance, shrinkage = ledoit_wolf(X)
    reference = sklearn.LedoitWolf(assume_centered=True).fit(X)
    assert_allclose(shrinkage, reference.shrinkage_, rtol=1e-10)
    assert_allclose(covariance, reference.covariance_, rtol=1e-10)


def test_small_class_stays_well_posed() -> None:
    Z, y = blobs(3)
    y[:] = np.where(y == 4, 3, y)
    y[0] = 4  # a single sample: borrows the pooled covariance
    model = GaussianClassifier().fit(Z, y, 5)
    assert np.all(np.isfinite(model.predict_proba(Z)))
    assert np.all(np.linalg.eigvalsh(model.covariances_) > 0)


def test_ood_threshold_is_the_chi_square_quantile_and_flags_far_points() -> None:
    Z, y = blobs(4)
    model = GaussianClassifier().fit(Z, y, 5)
    assert model.ood_threshold_ == pytest.approx(np.sqrt(chi2.ppf(0.999, 4)))
    inliers = model.ood_score(Z)
    assert np.mean(inliers > model.ood_threshold_) < 0.01
    far = model.means_[0] + 100.0
    assert model.ood_score(far[None, :])[0] > model.ood_threshold_


@pytest.mark.parametrize("covariance", ["per_class", "shared"])
@pytest.mark.parametrize("seed", [5, 6])
def test_onnx_head_equals_numpy_twin_and_model(covariance: str, seed: int) -> None:
    Z, y = blobs(seed)
    model = GaussianClassifier(covariance=covariance).fit(Z, y, 5)  # type: ignore[arg-type]
    session = ort.InferenceSession(build_gaussian_head(model.parameters_).SerializeToString())
    probs, ood = session.run(["probs", "ood"], {"latent": Z.astype(np.float32)})
    twin_probs, twin_ood = gaussian_head(Z, model.parameters_)
    assert_allclose(probs, twin_probs, atol=1e-5)
    assert_allclose(ood, twin_ood, rtol=1e-5, atol=1e-5)
    assert_allclose(probs, model.predict_proba(Z), atol=1e-5)
    assert_allclose(ood, model.ood_score(Z), rtol=1e-5, atol=1e-5)


def test_head_without_probs_gives_only_ood() -> None:
    Z, y = blobs(7)
    model = GaussianClassifier().fit(Z, y, 5)
    session = ort.InferenceSession(
        build_gaussian_head(model.parameters_, with_probs=False).SerializeToString()
    )
    assert [o.name for o in session.get_outputs()] == ["ood"]
    (ood,) = session.run(None, {"latent": Z.astype(np.float32)})
    assert_allclose(ood, model.ood_score(Z), rtol=1e-5, atol=1e-5)


def test_noise_covariance_is_added_to_every_class() -> None:
    Z, y = blobs(8)
    noise = np.diag([0.5, 1.0, 2.0, 4.0])
    plain = GaussianClassifier().fit(Z, y, 5)
    noisy = GaussianClassifier().fit(Z, y, 5, noise_covariance=noise)
    assert_allclose(
        noisy.covariances_ - plain.covariances_, np.broadcast_to(noise, (5, 4, 4)), atol=1e-12
    )
    rng = np.random.default_rng(9)
    corrupted = Z + rng.multivariate_normal(np.zeros(4), noise * 4, size=Z.shape[0])
    assert np.mean(noisy.predict(corrupted) == y) > np.mean(plain.predict(corrupted) == y)


def test_head_parameters_read_back_from_the_graph() -> None:
    Z, y = blobs(10)
    model = GaussianClassifier().fit(Z, y, 5)
    read = read_gaussian_head(build_gaussian_head(model.parameters_))
    assert_allclose(read.whiten, model.parameters_.whiten, rtol=1e-6, atol=1e-6)
    assert_allclose(read.means, model.parameters_.means, rtol=1e-4, atol=1e-4)
    assert_allclose(read.log_norm, model.parameters_.log_norm, rtol=1e-6)
