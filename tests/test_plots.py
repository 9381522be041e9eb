"""Figures and the HTML page, on reports built by hand (no model, no baseline needed)."""

from __future__ import annotations

import dataclasses

import base64
import io
import math
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from drift_tracking import html_report, plots
from drift_tracking import metrics as registry
from drift_tracking.report import DriftReport, Projection

EVIL = '<script>alert("pwned")</script> & <img src=x onerror=alert(1)>'


def _thresholds(source: str = "fixed") -> dict:
    return {
        "source": source,
        "values": {
            "js_divergence": {"review": 0.15, "critical": 0.25},
            "novel_cluster_share": {"review": 0.1, "critical": 0.3},
        },
    }


def _projection(rng: np.random.Generator, texts: list[str]) -> Projection:
    centres = rng.normal(0, 4, size=(6, 2))
    b_cluster = rng.integers(0, 6, 300)
    baseline_xy = centres[b_cluster] + rng.normal(0, 0.7, size=(300, 2))
    w_cluster = rng.integers(0, 6, 160)
    window_xy = centres[w_cluster] + rng.normal(0, 0.7, size=(160, 2))
    novel = np.zeros(160, dtype=bool)
    novel[:25] = True  # two novel blobs away from the baseline
    novel_cluster = np.full(160, -1)
    novel_cluster[:15], novel_cluster[15:25] = 0, 1  # as report.novel_clusters numbers them
    window_xy[:15] = np.array([9.0, 9.0]) + rng.normal(0, 0.4, size=(15, 2))
    window_xy[15:25] = np.array([-9.0, 8.0]) + rng.normal(0, 0.4, size=(10, 2))
    return Projection(
        baseline_xy=baseline_xy.astype(np.float32),
        baseline_cluster=b_cluster,
        window_xy=window_xy.astype(np.float32),
        window_cluster=w_cluster,
        window_novel=novel,
        window_novel_cluster=novel_cluster,
        window_texts=texts,
    )


def make_report(*, projection: bool = True, index: int = 3, tier: str = "critical", seed: int = 0,
                responses: bool = True) -> DriftReport:
    rng = np.random.default_rng(seed)
    texts = [f"prompt number {i}" for i in range(160)]
    texts[0] = EVIL
    words = ["refund order days", "password reset email", "shipping delay tracking", "", None,
             "invoice vat number"]
    shift = []
    for c in range(12):
        b = float(rng.uniform(0.02, 0.15))
        w = float(max(0.0, b + rng.normal(0, 0.04)))
        row = {"cluster": c, "baseline_share": b, "window_share": w, "change": w - b,
               "ratio": (w / b) if b else None}
        label = words[c % len(words)]
        if label is not None:
            row["label"] = label
        shift.append(row)
    metrics = {"js_divergence": 0.27, "wasserstein": 0.12, "novel_cluster_share": 0.156, "mmd": 0.0042,
               "mmd_p_value": 0.001, "classifier_auc": 0.81}
    start = datetime(2024, 5, 1, tzinfo=timezone.utc) + timedelta(days=index)
    return DriftReport(
        tier=tier,
        n_samples=160,
        n_baseline=1500,
        metrics=metrics,
        response_metrics={**metrics, "js_divergence": 0.05, "mmd_p_value": math.nan} if responses else None,
        cluster_shift=shift,
        novel_clusters=[
            {"id": 0, "size": 15, "share": 0.094, "distance_ratio": 1.6,
             "examples": [EVIL, "prompt number 1", "prompt number 2"]},
            {"id": 1, "size": 10, "share": 0.062, "distance_ratio": 1.3,
             "examples": ["prompt number 15", "prompt number 16"]},
        ],
        model={"name": "sentence-transformers/all-MiniLM-L6-v2", "dimension": 384},
        baseline={"uri": "models:/support-bot/3", "version": "3"},
        thresholds=_thresholds(),
        tier_reasons=["critical: cluster mix shifted (Jensen-Shannon divergence 0.270 >= 0.250)",
                      "review: 16% of prompts fall in clusters the baseline has never seen (>= 10%)"],
        drift_kind="unknown",
        retrain_recommended=True,
        retrain_reason="new topics <b>appeared</b>",
        window={"index": index, "start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()},
        warnings=["model revision differs from the baseline's"],
        created_at="2024-05-05T00:00:00+00:00",
        projection=_projection(rng, texts) if projection else None,
    )


def _history(n: int) -> list[dict]:
    tiers = ["ok", "ok", "review", "critical", "review"]
    out = []
    for i in range(n):
        r = make_report(projection=False, index=i, tier=tiers[i % len(tiers)], seed=i)
        r = dataclasses.replace(r, metrics={k: v * (0.5 + 0.2 * i) for k, v in r.metrics.items()})
        out.append(r.to_dict())
    return out


def _check_png(path, min_w: int = 400, min_h: int = 250) -> None:
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert img.format == "PNG"
        w, h = img.size
        assert min_w <= w <= 4000 and min_h <= h <= 6000, img.size


# --------------------------------------------------------------------------- plots


def test_importing_plots_does_not_import_matplotlib():
    code = "import sys, drift_tracking.plots, drift_tracking.html_report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_figure_saves_as_png(tmp_path):
    report = make_report()
    figures = plots.report_figures(report, history=_history(5))
    assert set(figures) == {"cluster_scatter", "cluster_shares", "metric_timeseries"}
    for name, fig in figures.items():
        path = plots.save_png(fig, tmp_path / "sub" / f"{name}.png")
        assert path.exists()
        _check_png(path)


def test_cluster_scatter_annotates_novel_clusters(tmp_path):
    report = make_report()
    fig = plots.cluster_scatter(report)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("novel #0" in t and "9.4%" in t for t in texts), texts
    assert any("novel #1" in t for t in texts), texts
    assert "CRITICAL" in fig._suptitle.get_text()
    # the seeded annotation sits at the blob whose examples it names
    centres = dict((c["id"], xy) for c, xy in plots._novel_centres(report))
    assert np.linalg.norm(centres[0] - np.array([9.0, 9.0])) < 1.5
    assert np.linalg.norm(centres[1] - np.array([-9.0, 8.0])) < 1.5
    _check_png(plots.save_png(fig, tmp_path / "scatter.png"))


def test_cluster_scatter_places_each_label_on_the_points_the_statistic_grouped():
    """The label follows projection.window_novel_cluster, not where the examples or the geometry suggest."""
    report = make_report()
    ids = report.projection.window_novel_cluster
    ids[:15], ids[15:25] = 1, 0  # swap: cluster 0 (whose examples sit at (9, 9)) is now the blob at (-9, 8)
    centres = dict((c["id"], xy) for c, xy in plots._novel_centres(report))
    assert np.linalg.norm(centres[0] - np.array([-9.0, 8.0])) < 1.5
    assert np.linalg.norm(centres[1] - np.array([9.0, 9.0])) < 1.5

    ids[15:25] = -1  # cluster 0 has no plotted point: it is not labelled at all
    texts = [t.get_text() for t in plots.cluster_scatter(report).axes[0].texts]
    assert [t.split("\n")[0] for t in texts] == ["novel #1"]


def test_cluster_scatter_labels_only_the_largest_novel_clusters():
    report = make_report()
    base = report.novel_clusters[0]
    report = dataclasses.replace(report, novel_clusters=[
        {**base, "id": i, "share": 0.01 * (i + 1), "examples": []} for i in range(plots.MAX_LABELLED_CLUSTERS + 3)
    ])
    report.projection.window_novel_cluster[:25] = np.arange(25) % len(report.novel_clusters)
    fig = plots.cluster_scatter(report)
    labels = [t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("novel #")]
    assert len(labels) == plots.MAX_LABELLED_CLUSTERS
    largest = {f"novel #{i}" for i in range(3, plots.MAX_LABELLED_CLUSTERS + 3)}
    assert {t.split("\n")[0] for t in labels} == largest
    assert "largest labelled" in fig.axes[0].get_title()


def test_cluster_scatter_without_projection_raises():
    report = make_report(projection=False)
    with pytest.raises(ValueError, match="projection"):
        plots.cluster_scatter(report)
    figures = plots.report_figures(report)
    assert set(figures) == {"cluster_shares", "metric_timeseries"}


def test_cluster_scatter_without_novel_points(tmp_path):
    report = make_report()
    report.projection.window_novel[:] = False
    report = dataclasses.replace(report, novel_clusters=[], metrics={**report.metrics, "novel_cluster_share": 0.0})
    _check_png(plots.save_png(plots.cluster_scatter(report), tmp_path / "plain.png"))


def test_cluster_share_bars_labels_and_novel_group(tmp_path):
    report = make_report()
    fig = plots.cluster_share_bars(report, top=5)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 6  # 5 clusters + novel
    assert labels[0].startswith("novel")
    assert any(lbl.startswith("cluster ") and ":" in lbl for lbl in labels)
    assert any(lbl.startswith("cluster ") and ":" not in lbl for lbl in labels)  # missing/empty label
    _check_png(plots.save_png(fig, tmp_path / "bars.png"))

    report = dataclasses.replace(report, novel_clusters=[], metrics={**report.metrics, "novel_cluster_share": 0.0})
    fig = plots.cluster_share_bars(report, top=20)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 12 and not any(lbl.startswith("novel") for lbl in labels)
    plots.save_png(fig, tmp_path / "bars2.png")

    report = dataclasses.replace(report, cluster_shift=[])
    _check_png(plots.save_png(plots.cluster_share_bars(report), tmp_path / "empty.png"), min_h=200)


#: One panel per metric whose spec asks for a time series, in the registry's order.
_TIMESERIES = ["js_divergence", "wasserstein", "novel_cluster_share", "unexplained_share", "classifier_auc"]


@pytest.mark.parametrize("n", [1, 5])
def test_metric_timeseries(tmp_path, n):
    history = _history(n)
    fig = plots.metric_timeseries(history)
    assert [ax.get_ylabel() for ax in fig.axes] == _TIMESERIES
    # review and critical lines on the two metrics that have thresholds
    dashed = [ln for ln in fig.axes[0].lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 2
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    wasserstein = next(i for i, t in enumerate(titles) if "(wasserstein)" in t)
    assert not [ln for ln in fig.axes[wasserstein].lines if ln.get_linestyle() == "--"]  # no thresholds given
    _check_png(plots.save_png(fig, tmp_path / f"ts{n}.png"))


def test_metric_timeseries_missing_thresholds_and_values(tmp_path):
    history = _history(4)
    history[0].pop("thresholds")
    history[1]["thresholds"] = {"source": "calibrated", "values": {"js_divergence": {"review": 0.1}}}
    history[2]["metrics"]["classifier_auc"] = None
    for h in history:
        h.pop("window")
        h["response_metrics"] = None
    fig = plots.metric_timeseries(history, metrics=("js_divergence", "classifier_auc", "not_a_metric"))
    assert len(fig.axes) == 3
    assert any("not measured" in t.get_text() for t in fig.axes[2].texts)
    _check_png(plots.save_png(fig, tmp_path / "ts-missing.png"))

    bare = [{"tier": "ok", "metrics": {"js_divergence": 0.01}}]
    _check_png(plots.save_png(plots.metric_timeseries(bare), tmp_path / "ts-bare.png"))


def test_metric_timeseries_accepts_reports():
    fig = plots.metric_timeseries([make_report(projection=False, index=i) for i in range(3)])
    assert [ax.get_ylabel() for ax in fig.axes] == _TIMESERIES


# --------------------------------------------------------------------------- html


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: dict[str, int] = {}
        self.images: list[str] = []
        self.text: list[str] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src") or "")
        if tag == "script":
            self._in_script = True

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        (self.script_text if self._in_script else self.text).append(data)


def _parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    collector.close()
    return collector


def test_html_report_is_self_contained_and_escaped(tmp_path):
    report = make_report()
    page = html_report.render_html(report, history=_history(5))
    parsed = _parse(page)
    text = " ".join(parsed.text)

    assert parsed.tags.get("html") == 1 and parsed.tags.get("style") == 1
    assert "script" not in parsed.tags  # the injected prompt stays text
    assert "<script>" not in page and "<img src=x" not in page
    assert '&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;' in page  # Jinja2's (markupsafe's) entities
    assert EVIL in text  # ...and reads as the user wrote it
    assert "<b>appeared</b>" not in page  # retrain reason is escaped too

    assert "CRITICAL" in text
    for name in registry.names():
        assert name in text, name
    assert "fixed" in text
    assert "refund order days" in text
    assert "models:/support-bot/3" in text
    assert "model revision differs" in text

    assert len(parsed.images) == 3
    for src in parsed.images:
        assert src.startswith("data:image/png;base64,")
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as img:
            assert img.format == "PNG" and img.size[0] > 400
    for external in ("http://", "https://", "<link", "src=\"http"):
        assert external not in page

    path = html_report.write_html(report, tmp_path / "out" / "report.html")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_html_report_keeps_markup_and_template_syntax_in_data_as_text():
    """Prompts, labels, reasons and names reach the page as text: never markup, never template code."""
    hostile = "{{ 1234 * 1000 }} {% if true %}<script>alert('x')</script>{% endif %} {# gone? #} }}"
    report = make_report(projection=False)
    report.novel_clusters[0]["examples"] = [hostile]
    report.novel_clusters[1]["id"] = hostile
    report.cluster_shift[0]["label"] = hostile
    report = dataclasses.replace(report, tier_reasons=[hostile], warnings=[hostile], model={"name": hostile})
    page = html_report.render_html(report, include_figures=False)
    parsed = _parse(page)
    text = " ".join(parsed.text)

    assert "script" not in parsed.tags and "<script>" not in page
    assert "1234000" not in page  # the expression was not evaluated
    # example, novel cluster id, cluster label, reason, warning, model in the header and the identity table
    assert text.count(hostile) == 7, text


def test_html_report_without_projection_or_responses():
    report = dataclasses.replace(make_report(projection=False, responses=False, tier="ok"), warnings=[],
                                 novel_clusters=[])
    page = html_report.render_html(report)
    parsed = _parse(page)
    text = " ".join(parsed.text)
    assert "OK" in text
    assert len(parsed.images) == 2
    assert "not measured" in text


def test_html_report_from_dict():
    data = make_report().to_dict()
    page = html_report.render_html(data, include_figures=False)
    parsed = _parse(page)
    assert not parsed.images
    assert "CRITICAL" in " ".join(parsed.text)
