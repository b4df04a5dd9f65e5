"""Errors of the calibration subsystem."""

from __future__ import annotations

from harbridge.errors import HarbridgeError

__all__ = ["AlignmentError"]


class AlignmentError(HarbridgeError):
    """Perfect alignment cannot be solved as asked.

    Parameters
    ----------
    field : str
        What the user set or supplied that is at fault: ``"--rank"``, ``"imu_features"``, ...
    problem : str
        What is wrong and what to do, in the user's words.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")
