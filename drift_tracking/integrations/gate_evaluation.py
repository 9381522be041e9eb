"""Drift evaluations the registry gate decides on: read from a run, found by tags, or run now.

An evaluation is a run that follows the contract of
:mod:`drift_tracking.integrations.mlflow_logging`: tags ``drift.tier``, ``drift.kind``,
``drift.baseline_uri``, ``drift.baseline_version`` (and ``drift.model_name`` /
``drift.model_version`` when it evaluates a registered version), ``drift/`` metrics and
``drift_report.json`` at the artifact root. The gate only needs the tags; the report adds
the reasons people read.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drift_tracking.errors import DriftTrackingError
from drift_tracking.integrations.mlflow_logging import (
    REPORT_JSON,
    experiment_id,
    first_line,
    log_report_to_run,
    scoped_env,
)
from drift_tracking.report import DriftReport

if TYPE_CHECKING:
    from mlflow import MlflowClient


class GateError(DriftTrackingError):
    """The gate cannot decide: no evaluation, unknown version, inconsistent options."""


@dataclass
class Evaluation:
    """The drift evaluation a decision is taken on: a run following the evaluation contract.

    ``run_id`` is ``None`` only for a dry run that computed a report without logging it.
    """

    run_id: str | None
    tier: str
    kind: str
    baseline_version: str = ""
    baseline_uri: str = ""
    reasons: list[str] = field(default_factory=list)
    model_name: str | None = None
    model_version: str | None = None

    @classmethod
    def from_report(cls, report: DriftReport, run_id: str | None = None) -> "Evaluation":
        return cls(
            run_id=run_id,
            tier=report.tier,
            kind=report.drift_kind,
            baseline_version=str(report.baseline.get("version") or ""),
            baseline_uri=str(report.baseline.get("uri") or ""),
            reasons=list(report.tier_reasons),
        )


def evaluation_from_run(client: "MlflowClient", run_id: str) -> Evaluation:
    """Read the evaluation held by ``run_id`` (its ``drift.*`` tags and ``drift_report.json``)."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise GateError(f"evaluation run {run_id!r} was not found on the tracking server: {first_line(exc)}") from exc
    tags = run.data.tags
    if "drift.tier" not in tags:
        raise GateError(
            f"run {run_id} holds no drift evaluation (no drift.tier tag); log one with "
            "`drift-tracking check ... --mlflow` or let the gate run it with --baseline and --window"
        )
    return Evaluation(
        run_id=run_id,
        tier=tags["drift.tier"],
        kind=tags.get("drift.kind", "unknown"),
        baseline_version=tags.get("drift.baseline_version", ""),
        baseline_uri=tags.get("drift.baseline_uri", ""),
        reasons=_report_reasons(client, run_id),
        model_name=tags.get("drift.model_name"),
        model_version=tags.get("drift.model_version"),
    )


def _report_reasons(client: "MlflowClient", run_id: str) -> list[str]:
    """The tier reasons from the run's report; an evaluation without the artifact still decides on tags."""
    try:
        # one small file: no progress bar in CI logs
        with scoped_env({"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}), \
                tempfile.TemporaryDirectory(prefix="drift-gate-") as tmp:
            path = client.download_artifacts(run_id, REPORT_JSON, tmp)
            data = json.loads(Path(path).read_text())
    except Exception:  # noqa: BLE001 - a missing or unreadable report only loses the reasons text
        return []
    reasons = data.get("tier_reasons") if isinstance(data, dict) else None
    return [str(r) for r in reasons] if isinstance(reasons, list) else []


def latest_evaluation(client: "MlflowClient", name: str, version: str) -> Evaluation | None:
    """The newest run, in any experiment, tagged as a drift evaluation of ``name`` version ``version``."""
    experiment_ids = [e.experiment_id for e in _all_experiments(client)]
    if not experiment_ids:
        return None
    query = (
        f"tags.`drift.model_name` = '{_quote(name)}' and tags.`drift.model_version` = '{_quote(version)}'"
        " and tags.`drift.tier` != ''"
    )
    runs = client.search_runs(experiment_ids, query, order_by=["attributes.start_time DESC"], max_results=1)
    return evaluation_from_run(client, runs[0].info.run_id) if runs else None


def _all_experiments(client: "MlflowClient") -> Iterable[Any]:
    token = None
    while True:
        page = client.search_experiments(max_results=1000, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def run_evaluation(
    client: "MlflowClient | None",
    name: str,
    version: str,
    *,
    baseline_uri: str,
    window: str | Path,
    text_column: str = "prompt",
    response_column: str | None = None,
    experiment: str = "drift-gate",
    embedder: Any = None,
    tracking_uri: str | None = None,
    golden: str | Path | None = None,
    golden_accuracy: float | None = None,
) -> Evaluation:
    """Compare ``window`` (the version's answers, or recent production traffic) to the baseline.

    ``golden`` is a golden set answered by this version (``prompt``, ``expected``,
    ``answer``): its accuracy against the baseline's (or ``golden_accuracy``) is what
    tells ``degradation`` from benign drift. The report is logged as a run following the
    evaluation contract and tagged with the model name and version, so the next gate call
    (or the webhook audit) finds it. With ``client=None`` nothing is logged (dry run) and
    the evaluation has no run id.
    """
    from drift_tracking.comparison import compare
    from drift_tracking.data import load_texts
    from drift_tracking.integrations import load_baseline

    baseline = load_baseline(baseline_uri, tracking_uri=tracking_uri)
    texts = load_texts(window, text_column=text_column, response_column=response_column)
    window_info = {"index": 0, "source": str(window), "model_name": name, "model_version": str(version)}
    quality = _golden_quality(baseline, golden, golden_accuracy) if golden is not None else None
    report = compare(baseline, texts, embedder=embedder, window_info=window_info, quality=quality)
    if client is None:
        return Evaluation.from_report(report)
    run = client.create_run(experiment_id(client, experiment), run_name=f"drift-gate {name} v{version}")
    link = {"drift.model_name": name, "drift.model_version": str(version)}
    log_report_to_run(client, run.info.run_id, report, extra_tags=link)
    client.set_terminated(run.info.run_id)
    evaluation = Evaluation.from_report(report, run.info.run_id)
    evaluation.model_name, evaluation.model_version = name, str(version)
    return evaluation


def _golden_quality(baseline: Any, golden: str | Path, golden_accuracy: float | None) -> Any:
    """Golden-set evidence for :func:`compare`; refuses a set with nothing to compare it to."""
    from drift_tracking.quality import QualityInputs, load_golden, score_golden

    reference = golden_accuracy if golden_accuracy is not None else (baseline.quality_ or {}).get("golden_accuracy")
    if reference is None:
        raise GateError(
            f"the baseline {baseline.uri or ''} records no golden-set accuracy, so {golden} cannot show "
            "a drop: pass --golden-baseline-accuracy (the promoted version's accuracy) or rebuild the baseline "
            "with --golden"
        )
    return QualityInputs(golden=score_golden(load_golden(golden)), reference={"golden_accuracy": float(reference)})


def _quote(text: str) -> str:
    return text.replace("'", "\\'")

