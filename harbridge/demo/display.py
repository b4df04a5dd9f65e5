"""What the demo prints: steps, one line per live prediction, and the closing summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

__all__ = ["DemoScreen", "LiveLine"]

BAR_WIDTH = 12
_BLOCKS = " ▏▎▍▌▋▊▉█"


@dataclass(frozen=True)
class LiveLine:
    """One prediction as the demo shows it; times on the recording's clock."""

    t_start: float
    t_end: float
    label: str
    confidence: float
    unknown: bool
    truth: str | None
    latency_ms: float


def _bar(fraction: float) -> str:
    eighths = round(max(0.0, min(1.0, fraction)) * BAR_WIDTH * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + (_BLOCKS[rest] if rest else "")).ljust(BAR_WIDTH)


class DemoScreen:
    """Writes the demo's output to ``out``, with colour when it is a terminal."""

    def __init__(self, out: TextIO, colour: bool) -> None:
        self.out = out
        self.colour = colour

    def _paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def step(self, number: int, total: int, text: str) -> None:
        """A numbered step heading."""
        self.out.write(self._paint(f"[{number}/{total}] ", "1;36") + text + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        """An indented detail under a step."""
        self.out.write(f"      {text}\n")
        self.out.flush()

    def live(self, line: LiveLine) -> None:
        """One prediction next to the ground truth of the recording."""
        if line.truth is None:
            verdict = self._paint("· between actions", "2")
        elif line.label == line.truth:
            verdict = self._paint(f"✓ {line.truth}", "32")
        else:
            verdict = self._paint(f"✗ {line.truth}", "31")
        label = "unknown" if line.unknown else line.label
        self.out.write(
            f"  {line.t_start:6.1f}–{line.t_end:5.1f} s  {label:<13} {_bar(line.confidence)} "
            f"{100 * line.confidence:3.0f}%  truth {verdict}  {line.latency_ms:5.1f} ms\n"
        )
        self.out.flush()

    def summary(self, rows: list[tuple[str, str]]) -> None:
        """The closing table of name → value."""
        width = max(len(name) for name, _ in rows)
        self.out.write("\n" + self._paint("Summary", "1") + "\n")
        for name, value in rows:
            self.out.write(f"  {name:<{width}}  {value}\n")
        self.out.flush()
