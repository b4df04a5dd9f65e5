"""The paper's Gaussian head through any aligner: how table 1 judges methods outside the bundle."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from harbridge.bench.aligners import Aligner
from harbridge.bench.transfer_data import TransferData
from harbridge.calibration.gaussian import GaussianClassifier
from harbridge.calibration.metrics import rel_cmae

__all__ = ["paper_transfer"]

FloatArray = npt.NDArray[np.float64]


def paper_transfer(
    aligner: Aligner,
    data: TransferData,
    imu: FloatArray,
    test_imu: FloatArray,
    held: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.int64], float]:
    """The paper's Gaussian transfer through any aligner, and its held-out rel_CMAE.

    Class models are fitted on the latents of the labelled video, with the covariance of
    ``z_imu − z_video`` over the held-out pairs (over all pairs when none are held out)
    added to every class.

    Parameters
    ----------
    aligner : Aligner
        Fitted on the pairs outside ``held``; modality 0 is video, 1 is IMU.
    data : TransferData
    imu : ndarray of shape (n_pairs, d_imu)
        IMU features of the pairs.
    test_imu : ndarray of shape (n_test, d_imu)
    held : ndarray of bool of shape (n_pairs,)

    Returns
    -------
    predicted : ndarray of shape (n_test,)
    rel_cmae : float
        On the held-out pairs; NaN when none are held out.
    """
    rows = held if held.any() else np.ones_like(held)
    Z_video = aligner.transform(0, data.pairs.video[rows])
    Z_imu = aligner.transform(1, imu[rows])
    k = Z_video.shape[1]
    head = GaussianClassifier().fit(
        aligner.transform(0, data.labeled.video),
        data.labeled.label,
        len(data.labeled.class_names),
        noise_covariance=np.cov((Z_imu - Z_video).T).reshape(k, k),
    )
    held_error = rel_cmae(Z_video, Z_imu) if held.any() else float("nan")
    return head.predict(aligner.transform(1, test_imu)), held_error
