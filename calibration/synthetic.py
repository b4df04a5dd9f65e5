"""Synthetic paired multimodal data: a latent mixture of Gaussians seen through linear views.

This is the generative model of DESIGN.md §1 made concrete, so that every claim of the
method can be checked against a known truth. A class ``c`` is drawn uniformly from
``K`` classes, a latent ``z ~ N(μ_c, Σ_c)`` in ``R^k``, and modality ``m`` sees

    x_m = A_m z + b_m + noise · σ_m ⊙ ε,    ε ~ N(0, I)

with a random full-rank mixing matrix ``A_m`` (d_m × k), an offset ``b_m`` and feature
scales spread over two decades, so that standardising each modality matters. ``σ_m``
is the standard deviation of each feature's noise-free signal, which makes ``noise`` a
noise-to-signal ratio that means the same for every feature.

Noise-free data of latent dimension ``k ≤ d_m`` is the case in which perfect alignment
is exact; ``k > d_m`` is the case in which it cannot be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "MultimodalGaussian",
    "SyntheticData",
    "make_multimodal",
    "make_split",
    "random_model",
    "sample",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Feature scales span 10^-1 .. 10^1: un-standardised, the large features would dominate
# the stacked SVD.
_LOG10_SCALE_RANGE = 1.0
# Offsets in units of the feature scale; large enough that forgetting to centre shows.
_OFFSET_SPREAD = 3.0
# Class covariance eigenvalues are drawn from this range (mean 1, so that
# ``class_separation`` is in units of the within-class standard deviation).
_EIGENVALUE_RANGE = (0.25, 1.75)


@dataclass(frozen=True)
class MultimodalGaussian:
    """The parameters of one generative model (what stays fixed between train and test).

    Attributes
    ----------
    class_means : ndarray of shape (n_classes, rank)
        ``μ_c``, the latent mean of each class.
    class_factors : ndarray of shape (n_classes, rank, rank)
        ``L_c`` with ``Σ_c = L_c L_cᵀ``, the latent covariance of each class.
    mixing : tuple of ndarray of shape (d_m, rank)
        ``A_m`` for each modality.
    offsets : tuple of ndarray of shape (d_m,)
        ``b_m`` for each modality.
    signal_std : tuple of ndarray of shape (d_m,)
        Standard deviation of each noise-free feature under the class mixture (``σ_m``).
    """

    class_means: FloatArray
    class_factors: FloatArray
    mixing: tuple[FloatArray, ...]
    offsets: tuple[FloatArray, ...]
    signal_std: tuple[FloatArray, ...]

    @property
    def rank(self) -> int:
        """Latent dimension ``k``."""
        return int(self.class_means.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes ``K``."""
        return int(self.class_means.shape[0])

    @property
    def dims(self) -> tuple[int, ...]:
        """Feature dimension ``d_m`` of each modality."""
        return tuple(int(a.shape[0]) for a in self.mixing)


@dataclass(frozen=True)
class SyntheticData:
    """Paired samples drawn from a :class:`MultimodalGaussian`.

    Attributes
    ----------
    views : list of ndarray of shape (n, d_m)
        The features of each modality; row ``i`` of every view is the same moment.
    latent : ndarray of shape (n, rank)
        The true latent ``z`` of each sample.
    label : ndarray of shape (n,)
        The class of each sample, int in ``[0, n_classes)``.
    """

    views: list[FloatArray]
    latent: FloatArray
    label: IntArray


def _random_rotation(rng: np.random.Generator, k: int) -> FloatArray:
    q, r = np.linalg.qr(rng.standard_normal((k, k)))
    # Multiplying by sign(diag(r)) makes Q Haar-distributed rather than biased.
    return q * np.sign(np.diag(r))


def _latent_covariance(class_means: FloatArray, class_factors: FloatArray) -> FloatArray:
    """Covariance of ``z`` under the uniform class mixture (law of total covariance)."""
    within = np.mean(class_factors @ np.swapaxes(class_factors, 1, 2), axis=0)
    between = np.cov(class_means, rowvar=False, bias=True).reshape(within.shape)
    total: FloatArray = within + between
    return total


def random_model(
    dims: Sequence[int],
    rank: int,
    n_classes: int,
    *,
    class_separation: float = 3.0,
    seed: int = 0,
) -> MultimodalGaussian:
    """Draw the parameters of a generative model.

    Parameters
    ----------
    dims : sequence of int
        Feature dimension ``d_m`` of each modality (video first by convention).
    rank : int
        Latent dimension ``k``. ``k > d_m`` is allowed: that view then loses information.
    n_classes : int
        Number of classes ``K``.
    class_separation : float
        Expected distance between two class means, in within-class standard deviations.
    seed : int
        Seed of the random generator.

    Returns
    -------
    MultimodalGaussian
    """
    if not dims or min(dims) < 1:
        raise ValueError(f"dims must be one or more positive ints, got {list(dims)}")
    if rank < 1 or n_classes < 1:
        raise ValueError(f"rank and n_classes must be ≥ 1, got {rank} and {n_classes}")
    if class_separation < 0:
        raise ValueError(f"class_separation must be ≥ 0, got {class_separation}")
    rng = np.random.default_rng(seed)
    # Var(μ_a − μ_b) per coordinate is 2·s², summed over k coordinates: E‖μ_a − μ_b‖² = sep².
    means = rng.standard_normal((n_classes, rank)) * class_separation / np.sqrt(2.0 * rank)
    low, high = _EIGENVALUE_RANGE
    factors = np.stack(
        [
            _random_rotation(rng, rank) * np.sqrt(rng.uniform(low, high, rank))
            for _ in range(n_classes)
        ]
    )
    cov_z = _latent_covariance(means, factors)
    mixing: list[FloatArray] = []
    offsets: list[FloatArray] = []
    signal_std: list[FloatArray] = []
    for d in dims:
        scale = 10.0 ** rng.uniform(-_LOG10_SCALE_RANGE, _LOG10_SCALE_RANGE, d)
        a = scale[:, None] * rng.standard_normal((d, rank)) / np.sqrt(rank)
        mixing.append(a)
        offsets.append(scale * _OFFSET_SPREAD * rng.standard_normal(d))
        signal_std.append(np.sqrt(np.einsum("ij,jk,ik->i", a, cov_z, a)))
    return MultimodalGaussian(means, factors, tuple(mixing), tuple(offsets), tuple(signal_std))


def sample(
    model: MultimodalGaussian, n: int, *, noise: float = 0.0, seed: int = 0
) -> SyntheticData:
    """Draw ``n`` paired samples from ``model``.

    Parameters
    ----------
    model : MultimodalGaussian
        The generative model.
    n : int
        Number of paired samples.
    noise : float
        Noise-to-signal ratio of every feature (0 gives exactly rank-``k`` views).
    seed : int
        Seed of the random generator.

    Returns
    -------
    SyntheticData
    """
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    if noise < 0:
        raise ValueError(f"noise must be ≥ 0, got {noise}")
    rng = np.random.default_rng(seed)
    label = rng.integers(0, model.n_classes, n)
    white = rng.standard_normal((n, model.rank))
    latent = model.class_means[label] + np.einsum("nij,nj->ni", model.class_factors[label], white)
    views: list[FloatArray] = []
    for a, b, std in zip(model.mixing, model.offsets, model.signal_std, strict=True):
        x = latent @ a.T + b
        if noise > 0:
            x = x + noise * std * rng.standard_normal(x.shape)
        views.append(x)
    return SyntheticData(views, latent, label)


def make_multimodal(
    n: int,
    dims: Sequence[int],
    rank: int,
    n_classes: int,
    *,
    noise: float = 0.0,
    seed: int = 0,
    class_separation: float = 3.0,
) -> SyntheticData:
    """Draw a model and ``n`` paired samples from it in one call.

    Parameters are those of :func:`random_model` and :func:`sample`.

    Returns
    -------
    SyntheticData
    """
    model_seed, sample_seed = np.random.SeedSequence(seed).generate_state(2)
    model = random_model(
        dims, rank, n_classes, class_separation=class_separation, seed=int(model_seed)
    )
    return sample(model, n, noise=noise, seed=int(sample_seed))


def make_split(
    n_train: int,
    n_test: int,
    dims: Sequence[int],
    rank: int,
    n_classes: int,
    *,
    noise: float = 0.0,
    seed: int = 0,
    class_separation: float = 3.0,
) -> tuple[SyntheticData, SyntheticData]:
    """Draw a model and independent train and test sets from it.

    Cross-modal transfer needs both: labelled video (and paired IMU) to calibrate on,
    and unseen IMU samples from the same model to classify.

    Parameters are those of :func:`random_model` and :func:`sample`.

    Returns
    -------
    train, test : SyntheticData
    """
    model_seed, train_seed, test_seed = np.random.SeedSequence(seed).generate_state(3)
    model = random_model(
        dims, rank, n_classes, class_separation=class_separation, seed=int(model_seed)
    )
    train = sample(model, n_train, noise=noise, seed=int(train_seed))
    return train, sample(model, n_test, noise=noise, seed=int(test_seed))
