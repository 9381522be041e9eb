"""Monitoring over time: consecutive time windows, a persistent history, escalation.

A single window is noisy; a decision a team can trust needs memory. The :class:`Monitor`
compares each window to the baseline, hands the policy the history of earlier windows
(so a one-window spike stays ``review`` and a persistent signal escalates) and appends
every result to an append-only JSON-lines :class:`History`. Appends are one ``write`` of
one line followed by ``flush`` and ``fsync``: a crash can at worst leave a torn last
line, which reading skips with a warning, so no completed window is ever lost.

Persistence must count distinct windows, in the order they happened:

* Reading the history, choosing the next window index and appending happen under one OS
  lock (``flock`` on ``<history>.lock``), so two ``check --history DIR`` running at once
  never both record window 0; the second decides with the first's record in its history.
* Every record carries the window's identity: the sha256 of its prompts (order-free) and
  its time range when known. A window already in the history is decided with the history
  it had the first time, reported with a warning saying when that was, and not recorded
  again, so checking the same file twice does not make drift "persist".
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drift_tracking.comparison import decide_report, measure_texts
from drift_tracking.data import TextData
from drift_tracking.embedding import Embedder
from drift_tracking.errors import ConfigError, DataError
from drift_tracking.metrics import MIN_WINDOW
from drift_tracking.policy import Policy

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: appends stay atomic, index choice is unguarded
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import pandas as pd

    from drift_tracking.comparison import Measurements
    from drift_tracking.baseline import Baseline
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

    @property
    def lock_path(self) -> Path:
        """The file ``flock`` is taken on, beside the history (the history itself is only appended to)."""
        return self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def locked(self) -> Iterator[list[dict[str, Any]]]:
        """Hold the history's OS lock; yields its records as they are now.

        Whoever reads the history to decide a window and appends that window's record must
        do both inside one ``with history.locked()``. The kernel drops a ``flock`` when its
        holder dies, even by ``kill -9``, so a crash never leaves the history locked.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield self.read()
        finally:
            os.close(fd)  # closing the descriptor releases the lock

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
        The caller holds :meth:`locked` when the record's index was chosen from the history.
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


# -- window identity ----------------------------------------------------------------------
def window_identity(prompts: Sequence[str], start: str | None = None, end: str | None = None) -> dict[str, Any]:
    """What makes two windows the same: the multiset of their prompts and their time range.

    The prompts are hashed in sorted order, each length-prefixed, so a re-export of the
    same rows in another order is recognised and no two different lists collide.
    """
    return {"content_sha256": prompts_digest(sorted(prompts)), "start": start, "end": end}


def prompts_digest(sorted_prompts: Iterable[str]) -> str:
    """sha256 of the prompts, each length-prefixed, in the (sorted) order given; streams any iterable."""
    digest = hashlib.sha256()
    for text in sorted_prompts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def _identity_of(window: "Sequence[str] | TextData", info: dict[str, Any]) -> dict[str, Any]:
    """The identity of a window: its prompts, and its slot (monitor) or first/last timestamp (check)."""
    data = window if isinstance(window, TextData) else TextData(prompts=list(window))
    start, end = info.get("start"), info.get("end")
    stamps = [t for t in (data.timestamps or []) if t]
    if start is None and end is None and stamps:
        import pandas as pd

        times = pd.to_datetime(pd.Series(stamps, dtype=object), utc=True, errors="coerce", format="ISO8601").dropna()
        if len(times):
            start, end = _iso(times.min()), _iso(times.max())
    return window_identity(data.prompts, start, end)


def _identity_key(record: dict[str, Any]) -> tuple[Any, ...] | None:
    """What tells a record's window apart, or None for records written before identities."""
    known = (record.get("window") or {}).get("identity")
    return (known.get("content_sha256"), known.get("start"), known.get("end")) if isinstance(known, dict) else None


def distinct_windows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` without repeats of a window already seen (first kept): what persistence counts.

    Records written before windows carried an identity cannot be told apart and are kept.
    """
    seen: set[tuple[Any, ...]] = set()
    out = []
    for record in records:
        key = _identity_key(record)
        if key is not None and key in seen:
            continue
        if key is not None:
            seen.add(key)
        out.append(record)
    return out


def _repeat_warning(first: dict[str, Any]) -> str:
    window = first.get("window") or {}
    when = first.get("created_at") or "an earlier run"
    return (
        f"this window was already checked on {when} (window {window.get('index', '?')}, same prompts"
        f"{' and time range' if (window.get('identity') or {}).get('start') else ''}): it is reported again "
        "but not recorded twice, so it counts once towards persistence"
    )


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


def window_origin(first: "pd.Timestamp", delta: "pd.Timedelta") -> "pd.Timestamp":
    """Where the first window starts: the first time floored to the window length (to the day past a day)."""
    import pandas as pd

    return first.floor(delta) if delta <= pd.Timedelta(days=1) else first.floor("1D")


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
    origin = window_origin(times[valid].min(), delta)
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
    """Compares windows to a baseline with memory: the policy sees every earlier distinct window.

    ``history`` is where windows are recorded (``None`` keeps them in memory only). Every
    checked window is appended before the next one is looked at. ``strict`` refuses a
    window where more than half the rows were invalid instead of deciding on the rest.
    ``decided_with`` is the history the last report was decided with (what sinks plot
    before it).
    """

    baseline: "Baseline"
    policy: "Policy | None" = None
    history: History | None = None
    embedder: "Embedder | None" = None
    min_window: int | None = None
    seed: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    strict: bool = False
    decided_with: list[dict[str, Any]] = field(default_factory=list)

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
        """Compare one window, decide with the history, record it; returns the report.

        The window is embedded and measured first; then, under the history's lock, what
        any process recorded is read, a window already recorded is recognised, the next
        index is chosen, the policy decides and the record is appended. A repeated window
        is decided with the history it had the first time and keeps its index; it gets a
        warning and is not appended.
        """
        info = dict(window_info or {})
        if self.strict:
            _refuse_mostly_invalid(window, info.get("name") or info.get("source") or "the window")
        info["identity"] = _identity_of(window, info)
        found = measure_texts(self.baseline, window, embedder=self.embedder or Embedder(self.baseline.identity_.name),
                              seed=self.seed, window_info=info, quality=quality)
        return self.record(found)

    def record(self, found: "Measurements") -> "DriftReport":
        """Decide a measured window with the history and record it (what :meth:`check` does after measuring).

        ``found.window`` carries the window's ``identity``; an engine that measured the
        window elsewhere (:mod:`drift_tracking.engines`) hands its measurements here.
        """
        key = _identity_key({"window": dict(found.window)})
        with self._locked() as records:
            self.records = records
            position = next((i for i, r in enumerate(records) if _identity_key(r) == key), None)
            first = records[position] if position is not None else None
            self.decided_with = distinct_windows(records[:position] if position is not None else records)
            index = ((first.get("window") or {}).get("index") if first is not None
                     else self._index_for(found.window.get("index")))
            report = decide_report(replace(found, window={**found.window, "index": index}), self.baseline,
                                   self.policy, self.decided_with)
            if first is not None:
                return replace(report, warnings=[*report.warnings, _repeat_warning(first)])
            record = report.history_record()
            if self.history is not None:
                self.history.append(record)
            self.records.append(record)
        return report

    def _locked(self) -> contextlib.AbstractContextManager[list[dict[str, Any]]]:
        """The history's lock and its fresh records; the in-memory records when there is no history."""
        return self.history.locked() if self.history is not None else contextlib.nullcontext(self.records)

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
        checked again, so re-running on a growing log only adds the new windows. Invalid
        rows count against the window their timestamp falls in; with ``strict`` a window
        where they are the majority stops the run before any window is checked.
        ``quality_for(rows)`` may return the window's
        :class:`~drift_tracking.quality.QualityInputs`. Yields as it goes, so a caller can
        log each window as soon as it is decided.
        """
        if data.timestamps is None:
            raise DataError("the data has no timestamps; pass --timestamp-column (the column holding request times)")
        windows, undated = split_windows(data.timestamps, freq)
        if undated:
            warnings.warn(f"{undated} row(s) without a usable timestamp were left out", stacklevel=2)
        parts = [_subset(data, w.rows, bad) for w, bad in zip(windows, _invalid_rows_by_window(data, windows))]
        if self.history is not None:
            self.records = self.history.read()
        offset = self._next_index()
        seen = {(r.get("window", {}).get("start"), r.get("window", {}).get("end")) for r in self.records}
        todo = [(w, part) for w, part in zip(windows, parts) if (_iso(w.start), _iso(w.end)) not in seen]
        for number, (window, part) in enumerate(todo):
            window.index = offset + number
        if self.strict:
            for window, part in todo:
                _refuse_mostly_invalid(part, f"window {window.index} ({_iso(window.start)} to {_iso(window.end)})")
        for window, part in todo:
            note = self._skip_note(window, part)
            if note is not None:
                if note:
                    yield WindowResult(window, skipped=note)
                continue
            quality = quality_for(window.rows) if quality_for is not None else None
            report = self.check(part, window_info=window.info(), quality=quality)
            window.index = report.window["index"]
            yield WindowResult(window, report=report)

    def _skip_note(self, window: TimeWindow, part: "TextData") -> str | None:
        """Why a window is not checked ("" for a window without traffic), or None to check it."""
        span = f"window {window.index} ({_iso(window.start)} to {_iso(window.end)})"
        if not window.rows:
            return f"{span} has no valid row ({part.n_invalid} invalid): skipped" if part.n_invalid else ""
        if len(window.rows) < (self.min_window or 0):
            return (f"{span} has {len(window.rows)} row(s), fewer than the minimum {self.min_window}: skipped")
        return None

    def _next_index(self) -> int:
        indices = [r.get("window", {}).get("index") for r in self.records]
        indices = [i for i in indices if isinstance(i, int)]
        return max(indices) + 1 if indices else 0

    def _index_for(self, requested: Any) -> int:
        """``requested`` (a monitor's time step) unless the history already holds it or a later one."""
        following = self._next_index()
        return max(requested, following) if isinstance(requested, int) and not isinstance(requested, bool) else following


def _refuse_mostly_invalid(window: "Sequence[str] | TextData", where: str) -> None:
    """Strict mode: a window where most rows were invalid is an error, not a decision on the rest."""
    summary = window.invalid_summary() if isinstance(window, TextData) else {}
    if summary.get("warning"):
        raise DataError(
            f"{where}: {summary['warning'].split(': the decision', 1)[0]}; strict mode refuses a window where "
            "more than half the rows are invalid: fix the export, or run without --strict to decide on the rows left"
        )


def _invalid_rows_by_window(data: "TextData", windows: list[TimeWindow]) -> list[list[int]]:
    """For each window, the invalid source rows whose timestamp falls in it."""
    out: list[list[int]] = [[] for _ in windows]
    stamped = {row: t for row, t in data.invalid_timestamps.items() if t}
    if not windows or not stamped:
        return out
    import pandas as pd

    times = pd.to_datetime(pd.Series(list(stamped.values()), dtype=object), utc=True, errors="coerce", format="ISO8601")
    origin, delta = windows[0].start, windows[0].end - windows[0].start
    for row, when in zip(stamped, times):
        if pd.isna(when):
            continue
        slot = (when - origin) // delta
        if 0 <= slot < len(windows):
            out[int(slot)].append(row)
    return out


def _subset(data: "TextData", rows: Sequence[int], invalid_rows: Sequence[int] = ()) -> "TextData":
    """The rows of one window, with the invalid rows that fell in it (so its summary is its own)."""
    def pick(values: list[Any] | None) -> list[Any] | None:
        return [values[i] for i in rows] if values is not None else None

    bad = set(invalid_rows)
    return TextData(
        prompts=pick(data.prompts) or [],
        responses=pick(data.responses),
        row_ids=[data.row_ids[i] for i in rows] if data.row_ids else list(rows),
        timestamps=pick(data.timestamps),
        ids=pick(data.ids),
        n_rows=len(rows) + len(bad),
        invalid=[r for r in data.invalid if r.row in bad],
        invalid_timestamps={row: data.invalid_timestamps.get(row) for row in sorted(bad)},
    )
