"""Plain-text rendering of evaluation results for the terminal."""

from __future__ import annotations

from typing import Any

__all__ = ["format_evaluation"]


def format_evaluation(results: dict[str, Any]) -> str:
    """Summary line, per-class accuracy and confusion matrix (rows true, columns predicted)."""
    classes: list[str] = results["classes"]
    width = max(6, *(len(c) for c in classes))
    lines = [
        f"{results['n']} windows from {results['dataset']}: accuracy {results['accuracy']:.3f}, "
        f"macro-F1 {results['macro_f1']:.3f}, past the OOD threshold {results['unknown_rate']:.1%}",
        "",
        "per-class accuracy:",
    ]
    for name in classes:
        value = results["per_class_accuracy"][name]
        lines.append(f"  {name:<{width}} {'absent' if value is None else f'{value:.3f}'}")
    cell = max(4, len(str(max(max(row) for row in results["confusion_matrix"]))))
    lines += ["", "confusion matrix (rows true, columns predicted in the same order):"]
    for name, row in zip(classes, results["confusion_matrix"], strict=True):
        lines.append(f"  {name:<{width}} " + " ".join(f"{v:>{cell}d}" for v in row))
    return "\n".join(lines)
