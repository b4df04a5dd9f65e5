"""Markdown tables for benchmark output: a title line, aligned columns, notes below.

Rows are mappings from column key to value; each :class:`Column` says how to show its
values, so experiments return plain numbers and the formatting lives in one place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Cell", "Column", "format_cell", "markdown_table"]

#: what a row may hold; None is an empty cell
Cell = str | int | float | None

#: how a missing number (NaN) reads in a table
MISSING = "n/a"


@dataclass(frozen=True)
class Column:
    """One column of a table.

    Attributes
    ----------
    key : str
        Key of the value in each row.
    header : str
        Column heading.
    fmt : str
        Format spec for numbers (``".2e"``, ``".3f"``, ``"d"``); strings are shown as-is.
    """

    key: str
    header: str
    fmt: str = ""


def format_cell(value: Cell, fmt: str = "") -> str:
    """Show one value: numbers with ``fmt``, NaN as ``n/a``, None as empty, ``|`` escaped."""
    if value is None:
        text = ""
    elif isinstance(value, float) and math.isnan(value):
        text = MISSING
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = format(value, fmt)
    else:
        text = str(value)
    return text.replace("|", "\\|")


def markdown_table(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Mapping[str, Cell]],
    notes: Sequence[str] = (),
) -> str:
    """Render rows as a markdown table under a ``###`` title, with notes below.

    Parameters
    ----------
    title : str
        The table's title line.
    columns : sequence of Column
    rows : sequence of mapping of str to Cell
        A key missing from a row is an empty cell.
    notes : sequence of str
        Paragraphs printed after the table (what the columns mean, what was skipped).

    Returns
    -------
    str
        Markdown text ending with a newline.
    """
    cells = [[format_cell(row.get(c.key), c.fmt) for c in columns] for row in rows]
    headers = [c.header.replace("|", "\\|") for c in columns]
    widths = [max([len(h), 3, *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    # Right-align a column when every filled cell in it was a number.
    numeric = [
        any(_is_number(row.get(c.key)) for row in rows)
        and all(_is_number(row.get(c.key)) or row.get(c.key) is None for row in rows)
        for c in columns
    ]

    def line(parts: Sequence[str]) -> str:
        padded = (
            p.rjust(w) if right else p.ljust(w)
            for p, w, right in zip(parts, widths, numeric, strict=True)
        )
        return "| " + " | ".join(padded) + " |"

    rule = "| " + " | ".join(
        "-" * (w - 1) + ":" if right else "-" * w for w, right in zip(widths, numeric, strict=True)
    )
    parts = [f"### {title}", "", line(headers), rule + " |", *(line(r) for r in cells)]
    for note in notes:
        parts += ["", note]
    return "\n".join(parts) + "\n"


def _is_number(value: Cell) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
