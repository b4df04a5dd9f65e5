"""Cut a byte stream into bounded UTF-8 text lines, for the CSV and JSON-lines parsers."""

from __future__ import annotations

from harbridge.drivers.parse_stats import ParseStats

__all__ = ["LineSplitter"]


class LineSplitter:
    """Incremental splitter of a byte stream into lines of at most ``max_line_bytes``.

    Lines end at ``\\n``; a trailing ``\\r`` is removed, and blank lines are skipped. A
    line longer than the limit (every byte but the newline counts) is dropped and counted
    once as ``line_too_long``; the bytes of it that have not arrived yet are discarded as
    they come, up to the next newline, so a hostile line never grows the buffer beyond
    the limit. A line that is not UTF-8 is dropped and counted as ``bad_utf8``.

    Parameters
    ----------
    max_line_bytes : int
        Longest line accepted.
    stats : ParseStats
        Where drops are counted (usually the owning parser's).
    """

    def __init__(self, max_line_bytes: int, stats: ParseStats) -> None:
        self.max_line_bytes = max_line_bytes
        self.stats = stats
        self._partial = b""
        self._skipping = False

    @property
    def buffered_bytes(self) -> int:
        """Bytes of an unfinished line held until its newline arrives (at most the limit)."""
        return len(self._partial)

    def feed(self, data: bytes) -> list[str]:
        """Return the complete lines that ``data`` finishes, in order."""
        pieces = data.split(b"\n")
        tail = pieces.pop()
        lines: list[str] = []
        if pieces:
            if self._skipping:
                # The first piece is the end of a line already counted as too long.
                pieces[0] = b""
                self._skipping = False
            elif self._partial:
                pieces[0] = self._partial + pieces[0]
            limit = self.max_line_bytes
            for raw in pieces:
                if len(raw) > limit:
                    self.stats.add("line_too_long")
                    continue
                line = raw[:-1] if raw.endswith(b"\r") else raw
                if not line or line.isspace():
                    continue
                try:
                    lines.append(line.decode("utf-8"))
                except UnicodeDecodeError:
                    self.stats.add("bad_utf8")
            self._partial = tail
        elif not self._skipping:
            self._partial += tail
        if len(self._partial) > self.max_line_bytes:
            self.stats.add("line_too_long")
            self._partial = b""
            self._skipping = True
        return lines
