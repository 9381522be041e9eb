"""Helpers shared by the gate and webhook tests: evaluation runs and registered versions.

Evaluation runs are written the way the MLflow plugin writes them (the contract the gate
reads): ``drift.*`` tags, ``drift/`` metrics, ``drift_report.json`` at the root and, for a
model version, the evaluation record signed with the session's gate key.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

_COUNTER = itertools.count()


def log_evaluation(client: Any, experiment_id: str, report: Any, name: str | None = None,
                   version: str | None = None, *, baseline: Any = None, window: Sequence[str] = (),
                   key: bytes | None | str = "env") -> str:
    """A run holding ``report`` as a drift evaluation, optionally of a model version.

    For a version, the run also gets the evaluation record, signed with ``key`` (default
    ``$DRIFT_TRACKING_GATE_KEY``; ``None`` leaves it unsigned), bound to ``baseline`` (default: the local
    directory the report was compared to) and to the prompts of ``window``.
    """
    from mlflow.entities import Metric, RunTag

    from drift_tracking.integrations.gate_evaluation import gate_key, record_evaluation, window_sha256
    from drift_tracking.integrations.mlflow_logging import report_tags

    run = client.create_run(experiment_id)
    tags = report_tags(report)
    if name is not None:
        tags.update({"drift.model_name": name, "drift.model_version": str(version)})
    metrics = [Metric(f"drift/{k}", float(v), 0, 0) for k, v in report.metrics.items() if v is not None]
    client.log_batch(run.info.run_id, metrics=metrics, tags=[RunTag(k, v) for k, v in tags.items()])
    client.log_text(run.info.run_id, report.to_json(), "drift_report.json")
    if name is not None:
        record_evaluation(client, run.info.run_id, report, name=name, version=str(version),
                          baseline=baseline or local_baseline(report.baseline["uri"]),
                          window_hash=window_sha256(list(window)), key=gate_key() if key == "env" else key)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def local_baseline(path: str) -> Any:
    """What an evaluation records of a local baseline directory: its manifest, path and URI."""
    manifest = json.loads((Path(path) / "manifest.json").read_text())
    return SimpleNamespace(manifest=manifest, uri=str(path), registry_version=None, path=Path(path))


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


def resign(client: Any, run_id: str, **changes: str) -> dict[str, str]:
    """Rewrite a run's evaluation record with ``changes`` and sign it again with the session key.

    What only a holder of the key can do: used to make records that are genuine but
    stale, or bound to another baseline, and to check the gate refuses them for that alone.
    """
    from mlflow.entities import RunTag

    from drift_tracking.artifact import canonical_json
    from drift_tracking.integrations.gate_evaluation import RECORD_TAG, SIGNATURE_TAG, gate_key, sign

    record = {**json.loads(client.get_run(run_id).data.tags[RECORD_TAG]), **changes}
    key = gate_key()
    client.log_batch(run_id, tags=[RunTag(RECORD_TAG, canonical_json(record).decode()),
                                   RunTag(SIGNATURE_TAG, sign(record, key))])
    return record


_REPORTS: dict[tuple[int, ...], dict[str, Any]] = {}


def gate_reports(baseline: Any, embedder: Any, healthy_window: Any, drifted_window: Any) -> dict[str, Any]:
    """Real reports on real embeddings: a healthy window, a drifted one, and a quality drop.

    ``degraded`` is the healthy window with a golden-set accuracy 30% below the
    baseline's, which the policy calls ``degradation``. Computed once per session for
    the same fixtures (the gate and webhook modules share them).
    """
    cache_key = (id(baseline), id(embedder), id(healthy_window), id(drifted_window))
    if cache_key not in _REPORTS:
        _REPORTS[cache_key] = _gate_reports(baseline, embedder, healthy_window, drifted_window)
    return _REPORTS[cache_key]


def _gate_reports(baseline: Any, embedder: Any, healthy_window: Any, drifted_window: Any) -> dict[str, Any]:
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
