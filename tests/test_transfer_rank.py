"""Zero-label transfer: the cross-modal carry, video pseudo-labels and the rank chooser."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from harbridge.calibration.alignment import PerfectAlignment
from harbridge.calibration.gaussian import CrossModalCarry, GaussianClassifier, cross_fit_folds
from harbridge.calibration.rank import RankChoice
from harbridge.calibration.synthetic import SyntheticData, make_split
from harbridge.calibration.transfer_rank import (
    MAX_FOLDS,
    METHOD,
    TransferRankChoice,
    choose_transfer_rank,
    rank_choice_manifest,
    transfer_agreement,
    transfer_candidates,
    video_pseudo_labels,
)
from harbridge.cli import main


def noisy_split(seed: int, noise: float = 0.3) -> tuple[SyntheticData, SyntheticData]:
    return make_split(600, 600, (16, 12), 4, 4, noise=noise, seed=seed, class_separation=4.0)


def carried_accuracy(train: SyntheticData, test: SyntheticData, rank: int) -> float:
    """Test accuracy of the bundle's Gaussian head at ``rank`` (labelled video = train video)."""
    alignment = PerfectAlignment(rank=rank, holdout=0.0).fit(train.views)
    carry = CrossModalCarry().fit(*train.views)
    W, _ = alignment.affine(1)
    head = GaussianClassifier().fit(
        alignment.transform(1, carry.predict(train.views[0])),
        train.label,
        4,
        noise_covariance=W @ carry.residual_covariance_ @ W.T,
    )
    return float(np.mean(head.predict(alignment.transform(1, test.views[1])) == test.label))


@pytest.mark.parametrize(
    ("n", "subject", "expected_by", "expected_sizes"),
    [
        (9, [0, 0, 1, 1, 1, 2, 2, 2, 2], "subject", [2, 3, 4]),
        (9, [0, 0, 0, 0, 1, 1, 1, 1, 1], "block", [2, 2, 2, 2, 1]),
        (7, None, "block", [2, 2, 1, 1, 1]),
        (3, None, "block", [1, 1, 1]),
    ],
)
def test_folds_are_subjects_or_contiguous_blocks(
    n: int, subject: list[int] | None, expected_by: str, expected_sizes: list[int]
) -> None:
    folds, by = cross_fit_folds(n, subject)
    assert by == expected_by
    assert [f.size for f in folds] == expected_sizes
    assert_allclose(np.sort(np.concatenate(folds)), np.arange(n))
    for rows in folds:
        assert np.all(np.diff(rows) > 0)
        if by == "block":
            assert rows[-1] - rows[0] == rows.size - 1


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        # up to max_folds subjects: one fold each, as without a cap
        ([4, 4, 9, 2, 9, 2], [[3, 5], [0, 1], [2, 4]]),
        # more: the j-th subject in sorted order joins fold j mod max_folds
        ([0, 1, 2, 3, 4, 5, 6, 0, 6], [[0, 3, 6, 7, 8], [1, 4], [2, 5]]),
        ([10, 30, 20, 50, 40, 60], [[0, 4], [2, 3], [1, 5]]),
    ],
)
def test_subject_folds_are_capped_by_grouping_whole_subjects(
    subject: list[int], expected: list[list[int]]
) -> None:
    folds, by = cross_fit_folds(len(subject), subject, max_folds=3)
    assert by == "subject"
    assert [rows.tolist() for rows in folds] == expected
    for rows in folds:
        held = set(np.asarray(subject)[rows].tolist())
        outside = set(np.delete(np.asarray(subject), rows).tolist())
        assert not held & outside


def test_carry_is_least_squares_with_residuals_held_out_fold_by_fold() -> None:
    rng = np.random.default_rng(0)
    video = rng.normal(size=(300, 6)) * [1, 10, 100, 0.1, 1, 5] + 7
    imu = video @ rng.normal(size=(6, 4)) + rng.normal(size=(300, 4)) * 0.5
    subject = np.repeat(np.arange(5), 60)
    carry = CrossModalCarry().fit(video, imu, subject)
    design = np.column_stack([video, np.ones(300)])
    solution = np.linalg.lstsq(design, imu, rcond=None)[0]
    assert_allclose(carry.coef_, solution[:-1], rtol=1e-8, atol=1e-10)
    assert_allclose(carry.intercept_, solution[-1], rtol=1e-8, atol=1e-10)
    residual = np.empty_like(imu)
    for s in range(5):
        held = subject == s
        fit = np.linalg.lstsq(design[~held], imu[~held], rcond=None)[0]
        residual[held] = imu[held] - design[held] @ fit
    assert_allclose(carry.residual_covariance_, np.cov(residual.T), rtol=1e-8)
    assert (carry.folds_, carry.n_folds_) == ("subject", 5)
    # Cross-fitted residuals are larger than in-sample ones, and near the true noise (0.25).
    in_sample = np.cov((imu - design @ solution).T)
    assert np.trace(carry.residual_covariance_) > np.trace(in_sample)
    assert_allclose(np.diag(carry.residual_covariance_), 0.25, rtol=0.3)


def test_carry_reproduces_perfect_alignment_on_exact_data() -> None:
    train, _ = make_split(500, 10, (16, 12), 4, 3, noise=0.0, seed=1)
    alignment = PerfectAlignment(rank=4, holdout=0.0).fit(train.views)
    carry = CrossModalCarry().fit(*train.views)
    video_latent = alignment.transform(0, train.views[0])
    carried_latent = alignment.transform(1, carry.predict(train.views[0]))
    W, _ = alignment.affine(1)
    scale = np.abs(video_latent).max()
    assert_allclose(carried_latent, video_latent, atol=1e-7 * scale)
    assert np.abs(W @ carry.residual_covariance_ @ W.T).max() < 1e-10 * scale**2


def test_carry_needs_two_pairs() -> None:
    with pytest.raises(ValueError, match="at least 2 pairs"):
        CrossModalCarry().fit(np.ones((1, 3)), np.ones((1, 2)))


@pytest.mark.parametrize("seed", [0, 1])
def test_video_pseudo_labels_classify_and_ignore_feature_units(seed: int) -> None:
    train, test = noisy_split(seed, noise=0.1)
    labels = video_pseudo_labels(train.views[0], train.label, 4, test.views[0])
    assert np.mean(labels == test.label) > 0.8
    units = np.random.default_rng(seed).uniform(1e-3, 1e3, train.views[0].shape[1])
    rescaled = video_pseudo_labels(train.views[0] * units, train.label, 4, test.views[0] * units)
    assert np.mean(rescaled == labels) > 0.99


@pytest.mark.parametrize(("max_rank", "length"), [(1, 1), (8, 8), (9, 9), (110, 31), (2000, 55)])
def test_candidates_are_dense_then_geometric(max_rank: int, length: int) -> None:
    ranks = transfer_candidates(max_rank)
    assert len(ranks) == length
    assert ranks[: min(8, max_rank)] == list(range(1, min(8, max_rank) + 1))
    assert ranks[-1] == max_rank
    steps = np.diff(ranks[7:]) / np.asarray(ranks[7:-1])
    assert np.all(steps > 0) and np.all(steps < 0.2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chosen_rank_transfers_nearly_as_well_as_the_best_candidate(seed: int) -> None:
    train, test = noisy_split(seed)
    choice = choose_transfer_rank(
        train.views[0],
        train.views[1],
        train.views[0],
        train.label,
        4,
        candidates=[1, 2, 3, 4, 6, 8],
    )
    assert choice.candidates == [1, 2, 3, 4, 6, 8]
    assert len(choice.agreement) == 6
    assert choice.agreement[choice.candidates.index(choice.rank)] == max(choice.agreement)
    assert all(0.0 <= a <= 1.0 for a in choice.agreement)
    assert (choice.folds, choice.n_folds) == ("block", 5)
    accuracies = {k: carried_accuracy(train, test, k) for k in choice.candidates}
    # The latent is 4-dimensional: fewer dimensions lose classes, and the chooser sees it.
    assert choice.rank >= 3
    assert accuracies[choice.rank] >= max(accuracies.values()) - 0.03
    assert accuracies[choice.rank] > accuracies[1] + 0.2


def test_agreement_counts_each_pair_once_per_rank() -> None:
    train, _ = noisy_split(3)
    agreement, by, n_folds = transfer_agreement(
        train.views[0],
        train.views[1],
        train.views[0],
        train.label,
        4,
        ranks=[2, 4],
        subject=np.repeat(np.arange(4), 150),
    )
    assert (by, n_folds) == ("subject", 4)
    counts = agreement * 600
    assert_allclose(counts, np.round(counts), atol=1e-9)


def test_search_holds_out_groups_of_subjects_in_at_most_five_folds() -> None:
    train, _ = noisy_split(4)
    subject = np.repeat(np.arange(12), 50)
    choice = choose_transfer_rank(
        train.views[0],
        train.views[1],
        train.views[0],
        train.label,
        4,
        subject=subject,
        candidates=[2, 4],
    )
    assert (choice.folds, choice.n_folds) == ("subject", MAX_FOLDS)
    assert "in groups of whole subjects (12 subjects) over 5 folds" in choice.reason
    # The same as giving each pair the group of its subject: five subjects, one fold each.
    grouped = choose_transfer_rank(
        train.views[0],
        train.views[1],
        train.views[0],
        train.label,
        4,
        subject=subject % MAX_FOLDS,
        candidates=[2, 4],
    )
    assert "one subject at a time over 5 folds" in grouped.reason
    assert_allclose(choice.agreement, grouped.agreement, atol=1e-12)


def test_too_few_pairs_for_any_rank_is_refused() -> None:
    with pytest.raises(ValueError, match="no candidate rank fits"):
        choose_transfer_rank(np.ones((2, 3)), np.ones((2, 2)), np.ones((2, 3)), [0, 0], 1)


def test_manifest_aligns_both_curves_over_the_candidates() -> None:
    transfer = TransferRankChoice(
        rank=3, reason="why", candidates=[1, 3, 40], agreement=[0.5, 0.9, 0.7], folds="subject"
    )
    solver = RankChoice(
        2, "validation", "because", candidates=[1, 2, 3], validation_error=[0.9, 0.5, 0.6]
    )
    entry = rank_choice_manifest(transfer, solver)
    assert entry["method"] == METHOD
    assert entry["candidates"] == [1, 3, 40]
    assert entry["transfer_agreement"] == [0.5, 0.9, 0.7]
    assert entry["validation_error"] == [0.9, 0.6, None]
    assert entry["solver"] == {"rank": 2, "method": "validation", "reason": "because"}
    assert json.loads(json.dumps(entry)) == entry


def write_noisy_dataset(folder: Path, seed: int = 0) -> dict[str, Path]:
    train, test = noisy_split(seed)
    names = np.array([f"action{c}" for c in range(4)])
    paths = {name: folder / f"{name}.npz" for name in ("pairs", "labeled", "test")}
    np.savez(
        paths["pairs"],
        video=train.views[0].astype(np.float32),
        imu_features=train.views[1].astype(np.float32),
        subject=np.repeat(np.arange(6), 100),
    )
    np.savez(
        paths["labeled"],
        video=train.views[0].astype(np.float32),
        label=train.label,
        class_names=names,
    )
    np.savez(paths["test"], imu_features=test.views[1].astype(np.float32), label=test.label)
    return paths


def test_calibrate_records_the_transfer_rank_and_its_curves(tmp_path: Path) -> None:
    paths = write_noisy_dataset(tmp_path)
    bundle = tmp_path / "bundle"
    args = ["calibrate", "--pairs", str(paths["pairs"]), "--labeled", str(paths["labeled"])]
    assert main([*args, "--out", str(bundle)]) == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    choice = manifest["alignment"]["rank_choice"]
    assert choice["method"] == METHOD
    assert manifest["alignment"]["rank"] in choice["candidates"]
    assert len(choice["transfer_agreement"]) == len(choice["candidates"])
    assert len(choice["validation_error"]) == len(choice["candidates"])
    assert choice["solver"]["method"] == "validation"
    assert manifest["head"]["carry"]["n_pairs"] == 600
    assert (bundle / "report.html").is_file()
    results = tmp_path / "results.json"
    assert main(["evaluate", str(bundle), "--imu", str(paths["test"]), "--json", str(results)]) == 0
    assert json.loads(results.read_text())["accuracy"] > 0.8


def test_a_given_rank_is_kept(tmp_path: Path) -> None:
    paths = write_noisy_dataset(tmp_path)
    bundle = tmp_path / "bundle"
    args = ["calibrate", "--pairs", str(paths["pairs"]), "--labeled", str(paths["labeled"])]
    assert main([*args, "--rank", "2", "--out", str(bundle)]) == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["alignment"]["rank"] == 2
    assert manifest["alignment"]["rank_choice"]["method"] == "given"
