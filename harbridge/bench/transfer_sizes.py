"""How big a run of ``harbridge bench transfer`` is: :data:`FULL` for the tables, :data:`QUICK`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ABLATIONS", "FULL", "QUICK", "Sizes"]

#: encoder settings of table 2: name -> feature groups switched off
ABLATIONS: dict[str, tuple[str, ...]] = {
    "default (all groups)": (),
    "without axes": ("axes",),
    "without magnitude": ("magnitude",),
    "without time_stats": ("time_stats",),
    "without band_energy": ("band_energy",),
    "without correlation": ("correlation",),
}


@dataclass(frozen=True)
class Sizes:
    """How big a run is: :data:`FULL` for the tables, :data:`QUICK` for a smoke run.

    Attributes
    ----------
    n_subjects, repetitions, stream_repetitions : int
        Size of each simulated data set (``harbridge simulate`` uses 10, 4 and 2).
    contrastive_epochs : int
        Training epochs of the contrastive baseline.
    ablations : tuple of str
        Settings of table 2, keys of :data:`ABLATIONS`.
    seeds : tuple of int
        Seeds of table 3 (empty: no table 3).
    """

    n_subjects: int
    repetitions: int
    stream_repetitions: int
    contrastive_epochs: int
    ablations: tuple[str, ...]
    seeds: tuple[int, ...]


FULL = Sizes(10, 4, 2, contrastive_epochs=100, ablations=tuple(ABLATIONS), seeds=(0, 1, 2, 3, 4))
QUICK = Sizes(
    6,
    1,
    1,
    contrastive_epochs=20,
    ablations=("default (all groups)", "without band_energy"),
    seeds=(),
)
