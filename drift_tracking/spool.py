"""A local spool for reports a tracking server could not take, so nothing is lost.

When a sink cannot reach its server it writes the report here, one directory per
report, and tells the user to run ``drift-tracking relog SPOOL``. An entry holds
``entry.json`` (the report dict, the history it was logged with and where it was meant
to go) and ``projection.npz`` (the 2-D points behind the cluster plot, which the JSON
report leaves out). Safe formats only: JSON and an ``.npz`` read with
``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from drift_tracking.artifact import utc_now
from drift_tracking.cache import default_cache_dir
from drift_tracking.errors import DriftTrackingError
from drift_tracking.report import DriftReport, Projection

ENTRY_FILE = "entry.json"
PROJECTION_FILE = "projection.npz"
SENT_DIR = "sent"
_FORMAT = 1
_PROJECTION_ARRAYS = (
    "baseline_xy", "baseline_cluster", "window_xy", "window_cluster", "window_novel", "window_novel_cluster"
)


class SpoolError(DriftTrackingError):
    """A spool path holds no entries or an entry cannot be read."""


@dataclass
class SpoolEntry:
    """One spooled report and where it was meant to go."""

    path: Path
    report: DriftReport
    target: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)


def default_spool_dir() -> Path:
    """``$DRIFT_TRACKING_SPOOL_DIR``, else ``spool/`` next to the embedding cache."""
    env = os.environ.get("DRIFT_TRACKING_SPOOL_DIR")
    return Path(env) if env else default_cache_dir() / "spool"


def spool_report(
    report: DriftReport,
    target: dict[str, Any],
    *,
    history: Sequence[dict[str, Any]] = (),
    spool_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Write ``report`` to a new entry directory and return it.

    ``target`` names the sink (``{"sink": "mlflow", "tracking_uri": ..., ...}``); relog
    reads it back to send the report where it was meant to go.
    """
    root = Path(spool_dir) if spool_dir is not None else default_spool_dir()
    index = report.window.get("index")
    name = f"{utc_now().replace(':', '').replace('-', '')}-{target.get('sink', 'sink')}"
    name += f"-w{index}" if index is not None else ""
    entry = root / f"{name}-{uuid.uuid4().hex[:8]}"
    entry.mkdir(parents=True, exist_ok=False)
    if report.projection is not None:
        p = report.projection
        np.savez(entry / PROJECTION_FILE, **{k: np.asarray(getattr(p, k)) for k in _PROJECTION_ARRAYS})
    payload = {
        "format": _FORMAT,
        "spooled_at": utc_now(),
        "target": target,
        "report": report.to_dict(),
        "history": list(history),
        "projection_texts": list(report.projection.window_texts) if report.projection is not None else [],
    }
    tmp = entry / (ENTRY_FILE + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(entry / ENTRY_FILE)  # an entry without entry.json is never half-read
    return entry


def read_entry(path: str | os.PathLike[str]) -> SpoolEntry:
    """Load one entry (its directory or its ``entry.json``), projection included."""
    path = Path(path)
    directory = path.parent if path.name == ENTRY_FILE else path
    try:
        payload = json.loads((directory / ENTRY_FILE).read_text())
        report = DriftReport.from_dict(payload["report"])
        target = dict(payload["target"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SpoolError(f"cannot read spooled report {directory}: {exc}; it may be incomplete or edited") from exc
    npz_path = directory / PROJECTION_FILE
    if npz_path.exists():
        with np.load(npz_path, allow_pickle=False) as arrays:
            saved = {k: arrays[k] for k in _PROJECTION_ARRAYS if k in arrays.files}
        # Entries spooled before the per-point novel-cluster ids existed: no point is labelled.
        saved.setdefault("window_novel_cluster", np.full(len(saved["window_xy"]), -1, dtype=np.int64))
        report = replace(report, projection=Projection(**saved, window_texts=list(payload.get("projection_texts", []))))
    return SpoolEntry(directory, report, target, list(payload.get("history", [])))


def pending_entries(path: str | os.PathLike[str]) -> list[Path]:
    """The entries under ``path`` (a spool directory or one entry), oldest first; sent ones excluded."""
    path = Path(path)
    if not path.exists():
        raise SpoolError(f"{path} does not exist: pass a spool directory or one spooled report")
    if path.name == ENTRY_FILE or (path / ENTRY_FILE).exists():
        return [path.parent if path.name == ENTRY_FILE else path]
    if not path.is_dir():
        raise SpoolError(f"{path} is neither a spool directory nor a spooled report ({ENTRY_FILE})")
    return sorted(p for p in path.iterdir() if p.is_dir() and p.name != SENT_DIR and (p / ENTRY_FILE).exists())


def mark_sent(entry: str | os.PathLike[str]) -> Path:
    """Move a re-sent entry to ``sent/`` beside it, so a second relog does not send it twice."""
    entry = Path(entry)
    sent = entry.parent / SENT_DIR
    sent.mkdir(exist_ok=True)
    target = sent / entry.name
    shutil.move(str(entry), str(target))
    return target
