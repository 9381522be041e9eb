"""The scheduled monitor: every N hours, check the last complete window of a production log.

The compose stack's ``monitor`` service runs ``python -m drift_tracking.scheduled``; cron,
a Kubernetes CronJob or Airflow run the same command with ``--once``. Each tick

1. takes the window ``[end - N h, end)``, where ``end`` is the latest multiple of N hours
   (counted from the Unix epoch in UTC, so 6-hour windows end at 00, 06, 12 and 18 UTC)
   that lies at least ``--grace-minutes`` in the past, so late log lines have landed;
2. selects the log rows whose timestamp falls in it: windows never overlap, so no
   request is counted twice and none is skipped between two ticks;
3. runs ``drift-tracking check`` on those rows against the baseline
   (``models:/NAME@production`` in the stack) with a persistent ``--history`` (the
   persistence rule needs earlier windows) and ``--mlflow``, so the report, metrics and
   tier land on the tracking server;
4. appends the outcome to a ledger, ``STATE/scheduled_windows.jsonl``. A window the ledger
   holds as checked (or as having no traffic, or fewer than ``--min-rows`` rows) is not
   checked again; windows missed while the job was down or failing (up to ``--catch-up``
   of them) are checked on the next tick, oldest first.

The check is the same ``check`` command a person runs by hand, in a subprocess: one
process per window keeps a job that runs for months at a flat memory footprint, and an
error in one window (a missing baseline, an unreachable server) cannot stop the schedule.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from drift_tracking.data import SUPPORTED_FORMATS, read_table
from drift_tracking.errors import DataError, DriftTrackingError
from drift_tracking.metrics import MIN_WINDOW
from drift_tracking.monitor import History

if TYPE_CHECKING:
    import pandas as pd

LEDGER = "scheduled_windows.jsonl"
HEARTBEAT = "heartbeat"
_DONE = ("checked", "no-traffic", "too-few-rows")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LEVELS = {"ok": 0, "review": 1, "critical": 2}


@dataclass(frozen=True)
class Window:
    """The half-open time range ``[start, end)`` one tick checks."""

    start: datetime
    end: datetime

    @property
    def stamp(self) -> str:
        """A file-name-safe label that sorts in time order."""
        return f"{self.start:%Y%m%dT%H%M%SZ}-{self.end:%Y%m%dT%H%M%SZ}"

    def label(self) -> str:
        return f"{_iso(self.start)} .. {_iso(self.end)}"


@dataclass
class JobOptions:
    """What the job needs to know; every field has a command-line option of the same name."""

    log: Path
    baseline: str
    state: Path
    every: timedelta = timedelta(hours=6)
    grace: timedelta = timedelta(minutes=10)
    catch_up: int = 4
    min_rows: int = MIN_WINDOW
    timestamp_column: str = "timestamp"
    text_column: str = "prompt"
    response_column: str | None = None
    tracking_uri: str | None = None
    experiment: str = "drift-monitor"
    config: str | None = None
    fail_on: str | None = None
    check_args: Sequence[str] = field(default_factory=tuple)

    @property
    def ledger(self) -> History:
        return History(self.state / LEDGER)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; one without a zone is taken as UTC (log timestamps usually are)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DataError(f"--now {text!r} is not an ISO 8601 time such as 2026-02-01T06:10:00Z") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def last_boundary(now: datetime, every: timedelta, grace: timedelta) -> datetime:
    """The end of the newest window that closed at least ``grace`` ago."""
    step = every.total_seconds()
    elapsed = (now - grace - _EPOCH).total_seconds()
    return _EPOCH + timedelta(seconds=(elapsed // step) * step)


def due_windows(now: datetime, every: timedelta, grace: timedelta, catch_up: int,
                last_done: datetime | None) -> list[Window]:
    """The windows to check now, oldest first: the last closed one and up to ``catch_up``
    before it, leaving out any that end at or before the newest window already done
    (checking an older window after a newer one would feed the persistence rule out of order).
    """
    end = last_boundary(now, every, grace)
    windows = [Window(end - (i + 1) * every, end - i * every) for i in range(catch_up, -1, -1)]
    return [w for w in windows if last_done is None or w.end > last_done]


def last_done(records: Sequence[dict[str, Any]]) -> datetime | None:
    """End of the newest window the ledger records as checked (or as having no traffic)."""
    ends = [parse_time(r["end"]) for r in records if r.get("outcome") in _DONE and r.get("end")]
    return max(ends, default=None)


# -- one window -----------------------------------------------------------------------------
def read_log(path: Path) -> "pd.DataFrame":
    """The production log: one file, or every log file in a folder (rotated logs), as one table."""
    import pandas as pd

    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_FORMATS)
        if not files:
            raise DataError(f"no log files ({', '.join(SUPPORTED_FORMATS)}) in {path}; point --log at the log")
        return pd.concat([read_table(p) for p in files], ignore_index=True)
    return read_table(path)


def rows_in(table: "pd.DataFrame", column: str, window: Window) -> tuple["pd.DataFrame", int]:
    """The rows logged in ``window``, and how many rows have no usable timestamp."""
    import pandas as pd

    if column not in table.columns:
        raise DataError(
            f"the log has no column {column!r} (columns: {', '.join(map(str, table.columns))}); "
            "pass --timestamp-column"
        )
    times = pd.to_datetime(table[column], utc=True, errors="coerce", format="ISO8601")
    inside = (times >= pd.Timestamp(window.start)) & (times < pd.Timestamp(window.end))
    return table[inside.to_numpy()], int(times.isna().sum())


def check_command(rows_path: Path, report_path: Path, options: JobOptions) -> list[str]:
    """``drift-tracking check`` on one window's rows, logged to MLflow, with the job's history."""
    command = [
        sys.executable, "-m", "drift_tracking.cli", "check", str(rows_path), "--baseline", options.baseline,
        "--text-column", options.text_column, "--history", str(options.state / "history"),
        "--out", str(report_path), "--format", "json", "--mlflow", "--experiment", options.experiment,
    ]
    for flag, value in (("--response-column", options.response_column), ("--tracking-uri", options.tracking_uri),
                        ("--config", options.config)):
        if value:
            command += [flag, value]
    return command + list(options.check_args)


def check_window(window: Window, table: "pd.DataFrame", options: JobOptions,
                 echo: Callable[[str], None]) -> dict[str, Any]:
    """Check one window and append its outcome to the ledger; returns the ledger record."""
    rows, undated = rows_in(table, options.timestamp_column, window)
    record: dict[str, Any] = {"start": _iso(window.start), "end": _iso(window.end), "rows": len(rows),
                              "undated_rows": undated, "checked_at": _iso(datetime.now(timezone.utc))}
    if rows.empty:
        record["outcome"] = "no-traffic"
        echo(f"[{window.label()}] no traffic logged in this window: nothing to check")
    elif len(rows) < options.min_rows:
        record["outcome"] = "too-few-rows"
        echo(f"[{window.label()}] {len(rows)} rows, fewer than --min-rows {options.min_rows}: too few to compare")
    else:
        record.update(_run_check(window, rows, options))
        tier = record.get("tier")
        result = tier.upper() if tier else f"FAILED (exit {record['exit_code']}; see the messages above)"
        echo(f"[{window.label()}] {len(rows)} rows: {result}" + (f"  report {record['report']}" if tier else ""))
    options.ledger.append(record)
    return record


def _run_check(window: Window, rows: "pd.DataFrame", options: JobOptions) -> dict[str, Any]:
    """Write the window's rows to a file, run ``check`` on it, and read back its decision."""
    for folder in ("windows", "reports", "history"):
        (options.state / folder).mkdir(parents=True, exist_ok=True)
    rows_path = options.state / "windows" / f"{window.stamp}.jsonl"
    report_path = options.state / "reports" / f"{window.stamp}.json"
    report_path.unlink(missing_ok=True)  # only a report this run writes may count as the outcome
    rows.to_json(rows_path, orient="records", lines=True, date_format="iso", force_ascii=False)
    try:
        # stdout is the report again (it is in --out); stderr carries check's own messages
        code = subprocess.run(check_command(rows_path, report_path, options), stdout=subprocess.DEVNULL).returncode
    finally:
        rows_path.unlink(missing_ok=True)  # production prompts are not kept beyond the check
    if code != 0 or not report_path.exists():
        return {"outcome": "failed", "exit_code": code}
    report = json.loads(report_path.read_text())
    return {"outcome": "checked", "exit_code": 0, "tier": report["tier"], "report": str(report_path),
            "metrics": {k: report["metrics"].get(k) for k in ("js_divergence", "novel_cluster_share")}}


# -- ticks and the schedule -----------------------------------------------------------------
def run_once(options: JobOptions, now: datetime, echo: Callable[[str], None] = click.echo) -> int:
    """Check every due window; 0 all fine, 1 a window reached ``fail_on``, 2 a window failed."""
    due = due_windows(now, options.every, options.grace, options.catch_up, last_done(options.ledger.read()))
    if not due:
        echo(f"[{_iso(last_boundary(now, options.every, options.grace))}] the last window is already checked")
        return 0
    table = read_log(options.log)
    records = [check_window(window, table, options, echo) for window in due]
    if any(r["outcome"] == "failed" for r in records):
        return 2
    threshold = _LEVELS.get(options.fail_on or "", 99)
    return 1 if any(_LEVELS.get(r.get("tier", ""), -1) >= threshold for r in records) else 0


def run_forever(options: JobOptions, *, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                sleep: Callable[[float], None] = time.sleep, echo: Callable[[str], None] = click.echo) -> None:
    """Tick at every window boundary (plus the grace period) until stopped.

    A tick that fails is reported and retried at the next boundary (``catch_up`` keeps
    its window due). The heartbeat file is touched at least once a minute, so a
    container health check can tell a sleeping job from a hung one.
    """
    heartbeat = options.state / HEARTBEAT
    while True:
        try:
            run_once(options, clock(), echo)
        except DriftTrackingError as exc:
            echo(f"Error: {exc}")
        wake = last_boundary(clock(), options.every, options.grace) + options.every + options.grace
        echo(f"next check at {_iso(wake)}")
        while (left := (wake - clock()).total_seconds()) > 0:
            heartbeat.parent.mkdir(parents=True, exist_ok=True)
            heartbeat.touch()
            sleep(min(left, 60.0))


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--log", "log_path", required=True, type=click.Path(path_type=Path),
              help="Production log (.jsonl/.csv/.parquet, or a folder of them) with a timestamp column.")
@click.option("--baseline", required=True, help="Baseline URI, e.g. models:/support-bot-baseline@production.")
@click.option("--every-hours", type=click.FloatRange(min=0, min_open=True), default=6, show_default=True,
              help="Window length and schedule: each tick checks the last N hours.")
@click.option("--grace-minutes", type=click.FloatRange(min=0), default=10, show_default=True,
              help="Wait this long after a window closes before checking it (late log lines).")
@click.option("--catch-up", type=click.IntRange(0, 1000), default=4, show_default=True,
              help="Also check up to this many earlier windows that were missed (job down, check failed).")
@click.option("--min-rows", type=click.IntRange(min=MIN_WINDOW), default=MIN_WINDOW, show_default=True,
              help="A window with fewer rows is recorded as too small and not compared.")
@click.option("--state", type=click.Path(file_okay=False, path_type=Path), default=Path("drift-monitor-state"),
              show_default=True, help="Folder for the ledger, the drift history and the reports.")
@click.option("--timestamp-column", default="timestamp", show_default=True)
@click.option("--text-column", default="prompt", show_default=True)
@click.option("--response-column", default=None, help="Column of the model's responses (optional).")
@click.option("--tracking-uri", default=None, help="MLflow server [default: $MLFLOW_TRACKING_URI].")
@click.option("--experiment", default="drift-monitor", show_default=True, help="MLflow experiment of the checks.")
@click.option("--config", default=None, help="Policy TOML passed to check (thresholds, persistence, quality).")
@click.option("--fail-on", type=click.Choice(["review", "critical"]), default=None,
              help="With --once: exit 1 when a checked window reaches this tier.")
@click.option("--once", is_flag=True, help="Check the due windows and exit (for cron / CronJob), instead of looping.")
@click.option("--now", default=None,
              help="Act as if it were this time (ISO 8601; implies --once): backfill a window, or test.")
@click.argument("check_args", nargs=-1, type=click.UNPROCESSED)
def main(log_path: Path, baseline: str, every_hours: float, grace_minutes: float, catch_up: int, min_rows: int,
         state: Path,
         timestamp_column: str, text_column: str, response_column: str | None, tracking_uri: str | None,
         experiment: str, config: str | None, fail_on: str | None, once: bool, now: str | None,
         check_args: tuple[str, ...]) -> None:
    """Check the last window of a production log every N hours against a baseline.

    Arguments after `--` go to `drift-tracking check` as they are (e.g. `-- --wandb`).
    Empty option values (as an unset variable in a compose file gives) count as not given.
    """
    options = JobOptions(
        log=log_path, baseline=baseline, state=state, every=timedelta(hours=every_hours),
        grace=timedelta(minutes=grace_minutes), catch_up=catch_up, min_rows=min_rows, timestamp_column=timestamp_column,
        text_column=text_column, response_column=response_column or None, tracking_uri=tracking_uri or None,
        experiment=experiment, config=config or None, fail_on=fail_on, check_args=check_args,
    )
    if once or now:
        try:
            sys.exit(run_once(options, parse_time(now) if now else datetime.now(timezone.utc)))
        except DriftTrackingError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # docker stop: end between two windows
    click.echo(f"Checking {log_path} every {every_hours:g} h against {baseline}; state in {state}")
    run_forever(options)


if __name__ == "__main__":  # pragma: no cover
    main()
