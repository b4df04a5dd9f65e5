"""The one-pass solve: streamed pairs give the in-memory result, from aggregates alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from harbridge.calibration.alignment import PerfectAlignment
from harbridge.calibration.encoders import block_encoder, split_blocks
from harbridge.calibration.gram import MomentSpec
from harbridge.calibration.rank import validation_errors, validation_standard_error
from harbridge.calibration.shards import ArrayPairs, GeneratedPairs, accumulate_pairs
from harbridge.calibration.split import FIT, HOLDOUT, VALIDATION, plan_split
from tests.test_alignment import exact_views


def noisy_views(
    n: int, rank: int, dims: tuple[int, ...], seed: int, noise: float = 0.3
) -> list[npt.NDArray[np.float64]]:
    rng = np.random.default_rng(seed + 100)
    views = exact_views(n, rank, dims, seed)
    return [v + rng.normal(size=v.shape) * v.std(axis=0) * noise for v in views]


def generated(
    views: list[npt.NDArray[Any]], shard: int, subject: npt.NDArray[Any] | None = None
) -> GeneratedPairs:
    """The same pairs, generated shard by shard (each call slices the arrays afresh)."""
    n = views[0].shape[0]
    sizes = tuple(min(shard, n - lo) for lo in range(0, n, shard))

    def make_shard(i: int) -> tuple[list[npt.NDArray[Any]], npt.NDArray[Any] | None]:
        rows = slice(i * shard, i * shard + sizes[i])
        return [v[rows].copy() for v in views], None if subject is None else subject[rows]

    return GeneratedPairs(
        make_shard,
        sizes,
        tuple(v.shape[1] for v in views),
        names=("video", "imu", "modality2")[: len(views)],
        subjects=None if subject is None else np.unique(subject),
        eps=float(np.finfo(views[0].dtype).eps),
    )


def assert_same_fit(a: PerfectAlignment, b: PerfectAlignment, rtol: float) -> None:
    assert a.rank_ == b.rank_ and a.rank_choice_.method == b.rank_choice_.method
    assert a.metrics_.n_train == b.metrics_.n_train
    assert a.metrics_.n_holdout == b.metrics_.n_holdout
    k = a.rank_
    assert_allclose(a.singular_values_[:k], b.singular_values_[:k], rtol=rtol)
    assert_allclose(a.components_, b.components_, rtol=rtol, atol=rtol)
    for m in range(len(a.dims_)):
        assert_allclose(a.affine(m)[0], b.affine(m)[0], rtol=rtol, atol=rtol * 1e-2)
    assert_allclose(a.metrics_.rel_cmae_train, b.metrics_.rel_cmae_train, rtol=rtol)
    assert_allclose(a.metrics_.rel_cmae_holdout, b.metrics_.rel_cmae_holdout, rtol=rtol)
    assert_allclose(a.residual_covariance_, b.residual_covariance_, rtol=rtol, atol=1e-14)


@pytest.mark.parametrize("shard", [97, 1000, 5000])
@pytest.mark.parametrize("with_subjects", [False, True])
def test_generated_shards_give_the_in_memory_solve(shard: int, with_subjects: bool) -> None:
    views = noisy_views(5000, 5, (30, 12), seed=1)
    subject = np.repeat(np.arange(25), 200) if with_subjects else None
    whole = PerfectAlignment().fit(views, subject=subject)
    streamed = PerfectAlignment().fit_source(generated(views, shard, subject))
    assert whole.rank_choice_.method == "validation"
    assert_same_fit(whole, streamed, rtol=1e-10)


@pytest.mark.parametrize("dims", [(50, 10), (20, 9, 14)])
def test_float32_exact_data_stream_to_float32_precision(dims: tuple[int, ...]) -> None:
    views = exact_views(20000, 6, dims, seed=2, dtype=np.float32)
    fit = PerfectAlignment().fit_source(generated(views, shard=733))
    assert fit.rank_ == 6 and fit.rank_choice_.method == "exact"
    assert fit.metrics_.rel_cmae_train < 1e-5
    assert fit.metrics_.rel_cmae_holdout < 1e-5
    assert fit.diagnostics_ == []


def latents(fit: PerfectAlignment, views: list[npt.NDArray[Any]], rows: Any) -> list[Any]:
    return [fit.transform(m, v[rows]) for m, v in enumerate(views)]


@pytest.mark.parametrize("n_views", [2, 3])
def test_metrics_from_moments_equal_metrics_from_rows(n_views: int) -> None:
    views = noisy_views(3000, 4, (16, 9, 11)[:n_views], seed=3)
    fit = PerfectAlignment(rank=4).fit(views)
    split = plan_split(3000, 0.2, 0.2, None, 0)
    parts = split.parts(0, 3000, None)
    for rows, suffix in ((parts != HOLDOUT, "train"), (parts == HOLDOUT, "holdout")):
        Z = latents(fit, views, rows)
        for a in range(n_views):
            for b in range(a + 1, n_views):
                diff = float(np.linalg.norm(Z[a] - Z[b]))
                mean_norm = (np.linalg.norm(Z[a]) + np.linalg.norm(Z[b])) / 2
                pair = fit.metrics_.pairs[f"{fit.names_[a]}~{fit.names_[b]}"]
                assert_allclose(pair[f"cmae_{suffix}"], diff, rtol=1e-9)
                assert_allclose(pair[f"rel_cmae_{suffix}"], diff / mean_norm, rtol=1e-9)
    held = parts == HOLDOUT
    residual = fit.transform(1, views[1][held]) - fit.transform(0, views[0][held])
    assert_allclose(fit.residual_covariance_, np.cov(residual.T), rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("ridge", [0.0, 0.05])
@pytest.mark.parametrize("dims", [(12, 7), (10, 6, 8)])
def test_validation_error_from_the_gram_equals_the_error_on_rows(
    ridge: float, dims: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(4)
    U, _ = np.linalg.qr(rng.normal(size=(sum(dims), 5)))
    X = rng.normal(size=(400, sum(dims))) @ rng.normal(size=(sum(dims), sum(dims))) * 0.3
    gram = X.T @ X
    rows = np.split(X, np.cumsum(dims)[:-1], axis=1)
    ranks = [1, 2, 3, 5]
    errors = validation_errors(U, dims, gram, ranks, ridge)
    for error, k in zip(errors, ranks, strict=True):
        blocks = split_blocks(U[:, :k], dims)
        shares = []
        for a, X_a in enumerate(rows):
            Z = X_a @ block_encoder(blocks[a], ridge).T
            shares += [
                np.sum((X_b - Z @ blocks[b].T) ** 2) / np.sum(X_b**2)
                for b, X_b in enumerate(rows)
                if b != a
            ]
        assert_allclose(error, np.mean(shares), rtol=1e-9)


def test_standard_error_from_a_full_sample_is_the_delta_method_on_rows() -> None:
    rng = np.random.default_rng(5)
    dims = (9, 6)
    U, _ = np.linalg.qr(rng.normal(size=(15, 4)))
    X = rng.normal(size=(300, 15)) * rng.uniform(0.5, 2.0, size=15)
    rows = np.split(X, [9], axis=1)
    k = 3
    error = validation_errors(U, dims, X.T @ X, [k], 0.0)[0]
    se = validation_standard_error(U, dims, X.T @ X, n_validation=300, sample=rows, k=k, ridge=0.0)
    blocks = split_blocks(U[:, :k], dims)
    terms = np.zeros(300)
    for a, b in ((0, 1), (1, 0)):
        missed = rows[b] - rows[a] @ block_encoder(blocks[a]).T @ blocks[b].T
        energy = np.sum(rows[b] ** 2, axis=1)
        ratio = np.sum(missed**2) / energy.sum()
        terms += (np.sum(missed**2, axis=1) - ratio * energy) / energy.mean() / 2
    assert error > 0
    assert_allclose(se, terms.std(ddof=1) / np.sqrt(300), rtol=1e-9)


@pytest.mark.parametrize("n", [2000, 40000])
def test_the_moments_of_the_pass_do_not_grow_with_the_pairs(n: int) -> None:
    views = noisy_views(n, 3, (20, 8), seed=6)
    source = ArrayPairs(views)
    split = plan_split(n, 0.2, 0.2, None, 0)
    spec = MomentSpec(dim=28, sample_size=512, seed=0, keep_rows=False)
    moments = accumulate_pairs(source, split, spec)
    assert moments.n_pairs == n
    counts = [part.count for part in moments.parts]
    assert counts == [n - round(0.2 * n) - round(0.2 * (n - round(0.2 * n))), *counts[1:]]
    assert counts[HOLDOUT] == round(0.2 * n)
    assert counts[VALIDATION] == round(0.2 * (n - counts[HOLDOUT]))
    held = sum(
        a.nbytes
        for a in [
            *(p.centred_gram for p in moments.parts),
            *(p.mean for p in moments.parts),
            *moments.sample.views,
        ]
    )
    assert held == 3 * (28 * 28 + 28) * 8 + 512 * 28 * 8
    assert moments.sample.rows.size == 512
    assert set(np.unique(moments.sample.parts)) == {FIT, VALIDATION, HOLDOUT}


def test_progress_counts_every_pair_once() -> None:
    views = noisy_views(5000, 3, (10, 5), seed=7)
    seen: list[tuple[int, int]] = []
    PerfectAlignment(rank=3).fit_source(
        generated(views, shard=1234), progress=lambda done, total: seen.append((done, total))
    )
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == 5000
    assert {total for _, total in seen} == {5000}
    assert len(seen) == 5


def test_direct_svd_path_keeps_only_fit_and_validation_rows() -> None:
    views = noisy_views(40, 3, (30, 20), seed=8)
    svd = PerfectAlignment(rank=3).fit(views)
    gram = PerfectAlignment(rank=3, method="gram").fit(views)
    assert svd.method_ == "svd" and gram.method_ == "gram"
    assert_allclose(svd.singular_values_[:3], gram.singular_values_[:3], rtol=1e-10)
    assert_allclose(svd.components_, gram.components_, atol=1e-8)


@pytest.mark.parametrize("rank", [2, 5, 9])
def test_another_rank_from_the_same_moments_equals_a_fresh_fit(rank: int) -> None:
    views = noisy_views(4000, 5, (24, 10), seed=9)
    subject = np.repeat(np.arange(20), 200)
    reads: list[int] = []
    source = generated(views, shard=1000, subject=subject)
    first = PerfectAlignment().fit_source(source, progress=lambda done, _: reads.append(done))
    again = first.at_rank(rank)
    fresh = PerfectAlignment(rank=rank).fit(views, subject=subject)
    assert reads[-1] == 4000 and len(reads) == 4  # one pass, for both solves
    assert again.rank_choice_.method == "given"
    assert_same_fit(again, fresh, rtol=1e-10)
    assert first.sample_.subject is not None
    assert_array_equal(first.sample_.subject, subject[first.sample_.rows])
