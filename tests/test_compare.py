"""compare() on real embeddings of generated text: healthy windows pass, new topics do not."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drift_tracking.comparison import compare, compare_embeddings
from drift_tracking.errors import DataError
from drift_tracking import metrics as registry
from drift_tracking.report import DriftReport


def _compare(baseline, window, embedder):
    return compare(baseline, [s.prompt for s in window], responses=[s.response for s in window], embedder=embedder)


@pytest.fixture(scope="module")
def healthy_report(baseline, healthy_window, embedder):
    return _compare(baseline, healthy_window, embedder)


@pytest.fixture(scope="module")
def drifted_report(baseline, drifted_window, embedder):
    return _compare(baseline, drifted_window, embedder)


def test_same_distribution_is_ok(healthy_report):
    assert healthy_report.tier == "ok", healthy_report.tier_reasons
    assert not healthy_report.drift_detected
    assert healthy_report.metrics["novel_cluster_share"] < 0.05
    assert healthy_report.metrics["js_divergence"] < 0.05
    assert healthy_report.metrics["classifier_auc"] < 0.65
    assert healthy_report.metrics["mmd_p_value"] > 0.01


def test_forty_percent_new_topics_is_critical(drifted_report, healthy_report):
    novel = drifted_report.metrics["novel_cluster_share"]
    assert drifted_report.tier == "critical", drifted_report.tier_reasons
    assert novel >= 0.3
    assert novel > healthy_report.metrics["novel_cluster_share"] + 0.25
    assert drifted_report.metrics["mmd_p_value"] <= 0.01
    # Only the 40% new-topic prompts are separable, so the best possible AUC is
    # 0.4 * 1 + 0.6 * 0.5 = 0.7.
    assert 0.62 < drifted_report.metrics["classifier_auc"] <= 0.72
    assert drifted_report.metrics["classifier_auc"] > healthy_report.metrics["classifier_auc"] + 0.08
    for name in ("js_divergence", "wasserstein", "mmd", "outlier_share"):
        assert drifted_report.metrics[name] > healthy_report.metrics[name], name
    assert any("never seen" in r for r in drifted_report.tier_reasons)


def test_novel_clusters_show_examples_from_new_topics(drifted_report, drifted_window):
    novel_prompts = {s.prompt for s in drifted_window if s.novel}
    examples = [e for c in drifted_report.novel_clusters for e in c["examples"]]
    assert examples
    assert sum(e in novel_prompts for e in examples) / len(examples) > 0.9


def test_response_metrics_are_reported(healthy_report, drifted_report):
    assert set(registry.names()) <= set(healthy_report.response_metrics)
    assert drifted_report.response_metrics["novel_cluster_share"] > healthy_report.response_metrics["novel_cluster_share"]


def test_report_serialises_to_json(drifted_report):
    data = json.loads(drifted_report.to_json())
    assert data["tier"] == "critical" and data["drift_detected"] is True
    assert set(registry.names()) <= set(data["metrics"])
    assert data["n_samples"] == drifted_report.n_samples
    assert data["model"]["name"] == "all-MiniLM-L6-v2"
    assert "projection" not in data
    assert DriftReport.from_dict(data).metrics == pytest.approx(drifted_report.metrics, nan_ok=True)


def test_cluster_shift_table_sums_to_one(drifted_report):
    rows = drifted_report.cluster_shift
    assert sum(r["baseline_share"] for r in rows) == pytest.approx(1.0)
    assert sum(r["window_share"] for r in rows) == pytest.approx(1.0)
    assert all(r["label"] for r in rows)


def test_projection_marks_novel_points(drifted_report):
    p = drifted_report.projection
    assert p.window_xy.shape == (drifted_report.n_samples, 2)
    assert 0.25 < p.window_novel.mean() < 0.6


def test_projection_carries_each_points_novel_cluster(drifted_report):
    """window_novel_cluster uses the ids of report.novel_clusters: sizes and examples agree point by point."""
    p = drifted_report.projection
    assert p.window_novel_cluster.shape == (drifted_report.n_samples,)  # the whole window is plotted
    np.testing.assert_array_equal(p.window_novel_cluster >= 0, p.window_novel)
    assert drifted_report.novel_clusters
    for cluster in drifted_report.novel_clusters:
        members = p.window_novel_cluster == cluster["id"]
        assert members.sum() == cluster["size"]
        member_texts = {t for t, m in zip(p.window_texts, members) if m}
        assert set(cluster["examples"]) <= member_texts


def test_window_too_small(baseline, embedder):
    with pytest.raises(DataError, match="at least 20"):
        compare(baseline, ["where is my order?"] * 5, embedder=embedder)


def test_embeddings_of_wrong_dimension(baseline):
    with pytest.raises(DataError, match=r"must be \(n, 384\)"):
        compare_embeddings(baseline, np.zeros((100, 10), dtype=np.float32))
