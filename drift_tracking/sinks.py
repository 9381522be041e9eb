"""Where reports go. A sink is a thin adapter: it receives a finished DriftReport and logs it.

Sinks never change a decision; they only record it. A sink that cannot reach its
server must keep the report (spool it locally) and say how to re-send it, never drop it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from drift_tracking.errors import DriftTrackingError
from drift_tracking.report import DriftReport


class SinkUnavailable(DriftTrackingError):
    """The tracking server could not be reached; the report was spooled (the message says where)."""


@runtime_checkable
class Sink(Protocol):
    """What the CLI, the monitor and the examples call for every window."""

    name: str

    def log_report(self, report: DriftReport, *, history: Sequence[dict[str, Any]] = ()) -> str | None:
        """Log one window; ``report.window['index']`` is its step. Returns where it landed."""

    def close(self) -> str | None:
        """Finish the run; returns a line for the user (a URL, a directory, a sync command)."""
