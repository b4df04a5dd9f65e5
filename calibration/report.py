"""The bundle's static ``report.html``: summary, alignment notes and figures in one file.

The page opens from disk with no script and no network: figures are PNG images embedded as
base64 data URIs, drawn on matplotlib's Agg canvas directly (no pyplot, no global backend
state), and a Content-Security-Policy forbids the page from loading anything else.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["build_report"]

FloatArray = npt.NDArray[np.float64]

#: resolution of the embedded figures
DPI = 100
#: pairs drawn large and numbered in both latent panels, so the eye can match them
HIGHLIGHTED_PAIRS = 6
#: latent dimensions shown in the video-vs-IMU panel
IDENTITY_DIMS = 4
#: above this many classes the confusion cells are too small for their counts
ANNOTATED_CLASSES = 15
#: panel margins of the spectrum figure (12 × 4 in, two panels; 7 × 4 in, one), as
#: fractions of the figure: room for tick labels, axis labels and titles
SPECTRUM_MARGINS = {"left": 0.065, "right": 0.985, "bottom": 0.13, "top": 0.92, "wspace": 0.2}
#: with a second y axis on the right of the rank-selection panel
SPECTRUM_TWIN_MARGINS = {"left": 0.065, "right": 0.935, "bottom": 0.13, "top": 0.92, "wspace": 0.2}
SPECTRUM_ALONE_MARGINS = {"left": 0.11, "right": 0.975, "bottom": 0.13, "top": 0.92}
#: the latent figure (15 × 5 in): three square 3.8 in panels (left, bottom, width, height)
#: at 0.8, 5.5 and 10.98 in from the left, 0.6 in from the bottom; the colour bar of the
#: middle one is three quarters of its height, 0.15 in to its right
LATENT_PANELS = (
    (0.8 / 15, 0.12, 3.8 / 15, 0.76),
    (5.5 / 15, 0.12, 3.8 / 15, 0.76),
    (10.98 / 15, 0.12, 3.8 / 15, 0.76),
)
LATENT_COLORBAR = (9.45 / 15, 0.215, 0.18 / 15, 0.57)
#: title height over the axes (where matplotlib puts it when nothing is above the axes);
#: given, it spares measuring every tick label to place the title
TITLE_Y = 1.0

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #222; max-width: 1150px;
       margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.classes, .detail, figcaption { color: #555; }
.detail, figcaption { font-size: 0.9em; }
table { border-collapse: collapse; }
th, td { text-align: left; vertical-align: top; padding: 0.35em 0.8em;
         border-bottom: 1px solid #eee; }
th { white-space: nowrap; }
figure { margin: 1em 0; }
img { max-width: 100%; height: auto; }
.metrics { font-size: 1.15em; }
"""

#: no network, no script: only inline styles and embedded images
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def build_report(
    manifest: dict[str, Any], report_data: dict[str, Any], evaluation: dict[str, Any] | None
) -> bytes:
    """Render the bundle's self-contained HTML report.

    Parameters
    ----------
    manifest : dict
        The bundle manifest (``classes``, ``imu``, ``video``, ``alignment``, ``head``,
        ``versions``, ``graphs``); absent optional keys leave their rows out.
    report_data : dict
        ``{"paired_latents": {"video": (n, k) nested lists, "imu": (n, k) nested lists}}``:
        the same training pairs seen through the video and the IMU encoder.
    evaluation : dict or None
        ``harbridge evaluate`` results: ``dataset``, ``n``, ``accuracy``, ``macro_f1``,
        ``confusion_matrix`` (K, K) with rows true and columns predicted,
        ``per_class_accuracy`` {class: float} and ``classes``. None leaves the section out.

    Returns
    -------
    bytes
        The UTF-8 encoded page.
    """
    alignment: dict[str, Any] = manifest.get("alignment", {})
    classes = [str(c) for c in manifest.get("classes", [])]
    rank = alignment.get("rank")
    heading = f"harbridge bundle: rank {rank} alignment, {len(classes)} classes"
    # Inconsistent inputs are refused before anything is drawn.
    latents = _paired_latents(report_data)
    scored = None if evaluation is None else _scored_classes(evaluation, classes)
    body = [
        f"<h1>{_esc(heading)}</h1>",
        f'<p class="classes">{_esc(", ".join(classes))}</p>',
        "<h2>Summary</h2>",
        _summary_table(manifest),
        "<h2>Alignment notes</h2>",
        _notes(alignment.get("diagnostics", [])),
        *_spectrum_section(alignment),
        *_latent_section(latents),
    ]
    if evaluation is not None and scored is not None:
        body += _evaluation_section(evaluation, *scored)
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        f"<title>{_esc(heading)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
    return page.encode("utf-8")


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _number(value: Any, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits; ``n/a`` when absent or not finite."""
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    return f"{float(value):.{digits}g}"


# --- summary ---------------------------------------------------------------------------


def _summary_table(manifest: dict[str, Any]) -> str:
    """The summary rows as an HTML table; every cell is escaped here."""
    cells = []
    for label, value, detail in _summary_rows(manifest):
        extra = f'<div class="detail">{_esc(detail)}</div>' if detail else ""
        cells.append(f"<tr><th>{_esc(label)}</th><td>{_esc(value)}{extra}</td></tr>")
    return "<table>\n" + "\n".join(cells) + "\n</table>"


def _summary_rows(manifest: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, value, detail) rows of the summary, only for what the manifest holds."""
    alignment: dict[str, Any] = manifest.get("alignment", {})
    choice: dict[str, Any] = alignment.get("rank_choice", {})
    classes = [str(c) for c in manifest.get("classes", [])]
    rows = [(f"Classes ({len(classes)})", ", ".join(classes), "")]
    if "imu" in manifest:
        rows.append(("IMU input", _imu_description(manifest["imu"]), ""))
    if "feature_dim" in manifest.get("video", {}):
        rows.append(("Video features", f"{manifest['video']['feature_dim']} per sample", ""))
    if "rank" in alignment:
        method = choice.get("method")
        rows.append(
            (
                "Rank",
                f"{alignment['rank']}" + (f" (chosen by: {method})" if method else ""),
                str(choice.get("reason", "")),
            )
        )
    held_out = "held-out " + _number(alignment.get("rel_cmae_holdout"))
    rows.append(
        (
            "rel_CMAE",
            f"train {_number(alignment.get('rel_cmae_train'))}, {held_out}",
            "‖Z_video − Z_imu‖_F / mean(‖Z_video‖_F, ‖Z_imu‖_F); 0 is perfect alignment",
        )
    )
    rows.append(
        (
            "CMAE",
            f"train {_number(alignment.get('cmae_train'), 4)}, "
            f"held-out {_number(alignment.get('cmae_holdout'), 4)}",
            "‖Z_video − Z_imu‖_F, unnormalised, as the paper reports it",
        )
    )
    if "n_train" in alignment:
        rows.append(
            (
                "Pairs",
                f"{alignment['n_train']} training, {alignment.get('n_holdout', 0)} held out",
                _holdout_description(alignment.get("holdout", {})),
            )
        )
    if "method" in alignment:
        rows.append(("Solver", f"{alignment['method']}, ridge {alignment.get('ridge', 0)}", ""))
    rows += _head_rows(manifest.get("head", {}))
    for label, key in (("Graphs", "graphs"), ("Versions", "versions")):
        entries: dict[str, Any] = manifest.get(key, {})
        if entries:
            rows.append((label, ", ".join(f"{k}: {v}" for k, v in entries.items()), ""))
    return rows


def _imu_description(imu: dict[str, Any]) -> str:
    """The IMU input in words: raw windows (channels, rate, window, hop) or features."""
    dim = imu.get("feature_dim")
    if imu.get("input") != "imu":
        return "precomputed IMU features" + (f", {dim} per window" if dim is not None else "")
    channels = [str(c) for c in imu.get("channels", [])]
    units = [str(u) for u in imu.get("units", [])]
    named = (
        [f"{c} [{u}]" for c, u in zip(channels, units, strict=True)]
        if len(units) == len(channels)
        else channels
    )
    parts = [f"raw windows of {len(channels)} channels ({', '.join(named)})"]
    rate = imu.get("sample_rate_hz")
    if rate is not None:
        parts.append(f"at {_number(rate, 6)} Hz")
    window = imu.get("window")
    if window is not None:
        seconds = f" ({_number(window / rate, 4)} s)" if rate else ""
        parts.append(f"window {window} samples{seconds}")
    if imu.get("hop") is not None:
        parts.append(f"hop {imu['hop']} samples")
    if imu.get("encoder") is not None:
        parts.append(
            f"encoder {imu['encoder']}" + (f" → {dim} features" if dim is not None else "")
        )
    return ", ".join(parts)


def _holdout_description(holdout: dict[str, Any]) -> str:
    by = holdout.get("by")
    if by == "subject":
        return "held out by subject: " + ", ".join(str(s) for s in holdout.get("subjects", []))
    if by == "pair":
        fraction, seed = holdout.get("fraction"), holdout.get("seed")
        return f"held out pair by pair (fraction {fraction}, seed {seed})"
    if by == "none":
        return "no pairs held out, so held-out errors are not measured"
    return ""


def _head_rows(head: dict[str, Any]) -> list[tuple[str, str, str]]:
    kind = head.get("kind")
    if kind is None:
        return []
    if kind == "gaussian":
        labeled = head.get("n_labeled")
        text = f"Gaussian class models on video latents ({head.get('covariance', '?')} covariance)"
        detail = f"fitted on {labeled} labelled video samples" if labeled is not None else ""
    elif kind == "video_head":
        text = "the user's video head, fed IMU features carried into video feature space"
        detail = str(head.get("source", ""))
    else:
        text, detail = str(kind), ""
    rows = [("Head", text, detail)]
    if "ood_threshold" in head:
        rows.append(
            ("OOD threshold", _number(head["ood_threshold"], 4), str(head.get("ood_rule", "")))
        )
    return rows


def _notes(diagnostics: Sequence[str]) -> str:
    if not diagnostics:
        return "<p>None: the conditions for perfect alignment hold on the training pairs.</p>"
    items = "\n".join(f"<li>{_esc(note)}</li>" for note in diagnostics)
    return (
        "<p>Why paired samples do not land exactly on the same latent:</p>\n<ul>\n"
        + items
        + "\n</ul>"
    )


# --- figures ---------------------------------------------------------------------------


def _new_figure(width: float, height: float, constrained: bool = False) -> Figure:
    """A figure on its own Agg canvas: no pyplot, no display, no global backend switch.

    The calibration figures place their panels at fixed positions (their labels are
    numbers and fixed words): constrained layout measures every text before drawing, which
    took half of the report's time. Only figures labelled with user text (class names)
    use it.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained" if constrained else None)
    FigureCanvasAgg(figure)
    return figure


def _figure_html(figure: Figure, alt: str, caption: str) -> str:
    """``figure`` as an ``<img>`` with a PNG data URI, and its caption."""
    buffer = io.BytesIO()
    # No "Software" entry: the same inputs give byte-identical PNGs across matplotlib builds.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(alt)}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _spectrum_section(alignment: dict[str, Any]) -> list[str]:
    singular = np.asarray(alignment.get("singular_values", []), dtype=np.float64)
    if singular.size == 0:
        return []
    choice: dict[str, Any] = alignment.get("rank_choice", {})
    candidates = list(choice.get("candidates", []))
    errors = list(choice.get("validation_error", []))
    if len(errors) != len(candidates):
        raise ValueError(
            f"rank_choice has {len(errors)} validation errors for {len(candidates)} candidate ranks"
        )
    agreement = choice.get("transfer_agreement")
    rank = alignment.get("rank")
    figure = _new_figure(12 if errors else 7, 4)
    margins = SPECTRUM_ALONE_MARGINS
    if errors:
        margins = SPECTRUM_MARGINS if agreement is None else SPECTRUM_TWIN_MARGINS
    axes = figure.subplots(1, 2 if errors else 1, squeeze=False, gridspec_kw=margins)[0]
    _plot_spectrum(axes[0], singular, rank)
    if errors:
        # null where the solver did not try a candidate: a gap in the curve
        error_curve = np.array([np.nan if e is None else e for e in errors], dtype=float)
        _plot_validation(axes[1], np.asarray(candidates), error_curve, rank)
        if agreement is not None:
            _plot_agreement(axes[1], np.asarray(candidates), np.asarray(agreement, dtype=float))
    caption = (
        "Singular values of the stacked, standardised video and IMU features of the training "
        "pairs (log scale). The dashed line marks the chosen rank; a sharp drop right after it "
        "means the paired data are exactly that rank."
    )
    if errors:
        caption += (
            " Right: cross-modal reconstruction error on validation pairs per candidate rank."
        )
    if errors and agreement is not None:
        caption += (
            " Orange, right axis: the share of held-out pairs whose IMU side the head "
            "classifies as a video classifier classifies their video side; its maximum chose "
            "the rank (transfer_agreement)."
        )
    return ["<h2>Alignment spectrum</h2>", _figure_html(figure, "singular value spectrum", caption)]


def _plot_spectrum(ax: Axes, singular: FloatArray, rank: int | None) -> None:
    index = np.arange(1, singular.size + 1)
    # A log axis cannot show exact zeros; they are left out rather than clipped to a fake value.
    shown = singular > 0
    kept = shown & (index <= (rank if rank is not None else singular.size))
    ax.semilogy(index[shown], singular[shown], color="0.6", lw=1)
    ax.semilogy(index[kept], singular[kept], "o", color="C0", ms=4, label="kept")
    ax.semilogy(
        index[shown & ~kept],
        singular[shown & ~kept],
        "o",
        mfc="none",
        color="0.5",
        ms=4,
        label="dropped",
    )
    if rank is not None:
        ax.axvline(rank, color="C3", ls="--", label=f"rank {rank}")
    ax.set(xlabel="index", ylabel="singular value")
    ax.set_title("Singular value spectrum", y=TITLE_Y)
    ax.legend(loc="upper right")
    ax.grid(True, which="major", alpha=0.3)


def _plot_validation(
    ax: Axes, candidates: FloatArray, errors: FloatArray, rank: int | None
) -> None:
    ax.plot(candidates, errors, "o-", color="C0", ms=3)
    positive = errors[np.isfinite(errors) & (errors > 0)]
    if positive.size and positive.max() > 100 * positive.min():
        # A near-singular solve at a high candidate rank would flatten the rest of the curve.
        ax.set_yscale("log")
    if rank is not None:
        ax.axvline(rank, color="C3", ls="--", label=f"rank {rank}")
        ax.legend(loc="upper right")
    ax.set(xlabel="candidate rank", ylabel="validation error")
    ax.set_title("Rank selection", y=TITLE_Y)
    ax.grid(True, alpha=0.3)


def _plot_agreement(ax: Axes, candidates: FloatArray, agreement: FloatArray) -> None:
    twin = ax.twinx()
    twin.plot(candidates, agreement, "s-", color="C1", ms=3)
    twin.set_ylabel("agreement with video", color="C1")
    twin.tick_params(axis="y", colors="C1")


def _paired_latents(report_data: dict[str, Any]) -> tuple[FloatArray, FloatArray] | None:
    """The (n, k) video and IMU latents of the report data, or None when it holds none."""
    paired = report_data.get("paired_latents")
    if not paired or not paired.get("video"):
        return None
    video = np.asarray(paired["video"], dtype=np.float64)
    imu = np.asarray(paired.get("imu", []), dtype=np.float64)
    if video.ndim != 2 or video.shape != imu.shape:
        raise ValueError(
            "paired latents must be two (n, k) arrays of one shape, "
            f"got {video.shape} and {imu.shape}"
        )
    return video, imu


def _latent_section(latents: tuple[FloatArray, FloatArray] | None) -> list[str]:
    if latents is None:
        return [
            "<h2>Video and IMU latents of the same pairs</h2>",
            "<p>The report data hold no paired latents.</p>",
        ]
    video, imu = latents
    figure = _new_figure(15, 5)
    axes = [figure.add_axes(panel) for panel in LATENT_PANELS]
    limits = _shared_limits(_plane(video), _plane(imu))
    for ax, latent, name in zip(axes[:2], (video, imu), ("video", "IMU"), strict=True):
        points = _plot_plane(ax, latent, limits)
        ax.set_title(f"{name} latents of the pairs", y=TITLE_Y)
    figure.colorbar(points, cax=figure.add_axes(LATENT_COLORBAR), label="pair index")
    _plot_identity(axes[2], video, imu)
    caption = (
        f"{video.shape[0]} training pairs seen through the video encoder (left) and the IMU "
        "encoder (middle), on the same axes; the colour is the pair index and the numbered "
        "pairs are the same in both panels. Right: each latent coordinate of a pair, video "
        "against IMU; perfect alignment puts every point on the dashed diagonal."
    )
    return [
        "<h2>Video and IMU latents of the same pairs</h2>",
        _figure_html(figure, "video and IMU latents side by side", caption),
    ]


def _plane(latent: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Coordinates to draw: latent dims 1 and 2, or dim 1 against the pair index at rank 1."""
    if latent.shape[1] == 1:
        return np.arange(latent.shape[0], dtype=np.float64), latent[:, 0]
    return latent[:, 0], latent[:, 1]


def _shared_limits(
    *planes: tuple[FloatArray, FloatArray],
) -> tuple[tuple[float, float], tuple[float, float]]:
    """x and y limits holding every plane, with a 5% margin."""
    limits = []
    for axis in (0, 1):
        values = np.concatenate([plane[axis] for plane in planes])
        low, high = float(values.min()), float(values.max())
        margin = 0.05 * (high - low) or 1.0
        limits.append((low - margin, high + margin))
    return limits[0], limits[1]


def _plot_plane(
    ax: Axes, latent: FloatArray, limits: tuple[tuple[float, float], tuple[float, float]]
) -> Any:
    """Scatter of one modality's latents coloured by pair index; returns the colour mappable."""
    x, y = _plane(latent)
    n = x.size
    from matplotlib.colors import Normalize

    norm = Normalize(0, max(n - 1, 1))
    points = ax.scatter(x, y, c=np.arange(n), cmap="viridis", norm=norm, s=8, alpha=0.8)
    marked = np.unique(np.linspace(0, n - 1, num=min(HIGHLIGHTED_PAIRS, n)).astype(int))
    ax.scatter(x[marked], y[marked], c=marked, cmap="viridis", norm=norm, s=80, edgecolors="black")
    label_box = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8}
    for i in marked:
        ax.annotate(
            str(i),
            (x[i], y[i]),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=9,
            bbox=label_box,
        )
    rank_one = latent.shape[1] == 1
    ax.set(
        xlim=limits[0],
        ylim=limits[1],
        box_aspect=1,
        xlabel="pair index" if rank_one else "latent dim 1",
        ylabel="latent dim 1" if rank_one else "latent dim 2",
    )
    ax.grid(True, alpha=0.3)
    return points


def _plot_identity(ax: Axes, video: FloatArray, imu: FloatArray) -> None:
    dims = min(IDENTITY_DIMS, video.shape[1])
    for d in range(dims):
        ax.scatter(video[:, d], imu[:, d], s=8, alpha=0.6, label=f"dim {d + 1}")
    values = np.concatenate([video[:, :dims].ravel(), imu[:, :dims].ravel()])
    low, high = float(values.min()), float(values.max())
    margin = 0.05 * (high - low) or 1.0
    span = (low - margin, high + margin)
    ax.plot(span, span, "k--", lw=1, label="identity")
    ax.set(xlim=span, ylim=span, box_aspect=1, xlabel="video latent", ylabel="IMU latent")
    ax.set_title("video vs IMU, per latent dimension", y=TITLE_Y)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(True, alpha=0.3)


def _scored_classes(
    evaluation: dict[str, Any], manifest_classes: list[str]
) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The evaluated classes and their (K, K) confusion counts, checked against each other."""
    classes = [str(c) for c in evaluation.get("classes", manifest_classes)]
    counts = np.asarray(evaluation["confusion_matrix"], dtype=np.int64)
    if counts.shape != (len(classes), len(classes)):
        raise ValueError(
            f"evaluation confusion_matrix has shape {counts.shape}; {len(classes)} classes "
            f"need ({len(classes)}, {len(classes)})"
        )
    return classes, counts


def _evaluation_section(
    evaluation: dict[str, Any], classes: list[str], counts: npt.NDArray[np.int64]
) -> list[str]:
    per_class: dict[str, Any] = evaluation.get("per_class_accuracy", {})
    accuracy = np.array(
        [np.nan if per_class.get(c) is None else float(per_class[c]) for c in classes]
    )
    k = len(classes)
    figure = _new_figure(13, max(5.0, 0.3 * k + 2.5), constrained=True)
    confusion_ax, bars_ax = figure.subplots(1, 2, width_ratios=(1.3, 1))
    image = _plot_confusion(confusion_ax, counts, classes)
    figure.colorbar(image, ax=confusion_ax, shrink=0.8, label="share of true class")
    _plot_class_accuracy(bars_ax, accuracy, classes, evaluation.get("accuracy"))
    summary = (
        f"accuracy {_number(evaluation.get('accuracy'))}, "
        f"macro-F1 {_number(evaluation.get('macro_f1'))}"
        f" on {evaluation.get('n', int(counts.sum()))} IMU windows"
    )
    dataset = evaluation.get("dataset")
    caption = (
        "Left: confusion matrix, each row (true class) normalised to 1"
        + (", cells show counts" if k <= ANNOTATED_CLASSES else "")
        + ". Right: share of each class's windows recognised correctly."
    )
    return [
        "<h2>Evaluation on IMU data</h2>",
        f'<p class="metrics">{_esc(summary)}</p>',
        *([f'<p class="detail">test data: {_esc(dataset)}</p>'] if dataset else []),
        _figure_html(figure, "confusion matrix and per-class accuracy", caption),
    ]


def _plot_confusion(ax: Axes, counts: npt.NDArray[np.int64], classes: list[str]) -> Any:
    """Row-normalised heat map of ``counts`` (K, K); returns the image for its colour bar."""
    totals = counts.sum(axis=1, keepdims=True)
    # A class absent from the test data has an all-zero row, shown as zeros rather than NaN.
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    # "auto" lets the map fill its panel; the figure height grows with K to keep cells squarish.
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    k = len(classes)
    if k <= ANNOTATED_CLASSES:
        for (i, j), count in np.ndenumerate(counts):
            colour = "white" if shares[i, j] > 0.6 else "black"
            ax.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                color=colour,
                fontsize=8 if k > 8 else 10,
            )
    fontsize = 10 if k <= ANNOTATED_CLASSES else 8
    ax.set_xticks(range(k), classes, rotation=45, ha="right", fontsize=fontsize)
    ax.set_yticks(range(k), classes, fontsize=fontsize)
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix (row-normalised)")
    return image


def _plot_class_accuracy(ax: Axes, accuracy: FloatArray, classes: list[str], overall: Any) -> None:
    rows = np.arange(len(classes))
    ax.barh(rows, np.nan_to_num(accuracy), color="C0")
    for row, value in enumerate(accuracy):
        x = min(float(np.nan_to_num(value)), 1.0) + 0.01
        label = "n/a" if np.isnan(value) else f"{value:.2f}"
        ax.text(x, row, label, va="center", fontsize=8)
    title = "Per-class accuracy"
    if overall is not None:
        ax.axvline(float(overall), color="C3", ls="--")
        title += f" (dashed: overall {_number(overall)})"
    ax.set_yticks(rows, classes, fontsize=10 if len(classes) <= ANNOTATED_CLASSES else 8)
    ax.set(
        xlim=(0.0, 1.1),
        ylim=(len(classes) - 0.5, -0.5),
        xlabel="accuracy",
        title=title,
    )
    ax.grid(True, axis="x", alpha=0.3)
