"""Writing a whole directory all-or-nothing: build it beside the target, then rename it in."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["replacing_directory"]


@contextlib.contextmanager
def replacing_directory(out: Path) -> Iterator[Path]:
    """Yield a hidden staging directory that replaces ``out`` when the block succeeds.

    The staging directory is a sibling of ``out``, so the final renames stay on one
    filesystem and are atomic. An existing ``out`` is moved aside, the staging directory
    renamed onto ``out``, and the old one deleted. If the block raises, the staging
    directory is removed and ``out`` is left as it was: no half-written output. Callers
    decide beforehand whether ``out`` may be replaced.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new.", dir=out.parent))
    try:
        yield staging
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, retired / out.name)
            os.replace(staging, out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
