"""Gaussian class models in the latent space, fitted on labelled video latents only (DESIGN §1).

``z | c ~ N(μ_c, Σ_c)``; the posterior is the softmax of log-likelihoods plus log-priors.
Covariances are shrunk towards a scaled identity with the Ledoit–Wolf weight, so small
classes stay well-posed. The out-of-distribution score is the Mahalanobis distance to the
nearest class; under the model its square is χ²(k), so the default threshold is the
χ²(k) quantile ``OOD_QUANTILE`` — a window farther than that from every class is "unknown".
"""

from __future__ import annotations

from typing import Literal, Self

import numpy as np
import numpy.typing as npt

__all__ = ["OOD_QUANTILE", "GaussianClassifier", "GaussianParameters", "ledoit_wolf"]

FloatArray = npt.NDArray[np.float64]

#: χ²(k) quantile of the squared distance beyond which a latent is out of distribution
OOD_QUANTILE = 0.999
#: relative floor on covariance eigenvalues, so a degenerate class still inverts
COVARIANCE_FLOOR = 1e-6


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
            for cross-modal transfer, ``z_imu − z_video`` on held-out pairs. Under the
            Gaussian assumption an IMU latent of class c is ``N(μ_c, Σ_c + Σ_noise)``, so it
            is added to every class covariance.
        """
        from scipy.stats import chi2

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
        self.ood_threshold_ = float(np.sqrt(chi2.ppf(OOD_QUANTILE, k)))
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
        whiten = []
        log_det = []
        for cov in self.covariances_:
            L = np.linalg.cholesky(cov)
            whiten.append(np.linalg.inv(L))
            log_det.append(2.0 * float(np.sum(np.log(np.diag(L)))))
        log_norm = np.log(self.priors_) - 0.5 * np.asarray(log_det) - 0.5 * k * np.log(2 * np.pi)
        return GaussianParameters(np.stack(whiten), self.means_, log_norm)

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
    whitened = np.einsum("cij,nj->nci", parameters.whiten, Z) - np.einsum(
        "cij,cj->ci", parameters.whiten, parameters.means
    )
    return np.asarray(np.sum(whitened**2, axis=2), dtype=np.float64)


def _logsumexp(logits: FloatArray) -> FloatArray:
    peak = logits.max(axis=1, keepdims=True)
    return np.asarray(
        peak + np.log(np.sum(np.exp(logits - peak), axis=1, keepdims=True)), dtype=np.float64
    )
