"""Read production logs (JSON lines, JSON, CSV, parquet, DataFrames, OpenAI chat logs) into texts.

Bad values are never embedded and never coerced with ``str()``: an empty, whitespace-only,
missing, NaN or non-string prompt or response is reported as an :class:`InvalidRow` with
its 0-based row number, and the whole row is left out so prompts and responses stay aligned.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from drift_tracking.errors import DataError

__all__ = ["InvalidRow", "TextData", "read_table", "load_texts", "SUPPORTED_FORMATS", "INVALID_REASONS"]

SUPPORTED_FORMATS = (".jsonl", ".ndjson", ".json", ".csv", ".parquet")
#: Reasons an InvalidRow can carry; the last three only occur in chat logs.
INVALID_REASONS = (
    "missing", "empty", "whitespace-only", "not a string", "NaN",
    "no user message", "no assistant message", "not a message list",
)
_FIRST_ROWS = 20


@dataclass(frozen=True)
class InvalidRow:
    """A value that was not usable text: its 0-based row in the source, column and reason."""

    row: int
    column: str
    reason: str


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

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def n_invalid(self) -> int:
        """Number of rows left out (a row with an invalid prompt *and* response counts once)."""
        return len({r.row for r in self.invalid})

    def invalid_summary(self) -> dict[str, Any]:
        """JSON-safe summary for reports: counts per reason and column, first 20 rows left out."""
        rows = sorted({r.row for r in self.invalid})
        return {
            "n_invalid_rows": len(rows),
            "n_rows": int(self.n_rows),
            "by_reason": dict(Counter(r.reason for r in self.invalid).most_common()),
            "by_column": dict(Counter(r.column for r in self.invalid).most_common()),
            "first_rows": [int(r) for r in rows[:_FIRST_ROWS]],
        }


# -- reading tables --------------------------------------------------------------------------
def _describe(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return f"'{source}'"
    if isinstance(source, pd.DataFrame):
        return "the DataFrame"
    return "the records"


def _records_frame(records: list[Any], where: str):
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
    return pd.DataFrame({c: [record.get(c) for record in records] for c in columns}, dtype=object)


def _read_json_lines(text: str, where: str):
    records: list[Any] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
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
        records.append(record)
    return _records_frame(records, where)


def _read_json(text: str, where: str):
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"malformed JSON in {where} at line {exc.lineno}, column {exc.colno}: {exc.msg}; "
                "the file must hold a JSON array of objects, or one JSON object per line"
            ) from None
        for i, record in enumerate(data):
            if not isinstance(record, dict):
                raise DataError(
                    f"item {i} of the JSON array in {where} is a {type(record).__name__}, not an object; "
                    "the array must hold one object per row"
                )
        return _records_frame(data, where)
    return _read_json_lines(text, where)


def read_table(source: Any):
    """Read ``source`` into a pandas DataFrame.

    ``source`` is a path (``str``/``Path``) ending in ``.jsonl``/``.ndjson`` (JSON lines),
    ``.json`` (a JSON array of objects, or JSON lines), ``.csv`` or ``.parquet``; a
    DataFrame (returned as is); or a list of dicts. CSV values are read as text (an empty
    field is an empty string), so nothing in a CSV is silently turned into NaN.
    """
    if isinstance(source, pd.DataFrame):
        return source
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
            try:
                return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
            except pd.errors.EmptyDataError:
                return pd.DataFrame()
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


def _text_reason(value: Any) -> str | None:
    """Why ``value`` is not usable text, or None when it is."""
    if value is None:
        return "missing"
    if isinstance(value, str):
        if not value:
            return "empty"
        if not value.strip():
            return "whitespace-only"
        return None
    if _is_nan(value):
        return "NaN"
    return "not a string"


def _as_list(value: Any) -> list[Any] | None:
    """A Python list for list-likes (parquet gives numpy arrays), else None."""
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    if type(value).__name__ == "ndarray":
        return value.tolist()
    return None


def _content_text(content: Any) -> Any:
    """A message's content as text: a string, or the joined text of a list of parts."""
    parts = _as_list(content)
    if parts is None:
        return content
    texts: list[str] = []
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type", "text") == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "\n".join(texts)  # "" (reported as empty) when no part holds text


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
    messages = _as_list(value)
    if messages is None:
        return None, None, "not a message list", False
    if not messages:
        return None, None, "empty", False
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
    users = [i for i, r in enumerate(roles) if r == "user"]
    assistants = [i for i, r in enumerate(roles) if r == "assistant"]
    if not users:
        return None, None, "no user message", bool(assistants)
    last_user = users[-1]
    after = [i for i in assistants if i > last_user]
    reply = after[0] if after else (assistants[-1] if assistants else None)
    prompt = _content_text(messages[last_user].get("content"))
    response = _content_text(messages[reply].get("content")) if reply is not None else None
    return prompt, response, None, reply is not None


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
def load_texts(
    source: Any,
    *,
    text_column: str = "prompt",
    response_column: str | None = None,
    timestamp_column: str | None = None,
    id_column: str | None = None,
    drop_invalid: bool = True,
) -> TextData:
    """Load prompts (and optionally responses, timestamps, ids) from ``source``.

    ``source`` is anything :func:`read_table` reads. Chat logs in OpenAI format (a
    ``messages`` column, or a text column holding lists of ``{"role", "content"}``) give
    the last ``user`` turn as the prompt and the ``assistant`` turn after it (else the last
    assistant turn) as the response, unless ``response_column`` names another column.

    Unusable values are reported in ``TextData.invalid`` and their rows left out; with
    ``drop_invalid=False`` any unusable value raises :class:`DataError` instead.
    Raises :class:`DataError` for an unreadable source, an unknown column, an empty table
    or when no valid row remains.
    """
    table = read_table(source)
    where = _describe(source)
    if len(table.columns) == 0 or len(table) == 0:
        raise DataError(f"{where} has no rows; nothing to load")
    columns = [str(c) for c in table.columns]
    for arg, column in (("text_column", text_column), ("response_column", response_column),
                        ("timestamp_column", timestamp_column), ("id_column", id_column)):
        if column is not None and column not in table.columns:
            hint = ""
            if arg == "text_column" and "messages" in table.columns:
                hint = " (for chat logs use text_column='messages')"
            raise DataError(
                f"column '{column}' not found in {where}; available columns: {', '.join(columns)}{hint}"
            )

    wanted = [c for c in (text_column, response_column, timestamp_column, id_column) if c is not None]
    duplicated = sorted({str(c) for c in table.columns[table.columns.duplicated()] if c in wanted})
    if duplicated:
        raise DataError(f"{where} has several columns named {', '.join(map(repr, duplicated))}; rename them")

    n = len(table)
    values = table[text_column].tolist()
    sample = [v for v in values[:200] if v is not None and not _is_nan(v)]
    # chat logs: lists of messages (JSON text in CSV files, numpy arrays from parquet)
    n_lists = sum(_as_list(v) is not None for v in sample)
    chat = (n_lists > 0 and (text_column == "messages" or 2 * n_lists >= len(sample))) or (
        text_column == "messages" and any(isinstance(v, str) and v.lstrip().startswith("[") for v in sample)
    )
    invalid: list[InvalidRow] = []
    bad_rows: set[int] = set()
    prompts: list[Any]
    responses: list[Any] | None = None
    response_name = response_column

    if chat:
        parsed = [_parse_chat(v) for v in values]
        prompts = [p[0] for p in parsed]
        for row, (_, _, reason, _) in enumerate(parsed):
            if reason is not None:
                invalid.append(InvalidRow(row, text_column, reason))
                bad_rows.add(row)
        chat_bad = set(bad_rows)  # rows without a usable conversation
        if response_column is None and any(p[3] for p in parsed):
            response_name = f"{text_column}:assistant"
            responses = [p[1] for p in parsed]
            for row, (_, _, reason, has_reply) in enumerate(parsed):
                if reason is None and not has_reply:
                    invalid.append(InvalidRow(row, response_name, "no assistant message"))
                    bad_rows.add(row)
                    chat_bad.add(row)
    else:
        prompts = values

    if response_column is not None:
        responses = table[response_column].tolist()

    checks = [(text_column, prompts)] + ([(response_name, responses)] if responses is not None else [])
    for column, column_values in checks:
        for row, value in enumerate(column_values):
            if chat and row in chat_bad and (column == text_column or response_column is None):
                continue  # already reported (no user message, not a message list ...)
            reason = _text_reason(value)
            if reason is not None:
                invalid.append(InvalidRow(row, str(column), reason))
                bad_rows.add(row)
    invalid.sort(key=lambda r: (r.row, r.column != text_column))

    if bad_rows and not drop_invalid:
        first = ", ".join(f"row {r.row} ({r.column}: {r.reason})" for r in invalid[:10])
        raise DataError(
            f"{len(bad_rows)} of {n} rows of {where} have unusable text: {first}"
            f"{' ...' if len(invalid) > 10 else ''}; fix them or load with drop_invalid=True to leave them out"
        )
    if len(bad_rows) == n:
        by_column: dict[str, list[str]] = {}
        for r in invalid:
            by_column.setdefault(r.column, []).append(r.reason)
        if len(by_column) == 1:
            (column, reasons), = by_column.items()
            detail = f"all {n} rows of column '{column}' are invalid: {_counts(reasons)}"
        else:
            parts = "; ".join(f"column '{c}': {_counts(rs)}" for c, rs in by_column.items())
            detail = f"all {n} rows are invalid ({parts})"
        hint = ""
        if not chat and any(r.reason == "not a string" for r in invalid):
            hint = "; is it the right column? (chat logs: text_column='messages')"
        raise DataError(f"{detail} in {where}; no text is left to embed{hint}")

    keep = [row for row in range(n) if row not in bad_rows]
    timestamps = ids = None
    if timestamp_column is not None:
        raw = table[timestamp_column].tolist()
        timestamps = _timestamps([raw[i] for i in keep])
    if id_column is not None:
        raw = table[id_column].tolist()
        ids = [_id_text(raw[i]) for i in keep]
    return TextData(
        prompts=[prompts[i] for i in keep],
        responses=[responses[i] for i in keep] if responses is not None else None,
        row_ids=keep,
        timestamps=timestamps,
        ids=ids,
        n_rows=n,
        invalid=invalid,
    )
