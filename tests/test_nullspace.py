"""Tests of the null-space alignment variant (harbridge.calibration.nullspace)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from harbridge.calibration.metrics import rel_cmae
from harbridge.calibration.nullspace import NullSpaceAlignment, null_space_encoders
from harbridge.calibration.synthetic import make_multimodal


@pytest.mark.parametrize(("n", "d_v", "d_i", "k"), [(50, 6, 4, 3), (8, 7, 5, 6), (30, 3, 3, 6)])
def test_encoders_are_the_smallest_singular_directions(n: int, d_v: int, d_i: int, k: int) -> None:
    rng = np.random.default_rng(0)
    Xv = rng.standard_normal((n, d_v))
    Xi = rng.standard_normal((n, d_i))
    Wv, Wi, s = null_space_encoders(Xv, Xi, k)
    assert Wv.shape == (k, d_v)
    assert Wi.shape == (k, d_i)
    Q = np.hstack([Wv, Wi])
    # Jointly orthonormal directions ...
    assert_allclose(Q @ Q.T, np.eye(k), atol=1e-12)
    # ... whose residual ‖X_v w_v − X_i w_i‖ is the reported singular value ...
    residual = np.linalg.norm(Xv @ Wv.T - Xi @ Wi.T, axis=0)
    assert_allclose(residual, s, atol=1e-10)
    # ... and those are the k smallest eigenvalues of MᵀM (zeros beyond n rows).
    M = np.hstack([Xv, -Xi])
    smallest = np.sqrt(np.clip(np.linalg.eigvalsh(M.T @ M)[:k], 0.0, None))
    assert_allclose(s, smallest, atol=1e-6)
    assert np.all(np.diff(s) >= 0)


def test_sign_convention_makes_largest_entry_positive() -> None:
    rng = np.random.default_rng(1)
    Wv, Wi, _ = null_space_encoders(rng.standard_normal((40, 5)), rng.standard_normal((40, 4)), 3)
    Q = np.hstack([Wv, Wi])
    assert np.all(Q[np.arange(3), np.argmax(np.abs(Q), axis=1)] > 0)


@pytest.mark.parametrize(("dims", "k"), [((6, 6), 6), ((8, 8), 4)])
def test_noise_free_data_with_d_equal_k_align_exactly(dims: tuple[int, int], k: int) -> None:
    # d_video + d_imu − k null directions; with d = k they are exactly the k shared ones.
    data = make_multimodal(500, dims, dims[0], n_classes=3, seed=2)
    model = NullSpaceAlignment(k).fit(data.views)
    Zv = model.transform(0, data.views[0])
    Zi = model.transform(1, data.views[1])
    assert_allclose(model.singular_values_, 0.0, atol=1e-10)
    assert rel_cmae(Zv, Zi) < 1e-8
    # Each latent carries signal in both modalities (not the trivial zero encoder).
    assert np.all(np.linalg.norm(Zv, axis=0) > 1e-3 * np.linalg.norm(Zv))


def test_transform_applies_the_shared_standardisation() -> None:
    data = make_multimodal(200, (5, 4), 3, n_classes=2, noise=0.1, seed=3)
    model = NullSpaceAlignment(2).fit(data.views)
    for m, X in enumerate(data.views):
        st = model.standardizers_[m]
        expected = ((X - X.mean(axis=0)) * st.scale) @ model.encoders_[m].T
        assert_allclose(model.transform(m, X), expected, rtol=1e-10, atol=1e-12)


def test_fit_is_deterministic() -> None:
    data = make_multimodal(100, (5, 4), 3, n_classes=2, noise=0.05, seed=4)
    a = NullSpaceAlignment(3).fit(data.views)
    b = NullSpaceAlignment(3).fit([v.copy() for v in data.views])
    for Wa, Wb in zip(a.encoders_, b.encoders_, strict=True):
        assert_array_equal(Wa, Wb)


@pytest.mark.parametrize("rank", [0, 10])
def test_rejects_rank_outside_the_stacked_dimension(rank: int) -> None:
    data = make_multimodal(20, (5, 4), 3, n_classes=2, seed=5)
    with pytest.raises(ValueError, match=r"rank must be in 1\.\.9"):
        NullSpaceAlignment(rank).fit(data.views)


def test_rejects_anything_but_two_paired_views() -> None:
    data = make_multimodal(20, (5, 4, 3), 2, n_classes=2, seed=6)
    with pytest.raises(ValueError, match="exactly two"):
        NullSpaceAlignment(2).fit(data.views)
    with pytest.raises(ValueError, match="same number of rows"):
        NullSpaceAlignment(2).fit([data.views[0], data.views[1][:5]])
