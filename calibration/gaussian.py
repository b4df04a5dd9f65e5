"""Gaussian class models in the latent space, fitted on labelled video only (DESIGN §1).

``z | c ~ N(μ_c, Σ_c)``; the posterior is the softmax of log-likelihoods plus log-priors.
Covariances are shrunk towards a scaled identity with the Ledoit–Wolf weight, so small
classes stay well-posed. The out-of-distribution score is the Mahalanobis distance to the
nearest class; under the model its square is χ²(k), so the default threshold is the
χ²(k) quantile ``OOD_QUANTILE`` — a window farther than that from every class is "unknown".

:class:`CrossModalCarry` is the cross-modal half of the Gaussian transfer: how the IMU side
of a pair relates to its video side, learnt from unlabelled pairs, so that class models
fitted on labelled video can be stated for IMU latents (see its notes).
"""

from __future__ import annotations

import math
from typing import Literal, Self

import numpy as np
import numpy.typing as npt

from harbridge.calibration.chi_square import chi2_quantile
from harbridge.calibration.least_squares import cross_fitted_least_squares

__all__ = [
    "OOD_QUANTILE",
    "CrossModalCarry",
    "GaussianClassifier",
    "GaussianParameters",
    "cross_fit_folds",
    "ledoit_wolf",
]

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

#: χ²(k) quantile of the squared distance beyond which a latent is out of distribution
OOD_QUANTILE = 0.999
#: relative floor on covariance eigenvalues, so a degenerate class still inverts
COVARIANCE_FLOOR = 1e-6
#: with at least this many distinct subjects, cross-fitting holds out one subject at a time
MIN_SUBJECT_FOLDS = 3
#: folds of contiguous pairs when subjects are unknown (or too few)
BLOCK_FOLDS = 5


def ledoit_wolf(X_centred: FloatArray) -> tuple[FloatArray, float]:
    """Ledoit–Wolf shrunk covariance of centred samples.

    Parameters
    ----------
    X_centred : ndarray of shape (n, k)

    Returns
    -------
    covariance : ndarray of shape (k, k)
        ``(1 − ρ) S + ρ (tr S / k) I`` with S the sample covariance.
    shrinkage : float
        ρ in [0, 1].
    """
    n, k = X_centred.shape
    S = X_centred.T @ X_centred / n
    target = np.trace(S) / k
    distance = float(np.sum((S - target * np.eye(k)) ** 2))
    if distance == 0.0:
        return S, 0.0
    # Σ_i ‖x_i x_iᵀ − S‖²_F = Σ_i ‖x_i‖⁴ − n ‖S‖²_F
    spread = (float(np.sum(np.sum(X_centred**2, axis=1) ** 2)) - n * float(np.sum(S**2))) / n**2
    shrinkage = min(max(spread, 0.0), distance) / distance
    return (1 - shrinkage) * S + shrinkage * target * np.eye(k), shrinkage


class GaussianParameters:
    """What the ONNX head needs: per class a whitening matrix and an offset.

    ``maha²_c(z) = ‖W_c z − W_c μ_c‖²`` and ``log p(c | z) ∝ −½ maha²_c + log_norm_c``.

    Attributes
    ----------
    whiten : ndarray of shape (K, k, k)
        ``W_c`` with ``W_cᵀ W_c = Σ_c⁻¹``.
    means : ndarray of shape (K, k)
    log_norm : ndarray of shape (K,)
        ``log π_c − ½ log det Σ_c − (k/2) log 2π``.
    """

    def __init__(self, whiten: FloatArray, means: FloatArray, log_norm: FloatArray) -> None:
        self.whiten = whiten
        self.means = means
        self.log_norm = log_norm


class GaussianClassifier:
    """Per-class (or shared) Gaussian classifier with shrinkage and an OOD score.

    Parameters
    ----------
    covariance : {"per_class", "shared"}
        One covariance per class, or one pooled within-class covariance.
    shrinkage : "auto" or float in [0, 1]
        Ledoit–Wolf weight (``"auto"``) or a fixed one.
    priors : {"empirical", "uniform"}
        Class priors from label frequencies, or equal.

    Attributes
    ----------
    means_ : ndarray of shape (K, k)
    covariances_ : ndarray of shape (K, k, k)
    priors_ : ndarray of shape (K,)
    shrinkage_ : ndarray of shape (K,)
    ood_threshold_ : float
        Mahalanobis distance beyond which a latent is "unknown".
    """

    def __init__(
        self,
        covariance: Literal["per_class", "shared"] = "per_class",
        shrinkage: Literal["auto"] | float = "auto",
        priors: Literal["empirical", "uniform"] = "empirical",
    ) -> None:
        self.covariance = covariance
        self.shrinkage = shrinkage
        self.priors = priors

    def fit(
        self,
        Z: npt.ArrayLike,
        y: npt.ArrayLike,
        n_classes: int,
        noise_covariance: npt.ArrayLike | None = None,
    ) -> Self:
        """Fit on latents ``Z`` (m, k) with labels ``y`` (m,) in [0, n_classes).

        Every class needs at least one sample; a class with fewer than two borrows the
        pooled covariance.

        Parameters
        ----------
        noise_covariance : array-like of shape (k, k), optional
            Covariance of what separates the latents to classify from those fitted on:
            for cross-modal transfer, what the carry of video into the IMU latent misses
            (:class:`CrossModalCarry`), or ``z_imu − z_video`` on held-out pairs. Under the
            Gaussian assumption an IMU latent of class c is ``N(μ_c, Σ_c + Σ_noise)``, so it
            is added to every class covariance.
        """
        Z = np.asarray(Z, dtype=np.float64)
        y = np.asarray(y, dtype=np.int64)
        k = Z.shape[1]
        counts = np.bincount(y, minlength=n_classes)
        if np.any(counts == 0):
            missing = np.flatnonzero(counts == 0).tolist()
            raise ValueError(f"classes {missing} have no labelled samples")
        self.means_ = np.stack([Z[y == c].mean(axis=0) for c in range(n_classes)])
        centred = Z - self.means_[y]
        pooled, pooled_shrinkage = self._shrunk(centred)
        covariances = []
        shrinkages = []
        for c in range(n_classes):
            if self.covariance == "shared" or counts[c] < 2:
                covariances.append(pooled)
                shrinkages.append(pooled_shrinkage)
            else:
                cov, rho = self._shrunk(centred[y == c])
                covariances.append(cov)
                shrinkages.append(rho)
        floor = COVARIANCE_FLOOR * max(float(np.trace(pooled)) / k, np.finfo(np.float64).tiny)
        noise = np.zeros((k, k)) if noise_covariance is None else np.asarray(noise_covariance)
        self.covariances_ = np.stack(covariances) + noise + floor * np.eye(k)
        self.shrinkage_ = np.asarray(shrinkages)
        self.priors_ = (
            counts / counts.sum()
            if self.priors == "empirical"
            else np.full(n_classes, 1 / n_classes)
        )
        self.ood_threshold_ = math.sqrt(chi2_quantile(OOD_QUANTILE, k))
        self.parameters_ = self._parameters()
        return self

    def _shrunk(self, X_centred: FloatArray) -> tuple[FloatArray, float]:
        if self.shrinkage == "auto":
            return ledoit_wolf(X_centred)
        S = X_centred.T @ X_centred / X_centred.shape[0]
        rho = float(self.shrinkage)
        return (1 - rho) * S + rho * np.trace(S) / S.shape[0] * np.eye(S.shape[0]), rho

    def _parameters(self) -> GaussianParameters:
        k = self.means_.shape[1]
        L = np.linalg.cholesky(self.covariances_)
        log_det = 2.0 * np.sum(np.log(np.diagonal(L, axis1=1, axis2=2)), axis=1)
        log_norm = np.log(self.priors_) - 0.5 * log_det - 0.5 * k * np.log(2 * np.pi)
        return GaussianParameters(np.linalg.inv(L), self.means_, log_norm)

    def squared_mahalanobis(self, Z: npt.ArrayLike) -> FloatArray:
        """Squared Mahalanobis distance of shape (n, K) of latents ``Z`` (n, k) to every class."""
        return squared_mahalanobis(np.asarray(Z, dtype=np.float64), self.parameters_)

    def predict_log_proba(self, Z: npt.ArrayLike) -> FloatArray:
        """Log-posteriors of shape (n, K)."""
        logits = -0.5 * self.squared_mahalanobis(Z) + self.parameters_.log_norm
        return logits - _logsumexp(logits)

    def predict_proba(self, Z: npt.ArrayLike) -> FloatArray:
        """Posteriors of shape (n, K)."""
        return np.asarray(np.exp(self.predict_log_proba(Z)), dtype=np.float64)

    def predict(self, Z: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Most probable class of shape (n,)."""
        return np.asarray(np.argmax(self.predict_log_proba(Z), axis=1), dtype=np.int64)

    def ood_score(self, Z: npt.ArrayLike) -> FloatArray:
        """Mahalanobis distance to the nearest class, shape (n,)."""
        return np.asarray(np.sqrt(np.min(self.squared_mahalanobis(Z), axis=1)), dtype=np.float64)


def squared_mahalanobis(Z: FloatArray, parameters: GaussianParameters) -> FloatArray:
    """``‖W_c (z − μ_c)‖²`` for every latent (n, k) and class, shape (n, K)."""
    # One matrix product per class (BLAS), where an einsum over (n, K, k, k) would not be.
    offsets = np.einsum("cij,cj->ci", parameters.whiten, parameters.means)
    whitened = np.matmul(Z, parameters.whiten.transpose(0, 2, 1)) - offsets[:, None, :]
    return np.asarray(np.sum(whitened**2, axis=2).T, dtype=np.float64)


def _logsumexp(logits: FloatArray) -> FloatArray:
    peak = logits.max(axis=1, keepdims=True)
    return np.asarray(
        peak + np.log(np.sum(np.exp(logits - peak), axis=1, keepdims=True)), dtype=np.float64
    )


def cross_fit_folds(
    n: int,
    subject: npt.ArrayLike | None = None,
    blocks: int = BLOCK_FOLDS,
    max_folds: int | None = None,
) -> tuple[list[IndexArray], str]:
    """Rows of each cross-fitting fold: whole subjects, or contiguous blocks of rows.

    Parameters
    ----------
    n : int
        Number of rows, at least 2.
    subject : array-like of shape (n,), optional
        With at least :data:`MIN_SUBJECT_FOLDS` distinct subjects, each subject is a fold,
        so held-out figures say what a new wearer would see.
    blocks : int
        Otherwise the rows are cut into this many contiguous blocks (fewer for tiny n):
        pairs are stored in recording order, and overlapping windows of one recording
        must not sit on both sides of a fold.
    max_folds : int, optional
        At most this many subject folds (≥ 2): with more subjects, the j-th subject in
        sorted order goes to fold ``j mod max_folds``, so each fold still holds out
        whole subjects. Default: one fold per subject.

    Returns
    -------
    folds : list of ndarray of int
        Disjoint, sorted row indices covering ``0 .. n − 1``.
    by : {"subject", "block"}
    """
    if subject is not None:
        labels = np.asarray(subject)
        distinct = np.unique(labels)
        if distinct.size >= MIN_SUBJECT_FOLDS:
            if max_folds is None or distinct.size <= max_folds:
                return [np.flatnonzero(labels == s) for s in distinct], "subject"
            fold_of = np.arange(distinct.size) % max_folds
            row_fold = fold_of[np.searchsorted(distinct, labels)]
            return [np.flatnonzero(row_fold == f) for f in range(max_folds)], "subject"
    return list(np.array_split(np.arange(n), max(min(blocks, n), 1))), "block"


class CrossModalCarry:
    """Least-squares carry of video features into IMU feature space, and what it misses.

    Under the Gaussian assumptions of DESIGN §1 the IMU features of a pair are an affine
    image of its video features plus independent noise, ``x_imu = Aᵀ x_video + a + ε`` with
    ``ε ~ N(0, Σ_ε)``. ``A`` and ``a`` are the least-squares fit on unlabelled pairs and
    ``Σ_ε`` the covariance of its *cross-fitted* residuals (each fold predicted by a fit
    on the others), so it measures the error on pairs — and wearers — the fit has not seen.
    For any IMU encoder ``z = W x_imu + w``, a class ``N(μ_c, Σ_c)`` of video features then
    becomes ``N(W(Aᵀμ_c + a) + w, W Aᵀ Σ_c A Wᵀ + W Σ_ε Wᵀ)`` in the IMU latent: the class
    model is fitted on carried labelled video and ``W Σ_ε Wᵀ`` is its noise covariance.

    When the alignment is perfect the carry reproduces it (``W Aᵀ x_video + w`` equals
    the video latent) and ``Σ_ε`` vanishes in the latent; otherwise the carried video latent
    is, per latent coordinate, the linear function of video closest to the IMU latent in
    the least-squares sense — the smallest CMAE any linear video encoder can reach.

    Attributes
    ----------
    coef_ : ndarray of shape (d_video, d_imu)
        ``A``.
    intercept_ : ndarray of shape (d_imu,)
        ``a``.
    residual_covariance_ : ndarray of shape (d_imu, d_imu)
        ``Σ_ε`` from cross-fitted residuals.
    folds_ : str
        ``"subject"`` (one fold per subject) or ``"block"`` (contiguous pairs).
    n_folds_ : int
    """

    def fit(
        self, video: npt.ArrayLike, imu: npt.ArrayLike, subject: npt.ArrayLike | None = None
    ) -> Self:
        """Fit on paired video (n, d_video) and IMU features (n, d_imu), n ≥ 2.

        Parameters
        ----------
        subject : array-like of shape (n,), optional
            Subject of each pair; the residuals are cross-fitted subject by subject
            (see :func:`cross_fit_folds`).

        Raises
        ------
        ValueError
            With fewer than 2 pairs (nothing to cross-fit).
        """
        X = np.asarray(video, dtype=np.float64)
        Y = np.asarray(imu, dtype=np.float64)
        if X.shape[0] < 2:
            raise ValueError(f"the carry needs at least 2 pairs, got {X.shape[0]}")
        folds, self.folds_ = cross_fit_folds(X.shape[0], subject)
        self.n_folds_ = len(folds)
        # Video columns scaled to unit spread: features in different units then weigh alike
        # in the minimum-norm solution of a rank-deficient problem. Constant features get
        # 0, as the minimum-norm solution gives them, and are left out of the solve.
        mean = X.mean(axis=0)
        spread = X.std(axis=0)
        active = spread > 0
        scale = np.divide(1.0, spread, out=np.zeros_like(spread), where=active)
        X_hat = (X[:, active] - mean[active]) * scale[active]
        B = np.zeros((X.shape[1], Y.shape[1]))
        B[active], c, residual = cross_fitted_least_squares(X_hat, Y, folds)
        self.coef_ = scale[:, None] * B
        self.intercept_ = c - (mean * scale) @ B
        residual -= residual.mean(axis=0)
        self.residual_covariance_ = residual.T @ residual / max(X.shape[0] - 1, 1)
        return self

    def predict(self, video: npt.ArrayLike) -> FloatArray:
        """IMU features of shape (n, d_imu) carried from video features (n, d_video)."""
        carried: FloatArray = np.asarray(video, dtype=np.float64) @ self.coef_ + self.intercept_
        return carried
