"""harbridge: recognise actions from a wearable IMU with a video-trained model.

Sub-packages: :mod:`harbridge.calibration` (offline alignment and export),
:mod:`harbridge.models` (ONNX graphs and their numpy twins), :mod:`harbridge.runtime`
(the on-device daemon) and :mod:`harbridge.drivers` (sample sources).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
