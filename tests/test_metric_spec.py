"""A metric is one spec: registering it is all it takes to reach the policy, the report and every sink."""

from __future__ import annotations

import json

import numpy as np
import pytest

import wandb_records as wr
from drift_tracking import metrics as registry
from drift_tracking.comparison import compare
from drift_tracking.html_report import render_html
from drift_tracking.integrations.mlflow_sink import MlflowSink
from drift_tracking.integrations.wandb_logger import WandbSink
from drift_tracking.metrics import Metric, registered
from drift_tracking.policy import Policy

TOY = "toy_mean_shift"


def _mean_shift(pair) -> float:
    return float(np.linalg.norm(pair.window.mean(axis=0) - pair.reference.mean(axis=0)))


def test_a_registered_metric_flows_to_the_report_mlflow_and_wandb(
    baseline, healthy_window, embedder, mlflow_server, tmp_path
):
    toy = Metric(TOY, compute=_mean_shift, title="Shift of the mean embedding",
                 reason="the mean embedding moved {value:.3f} >= {level:.3f}", decides=True, fixed=(0.0, 10.0))
    prompts = [s.prompt for s in healthy_window]
    responses = [s.response for s in healthy_window]
    with registered(toy):
        report = compare(baseline, prompts, responses=responses, embedder=embedder, policy=Policy(mode="fixed"),
                         window_info={"index": 0})
        expected = float(np.linalg.norm(embedder.encode(prompts).mean(axis=0) - baseline.prompts_.embeddings_.mean(axis=0)))
        data = json.loads(report.to_json())
        assert data["metrics"][TOY] == pytest.approx(expected, rel=1e-5)
        assert TOY in data["response_metrics"]
        # it decides: its fixed levels are used and its reason is worded by its spec
        assert data["thresholds"]["values"][TOY] == {"review": 0.0, "critical": 10.0}
        assert any(r["metric"] == TOY and r["kind"] == "level" for r in data["reasons"])
        assert any(w.startswith("review level: the mean embedding moved") for w in data["tier_reasons"])
        assert "Shift of the mean embedding" in render_html(report)

        sink = MlflowSink(tracking_uri=mlflow_server, experiment_name="toy-metric")
        sink.log_report(report)
        sink.close()
        history = sink.client.get_metric_history(sink.run_id, f"drift/{TOY}")
        assert [(m.step, m.value) for m in history] == [(0, pytest.approx(expected, rel=1e-5))]
        assert sink.client.get_metric_history(sink.run_id, f"drift/response/{TOY}")

        with WandbSink(project="toy-metric", dir=tmp_path) as wandb_sink:
            wandb_sink.log_report(report)
            run_dir = wandb_sink.run.settings.sync_dir
        rows = [h for h in wr.history(wr.finished_records(run_dir)) if "window" in h]
        assert rows[0][f"drift/{TOY}"] == pytest.approx(expected, rel=1e-5)
        assert rows[0][f"drift/threshold/{TOY}/critical"] == 10.0
    assert registry.get(TOY) is None  # the registry is as it was


def test_metric_names_are_unique():
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Metric("js_divergence", compute=_mean_shift, title="again"))


def test_every_built_in_metric_states_its_facts_once():
    for metric in registry.all_metrics():
        assert metric.title and metric.reason, metric.name
        words = metric.words(0.5, 0.25)
        assert "0.5" in words or "50" in words, (metric.name, words)
        if metric.decides:
            assert metric.direction == "up"
    assert [m.name for m in registry.deciding()] == [
        "js_divergence", "wasserstein", "novel_cluster_share", "unexplained_share", "outlier_share"
    ]
