"""Helpers shared by the gate and webhook tests: evaluation runs and registered versions.

Evaluation runs are written the way the MLflow plugin writes them (the contract the gate
reads): ``drift.*`` tags, ``drift/`` metrics and ``drift_report.json`` at the root.
"""

from __future__ import annotations

import itertools
from typing import Any

_COUNTER = itertools.count()


def log_evaluation(client: Any, experiment_id: str, report: Any, name: str | None = None,
                   version: str | None = None) -> str:
    """A run holding ``report`` as a drift evaluation, optionally tagged for a model version."""
    from mlflow.entities import Metric, RunTag

    from drift_tracking.integrations.mlflow_logging import report_tags

    run = client.create_run(experiment_id)
    tags = report_tags(report)
    if name is not None:
        tags.update({"drift.model_name": name, "drift.model_version": str(version)})
    metrics = [Metric(f"drift/{k}", float(v), 0, 0) for k, v in report.metrics.items() if v is not None]
    client.log_batch(run.info.run_id, metrics=metrics, tags=[RunTag(k, v) for k, v in tags.items()])
    client.log_text(run.info.run_id, report.to_json(), "drift_report.json")
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def register_versions(client: Any, experiment_id: str, prefix: str, n: int) -> str:
    """A new registered model with ``n`` versions pointing at a tiny logged artifact; returns its name."""
    name = f"{prefix}-{next(_COUNTER)}"
    client.create_registered_model(name)
    for _ in range(n):
        run = client.create_run(experiment_id)
        client.log_text(run.info.run_id, "a placeholder model\n", "model/README.txt")
        client.set_terminated(run.info.run_id)
        client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    return name


def version_tags(client: Any, name: str, version: str | int) -> dict[str, str]:
    return dict(client.get_model_version(name, str(version)).tags)


def alias_version(client: Any, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def gate_reports(baseline: Any, embedder: Any, healthy_window: Any, drifted_window: Any) -> dict[str, Any]:
    """Real reports on real embeddings: a healthy window, a drifted one, and a quality drop.

    ``degraded`` is the healthy window with a golden-set accuracy 30% below the
    baseline's, which the policy calls ``degradation``.
    """
    from drift_tracking.comparison import compare, compare_embeddings

    healthy = compare(baseline, [s.prompt for s in healthy_window],
                      responses=[s.response for s in healthy_window], embedder=embedder)
    drifted = compare(baseline, [s.prompt for s in drifted_window],
                      responses=[s.response for s in drifted_window], embedder=embedder)
    degraded = compare_embeddings(
        baseline, embedder.encode([s.prompt for s in healthy_window]),
        texts=[s.prompt for s in healthy_window],
        quality={"golden": {"accuracy": 0.6, "baseline_accuracy": 0.86, "relative_drop": 0.3, "n": 50}},
    )
    return {"healthy": healthy, "drifted": drifted, "degraded": degraded}
