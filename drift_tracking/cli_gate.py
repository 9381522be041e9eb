"""``drift-tracking gate``: promote registry versions only when their drift allows it.

Exit codes for CI: 0 promoted (or would be, with ``--dry-run``), 1 blocked or refused
(the reason is printed), 2 usage or input error. MLflow is imported only when a command runs, so
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

from drift_tracking.cli_common import EXIT_CODES_EPILOG, TRACKING_URI_HELP, tracking_store
from drift_tracking.integrations.mlflow_gate import NO_KEY, Gate, GateError, GateRule, run_evaluation
from drift_tracking.integrations.mlflow_logging import bounded_http_retries, first_line
from drift_tracking.integrations.webhook import WebhookReceiver

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
    func = click.option("--tracking-uri", default=None, help=TRACKING_URI_HELP)(func)
    return func


def _rule(block_on: str, block_kinds: tuple[str, ...]) -> Any:
    kinds = {"degradation"} if not block_kinds else {k for k in block_kinds if k != "none"}
    return GateRule(block_on=block_on, block_kinds=frozenset(kinds))


def _gate(tracking_uri: str | None, block_on: str, block_kinds: tuple[str, ...], **options: Any) -> Any:
    return Gate(tracking_store(tracking_uri, lookup=True), rule=_rule(block_on, block_kinds), **options)


@click.group()
def gate() -> None:
    """Gate Model Registry promotions on drift, with the decision recorded on the version.

    \b
    In CI, before a version becomes champion:
      drift-tracking gate promote --model support-bot --version 7 --alias champion
    exits 1 (and leaves the alias where it was) when the version's drift evaluation
    is critical or shows degradation. Audit aliases set by hand with `gate serve`.
    """


@gate.command(epilog=EXIT_CODES_EPILOG)
@click.option("--model", "name", required=True, help="Registered model name.")
@click.option("--version", required=True, help="Model version to promote.")
@click.option("--alias", default=None, help="Alias to set when allowed, e.g. champion.")
@click.option("--stage", type=click.Choice(["Staging", "Production"]), default=None,
              help="Stage to transition to when allowed (deprecated in MLflow; prefer --alias).")
@click.option("--archive-existing", is_flag=True, help="With --stage: archive versions already in that stage.")
@click.option("--evaluation-run", "run_id", default=None,
              help="Decide on this run's signed evaluation [default: the newest run tagged for the version].")
@click.option("--baseline", "baseline_uri", default=None,
              help="With --window: the baseline to evaluate against. Alone: the baseline a signed evaluation must "
              "have used [default: the registry URI the evaluation names].")
@click.option("--window", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Prompts and this version's responses (.jsonl/.csv/.parquet): the gate evaluates the version "
              "itself (needs --baseline; required when DRIFT_TRACKING_GATE_KEY is not set).")
@click.option("--golden", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Golden set answered by this version (prompt, expected, answer): an accuracy drop "
              "from the baseline's makes the drift a degradation (with --baseline/--window).")
@click.option("--golden-baseline-accuracy", type=click.FloatRange(0, 1), default=None,
              help="Golden accuracy to compare with, when the baseline does not record one.")
@click.option("--text-column", default="prompt", show_default=True, help="Prompt column of --window.")
@click.option("--response-column", default=None, help="Response column of --window.")
@click.option("--embedding-model", "embedding_model", default=None,
              help="Embedding model for --window when the baseline's is not the bundled one (a local folder "
              "or a Hub name); its files must hash to the baseline's pinned weights.")
@click.option("--experiment", default="drift-gate", show_default=True,
              help="MLflow experiment for an evaluation the gate runs itself.")
@click.option("--max-age", default="7d", show_default=True, callback=lambda _c, _p, v: _age_seconds(v),
              help="Refuse a signed evaluation older than this: seconds, or a number with s, m, h or d.")
@_rule_options
@click.option("--override", is_flag=True,
              help="Promote even if blocked or refused; needs --reason, recorded with your user name.")
@click.option("--reason", default=None, help="Why the override is justified (kept on the version and the run).")
@click.option("--dry-run", is_flag=True, help="Decide and print what would happen; change nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: the outcome and its reasons for people; json: one JSON object on stdout.")
def promote(
    name: str, version: str, alias: str | None, stage: str | None, archive_existing: bool, run_id: str | None,
    baseline_uri: str | None, window: str | None, golden: str | None, golden_baseline_accuracy: float | None,
    text_column: str, response_column: str | None, embedding_model: str | None, experiment: str, max_age: float,
    tracking_uri: str | None, block_on: str, block_kinds: tuple[str, ...], override: bool, reason: str | None,
    dry_run: bool, fmt: str,
) -> None:
    """Set --alias / --stage on a model version only if a drift evaluation the gate trusts allows it.

    \b
    Two modes, named in the output and in the version's drift.gate_mode tag:
      signed-evaluation  with DRIFT_TRACKING_GATE_KEY set and no --window: the version's
                         signed evaluation (--evaluation-run, else the newest run tagged
                         for it) is verified: signature, model and version, tags, age
                         (--max-age), report bytes, and baseline (--baseline, else the
                         registry URI it names). One that fails is REFUSED (exit 1).
      re-evaluated       --baseline URI --window FILE [--golden FILE]: the gate evaluates
                         the version itself, logs the run to --experiment (signed when the
                         key is set) and decides on it. Without the key, the only mode.
    The version is tagged drift.gate=passed|blocked|refused|overridden whatever happens.
    """
    _check_promote_options(alias, stage, override, reason, run_id, baseline_uri, window,
                           golden or golden_baseline_accuracy is not None)

    gate_ = _gate(tracking_uri, block_on, block_kinds, max_age_s=max_age)
    if gate_.key is None and not window:
        raise click.UsageError(NO_KEY)
    with bounded_http_retries(max_retries=2, timeout_s=60), _registry_errors():
        gate_.version(name, version)  # fail fast, before any embedding, if the version or server is missing
        evaluation = None
        if window:
            click.echo(f"Evaluating {window} against {baseline_uri} ...", err=True)
            evaluation = run_evaluation(
                None if dry_run else gate_.client, name, version, baseline_uri=str(baseline_uri), window=window,
                text_column=text_column, response_column=response_column, experiment=experiment,
                tracking_uri=tracking_uri, golden=golden, golden_accuracy=golden_baseline_accuracy, key=gate_.key,
                embedding_model=embedding_model,
            )
        result = gate_.promote(
            name, version, alias=alias, stage=stage, evaluation=evaluation, run_id=run_id, baseline=baseline_uri,
            override_reason=reason if override else None, dry_run=dry_run, archive_existing=archive_existing,
        )
    _print_result(result, fmt)
    if result.blocked:
        sys.exit(1)


def _check_promote_options(alias: str | None, stage: str | None, override: bool, reason: str | None,
                           run_id: str | None, baseline_uri: str | None, window: str | None, golden: bool) -> None:
    """Usage errors (exit 2) before anything is read from the server."""
    if not alias and not stage:
        raise click.UsageError("give --alias (e.g. champion) or --stage Production")
    if override and not (reason and reason.strip()):
        raise click.UsageError("--override needs --reason TEXT: an override without a reason is not recorded")
    if reason and not override:
        raise click.UsageError("--reason is only used with --override")
    if window and not baseline_uri:
        raise click.UsageError("--window needs --baseline: the gate evaluates the window against that baseline")
    if golden and not window:
        raise click.UsageError("--golden is scored in a fresh evaluation: give --baseline and --window too")
    if run_id and window:
        raise click.UsageError("use either --evaluation-run or --window, not both")


def _age_seconds(text: str) -> float:
    """``90``, ``90s``, ``30m``, ``12h``, ``7d`` -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value = text.strip().lower()
    number, unit = (value[:-1], value[-1]) if value[-1:] in units else (value, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an age: use seconds or a number with s, m, h or d (7d)") from None
    if not seconds > 0 or seconds == float("inf"):
        raise click.BadParameter(f"{text!r}: the maximum age must be a positive, finite duration")
    return seconds


def _print_result(result: Any, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(_as_dict(result), indent=2))
        return
    colour = "red" if result.blocked else ("yellow" if result.outcome == "overridden" or result.warnings else "green")
    lines = result.summary()
    click.echo(click.style(lines[0], fg=colour, bold=True))
    for line in lines[1:]:
        click.echo(line)
    if result.blocked:
        click.echo("To promote anyway, re-run with --override --reason TEXT (recorded with your user name).")


@contextlib.contextmanager
def _registry_errors() -> Iterator[None]:
    """A server failure mid-way becomes one line saying that re-running is safe (the gate is idempotent)."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        raise GateError(
            f"the tracking server failed during the gate ({first_line(exc)}); the decision may be partly recorded "
            "but the alias or stage only moves last: run the same command again"
        ) from exc


def _as_dict(result: Any) -> dict[str, Any]:
    ev = result.evaluation
    evaluation = {"run_id": result.refused_run, "refused": True} if ev is None else {
        "run_id": ev.run_id, "tier": ev.tier, "kind": ev.kind, "baseline_version": ev.baseline_version,
        "baseline_sha256": ev.baseline_sha256, "baseline_registry": ev.baseline_registry,
        "window_sha256": ev.window_sha256, "report_sha256": ev.report_sha256, "evaluated_at": ev.evaluated_at,
        "reasons": ev.reasons,
    }
    return {
        "model": result.name, "version": result.version, "target": result.target, "outcome": result.outcome,
        "mode": result.mode, "allowed": result.allowed, "applied": result.applied, "reasons": result.reasons,
        "warnings": result.warnings, "notes": result.notes, "tags": result.tags, "previous": result.previous,
        "evaluation": evaluation,
    }


@gate.command(epilog=EXIT_CODES_EPILOG)
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
