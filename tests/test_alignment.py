"""Invariants of the perfect-alignment solver."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from numpy.testing import assert_allclose

from harbridge.calibration.alignment import PerfectAlignment
from harbridge.calibration.errors import AlignmentError
from harbridge.calibration.gram import GramAccumulator


def exact_views(
    n: int, rank: int, dims: tuple[int, ...], seed: int, dtype: type = np.float64
) -> list[npt.NDArray[np.floating]]:
    """Views ``x_m = A_m z + b_m`` of one latent, with very different feature scales."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, rank))
    views: list[npt.NDArray[np.floating]] = []
    for d in dims:
        A = rng.normal(size=(rank, d)) * rng.uniform(0.01, 100.0, size=d)
        views.append((z @ A + rng.normal(size=d) * 10).astype(dtype))
    return views


@pytest.mark.parametrize("method", ["svd", "gram"])
@pytest.mark.parametrize(("dims", "rank"), [((40, 12), 5), ((30, 9, 20), 7), ((8, 8), 8)])
def test_exact_data_aligns_perfectly_and_auto_finds_rank(
    method: str, dims: tuple[int, ...], rank: int
) -> None:
    views = exact_views(600, rank, dims, seed=1)
    fit = PerfectAlignment(method=method).fit(views)  # type: ignore[arg-type]
    assert fit.rank_ == rank
    assert fit.rank_choice_.method == "exact"
    assert fit.metrics_.rel_cmae_train < 1e-6
    assert fit.metrics_.rel_cmae_holdout < 1e-6
    for pair in fit.metrics_.pairs.values():
        assert pair["rel_cmae_train"] < 1e-6
    assert fit.diagnostics_ == []


@pytest.mark.parametrize("method", ["svd", "gram"])
def test_float32_inputs_align_to_float32_precision(method: str) -> None:
    views = exact_views(800, 6, (50, 10), seed=2, dtype=np.float32)
    fit = PerfectAlignment(method=method).fit(views)  # type: ignore[arg-type]
    assert fit.rank_ == 6
    assert fit.metrics_.rel_cmae_train < 1e-5


@pytest.mark.parametrize("rank", [3, "auto"])
def test_svd_path_equals_gram_path(rank: int | str) -> None:
    rng = np.random.default_rng(3)
    views = exact_views(500, 4, (20, 9), seed=3)
    views = [v + rng.normal(size=v.shape) * v.std(axis=0) * 0.3 for v in views]
    svd = PerfectAlignment(rank=rank, method="svd").fit(views)  # type: ignore[arg-type]
    gram = PerfectAlignment(rank=rank, method="gram").fit(views)  # type: ignore[arg-type]
    assert svd.rank_ == gram.rank_
    k = svd.rank_
    assert_allclose(gram.singular_values_[:k], svd.singular_values_[:k], rtol=1e-10)
    assert_allclose(gram.components_, svd.components_, atol=1e-8)
    for m in range(2):
        assert_allclose(gram.encoders_[m], svd.encoders_[m], atol=1e-7)


def test_gram_accumulators_merge_exactly() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(1000, 7)) * 5 + 100
    whole = GramAccumulator(7)
    whole.update(X)
    parts = [GramAccumulator(7) for _ in range(3)]
    for part, rows in zip(parts, np.array_split(X, [10, 600]), strict=True):
        part.update(rows)
    parts[0].merge(parts[1])
    parts[0].merge(parts[2])
    centred = X - X.mean(axis=0)
    assert parts[0].count == 1000
    assert_allclose(parts[0].mean, X.mean(axis=0), rtol=1e-12)
    assert_allclose(parts[0].centred_gram, centred.T @ centred, rtol=1e-10)
    assert_allclose(whole.centred_gram, centred.T @ centred, rtol=1e-10)


def test_same_data_gives_identical_weights() -> None:
    views = exact_views(300, 3, (15, 6), seed=5)
    first = PerfectAlignment(rank=3).fit(views)
    second = PerfectAlignment(rank=3).fit([v.copy() for v in views])
    for m in range(2):
        assert np.array_equal(first.affine(m)[0], second.affine(m)[0])


def test_carry_maps_imu_features_onto_video_features_on_exact_data() -> None:
    views = exact_views(400, 4, (25, 10), seed=6)
    fit = PerfectAlignment(rank=4, holdout=0.0).fit(views)
    assert_allclose(
        fit.carry(1, 0, views[1]), views[0], rtol=1e-7, atol=1e-6 * np.abs(views[0]).max()
    )


def test_noisy_data_rank_is_chosen_on_validation_pairs() -> None:
    rng = np.random.default_rng(7)
    views = exact_views(3000, 6, (40, 15), seed=7)
    views = [v + rng.normal(size=v.shape) * v.std(axis=0) * 0.5 for v in views]
    fit = PerfectAlignment().fit(views)
    assert fit.rank_choice_.method == "validation"
    assert 3 <= fit.rank_ <= 8
    assert fit.rank_choice_.candidates[: fit.rank_] == list(range(1, fit.rank_ + 1))
    assert any("not exactly rank" in note for note in fit.diagnostics_)


def test_subjects_are_held_out_whole() -> None:
    views = exact_views(500, 3, (10, 5), seed=8)
    subject = np.repeat(np.arange(10), 50)
    fit = PerfectAlignment(holdout=0.2).fit(views, subject=subject)
    assert fit.holdout_["by"] == "subject"
    assert len(fit.holdout_["subjects"]) == 2
    assert fit.metrics_.n_holdout == 100


def test_constant_features_are_reported_and_ignored() -> None:
    views = exact_views(300, 3, (10, 6), seed=9)
    views[1][:, 2] = 4.0
    fit = PerfectAlignment(rank=3).fit(views)
    assert any("1 of 6 imu features are constant" in note for note in fit.diagnostics_)
    assert fit.metrics_.rel_cmae_train < 1e-6


def test_rank_deficient_block_is_diagnosed() -> None:
    rng = np.random.default_rng(10)
    z = rng.normal(size=(400, 4))
    video = z @ rng.normal(size=(4, 12))
    imu = z[:, :2] @ rng.normal(size=(2, 6))  # the IMU sees only two of four directions
    fit = PerfectAlignment(rank=4).fit([video, imu])
    assert any(
        "imu block of the alignment has only 2 independent directions" in n
        for n in fit.diagnostics_
    )


@pytest.mark.parametrize(
    ("rank", "message"),
    [
        (0, "positive integer"),
        (13, "rank 13 exceeds the imu feature dimension 9; perfect alignment needs rank ≤ 9"),
    ],
)
def test_impossible_ranks_are_refused(rank: int, message: str) -> None:
    views = exact_views(100, 3, (20, 9), seed=11)
    with pytest.raises(AlignmentError, match=message):
        PerfectAlignment(rank=rank).fit(views)


def test_fewer_pairs_than_rank_is_refused() -> None:
    views = exact_views(6, 3, (20, 9), seed=12)
    with pytest.raises(AlignmentError, match="training pairs for rank 8"):
        PerfectAlignment(rank=8, holdout=0.0).fit(views)


def test_all_constant_modality_is_refused() -> None:
    views = exact_views(50, 3, (20, 9), seed=13)
    views[1][:] = 1.0
    with pytest.raises(AlignmentError, match="all 9 imu features are constant"):
        PerfectAlignment().fit(views)


def test_residual_covariance_matches_held_out_latent_differences() -> None:
    rng = np.random.default_rng(14)
    views = exact_views(1200, 4, (20, 9), seed=14)
    views = [v + rng.normal(size=v.shape) * v.std(axis=0) * 0.2 for v in views]
    subject = np.repeat(np.arange(12), 100)
    fit = PerfectAlignment(rank=4).fit(views, subject=subject)
    held = np.isin(subject, fit.holdout_["subjects"])
    residual = fit.transform(1, views[1][held]) - fit.transform(0, views[0][held])
    assert_allclose(fit.residual_covariance_, np.cov(residual.T), rtol=1e-10, atol=1e-12)


def test_residual_covariance_vanishes_on_exact_data() -> None:
    fit = PerfectAlignment(rank=3).fit(exact_views(300, 3, (10, 6), seed=15))
    assert np.abs(fit.residual_covariance_).max() < 1e-12
