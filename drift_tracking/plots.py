"""Figures a person looks at: where the window's prompts sit, which clusters moved, and
how the drift metrics evolve over windows.

matplotlib is imported inside the functions, so importing this module (and the package)
stays cheap. Figures are built as plain :class:`matplotlib.figure.Figure` objects with an
Agg canvas: they never open a window and pyplot does not keep them alive. Colours come
from the Okabe-Ito palette, which reads for colour-blind people too.
"""

from __future__ import annotations

import io
import math
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from drift_tracking import metrics as registry

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from drift_tracking.report import DriftReport

# Okabe-Ito.
BLUE = "#0072B2"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"
GREEN = "#009E73"
PURPLE = "#CC79A7"
GREY = "#999999"
LIGHT_GREY = "#C8C8C8"

TIER_COLOURS = {"ok": GREEN, "review": ORANGE, "critical": VERMILLION}
THRESHOLD_COLOURS = {"review": ORANGE, "critical": VERMILLION}

DEFAULT_DPI = 110


def _is_share(metric: str) -> bool:
    spec = registry.get(metric)
    return spec is not None and spec.share


def _title(metric: str) -> str:
    spec = registry.get(metric)
    return spec.title if spec else metric.replace("_", " ")


# --------------------------------------------------------------------------- helpers


MAX_LABELLED_CLUSTERS = 5


def _figure(**kwargs: Any) -> "Figure":
    """A new Agg-backed figure that pyplot does not track."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        # Nobody chose an interactive backend: make sure nothing ever tries to open a window.
        matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    kwargs.setdefault("layout", "constrained")
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _close(fig: "Figure") -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)  # a no-op for figures pyplot does not manage
    fig.clear()


def save_png(fig: "Figure", path: str | Path, dpi: int = DEFAULT_DPI) -> Path:
    """Write ``fig`` as a PNG at ``path`` (parents are created) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=dpi, format="png", facecolor="white")
    finally:
        _close(fig)
    return path


def png_bytes(fig: "Figure", dpi: int = DEFAULT_DPI, close: bool = True) -> bytes:
    """``fig`` as PNG bytes (for embedding in HTML); closes it unless ``close=False``."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, dpi=dpi, format="png", facecolor="white")
    finally:
        if close:
            _close(fig)
    return buf.getvalue()


def _num(value: Any) -> float:
    """A float, NaN for missing or non-numeric values."""
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _finite(value: Any) -> bool:
    return math.isfinite(_num(value))


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """Read ``name`` from a report object or a report dict."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _novel_share(report: Any) -> float:
    share = _num((_get(report, "metrics") or {}).get("novel_cluster_share"))
    if math.isfinite(share):
        return share
    clusters = _get(report, "novel_clusters") or []
    shares = [_num(c.get("share")) for c in clusters]
    shares = [s for s in shares if math.isfinite(s)]
    return float(sum(shares)) if shares else 0.0


def _window_name(report: Any) -> str:
    window = _get(report, "window") or {}
    index = window.get("index")
    return f"window {index}" if index is not None else "window"


def _threshold(thresholds: Mapping[str, Any], metric: str, level: str) -> float:
    """The ``level`` ("review"/"critical") threshold of ``metric`` in a report's thresholds, NaN if none."""
    values = (thresholds.get("values") or {}).get(metric) or {}
    return _num(values.get(level)) if isinstance(values, Mapping) else math.nan


def _shift_rows(report: Any) -> list[Mapping[str, Any]]:
    """The report's per-cluster rows, largest change in share first (rows without one last)."""
    rows = [r for r in (_get(report, "cluster_shift") or []) if isinstance(r, Mapping)]
    return sorted(rows, key=lambda r: -abs(_num(r.get("change")) if _finite(r.get("change")) else 0.0))


def _count(n: int, noun: str) -> str:
    """``"1 window"``, ``"3 windows"``."""
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _tier_title(fig: "Figure", text: str, tier: str) -> None:
    colour = TIER_COLOURS.get(tier, "black")
    fig.suptitle(f"{text}  [tier: {tier.upper()}]", fontsize=12, fontweight="bold", color=colour)


def cluster_label(row: Mapping[str, Any], width: int = 42) -> str:
    """``"cluster 3: refund order days"`` (just ``"cluster 3"`` without a label)."""
    name = f"cluster {row.get('cluster', '?')}"
    label = row.get("label")
    if isinstance(label, (list, tuple)):
        label = " ".join(str(w) for w in label)
    label = str(label).strip() if label is not None else ""
    if label:
        name = f"{name}: {label}"
    if len(name) > width:
        name = name[: width - 1].rstrip() + "\u2026"
    return name


# --------------------------------------------------------------------------- scatter


def _novel_centres(report: "DriftReport") -> list[tuple[dict[str, Any], np.ndarray]]:
    """Where each novel cluster sits in the projection: ``[(cluster, (x, y)), ...]``.

    A cluster's centre is the mean of the plotted points the novel-cluster statistic put
    in it (``projection.window_novel_cluster`` holds each point's cluster id). A cluster
    none of whose points is plotted (the projection shows a sample of the window) gets none.
    """
    proj = report.projection
    clusters = [c for c in report.novel_clusters if isinstance(c, Mapping)]
    if proj is None or not clusters:
        return []
    xy = np.asarray(proj.window_xy, dtype=float).reshape(-1, 2)
    ids = np.asarray(proj.window_novel_cluster).reshape(-1)
    if ids.shape[0] != xy.shape[0]:
        return []
    out: list[tuple[dict[str, Any], np.ndarray]] = []
    for cluster in clusters:
        cid = _num(cluster.get("id"))
        members = ids == cid if math.isfinite(cid) else np.zeros(len(ids), dtype=bool)
        if members.any():
            out.append((cluster, xy[members].mean(0)))
    return out


def cluster_scatter(report: "DriftReport") -> "Figure":
    """The 2-D (PCA) projection: baseline in grey, window in blue, novel-cluster points in vermillion."""
    proj = report.projection
    if proj is None:
        raise ValueError(
            "cluster_scatter needs report.projection (2-D points), but this report has none; "
            "reports rebuilt from JSON (DriftReport.from_dict) do not carry it"
        )
    b_xy = np.asarray(proj.baseline_xy, dtype=float).reshape(-1, 2)
    w_xy = np.asarray(proj.window_xy, dtype=float).reshape(-1, 2)
    novel = np.asarray(proj.window_novel, dtype=bool).reshape(-1)
    if novel.shape[0] != w_xy.shape[0]:
        novel = np.zeros(w_xy.shape[0], dtype=bool)

    fig = _figure(figsize=(8.5, 7.0))
    ax = fig.add_subplot()
    ax.scatter(b_xy[:, 0], b_xy[:, 1], s=10, c=LIGHT_GREY, alpha=0.6, linewidths=0,
               label=f"baseline (n={len(b_xy)} shown)", zorder=1)
    normal = ~novel
    ax.scatter(w_xy[normal, 0], w_xy[normal, 1], s=14, c=BLUE, alpha=0.65, linewidths=0,
               label=f"window, known clusters (n={int(normal.sum())})", zorder=2)
    if novel.any():
        ax.scatter(w_xy[novel, 0], w_xy[novel, 1], s=30, c=VERMILLION, marker="^", alpha=0.9,
                   edgecolors="black", linewidths=0.3,
                   label=f"window, novel clusters (n={int(novel.sum())})", zorder=3)

    # Label boxes point toward the middle of the plot, so they stay inside the axes.
    all_xy = np.vstack([b_xy, w_xy]) if len(b_xy) + len(w_xy) else np.zeros((1, 2))
    mid = (all_xy.min(0) + all_xy.max(0)) / 2
    placed = sorted(_novel_centres(report), key=lambda item: -np.nan_to_num(_num(item[0].get("share"))))
    for cluster, centre in placed[:MAX_LABELLED_CLUSTERS]:  # more boxes than this hide the points
        dx = -1 if centre[0] > mid[0] else 1
        dy = -1 if centre[1] > mid[1] else 1
        share = _num(cluster.get("share"))
        text = f"novel #{cluster.get('id', '?')}"
        if math.isfinite(share):
            text += f"\n{share:.1%} of window"
        ax.annotate(
            text, xy=(float(centre[0]), float(centre[1])), xytext=(28 * dx, 22 * dy), textcoords="offset points",
            ha="left" if dx > 0 else "right", va="bottom" if dy > 0 else "top", fontsize=9, fontweight="bold", color=VERMILLION, zorder=5,
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": VERMILLION, "alpha": 0.9},
            arrowprops={"arrowstyle": "-", "color": VERMILLION, "lw": 1.0},
        )

    ax.set_xlabel("baseline PCA component 1")
    ax.set_ylabel("baseline PCA component 2")
    ax.grid(True, color="#EEEEEE", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    ax.legend(loc="best", fontsize=9, framealpha=0.9, markerscale=1.5)
    n_novel = len(report.novel_clusters or [])
    labelled = f" ({MAX_LABELLED_CLUSTERS} largest labelled)" if n_novel > MAX_LABELLED_CLUSTERS else ""
    ax.set_title(
        f"{_window_name(report)}: {_novel_share(report):.1%} of prompts in "
        f"{_count(n_novel, 'novel cluster')}{labelled}",
        fontsize=10,
    )
    _tier_title(fig, "Prompt embeddings: baseline vs production window", report.tier)
    return fig


# --------------------------------------------------------------------------- share bars


def cluster_share_bars(report: "DriftReport", top: int = 20) -> "Figure":
    """Baseline vs window share of the ``top`` clusters that moved most, plus the novel share."""
    from matplotlib.ticker import PercentFormatter

    rows = _shift_rows(report)[: max(int(top), 0)]
    labels = [cluster_label(r) for r in rows]
    base = [_num(r.get("baseline_share")) for r in rows]
    win = [_num(r.get("window_share")) for r in rows]
    colours_win = [BLUE] * len(rows)
    novel_share = _novel_share(report)
    if novel_share > 0:
        labels.insert(0, "novel (not in baseline)")
        base.insert(0, 0.0)
        win.insert(0, novel_share)
        colours_win.insert(0, VERMILLION)

    n = len(labels)
    fig = _figure(figsize=(9.5, max(3.2, 0.42 * n + 1.8)))
    ax = fig.add_subplot()
    if n == 0:
        ax.text(0.5, 0.5, "no per-cluster shares in this report", ha="center", va="center",
                transform=ax.transAxes, fontsize=11, color=GREY)
        ax.set_axis_off()
    else:
        y = np.arange(n)[::-1].astype(float)  # first row on top
        h = 0.38
        base_v = np.nan_to_num(np.array(base, dtype=float))
        win_v = np.nan_to_num(np.array(win, dtype=float))
        ax.barh(y + h / 2, base_v, height=h, color=GREY, label="baseline share")
        ax.barh(y - h / 2, win_v, height=h, color=colours_win, label="window share")
        right = max(float(np.max(base_v)), float(np.max(win_v)), 1e-6)
        for yi, b, w in zip(y, base_v, win_v):
            delta = (w - b) * 100
            ax.text(max(b, w) + right * 0.015, yi, f"{delta:+.1f} pp", va="center", fontsize=8,
                    color=VERMILLION if delta > 0 else BLUE)
        ax.set_xlim(0, right * 1.18)
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=9)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel("share of prompts")
        ax.grid(True, axis="x", color="#EEEEEE", linewidth=0.6)
        ax.set_axisbelow(True)
        from matplotlib.patches import Patch

        handles = [Patch(color=GREY, label="baseline share"), Patch(color=BLUE, label="window share")]
        if novel_share > 0:
            handles.append(Patch(color=VERMILLION, label="window share in novel clusters"))
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=9, frameon=False)
        ax.set_title(
            f"{_window_name(report)}: the {_count(len(rows), 'cluster')} whose share "
            f"changed most (label = change in percentage points)",
            fontsize=10,
        )
    _tier_title(fig, "Cluster shares: baseline vs window", report.tier)
    return fig


# --------------------------------------------------------------------------- time series


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _tick_labels(history: Sequence[Mapping[str, Any]]) -> list[str] | None:
    starts = [_parse_time((h.get("window") or {}).get("start")) for h in history]
    if not any(starts):
        return None
    known = [s for s in starts if s is not None]
    same_day_twice = len({s.date() for s in known}) < len(known)
    has_time = any((s.hour, s.minute) != (0, 0) for s in known)
    fmt = "%m-%d %H:%M" if (same_day_twice or has_time) else "%Y-%m-%d"
    return [s.strftime(fmt) if s is not None else "" for s in starts]


def _threshold_series(history: Sequence[Mapping[str, Any]], metric: str, level: str) -> np.ndarray:
    return np.array([_threshold(h.get("thresholds") or {}, metric, level) for h in history], dtype=float)


def _window_positions(hist: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """x of each window: its index when every window has a distinct integer one, else 0..n-1."""
    n = len(hist)
    indices = [(h.get("window") or {}).get("index") for h in hist]
    if n and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in indices) \
            and len(set(indices)) == n:
        return np.array(indices, dtype=float)
    return np.arange(n, dtype=float)


def _threshold_lines(ax: "Axes", x: np.ndarray, hist: Sequence[Mapping[str, Any]], metric: str) -> None:
    """Dashed review/critical levels: a flat line, or steps where recalibration moved them."""
    for level in ("review", "critical"):
        t = _threshold_series(hist, metric, level)
        if not np.isfinite(t).any():
            continue
        finite = t[np.isfinite(t)]
        if np.allclose(finite, finite[0]) and np.isfinite(t).all():
            ax.axhline(finite[0], color=THRESHOLD_COLOURS[level], linestyle="--", linewidth=1.2, zorder=1)
        else:  # thresholds changed (recalibration) or are missing for some windows
            ax.plot(x, t, color=THRESHOLD_COLOURS[level], linestyle="--", linewidth=1.2,
                    drawstyle="steps-mid", zorder=1)


def _metric_panel(ax: "Axes", x: np.ndarray, hist: Sequence[Mapping[str, Any]], metric: str) -> bool:
    """One metric over the windows, tier-coloured, with its levels; True when responses were plotted too."""
    n = len(hist)
    tiers = [str(h.get("tier", "")) for h in hist]
    y = np.array([_num((h.get("metrics") or {}).get(metric)) for h in hist], dtype=float)
    resp = np.array([_num((h.get("response_metrics") or {}).get(metric)) for h in hist], dtype=float)
    if n and np.isfinite(y).any():
        ax.plot(x, y, color=GREY, linewidth=1.2, zorder=2)
        ok = np.isfinite(y)
        ax.scatter(x[ok], y[ok], s=46, zorder=3, edgecolors="black", linewidths=0.5,
                   c=[TIER_COLOURS.get(t, GREY) for t, keep in zip(tiers, ok) if keep])
    else:
        ax.text(0.5, 0.5, "not measured", transform=ax.transAxes, ha="center", va="center",
                color=GREY, fontsize=10)
    has_responses = bool(np.isfinite(resp).any())
    if has_responses:
        ax.plot(x, resp, color=PURPLE, linewidth=1.0, linestyle=":", marker="D", markersize=4,
                zorder=2, label="responses")
    _threshold_lines(ax, x, hist, metric)
    ax.set_title(_title(metric) + f"  ({metric})", fontsize=10, loc="left")
    ax.set_ylabel(metric, fontsize=8)
    if _is_share(metric):
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(True, color="#EEEEEE", linewidth=0.6)
    ax.set_axisbelow(True)
    if n == 1:
        ax.set_xlim(x[0] - 1, x[0] + 1)
    return has_responses


def _window_ticks(ax: "Axes", x: np.ndarray, hist: Sequence[Mapping[str, Any]]) -> None:
    """At most about 12 ticks, labelled by window start when known, else by window index."""
    n = len(hist)
    if not n:
        return
    tick_labels = _tick_labels(hist)
    ticks = list(range(0, n, max(1, math.ceil(n / 12))))
    ax.set_xticks(x[ticks])
    if tick_labels is not None:
        ax.set_xticklabels([tick_labels[i] for i in ticks], rotation=30, ha="right", fontsize=8)
        ax.set_xlabel("window start")
    else:
        ax.set_xticklabels([str(int(v)) for v in x[ticks]], fontsize=8)
        ax.set_xlabel("window index")


def _timeseries_legend(fig: "Figure", with_responses: bool) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", linestyle="", markerfacecolor=TIER_COLOURS[t], markeredgecolor="black",
               markersize=8, label=f"tier {t}")
        for t in ("ok", "review", "critical")
    ]
    handles += [
        Line2D([], [], color=ORANGE, linestyle="--", label="review threshold"),
        Line2D([], [], color=VERMILLION, linestyle="--", label="critical threshold"),
    ]
    if with_responses:
        handles.append(Line2D([], [], color=PURPLE, linestyle=":", marker="D", markersize=4, label="responses"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)


def metric_timeseries(
    history: Iterable[Any],
    metrics: Sequence[str] | None = None,
) -> "Figure":
    """One panel per metric against window index, with review/critical lines and tier-coloured markers.

    ``history`` holds report dicts (``DriftReport.to_dict()``) in window order; reports
    themselves are accepted too. ``metrics`` default to those whose spec asks for a time series.
    """
    hist: list[Mapping[str, Any]] = [h if isinstance(h, Mapping) else h.to_dict() for h in history]
    metrics = tuple(m.name for m in registry.all_metrics() if m.timeseries) if metrics is None else tuple(metrics)
    if not metrics:
        raise ValueError("metric_timeseries needs at least one metric name")
    x = _window_positions(hist)
    fig = _figure(figsize=(9.5, 2.4 * len(metrics) + 1.0))
    axes = fig.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
    with_responses = False
    for ax, metric in zip(axes, metrics):
        with_responses |= _metric_panel(ax, x, hist, metric)
    _window_ticks(axes[-1], x, hist)
    _timeseries_legend(fig, with_responses)
    latest = str(hist[-1].get("tier", "")) if hist else ""
    title = f"Drift metrics over {_count(len(hist), 'window')}"
    if latest in TIER_COLOURS:
        _tier_title(fig, title + " (latest)", latest)
    else:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


# --------------------------------------------------------------------------- bundle


def report_figures(report: "DriftReport", history: Sequence[Any] | None = None) -> dict[str, "Figure"]:
    """``{"cluster_scatter", "cluster_shares", "metric_timeseries"}`` (scatter only with a projection)."""
    figures: dict[str, Figure] = {}
    if report.projection is not None:
        figures["cluster_scatter"] = cluster_scatter(report)
    figures["cluster_shares"] = cluster_share_bars(report)
    figures["metric_timeseries"] = metric_timeseries(list(history) if history else [report.to_dict()])
    return figures
