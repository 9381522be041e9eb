"""Log drift reports to one MLflow run; spool them locally when logging fails.

One sink is one run: the CLI's ``check --mlflow`` logs a single window to it, the
monitor logs every window as a step of the same run, so the UI draws the trend. The run
is created on the first report, not in ``__init__``, so opening a sink never fails.

Any failure to log, not only an unreachable server (a URI answering 404, a store the
user may not write, a rejected value), spools the report and raises
:class:`~drift_tracking.sinks.SinkFailed` naming the ``relog`` command; the CLI prints
it as a warning and exits 3, after printing the report.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drift_tracking.integrations.common import is_unreachable  # noqa: F401 - re-exported for callers
from drift_tracking.integrations.mlflow_logging import (
    bounded_http_retries,
    experiment_id,
    log_report_to_run,
)
from drift_tracking.report import DriftReport
from drift_tracking.sinks import SinkFailed, SinkUnavailable, failure_text, spool_failed

DEFAULT_EXPERIMENT = "drift-tracking"


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI``, else a SQLite store in ``./mlruns.db`` (the file store is deprecated)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path('mlruns.db').resolve()}"


class MlflowSink:
    """A :class:`~drift_tracking.sinks.Sink` writing every report to one MLflow run.

    Parameters
    ----------
    tracking_uri: server or store; ``None`` uses :func:`default_tracking_uri`.
    experiment_name: created when missing.
    run_name: the run's display name; MLflow picks one when ``None``.
    run_id: log into this existing run instead of creating one (used by relog).
    spool_dir: where reports go when the server cannot be reached.
    spool: ``False`` raises :class:`SinkFailed` without spooling (relog uses it, so a
        report that still cannot be sent stays in its one spool entry).
    max_retries, timeout_s: how long to keep trying a server before spooling.
    """

    name = "mlflow"

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment_name: str = DEFAULT_EXPERIMENT,
        run_name: str | None = None,
        *,
        run_id: str | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        spool: bool = True,
        max_retries: int = 1,
        timeout_s: int = 10,
    ) -> None:
        self.tracking_uri = tracking_uri or default_tracking_uri()
        self.experiment_name = experiment_name or DEFAULT_EXPERIMENT
        self.run_name = run_name
        self.run_id = run_id
        self.spool_dir = spool_dir
        self.spool = spool
        self.session = uuid.uuid4().hex[:12]  # groups one sink's spooled windows back into one run
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self._client: Any = None
        self._params_logged = False
        self.spooled: list[Path] = []

    @property
    def client(self) -> Any:
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def target(self) -> dict[str, Any]:
        """Where this sink sends reports, as stored in a spool entry."""
        return {
            "sink": self.name,
            "tracking_uri": self.tracking_uri,
            "experiment_name": self.experiment_name,
            "run_name": self.run_name,
            "run_id": self.run_id,
            "session": self.session,
        }

    def run_url(self) -> str | None:
        if self.run_id is None:
            return None
        if self.tracking_uri.startswith(("http://", "https://")):
            experiment = self.client.get_run(self.run_id).info.experiment_id
            return f"{self.tracking_uri.rstrip('/')}/#/experiments/{experiment}/runs/{self.run_id}"
        return f"run {self.run_id} in {self.tracking_uri}"

    def log_report(self, report: DriftReport, *, history: Sequence[dict[str, Any]] = ()) -> str | None:
        """Log one window at step ``report.window['index']``; on any failure spool it and raise SinkFailed."""
        try:
            with bounded_http_retries(self.max_retries, self.timeout_s):
                run_id = self._ensure_run()
                log_report_to_run(self.client, run_id, report, history=history, log_params=not self._params_logged)
                self._params_logged = True
                return self.run_url()
        except Exception as exc:  # noqa: BLE001 - any failure to log must spool, not lose the report
            raise self._spool(report, history, exc) from exc

    def close(self) -> str | None:
        """Mark the run finished; a line for the user saying where it is (or what was spooled).

        Raises :class:`SinkFailed` when the run was logged but cannot be marked finished.
        """
        if self.run_id is not None and not self.spooled:
            try:
                # MLflow prints "View run ..." on stdout, where a report in JSON may be going
                with bounded_http_retries(self.max_retries, self.timeout_s), contextlib.redirect_stdout(sys.stderr):
                    self.client.set_terminated(self.run_id)
                    return f"MLflow run: {self.run_url()}"
            except Exception as exc:  # noqa: BLE001
                raise SinkFailed(f"MLflow run {self.run_id} at {self.tracking_uri} holds every report but could "
                                 f"not be marked finished ({failure_text(exc)})") from exc
        if self.spooled:
            return f"{len(self.spooled)} report(s) spooled; re-send with: drift-tracking relog {self.spooled[0].parent}"
        return None

    # -- internals -----------------------------------------------------------------
    def _ensure_run(self) -> str:
        if self.run_id is None:
            tags = {"mlflow.runName": self.run_name} if self.run_name else None
            run = self.client.create_run(
                experiment_id(self.client, self.experiment_name), tags=tags, run_name=self.run_name
            )
            self.run_id = run.info.run_id
        return self.run_id

    def _spool(self, report: DriftReport, history: Sequence[dict[str, Any]], exc: Exception) -> SinkFailed:
        unreachable = is_unreachable(exc)
        if not self.spool:
            cls = SinkUnavailable if unreachable else SinkFailed
            return cls(f"MLflow at {self.tracking_uri} {'is unreachable' if unreachable else 'failed'} "
                       f"({failure_text(exc)})")
        return spool_failed(self, report, history, exc, what=f"MLflow at {self.tracking_uri}",
                            spool_dir=self.spool_dir, unreachable=unreachable)
