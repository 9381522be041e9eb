"""``drift-tracking gate``: promote registry versions only when their drift allows it.

Exit codes for CI: 0 promoted (or would be, with ``--dry-run``), 1 blocked (the reasons
are printed), 2 usage or input error. MLflow is imported only when a command runs, so
``drift-tracking --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import click

_KINDS = ("degradation", "unknown", "benign", "none")


def _rule_options(func: Any) -> Any:
    func = click.option(
        "--block-kind",
        "block_kinds",
        type=click.Choice(_KINDS),
        multiple=True,
        help="Drift kind that blocks whatever the tier; repeatable, 'none' blocks on no kind "
        "[default: degradation].",
    )(func)
    func = click.option(
        "--block-on",
        type=click.Choice(["review", "critical"]),
        default="critical",
        show_default=True,
        help="Lowest tier that blocks. With 'critical', a review tier passes with a warning tag.",
    )(func)
    func = click.option(
        "--tracking-uri", default=None, help="MLflow tracking and registry URI [default: $MLFLOW_TRACKING_URI]."
    )(func)
    return func


def _rule(block_on: str, block_kinds: tuple[str, ...]) -> Any:
    from drift_tracking.integrations.mlflow_gate import GateRule

    kinds = {"degradation"} if not block_kinds else {k for k in block_kinds if k != "none"}
    return GateRule(block_on=block_on, block_kinds=frozenset(kinds))


def _gate(tracking_uri: str | None, block_on: str, block_kinds: tuple[str, ...]) -> Any:
    from drift_tracking.integrations.mlflow_gate import Gate

    return Gate(tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"), rule=_rule(block_on, block_kinds))


@click.group()
def gate() -> None:
    """Gate Model Registry promotions on drift, with the decision recorded on the version.

    \b
    In CI, before a version becomes champion:
      drift-tracking gate promote --model support-bot --version 7 --alias champion
    exits 1 (and leaves the alias where it was) when the version's drift evaluation
    is critical or shows degradation. Audit aliases set by hand with `gate serve`.
    """


@gate.command()
@click.option("--model", "name", required=True, help="Registered model name.")
@click.option("--version", required=True, help="Model version to promote.")
@click.option("--alias", default=None, help="Alias to set when allowed, e.g. champion.")
@click.option("--stage", type=click.Choice(["Staging", "Production"]), default=None,
              help="Stage to transition to when allowed (deprecated in MLflow; prefer --alias).")
@click.option("--archive-existing", is_flag=True, help="With --stage: archive versions already in that stage.")
@click.option("--evaluation-run", "run_id", default=None, help="Decide on this run's drift evaluation.")
@click.option("--baseline", "baseline_uri", default=None,
              help="Run a fresh evaluation against this baseline (with --window).")
@click.option("--window", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Prompts and this version's responses (.jsonl/.csv/.parquet) to evaluate (with --baseline).")
@click.option("--golden", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Golden set answered by this version (prompt, expected, answer): an accuracy drop "
              "from the baseline's makes the drift a degradation (with --baseline/--window).")
@click.option("--golden-baseline-accuracy", type=click.FloatRange(0, 1), default=None,
              help="Golden accuracy to compare with, when the baseline does not record one.")
@click.option("--text-column", default="prompt", show_default=True, help="Prompt column of --window.")
@click.option("--response-column", default=None, help="Response column of --window.")
@click.option("--experiment", default="drift-gate", show_default=True,
              help="MLflow experiment for an evaluation the gate runs itself.")
@_rule_options
@click.option("--override", is_flag=True, help="Promote even if blocked; needs --reason, recorded with your user name.")
@click.option("--reason", default=None, help="Why the override is justified (kept on the version and the run).")
@click.option("--dry-run", is_flag=True, help="Decide and print what would happen; change nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def promote(
    name: str,
    version: str,
    alias: str | None,
    stage: str | None,
    archive_existing: bool,
    run_id: str | None,
    baseline_uri: str | None,
    window: str | None,
    golden: str | None,
    golden_baseline_accuracy: float | None,
    text_column: str,
    response_column: str | None,
    experiment: str,
    tracking_uri: str | None,
    block_on: str,
    block_kinds: tuple[str, ...],
    override: bool,
    reason: str | None,
    dry_run: bool,
    fmt: str,
) -> None:
    """Set --alias / --stage on a model version only if its drift evaluation allows it.

    \b
    The evaluation is, in order of preference:
      --evaluation-run RUN_ID          a run holding a drift evaluation
      --baseline URI --window FILE     a new one, logged to --experiment and tagged for the version
        [--golden FILE]                  with this version's golden-set answers (quality)
      (neither)                        the newest run tagged drift.model_name / drift.model_version
    The version is tagged drift.gate=passed|blocked|overridden whatever happens.
    """
    if not alias and not stage:
        raise click.UsageError("give --alias (e.g. champion) or --stage Production")
    if override and not (reason and reason.strip()):
        raise click.UsageError("--override needs --reason TEXT: an override without a reason is not recorded")
    if reason and not override:
        raise click.UsageError("--reason is only used with --override")
    if bool(baseline_uri) != bool(window):
        raise click.UsageError("--baseline and --window go together: both run a fresh evaluation")
    if (golden or golden_baseline_accuracy is not None) and not baseline_uri:
        raise click.UsageError("--golden is scored in a fresh evaluation: give --baseline and --window too")
    if run_id and baseline_uri:
        raise click.UsageError("use either --evaluation-run or --baseline/--window, not both")
    from drift_tracking.integrations.mlflow_logging import bounded_http_retries

    gate_ = _gate(tracking_uri, block_on, block_kinds)
    with bounded_http_retries(max_retries=2, timeout_s=60), _registry_errors():
        gate_.version(name, version)  # fail fast, before any embedding, if the version or server is missing
        evaluation = None
        if run_id:
            evaluation = gate_.evaluation(name, version, run_id)
        elif baseline_uri:
            from drift_tracking.integrations.mlflow_gate import run_evaluation

            click.echo(f"Evaluating {window} against {baseline_uri} ...", err=True)
            evaluation = run_evaluation(
                None if dry_run else gate_.client, name, version, baseline_uri=baseline_uri, window=window,
                text_column=text_column, response_column=response_column, experiment=experiment,
                tracking_uri=tracking_uri, golden=golden, golden_accuracy=golden_baseline_accuracy,
            )
        result = gate_.promote(
            name, version, alias=alias, stage=stage, evaluation=evaluation,
            override_reason=reason if override else None, dry_run=dry_run, archive_existing=archive_existing,
        )
    if fmt == "json":
        click.echo(json.dumps(_as_dict(result), indent=2))
    else:
        colour = "red" if result.blocked else ("yellow" if result.outcome == "overridden" or result.warnings else "green")
        lines = result.summary()
        click.echo(click.style(lines[0], fg=colour, bold=True))
        for line in lines[1:]:
            click.echo(line)
        if result.blocked:
            click.echo("To promote anyway, re-run with --override --reason TEXT (recorded with your user name).")
    if result.blocked:
        sys.exit(1)


@contextlib.contextmanager
def _registry_errors() -> Iterator[None]:
    """A server failure mid-way becomes one line saying that re-running is safe (the gate is idempotent)."""
    from mlflow.exceptions import MlflowException

    from drift_tracking.integrations.mlflow_gate import GateError
    from drift_tracking.integrations.mlflow_logging import first_line

    try:
        yield
    except MlflowException as exc:
        raise GateError(
            f"the tracking server failed during the gate ({first_line(exc)}); the decision may be partly recorded "
            "but the alias or stage only moves last: run the same command again"
        ) from exc


def _as_dict(result: Any) -> dict[str, Any]:
    ev = result.evaluation
    return {
        "model": result.name, "version": result.version, "target": result.target, "outcome": result.outcome,
        "allowed": result.allowed, "applied": result.applied, "reasons": result.reasons,
        "warnings": result.warnings, "notes": result.notes, "tags": result.tags, "previous": result.previous,
        "evaluation": {"run_id": ev.run_id, "tier": ev.tier, "kind": ev.kind,
                       "baseline_version": ev.baseline_version, "reasons": ev.reasons},
    }


@gate.command()
@click.option("--port", type=click.IntRange(0, 65535), required=True, help="Port to listen on (0 picks a free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind; put a TLS proxy in front before exposing it.")
@click.option("--secret-env", default="MLFLOW_WEBHOOK_SECRET", show_default=True,
              help="Environment variable holding the webhook's secret (never pass secrets on the command line).")
@click.option("--tolerance", type=click.FloatRange(min=1), default=300, show_default=True,
              help="Seconds a delivery's timestamp may differ from now before it is refused as a replay.")
@_rule_options
def serve(
    port: int, host: str, secret_env: str, tolerance: float, tracking_uri: str | None, block_on: str,
    block_kinds: tuple[str, ...],
) -> None:
    """Receive MLflow registry webhooks and audit aliases set outside the gate.

    \b
    Register it once (MLflow 3.x):
      MlflowClient().create_webhook(name="drift-audit", url="http://HOST:PORT/",
          events=["model_version_alias.created"], secret=SECRET)
    Deliveries must carry a valid X-MLflow-Signature (else 401). Webhooks fire after the
    alias moved, so this records drift.gate=audited-passed|audited-blocked|audited-unevaluated
    on the version instead of blocking.
    """
    import logging

    from drift_tracking.integrations.webhook import WebhookReceiver

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    secret = os.environ.get(secret_env, "")
    if not secret:
        raise click.UsageError(f"${secret_env} is empty: set it to the secret the MLflow webhook was created with")
    gate_ = _gate(tracking_uri, block_on, block_kinds)
    receiver = WebhookReceiver(secret, gate_.audit, host=host, port=port, tolerance_s=tolerance)
    click.echo(f"Listening for MLflow webhooks on {receiver.url} (Ctrl-C to stop)", err=True)
    try:
        receiver.serve_forever()
    except KeyboardInterrupt:
        click.echo("Stopped.", err=True)
