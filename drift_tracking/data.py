"""Read production logs (JSON lines, JSON, CSV, parquet, DataFrames, OpenAI chat logs, MLflow traces) into texts.

Bad values are never embedded and never coerced with ``str()``: an empty, whitespace-only,
missing, NaN or non-string prompt or response, a text that cannot be encoded as UTF-8 (a
lone surrogate such as ``"\\ud800"``) or one with no visible character (only NUL, control,
zero-width or space characters) is reported as an :class:`InvalidRow` with its 0-based row
number, and the whole row is left out so prompts and responses stay aligned. When more than
half the rows are left out, :meth:`TextData.invalid_summary` carries a ``warning`` that
reaches the report (and ``--strict`` turns it into an error): a window made of the few rows
that survived says little about the traffic.

MLflow traces (``traces:/EXPERIMENT?since=7d``, a ``mlflow.search_traces`` frame or a list
of traces) are read by :func:`load_traces` (see :mod:`drift_tracking.sources.traces`); a
trace whose prompt or response cannot be found is an invalid row like any other.

Columns that would be read ambiguously are refused with what to do: a name repeated in a
CSV header or within a JSON object (pandas would rename it ``a.1`` or keep the last value)
and columns holding lists instead of one text per row.
"""

from __future__ import annotations

import csv
import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from drift_tracking.errors import DataError
from drift_tracking.sources import traces
from drift_tracking.sources.chat import as_list, message_text, turns

__all__ = ["InvalidRow", "TextData", "read_table", "load_texts", "load_traces", "text_reason", "SUPPORTED_FORMATS",
           "INVALID_REASONS"]

SUPPORTED_FORMATS = (".jsonl", ".ndjson", ".json", ".csv", ".parquet")
#: Reasons an InvalidRow can carry; "no user message" to "not a message list" only occur in chat
#: logs and traces, the last four only in traces.
INVALID_REASONS = (
    "missing", "empty", "whitespace-only", "not a string", "NaN", "not encodable as UTF-8",
    "no visible characters", "no user message", "no assistant message", "not a message list",
    *traces.TRACE_REASONS,
)
_FIRST_ROWS = 20
#: A window with more than this share of its rows invalid is flagged (and refused with --strict).
MAJORITY_INVALID = 0.5
# Characters that draw nothing: controls (NUL ...), format characters (zero-width space,
# joiners, BOM, bidi marks), surrogates and separators. Anything else is visible.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})
_VISIBLE_ASCII = re.compile(r"[!-~]")


@dataclass(frozen=True)
class InvalidRow:
    """A value that was not usable text: its 0-based row in the source, column and reason.

    ``id`` is the record's own id where the source has one (an MLflow trace id), so the
    record can be looked up where it lives.
    """

    row: int
    column: str
    reason: str
    id: str | None = None


@dataclass
class TextData:
    """Texts loaded by :func:`load_texts`, aligned row for row.

    ``row_ids[i]`` is the 0-based row in the source of ``prompts[i]`` (and of
    ``responses[i]``, ``timestamps[i]``, ``ids[i]`` when present). ``invalid`` lists every
    unusable value; a row with any of them is left out as a whole.
    """

    prompts: list[str]
    responses: list[str] | None = None
    row_ids: list[int] = field(default_factory=list)
    timestamps: list[str | None] | None = None
    ids: list[str | None] | None = None
    n_rows: int = 0
    invalid: list[InvalidRow] = field(default_factory=list)
    #: source row -> timestamp of each invalid row (when a timestamp column was read), so a
    #: monitor can tell which time window lost them.
    invalid_timestamps: dict[int, str | None] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def n_invalid(self) -> int:
        """Number of rows left out (a row with an invalid prompt *and* response counts once)."""
        return len({r.row for r in self.invalid})

    @property
    def mostly_invalid(self) -> bool:
        """More than half the source rows were left out: the rest may not represent the traffic."""
        return self.n_rows > 0 and self.n_invalid > MAJORITY_INVALID * self.n_rows

    def invalid_summary(self) -> dict[str, Any]:
        """JSON-safe summary for reports: counts per reason and column, first 20 rows left out.

        ``warning`` is present when most rows were invalid; ``compare`` copies it into the
        report's warnings, so every sink shows it.
        """
        rows = sorted({r.row for r in self.invalid})
        by_reason = dict(Counter(r.reason for r in self.invalid).most_common())
        summary: dict[str, Any] = {
            "n_invalid_rows": len(rows),
            "n_rows": int(self.n_rows),
            "by_reason": by_reason,
            "by_column": dict(Counter(r.column for r in self.invalid).most_common()),
            "first_rows": [int(r) for r in rows[:_FIRST_ROWS]],
        }
        ids = list(dict.fromkeys(r.id for r in sorted(self.invalid, key=lambda r: r.row) if r.id))
        if ids:
            summary["first_ids"] = ids[:_FIRST_ROWS]
        if self.mostly_invalid:
            reasons = ", ".join(f"{n} {reason}" for reason, n in by_reason.items())
            summary["warning"] = (
                f"{len(rows)} of {self.n_rows} rows ({len(rows) / self.n_rows:.0%}) were invalid and left out "
                f"({reasons}): the decision rests on the {self.n_rows - len(rows)} rows left, which may not "
                "represent the traffic; check the export (--strict refuses such windows)"
            )
        return summary


# -- reading tables --------------------------------------------------------------------------
def _describe(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return f"'{source}'"
    if isinstance(source, pd.DataFrame):
        return "the DataFrame"
    return "the records"


def _records_frame(records: list[Any], where: str, repeated: dict[str, str] | None = None):
    """A frame of dict records; ``repeated`` (key -> where it repeats) goes to ``attrs``."""
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(
                f"record {i} of {where} is a {type(record).__name__}, not a dict; "
                "each row must be a dict / JSON object such as {\"prompt\": \"...\"}"
            )
    if not records:
        return pd.DataFrame()
    # object columns keep values as parsed: a JSON null or an absent key is None ("missing"), not NaN
    columns = list(dict.fromkeys(key for record in records for key in record))
    frame = pd.DataFrame({c: [record.get(c) for record in records] for c in columns}, dtype=object)
    frame.attrs["repeated_columns"] = dict(repeated or {})
    return frame


class _RepeatedKeys:
    """``object_pairs_hook`` for :func:`json.loads` noting keys repeated within one object.

    ``json.loads`` silently keeps the last value of a repeated key, so a record with two
    ``prompt`` keys would lose one without a word; the pairs are the only place to see it.
    """

    def __init__(self) -> None:
        self.by_object: dict[int, list[str]] = {}

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            twice: list[str] = []
            for key, _ in pairs:
                if key in seen:
                    twice.append(key)
                seen.add(key)
            self.by_object[id(obj)] = twice
        return obj

    def note(self, record: Any, place: str, repeated: dict[str, str]) -> None:
        """Record in ``repeated`` the keys ``record`` (a top-level object) held twice, at ``place``."""
        for key in self.by_object.get(id(record), ()):
            repeated.setdefault(key, f"{place} holds the key twice")


def _read_json_lines(text: str, where: str):
    records: list[Any] = []
    hook = _RepeatedKeys()
    repeated: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, object_pairs_hook=hook)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"malformed JSON on line {lineno} of {where}: {exc.msg} (column {exc.colno}); "
                "fix or remove that line (each line must be one JSON object)"
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"line {lineno} of {where} is a JSON {type(record).__name__}, not an object; "
                "each line must be one JSON object such as {\"prompt\": \"...\"}"
            )
        hook.note(record, f"line {lineno}", repeated)
        hook.by_object.clear()
        records.append(record)
    return _records_frame(records, where, repeated)


def _read_json(text: str, where: str):
    stripped = text.lstrip()
    if not stripped.startswith("["):
        return _read_json_lines(text, where)
    hook = _RepeatedKeys()
    try:
        data = json.loads(text, object_pairs_hook=hook)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"malformed JSON in {where} at line {exc.lineno}, column {exc.colno}: {exc.msg}; "
            "the file must hold a JSON array of objects, or one JSON object per line"
        ) from None
    repeated: dict[str, str] = {}
    for i, record in enumerate(data):
        if not isinstance(record, dict):
            raise DataError(
                f"item {i} of the JSON array in {where} is a {type(record).__name__}, not an object; "
                "the array must hold one object per row"
            )
        hook.note(record, f"item {i}", repeated)
    return _records_frame(data, where, repeated)


def _read_csv(path: Path):
    """CSV values as text; names repeated in the header go to ``attrs`` (pandas renames them ``a.1``)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    with path.open(encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), [])
    positions: dict[str, list[int]] = {}
    for number, name in enumerate(header, start=1):
        positions.setdefault(name, []).append(number)
    frame.attrs["repeated_columns"] = {
        name: f"header fields {', '.join(map(str, numbers))} share the name"
        for name, numbers in positions.items() if len(numbers) > 1
    }
    return frame


def read_table(source: Any):
    """Read ``source`` into a pandas DataFrame.

    ``source`` is a path (``str``/``Path``) ending in ``.jsonl``/``.ndjson`` (JSON lines),
    ``.json`` (a JSON array of objects, or JSON lines), ``.csv`` or ``.parquet``; a
    DataFrame (returned as is); or a list of dicts. CSV values are read as text (an empty
    field is an empty string), so nothing in a CSV is silently turned into NaN.
    """
    if isinstance(source, pd.DataFrame):
        return source
    if traces.is_traces_uri(source):
        raise DataError(
            f"{source} is an MLflow traces source: it holds prompts and responses, not columns; load it with "
            "load_texts() or load_traces() (reward and golden columns must come from a file or a DataFrame)"
        )
    if isinstance(source, (list, tuple)):
        return _records_frame(list(source), "the records")
    if not isinstance(source, (str, Path)):
        raise DataError(
            f"cannot read data from a {type(source).__name__}; pass a file path "
            f"({', '.join(SUPPORTED_FORMATS)}), a pandas DataFrame or a list of dicts"
        )
    path = Path(source)
    where = f"'{source}'"
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_FORMATS:
        raise DataError(
            f"unsupported file format {suffix or '(no extension)'!r} for {where}; "
            f"supported formats: {', '.join(SUPPORTED_FORMATS)} (or pass a DataFrame / list of dicts)"
        )
    if not path.exists():
        raise DataError(f"data file {where} not found; check the path (working directory: {Path.cwd()})")
    if path.is_dir():
        raise DataError(f"{where} is a directory; pass a {', '.join(SUPPORTED_FORMATS)} file")
    try:
        if suffix in (".jsonl", ".ndjson", ".json"):
            text = path.read_text(encoding="utf-8-sig")
            return _read_json(text, where) if suffix == ".json" else _read_json_lines(text, where)
        if suffix == ".csv":
            return _read_csv(path)
        return pd.read_parquet(path)
    except DataError:
        raise
    except UnicodeDecodeError as exc:
        raise DataError(f"{where} is not valid UTF-8 text ({exc.reason} at byte {exc.start}); re-save it as UTF-8") from None
    except Exception as exc:  # parser errors of pandas / pyarrow
        raise DataError(f"cannot read {where} as {suffix[1:]}: {type(exc).__name__}: {exc}") from None


# -- validating values ----------------------------------------------------------------------
def _is_nan(value: Any) -> bool:
    if value is pd.NA or value is pd.NaT:
        return True
    try:
        return isinstance(value, float) and math.isnan(value)
    except TypeError:  # pragma: no cover
        return False


def text_reason(value: Any) -> str | None:
    """Why ``value`` is not usable text, or None when it is.

    Besides missing, empty and non-string values: a string holding a lone surrogate
    (``"\\ud800"``, which JSON escapes can produce) cannot be encoded, so it could be
    neither hashed for the cache nor tokenised; a string of NUL, control, zero-width or
    space characters embeds to the same vector as an empty input, which is no prompt.
    """
    if value is None:
        return "missing"
    if isinstance(value, str):
        if not value:
            return "empty"
        if not value.strip():
            return "whitespace-only"
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "not encodable as UTF-8"
        return None if _has_visible(value) else "no visible characters"
    if _is_nan(value):
        return "NaN"
    return "not a string"


def _has_visible(text: str) -> bool:
    """True when ``text`` holds a character that draws something (fast for ordinary text)."""
    if _VISIBLE_ASCII.search(text):
        return True
    return not text.isascii() and any(
        not ch.isspace() and unicodedata.category(ch) not in _INVISIBLE_CATEGORIES for ch in text
    )


def _parse_chat(value: Any) -> tuple[Any, Any, str | None, bool]:
    """(prompt, response, reason the row is unusable, has an assistant message)."""
    if value is None:
        return None, None, "missing", False
    if _is_nan(value):
        return None, None, "NaN", False
    if isinstance(value, str):
        if not value.strip():
            return None, None, ("empty" if not value else "whitespace-only"), False
        try:
            value = json.loads(value)  # CSV chat logs hold the messages as JSON text
        except json.JSONDecodeError:
            return None, None, "not a message list", False
    messages = as_list(value)
    if messages is None:
        return None, None, "not a message list", False
    if not messages:
        return None, None, "empty", False
    last_user, reply = turns(messages)
    if last_user is None:
        return None, None, "no user message", reply is not None
    return message_text(messages, last_user), message_text(messages, reply), None, reply is not None


def _iso(ts: pd.Timestamp) -> str:
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if ts.microsecond:
        text += f".{ts.microsecond:06d}".rstrip("0")
    return text + "Z"


def _timestamps(values: list[Any]) -> list[str | None]:
    """ISO 8601 UTC strings ("...Z"); None where a value is missing or not a time."""
    if values and all(isinstance(v, str) for v in values):
        # fast path: one vectorised parse of ISO 8601 strings, per-value fallback otherwise
        parsed = pd.to_datetime(pd.Series(values, dtype=object), utc=True, errors="coerce", format="ISO8601")
        if not parsed.isna().any():
            text = parsed.dt.strftime("%Y-%m-%dT%H:%M:%S")
            micro = parsed.dt.microsecond
            if micro.any():
                frac = micro.map(lambda m: f".{m:06d}".rstrip("0") if m else "")
                text = text + frac
            return (text + "Z").tolist()

    def one(v: Any) -> str | None:
        if v is None or _is_nan(v) or (isinstance(v, str) and not v.strip()):
            return None
        try:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                ts = pd.Timestamp(v, unit="ms" if abs(v) > 1e11 else "s", tz="UTC")
            elif isinstance(v, (datetime, date, pd.Timestamp, str)):
                ts = pd.Timestamp(v)
                ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
            else:
                return None
        except (ValueError, TypeError, OverflowError):
            return None
        return None if ts is pd.NaT else _iso(ts)

    return [one(v) for v in values]


def _id_text(value: Any) -> str | None:
    if value is None or _is_nan(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    return str(value)


def _counts(reasons: Iterable[str]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in Counter(reasons).most_common())


# -- loading texts ---------------------------------------------------------------------------
@dataclass
class _Extracted:
    """Prompt and response values of every source row, before validation."""

    prompts: list[Any]
    responses: list[Any] | None
    response_name: str | None
    chat: bool
    invalid: list[InvalidRow] = field(default_factory=list)
    reported: set[int] = field(default_factory=set)  # rows the chat parser already reported


def load_texts(
    source: Any,
    *,
    text_column: str = "prompt",
    response_column: str | None = None,
    timestamp_column: str | None = None,
    id_column: str | None = None,
    drop_invalid: bool = True,
    tracking_uri: str | None = None,
) -> TextData:
    """Load prompts (and optionally responses, timestamps, ids) from ``source``.

    ``source`` is anything :func:`read_table` reads, or MLflow traces (a ``traces:/``
    URI, a ``mlflow.search_traces`` frame when ``text_column`` is not one of its columns,
    a list of traces), which :func:`load_traces` reads from ``tracking_uri`` with
    ``text_column`` (unless "prompt") and ``response_column`` naming fields of the root
    span's inputs and outputs; their timestamps and ids are the traces' own. Chat logs in OpenAI format (a
    ``messages`` column, or a text column holding lists of ``{"role", "content"}``) give
    the last ``user`` turn as the prompt and the ``assistant`` turn after it (else the last
    assistant turn) as the response, unless ``response_column`` names another column.

    Unusable values (see :func:`text_reason`) are reported in ``TextData.invalid`` and
    their rows left out; with ``drop_invalid=False`` any unusable value raises
    :class:`DataError` instead. Raises :class:`DataError` for an unreadable source, an
    unknown, repeated or list-valued column, an empty table or when no valid row remains.
    """
    if traces.is_traces_source(source) and text_column not in getattr(source, "columns", ()):
        return load_traces(source, tracking_uri=tracking_uri, prompt_key=None if text_column == "prompt" else text_column,
                           response_key=response_column, drop_invalid=drop_invalid)
    table = read_table(source)
    where = _describe(source)
    if len(table.columns) == 0 or len(table) == 0:
        raise DataError(f"{where} has no rows; nothing to load")
    _check_columns(table, where, {"text_column": text_column, "response_column": response_column,
                                  "timestamp_column": timestamp_column, "id_column": id_column})
    found = _extract(table, text_column, response_column, where)
    _validate(found, text_column, response_column)
    return _finish(table, found, where, drop_invalid, timestamp_column, id_column)


def load_traces(
    source: Any,
    *,
    tracking_uri: str | None = None,
    prompt_key: str | None = None,
    response_key: str | None = None,
    drop_invalid: bool = True,
) -> TextData:
    """Load the prompts and responses of MLflow traces, as :func:`load_texts` loads a file.

    ``source`` is ``traces:/EXPERIMENT[?since=7d&until=...&filter=...&limit=N]`` (read
    with ``mlflow.search_traces``'s search from ``tracking_uri``, default MLflow's own),
    the DataFrame ``mlflow.search_traces`` returns, a list of ``Trace`` objects, or rows of
    ``{"inputs", "outputs"}`` (``mlflow.genai.evaluate``'s format). Each trace's root
    span gives the prompt (``prompt_key`` names the input field when the usual ones do
    not fit) and the response (``response_key``); see :mod:`drift_tracking.sources.traces`.
    Rows are ordered by time, then trace id; ``timestamps`` are the traces' request
    times and ``ids`` their trace ids (what user feedback joins on). Responses are read
    when any trace recorded an output; a trace whose prompt or response cannot be found,
    or is not usable text, is an invalid row with its reason.
    """
    records = traces.read(source, tracking_uri=tracking_uri, prompt_key=prompt_key, response_key=response_key)
    where = traces.describe(source)
    if not records:
        raise DataError(f"{where} holds no traces; nothing to load (check the experiment, since= and filter=)")
    use_responses = any(r.has_output or r.response_problem for r in records)
    found = _Extracted([r.prompt for r in records], [r.response for r in records] if use_responses else None,
                       "response" if use_responses else None, chat=True)
    for row, record in enumerate(records):
        checks = [("prompt", record.prompt, record.prompt_problem)]
        if use_responses and record.prompt_problem not in traces.WHOLE_TRACE:
            checks.append(("response", record.response, record.response_problem))
        for column, value, problem in checks:
            reason = problem or text_reason(value)
            if reason is not None:
                found.invalid.append(InvalidRow(row, column, reason, record.trace_id))
    stamps = [r.timestamp_ms for r in records]
    ids = [r.trace_id for r in records]
    table = pd.DataFrame({"timestamp": pd.Series(stamps, dtype=object), "trace_id": pd.Series(ids, dtype=object)})
    loaded = _finish(table, found, where, drop_invalid, "timestamp" if any(t is not None for t in stamps) else None,
                     "trace_id" if any(i is not None for i in ids) else None)
    return _renumbered(loaded, [r.position for r in records])


def _renumbered(data: TextData, positions: list[int]) -> TextData:
    """``data`` (rows in time order) with row numbers that point into the source as given."""
    data.row_ids = [positions[i] for i in data.row_ids]
    data.invalid = [replace(r, row=positions[r.row]) for r in data.invalid]
    data.invalid_timestamps = {positions[row]: stamp for row, stamp in data.invalid_timestamps.items()}
    return data


def _finish(table: Any, found: _Extracted, where: str, drop_invalid: bool, timestamp_column: str | None,
            id_column: str | None) -> TextData:
    """Leave out (or refuse) rows with unusable values and assemble what is left."""
    bad_rows = {r.row for r in found.invalid}
    n = len(table)
    if bad_rows and not drop_invalid:
        first = ", ".join(f"row {r.row} ({r.column}: {r.reason})" for r in found.invalid[:10])
        raise DataError(
            f"{len(bad_rows)} of {n} rows of {where} have unusable text: {first}"
            f"{' ...' if len(found.invalid) > 10 else ''}; fix them or load with drop_invalid=True to leave them out"
        )
    if len(bad_rows) == n:
        raise _all_invalid(found, n, where)
    return _assemble(table, found, bad_rows, timestamp_column, id_column)


def _check_columns(table: Any, where: str, wanted: dict[str, str | None]) -> None:
    """Refuse an unknown column, or a wanted one whose name the source repeats."""
    columns = [str(c) for c in table.columns]
    for arg, column in wanted.items():
        if column is not None and column not in table.columns:
            hint = ""
            if arg == "text_column" and "messages" in table.columns:
                hint = " (for chat logs use text_column='messages')"
            raise DataError(
                f"column '{column}' not found in {where}; available columns: {', '.join(columns)}{hint}"
            )
    names = {c for c in wanted.values() if c is not None}
    repeated = {str(c): "the frame has it twice" for c in table.columns[table.columns.duplicated()]}
    repeated.update(table.attrs.get("repeated_columns") or {})
    clashes = sorted(name for name in repeated if name in names)
    if clashes:
        detail = "; ".join(f"'{name}': {repeated[name]}" for name in clashes)
        raise DataError(
            f"{where} has several columns named {', '.join(map(repr, clashes))} ({detail}), so it is not clear "
            "which holds the text (pandas would rename the second 'name.1' or keep only the last value); "
            "rename or drop the extra one"
        )


def _extract(table: Any, text_column: str, response_column: str | None, where: str) -> _Extracted:
    """Prompt and response values per row: from chat messages or from plain text columns."""
    values = table[text_column].tolist()
    sample, lists = _sampled_lists(values)
    chat = (bool(lists) and (text_column == "messages" or 2 * len(lists) >= len(sample))) or (
        text_column == "messages" and any(isinstance(v, str) and v.lstrip().startswith("[") for v in sample)
    )
    if chat and lists and not any(isinstance(item, dict) for listed in lists for item in listed):
        raise _list_column(text_column, lists, where)  # list<string>: several texts per row, not a chat
    responses = table[response_column].tolist() if response_column is not None else None
    if responses is not None:
        sample, lists = _sampled_lists(responses)
        if lists and 2 * len(lists) >= len(sample):
            raise _list_column(response_column, lists, where)
    if not chat:
        return _Extracted(values, responses, response_column, chat=False)
    return _extract_chat(values, text_column, responses, response_column)


def _sampled_lists(values: list[Any]) -> tuple[list[Any], list[list[Any]]]:
    """The first 200 present values and those of them that are lists (parquet gives arrays)."""
    sample = [v for v in values[:200] if v is not None and not _is_nan(v)]
    return sample, [listed for listed in map(as_list, sample) if listed is not None]


def _list_column(column: str | None, lists: list[list[Any]], where: str) -> DataError:
    example = next((listed for listed in lists if listed), lists[0])[:3]
    return DataError(
        f"column '{column}' of {where} holds lists (e.g. {example!r}), not one text per row; "
        f"explode it to one row per text first (pandas: df.explode('{column}')) or join each list into one "
        "string; for chat logs store OpenAI messages ({'role': 'user', 'content': ...}) and use "
        "text_column='messages'"
    )


def _extract_chat(values: list[Any], text_column: str, responses: list[Any] | None,
                  response_column: str | None) -> _Extracted:
    """The last user turn as prompt; its assistant reply as response unless a column gives them."""
    parsed = [_parse_chat(v) for v in values]
    found = _Extracted([p[0] for p in parsed], responses, response_column, chat=True)
    for row, (_, _, reason, _) in enumerate(parsed):
        if reason is not None:
            found.invalid.append(InvalidRow(row, text_column, reason))
            found.reported.add(row)
    if response_column is None and any(p[3] for p in parsed):
        found.response_name = f"{text_column}:assistant"
        found.responses = [p[1] for p in parsed]
        for row, (_, _, reason, has_reply) in enumerate(parsed):
            if reason is None and not has_reply:
                found.invalid.append(InvalidRow(row, found.response_name, "no assistant message"))
                found.reported.add(row)
    return found


def _validate(found: _Extracted, text_column: str, response_column: str | None) -> None:
    """Add an InvalidRow for every unusable prompt or response, sorted by row then column."""
    checks = [(text_column, found.prompts)]
    if found.responses is not None:
        checks.append((str(found.response_name), found.responses))
    for column, values in checks:
        for row, value in enumerate(values):
            if row in found.reported and (column == text_column or response_column is None):
                continue  # already reported (no user message, not a message list ...)
            reason = text_reason(value)
            if reason is not None:
                found.invalid.append(InvalidRow(row, column, reason))
    found.invalid.sort(key=lambda r: (r.row, r.column != text_column))


def _all_invalid(found: _Extracted, n: int, where: str) -> DataError:
    by_column: dict[str, list[str]] = {}
    for r in found.invalid:
        by_column.setdefault(r.column, []).append(r.reason)
    if len(by_column) == 1:
        (column, reasons), = by_column.items()
        detail = f"all {n} rows of column '{column}' are invalid: {_counts(reasons)}"
    else:
        parts = "; ".join(f"column '{c}': {_counts(rs)}" for c, rs in by_column.items())
        detail = f"all {n} rows are invalid ({parts})"
    hint = ""
    if not found.chat and any(r.reason == "not a string" for r in found.invalid):
        hint = "; is it the right column? (chat logs: text_column='messages')"
    return DataError(f"{detail} in {where}; no text is left to embed{hint}")


def _assemble(table: Any, found: _Extracted, bad_rows: set[int], timestamp_column: str | None,
              id_column: str | None) -> TextData:
    keep = [row for row in range(len(table)) if row not in bad_rows]
    timestamps = ids = None
    invalid_timestamps: dict[int, str | None] = {}
    if timestamp_column is not None:
        stamps = _timestamps(table[timestamp_column].tolist())
        timestamps = [stamps[i] for i in keep]
        invalid_timestamps = {row: stamps[row] for row in sorted(bad_rows)}
    if id_column is not None:
        raw = table[id_column].tolist()
        ids = [_id_text(raw[i]) for i in keep]
    return TextData(
        prompts=[found.prompts[i] for i in keep],
        responses=[found.responses[i] for i in keep] if found.responses is not None else None,
        row_ids=keep,
        timestamps=timestamps,
        ids=ids,
        n_rows=len(table),
        invalid=found.invalid,
        invalid_timestamps=invalid_timestamps,
    )
