"""From a window and the pipeline's output to the prediction payload of its device.

Per window: the device's smoother averages the class probabilities (restarting at a gap
in the data), :func:`~harbridge.runtime.smoothing.decide` applies the confidence floor
and the OOD threshold (the config's, else the bundle's), and
:func:`~harbridge.runtime.payloads.prediction_payload` builds the message with the
device's next ``seq``.

Times: ``t_start`` and ``t_end`` are on the device's clock when its samples carry times.
Samples without times are stamped on arrival with the daemon's monotonic clock; their
windows are shifted onto the wall clock (seconds since the Unix epoch) before publishing,
so that consumers can line them up with other events.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harbridge.runtime.bundle_spec import BundleSpec
from harbridge.runtime.config import PostprocessSettings
from harbridge.runtime.device_state import DeviceState
from harbridge.runtime.inference import InferenceResult
from harbridge.runtime.payloads import prediction_payload
from harbridge.runtime.smoothing import decide
from harbridge.runtime.windowing import Window

__all__ = ["Predictor"]


class Predictor:
    """Builds prediction payloads for one bundle and post-processing setting.

    Parameters
    ----------
    spec : BundleSpec
        Class names, model id and the bundle's OOD threshold.
    settings : PostprocessSettings
        Confidence floor and OOD threshold override.
    wall_offset_s : float
        ``time.time() − time.monotonic()``: added to the times of untimed devices.
    """

    def __init__(self, spec: BundleSpec, settings: PostprocessSettings, wall_offset_s: float):
        self.spec = spec
        self.confidence_floor = settings.confidence_floor
        self.ood_threshold = (
            spec.ood_threshold if settings.ood_threshold is None else settings.ood_threshold
        )
        self.wall_offset_s = wall_offset_s

    def payload(
        self, window: Window, result: InferenceResult, state: DeviceState, now: float
    ) -> dict[str, Any] | None:
        """The payload of one window, or None when the pipeline's probabilities are not finite.

        Parameters
        ----------
        window : Window
            The window that was inferred.
        result : InferenceResult
            ``probs`` of shape (K,) and the OOD score.
        state : DeviceState
            The window's device; its smoother and ``seq`` advance.
        now : float
            Monotonic time, seconds; the latency is ``now − window.t_last_arrival``.
        """
        if not np.isfinite(result.probs).all():
            # Samples far beyond any sensor's range overflow float32 in the pipeline.
            return None
        probs = np.clip(state.smoother.update(result.probs, window.segment), 0.0, 1.0)
        decision = decide(
            probs,
            result.ood,
            self.spec.classes,
            self.confidence_floor,
            self.ood_threshold,
        )
        offset = self.wall_offset_s if state.untimed else 0.0
        payload = prediction_payload(
            device=window.device,
            seq=state.seq,
            t_start=window.t_start + offset,
            t_end=window.t_end + offset,
            label=decision.label,
            confidence=decision.confidence,
            class_names=self.spec.classes,
            probs=probs,
            unknown=decision.unknown,
            latency_ms=max(0.0, (now - window.t_last_arrival) * 1000.0),
            model=self.spec.model,
        )
        state.seq += 1
        return payload
