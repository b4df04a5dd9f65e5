"""The supervised IMU ceiling: what labelled IMU data would buy.

Logistic regression on standardised IMU features of the training subjects' labelled
windows, tested on the held-out subjects. Calibration never reads those labels.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from harbridge.bench.bundle_transfer import BundleResult
from harbridge.bench.transfer_data import TransferData
from harbridge.calibration.metrics import accuracy, macro_f1

__all__ = ["ceiling", "ceiling_accuracy"]

FloatArray = npt.NDArray[np.float64]


def ceiling(
    train: FloatArray, train_labels: npt.ArrayLike, test: FloatArray
) -> npt.NDArray[np.int64]:
    """Predictions of the supervised ceiling: logistic regression on standardised features.

    Parameters
    ----------
    train : ndarray of shape (n_train, d_imu)
    train_labels : array-like of int of shape (n_train,)
    test : ndarray of shape (n_test, d_imu)

    Returns
    -------
    ndarray of int of shape (n_test,)
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train)
    model = LogisticRegression(max_iter=2000).fit(scaler.transform(train), train_labels)
    return np.asarray(model.predict(scaler.transform(test)), dtype=np.int64)


def ceiling_accuracy(data: TransferData, result: BundleResult) -> tuple[float, float]:
    """Accuracy and macro-F1 of the ceiling with the bundle's encoder (NaN without labels)."""
    if data.train_imu is None:
        return float("nan"), float("nan")
    predicted = ceiling(
        result.features(data.train_imu), data.train_imu.label, result.features(data.test)
    )
    n_classes = len(data.labeled.class_names)
    return accuracy(data.test.label, predicted), macro_f1(data.test.label, predicted, n_classes)
