"""Re-send spooled reports once their tracking server is back.

Entries spooled by one sink (one ``check`` or one ``monitor`` run) go back into one run,
in window order, so a monitoring trend survives an outage. An entry is moved to
``sent/`` only after its report was logged; one that still fails stays where it is.
MLflow entries go back to their tracking server (or ``tracking_uri``), W&B entries to a
new run in the project and directory they were meant for.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from drift_tracking.errors import ConfigError
from drift_tracking.integrations.mlflow_sink import DEFAULT_EXPERIMENT, MlflowSink
from drift_tracking.integrations.wandb_logger import WandbSink
from drift_tracking.sinks import Sink, SinkFailed, failure_text
from drift_tracking.spool import SpoolEntry, mark_sent, pending_entries, read_entry


def relog(
    path: str | os.PathLike[str],
    *,
    tracking_uri: str | None = None,
    echo: Callable[[str], None] = print,
) -> list[Path]:
    """Send every pending entry under ``path``; returns the entries sent (now under ``sent/``).

    ``tracking_uri`` overrides where MLflow entries were meant to go (a server that moved).
    Stops at the first entry that still cannot be sent and raises :class:`SinkFailed`.
    """
    entries = [read_entry(p) for p in pending_entries(path)]
    groups: dict[str, list[SpoolEntry]] = defaultdict(list)
    for entry in entries:
        groups[str(entry.target.get("session") or entry.path)].append(entry)
    sent: list[Path] = []
    for group in groups.values():
        group.sort(key=lambda e: (_index(e), e.path.name))
        sink = _sink_for(group[0], tracking_uri)
        for entry in group:
            try:
                where = sink.log_report(entry.report, history=entry.history)
            except Exception as exc:  # noqa: BLE001 - whatever failed, the entry stays for the next try
                left = len(entries) - len(sent)
                reason = str(exc) if isinstance(exc, SinkFailed) else failure_text(exc)
                raise SinkFailed(f"{reason}; {left} report(s) stay in the spool, nothing was lost: "
                                 f"run `drift-tracking relog {path}` again later") from exc
            sent.append(mark_sent(entry.path))
            echo(f"Re-logged {entry.path.name} (window {entry.report.window.get('index', '-')}, "
                 f"tier {entry.report.tier}) to {where}")
        try:
            line = sink.close()
        except SinkFailed as exc:  # every report of the group was sent: only the run's status is off
            line = f"warning: {exc}"
        if line:
            echo(line)
    return sent


def _index(entry: SpoolEntry) -> int:
    index = entry.report.window.get("index")
    return index if isinstance(index, int) else -1


def _sink_for(entry: SpoolEntry, tracking_uri: str | None) -> Sink:
    target = entry.target
    if target.get("sink") == "wandb":
        return WandbSink(**{k: target[k] for k in ("project", "dir", "run_name", "entity") if target.get(k)})
    if target.get("sink") != "mlflow":
        raise ConfigError(
            f"{entry.path} was spooled by the {target.get('sink')!r} sink; only MLflow and W&B reports can be "
            "re-logged with this command"
        )
    moved = tracking_uri is not None and tracking_uri != target.get("tracking_uri")
    return MlflowSink(
        tracking_uri=tracking_uri or target.get("tracking_uri"),
        experiment_name=target.get("experiment_name") or DEFAULT_EXPERIMENT,
        run_name=target.get("run_name"),
        run_id=None if moved else target.get("run_id"),
        spool=False,
    )
