"""``harbridge bench paper``: the paper's results, recomputed on synthetic data in every run.

Five experiments, each a function returning rows of plain numbers, rendered as markdown
tables by :func:`report`:

1. :func:`alignment_sweep` — noise-free data over sweeps of n, d and k (float64 and
   float32 inputs): the automatic rank and rel_CMAE, exact where k ≤ d_m, failing where k > d.
2. :func:`noise_sweep` — CMAE and rel_CMAE as the noise grows.
3. :func:`contrastive_comparison` — a learned InfoNCE alignment beside perfect alignment.
4. :func:`transfer_table` — transfer accuracy (video labels → IMU) against the supervised
   ceiling (IMU labels) and the oracle (true latent).
5. :func:`ablations` — shared vs per-class covariance, the null-space variant, CCA.

Every method is fitted on the training pairs and judged the same way: CMAE and rel_CMAE
between the video and IMU latents of the training pairs and of unseen test pairs, and
transfer accuracy of a Gaussian classifier fitted on labelled video latents of the
training set and applied to the IMU latents of the test set.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from harbridge.bench.aligners import (
    CONTRASTIVE_LR,
    CONTRASTIVE_TEMPERATURE,
    Aligner,
    CanonicalCorrelation,
    contrastive_baseline,
)
from harbridge.bench.table import Cell, Column, markdown_table
from harbridge.calibration.alignment import PerfectAlignment
from harbridge.calibration.contrastive import ContrastiveAlignment
from harbridge.calibration.errors import AlignmentError
from harbridge.calibration.gaussian import GaussianClassifier
from harbridge.calibration.metrics import accuracy, cmae, macro_f1, rel_cmae
from harbridge.calibration.nullspace import NullSpaceAlignment
from harbridge.calibration.standardize import standardizer_from_moments
from harbridge.calibration.synthetic import SyntheticData, make_multimodal, make_split

__all__ = [
    "FULL",
    "QUICK",
    "Figures",
    "Row",
    "Sizes",
    "ablations",
    "add_arguments",
    "alignment_sweep",
    "contrastive_comparison",
    "evaluate",
    "noise_sweep",
    "report",
    "run",
    "transfer_table",
]

Row = dict[str, Cell]
#: covariance model of the Gaussian classifier
Covariance = Literal["per_class", "shared"]

#: rel_CMAE on training pairs below which alignment counts as perfect, per input dtype
PERFECT_TOL = {"float64": 1e-6, "float32": 1e-5}


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of one run; :data:`FULL` for the tables, :data:`QUICK` for a smoke run.

    Attributes
    ----------
    n_train, n_test : int
        Paired samples to fit on and to test on.
    dims : tuple of int
        ``(d_video, d_imu)`` of the base problem.
    rank : int
        Latent dimension k of the base problem.
    n_classes : int
    class_separation : float
        Distance between class means in within-class standard deviations.
    sweep_n : tuple of int
    sweep_dims : tuple of tuple of int
    sweep_rank : tuple of int
        The values each sweep of table 1 visits (the others stay at the base problem).
    noises : tuple of float
        Noise-to-signal ratios of table 2.
    transfer_noises : tuple of float
        Noise-to-signal ratios of tables 3 to 5.
    epochs : int
        Training epochs of the contrastive baseline.
    batch_size : int
        Smallest batch of the contrastive baseline.
    """

    n_train: int
    n_test: int
    dims: tuple[int, int]
    rank: int
    n_classes: int
    class_separation: float
    sweep_n: tuple[int, ...]
    sweep_dims: tuple[tuple[int, int], ...]
    sweep_rank: tuple[int, ...]
    noises: tuple[float, ...]
    transfer_noises: tuple[float, ...]
    epochs: int
    batch_size: int


FULL = Sizes(
    n_train=2000,
    n_test=2000,
    dims=(16, 12),
    rank=8,
    n_classes=5,
    class_separation=3.0,
    sweep_n=(20, 200, 2000, 20000),
    sweep_dims=((8, 8), (16, 12), (64, 48), (256, 192)),
    sweep_rank=(1, 4, 8, 12, 16, 24),
    noises=(0.0, 1e-6, 1e-4, 1e-2, 0.1, 0.3, 1.0),
    transfer_noises=(0.0, 0.1, 0.3, 1.0),
    epochs=100,
    batch_size=256,
)

QUICK = Sizes(
    n_train=300,
    n_test=300,
    dims=(8, 6),
    rank=4,
    n_classes=3,
    class_separation=3.0,
    sweep_n=(12, 300),
    sweep_dims=((4, 4), (8, 6)),
    sweep_rank=(4, 8),
    noises=(0.0, 0.1),
    transfer_noises=(0.0, 0.1),
    epochs=100,
    batch_size=256,
)


@dataclass(frozen=True)
class Figures:
    """How one fitted method does on one data set (see :func:`evaluate`)."""

    cmae_train: float
    rel_cmae_train: float
    cmae_test: float
    rel_cmae_test: float
    transfer: float
    transfer_f1: float
    condition: float

    def row(self) -> Row:
        """The figures as table cells keyed by field name."""
        return dict(asdict(self))


def evaluate(
    aligner: Aligner,
    train: SyntheticData,
    test: SyntheticData,
    n_classes: int,
    covariance: Covariance = "per_class",
) -> Figures:
    """Alignment and transfer figures of one fitted method.

    Parameters
    ----------
    aligner : Aligner
        Fitted on ``train``'s paired views (video = modality 0, IMU = modality 1).
    train, test : SyntheticData
    n_classes : int
    covariance : {"per_class", "shared"}
        Covariance model of the Gaussian classifier.

    Returns
    -------
    Figures
        CMAE and rel_CMAE between the video and IMU latents of the same pairs, on
        ``train`` and on ``test``; transfer accuracy and macro-F1 of a classifier fitted
        on video latents of ``train`` and applied to IMU latents of ``test``; condition
        number of the centred video latents of ``train``.
    """
    alignment = []
    for data in (train, test):
        Z_video = aligner.transform(0, data.views[0])
        Z_imu = aligner.transform(1, data.views[1])
        alignment += [cmae(Z_video, Z_imu), rel_cmae(Z_video, Z_imu)]
    Z_train = aligner.transform(0, train.views[0])
    classifier = GaussianClassifier(covariance=covariance).fit(Z_train, train.label, n_classes)
    predicted = classifier.predict(aligner.transform(1, test.views[1]))
    s = np.linalg.svd(Z_train - Z_train.mean(axis=0), compute_uv=False)
    cmae_train, rel_cmae_train, cmae_test, rel_cmae_test = alignment
    return Figures(
        cmae_train,
        rel_cmae_train,
        cmae_test,
        rel_cmae_test,
        transfer=accuracy(test.label, predicted),
        transfer_f1=macro_f1(test.label, predicted, n_classes),
        condition=float(s[0] / s[-1]) if s[-1] > 0 else float("inf"),
    )


def _split(
    sizes: Sizes, noise: float, seed: int, dims: tuple[int, int] | None = None
) -> tuple[SyntheticData, SyntheticData]:
    return make_split(
        sizes.n_train,
        sizes.n_test,
        dims or sizes.dims,
        sizes.rank,
        sizes.n_classes,
        noise=noise,
        seed=seed,
        class_separation=sizes.class_separation,
    )


def _perfect(sizes: Sizes, train: SyntheticData, seed: int) -> PerfectAlignment:
    return PerfectAlignment(rank=sizes.rank, holdout=0.0, seed=seed).fit(train.views)


def _contrastive(sizes: Sizes, train: SyntheticData, seed: int) -> ContrastiveAlignment:
    baseline = contrastive_baseline(
        sizes.rank, epochs=sizes.epochs, seed=seed, batch_size=sizes.batch_size
    )
    return baseline.fit(train.views)


def _sweep_configs(sizes: Sizes) -> list[tuple[str, int, tuple[int, int], int]]:
    configs = [("n", n, sizes.dims, sizes.rank) for n in sizes.sweep_n]
    configs += [("d", sizes.n_train, dims, sizes.rank) for dims in sizes.sweep_dims]
    configs += [("k", sizes.n_train, sizes.dims, k) for k in sizes.sweep_rank]
    return configs


def alignment_sweep(sizes: Sizes, seed: int) -> list[Row]:
    """Table 1: perfect alignment on noise-free data over sweeps of n, d and k.

    Each configuration is fitted with ``rank="auto"`` and 20 % of pairs held out, once on
    float64 and once on float32 inputs. Where k exceeds a modality's dimension, the
    solver's answer to ``rank=k`` is recorded as well.

    Returns
    -------
    list of dict
        ``varies``, ``n``, ``d_video``, ``d_imu``, ``k``; per dtype (``f64``/``f32``
        suffix) ``rank`` (found, and how), ``rank_found`` (int, or None when refused),
        ``rel_train``, ``rel_holdout``; ``perfect`` (bool), ``status`` and ``refusal``.
    """
    rows: list[Row] = []
    for varies, n, dims, k in _sweep_configs(sizes):
        data = make_multimodal(
            n, dims, k, sizes.n_classes, seed=seed, class_separation=sizes.class_separation
        )
        row: Row = {"varies": varies, "n": n, "d_video": dims[0], "d_imu": dims[1], "k": k}
        perfect = True
        for suffix, dtype in (("f64", np.float64), ("f32", np.float32)):
            views = [v.astype(dtype) for v in data.views]
            try:
                pa = PerfectAlignment(rank="auto", holdout=0.2, seed=seed).fit(views)
            except AlignmentError as exc:
                row[f"rank_{suffix}"] = f"refused: {exc}"
                row[f"rank_found_{suffix}"] = None
                perfect = False
                continue
            row[f"rank_{suffix}"] = f"{pa.rank_} ({pa.rank_choice_.method})"
            row[f"rank_found_{suffix}"] = pa.rank_
            row[f"rel_train_{suffix}"] = pa.metrics_.rel_cmae_train
            row[f"rel_holdout_{suffix}"] = pa.metrics_.rel_cmae_holdout
            perfect = perfect and pa.metrics_.rel_cmae_train < PERFECT_TOL[np.dtype(dtype).name]
        row["refusal"] = None
        if k > min(dims):
            try:
                PerfectAlignment(rank=k, holdout=0.2, seed=seed).fit(data.views)
            except AlignmentError as exc:
                row["refusal"] = str(exc)
        row["perfect"] = perfect
        row["status"] = "perfect" if perfect else "fails"
        if row["refusal"] is not None:
            row["status"] = f"fails; rank={k} refused (†)"
        rows.append(row)
    return rows


def noise_sweep(sizes: Sizes, seed: int) -> list[Row]:
    """Table 2: CMAE and rel_CMAE of perfect alignment (rank k) as noise grows.

    Returns
    -------
    list of dict
        ``noise``, ``rank_auto`` (what ``rank="auto"`` would choose) and the alignment
        figures of :func:`evaluate`.
    """
    rows: list[Row] = []
    for noise in sizes.noises:
        train, test = _split(sizes, noise, seed)
        auto = PerfectAlignment(rank="auto", holdout=0.0, seed=seed).fit(train.views)
        row: Row = {"noise": noise, "rank_auto": f"{auto.rank_} ({auto.rank_choice_.method})"}
        row.update(evaluate(_perfect(sizes, train, seed), train, test, sizes.n_classes).row())
        rows.append(row)
    return rows


def contrastive_comparison(sizes: Sizes, seed: int) -> list[Row]:
    """Table 3: learned InfoNCE alignment beside perfect alignment on the same pairs.

    Returns
    -------
    list of dict
        ``noise``, ``method`` and the figures of :func:`evaluate`, plus ``cmae_ratio``:
        the method's training CMAE over perfect alignment's on the same data.
    """
    rows: list[Row] = []
    for noise in sizes.transfer_noises[:2]:
        train, test = _split(sizes, noise, seed)
        perfect = evaluate(_perfect(sizes, train, seed), train, test, sizes.n_classes)
        contrastive = _contrastive(sizes, train, seed)
        learned = evaluate(contrastive, train, test, sizes.n_classes)
        final_loss = float(contrastive.loss_history_[-1])
        for method, figures in (
            ("perfect alignment", perfect),
            (f"contrastive (InfoNCE, final loss {final_loss:.3f})", learned),
        ):
            row: Row = {"noise": noise, "method": method, **figures.row()}
            row["cmae_ratio"] = (
                figures.cmae_train / perfect.cmae_train if perfect.cmae_train > 0 else float("inf")
            )
            rows.append(row)
    return rows


def transfer_table(sizes: Sizes, seed: int) -> list[Row]:
    """Table 4: cross-modal transfer against the supervised ceiling and the oracle.

    *transfer*: Gaussian classifier on video latents with video labels, applied to IMU
    latents of the test set. *ceiling*: the same classifier fitted on standardised IMU
    features with IMU labels (what labelled IMU data would buy). *oracle*: fitted and
    applied on the true latent. *chance*: the most frequent test class.

    Returns
    -------
    list of dict
        ``noise``, ``oracle``, ``transfer``, ``transfer_f1``, ``gap`` (transfer − oracle),
        ``ceiling``, ``chance``.
    """
    rows: list[Row] = []
    for noise in sizes.transfer_noises:
        train, test = _split(sizes, noise, seed)
        K = sizes.n_classes
        figures = evaluate(_perfect(sizes, train, seed), train, test, K)
        oracle = GaussianClassifier().fit(train.latent, train.label, K).predict(test.latent)
        imu = standardizer_from_moments(train.views[1].mean(axis=0), train.views[1].var(axis=0))
        ceiling = GaussianClassifier().fit(imu.apply(train.views[1]), train.label, K)
        oracle_accuracy = accuracy(test.label, oracle)
        rows.append(
            {
                "noise": noise,
                "oracle": oracle_accuracy,
                "transfer": figures.transfer,
                "transfer_f1": figures.transfer_f1,
                "gap": figures.transfer - oracle_accuracy,
                "ceiling": accuracy(test.label, ceiling.predict(imu.apply(test.views[1]))),
                "chance": float(np.bincount(test.label, minlength=K).max() / test.label.size),
            }
        )
    return rows


def ablations(sizes: Sizes, seed: int) -> list[Row]:
    """Table 5: perfect alignment against its variants and classical baselines.

    On three data sets (noise-free with d > k, noise-free with d = k, noisy with d > k):
    perfect alignment with per-class and with shared covariance, the null-space variant,
    scikit-learn's CCA (skipped with a note when scikit-learn is missing) and the
    contrastive baseline.

    Returns
    -------
    list of dict
        ``data``, ``method``, the figures of :func:`evaluate`, and ``note``.
    """
    square = (sizes.rank, sizes.rank)
    noisy = sizes.transfer_noises[1]
    datasets = [
        (f"noise 0, d={sizes.dims}", 0.0, sizes.dims),
        (f"noise 0, d={square}", 0.0, square),
        (f"noise {noisy:g}, d={sizes.dims}", noisy, sizes.dims),
    ]
    rows: list[Row] = []
    for label, noise, dims in datasets:
        train, test = _split(sizes, noise, seed, dims)
        for method, aligner, covariance in _ablation_methods(sizes, train, seed):
            figures = (
                {"note": "skipped: scikit-learn missing (pip install 'harbridge[bench]')"}
                if aligner is None
                else evaluate(aligner, train, test, sizes.n_classes, covariance).row()
            )
            rows.append({"data": label, "method": method, **figures})
    return rows


def _ablation_methods(
    sizes: Sizes, train: SyntheticData, seed: int
) -> Iterator[tuple[str, Aligner | None, Covariance]]:
    """The methods of table 5, each fitted on ``train`` when its turn comes.

    Yields the method's name, the fitted aligner (None for CCA without scikit-learn) and
    the covariance model of its classifier.
    """
    perfect = _perfect(sizes, train, seed)
    yield "perfect alignment", perfect, "per_class"
    yield "perfect alignment, shared covariance", perfect, "shared"
    yield "null space", NullSpaceAlignment(sizes.rank).fit(train.views), "per_class"
    cca: Aligner | None
    try:
        cca = CanonicalCorrelation(sizes.rank).fit(train.views)
    except ImportError:
        cca = None
    yield "CCA (scikit-learn)", cca, "per_class"
    yield "contrastive", _contrastive(sizes, train, seed), "per_class"


_SCI = ".2e"
_ACC = ".3f"
_NOISE = Column("noise", "noise", "g")
#: how every table heads and formats the fields of :class:`Figures`
_FIGURES = {
    column.key: column
    for column in (
        Column("cmae_train", "CMAE train", _SCI),
        Column("rel_cmae_train", "rel_CMAE train", _SCI),
        Column("cmae_test", "CMAE test", _SCI),
        Column("rel_cmae_test", "rel_CMAE test", _SCI),
        Column("transfer", "transfer accuracy", _ACC),
        Column("condition", "latent cond.", ".1f"),
    )
}
_ALIGNMENT = [
    _FIGURES[key] for key in ("cmae_train", "rel_cmae_train", "cmae_test", "rel_cmae_test")
]


def report(sizes: Sizes, seed: int) -> str:
    """All five tables as markdown, every number computed in this call."""
    base = (
        f"n_train = {sizes.n_train}, n_test = {sizes.n_test}, (d_video, d_imu) = {sizes.dims}, "
        f"k = {sizes.rank}, {sizes.n_classes} classes, class separation "
        f"{sizes.class_separation:g}, seed {seed}."
    )
    return "\n".join(
        [
            _alignment_table(alignment_sweep(sizes, seed)),
            _noise_table(noise_sweep(sizes, seed), base),
            _contrastive_table(contrastive_comparison(sizes, seed), sizes, base),
            _transfer_table(transfer_table(sizes, seed), base),
            _ablation_table(ablations(sizes, seed), base),
        ]
    )


def _alignment_table(rows: list[Row]) -> str:
    columns = [
        Column("varies", "sweep"),
        Column("n", "n", "d"),
        Column("d_video", "d_video", "d"),
        Column("d_imu", "d_imu", "d"),
        Column("k", "true k", "d"),
        Column("rank_f64", "rank found (f64)"),
        Column("rel_train_f64", "rel_CMAE train (f64)", _SCI),
        Column("rel_holdout_f64", "rel_CMAE held-out (f64)", _SCI),
        Column("rank_f32", "rank found (f32)"),
        Column("rel_train_f32", "rel_CMAE train (f32)", _SCI),
        Column("rel_holdout_f32", "rel_CMAE held-out (f32)", _SCI),
        Column("status", "status"),
    ]
    refusals = sorted({str(r["refusal"]) for r in rows if r["refusal"] is not None})
    notes = [
        "Noise-free latent mixture of Gaussians seen through random linear views; `--rank auto`, "
        "20 % of pairs held out. *perfect*: rel_CMAE on training pairs below "
        f"{PERFECT_TOL['float64']:.0e} (float64 inputs) and {PERFECT_TOL['float32']:.0e} "
        "(float32 inputs). *exact*: the rank was read off a rounding-level cliff in the "
        "spectrum; *validation*: no usable cliff (k > d), chosen on validation pairs.",
        *(f"(†) the solver, asked for the true rank: {message}" for message in refusals),
    ]
    return markdown_table(
        "1. Noise-free synthetic data: rel_CMAE over n, d and k", columns, rows, notes
    )


def _noise_table(rows: list[Row], base: str) -> str:
    columns = [
        _NOISE,
        Column("rank_auto", "rank auto"),
        *_ALIGNMENT,
    ]
    notes = [
        f"{base} *noise* is the noise-to-signal ratio of every feature (std of the added "
        "Gaussian noise over std of the noise-free feature). Perfect alignment at the true "
        "rank k, fitted on all training pairs; *test* is an independent draw from the same "
        "model. *rank auto*: what `--rank auto` chooses on the same pairs.",
    ]
    return markdown_table("2. CMAE and rel_CMAE as noise grows", columns, rows, notes)


def _contrastive_table(rows: list[Row], sizes: Sizes, base: str) -> str:
    columns = [
        _NOISE,
        Column("method", "method"),
        *_ALIGNMENT,
        Column("cmae_ratio", "CMAE train ÷ perfect", _SCI),
        _FIGURES["transfer"],
    ]
    batches = max(1, sizes.n_train // sizes.batch_size)
    notes = [
        f"{base} Contrastive: linear encoders on the same standardised features, "
        f"symmetric InfoNCE (τ = {CONTRASTIVE_TEMPERATURE:g}, L2-normalised embeddings), "
        f"Adam (step {CONTRASTIVE_LR:g}), {sizes.epochs} epochs "
        f"× {batches} batch(es) of about {sizes.n_train // batches} pairs; its CMAE is on the "
        "un-normalised encoder outputs W_m x̂_m, and "
        "transfer uses the same outputs. The paper reports 2210 (contrastive) vs 8.66 "
        "(perfect alignment) on UTD-MHAD features; these rows are synthetic data.",
    ]
    return markdown_table(
        "3. Learned contrastive alignment vs perfect alignment", columns, rows, notes
    )


def _transfer_table(rows: list[Row], base: str) -> str:
    columns = [
        _NOISE,
        Column("oracle", "oracle (true latent)", _ACC),
        Column("transfer", "transfer video→IMU", _ACC),
        Column("gap", "transfer − oracle", "+.3f"),
        Column("transfer_f1", "transfer macro-F1", _ACC),
        Column("ceiling", "supervised ceiling (IMU labels)", _ACC),
        Column("chance", "chance", _ACC),
    ]
    notes = [
        f"{base} All classifiers are the same Gaussian model (per-class covariance, "
        "Ledoit–Wolf shrinkage). *transfer*: fitted on video latents with video labels, "
        "applied to IMU latents of the test set. *ceiling*: fitted on standardised IMU "
        "features with IMU labels. *oracle*: fitted and applied on the true latent z. "
        "*chance*: share of the most frequent test class.",
    ]
    return markdown_table(
        "4. Transfer accuracy: video labels → IMU, against ceiling and oracle", columns, rows, notes
    )


def _ablation_table(rows: list[Row], base: str) -> str:
    columns = [
        Column("data", "data"),
        Column("method", "method"),
        *(
            _FIGURES[key]
            for key in ("cmae_test", "rel_cmae_train", "rel_cmae_test", "condition", "transfer")
        ),
    ]
    if any(row.get("note") for row in rows):
        columns.append(Column("note", "note"))
    notes = [
        f"{base} *null space*: the k smallest right singular vectors of [X̂_video, −X̂_imu], "
        "split into W_video and W_imu (jointly unit-norm); see `calibration/nullspace.py`. "
        "*CCA*: scikit-learn `CCA(n_components=k)` on the same standardised features, each "
        "canonical variate scaled to unit variance on training pairs. CMAE is not comparable "
        "across methods (each has its own latent scale); rel_CMAE is. *latent cond.*: "
        "condition number of the centred video latents of the training pairs; the Gaussian "
        "classifier shrinks covariances towards a scaled identity, which costs accuracy on "
        "badly conditioned latents. The synthetic classes have different covariances by "
        "construction, so *shared covariance* is a misspecified model here.",
    ]
    return markdown_table(
        "5. Ablations: covariance model, null-space variant, CCA", columns, rows, notes
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``harbridge bench paper``."""
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes (a smoke run of a few seconds)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every draw (default 0)")


def run(args: argparse.Namespace) -> int:
    """Print the tables to stdout."""
    print(report(QUICK if args.quick else FULL, args.seed), end="")
    return 0
