"""How a command shows a report and sends it on: terminal text, report folders and sinks.

Shared by ``check``, ``monitor`` and ``demo``, so the three print, write and log a
window the same way. A sink that fails costs an exit code (3), never the report.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from drift_tracking.cli_common import EXIT_SINK_FAILED
from drift_tracking.errors import DriftTrackingError
from drift_tracking.html_report import write_report_folder
from drift_tracking.integrations.mlflow_sink import MlflowSink
from drift_tracking.integrations.wandb_logger import WandbSink
from drift_tracking.report import TIER_LEVEL, DriftReport
from drift_tracking.sinks import Sink, SinkFailed, failure_text, spool_failed

TIER_COLOURS = {"ok": "green", "review": "yellow", "critical": "red"}
WINDOWS_DIR = "windows"
#: What a report folder holds (besides ``windows/`` for a monitor): a rerun may replace these.
REPORT_FOLDER_FILES = ("report.json", "report.html", "cluster_scatter.png", "cluster_shares.png",
                       "metric_timeseries.png", WINDOWS_DIR)


def open_sinks(
    *, use_mlflow: bool, use_wandb: bool, tracking_uri: str | None, experiment: str,
    wandb_project: str, wandb_dir: str | None, run_name: str | None = None,
) -> list[Sink]:
    """The sinks a command logs to; each imports its SDK only when it first logs."""
    sinks: list[Sink] = []
    if use_mlflow:
        sinks.append(MlflowSink(tracking_uri=tracking_uri, experiment_name=experiment, run_name=run_name))
    if use_wandb:
        sinks.append(WandbSink(project=wandb_project, dir=wandb_dir, run_name=run_name))
    return sinks


def emit(report: DriftReport, sinks: list[Sink], history: Sequence[dict[str, Any]] | None = None, *,
         announce: bool = True) -> list[str]:
    """Send a report to every sink; returns the failures, each spooled and already printed as a warning.

    Whatever a sink raises, the report is kept (the sink spools it, or this does) and the
    others still get it: a sink can cost an exit code (3), never the report. ``announce``
    prints where each report landed (the demo says it once, when the sinks close).
    """
    failures: list[str] = []
    for sink in sinks:
        try:
            where = sink.log_report(report, history=history or ())
            if where and announce:
                click.echo(f"Logged to {sink.name}: {where}", err=True)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            failure = exc if isinstance(exc, SinkFailed) else spool_failed(sink, report, history or (), exc)
            click.echo(click.style(f"warning: {failure}", fg="yellow"), err=True)
            failures.append(str(failure))
    return failures


def close_sinks(sinks: list[Sink], lines: list[str] | None = None) -> list[str]:
    """Close every sink; returns the failures (printed as warnings).

    Each sink's closing line (where its run is) is printed, or added to ``lines`` when
    the caller prints it later.
    """
    failures: list[str] = []
    for sink in sinks:
        try:
            line = sink.close()
        except Exception as exc:  # noqa: BLE001 - one sink failing to close must not stop the others
            failures.append(str(exc) if isinstance(exc, DriftTrackingError) else
                            f"{sink.name} could not be closed ({failure_text(exc)})")
            click.echo(click.style(f"warning: {failures[-1]}", fg="yellow"), err=True)
            continue
        if line and lines is not None:
            lines.append(line)
        elif line:
            click.echo(line, err=True)
    return failures


def write_report_dir(report: DriftReport, folder: str | Path, history: Sequence[dict[str, Any]] = (), *,
                     per_window: bool = False) -> Path:
    """``--report DIR``: the page a person opens (``report.html``), the JSON and the figures.

    With ``per_window`` (the monitor) each window is written to ``windows/<index>/`` and
    copied to the root, which so holds the latest window (its time series covers all the
    windows before it), as an MLflow run does. Returns the page.
    """
    root = Path(folder)
    target = root / WINDOWS_DIR / str(report.step()) if per_window else root
    written = write_report_folder(report, target, report.history_with(history))
    if per_window:
        for path in written:
            shutil.copyfile(path, root / path.name)
    return root / "report.html"


def exit_if_reached(fail_on: str | None, tiers: list[str], sink_failures: list[str] | None = None) -> None:
    """Exit 1 when any of ``tiers`` reaches the ``--fail-on`` level, else 3 when a sink failed."""
    if fail_on and max((TIER_LEVEL[t] for t in tiers), default=0) >= TIER_LEVEL[fail_on]:
        sys.exit(1)
    if sink_failures:
        sys.exit(EXIT_SINK_FAILED)


def format_window_line(report: Any) -> str:
    """One line per monitored window: when, the decision, and its first reason."""
    w = report.window
    tier = click.style(f"{report.tier.upper():<8}", fg=TIER_COLOURS[report.tier], bold=True)
    reason = report.tier_reasons[0] if report.tier_reasons else ""
    line = f"[{w.get('index')}] {w.get('start', '?')} .. {w.get('end', '?')}  {tier} n={report.n_samples:<5} {reason}"
    if report.retrain_recommended:
        line += "  | retrain recommended"
    return line


def format_report(report: Any) -> str:
    """A terminal summary: the decision first, then the numbers behind it."""
    tier = click.style(report.tier.upper(), fg=TIER_COLOURS[report.tier], bold=True)
    lines = [
        f"Drift tier: {tier}   (kind: {report.drift_kind}, {report.n_samples} window vs {report.n_baseline} baseline)",
        *[f"  - {r}" for r in report.tier_reasons],
        "",
        "Metrics (prompts)" + ("   | responses" if report.response_metrics else ""),
    ]
    for name, value in report.metrics.items():
        row = f"  {name:<22} {_fmt(value):>10}"
        if report.response_metrics:
            row += f"   | {_fmt(report.response_metrics.get(name)):>10}"
        lines.append(row)
    lines.append(f"Thresholds: {report.thresholds.get('source', '?')}")
    lines += _quality_lines(report)
    if report.novel_clusters:
        lines += ["", "Novel clusters (no baseline neighbours):"]
        for c in report.novel_clusters[:5]:
            example = c["examples"][0] if c.get("examples") else ""
            label = f"{c['label']}: " if c.get("label") else ""
            lines.append(f"  #{c['id']:<3} {c['share']:>6.1%}  {label}e.g. {example[:80]!r}")
    if report.retrain_recommended:
        lines.append(click.style(f"Retraining recommended: {report.retrain_reason}", bold=True))
    lines += [click.style(f"warning: {w}", fg="yellow") for w in report.warnings]
    return "\n".join(lines)


def _quality_lines(report: Any) -> list[str]:
    lines = []
    for name, signal in (report.quality or {}).items():
        value = signal.get("accuracy", signal.get("mean", signal.get("flag_rate")))
        change = signal.get("relative_drop", signal.get("relative_increase"))
        what = "relative increase" if "relative_increase" in signal else "relative drop"
        shown = f"   ({what} {change:.1%})" if change is not None else ""
        lines.append(f"Quality {name:<9} {_fmt(value):>10}{shown}")
    if report.material_degradation:
        lines.append(click.style("Material degradation: golden-set accuracy dropped more than 10%", fg="red"))
    return lines


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)
