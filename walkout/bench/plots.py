"""Pictures for the benchmark report, written as PNGs next to ``report.md`` (which links them).

- ``f1_by_recording.png``: event F1 per recording and overall, product level and attributed to the
  right shopper (plus per-shopper cart F1 from receipts.json where fusion ran);
- ``errors_timeline.png``: every missed, extra, misattributed and wrong-quantity event of each
  recording on its video's time axis (seconds from the camera start, as in the confusion table);
- ``speed_stages.png``: milliseconds per frame spent in each pipeline stage, per recording and
  overall, next to the baselines and the real-time budget (one frame interval);
- ``review_calibration.png``: the review curve (accuracy of the receipt lines left out of review
  against the share sent to review, per threshold, and fusion's own review status) and the
  reliability diagram of the attribution probability (:mod:`walkout.bench.calibration`).

Figures use matplotlib's object API (``Figure``, no pyplot): no global state, no display needed.
A plot with nothing to show (no events scored, no timings, no line with a probability) is not written.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from walkout.bench.report import BenchReport

log = logging.getLogger(__name__)

PLOT_FILES = {"f1": "f1_by_recording.png", "errors": "errors_timeline.png", "speed": "speed_stages.png",
              "calibration": "review_calibration.png"}
ERROR_STYLES = {  # kind -> (marker, colour, legend text)
    "missed": ("x", "tab:red", "missed (truth not predicted)"),
    "extra": ("o", "tab:orange", "extra (no truth event)"),
    "misattributed": ("s", "tab:purple", "wrong shopper"),
    "quantity": ("D", "tab:blue", "wrong quantity"),
}
STAGE_COLORS = {"decode": "tab:gray", "detect": "tab:blue", "track": "tab:green", "events": "tab:orange"}
DPI = 110


def _save(fig: Figure, path: Path) -> Path:
    """Save a figure as PNG under a temporary name beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    os.close(handle)
    try:
        fig.savefig(tmp, dpi=DPI)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def f1_figure(report: BenchReport) -> Figure | None:
    """Grouped horizontal bars: per recording (and 'all'), product F1, attributed F1, fused cart F1."""
    from matplotlib.figure import Figure

    rows = [(r.name, r.events, r.receipts) for r in report.scored if r.events is not None]
    if not rows:
        return None
    rows.append(("all", report.events, report.receipts))
    series = [
        ("events: product F1", "tab:blue", lambda e, c: e.product.f1),
        ("events: attributed F1", "tab:green", lambda e, c: e.attributed.f1),
        ("receipts: cart F1", "tab:purple", lambda e, c: None if c is None else c.units.f1),
    ]
    if all(c is None for _, _, c in rows):
        series = series[:2]
    height = 0.8 / len(series)
    fig = Figure(figsize=(8, 1.0 + 0.55 * len(rows) * len(series) / 2 + 0.6), layout="constrained")
    ax = fig.add_subplot()
    for k, (label, color, value) in enumerate(series):
        for i, (_, events, carts) in enumerate(rows):
            v = value(events, carts)
            if v is None:
                continue
            y = i + (k - (len(series) - 1) / 2) * height
            ax.barh(y, v, height=height * 0.92, color=color, label=label if i == 0 else None, gid="f1_bar")
            ax.text(v + 0.01, y, f"{v:.2f}", va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), [name for name, _, _ in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("F1")
    ax.axhline(len(rows) - 1.5, color="0.6", linewidth=0.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title("F1 per recording (all: from summed counts)")
    return fig


def errors_figure(report: BenchReport) -> Figure | None:
    """One row per scored recording: its event errors on the video time axis ('no errors' when clean)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    rows = [r for r in report.scored if r.events is not None]
    if not rows:
        return None
    fig = Figure(figsize=(10, 1.2 + 0.45 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    end = 0.0
    for i, r in enumerate(rows):
        if r.speed.measured:
            end = max(end, r.speed.total.video_s)
        errors = [c for c in r.confusion if c.get("video_s") is not None]
        if not errors:
            ax.text(0.0, i, "  no errors", va="center", fontsize=8, color="tab:green")
        for c in errors:
            marker, color, _ = ERROR_STYLES.get(c["kind"], ("*", "black", c["kind"]))
            ax.plot([c["video_s"]], [i], marker=marker, color=color, linestyle="none", markersize=8,
                    markerfacecolor="none" if marker == "o" else color, gid="error")
            ax.annotate(f"{c['action']} {c['sku']}", (c["video_s"], i), xytext=(3, 5), textcoords="offset points",
                        fontsize=6, rotation=20)
            end = max(end, float(c["video_s"]))
    ax.set_yticks(range(len(rows)), [r.name for r in rows])
    ax.invert_yaxis()
    ax.set_ylim(len(rows) - 0.4, -0.8)
    ax.set_xlim(0, max(end * 1.08 + 0.5, 1.0))
    ax.set_xlabel("time in the video (s from the camera start)")
    ax.grid(axis="x", color="0.9", linewidth=0.5)
    handles = [Line2D([], [], marker=m, color=c, linestyle="none", markerfacecolor="none" if m == "o" else c, label=t)
               for m, c, t in ERROR_STYLES.values()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title(f"event errors (tolerance {report.config.tolerance_s:g} s)")
    return fig


def speed_figure(report: BenchReport) -> Figure | None:
    """Stacked horizontal bars of milliseconds per frame per stage: per recording, all, and baselines."""
    from matplotlib.figure import Figure

    speed = report.speed
    if not speed.measured:
        return None
    rows = [(r.name, r.speed.total) for r in report.scored if r.speed.measured]
    rows.append(("all", speed.total))
    stages = list(dict.fromkeys([s for s in STAGE_COLORS if s in speed.total.stages_s] + list(speed.total.stages_s)))
    baselines = sorted(speed.baselines.items())
    fig = Figure(figsize=(9, 1.3 + 0.4 * (len(rows) + len(baselines))), layout="constrained")
    ax = fig.add_subplot()
    labels = []
    for i, (name, timing) in enumerate(rows):
        left = 0.0
        for stage in stages:
            ms = 1000.0 * timing.stages_s.get(stage, 0.0) / max(timing.frames, 1)
            ax.barh(i, ms, left=left, color=STAGE_COLORS.get(stage), label=stage if i == 0 else None,
                    gid="stage_bar")
            left += ms
        total_ms = 1000.0 * timing.total_s / max(timing.frames, 1)
        ax.text(max(left, total_ms), i, f" {total_ms:.0f} ms ({timing.fps or 0:.0f} fps)", va="center", fontsize=7)
        labels.append(name)
    for j, (name, timing) in enumerate(baselines):
        y = len(rows) + j
        ms = 1000.0 * timing.total_s / max(timing.frames, 1)
        ax.barh(y, ms, color="0.75", hatch="//", edgecolor="0.4", gid="baseline_bar",
                label="baseline (whole loop)" if j == 0 else None)
        ax.text(ms, y, f" {ms:.0f} ms ({timing.fps or 0:.0f} fps)", va="center", fontsize=7)
        labels.append(f"baseline: {name}")
    total = speed.total
    if total.frames and total.video_s > 0:
        budget = 1000.0 * total.video_s / total.frames
        ax.axvline(budget, color="tab:red", linestyle="--", linewidth=1, label=f"real time ({budget:.0f} ms/frame)")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds per frame")
    ax.set_xlim(0, ax.get_xlim()[1] * 1.15)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title("time per frame by stage")
    return fig


def calibration_figure(report: BenchReport) -> Figure | None:
    """Left: review curve (unreviewed accuracy vs review rate, a point per threshold, fusion's own
    review status starred). Right: reliability diagram (observed accuracy per probability bin)."""
    from matplotlib.figure import Figure

    calibration = report.calibration
    if calibration is None:
        return None
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    curve_ax, bins_ax = fig.subplots(1, 2)
    rates = [p.review_rate for p in calibration.curve]
    accuracies = [p.unreviewed_accuracy for p in calibration.curve]
    curve_ax.plot(rates, accuracies, marker="o", color="tab:blue", label="review below a threshold", gid="review_curve")
    labels: dict[tuple[float, float], list[str]] = {}  # thresholds that give the same point share a label
    for point in calibration.curve:
        if not math.isnan(point.unreviewed_accuracy):  # NaN: every line in review, nothing left to be right
            labels.setdefault((point.review_rate, point.unreviewed_accuracy), []).append(f"{point.threshold:g}")
    for xy, names in labels.items():
        curve_ax.annotate(", ".join(names), xy, xytext=(4, -10), textcoords="offset points", fontsize=7)
    curve_ax.plot([calibration.review_rate], [calibration.unreviewed_accuracy], marker="*", markersize=12,
                  color="tab:red", linestyle="none", label="fusion's review status", gid="review_actual")
    curve_ax.set_xlim(-0.02, 1.02)
    curve_ax.set_xlabel("review rate (share of lines sent to review)")
    curve_ax.set_ylabel("accuracy of the other lines")
    curve_ax.legend(loc="lower right", fontsize=8)
    curve_ax.set_title(f"review curve ({calibration.lines} lines)")
    filled = [b for b in calibration.bins if b.lines]
    bins_ax.bar([b.low for b in filled], [b.accuracy for b in filled], width=[b.high - b.low for b in filled],
                align="edge", color="tab:green", edgecolor="white", label="observed accuracy", gid="reliability_bar")
    bins_ax.plot([b.confidence for b in filled], [b.accuracy for b in filled], marker=".", color="black",
                 linestyle="none", label="at mean probability")
    for b in filled:
        bins_ax.text((b.low + b.high) / 2, b.accuracy + 0.01, f"n={b.lines}", ha="center", va="bottom", fontsize=6)
    bins_ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=1, label="perfectly calibrated")
    bins_ax.set_xlim(0, 1)
    bins_ax.set_ylim(0, 1.06)
    bins_ax.set_xlabel("attribution probability")
    bins_ax.set_ylabel("share of lines with the right shopper")
    bins_ax.legend(loc="upper left", fontsize=8)
    bins_ax.set_title(f"reliability (ECE {calibration.ece:.3f})")
    return fig


def write_plots(report: BenchReport, out_dir: str | Path) -> dict[str, Path]:
    """Write the report's PNGs into ``out_dir``; returns {key: path} of those written (see PLOT_FILES)."""
    out_dir = Path(out_dir)
    written = {}
    for key, make in (("f1", f1_figure), ("errors", errors_figure), ("speed", speed_figure),
                      ("calibration", calibration_figure)):
        fig = make(report)
        if fig is None:
            log.debug("no %s plot: nothing to show", key)
            continue
        written[key] = _save(fig, out_dir / PLOT_FILES[key])
    return written
