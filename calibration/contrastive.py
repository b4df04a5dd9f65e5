"""Learned contrastive alignment: the baseline that perfect alignment is compared against.

Two linear encoders ``W_video`` (k × d_video) and ``W_imu`` (k × d_imu) act on standardised
features (the same standardisation as perfect alignment), their outputs are L2-normalised
as in CLIP, and they are trained by Adam on the symmetric InfoNCE loss over the paired
rows (the learned alignment of the paper's v2):

    S_ab = u_video,a · u_imu,b / τ,    u = W x̂ / ‖W x̂‖
    L = ½ [ mean_a (logsumexp_b S_ab − S_aa) + mean_b (logsumexp_a S_ab − S_bb) ]

The loss only sees directions, never lengths, so nothing pulls the two un-normalised
outputs ``W_m x̂_m`` onto the same point: their CMAE is what the paper reports as the
contrastive alignment error. Gradients are analytic; everything is seeded and deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
import numpy.typing as npt

from harbridge.calibration.standardize import standardizer_from_moments

__all__ = ["ContrastiveAlignment", "adam_step", "info_nce"]

FloatArray = npt.NDArray[np.float64]

#: embeddings shorter than this are treated as having this length (no division by zero)
_MIN_NORM = 1e-12
_ADAM_BETA1 = 0.9
_ADAM_BETA2 = 0.999
_ADAM_EPS = 1e-8


def _normalise(E: FloatArray) -> tuple[FloatArray, FloatArray]:
    norm = np.maximum(np.linalg.norm(E, axis=1, keepdims=True), _MIN_NORM)
    return E / norm, norm


def _softmax(S: FloatArray, axis: int) -> tuple[FloatArray, FloatArray]:
    """Softmax of ``S`` along ``axis`` and the log-sum-exp it divides by, from one ``exp``."""
    top = S.max(axis=axis, keepdims=True)
    shifted = np.exp(S - top)
    total = shifted.sum(axis=axis, keepdims=True)
    log_total: FloatArray = np.squeeze(top + np.log(total), axis=axis)
    return shifted / total, log_total


def info_nce(
    X_video: FloatArray,
    X_imu: FloatArray,
    W_video: FloatArray,
    W_imu: FloatArray,
    temperature: float,
) -> tuple[float, FloatArray, FloatArray]:
    """Symmetric InfoNCE loss of a batch of pairs and its gradients (module docstring).

    Parameters
    ----------
    X_video : ndarray of shape (B, d_video)
    X_imu : ndarray of shape (B, d_imu)
        Standardised features; row ``a`` of both is the same moment.
    W_video : ndarray of shape (k, d_video)
    W_imu : ndarray of shape (k, d_imu)
        The linear encoders.
    temperature : float
        ``τ`` > 0.

    Returns
    -------
    loss : float
    grad_video : ndarray of shape (k, d_video)
    grad_imu : ndarray of shape (k, d_imu)
        ``∂L/∂W_video`` and ``∂L/∂W_imu``.
    """
    B = X_video.shape[0]
    U_v, norm_v = _normalise(X_video @ W_video.T)
    U_i, norm_i = _normalise(X_imu @ W_imu.T)
    S = U_v @ U_i.T / temperature
    diagonal = np.diag(S)
    P_video, lse_video = _softmax(S, axis=1)
    P_imu, lse_imu = _softmax(S, axis=0)
    loss = 0.5 * float(np.mean(lse_video - diagonal) + np.mean(lse_imu - diagonal))
    # ∂L/∂S: each of the two cross-entropies contributes (softmax − one-hot) / B.
    G = (P_video + P_imu) / (2.0 * B)
    G[np.diag_indices(B)] -= 1.0 / B
    grad_U_v = G @ U_i / temperature
    grad_U_i = G.T @ U_v / temperature
    # Through u = e/‖e‖: the Jacobian (I − u uᵀ)/‖e‖ drops the radial part of the gradient.
    grad_E_v = (grad_U_v - U_v * np.sum(grad_U_v * U_v, axis=1, keepdims=True)) / norm_v
    grad_E_i = (grad_U_i - U_i * np.sum(grad_U_i * U_i, axis=1, keepdims=True)) / norm_i
    return loss, grad_E_v.T @ X_video, grad_E_i.T @ X_imu


def adam_step(
    param: FloatArray,
    grad: FloatArray,
    first: FloatArray,
    second: FloatArray,
    *,
    step: int,
    lr: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """One Adam update (Kingma & Ba 2015, Algorithm 1) with the usual β₁, β₂, ε.

    Parameters
    ----------
    param, grad, first, second : ndarray of the same shape
        Parameter, its gradient, and the running first and second moment estimates.
    step : int
        1-based step count (for bias correction).
    lr : float
        Step size.

    Returns
    -------
    param, first, second : ndarray
        Updated copies.
    """
    first = _ADAM_BETA1 * first + (1.0 - _ADAM_BETA1) * grad
    second = _ADAM_BETA2 * second + (1.0 - _ADAM_BETA2) * grad**2
    first_hat = first / (1.0 - _ADAM_BETA1**step)
    second_hat = second / (1.0 - _ADAM_BETA2**step)
    return param - lr * first_hat / (np.sqrt(second_hat) + _ADAM_EPS), first, second


class ContrastiveAlignment:
    """Linear encoders of two modalities trained with symmetric InfoNCE.

    Parameters
    ----------
    rank : int
        Embedding dimension k.
    temperature : float
        InfoNCE temperature τ.
    epochs : int
        Passes over the pairs.
    lr : float
        Adam step size.
    batch_size : int or None
        Smallest number of pairs per step: each epoch is shuffled and cut into
        ``n // batch_size`` near-equal batches. None is full-batch. Every other pair in a
        batch is a negative.
    seed : int
        Seed of the initial weights and of the batch order.

    Attributes
    ----------
    standardizers_ : list of Standardizer
        The same per-modality standardisation perfect alignment uses.
    encoders_ : list of ndarray of shape (k, d_m)
        ``W_m``, acting on standardised features.
    loss_history_ : ndarray of shape (epochs,)
        Mean batch loss of each epoch.
    """

    def __init__(
        self,
        rank: int,
        *,
        temperature: float = 0.1,
        epochs: int = 100,
        lr: float = 1e-2,
        batch_size: int | None = 256,
        seed: int = 0,
    ) -> None:
        self.rank = rank
        self.temperature = temperature
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.seed = seed

    def fit(self, views: Sequence[npt.ArrayLike]) -> Self:
        """Train both encoders on paired rows.

        Parameters
        ----------
        views : sequence of two array-like of shape (n, d_m)
            Video and IMU features; row i of both is the same moment.
        """
        X = _check_pairs(views)
        self._check_hyper_parameters(X[0].shape[0])
        self.standardizers_ = [standardizer_from_moments(x.mean(axis=0), x.var(axis=0)) for x in X]
        X_hat = [st.apply(x) for st, x in zip(self.standardizers_, X, strict=True)]
        rng = np.random.default_rng(self.seed)
        W = [rng.standard_normal((self.rank, x.shape[1])) for x in X_hat]
        first = [np.zeros_like(w) for w in W]
        second = [np.zeros_like(w) for w in W]
        n = X_hat[0].shape[0]
        n_batches = 1 if self.batch_size is None else max(1, n // self.batch_size)
        history = np.empty(self.epochs)
        step = 0
        for epoch in range(self.epochs):
            losses = []
            for rows in np.array_split(rng.permutation(n), n_batches):
                step += 1
                loss, *grads = info_nce(
                    X_hat[0][rows], X_hat[1][rows], W[0], W[1], self.temperature
                )
                for m in range(2):
                    W[m], first[m], second[m] = adam_step(
                        W[m], grads[m], first[m], second[m], step=step, lr=self.lr
                    )
                losses.append(loss)
            history[epoch] = float(np.mean(losses))
        self.encoders_ = W
        self.loss_history_ = history
        return self

    def transform(self, m: int, X: npt.ArrayLike) -> FloatArray:
        """Un-normalised outputs ``W_m x̂`` of shape (n, k) of raw features ``X`` (n, d_m)."""
        return self.standardizers_[m].apply(X) @ self.encoders_[m].T

    def embed(self, m: int, X: npt.ArrayLike) -> FloatArray:
        """L2-normalised embeddings of shape (n, k): what the InfoNCE loss aligns."""
        return _normalise(self.transform(m, X))[0]

    def _check_hyper_parameters(self, n: int) -> None:
        if self.rank < 1:
            raise ValueError(f"rank must be ≥ 1, got {self.rank}")
        if self.temperature <= 0 or self.lr <= 0:
            raise ValueError(
                f"temperature and lr must be > 0, got {self.temperature} and {self.lr}"
            )
        if self.epochs < 1:
            raise ValueError(f"epochs must be ≥ 1, got {self.epochs}")
        if n < 2 or (self.batch_size is not None and self.batch_size < 2):
            raise ValueError(
                f"InfoNCE needs at least 2 pairs per batch (negatives), got {n} pairs "
                f"and batch_size {self.batch_size}"
            )


def _check_pairs(views: Sequence[npt.ArrayLike]) -> list[FloatArray]:
    if len(views) != 2:
        raise ValueError(f"contrastive alignment pairs exactly two modalities, got {len(views)}")
    X = [np.asarray(v, dtype=np.float64) for v in views]
    if any(x.ndim != 2 for x in X) or X[0].shape[0] != X[1].shape[0]:
        raise ValueError(
            f"expected two 2-D arrays with the same number of rows, got {[x.shape for x in X]}"
        )
    return X
