"""MLflow traces as a log source: ``traces:/EXPERIMENT?since=7d&filter=...``.

Teams that trace their LLM with MLflow already keep production prompts and answers in
the tracking server. A trace's *root span* is the request as the application saw it:
its inputs hold the prompt, its outputs the response. What they look like depends on
how the app was traced, so the prompt is found in, in this order:

* the root span's ``mlflow.chat.messages`` attribute, where present (the normalised
  conversation MLflow 2.x wrote for chat spans): the last user turn, and the
  assistant's reply as response;
* a plain string;
* a chat request: ``{"messages": [...]}`` (OpenAI, Anthropic), ``{"input": ...}``
  (OpenAI Responses), or a bare message list: the last user turn;
* the argument named by ``prompt_key`` (``--text-column``), else the first of
  ``prompt``, ``question``, ``query``, ``input``, ``user_input``, ``text``,
  ``message``, ``content``, else the only argument (``@mlflow.trace`` records a
  function's arguments by name).

and the response in a plain string, an OpenAI completion (``choices[0].message``), an
Anthropic message (``role: assistant``, content blocks), an OpenAI Responses output,
a message list (the reply to the last user turn), the field ``response_key`` names, a
usual field (``response``, ``answer``, ``output``, ...) or the only one.

A trace where nothing fits is not guessed at (no ``str()`` of a dict is ever embedded):
it becomes an invalid row with its reason, like a bad line of a JSON file; so does a
trace the server lists but whose spans are missing or corrupt ("unreadable trace"). Traces are
ordered by time (then id), so the same traces give the same window however they were
fetched.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from drift_tracking.errors import DataError
from drift_tracking.servers import first_line, is_unreachable, scoped_env
from drift_tracking.sources.chat import as_list, content_text, is_message_list, message_text, turns

__all__ = ["SCHEME", "TraceQuery", "TraceRecord", "is_traces_uri", "is_traces_source", "parse_uri", "read",
           "extract_prompt", "extract_response", "describe", "TRACE_REASONS"]

SCHEME = "traces:"
NO_ROOT = "no root span"
NO_PROMPT = "no prompt in the trace"
NO_RESPONSE = "no response in the trace"
NO_USER = "no user message"
UNREADABLE = "unreadable trace"
#: Reasons an invalid row read from a trace can carry, besides those of any text.
TRACE_REASONS = (UNREADABLE, NO_ROOT, NO_PROMPT, NO_RESPONSE)
#: Reasons that concern the whole trace: given as the prompt's, and not repeated for the response.
WHOLE_TRACE = (UNREADABLE, NO_ROOT)
QUERY_KEYS = ("since", "until", "filter", "limit")
CHAT_MESSAGES = "mlflow.chat.messages"  # MLflow 2.x's normalised conversation on chat spans
_PROMPT_KEYS = ("prompt", "question", "query", "input", "user_input", "text", "message", "content")
_RESPONSE_KEYS = ("response", "answer", "output", "output_text", "completion", "generated_text", "text",
                  "content", "result", "message")
_MAX_DEPTH = 4  # payloads nest a few levels ({"messages": [{"content": [...]}]}); deeper is not a prompt
_DURATION = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>w|d|h|min|m|s)")
_UNIT_MS = {"w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "min": 60_000, "m": 60_000, "s": 1000}
_PAGE = 500
# a couple of quick tries against the server instead of MLflow's minutes of retries
_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
         "MLFLOW_HTTP_REQUEST_TIMEOUT": "60"}
_NO_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}  # while looking for the traces at fault in a failing group
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")  # what trace ids look like; anything else is not put in a filter


# -- the URI ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TraceQuery:
    """Which traces a ``traces:/`` URI asks for: an experiment and optional time range, filter, limit."""

    experiment: str
    since_ms: int | None = None
    until_ms: int | None = None
    filter: str | None = None
    limit: int | None = None

    def filter_string(self) -> str | None:
        """The search filter sent to MLflow: the time range ANDed with the user's filter."""
        parts = []
        if self.since_ms is not None:
            parts.append(f"trace.timestamp_ms >= {self.since_ms}")
        if self.until_ms is not None:
            parts.append(f"trace.timestamp_ms < {self.until_ms}")
        if self.filter:
            parts.append(self.filter)
        return " AND ".join(parts) or None


def is_traces_uri(source: Any) -> bool:
    return isinstance(source, str) and source.startswith(SCHEME)


def is_traces_source(source: Any) -> bool:
    """A ``traces:/`` URI, a frame from ``mlflow.search_traces`` (a ``trace`` column) or a list of traces."""
    if is_traces_uri(source):
        return True
    if hasattr(source, "columns") and "trace" in getattr(source, "columns", ()):
        return True
    items = as_list(source)
    return bool(items) and _is_trace(items[0])


def _is_trace(value: Any) -> bool:
    return type(value).__name__ == "Trace" and hasattr(value, "info") and hasattr(value, "data")


def parse_uri(uri: str, *, now_ms: int | None = None) -> TraceQuery:
    """Read ``traces:/EXPERIMENT[?since=7d&until=...&filter=...&limit=N]``.

    ``since`` and ``until`` are durations before now (``2w``, ``7d``, ``12h``, ``30min``, ``90s``) or
    dates (``2026-02-01``, ISO 8601; UTC unless they say otherwise); ``filter`` is an
    MLflow trace search filter (URL-encoded, e.g. ``tags.env%20%3D%20'prod'``);
    ``limit`` keeps the newest N traces. The experiment is a name, or an id when no
    experiment has that name.
    """
    rest = uri[len(SCHEME):]
    if not rest.startswith("/") or not rest.strip("/").split("?")[0]:
        raise DataError(f"{uri!r} names no experiment; write traces:/EXPERIMENT (e.g. traces:/my-app?since=7d)")
    path, _, query = rest.lstrip("/").partition("?")
    params = urllib.parse.parse_qs(query, keep_blank_values=True, strict_parsing=False)
    unknown = sorted(set(params) - set(QUERY_KEYS))
    if unknown:
        raise DataError(f"unknown parameter(s) {', '.join(unknown)} in {uri!r}; known: {', '.join(QUERY_KEYS)}")
    repeated = sorted(k for k, v in params.items() if len(v) > 1)
    if repeated:
        raise DataError(f"{', '.join(repeated)} given twice in {uri!r}; give each parameter once")
    one = {k: v[0] for k, v in params.items()}
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return TraceQuery(
        experiment=urllib.parse.unquote(path),
        since_ms=_time_ms(one["since"], "since", now) if "since" in one else None,
        until_ms=_time_ms(one["until"], "until", now) if "until" in one else None,
        filter=one.get("filter") or None,
        limit=_limit(one["limit"]) if "limit" in one else None,
    )


def _time_ms(text: str, name: str, now_ms: int) -> int:
    """A duration before ``now_ms`` (``7d``) or a date, in epoch milliseconds."""
    import pandas as pd

    duration = _DURATION.fullmatch(text.strip().lower())
    if duration:
        return now_ms - int(float(duration["n"]) * _UNIT_MS[duration["unit"]])
    try:
        ts = pd.Timestamp(text)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
        return int(ts.timestamp() * 1000)
    except (ValueError, TypeError):
        raise DataError(
            f"{name}={text!r} is neither a duration (7d, 12h, 30min) nor a date (2026-02-01, ISO 8601)"
        ) from None


def _limit(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise DataError(f"limit={text!r} must be a positive whole number of traces")
    return int(text)


def describe(source: Any) -> str:
    """How error messages name ``source``."""
    if is_traces_uri(source):
        return f"'{source}'"
    return "the traces DataFrame" if hasattr(source, "columns") else "the traces"


# -- fetching --------------------------------------------------------------------------------
def search(query: TraceQuery, *, tracking_uri: str | None = None) -> list[Any]:
    """The traces ``query`` asks for, with their spans, from the tracking server in use.

    ``tracking_uri`` defaults to MLflow's own (``$MLFLOW_TRACKING_URI``). With a limit
    the newest traces are kept. Failures become one-line :class:`DataError` naming the
    server, after a couple of quick retries.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri)
    where = f"the MLflow tracking server at {client.tracking_uri}"
    try:
        with scoped_env(_HTTP):
            experiment = _experiment(client, query.experiment, where)
            return _pages(client, experiment.experiment_id, query)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - MLflow's errors and those of requests / urllib3 under them
        if is_unreachable(exc) or not isinstance(exc, MlflowException):
            raise DataError(f"cannot read traces from {where}: {first_line(exc)}; "
                            "check --tracking-uri / $MLFLOW_TRACKING_URI and that the server runs") from None
        raise DataError(f"{where} refused the trace search for experiment {query.experiment!r} "
                        f"(filter {query.filter_string()!r}): {first_line(exc)}") from None


def _experiment(client: Any, name: str, where: str) -> Any:
    found = client.get_experiment_by_name(name)
    if found is None and name.isdigit():
        from mlflow.exceptions import MlflowException

        try:
            found = client.get_experiment(name)
        except MlflowException:
            found = None
    if found is None:
        raise DataError(f"no experiment named {name!r} at {where}; check the name after traces:/ "
                        "and --tracking-uri / $MLFLOW_TRACKING_URI")
    return found


def _pages(client: Any, experiment_id: str, query: TraceQuery) -> list[Any]:
    """Every matching trace, page by page (newest first when limited, so the limit keeps the latest).

    A page is searched without spans, then its traces are fetched with their spans (see
    :func:`_with_spans`): a trace whose spans cannot be read comes back as its ``TraceInfo``.
    """
    order = ["timestamp_ms DESC"] if query.limit else ["timestamp_ms ASC"]
    traces: list[Any] = []
    token = None
    while True:
        size = _PAGE if query.limit is None else min(_PAGE, query.limit - len(traces))
        page = client.search_traces(locations=[experiment_id], filter_string=query.filter_string(),
                                    max_results=size, order_by=order, page_token=token, include_spans=False)
        traces.extend(_with_spans(client, experiment_id, [t.info for t in page]))
        token = getattr(page, "token", None)
        if not token or not page or (query.limit is not None and len(traces) >= query.limit):
            return traces


def _with_spans(client: Any, experiment_id: str, infos: list[Any]) -> list[Any]:
    """The traces of ``infos`` with their spans, in the same order; an unreadable one stays its ``TraceInfo``.

    Why not one search with spans: MLflow's search silently leaves out a trace whose stored
    spans are missing, and the server fails the whole page (HTTP 500) on one whose spans are
    corrupt. So the traces are fetched by id, a failing group is halved (without retries)
    until the traces at fault are alone, and each of those gets one fetch with the usual
    retries before it is called unreadable. A bad trace costs a few quick requests, never
    the window or a silent gap in it.
    """
    from mlflow.exceptions import MlflowException

    found: dict[str, Any] = {}
    groups = [[i.trace_id for i in infos if _ID.fullmatch(i.trace_id or "")]]
    while groups:
        group = groups.pop()
        if not group:
            continue
        try:
            with scoped_env({} if len(group) == 1 else _NO_RETRIES):
                found.update((t.info.trace_id, t) for t in client.search_traces(
                    locations=[experiment_id], filter_string=f"trace.request_id IN ({', '.join(map(repr, group))})",
                    max_results=len(group), include_spans=True))
        except MlflowException as exc:
            if _server_gone(exc):
                raise
            if len(group) > 1:
                groups += [group[len(group) // 2:], group[:len(group) // 2]]
    return [found.get(i.trace_id, i) for i in infos]


def _server_gone(exc: BaseException) -> bool:
    """True when the server could not be reached at all (not when it answered with an error)."""
    import requests

    current: BaseException | None = exc
    for _ in range(16):  # MLflow wraps requests' errors a few levels deep
        if current is None:
            return False
        if isinstance(current, (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError,
                                TimeoutError)):
            return True
        current = current.__cause__ or current.__context__
    return False


# -- reading one trace -----------------------------------------------------------------------
@dataclass(frozen=True)
class TraceRecord:
    """One trace reduced to what drift needs: its id, time, prompt and response values.

    ``prompt``/``response`` are the values found (validated later like any text);
    ``prompt_problem``/``response_problem`` say why none could be found.
    ``has_output`` is False when the trace recorded no output at all (a failed call).
    ``position`` is its row in the frame or list it was read from (for a ``traces:/``
    URI, its place in time order).
    """

    trace_id: str | None
    timestamp_ms: int | None
    prompt: Any = None
    response: Any = None
    prompt_problem: str | None = None
    response_problem: str | None = None
    has_output: bool = False
    position: int = 0


def read(source: Any, *, tracking_uri: str | None = None, prompt_key: str | None = None,
         response_key: str | None = None) -> list[TraceRecord]:
    """The records of a ``traces:/`` URI, a ``search_traces`` frame, a list of traces or of
    ``{"inputs", "outputs"}`` rows (``mlflow.genai.evaluate``'s format), ordered by time then id."""
    searched = is_traces_uri(source)
    if searched:
        source = search(parse_uri(source), tracking_uri=tracking_uri)
    if hasattr(source, "columns"):
        source = source.to_dict("records")
    items = as_list(source)
    if items is None:
        raise DataError(f"cannot read traces from a {type(source).__name__}; pass a traces:/EXPERIMENT URI, "
                        "the DataFrame mlflow.search_traces returns or a list of traces")
    records = [replace(_record(item, prompt_key, response_key), position=i) for i, item in enumerate(items)]
    # stable: rows without a time or id (inputs/outputs rows) keep their order
    records.sort(key=lambda r: (r.timestamp_ms is None, r.timestamp_ms or 0, r.trace_id or ""))
    return [replace(r, position=i) for i, r in enumerate(records)] if searched else records


def _record(item: Any, prompt_key: str | None, response_key: str | None) -> TraceRecord:
    """One record from a Trace, a search_traces row (its ``trace`` JSON) or an inputs/outputs row."""
    if isinstance(item, dict) and "trace" not in item and ("inputs" in item or "outputs" in item):
        return _from_payloads(_text_id(item.get("trace_id")), None, item.get("inputs"), item.get("outputs"),
                              prompt_key, response_key)
    if type(item).__name__ == "TraceInfo":  # found by the search, but its spans could not be read
        return TraceRecord(_text_id(item.trace_id), item.request_time, prompt_problem=UNREADABLE)
    trace = item.get("trace") if isinstance(item, dict) else item
    if not _is_trace(trace):
        trace = _parse_trace(trace)
        if trace is None:
            row_id = _text_id(item.get("trace_id")) if isinstance(item, dict) else None
            return TraceRecord(row_id, None, prompt_problem=UNREADABLE)
    return from_trace(trace, prompt_key=prompt_key, response_key=response_key)


def _parse_trace(value: Any) -> Any:
    """A Trace from its JSON (what ``search_traces`` puts in the ``trace`` column), or None."""
    from mlflow.entities import Trace

    if not isinstance(value, (str, bytes, dict)):
        return None
    try:
        return Trace.from_dict(value) if isinstance(value, dict) else Trace.from_json(value)
    except Exception:  # noqa: BLE001 - any malformed trace is one invalid row, never a crash
        return None


def _text_id(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def from_trace(trace: Any, *, prompt_key: str | None = None, response_key: str | None = None) -> TraceRecord:
    """The prompt and response of one trace, read from its root span."""
    trace_id, stamp = trace.info.trace_id, trace.info.request_time
    root = next((s for s in trace.data.spans if s.parent_id is None), None)
    if root is None:
        return TraceRecord(trace_id, stamp, prompt_problem=NO_ROOT)
    chat = root.get_attribute(CHAT_MESSAGES) if prompt_key is None else None
    if is_message_list(chat):
        messages = as_list(chat)
        user, reply = turns(messages)
        if user is not None and reply is not None and response_key is None:
            return TraceRecord(trace_id, stamp, message_text(messages, user), message_text(messages, reply),
                               has_output=True)
        if user is not None:
            return _from_payloads(trace_id, stamp, {"messages": messages}, root.outputs, None, response_key)
    return _from_payloads(trace_id, stamp, root.inputs, root.outputs, prompt_key, response_key)


def _from_payloads(trace_id: str | None, stamp: int | None, inputs: Any, outputs: Any,
                   prompt_key: str | None, response_key: str | None) -> TraceRecord:
    prompt, prompt_problem = extract_prompt(inputs, prompt_key)
    response, response_problem = extract_response(outputs, response_key)
    return TraceRecord(trace_id, stamp, prompt, response, prompt_problem, response_problem,
                       has_output=outputs is not None)


# -- finding the texts -----------------------------------------------------------------------
def extract_prompt(inputs: Any, key: str | None = None) -> tuple[Any, str | None]:
    """(the prompt in a root span's ``inputs``, None) or (None, why there is none).

    >>> extract_prompt({"messages": [{"role": "system", "content": "Be brief."},
    ...                              {"role": "user", "content": [{"type": "text", "text": "Hi"}]}]})
    ('Hi', None)
    >>> extract_prompt({"question": "Where is my order?", "user_id": 7})
    ('Where is my order?', None)
    >>> extract_prompt({"a": "x", "b": "y"})
    (None, 'no prompt in the trace')
    """
    return _extract(inputs, key, _PROMPT)


def extract_response(outputs: Any, key: str | None = None) -> tuple[Any, str | None]:
    """(the response in a root span's ``outputs``, None) or (None, why there is none).

    >>> extract_response({"choices": [{"message": {"role": "assistant", "content": "Done."}}]})
    ('Done.', None)
    >>> extract_response({"role": "assistant", "content": [{"type": "text", "text": "Sure."}]})
    ('Sure.', None)
    """
    return _extract(outputs, key, _RESPONSE)


@dataclass(frozen=True)
class _Side:
    """How to walk a payload for one side: which turn of a conversation, what is missing, the rest."""

    turn: int  # 0: the last user turn, 1: the reply to it (see chat.turns)
    missing: str
    no_turn: str
    rest: Callable[[Any, int], tuple[Any, str | None]]


def _extract(payload: Any, key: str | None, side: _Side) -> tuple[Any, str | None]:
    if key is not None:  # a named field must be there
        if not isinstance(payload, dict) or key not in payload:
            return None, side.missing
        payload = payload[key]
    return _walk(payload, 0, side)


def _walk(value: Any, depth: int, side: _Side) -> tuple[Any, str | None]:
    """Strings as they are, conversations by their turn, anything else by the side's own rules."""
    if value is None or isinstance(value, str):
        return value, None
    if depth > _MAX_DEPTH:
        return None, side.missing
    if is_message_list(value):
        messages = as_list(value)
        position = turns(messages)[side.turn]
        return (message_text(messages, position), None) if position is not None else (None, side.no_turn)
    return side.rest(value, depth)


def _prompt_in(value: Any, depth: int) -> tuple[Any, str | None]:
    if isinstance(value, dict):
        if "messages" in value:
            return _walk(value["messages"], depth + 1, _PROMPT)
        if "role" in value and "content" in value:  # one message
            return (content_text(value["content"]), None) if value["role"] == "user" else (None, NO_USER)
        for key in _PROMPT_KEYS:
            if key in value:
                return _walk(value[key], depth + 1, _PROMPT)
        if len(value) == 1:
            return _walk(next(iter(value.values())), depth + 1, _PROMPT)
        return None, NO_PROMPT
    return (None, NO_PROMPT) if as_list(value) is not None else (value, None)  # a scalar is judged as text


def _response_in(value: Any, depth: int) -> tuple[Any, str | None]:
    items = as_list(value)
    if items is not None:  # a one-item list (pyfunc models wrap their output), or an OpenAI Responses output
        said = [i for i in items if isinstance(i, dict) and i.get("role") == "assistant"]
        if said:
            return content_text(said[-1].get("content")), None
        return _walk(items[0], depth + 1, _RESPONSE) if len(items) == 1 else (None, NO_RESPONSE)
    if not isinstance(value, dict):
        return value, None  # a scalar is judged as text
    choices = as_list(value.get("choices"))
    if choices and isinstance(choices[0], dict):  # OpenAI chat / completions
        return _walk(choices[0].get("message", choices[0].get("text")), depth + 1, _RESPONSE)
    if value.get("role") == "assistant" and "content" in value:  # Anthropic message, one message
        return content_text(value["content"]), None
    for key in ("output", "messages", *_RESPONSE_KEYS):
        if key in value:
            return _walk(value[key], depth + 1, _RESPONSE)
    if len(value) == 1:
        return _walk(next(iter(value.values())), depth + 1, _RESPONSE)
    return None, NO_RESPONSE


_PROMPT = _Side(turn=0, missing=NO_PROMPT, no_turn=NO_USER, rest=_prompt_in)
_RESPONSE = _Side(turn=1, missing=NO_RESPONSE, no_turn=NO_RESPONSE, rest=_response_in)
