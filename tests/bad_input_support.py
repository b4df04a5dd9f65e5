"""Shared parts of the bad-input tables: their cases, archive breakage, the one-line refusal."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

__all__ = ["assert_refused", "cases", "rewrite"]


def cases(table: Sequence[tuple[object, ...]]) -> list[object]:
    """``parametrize`` values of a table whose rows are ``(id, *values)``."""
    return [pytest.param(*case[1:], id=str(case[0])) for case in table]


def rewrite(path: Path, **changes: object) -> None:
    """Rewrite the ``.npz`` archive at ``path``: each field set to its value, or removed if None."""
    arrays = dict(np.load(path))
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    np.savez(path, **arrays)


def assert_refused(
    status: int, capsys: pytest.CaptureFixture[str], message: str, out: Path
) -> None:
    """Exit status 2, one ``harbridge: error:`` line holding ``message``, nothing at ``out``."""
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("harbridge: error: ")
    assert message in err
    assert not out.exists()
