"""One self-contained HTML page per drift report, for people opening it from the MLflow UI.

No external CSS, JavaScript or fonts: styles are inline and the figures are PNG data URIs,
so the page renders the same from an artifact store, an e-mail or a laptop offline.
Every piece of text goes through :func:`html.escape`: prompts are user data.
"""

from __future__ import annotations

import base64
import json
import math
from html import escape
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from drift_tracking import metrics as registry
from drift_tracking.plots import _is_share, _num, _shift_rows, _threshold
from drift_tracking.report import DriftReport

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
_MAX_SHIFT_ROWS = 60
_MAX_EXAMPLE_CHARS = 400

_CSS = """
*{box-sizing:border-box}
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 margin:0;padding:24px 32px;color:#1d1d1f;background:#fafafa;line-height:1.45;font-size:14px}
main{max-width:1100px;margin:0 auto}
h1{font-size:22px;margin:0 0 8px}
h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid #ddd;padding-bottom:4px}
header{background:#fff;border:1px solid #e2e2e2;border-radius:8px;padding:16px 20px}
.badge{display:inline-block;padding:3px 12px;border-radius:12px;font-weight:700;font-size:14px;
 letter-spacing:.05em;vertical-align:middle}
.facts{display:flex;flex-wrap:wrap;gap:6px 24px;margin:10px 0 0;padding:0;list-style:none;color:#444}
.facts b{color:#1d1d1f}
.advice{margin:12px 0 0;padding:8px 12px;border-left:4px solid #999;background:#f4f4f4}
.advice.retrain{border-left-color:#D55E00;background:#fff3ec}
.warnings{border:1px solid #E69F00;background:#fff8e6;border-radius:6px;padding:8px 14px}
table{border-collapse:collapse;background:#fff;margin:6px 0;font-size:13px}
th,td{border:1px solid #e2e2e2;padding:5px 10px;text-align:left;vertical-align:top}
th{background:#f1f1f1;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.hit-review{background:#fdefc8}
td.hit-critical{background:#f9d3bd;font-weight:600}
.up{color:#B34700}.down{color:#0072B2}
.muted{color:#777}
figure{margin:14px 0;background:#fff;border:1px solid #e2e2e2;border-radius:8px;padding:10px}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{color:#555;font-size:12px;margin-top:6px;text-align:center}
.novel{background:#fff;border:1px solid #e2e2e2;border-left:4px solid #D55E00;border-radius:6px;
 padding:8px 14px;margin:10px 0}
.novel ol{margin:6px 0 0;padding-left:22px}
.novel li{margin:3px 0;white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,Menlo,Consolas,monospace;
 font-size:12px}
.grid{display:flex;flex-wrap:wrap;gap:20px}
.grid>div{flex:1 1 320px}
footer{margin-top:32px;color:#888;font-size:12px}
"""


# --------------------------------------------------------------------------- formatting


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


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
    """Any JSON-ish value as short text (escaped by the caller)."""
    if isinstance(value, float):
        return _fmt(value)
    if isinstance(value, (dict, list, tuple)):
        try:
            return json.dumps(value, default=str, sort_keys=True)
        except (TypeError, ValueError):
            return str(value)
    return "\u2014" if value is None or value == "" else str(value)


def _kv_table(data: Mapping[str, Any]) -> str:
    if not data:
        return '<p class="muted">not recorded</p>'
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_plain(v))}</td></tr>" for k, v in data.items())
    return f"<table>{rows}</table>"


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


def _header(report: DriftReport) -> str:
    bg, fg = _TIER_STYLE.get(report.tier, ("#777777", "#ffffff"))
    window = report.window or {}
    title = "Drift report"
    if window.get("index") is not None:
        title += f" \u2014 window {window.get('index')}"
    model = (report.model or {}).get("name")
    facts = [
        ("drift kind", report.drift_kind),
        ("window prompts", report.n_samples),
        ("baseline prompts", report.n_baseline),
        ("model", model),
        ("baseline", _baseline_name(report.baseline or {})),
        ("created", report.created_at),
    ]
    facts_html = "".join(f"<li>{_e(k)}: <b>{_e(_plain(v))}</b></li>" for k, v in facts if v not in (None, ""))
    if report.retrain_recommended:
        advice = "<strong>Retraining recommended.</strong>"
        if report.retrain_reason:
            advice += " " + _e(report.retrain_reason)
        advice_html = f'<p class="advice retrain">{advice}</p>'
    else:
        advice = "No retraining recommended."
        if report.retrain_reason:
            advice += " " + _e(report.retrain_reason)
        advice_html = f'<p class="advice">{advice}</p>'
    if report.material_degradation:
        advice_html += '<p class="advice retrain"><strong>Material quality degradation detected.</strong></p>'
    reasons = "".join(f"<li>{_e(r)}</li>" for r in (report.tier_reasons or []))
    reasons_html = f"<h3>Why this tier</h3><ul>{reasons}</ul>" if reasons else ""
    return (
        "<header>"
        f'<h1>{_e(title)} <span class="badge tier-{_e(report.tier)}" style="background:{bg};color:{fg}">'
        f"{_e(str(report.tier).upper())}</span></h1>"
        f'<ul class="facts">{facts_html}</ul>'
        f"{advice_html}{reasons_html}"
        "</header>"
    )


def _warnings(report: DriftReport) -> str:
    items = list(report.warnings or [])
    if report.invalid_rows:
        items.append("invalid input rows were dropped: " + _plain(report.invalid_rows))
    if not items:
        return ""
    lis = "".join(f"<li>{_e(w)}</li>" for w in items)
    return f'<h2>Warnings</h2><div class="warnings"><ul>{lis}</ul></div>'


def _metrics(report: DriftReport) -> str:
    thresholds = report.thresholds or {}
    responses = report.response_metrics
    names = list(registry.names())
    for extra in list((report.metrics or {}).keys()) + list((responses or {}).keys()):
        if extra not in names:
            names.append(extra)
    head = "<tr><th>metric</th><th>prompts</th><th>responses</th><th>review at</th><th>critical at</th></tr>"
    rows = []
    for name in names:
        review, critical = _threshold(thresholds, name, "review"), _threshold(thresholds, name, "critical")
        p = (report.metrics or {}).get(name)
        r = (responses or {}).get(name) if responses is not None else None
        r_cell = _e(_fmt(r, name)) if responses is not None else '<span class="muted">not measured</span>'
        rows.append(
            f"<tr><th>{_e(name)}</th>"
            f'<td class="num{_hit_class(p, review, critical)}">{_e(_fmt(p, name))}</td>'
            f'<td class="num{_hit_class(r, review, critical)}">{r_cell}</td>'
            f'<td class="num">{_e(_fmt(review, name))}</td>'
            f'<td class="num">{_e(_fmt(critical, name))}</td></tr>'
        )
    source = thresholds.get("source") or "unknown"
    note = (
        f'<p class="muted">Thresholds: <b>{_e(source)}</b>'
        + (" (calibrated on the baseline's own variation)" if source == "calibrated" else "")
        + ". Cells at or above a level are shaded (amber: review, red: critical). "
        "Only metrics with levels decide the tier.</p>"
    )
    return f"<h2>Metrics</h2><table>{head}{''.join(rows)}</table>{note}"


def _figures(report: DriftReport, history: Sequence[Any] | None, png: Mapping[str, bytes] | None = None) -> str:
    from drift_tracking import plots

    try:
        figures = dict(png) if png is not None else plots.report_figures(report, history=history)
    except Exception as exc:  # a broken plot must not cost the whole report
        return f'<h2>Figures</h2><p class="warnings">figures could not be drawn: {_e(exc)}</p>'
    parts = []
    for name, fig in figures.items():
        data = base64.b64encode(fig if isinstance(fig, bytes) else plots.png_bytes(fig)).decode("ascii")
        caption = _FIGURE_CAPTIONS.get(name, name)
        parts.append(
            f'<figure id="fig-{_e(name)}"><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>"
        )
    return "<h2>Figures</h2>" + "".join(parts)


def _cluster_shift(report: DriftReport) -> str:
    rows = _shift_rows(report)
    if not rows:
        return '<h2>Cluster shift</h2><p class="muted">no per-cluster table in this report</p>'
    shown = rows[:_MAX_SHIFT_ROWS]
    head = ("<tr><th>cluster</th><th>top words</th><th>baseline share</th><th>window share</th>"
            "<th>change</th><th>ratio</th></tr>")
    body = []
    for r in shown:
        label = r.get("label")
        if isinstance(label, (list, tuple)):
            label = " ".join(str(w) for w in label)
        change = _num(r.get("change"))
        cls = "up" if change > 0 else "down" if change < 0 else ""
        change_txt = f"{change * 100:+.1f} pp" if math.isfinite(change) else "\u2014"
        ratio = _num(r.get("ratio"))
        ratio_txt = f"{ratio:.2f}\u00d7" if math.isfinite(ratio) else "\u2014"
        body.append(
            f"<tr><td class=\"num\">{_e(r.get('cluster'))}</td><td>{_e(label or '')}</td>"
            f'<td class="num">{_e(_pct(r.get("baseline_share")))}</td>'
            f'<td class="num">{_e(_pct(r.get("window_share")))}</td>'
            f'<td class="num {cls}">{_e(change_txt)}</td>'
            f'<td class="num">{_e(ratio_txt)}</td></tr>'
        )
    more = (f'<p class="muted">{len(rows) - len(shown)} smaller changes not shown.</p>'
            if len(rows) > len(shown) else "")
    return (
        "<h2>Cluster shift</h2><p class=\"muted\">Baseline K-means clusters, largest change in share first "
        "(pp = percentage points).</p>"
        f"<table>{head}{''.join(body)}</table>{more}"
    )


def _novel(report: DriftReport) -> str:
    clusters = [c for c in (report.novel_clusters or []) if isinstance(c, Mapping)]
    share = _num((report.metrics or {}).get("novel_cluster_share"))
    intro = (f"<p>{_e(_pct(share))} of the window's prompts fall in clusters the baseline has (almost) no "
             "neighbours for.</p>" if math.isfinite(share) else "")
    if not clusters:
        return f'<h2>Novel clusters</h2>{intro}<p class="muted">none found</p>'
    parts = []
    for c in clusters:
        ratio = _num(c.get("distance_ratio"))
        facts = [f"size {_plain(c.get('size'))}", f"share {_pct(c.get('share'))}"]
        if math.isfinite(ratio):
            facts.append(f"{ratio:.2g}x the baseline's usual distance")
        examples = []
        for ex in c.get("examples") or []:
            text = str(ex)
            if len(text) > _MAX_EXAMPLE_CHARS:
                text = text[:_MAX_EXAMPLE_CHARS] + "\u2026"
            examples.append(f"<li>{_e(text)}</li>")
        ex_html = f"<ol>{''.join(examples)}</ol>" if examples else '<p class="muted">no example texts</p>'
        parts.append(
            f"<div class=\"novel\"><b>novel cluster {_e(c.get('id'))}</b> "
            f"<span class=\"muted\">({_e(', '.join(facts))})</span>{ex_html}</div>"
        )
    return f"<h2>Novel clusters</h2>{intro}{''.join(parts)}"


def _identity(report: DriftReport) -> str:
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
    out = (
        '<h2>Identity</h2><div class="grid">'
        f"<div><h3>Model</h3>{_kv_table(report.model or {})}</div>"
        f"<div><h3>Baseline</h3>{_kv_table(report.baseline or {})}</div>"
        f"<div><h3>Window</h3>{_kv_table({k: v for k, v in span.items() if v not in (None, '')})}</div>"
        "</div>"
    )
    if report.quality:
        out += f"<h2>Quality</h2>{_kv_table(report.quality)}"
    return out


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
    window = report.window or {}
    title = f"Drift report {report.tier.upper()}"
    if window.get("index") is not None:
        title += f" \u2014 window {window.get('index')}"
    body = [
        _header(report),
        _warnings(report),
        _metrics(report),
        _figures(report, history, figures_png) if include_figures else "",
        _cluster_shift(report),
        _novel(report),
        _identity(report),
        f"<footer>drift-tracking report \u00b7 generated {_e(report.created_at)}</footer>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def write_html(report: DriftReport | Mapping[str, Any], path: str | Path,
               history: Iterable[Any] | None = None, figures_png: Mapping[str, bytes] | None = None) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8; parents are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, history=history, figures_png=figures_png), encoding="utf-8")
    return path
