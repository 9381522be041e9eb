"""Where reports go. A sink is a thin adapter: it receives a finished DriftReport and logs it.

Sinks never change a decision; they only record it. A sink that fails, for whatever
reason (a server down, a URI answering 404, a permission error, a bug), must keep the
report (spool it locally) and say how to re-send it, never drop it: :func:`spool_failed`
is what the CLI calls for a sink that raised anything other than :class:`SinkFailed`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from drift_tracking.errors import DriftTrackingError
from drift_tracking.report import DriftReport
from drift_tracking.spool import spool_report

# Attributes of a sink without a ``target()`` that say where its reports go (W&B: project, dir ...).
_TARGET_ATTRIBUTES = ("project", "entity", "dir", "run_name", "experiment_name", "tracking_uri")


class SinkFailed(DriftTrackingError):
    """A sink could not log a report; the message says where it was spooled and how to re-send it."""


class SinkUnavailable(SinkFailed):
    """The tracking server could not be reached; the report was spooled (the message says where)."""


@runtime_checkable
class Sink(Protocol):
    """What the CLI, the monitor and the examples call for every window."""

    name: str

    def log_report(self, report: DriftReport, *, history: Sequence[dict[str, Any]] = ()) -> str | None:
        """Log one window; ``report.window['index']`` is its step. Returns where it landed."""

    def close(self) -> str | None:
        """Finish the run; returns a line for the user (a URL, a directory, a sync command)."""


def failure_text(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line`` of an error: enough for a one-line warning, without a server's traceback."""
    text = str(exc).strip()
    first = text.splitlines()[0][:limit] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def sink_target(sink: Any) -> dict[str, Any]:
    """Where ``sink`` sends reports, as a spool entry records it: its ``target()``, else its settings."""
    target = getattr(sink, "target", None)
    if callable(target):
        return dict(target())
    name = getattr(sink, "name", type(sink).__name__)
    # one sink's entries share a session, so relog sends them back into one run
    found = {"sink": name, "session": f"{name}-{os.getpid()}-{id(sink):x}"}
    for attribute in _TARGET_ATTRIBUTES:
        value = getattr(sink, attribute, None)
        if isinstance(value, (str, os.PathLike)):
            found[attribute] = str(value)
    return found


def resend_hint(entry: Path, target: dict[str, Any]) -> str:
    """The command that re-sends a spooled entry."""
    extra = " [--tracking-uri URI]" if target.get("sink") == "mlflow" else ""
    return f"drift-tracking relog {entry}{extra}"


def spool_failed(
    sink: Any,
    report: DriftReport,
    history: Sequence[dict[str, Any]],
    exc: BaseException,
    *,
    what: str | None = None,
    spool_dir: str | os.PathLike[str] | None = None,
    unreachable: bool = False,
    target: dict[str, Any] | None = None,
) -> SinkFailed:
    """Spool ``report`` that ``sink`` failed to log; returns the error to raise or print.

    ``what`` names the destination in the message (default: the sink's name); ``target``
    replaces :func:`sink_target` for callers without a sink object. When even the spool
    cannot be written (a full or read-only disk), the message says so: the report then
    survives only in the command's own output.
    """
    target = dict(target) if target is not None else sink_target(sink)
    label = what or str(target.get("sink"))
    problem = "is unreachable" if unreachable else "failed"
    cls = SinkUnavailable if unreachable else SinkFailed
    try:
        entry = spool_report(report, target, history=history, spool_dir=spool_dir)
    except OSError as spool_exc:
        return cls(f"{label} {problem} ({failure_text(exc)}) and the report could not be spooled either "
                   f"({failure_text(spool_exc)}): it is only in this command's output")
    spooled = getattr(sink, "spooled", None)
    if isinstance(spooled, list):
        spooled.append(entry)
    return cls(f"{label} {problem} ({failure_text(exc)}); the report was spooled to {entry}. "
               f"Re-send it with: {resend_hint(entry, target)}")
