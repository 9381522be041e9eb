"""Drift evaluations the registry gate decides on, and how it tells a genuine one from a forged one.

An evaluation is a run following the contract of
:mod:`drift_tracking.integrations.mlflow_logging` (``drift.*`` tags, ``drift/`` metrics,
``drift_report.json`` at the artifact root) plus a *record* that binds what was decided
to what it was decided on, in the run's tag ``drift.evaluation`` (canonical JSON)::

    model_name, model_version, run_id      the version evaluated, and the run holding it
    baseline_sha256, baseline_uri,         the baseline's recomputed content hash, where it
    baseline_registry                      came from, and its registry version when known
    window_sha256                          the window's prompts and responses
    report_sha256                          the bytes of drift_report.json
    tier, kind, created_at, key_id         the decision, when, and which key signed it

``drift.evaluation_signature`` holds ``hmac-sha256:<hex>`` of that JSON under
``DRIFT_TRACKING_GATE_KEY``. Whatever logs an evaluation of a model version (the
``drift`` evaluator plugin, ``gate promote --window``) writes the record, and signs it
when the key is set. Tags alone prove nothing: anyone who can log a run can write them.

HMAC, not a key pair: the signers (evaluations in CI) and the verifier (the gate, which
also signs the evaluations it runs itself) are the same trusted automation, so both
hold the key either way; a shared secret needs only the standard library and one
environment variable, and a secret store already keeps such variables for CI.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drift_tracking import artifact
from drift_tracking.baseline import FORMAT_VERSION, KIND
from drift_tracking.comparison import compare
from drift_tracking.data import load_texts
from drift_tracking.embedding import embedder_for_baseline
from drift_tracking.errors import DriftTrackingError
from drift_tracking.integrations import load_baseline, resolve_baseline_uri
from drift_tracking.integrations.mlflow_logging import (
    REPORT_JSON,
    experiment_id,
    first_line,
    log_report_to_run,
    scoped_env,
)
from drift_tracking.integrations.mlflow_registry import registered_pin
from drift_tracking.quality import QualityInputs, load_golden, score_golden
from drift_tracking.report import DriftReport

if TYPE_CHECKING:
    from mlflow import MlflowClient

KEY_ENV = "DRIFT_TRACKING_GATE_KEY"
RECORD_TAG = "drift.evaluation"
SIGNATURE_TAG = "drift.evaluation_signature"
SIGNED = "signed-evaluation"
REEVALUATED = "re-evaluated"
DEFAULT_MAX_AGE_S = 7 * 86400.0
_MIN_KEY_BYTES = 16
_FUTURE_SKEW_S = 300  # clocks of the signer and the gate may differ this much
_RECORD_FIELDS = (
    "model_name", "model_version", "run_id", "baseline_sha256", "baseline_uri", "baseline_registry",
    "window_sha256", "report_sha256", "tier", "kind", "created_at", "key_id",
)
# run tags that repeat a signed field: a run re-tagged after signing disagrees with its record
_TAGGED_FIELDS = (("drift.tier", "tier"), ("drift.kind", "kind"), ("drift.model_name", "model_name"),
                  ("drift.model_version", "model_version"))


class GateError(DriftTrackingError):
    """The gate cannot decide: no evaluation, unknown version, inconsistent options."""


class EvaluationRefused(GateError):
    """An evaluation exists but cannot be trusted; the message is the one-line reason."""

    def __init__(self, run_id: str, reason: str) -> None:
        super().__init__(reason)
        self.run_id = run_id


@dataclass
class Evaluation:
    """The drift evaluation a decision is taken on.

    ``mode`` says how the gate came to trust it: ``signed-evaluation`` (a logged run whose
    signed record verified) or ``re-evaluated`` (computed by the caller just now).
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
    baseline_sha256: str = ""
    baseline_registry: str = ""
    window_sha256: str = ""
    report_sha256: str = ""
    evaluated_at: str = ""
    mode: str = ""

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

    @classmethod
    def from_record(cls, record: dict[str, str], reasons: list[str], mode: str) -> "Evaluation":
        return cls(
            run_id=record["run_id"], tier=record["tier"], kind=record["kind"],
            baseline_version=record["baseline_sha256"][:12], baseline_uri=record["baseline_uri"], reasons=reasons,
            model_name=record["model_name"], model_version=record["model_version"],
            baseline_sha256=record["baseline_sha256"], baseline_registry=record["baseline_registry"],
            window_sha256=record["window_sha256"], report_sha256=record["report_sha256"],
            evaluated_at=record["created_at"], mode=mode,
        )


# -- keys and records ----------------------------------------------------------------
def gate_key(value: str | bytes | None = None) -> bytes | None:
    """The signing key: ``value``, else ``$DRIFT_TRACKING_GATE_KEY``; ``None`` when neither is set."""
    raw = value if value is not None else os.environ.get(KEY_ENV, "")
    key = raw.encode() if isinstance(raw, str) else bytes(raw)
    if not key:
        return None
    if len(key) < _MIN_KEY_BYTES:
        raise GateError(
            f"{KEY_ENV} is {len(key)} bytes; use at least {_MIN_KEY_BYTES} random bytes, e.g. "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    return key


def key_id(key: bytes) -> str:
    """A short name for a key, so a refusal can say "signed with another key" without showing it."""
    return hashlib.sha256(b"drift-tracking gate key id\0" + key).hexdigest()[:12]


def sign(record: dict[str, str], key: bytes) -> str:
    return "hmac-sha256:" + hmac.new(key, artifact.canonical_json(record), hashlib.sha256).hexdigest()


def window_sha256(prompts: Sequence[str], responses: Sequence[Any] | None = None) -> str:
    """What a window held, in order: its prompts and (when given) responses."""
    payload = {"prompts": list(prompts), "responses": None if responses is None else [str(r) for r in responses]}
    return hashlib.sha256(artifact.canonical_json(payload)).hexdigest()


def report_sha256(report: DriftReport) -> str:
    """The sha256 of ``drift_report.json`` as :func:`log_report_to_run` writes it."""
    return hashlib.sha256(report.to_json().encode("utf-8")).hexdigest()


def record_evaluation(
    client: "MlflowClient", run_id: str, report: DriftReport, *, name: str, version: str, baseline: Any,
    window_hash: str, key: bytes | None,
) -> dict[str, str]:
    """Write the evaluation record of ``report`` (already logged to ``run_id``) and sign it when ``key`` is set.

    ``baseline`` is the :class:`~drift_tracking.baseline.Baseline` compared against: its
    recomputed content hash is bound, not the version string in the report.
    """
    from mlflow.entities import RunTag

    manifest = baseline.manifest or {}
    record = {
        "model_name": name, "model_version": str(version), "run_id": run_id,
        "baseline_sha256": str(manifest.get("content_sha256") or ""),
        "baseline_uri": str(baseline.uri or baseline.path or ""),
        "baseline_registry": str(baseline.registry_version or ""),
        "window_sha256": window_hash, "report_sha256": report_sha256(report),
        "tier": report.tier, "kind": report.drift_kind, "created_at": artifact.utc_now(),
        "key_id": key_id(key) if key else "",
    }
    tags = {RECORD_TAG: artifact.canonical_json(record).decode()}
    if key:
        tags[SIGNATURE_TAG] = sign(record, key)
    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    return record


# -- verification --------------------------------------------------------------------
def verify_evaluation(
    client: "MlflowClient", run_id: str, name: str, version: str, *, key: bytes, max_age_s: float,
    baseline_uri: str | None = None, tracking_uri: str | None = None,
) -> Evaluation:
    """The evaluation in ``run_id``, trusted only if its signed record holds up.

    Refused (:class:`EvaluationRefused`, one-line reason) when the run carries only
    tags, an unsigned or badly signed record, a record of another run, model or version,
    tags that disagree with the record, a record older than ``max_age_s``, a report whose
    bytes are not the signed ones, or a baseline other than the one ``baseline_uri``
    (default: the URI the evaluation used, resolved now: a registry URI's pinned hash, a
    local directory verified on this machine) holds.
    """
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise GateError(f"evaluation run {run_id!r} was not found on the tracking server: {first_line(exc)}") from exc
    record = _signed_record(run_id, run.data.tags, key)
    _check_binding(run_id, record, run.data.tags, name, version)
    _check_age(run_id, record["created_at"], max_age_s)
    report = _report_bytes(client, run_id)
    if hashlib.sha256(report).hexdigest() != record["report_sha256"]:
        raise EvaluationRefused(run_id, f"{REPORT_JSON} of run {run_id} does not hash to the signed value: "
                                        "the report was changed after the evaluation was signed")
    _check_baseline(client, run_id, record, baseline_uri, tracking_uri)
    return Evaluation.from_record(record, _reasons(report), SIGNED)


def _signed_record(run_id: str, tags: dict[str, str], key: bytes) -> dict[str, str]:
    if RECORD_TAG not in tags:
        raise EvaluationRefused(run_id, (
            f"run {run_id} holds no signed evaluation record (tags only); the gate trusts only evaluations "
            f"signed with {KEY_ENV} by the drift evaluator or `gate promote --window`"))
    try:
        record = json.loads(tags[RECORD_TAG])
        missing = [f for f in _RECORD_FIELDS if not isinstance(record.get(f), str)]
    except (json.JSONDecodeError, AttributeError):
        record, missing = {}, ["(not a JSON object)"]
    if missing:
        raise EvaluationRefused(run_id, f"the evaluation record of run {run_id} is malformed (missing {', '.join(missing)})")
    signature = tags.get(SIGNATURE_TAG, "")
    if not signature:
        raise EvaluationRefused(run_id, (
            f"run {run_id} holds an unsigned evaluation (it was logged without {KEY_ENV}): evaluate the version "
            "again with the key set, or let the gate evaluate it with --baseline and --window"))
    if not hmac.compare_digest(signature.encode("utf-8", "replace"), sign(record, key).encode()):
        other = record["key_id"] and record["key_id"] != key_id(key)
        cause = "it was signed with another key" if other else "its record was edited after signing"
        raise EvaluationRefused(run_id, f"the signature of run {run_id}'s evaluation does not verify with the "
                                        f"gate's key: {cause}")
    return record


def _check_binding(run_id: str, record: dict[str, str], tags: dict[str, str], name: str, version: str) -> None:
    if record["run_id"] != run_id:
        raise EvaluationRefused(run_id, f"run {run_id} carries the signed evaluation of run {record['run_id']} "
                                        "(copied from another run)")
    if (record["model_name"], record["model_version"]) != (name, version):
        raise EvaluationRefused(run_id, f"run {run_id} is a signed evaluation of {record['model_name']} version "
                                        f"{record['model_version']}, not of {name} version {version}")
    for tag, key in _TAGGED_FIELDS:
        if tag in tags and tags[tag] != record[key]:
            raise EvaluationRefused(run_id, f"run {run_id} was re-tagged after signing: {tag} is {tags[tag]!r} "
                                            f"but the signed {key} is {record[key]!r}")


def _check_age(run_id: str, created_at: str, max_age_s: float) -> None:
    try:
        signed = datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise EvaluationRefused(run_id, f"the evaluation of run {run_id} has no readable time ({created_at!r})") from None
    age = (datetime.now(timezone.utc) - signed).total_seconds()
    if age < -_FUTURE_SKEW_S:
        raise EvaluationRefused(run_id, f"the evaluation of run {run_id} is dated in the future ({created_at})")
    if age > max_age_s:
        raise EvaluationRefused(run_id, (
            f"the evaluation of run {run_id} is stale: signed {created_at}, {_span(age)} ago, more than the "
            f"gate's maximum age of {_span(max_age_s)} (--max-age); evaluate the version again"))


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{max(seconds, 0):.0f}s"


def _report_bytes(client: "MlflowClient", run_id: str) -> bytes:
    try:
        # one small file: no progress bar in CI logs
        with scoped_env({"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}), \
                tempfile.TemporaryDirectory(prefix="drift-gate-") as tmp:
            return Path(client.download_artifacts(run_id, REPORT_JSON, tmp)).read_bytes()
    except Exception as exc:  # noqa: BLE001 - MLflow raises several types for a missing artifact
        raise EvaluationRefused(run_id, f"run {run_id} has no readable {REPORT_JSON} ({first_line(exc)}): the "
                                        "signed report is gone") from exc


def _reasons(report: bytes) -> list[str]:
    """The tier reasons people read, from a report whose bytes were just verified."""
    try:
        data = json.loads(report)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return []
    reasons = data.get("tier_reasons") if isinstance(data, dict) else None
    return [str(r) for r in reasons] if isinstance(reasons, list) else []


def _check_baseline(client: "MlflowClient", run_id: str, record: dict[str, str], baseline_uri: str | None,
                    tracking_uri: str | None) -> None:
    """The evaluated baseline must be the one ``baseline_uri`` (default: the one the evaluation names) holds now."""
    uri = baseline_uri or record["baseline_uri"]
    try:
        expected, label = baseline_content(uri, client=client, tracking_uri=tracking_uri)
    except DriftTrackingError as exc:
        raise EvaluationRefused(run_id, (
            f"the baseline of run {run_id}'s evaluation cannot be checked here ({exc}); pass --baseline with the "
            "URI of the baseline it must have used")) from exc
    if record["baseline_sha256"] != expected:
        raise EvaluationRefused(run_id, (
            f"run {run_id} was evaluated against baseline {record['baseline_sha256'][:12] or '(unsaved)'}, but "
            f"{label} holds {expected[:12]}: evaluate the version against that baseline"))


def baseline_content(uri: str, *, client: Any = None, tracking_uri: str | None = None) -> tuple[str, str]:
    """(content hash, description) of the baseline ``uri`` names now: a registry pin, or a verified directory."""
    if not uri:
        raise GateError("the evaluation names no baseline")
    if uri.startswith(("models:/", "runs:/", "mlflow-artifacts:")):
        pin = registered_pin(uri, tracking_uri, client=client)
        return pin.content_sha256, f"{uri} ({pin.registry_version})" if pin.registry_version else uri
    path = resolve_baseline_uri(uri, tracking_uri=tracking_uri)
    return artifact.verify(path, kind=KIND, supported_versions={FORMAT_VERSION})["content_sha256"], uri


def latest_evaluation_run(client: "MlflowClient", name: str, version: str) -> str | None:
    """The newest run, in any experiment, tagged as a drift evaluation of ``name`` version ``version``.

    Only where to look: the run is trusted once :func:`verify_evaluation` says so.
    """
    experiment_ids = [e.experiment_id for e in _all_experiments(client)]
    if not experiment_ids:
        return None
    query = (
        f"tags.`drift.model_name` = '{_quote(name)}' and tags.`drift.model_version` = '{_quote(version)}'"
        " and tags.`drift.tier` != ''"
    )
    runs = client.search_runs(experiment_ids, query, order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0].info.run_id if runs else None


def _all_experiments(client: "MlflowClient") -> Iterable[Any]:
    token = None
    while True:
        page = client.search_experiments(max_results=1000, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


# -- evaluating now --------------------------------------------------------------------
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
    key: bytes | None = None,
    embedding_model: str | None = None,
) -> Evaluation:
    """Compare ``window`` (the version's answers, or recent production traffic) to the baseline.

    ``golden`` is a golden set answered by this version (``prompt``, ``expected``,
    ``answer``): its accuracy against the baseline's (or ``golden_accuracy``) is what
    tells ``degradation`` from benign drift. The report is logged as a run following the
    evaluation contract, with its evaluation record (signed with ``key`` when given), so
    a later gate call or the webhook audit can verify it. With ``client=None`` nothing
    is logged (dry run) and the evaluation has no run id. ``embedding_model`` names the
    model when the baseline's is not the bundled one (its weights must match the pin).
    """
    baseline = load_baseline(baseline_uri, tracking_uri=tracking_uri)
    texts = load_texts(window, text_column=text_column, response_column=response_column)
    window_info = {"index": 0, "source": str(window), "model_name": name, "model_version": str(version)}
    quality = _golden_quality(baseline, golden, golden_accuracy) if golden is not None else None
    embedder = embedder or embedder_for_baseline(baseline.identity_, embedding_model)
    report = compare(baseline, texts, embedder=embedder, window_info=window_info, quality=quality)
    window_hash, run_id, evaluated_at = window_sha256(texts.prompts, texts.responses), None, artifact.utc_now()
    if client is not None:
        run = client.create_run(experiment_id(client, experiment), run_name=f"drift-gate {name} v{version}")
        run_id = run.info.run_id
        link = {"drift.model_name": name, "drift.model_version": str(version)}
        log_report_to_run(client, run_id, report, extra_tags=link)
        evaluated_at = record_evaluation(client, run_id, report, name=name, version=str(version), baseline=baseline,
                                         window_hash=window_hash, key=key)["created_at"]
        client.set_terminated(run_id)
    evaluation = Evaluation.from_report(report, run_id)
    evaluation.model_name, evaluation.model_version, evaluation.mode = name, str(version), REEVALUATED
    evaluation.baseline_sha256 = str((baseline.manifest or {}).get("content_sha256") or "")
    evaluation.baseline_registry = str(baseline.registry_version or "")
    evaluation.window_sha256, evaluation.report_sha256 = window_hash, report_sha256(report)
    evaluation.evaluated_at = evaluated_at
    return evaluation


def _golden_quality(baseline: Any, golden: str | Path, golden_accuracy: float | None) -> Any:
    """Golden-set evidence for :func:`compare`; refuses a set with nothing to compare it to."""
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
