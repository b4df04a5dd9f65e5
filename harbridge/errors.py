"""Error types shared by every subsystem.

An :class:`InputError` is the user's to fix: the CLI prints it as one line
``harbridge: error: <file>: <field>: <problem>`` and exits with code 2.
"""

from __future__ import annotations

from os import PathLike

__all__ = ["HarbridgeError", "InputError"]


class HarbridgeError(Exception):
    """Base class of every error harbridge raises on purpose."""


class InputError(HarbridgeError):
    """Bad input: a file, a field in it, and what to do about it.

    Parameters
    ----------
    source : str or path-like
        The file (or option, or config key) the bad value came from.
    field : str
        The field inside it, e.g. ``"imu_features"`` or ``"--rank"``.
    problem : str
        What is wrong and what to do, as one sentence for the user.
    """

    def __init__(self, source: str | PathLike[str], field: str, problem: str) -> None:
        self.source = str(source)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.source}: {field}: {problem}")
