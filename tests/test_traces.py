"""MLflow traces as a log source: ``traces:/EXPERIMENT`` for check, monitor and baseline build.

Traces are logged to a real ``mlflow server`` by ``@mlflow.trace``, ``mlflow.start_span``
and ``mlflow.start_span_no_context`` (with the samples' own times), in the payload shapes
instrumented apps write, then read back through the CLI and the library. Damaged traces
are made by damaging what the server stored, in its own database.
"""

from __future__ import annotations

import doctest
import json
import sqlite3

import pandas as pd
import pytest
from click.testing import CliRunner
from trace_support import log_traced_calls, log_traffic, payloads, same_report, server, write_jsonl  # noqa: F401

from drift_tracking.cli import main
from drift_tracking.data import load_texts, load_traces, read_table
from drift_tracking.errors import DataError
from drift_tracking.sources import chat, traces
from drift_tracking.sources.traces import NO_PROMPT, NO_RESPONSE, NO_USER, extract_prompt, extract_response, parse_uri

NOW_MS = 1_780_000_000_000  # 2026-05-28T20:26:40Z


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# -- reading payloads (no server) ------------------------------------------------------------
def test_the_examples_in_the_sources_docstrings_hold():
    for module in (chat, traces):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


@pytest.mark.parametrize("shape", ["function", "openai", "anthropic", "responses"])
def test_each_payload_shape_gives_its_prompt_and_response(shape):
    inputs, outputs = payloads("Where is my parcel?", "It ships tomorrow.", shape)
    assert extract_prompt(inputs) == ("Where is my parcel?", None)
    assert extract_response(outputs) == ("It ships tomorrow.", None)


@pytest.mark.parametrize("inputs, expected", [
    ("plain text", ("plain text", None)),
    ([{"role": "user", "content": "first"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "last"}],
     ("last", None)),
    ({"messages": [{"role": "system", "content": "only a system turn"}]}, (None, NO_USER)),
    ({"prompt": "p", "temperature": 0.2}, ("p", None)),
    ({"user_request": "the only argument"}, ("the only argument", None)),
    ({"a": "x", "b": "y"}, (None, NO_PROMPT)),
    ({"question": 42}, (42, None)),  # judged later as text: "not a string"
    ({"question": ["a", "b"]}, (None, NO_PROMPT)),
    (None, (None, None)),  # judged later: "missing"
])
def test_prompts_are_found_where_apps_put_them_and_never_guessed(inputs, expected):
    assert extract_prompt(inputs) == expected


@pytest.mark.parametrize("outputs, expected", [
    ({"choices": [{"text": "completion"}]}, ("completion", None)),
    (["only item"], ("only item", None)),
    ({"message": {"role": "assistant", "content": "ollama style"}}, ("ollama style", None)),
    ({"answer": "a", "sources": ["doc1"]}, ("a", None)),
    ({"x": 1, "y": 2}, (None, NO_RESPONSE)),
    ([{"role": "user", "content": "no reply"}], (None, NO_RESPONSE)),
])
def test_responses_are_found_where_apps_put_them(outputs, expected):
    assert extract_response(outputs) == expected


def test_payloads_nested_deeper_than_any_app_writes_are_not_searched():
    nested = "the prompt"
    for _ in range(8):
        nested = {"input": nested}
    assert extract_prompt(nested) == (None, NO_PROMPT)
    assert extract_prompt({"input": {"input": "two levels"}}) == ("two levels", None)


def test_a_named_field_is_used_strictly():
    assert extract_prompt({"a": "x", "b": "y"}, "b") == ("y", None)
    assert extract_prompt({"a": "x"}, "question") == (None, NO_PROMPT)
    assert extract_response({"draft": "d", "final": "f"}, "final") == ("f", None)


def test_uri_parameters():
    query = parse_uri("traces:/my%20app?since=7d&until=2026-05-01&filter=tags.env%20%3D%20'prod'&limit=50",
                      now_ms=NOW_MS)
    assert query.experiment == "my app"
    assert query.since_ms == NOW_MS - 7 * 86_400_000
    assert query.until_ms == 1_777_593_600_000  # 2026-05-01T00:00:00Z
    assert query.limit == 50
    assert query.filter_string() == (f"trace.timestamp_ms >= {NOW_MS - 7 * 86_400_000} AND "
                                     "trace.timestamp_ms < 1777593600000 AND tags.env = 'prod'")
    assert parse_uri("traces:/app").filter_string() is None


@pytest.mark.parametrize("uri, message", [
    ("traces:/", "names no experiment"),
    ("traces:app", "names no experiment"),
    ("traces:/app?since=lately", "neither a duration"),
    ("traces:/app?limit=0", "positive whole number"),
    ("traces:/app?sinse=7d", "unknown parameter(s) sinse"),
    ("traces:/app?since=1d&since=2d", "given twice"),
])
def test_bad_uris_get_a_clear_error(uri, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_uri(uri)


def test_a_traces_uri_is_no_table():
    with pytest.raises(DataError, match="MLflow traces source"):
        read_table("traces:/app")


# -- a real server ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app(server, healthy_window, drifted_window, tmp_path_factory):
    """200 traces: 100 healthy ones on 2026-02-01, 100 drifted ones on 2026-02-08; and the same as JSONL."""
    samples = list(healthy_window[:100]) + list(drifted_window[:100])
    name, experiment_id = log_traffic(samples)
    path = write_jsonl(samples, tmp_path_factory.mktemp("traces") / "same.jsonl")
    return {"name": name, "id": experiment_id, "samples": samples, "jsonl": path}


@pytest.fixture(scope="module")
def live(server, app):
    """The same 200 samples logged live by @mlflow.trace (a function, an OpenAI chat call) and mlflow.start_span."""
    name, experiment_id = log_traced_calls(app["samples"])
    return {**app, "name": name, "id": experiment_id}


@pytest.fixture(scope="module")
def formats(server):
    """A few traces logged by @mlflow.trace and mlflow.start_span, good and bad, in logging order."""
    import time

    import mlflow

    experiment = mlflow.set_experiment(f"formats-{time.time_ns()}")

    @mlflow.trace
    def answer(question: str) -> str:
        return f"Here is how: {question.lower()}"

    @mlflow.trace(name="chat")
    def chat_completion(messages: list, model: str) -> dict:
        return {"choices": [{"message": {"role": "assistant", "content": "Your refund is on its way."}}]}

    @mlflow.trace
    def two_arguments(a: str, b: str) -> dict:
        return {"draft": "A draft.", "final": "The final answer."}

    @mlflow.trace
    def failing(question: str) -> str:
        raise RuntimeError("model timed out")

    def pause() -> None:
        time.sleep(0.005)  # distinct request times, so the order of the traces is known

    answer("How do I reset my password?")
    pause()
    chat_completion([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is my refund?"},
                     {"role": "assistant", "content": "Checking."}, {"role": "user", "content": "Any news?"}], "ft-1")
    pause()
    with mlflow.start_span(name="anthropic_call", span_type="CHAT_MODEL") as span:
        span.set_inputs({"system": "Be brief.", "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Can I change my address?"}]}]})
        span.set_outputs({"role": "assistant", "content": [{"type": "text", "text": "Yes, in settings."}]})
    pause()
    with mlflow.start_span(name="legacy_chat") as span:
        span.set_inputs({"payload_id": 7, "tenant": "acme"})
        span.set_attribute("mlflow.chat.messages", [{"role": "user", "content": "Is there a student discount?"},
                                                    {"role": "assistant", "content": "Yes, 20% off."}])
        span.set_outputs({"status": 200, "latency_ms": 12})
    pause()
    two_arguments("first", "second")
    pause()
    with pytest.raises(RuntimeError):
        failing("Why is the app slow?")
    pause()
    with mlflow.start_span(name="blank") as span:
        span.set_inputs({"question": "   "})
        span.set_outputs("Could you say more?")
    mlflow.flush_trace_async_logging()
    listed = mlflow.search_traces(locations=[experiment.experiment_id], return_type="list",
                                  order_by=["timestamp_ms ASC"])
    return {"name": experiment.name, "id": experiment.experiment_id, "traces": listed}


@pytest.mark.slow
def test_formats_logged_by_trace_and_start_span(server, formats):
    ids = [t.info.trace_id for t in formats["traces"]]
    assert len(ids) == 7
    data = load_traces(f"traces:/{formats['name']}", tracking_uri=server)
    assert data.prompts == ["How do I reset my password?", "Any news?", "Can I change my address?",
                            "Is there a student discount?"]
    assert data.responses == ["Here is how: how do i reset my password?", "Your refund is on its way.",
                              "Yes, in settings.", "Yes, 20% off."]
    assert data.ids == ids[:4] and data.row_ids == [0, 1, 2, 3] and data.n_rows == 7
    assert all(t.endswith("Z") for t in data.timestamps)
    assert [(r.row, r.column, r.reason, r.id) for r in data.invalid] == [
        (4, "prompt", NO_PROMPT, ids[4]), (4, "response", NO_RESPONSE, ids[4]),
        (5, "response", "missing", ids[5]),  # the failed call recorded no output
        (6, "prompt", "whitespace-only", ids[6]),
    ]
    summary = data.invalid_summary()
    assert summary["first_rows"] == [4, 5, 6] and summary["first_ids"] == ids[4:]


@pytest.mark.slow
def test_a_search_traces_frame_and_a_list_read_the_same(server, formats):
    import mlflow

    frame = mlflow.search_traces(locations=[formats["id"]])  # newest first
    assert list(frame["trace_id"]) == [t.info.trace_id for t in reversed(formats["traces"])]
    from_frame = load_texts(frame)  # dispatched: "prompt" is not a column of the frame
    from_list = load_traces(formats["traces"])
    for data in (from_frame, from_list):
        assert data.prompts[0] == "How do I reset my password?" and len(data) == 4
    assert from_frame.prompts == from_list.prompts and from_frame.ids == from_list.ids
    assert from_frame.row_ids == [6, 5, 4, 3]  # rows of the frame, in time order
    assert sorted(r.row for r in from_frame.invalid) == [0, 1, 2, 2]
    picked = load_traces(formats["traces"], prompt_key="b", response_key="final")
    assert (picked.prompts, picked.responses) == (["second"], ["The final answer."])
    assert picked.n_invalid == 6
    named = load_texts(frame, text_column="b", response_column="final")  # what --text-column / --response-column do
    assert (named.prompts, named.responses) == (picked.prompts, picked.responses)

    garbled = pd.DataFrame({"trace_id": ["tr-broken"], "trace": ['{"info": {"trace_id"']})
    broken = pd.concat([frame, garbled], ignore_index=True)
    read = load_traces(broken)
    assert read.prompts == from_frame.prompts
    assert [(r.row, r.reason, r.id) for r in read.invalid if r.id == "tr-broken"] == [(7, "unreadable trace", "tr-broken")]


@pytest.mark.slow
def test_time_range_filter_and_limit_select_traces(server, app):
    name = app["name"]
    first, second = app["samples"][:100], app["samples"][100:]
    early = load_traces(f"traces:/{name}?until=2026-02-05", tracking_uri=server)
    late = load_traces(f"traces:/{name}?since=2026-02-05T00:00:00Z", tracking_uri=server)
    assert early.prompts == [s.prompt for s in first] and late.prompts == [s.prompt for s in second]
    assert early.timestamps == [s.timestamp for s in first]
    tagged = load_traces(f"traces:/{name}?filter=tags.half%20%3D%20'second'", tracking_uri=server)
    assert tagged.prompts == late.prompts
    newest = load_traces(f"traces:/{name}?limit=7", tracking_uri=server)
    assert newest.prompts == [s.prompt for s in second[-7:]]  # the newest, in time order
    by_id = load_traces(f"traces:/{app['id']}", tracking_uri=server)
    assert len(by_id) == 200


@pytest.mark.slow
def test_many_pages_of_traces_are_read_in_order(server, app, monkeypatch):
    monkeypatch.setattr(traces, "_PAGE", 64)  # 200 traces: four pages
    everything = load_traces(f"traces:/{app['name']}", tracking_uri=server)
    assert everything.prompts == [s.prompt for s in app["samples"]]
    newest = load_traces(f"traces:/{app['name']}?limit=150", tracking_uri=server)
    assert newest.prompts == [s.prompt for s in app["samples"][50:]]


@pytest.mark.slow
def test_unknown_experiment_bad_filter_and_dead_server_are_one_line_errors(server, app, dead_tracking_uri):
    with pytest.raises(DataError, match="no experiment named 'no-such-app'"):
        load_traces("traces:/no-such-app", tracking_uri=server)
    with pytest.raises(DataError, match="refused the trace search"):
        load_traces(f"traces:/{app['name']}?filter=nonsense%20%3D%3D%3D", tracking_uri=server)
    with pytest.raises(DataError, match=f"cannot read traces from the MLflow tracking server at {dead_tracking_uri}"):
        load_traces(f"traces:/{app['name']}", tracking_uri=dead_tracking_uri)
    with pytest.raises(DataError, match="holds no traces"):
        load_traces(f"traces:/{app['name']}?since=1h", tracking_uri=server)


# -- the commands ----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("logged", ["app", "live"])
def test_check_on_traces_gives_the_report_of_the_same_jsonl(server, baseline, logged, request):
    traced = request.getfixturevalue(logged)
    from_traces = _run("check", f"traces:/{traced['name']}", "--baseline", baseline.path, "--tracking-uri", server,
                       "--format", "json")
    from_file = _run("check", traced["jsonl"], "--baseline", baseline.path, "--response-column", "response",
                     "--format", "json")
    assert from_traces.exit_code == 0, from_traces.output
    assert from_file.exit_code == 0, from_file.output
    a, b = json.loads(from_traces.stdout), json.loads(from_file.stdout)
    assert a["n_samples"] == b["n_samples"] == 200
    assert a["tier"] == b["tier"] != "ok"  # half the window is the drifted traffic
    assert a["response_metrics"] and a["metrics"]["novel_cluster_share"] > 0
    same_report(a, b)  # every statistic, cluster, reason and example, but the window's source


@pytest.mark.slow
def test_feedback_joins_on_trace_ids(server, app, baseline, tmp_path):
    import mlflow

    ids = list(mlflow.search_traces(locations=[app["id"]])["trace_id"])
    flags = tmp_path / "flags.jsonl"
    flags.write_text("".join(json.dumps({"id": i, "flag": True}) + "\n" for i in ids[:20]))
    result = _run("check", f"traces:/{app['name']}", "--baseline", baseline.path, "--tracking-uri", server,
                  "--feedback", flags, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["quality"]["feedback"]["flag_rate"] == pytest.approx(0.1)


@pytest.mark.slow
def test_monitor_windows_follow_the_traces_times(server, app, baseline, tmp_path):
    result = _run("monitor", f"traces:/{app['name']}", "--baseline", baseline.path, "--tracking-uri", server,
                  "--window", "1d", "--history", tmp_path / "history", "--format", "json")
    assert result.exit_code == 0, result.output
    windows = json.loads(result.stdout)["windows"]
    assert [(w["window"]["start"], w["n_samples"]) for w in windows] == [
        ("2026-02-01T00:00:00Z", 100), ("2026-02-08T00:00:00Z", 100)]
    assert windows[0]["tier"] == "ok" and windows[1]["tier"] == "critical"


@pytest.mark.slow
def test_baseline_build_from_traces(server, app, tmp_path):
    from drift_tracking.baseline import Baseline

    out = tmp_path / "from-traces"
    result = _run("baseline", "build", f"traces:/{app['name']}?until=2026-02-05", "--out", out, "--clusters", "4",
                  "--tracking-uri", server, "--device", "cpu")
    assert result.exit_code == 0, result.output
    built = Baseline.load(out)
    assert len(built) == 100 and built.responses_ is not None
    assert built.texts_ is not None


@pytest.mark.slow
def test_unreadable_traces_are_reported_by_the_cli(server, formats, baseline):
    result = _run("check", f"traces:/{formats['name']}", "--baseline", baseline.path, "--tracking-uri", server)
    assert result.exit_code == 2  # 4 readable traces are fewer than a window needs
    assert "Skipped 3 invalid row(s)" in result.output and "no prompt in the trace" in result.output
    assert "at least 20 are needed" in result.output


@pytest.fixture(scope="module")
def damaged(server, app, session_tmp):
    """30 traces, of which the server lost one's spans and holds another's corrupted (not JSON)."""
    name, experiment_id = log_traffic(app["samples"][:30], prefix="damaged")
    ids = [t.info.trace_id for t in traces.search(parse_uri(f"traces:/{name}"), tracking_uri=server)]
    lost, corrupt = ids[3], ids[17]
    with sqlite3.connect(session_tmp / "mlflow-server" / "mlflow.db") as db:  # the conftest server's store
        assert db.execute("DELETE FROM spans WHERE trace_id = ?", (lost,)).rowcount == 1
        assert db.execute("UPDATE spans SET content = '{not json' WHERE trace_id = ?", (corrupt,)).rowcount == 1
    return {"name": name, "ids": ids, "lost": lost, "corrupt": corrupt, "samples": app["samples"][:30]}


@pytest.mark.slow
def test_traces_whose_stored_spans_are_lost_or_corrupt_are_invalid_rows(server, damaged, baseline, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(mlflow.exceptions.MlflowException):  # what a plain search makes of the corrupt one
        mlflow.search_traces(locations=[mlflow.get_experiment_by_name(damaged["name"]).experiment_id])
    data = load_traces(f"traces:/{damaged['name']}", tracking_uri=server)
    assert data.n_rows == 30 and len(data) == 28
    assert data.prompts == [s.prompt for i, s in enumerate(damaged["samples"]) if i not in (3, 17)]
    assert [(r.row, r.column, r.reason, r.id) for r in data.invalid] == [
        (3, "prompt", "unreadable trace", damaged["lost"]), (17, "prompt", "unreadable trace", damaged["corrupt"])]
    result = _run("check", f"traces:/{damaged['name']}", "--baseline", baseline.path, "--tracking-uri", server,
                  "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n_samples"] == 28 and report["invalid_rows"]["n_invalid_rows"] == 2


# -- the evaluator ---------------------------------------------------------------------------
@pytest.mark.slow
def test_the_evaluator_takes_a_traces_frame(server, app, baseline):
    import mlflow

    frame = mlflow.search_traces(locations=[app["id"]])
    expected = json.loads(_run("check", app["jsonl"], "--baseline", baseline.path, "--response-column", "response",
                               "--format", "json").stdout)
    with mlflow.start_run(experiment_id=app["id"]):
        result = mlflow.models.evaluate(data=frame, model_type="text", evaluators=["drift"],
                                        evaluator_config={"drift": {"baseline": str(baseline.path)}})
    assert result.metrics["drift/tier_level"] == {"ok": 0, "review": 1, "critical": 2}[expected["tier"]]
    assert result.metrics["drift/n_samples"] == 200
    for name, value in expected["metrics"].items():
        assert result.metrics[f"drift/{name}"] == pytest.approx(value, rel=1e-5, abs=1e-6), name
    assert result.metrics["drift/response/js_divergence"] == pytest.approx(
        expected["response_metrics"]["js_divergence"], rel=1e-5, abs=1e-6)


def test_pandas_frame_of_search_traces_columns_without_trace_json_is_a_table():
    frame = pd.DataFrame({"request": ["a"], "trace_id": ["tr-1"]})
    assert not traces.is_traces_source(frame)
