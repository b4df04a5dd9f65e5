"""``report.html`` drawn by a helper process that is started before the pass over the pairs.

Importing matplotlib takes about 0.45 s, a third of what the whole numpy floor process of
issue 6 takes at 200,000 pairs. Started first, the helper imports it (and numpy) while
this process reads the pairs; when the manifest is ready it only has to draw. The page is
the one :func:`~harbridge.calibration.report.build_report` builds in-process, byte for
byte.

Run as ``python -m harbridge.calibration.report_process``: it reads one JSON object
``{"manifest": ..., "report_data": ...}`` from stdin and writes the page to stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

__all__ = ["ReportProcess", "main"]


class ReportProcess:
    """A helper process that renders one report; start it early, then :meth:`render`.

    Use as a context manager, so that the helper is stopped on every path (an input
    error before :meth:`render` leaves it waiting on its stdin otherwise).
    """

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "harbridge.calibration.report_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def render(self, manifest: dict[str, Any], report_data: dict[str, Any]) -> bytes:
        """The report page for ``manifest`` and ``report_data`` (see ``build_report``).

        Raises
        ------
        RuntimeError
            When the helper fails, with its error output.
        """
        request = json.dumps({"manifest": manifest, "report_data": report_data}).encode()
        page, error = self._process.communicate(request)
        if self._process.returncode != 0:
            raise RuntimeError(
                f"the report process failed (exit {self._process.returncode}):\n"
                + error.decode(errors="replace")
            )
        return page

    def close(self) -> None:
        """Stop the helper if it still runs, and reap it."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.communicate()

    def __enter__(self) -> ReportProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> None:
    """Import the drawing backend, then render the request on stdin to stdout."""
    # Imported before the request is read: this is the work that overlaps the pass.
    import matplotlib.backends.backend_agg
    import matplotlib.figure  # noqa: F401

    from harbridge.calibration.report import build_report

    request = json.load(sys.stdin.buffer)
    sys.stdout.buffer.write(build_report(request["manifest"], request["report_data"], None))


if __name__ == "__main__":
    main()
