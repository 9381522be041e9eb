"""Monitoring over time: consecutive time windows, a persistent history, escalation.

A single window is noisy; a decision a team can trust needs memory. The :class:`Monitor`
compares each window to the baseline, hands the policy the history of earlier windows
(so a one-window spike stays ``review`` and a persistent signal escalates) and appends
every result to an append-only JSON-lines :class:`History`. Appends are one ``write`` of
one line followed by ``flush`` and ``fsync``: a crash can at worst leave a torn last
line, which reading skips with a warning, so no completed window is ever lost.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drift_tracking.comparison import compare
from drift_tracking.data import TextData
from drift_tracking.errors import ConfigError, DataError
from drift_tracking.metrics import MIN_WINDOW
from drift_tracking.policy import Policy

if TYPE_CHECKING:
    import pandas as pd

    from drift_tracking.baseline import Baseline
    from drift_tracking.embedding import Embedder
    from drift_tracking.quality import QualityInputs
    from drift_tracking.report import DriftReport

HISTORY_FILE = "drift_history.jsonl"


class History:
    """Append-only JSON-lines record of past windows, one report summary per line."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        path = Path(path)
        self.path = path / HISTORY_FILE if path.is_dir() or path.suffix != ".jsonl" else path

    @classmethod
    def for_baseline(cls, baseline: "Baseline", directory: str | os.PathLike[str] | None = None) -> "History":
        """The history in ``directory``, else next to a local baseline, else in ``./drift-history/``.

        A baseline loaded from a tracking server lives in a download cache, which is no
        place for a record that must last: its history goes to the working directory,
        named after the URI.
        """
        if directory is not None:
            Path(directory).mkdir(parents=True, exist_ok=True)
            return cls(Path(directory) / HISTORY_FILE)
        uri = baseline.uri
        if uri and not Path(uri).is_dir():
            slug = re.sub(r"[^A-Za-z0-9._-]+", "_", uri).strip("_")
            return cls(Path.cwd() / "drift-history" / f"{slug}.jsonl")
        if baseline.path is not None:
            # Beside the baseline, not inside it: the artifact's checksums cover its directory.
            return cls(baseline.path.parent / f"{baseline.path.name}.{HISTORY_FILE}")
        return cls(Path.cwd() / HISTORY_FILE)

    def read(self) -> list[dict[str, Any]]:
        """Every complete record, oldest first.

        A line that is not valid JSON can only be a write cut short by a crash (each record
        is one line written at once); it is skipped with a warning naming it, so one crash
        never makes the windows recorded after it unreadable.
        """
        if not self.path.exists():
            return []
        records: list[dict[str, Any]] = []
        torn: list[int] = []
        for number, line in enumerate(self.path.read_bytes().split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except (json.JSONDecodeError, UnicodeDecodeError):
                torn.append(number)
        if torn:
            warnings.warn(
                f"{self.path}: skipped torn line(s) {', '.join(map(str, torn))} (writes interrupted by a crash)",
                stacklevel=2,
            )
        return records

    def append(self, record: dict[str, Any]) -> None:
        """Append one record durably: one ``O_APPEND`` write of one line, then fsync.

        A single unbuffered write at the end of the file is what keeps a concurrent
        reader or a second writer from ever seeing half a record followed by another.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")
        if self.path.exists() and self.path.stat().st_size > 0 and not _ends_with_newline(self.path):
            line = b"\n" + line  # seal a torn line so this record stays parseable
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(line)
            while view:  # a regular file takes it in one write; loop only for the exotic case
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


# -- time windows -------------------------------------------------------------------------
@dataclass
class TimeWindow:
    """Rows of a log that fall in ``[start, end)``."""

    index: int
    start: "pd.Timestamp"
    end: "pd.Timestamp"
    rows: list[int]

    def info(self, name: str | None = None) -> dict[str, Any]:
        """What ``report.window`` carries: sinks log ``index`` as the step and ``timestamp``."""
        start, end = _iso(self.start), _iso(self.end)
        return {"index": self.index, "start": start, "end": end, "timestamp": end,
                "name": name or f"{start}/{end}", "n_rows": len(self.rows)}


def _iso(ts: "pd.Timestamp") -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_frequency(freq: str) -> "pd.Timedelta":
    """A fixed window length from a pandas-style string (``30min``, ``1h``, ``1d``, ``7d``)."""
    import pandas as pd

    try:
        # pandas 3 deprecates lower-case day/week units; people write 1d and 7d
        delta = pd.Timedelta(re.sub(r"(?<=\d)\s*([dw])\b", lambda m: m.group(1).upper(), str(freq).strip()))
    except (ValueError, TypeError):
        raise ConfigError(
            f"window length {freq!r} is not a duration; use a pandas-style string such as 1h, 1d or 7d"
        ) from None
    if pd.isna(delta):
        raise ConfigError(f"window length {freq!r} is empty; use a pandas-style string such as 1h, 1d or 7d")
    if delta <= pd.Timedelta(0):
        raise ConfigError(f"window length {freq!r} must be positive")
    return delta


def split_windows(timestamps: Sequence[str | None], freq: str) -> tuple[list[TimeWindow], int]:
    """Consecutive windows of length ``freq`` covering the timestamps, and the rows without one.

    Windows start at the first timestamp floored to the window length (so daily windows
    start at midnight UTC) and follow each other without gaps; empty windows are kept so
    the index is a true time step.
    """
    import pandas as pd

    delta = parse_frequency(freq)
    times = pd.to_datetime(pd.Series(list(timestamps), dtype=object), utc=True, errors="coerce", format="ISO8601")
    valid = times.notna()
    if not valid.any():
        raise DataError("no row has a usable timestamp; check --timestamp-column")
    origin = times[valid].min().floor(delta) if delta <= pd.Timedelta(days=1) else times[valid].min().floor("1D")
    slot = ((times[valid] - origin) // delta).astype(int)
    windows = [
        TimeWindow(i, origin + i * delta, origin + (i + 1) * delta, [])
        for i in range(int(slot.max()) + 1)
    ]
    for row, i in zip(slot.index, slot.to_numpy()):
        windows[int(i)].rows.append(int(row))
    return windows, int((~valid).sum())


# -- the monitor ----------------------------------------------------------------------------
@dataclass
class WindowResult:
    """One time window's outcome: a report, or why it was skipped."""

    window: TimeWindow
    report: "DriftReport | None" = None
    skipped: str | None = None


@dataclass
class Monitor:
    """Compares windows to a baseline with memory: the policy sees every earlier window.

    ``history`` is where windows are recorded (``None`` keeps them in memory only). Every
    checked window is appended before the next one is looked at.
    """

    baseline: "Baseline"
    policy: "Policy | None" = None
    history: History | None = None
    embedder: "Embedder | None" = None
    min_window: int | None = None
    seed: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.policy = self.policy or Policy()
        if self.history is not None and not self.records:
            self.records = self.history.read()
        self.min_window = MIN_WINDOW if self.min_window is None else self.min_window
        if self.min_window < MIN_WINDOW:
            raise ConfigError(f"min_window must be at least {MIN_WINDOW}, got {self.min_window}")

    def check(
        self,
        window: "Sequence[str] | TextData",
        *,
        window_info: dict[str, Any] | None = None,
        quality: "QualityInputs | None" = None,
    ) -> "DriftReport":
        """Compare one window, decide with the history, record it; returns the report."""
        info = dict(window_info or {})
        info.setdefault("index", self._next_index())
        report = compare(
            self.baseline, window, embedder=self.embedder, policy=self.policy, seed=self.seed,
            window_info=info, history=self.records, quality=quality,
        )
        record = report.history_record()
        if self.history is not None:
            self.history.append(record)
        self.records.append(record)
        return report

    def run(
        self,
        data: "TextData",
        freq: str,
        *,
        quality_for: Any = None,
    ) -> Iterator[WindowResult]:
        """Split ``data`` by its timestamps into windows of ``freq`` and check each in turn.

        Windows with no rows are passed over silently (their index still counts); windows
        with fewer than ``min_window`` rows are skipped with a note (their rows are
        too few to compare); windows already in the history (same start and end) are not
        checked again, so re-running on a growing log only adds the new windows. ``quality_for(rows)`` may return the window's
        :class:`~drift_tracking.quality.QualityInputs`. Yields as it goes, so a caller can
        log each window as soon as it is decided.
        """
        if data.timestamps is None:
            raise DataError("the data has no timestamps; pass --timestamp-column (the column holding request times)")
        windows, undated = split_windows(data.timestamps, freq)
        if undated:
            warnings.warn(f"{undated} row(s) without a usable timestamp were left out", stacklevel=2)
        offset = self._next_index()
        seen = {(r.get("window", {}).get("start"), r.get("window", {}).get("end")) for r in self.records}
        windows = [w for w in windows if (_iso(w.start), _iso(w.end)) not in seen]
        for number, window in enumerate(windows):
            window.index = offset + number
            if not window.rows:
                continue  # no traffic: the index still advances, nothing to note
            if len(window.rows) < self.min_window:
                yield WindowResult(window, skipped=(
                    f"window {window.index} ({_iso(window.start)} to {_iso(window.end)}) has "
                    f"{len(window.rows)} row(s), fewer than the minimum {self.min_window}: skipped"
                ))
                continue
            part = _subset(data, window.rows)
            quality = quality_for(window.rows) if quality_for is not None else None
            yield WindowResult(window, report=self.check(part, window_info=window.info(), quality=quality))

    def _next_index(self) -> int:
        indices = [r.get("window", {}).get("index") for r in self.records]
        indices = [i for i in indices if isinstance(i, int)]
        return max(indices) + 1 if indices else 0


def _subset(data: "TextData", rows: Sequence[int]) -> "TextData":
    def pick(values: list[Any] | None) -> list[Any] | None:
        return [values[i] for i in rows] if values is not None else None

    return TextData(
        prompts=pick(data.prompts) or [],
        responses=pick(data.responses),
        row_ids=[data.row_ids[i] for i in rows] if data.row_ids else list(rows),
        timestamps=pick(data.timestamps),
        ids=pick(data.ids),
        n_rows=len(rows),
    )
