"""The fault suite: each finding of issue 11 (history, sinks, evaluator, inputs, webhook)
reproduced as it was found, with real processes, a real ``mlflow server``, real HTTP
servers and ``kill -9``. Every test here failed before its defence existed.

Windows are cut from the session's generated traffic, whose embeddings the session
cache already holds (or gets once), so nothing is embedded twice.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import warnings
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from drift_tracking import demo
from drift_tracking.cli import main
from drift_tracking.errors import DataError
from drift_tracking.monitor import History
from drift_tracking.spool import pending_entries

pytestmark = pytest.mark.slow

# Every window's JS divergence is at least 0: with both levels at 0 each window is
# critical-level drift that is never "extreme", so the tier says exactly how many
# consecutive windows the history counted (review below persistence, critical at it).
COUNTING_CONFIG = """
[thresholds]
mode = "fixed"
[thresholds.levels.js_divergence]
review = 0.0
critical = 0.0
[persistence]
windows = 3
"""


def _run(*args: object, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


@pytest.fixture(scope="module")
def windows(tmp_path_factory, embedder, healthy_window):
    """Two different windows of healthy traffic as files, their prompts embedded once."""
    root = tmp_path_factory.mktemp("fault-windows")
    parts = {"a": healthy_window[:200], "b": healthy_window[200:]}
    embedder.encode([s.prompt for s in healthy_window])
    paths = {name: demo.write(rows, root / f"{name}.jsonl") for name, rows in parts.items()}
    (root / "counting.toml").write_text(COUNTING_CONFIG)
    return {**paths, "config": root / "counting.toml", "prompts": {k: [s.prompt for s in v] for k, v in parts.items()}}


# -- finding 4: history ----------------------------------------------------------------------
_CONCURRENT_CHECK = """
import json, sys, time
from pathlib import Path
from drift_tracking.baseline import Baseline
from drift_tracking.config import load_config
from drift_tracking.monitor import History, Monitor
baseline_dir, history_dir, config, prompts_file, ready, *others = sys.argv[1:]
monitor = Monitor(Baseline.load(baseline_dir), policy=load_config(config).policy(), history=History(history_dir))
Path(ready).touch()  # this process has read the (empty) history
while not all(Path(p).exists() for p in others):  # ... and so has the other one
    time.sleep(0.01)
report = monitor.check(json.loads(Path(prompts_file).read_text()))
print(json.dumps({"index": report.window["index"], "reason": report.tier_reasons[0]}))
"""


def test_two_concurrent_checks_never_record_the_same_window_index(baseline, windows, tmp_path):
    history_dir = tmp_path / "history"
    procs = []
    for name in ("a", "b"):
        prompts = tmp_path / f"{name}.json"
        prompts.write_text(json.dumps(windows["prompts"][name]))
        other = "b" if name == "a" else "a"
        procs.append(subprocess.Popen(
            [sys.executable, "-c", _CONCURRENT_CHECK, str(baseline.path), str(history_dir), str(windows["config"]),
             str(prompts), str(tmp_path / f"ready-{name}"), str(tmp_path / f"ready-{other}")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(o["index"] for o in outcomes) == [0, 1]
    # the one that went second decided with the first one's record in its history
    assert sorted(o["reason"].split(" window(s)")[0][-1] for o in outcomes) == ["1", "2"]
    assert sorted(r["window"]["index"] for r in History(history_dir).read()) == [0, 1]


def test_the_same_window_checked_twice_counts_once_towards_persistence(baseline, windows, tmp_path):
    history = tmp_path / "history"
    common = ["--baseline", baseline.path, "--history", history, "--config", windows["config"], "--device", "cpu",
              "--format", "json"]
    first = _run("check", windows["a"], *common)
    again = _run("check", windows["a"], *common)
    other = _run("check", windows["b"], *common)
    for result in (first, again, other):
        assert result.exit_code == 0, result.output
    first, again, other = (json.loads(r.stdout) for r in (first, again, other))
    assert first["tier"] == "review" and "1 window(s) in a row" in " ".join(first["tier_reasons"])
    assert again["tier_reasons"] == first["tier_reasons"] and again["window"]["index"] == 0
    assert any(f"already checked on {first['created_at']}" in w for w in again["warnings"])
    # two distinct windows, persistence 3: still review (the repeat made it "3 in a row" before)
    assert other["tier"] == "review", other["tier_reasons"]
    assert "2 window(s) in a row" in " ".join(other["tier_reasons"])
    records = History(history).read()
    assert [r["window"]["index"] for r in records] == [0, 1]
    assert len({r["window"]["identity"]["content_sha256"] for r in records}) == 2


_APPEND_FOREVER = """
import sys
from drift_tracking.monitor import History
history = History(sys.argv[1])
pad = "x" * 1_000_000
index = 0
while True:
    with history.locked():
        history.append({"window": {"index": index}, "pad": pad})
    index += 1
"""


def _wait_for(predicate, what: str, proc: subprocess.Popen | None = None, limit_s: float = 300) -> None:
    """Poll until ``predicate()``; the limit only keeps a broken test from hanging."""
    deadline = time.monotonic() + limit_s
    while not predicate():
        assert proc is None or proc.poll() is None, f"the process died before {what}"
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def test_kill_9_mid_append_loses_no_completed_record_and_leaves_no_lock(tmp_path):
    history = History(tmp_path / "h")
    proc = subprocess.Popen([sys.executable, "-c", _APPEND_FOREVER, str(tmp_path / "h")])
    try:
        _wait_for(lambda: history.path.exists() and history.path.stat().st_size > 5_000_000, "five appends", proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with warnings.catch_warnings(record=True) as caught:  # a torn last line is possible, and only that
        warnings.simplefilter("always")
        records = history.read()
    assert all("torn line" in str(w.message) for w in caught)
    assert [r["window"]["index"] for r in records] == list(range(len(records))) and len(records) >= 5
    assert all(len(r["pad"]) == 1_000_000 for r in records)
    with open(history.lock_path, "a") as fh:  # the kernel dropped the dead writer's lock
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fh, fcntl.LOCK_UN)
    with history.locked():
        history.append({"window": {"index": len(records)}})
    assert history.read()[-1] == {"window": {"index": len(records)}}


_HOLD_LOCK = """
import sys, time
from drift_tracking.monitor import History
with History(sys.argv[1]).locked():
    print("locked", flush=True)
    time.sleep(3600)
"""


def test_a_check_killed_while_holding_the_lock_does_not_block_the_next(tmp_path):
    history = History(tmp_path / "h")
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(tmp_path / "h")], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with open(history.lock_path, "a") as fh, pytest.raises(BlockingIOError):
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held: a second writer waits
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    with open(history.lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again, without anyone cleaning up


# -- finding 5: sinks ------------------------------------------------------------------------
def test_a_tracking_uri_answering_404_keeps_the_printed_and_spooled_report(
    baseline, windows, not_found_uri, mlflow_server, tmp_path,
):
    spool = tmp_path / "spool"
    result = _run("check", windows["a"], "--baseline", baseline.path, "--device", "cpu", "--out",
                  tmp_path / "report.json", "--mlflow", "--tracking-uri", not_found_uri, "--experiment", "faults-404",
                  env={"DRIFT_TRACKING_SPOOL_DIR": str(spool)})
    assert result.exit_code == 3, result.output
    assert "Drift tier" in result.stdout and "Traceback" not in result.output
    assert f"MLflow at {not_found_uri} failed" in result.stderr and "404" in result.stderr
    entries = pending_entries(spool)
    assert len(entries) == 1 and f"drift-tracking relog {entries[0]}" in result.stderr
    assert json.loads((tmp_path / "report.json").read_text())["n_samples"] == 200

    # --fail-on wins over a sink failure: a gate must never miss its exit 1
    failing = _run("check", windows["a"], "--baseline", baseline.path, "--device", "cpu", "--fail-on", "review",
                   "--config", windows["config"], "--mlflow", "--tracking-uri", not_found_uri,
                   env={"DRIFT_TRACKING_SPOOL_DIR": str(tmp_path / "spool-2")})
    assert failing.exit_code == 1, failing.output

    resent = _run("relog", spool, "--tracking-uri", mlflow_server)
    assert resent.exit_code == 0, resent.output
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server)
    runs = client.search_runs([client.get_experiment_by_name("faults-404").experiment_id])
    assert len(runs) == 1
    assert runs[0].data.tags["drift.tier"] == json.loads((tmp_path / "report.json").read_text())["tier"]


def test_any_sink_error_spools_the_report_and_relog_sends_it(baseline, windows, embedder, tmp_path, monkeypatch):
    """A W&B sink (or any other) raising something unforeseen: the report is kept and re-sent."""
    from drift_tracking.cli import emit
    from drift_tracking.comparison import compare
    from drift_tracking.integrations.relog import relog

    class BrokenSink:  # the part under test is emit's handling of a sink that raises
        name = "wandb"
        project = "faults"
        dir = str(tmp_path / "wandb")

        def log_report(self, report, *, history=()):  # noqa: ANN001, ANN202
            raise PermissionError(13, "Permission denied", "/read-only/wandb")

    report = compare(baseline, windows["prompts"]["a"], embedder=embedder, window_info={"index": 0})
    monkeypatch.setenv("DRIFT_TRACKING_SPOOL_DIR", str(tmp_path / "spool"))
    failures = emit(report, [BrokenSink()])
    assert len(failures) == 1 and "Permission denied" in failures[0]
    (entry,) = pending_entries(tmp_path / "spool")
    assert f"drift-tracking relog {entry}" in failures[0]
    sent = relog(tmp_path / "spool", echo=lambda line: None)
    assert len(sent) == 1
    written = list((tmp_path / "wandb").glob("wandb/*run-*/files/reports/window_0.json"))
    assert len(written) == 1 and json.loads(written[0].read_text())["tier"] == report.tier


# -- finding 6: the evaluator with the server down ---------------------------------------------
@pytest.fixture
def tracking_uri_at():
    """Point MLflow's global tracking URI somewhere for one test, then put it back."""
    import mlflow

    before = mlflow.get_tracking_uri()
    yield mlflow.set_tracking_uri
    mlflow.set_tracking_uri(before)


def test_evaluate_with_the_server_down_fails_at_once_naming_it(baseline, windows, dead_tracking_uri,
                                                               tracking_uri_at, tmp_path, monkeypatch):
    """Before: MLflow's own retries for about four minutes, then a traceback about urllib3."""
    import mlflow

    monkeypatch.setenv("DRIFT_TRACKING_SPOOL_DIR", str(tmp_path / "spool"))
    tracking_uri_at(dead_tracking_uri)
    data = pd.DataFrame({"inputs": windows["prompts"]["a"], "response": windows["prompts"]["a"]})
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the type is asserted below, with the message
        mlflow.models.evaluate(data=data, predictions="response", model_type="text", evaluators=["drift"],
                               evaluator_config={"drift": {"baseline": str(baseline.path)}})
    message = str(caught.value)
    assert isinstance(caught.value, ConnectionError), repr(caught.value)
    assert dead_tracking_uri in message and "connection refused" in message and "nothing was evaluated" in message
    assert "\n" not in message
    assert not (tmp_path / "spool").exists()  # nothing was computed, so nothing pretends to be kept


def test_a_report_computed_when_the_server_drops_is_spooled_for_relog(baseline, windows, dead_tracking_uri,
                                                                      tracking_uri_at, mlflow_server, tmp_path,
                                                                      monkeypatch):
    from mlflow.models.evaluation.base import EvaluationDataset

    from drift_tracking.integrations.mlflow_evaluation import evaluate_drift

    monkeypatch.setenv("DRIFT_TRACKING_SPOOL_DIR", str(tmp_path / "spool"))
    tracking_uri_at(dead_tracking_uri)  # the run was started, then the server went away
    dataset = EvaluationDataset(pd.DataFrame({"inputs": windows["prompts"]["b"]}), targets=None)
    with pytest.raises(Exception) as caught:  # noqa: PT011 - what matters is what was kept, asserted below
        evaluate_drift(dataset=dataset, run_id=uuid.uuid4().hex, config={"baseline": str(baseline.path)})
    (entry,) = pending_entries(tmp_path / "spool")
    assert f"drift-tracking relog {entry}" in str(caught.value) and dead_tracking_uri in str(caught.value)
    resent = _run("relog", tmp_path / "spool", "--tracking-uri", mlflow_server)
    assert resent.exit_code == 0 and "Re-logged 1 report(s)" in resent.output


# -- finding 7: inputs -------------------------------------------------------------------------
def test_unencodable_and_invisible_prompts_are_invalid_rows_not_a_crash(baseline, healthy_window, embedder,
                                                                        tmp_path):
    from drift_tracking.cache import EmbeddingCache

    rows = [{"prompt": s.prompt} for s in healthy_window[:60]]
    bad = {60: "\ud800", 61: "\x00\x00\x00", 62: "\u200b\u2060\ufeff", 63: "fine words then \udfff", 64: "\x01\x7f\t"}
    rows += [{"prompt": bad[i]} for i in sorted(bad)]
    path = tmp_path / "window.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))  # JSON escapes carry the lone surrogates
    result = _run("check", path, "--baseline", baseline.path, "--device", "cpu", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n_samples"] == 60
    assert report["invalid_rows"]["first_rows"] == [60, 61, 62, 63, 64]
    assert report["invalid_rows"]["by_reason"] == {"no visible characters": 3, "not encodable as UTF-8": 2}
    cache = EmbeddingCache(os.environ["DRIFT_TRACKING_CACHE_DIR"], embedder.identity.fingerprint,
                           embedder.identity.dimension)
    assert cache.get_many([bad[61], bad[62], bad[60]]) == {}  # never embedded, and the look-up does not crash


def test_a_mostly_invalid_window_warns_every_sink_and_strict_refuses_it(baseline, healthy_window, mlflow_server,
                                                                        tmp_path):
    rows = [{"prompt": s.prompt} for s in healthy_window[:25]] + [{"prompt": ""} for _ in range(275)]
    path = demo.write(rows, tmp_path / "window.jsonl")
    result = _run("check", path, "--baseline", baseline.path, "--device", "cpu", "--format", "json",
                  "--mlflow", "--tracking-uri", mlflow_server, "--experiment", "faults-invalid")
    assert result.exit_code == 0, result.output
    warning = next(w for w in json.loads(result.stdout)["warnings"] if "were invalid" in w)
    assert warning.startswith("275 of 300 rows (92%) were invalid") and warning in result.stderr

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server)
    (run,) = client.search_runs([client.get_experiment_by_name("faults-invalid").experiment_id])
    logged = json.loads(Path(client.download_artifacts(run.info.run_id, "drift_report.json", str(tmp_path))).read_text())
    assert warning in logged["warnings"]

    strict = _run("check", path, "--baseline", baseline.path, "--device", "cpu", "--strict")
    assert strict.exit_code == 2 and "strict mode refuses" in strict.output and "Traceback" not in strict.output


def test_list_columns_and_repeated_columns_get_a_message_saying_what_to_do(tmp_path):
    from drift_tracking.data import load_texts

    lists = tmp_path / "lists.parquet"
    pd.DataFrame({"prompt": [["first question", "second question"], ["third one"]] * 3}).to_parquet(lists)
    with pytest.raises(DataError, match=r"column 'prompt' .* holds lists .* df\.explode\('prompt'\)"):
        load_texts(lists)
    csv = tmp_path / "twice.csv"
    csv.write_text("prompt,response,prompt\nhello there,hi,other text\n")
    with pytest.raises(DataError, match=r"several columns named 'prompt' \('prompt': header fields 1, 3"):
        load_texts(csv)
    jsonl = tmp_path / "twice.jsonl"
    jsonl.write_text('{"prompt": "fine"}\n{"prompt": "kept?", "response": "r", "prompt": "or this?"}\n')
    with pytest.raises(DataError, match=r"several columns named 'prompt' \('prompt': line 2 holds the key twice"):
        load_texts(jsonl, response_column="response")


# -- finding 8: the webhook receiver ------------------------------------------------------------
SECRET = "fault-suite-secret"


def _signed(delivery_id: str, timestamp: str, payload: dict) -> tuple[bytes, dict[str, str]]:
    from drift_tracking.integrations.webhook import sign

    body = json.dumps(payload).encode()
    return body, {"Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery_id,
                  "X-MLflow-Timestamp": timestamp, "X-MLflow-Signature": sign(SECRET, delivery_id, timestamp, body)}


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


_ALIAS_SET = {"entity": "model_version_alias", "action": "created",
              "data": {"name": "support-bot", "alias": "champion", "version": "3"}}


def test_a_signed_nan_timestamp_is_refused():
    from drift_tracking.integrations.webhook import WebhookReceiver

    checked: list[tuple[str, str, str]] = []
    receiver = WebhookReceiver(SECRET, lambda *event: checked.append(event)).start()
    try:
        for stamp in ("nan", "inf", "-inf"):
            assert _post(receiver.url, *_signed(str(uuid.uuid4()), stamp, _ALIAS_SET)) == 401
        receiver.wait_idle()
    finally:
        receiver.stop()
    assert checked == []


def test_a_replay_is_refused_after_the_receiver_restarts():
    from drift_tracking.integrations.webhook import WebhookReceiver

    checked: list[tuple[str, str, str]] = []
    delivery = _signed(str(uuid.uuid4()), str(int(time.time())), _ALIAS_SET)
    for expected in (202, 200):  # the second receiver is the first one restarted (same default state)
        receiver = WebhookReceiver(SECRET, lambda *event: checked.append(event)).start()
        try:
            assert _post(receiver.url, *delivery) == expected
            receiver.wait_idle()
        finally:
            receiver.stop()
    assert checked == [("support-bot", "champion", "3")]


def test_idle_connections_hold_neither_a_thread_each_nor_their_socket():
    """Before: 300 idle connections held 300 threads, and their sockets, for as long as they liked."""
    from drift_tracking.integrations.webhook import WebhookReceiver

    before = threading.active_count()
    receiver = WebhookReceiver(SECRET, lambda *event: None).start()  # defaults: 8 workers, 10 s timeout
    idle = []
    try:
        for _ in range(300):
            conn = socket.create_connection(("127.0.0.1", receiver.port), timeout=60)
            conn.settimeout(300)  # only a guard: a closed connection answers at once
            idle.append(conn)
        for conn in (idle[-1], idle[0]):  # the last is refused at once (too many waiting), the first times out
            try:
                assert conn.recv(1) == b""
            except ConnectionResetError:
                pass
        # every connection has been taken by now (the last one was closed), yet threads stay few
        assert threading.active_count() - before <= 8 + 2  # the pool, the server loop, the check worker
    finally:
        for conn in idle:
            conn.close()
        receiver.stop()
