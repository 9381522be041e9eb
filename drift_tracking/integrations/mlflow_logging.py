"""How one DriftReport lands in an MLflow run; shared by the sink and the evaluator plugin.

Both write the same metrics, params, tags and artifacts, so the registry gate, the UI
and people reading runs find a drift evaluation in the same shape whichever way it was
made. Everything goes through an explicit :class:`mlflow.MlflowClient` and run id: no
global tracking URI or active run is touched.

What a run holds after :func:`log_report_to_run`:

* metrics ``drift/<metric>``, ``drift/response/<metric>``, ``drift/tier_level``,
  ``drift/n_samples``, at step = window index and the window's own timestamp;
* tags ``drift.tier``, ``drift.kind``, ``drift.retrain_recommended``,
  ``drift.baseline_uri``, ``drift.baseline_version``, ``drift.window_index``, plus
  any extra tags (``drift.model_name`` / ``drift.model_version`` from the evaluator);
* params ``drift.baseline_uri``, ``drift.baseline_version``, ``drift.embedding_model``,
  ``drift.embedding_fingerprint``, ``drift.embedding_dimension``, ``drift.n_baseline``;
* artifacts at the root (the latest window): ``drift_report.json``, ``drift_report.html``,
  ``cluster_scatter.png`` (when the report has its projection), ``cluster_shares.png``,
  ``metric_timeseries.png``; the same files under ``windows/<index>/`` for every window;
  and two MLflow tables that grow by one block of rows per window, each row carrying
  its ``window``: ``drift_cluster_shift.json`` and ``drift_novel_prompts.json``.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drift_tracking.html_report import write_report_folder
from drift_tracking.integrations.common import first_line, scoped_env
from drift_tracking.report import DriftReport

if TYPE_CHECKING:
    from mlflow import MlflowClient

METRIC_PREFIX = "drift/"
REPORT_JSON = "drift_report.json"
REPORT_HTML = "drift_report.html"
CLUSTER_SHIFT_TABLE = "drift_cluster_shift.json"
NOVEL_PROMPTS_TABLE = "drift_novel_prompts.json"
WINDOWS_DIR = "windows"
_PARAM_MAX = 500  # MLflow's limit on a param value
TAG_MAX = 5000  # MLflow's limit on a tag value


def report_metrics(report: DriftReport) -> dict[str, float]:
    """The numbers a run records for one window, keyed as they appear in the MLflow UI."""
    return {**report.metric_series(), **report.cost_series()}


def report_tags(report: DriftReport) -> dict[str, str]:
    """Tags the registry gate searches runs by (``tags.`drift.tier` = 'critical'``)."""
    tags = {
        "drift.tier": report.tier,
        "drift.kind": report.drift_kind,
        "drift.retrain_recommended": str(bool(report.retrain_recommended)).lower(),
        "drift.baseline_uri": str(report.baseline.get("uri") or ""),
        "drift.baseline_version": str(report.baseline.get("version") or ""),
    }
    if report.window.get("index") is not None:
        tags["drift.window_index"] = str(report.window["index"])
    return {k: v[:TAG_MAX] for k, v in tags.items()}


def report_params(report: DriftReport) -> dict[str, str]:
    """Run-level facts that do not change between windows: which baseline, which model."""
    model = report.model or {}
    params = {
        "drift.baseline_uri": report.baseline.get("uri"),
        "drift.baseline_version": report.baseline.get("version"),
        "drift.n_baseline": report.n_baseline,
        "drift.embedding_model": model.get("name"),
        "drift.embedding_fingerprint": model.get("fingerprint"),
        "drift.embedding_dimension": model.get("dimension"),
    }
    return {k: str(v)[:_PARAM_MAX] for k, v in params.items() if v is not None}


def log_report_to_run(
    client: "MlflowClient",
    run_id: str,
    report: DriftReport,
    *,
    history: Sequence[Mapping[str, Any]] = (),
    extra_tags: Mapping[str, str] | None = None,
    log_params: bool = True,
) -> list[str]:
    """Log one window's report to ``run_id``; returns the artifact paths written.

    ``history`` holds earlier windows' report dicts (oldest first); this report is
    appended when it is not already last, so the time-series plot always ends with it.
    """
    from mlflow.entities import Metric, Param, RunTag

    step, ts = report.step(), report.timestamp_ms()
    metrics = [Metric(k, v, ts, step) for k, v in report_metrics(report).items()]
    tags = [RunTag(k, v) for k, v in {**report_tags(report), **dict(extra_tags or {})}.items()]
    params = [Param(k, v) for k, v in report_params(report).items()] if log_params else []
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)

    series = report.history_with(history)
    written: list[str] = []
    with tempfile.TemporaryDirectory(prefix="drift-mlflow-") as tmp:
        folder = Path(tmp)
        write_report_files(report, series, folder)
        client.log_artifacts(run_id, str(folder))
        written += sorted(p.name for p in folder.iterdir())
        if report.window.get("index") is not None:
            window_dir = f"{WINDOWS_DIR}/{step}"
            client.log_artifacts(run_id, str(folder), window_dir)
            written += sorted(f"{window_dir}/{p.name}" for p in folder.iterdir())
    with scoped_env({"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}):  # appending downloads the table
        for name, rows in report_tables(report).items():
            if rows:
                client.log_table(run_id, data=_frame(rows), artifact_file=name)
                written.append(name)
    return written


def write_report_files(report: DriftReport, history: Sequence[Mapping[str, Any]], folder: Path) -> None:
    """The per-window files (JSON, HTML, PNGs) into ``folder``: one rendering, logged as a whole."""
    write_report_folder(report, folder, history, json_name=REPORT_JSON, html_name=REPORT_HTML)


def report_tables(report: DriftReport) -> dict[str, list[dict[str, Any]]]:
    """The per-cluster shift and the top novel prompts as rows, each tagged with its window."""
    window = report.step()
    return {
        CLUSTER_SHIFT_TABLE: [{"window": window, **row} for row in report.cluster_shift_rows()],
        NOVEL_PROMPTS_TABLE: [{"window": window, **row} for row in report.novel_prompt_rows()],
    }


def experiment_id(client: "MlflowClient", name: str) -> str:
    """The id of experiment ``name``, created when missing."""
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found else client.create_experiment(name)


def bounded_http_retries(max_retries: int = 1, timeout_s: int = 10) -> contextlib.AbstractContextManager[None]:
    """Make MLflow give up on an unreachable server in seconds, not minutes.

    MLflow's HTTP defaults (7 retries with backoff, 120 s timeout) suit a flaky link
    but not a CLI that should spool and move on. MLflow reads these variables per
    request, so setting them around the call is enough.
    """
    return scoped_env({
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(max_retries),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout_s),
    })


def _frame(rows: list[dict[str, Any]]):  # noqa: ANN202 - pandas is imported lazily
    import pandas as pd

    return pd.DataFrame(rows)
