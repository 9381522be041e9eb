"""One self-contained HTML page per drift report, for people opening it from the MLflow UI.

No external CSS, JavaScript or fonts: styles are inline and the figures are PNG data URIs,
so the page renders the same from an artifact store, an e-mail or a laptop offline.
The page is the Jinja2 template ``templates/report.html`` rendered with autoescape on:
prompts are user data, and every value reaches the page through Jinja2's escaping, never
through string concatenation here. This module only prepares the values (formatting,
ordering, truncation); the template lays them out.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from jinja2 import Environment, PackageLoader, StrictUndefined

from drift_tracking import metrics as registry
from drift_tracking import plots
from drift_tracking.plots import _is_share, _num, _shift_rows, _threshold
from drift_tracking.report import DriftReport, label_text

_TIER_STYLE = {  # background, text colour (Okabe-Ito, readable contrast)
    "ok": ("#009E73", "#ffffff"),
    "review": ("#E69F00", "#000000"),
    "critical": ("#D55E00", "#ffffff"),
}
_FIGURE_CAPTIONS = {
    "cluster_scatter": "Where the window's prompts sit relative to the baseline (2-D PCA of the embeddings).",
    "cluster_shares": "Clusters whose share of traffic changed most between baseline and window.",
    "metric_timeseries": "Drift metrics over windows, with review and critical thresholds.",
}
#: The file each figure is written to, in a report folder and in an MLflow run alike.
FIGURE_FILES = {
    "cluster_scatter": "cluster_scatter.png",
    "cluster_shares": "cluster_shares.png",
    "metric_timeseries": "metric_timeseries.png",
}
_MAX_SHIFT_ROWS = 60
_MAX_EXAMPLE_CHARS = 400


# --------------------------------------------------------------------------- formatting


def _fmt(value: Any, metric: str = "") -> str:
    """A metric value for people: shares as percentages, missing as an em dash."""
    v = _num(value)
    if not math.isfinite(v):
        return "\u2014"
    if _is_share(metric):
        return f"{v:.1%}"
    if v != 0 and abs(v) < 1e-3:
        return f"{v:.2e}"
    return f"{v:.4f}"


def _pct(value: Any) -> str:
    v = _num(value)
    return f"{v:.1%}" if math.isfinite(v) else "\u2014"


def _plain(value: Any) -> str:
    """Any JSON-ish value as short text (the template escapes it)."""
    if isinstance(value, float):
        return _fmt(value)
    if isinstance(value, (dict, list, tuple)):
        try:
            return json.dumps(value, default=str, sort_keys=True)
        except (TypeError, ValueError):
            return str(value)
    return "\u2014" if value is None or value == "" else str(value)


_ENV = Environment(
    loader=PackageLoader("drift_tracking", "templates"),
    autoescape=True,
    undefined=StrictUndefined,  # a misspelt name fails the render instead of leaving a blank
    finalize=lambda value: "" if value is None else value,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENV.filters.update(fmt=_fmt, pct=_pct, plain=_plain)


def _hit_class(value: Any, review: float, critical: float) -> str:
    v = _num(value)
    if not math.isfinite(v):
        return ""
    if math.isfinite(critical) and v >= critical:
        return " hit-critical"
    if math.isfinite(review) and v >= review:
        return " hit-review"
    return ""


# --------------------------------------------------------------------------- sections


def _baseline_name(baseline: Mapping[str, Any]) -> str | None:
    uri, version = baseline.get("uri"), baseline.get("version")
    if uri and version not in (None, "") and str(version) not in str(uri):
        return f"{uri} (version {version})"
    return str(uri or version) if (uri or version) else None


def _header(report: DriftReport) -> dict[str, Any]:
    index = (report.window or {}).get("index")
    suffix = f" \u2014 window {index}" if index is not None else ""
    facts = [
        ("drift kind", report.drift_kind),
        ("window prompts", report.n_samples),
        ("baseline prompts", report.n_baseline),
        ("model", (report.model or {}).get("name")),
        ("baseline", _baseline_name(report.baseline or {})),
        ("created", report.created_at),
    ]
    return {
        "page_title": f"Drift report {report.tier.upper()}{suffix}",
        "title": f"Drift report{suffix}",
        "badge": _TIER_STYLE.get(report.tier, ("#777777", "#ffffff")),
        "facts": [(k, v) for k, v in facts if v not in (None, "")],
    }


def _warnings(report: DriftReport) -> list[str]:
    items = list(report.warnings or [])
    if report.invalid_rows:
        items.append("invalid input rows were dropped: " + _plain(report.invalid_rows))
    return items


def _metric_rows(report: DriftReport) -> list[dict[str, Any]]:
    """One row per metric: every known metric, then any other the report carries."""
    thresholds = report.thresholds or {}
    metrics, responses = report.metrics or {}, report.response_metrics or {}
    names = list(dict.fromkeys([*registry.names(), *metrics, *responses]))
    rows = []
    for name in names:
        review, critical = _threshold(thresholds, name, "review"), _threshold(thresholds, name, "critical")
        spec = registry.get(name)
        rows.append({
            "name": name, "title": spec.title if spec else "", "prompts": metrics.get(name),
            "responses": responses.get(name),
            "review": review, "critical": critical,
            "prompts_hit": _hit_class(metrics.get(name), review, critical),
            "responses_hit": _hit_class(responses.get(name), review, critical),
        })
    return rows


def _figures(report: DriftReport, history: Sequence[Any] | None,
             png: Mapping[str, bytes] | None) -> tuple[list[dict[str, str]], str | None]:
    """(figures as ``{"name", "caption", "data"}`` with base64 PNG data, error text or None)."""
    try:
        figures = dict(png) if png is not None else plots.report_figures(report, history=history)
    except Exception as exc:  # a broken plot must not cost the whole report
        return [], str(exc)
    return [
        {
            "name": name,
            "caption": _FIGURE_CAPTIONS.get(name, name),
            "data": base64.b64encode(fig if isinstance(fig, bytes) else plots.png_bytes(fig)).decode("ascii"),
        }
        for name, fig in figures.items()
    ], None


def _cluster_shift(report: DriftReport) -> list[dict[str, Any]]:
    out = []
    for r in _shift_rows(report):
        label = r.get("label")
        if isinstance(label, (list, tuple)):
            label = " ".join(str(w) for w in label)
        change, ratio = _num(r.get("change")), _num(r.get("ratio"))
        out.append({
            "cluster": r.get("cluster"),
            "label": label or "",
            "baseline_share": r.get("baseline_share"),
            "window_share": r.get("window_share"),
            "direction": "up" if change > 0 else "down" if change < 0 else "",
            "change": f"{change * 100:+.1f} pp" if math.isfinite(change) else "\u2014",
            "ratio": f"{ratio:.2f}\u00d7" if math.isfinite(ratio) else "\u2014",
        })
    return out


def _novel(report: DriftReport) -> list[dict[str, Any]]:
    out = []
    for c in [c for c in (report.novel_clusters or []) if isinstance(c, Mapping)]:
        ratio = _num(c.get("distance_ratio"))
        facts = [f"size {_plain(c.get('size'))}", f"share {_pct(c.get('share'))}"]
        if math.isfinite(ratio):
            facts.append(f"{ratio:.2g}x the baseline's usual distance")
        examples = [str(ex) for ex in c.get("examples") or []]
        examples = [t[:_MAX_EXAMPLE_CHARS] + "\u2026" if len(t) > _MAX_EXAMPLE_CHARS else t for t in examples]
        out.append({"id": c.get("id"), "label": label_text(c.get("label")), "facts": ", ".join(facts),
                    "examples": examples})
    return out


def _window_span(report: DriftReport) -> dict[str, Any]:
    window = dict(report.window or {})
    span = {
        "window index": window.pop("index", None),
        "start": window.pop("start", None),
        "end": window.pop("end", None),
        "window prompts": report.n_samples,
        "baseline prompts": report.n_baseline,
        **window,
        "report created": report.created_at,
    }
    return {k: v for k, v in span.items() if v not in (None, "")}


# --------------------------------------------------------------------------- public


def render_html(
    report: DriftReport | Mapping[str, Any],
    history: Iterable[Any] | None = None,
    *,
    include_figures: bool = True,
    figures_png: Mapping[str, bytes] | None = None,
) -> str:
    """The report as one self-contained HTML page (figures embedded as base64 PNG).

    ``history`` is the list of report dicts (oldest first) for the metric time series;
    without it the series shows this report alone. A report dict is accepted too.
    ``figures_png`` (name -> PNG bytes) reuses figures already rendered for other sinks.
    """
    if isinstance(report, Mapping):
        report = DriftReport.from_dict(dict(report))
    history = list(history) if history is not None else None
    figures, figure_error = _figures(report, history, figures_png) if include_figures else ([], None)
    shift = _cluster_shift(report)
    novel_share = _num((report.metrics or {}).get("novel_cluster_share"))
    unexplained = _num((report.metrics or {}).get("unexplained_share"))
    return _ENV.get_template("report.html").render(
        report=report,
        **_header(report),
        warnings=_warnings(report),
        metric_rows=_metric_rows(report),
        threshold_source=(report.thresholds or {}).get("source") or "unknown",
        include_figures=include_figures,
        figures=figures,
        figure_error=figure_error,
        shift_rows=shift[:_MAX_SHIFT_ROWS],
        shift_hidden=max(len(shift) - _MAX_SHIFT_ROWS, 0),
        novel_share=novel_share if math.isfinite(novel_share) else None,
        unexplained_share=unexplained if math.isfinite(unexplained) else None,
        novel_clusters=_novel(report),
        window_span=_window_span(report),
    )


def write_html(report: DriftReport | Mapping[str, Any], path: str | Path,
               history: Iterable[Any] | None = None, figures_png: Mapping[str, bytes] | None = None) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8; parents are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, history=history, figures_png=figures_png), encoding="utf-8")
    return path


def write_report_folder(
    report: DriftReport, folder: str | Path, history: Iterable[Any] | None = None, *,
    json_name: str = "report.json", html_name: str = "report.html",
) -> list[Path]:
    """The report as files a person opens without a server: JSON, the HTML page and each figure as PNG.

    Each figure is drawn once and reused in the page (drawing is most of the cost outside
    embedding). ``history`` (report dicts, oldest first, ending with this one) feeds the
    metric time series. Returns the files written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    history = list(history) if history is not None else None
    written = [folder / json_name]
    written[0].write_text(report.to_json(), encoding="utf-8")
    png = {name: plots.png_bytes(fig) for name, fig in plots.report_figures(report, history).items()}
    for name, data in png.items():
        written.append(folder / FIGURE_FILES.get(name, f"{name}.png"))
        written[-1].write_bytes(data)
    written.append(write_html(report, folder / html_name, history=history, figures_png=png))
    return written
