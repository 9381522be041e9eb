"""MlflowSink on a real server: windows as steps of one run, spooling when the server is
down, relog bringing spooled windows back into one run, and the CLI wiring."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from drift_tracking import demo
from drift_tracking.cli import main
from drift_tracking.comparison import compare
from drift_tracking.integrations.mlflow_sink import MlflowSink
from drift_tracking.sinks import SinkUnavailable
from drift_tracking.spool import pending_entries, read_entry

pytestmark = pytest.mark.slow

TIMESTAMPS = ("2026-02-01T00:00:00Z", "2026-02-08T00:00:00Z")
TIMESTAMPS_MS = (1769904000000, 1770508800000)


@pytest.fixture(scope="module")
def reports(baseline, embedder, healthy_window, drifted_window):
    """A healthy window 0 and a drifted window 1, as the monitor would produce them."""
    out = []
    for index, window in enumerate((healthy_window, drifted_window)):
        out.append(compare(
            baseline, [s.prompt for s in window], responses=[s.response for s in window], embedder=embedder,
            window_info={"index": index, "timestamp": TIMESTAMPS[index]},
        ))
    return out


def _dead_uri() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # closed again: nothing listens


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def test_windows_become_steps_of_one_run(mlflow_server, reports, tmp_path):
    sink = MlflowSink(tracking_uri=mlflow_server, experiment_name="sink-steps", run_name="monitor")
    history = []
    for report in reports:
        assert sink.log_report(report, history=history).startswith(mlflow_server)
        history.append(report.to_dict())
    assert "MLflow run" in sink.close()

    client = _client(mlflow_server)
    run = client.get_run(sink.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "monitor"
    series = client.get_metric_history(sink.run_id, "drift/novel_cluster_share")
    assert [(m.step, m.timestamp) for m in sorted(series, key=lambda m: m.step)] == list(enumerate(TIMESTAMPS_MS))
    assert sorted(m.value for m in client.get_metric_history(sink.run_id, "drift/tier_level")) == sorted(
        float(r.tier_level) for r in reports)
    assert run.data.tags["drift.tier"] == reports[1].tier  # tags hold the latest window
    assert run.data.tags["drift.window_index"] == "1"
    latest = json.loads(Path(client.download_artifacts(sink.run_id, "drift_report.json", str(tmp_path))).read_text())
    assert latest["window"]["index"] == 1
    for index in (0, 1):
        files = {a.path for a in client.list_artifacts(sink.run_id, f"windows/{index}")}
        assert f"windows/{index}/drift_report.html" in files and f"windows/{index}/metric_timeseries.png" in files
        first = client.download_artifacts(sink.run_id, f"windows/{index}/drift_report.json", str(tmp_path / str(index)))
        assert json.loads(Path(first).read_text())["window"]["index"] == index
    table = json.loads(Path(client.download_artifacts(sink.run_id, "drift_cluster_shift.json", str(tmp_path))).read_text())
    windows = [row[table["columns"].index("window")] for row in table["data"]]
    assert sorted(set(windows)) == [0, 1]


def test_server_down_spools_then_relog_sends_to_one_run(mlflow_server, reports, tmp_path):
    spool = tmp_path / "spool"
    sink = MlflowSink(tracking_uri=_dead_uri(), experiment_name="sink-relog", spool_dir=spool)
    messages = []
    history = []
    for report in reports:
        with pytest.raises(SinkUnavailable) as caught:
            sink.log_report(report, history=history)
        messages.append(str(caught.value))
        history.append(report.to_dict())
    entries = pending_entries(spool)
    assert len(entries) == 2
    assert str(entries[0]) in messages[0] and f"drift-tracking relog {entries[0]}" in messages[0]
    assert "unreachable" in messages[0]
    assert f"drift-tracking relog {spool}" in sink.close()
    restored = read_entry(entries[1])
    assert restored.report.tier == reports[1].tier and restored.report.projection is not None
    assert restored.report.projection.window_xy.shape == reports[1].projection.window_xy.shape
    assert (restored.report.projection.window_novel_cluster == reports[1].projection.window_novel_cluster).all()

    # Still down: relog fails and keeps the entries where they are, without duplicating them.
    result = CliRunner().invoke(main, ["relog", str(spool)])
    assert result.exit_code == 2 and "unreachable" in result.output
    assert len(pending_entries(spool)) == 2

    result = CliRunner().invoke(main, ["relog", str(spool), "--tracking-uri", mlflow_server])
    assert result.exit_code == 0, result.output
    assert "Re-logged 2 report(s)" in result.output
    assert pending_entries(spool) == [] and len(list((spool / "sent").iterdir())) == 2
    client = _client(mlflow_server)
    experiment = client.get_experiment_by_name("sink-relog")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1  # both windows of the one sink went back into one run
    steps = sorted(m.step for m in client.get_metric_history(runs[0].info.run_id, "drift/js_divergence"))
    assert steps == [0, 1]
    assert "cluster_scatter.png" in {a.path for a in client.list_artifacts(runs[0].info.run_id)}

    again = CliRunner().invoke(main, ["relog", str(spool), "--tracking-uri", mlflow_server])
    assert again.exit_code == 0 and "Re-logged 0 report(s)" in again.output


def test_cli_registers_a_baseline_and_checks_a_window_into_mlflow(mlflow_server, tmp_path):
    data = tmp_path / "good.jsonl"
    demo.write(demo.generate(250, seed=5), data)
    window = tmp_path / "window.jsonl"
    demo.write(demo.generate(120, seed=6, novel_share=0.5), window)
    runner = CliRunner()
    built = runner.invoke(main, [
        "baseline", "build", str(data), "--response-column", "response", "--out", str(tmp_path / "bl"),
        "--device", "cpu", "--register", "cli-baseline", "--alias", "production", "--tracking-uri", mlflow_server,
    ])
    assert built.exit_code == 0, built.output
    assert "Registered in MLflow as models:/cli-baseline@production (version 1)" in built.output

    checked = runner.invoke(main, [
        "check", str(window), "--baseline", "models:/cli-baseline@production", "--response-column", "response",
        "--device", "cpu", "--mlflow", "--tracking-uri", mlflow_server, "--experiment", "cli-check",
    ])
    assert checked.exit_code == 0, checked.output
    client = _client(mlflow_server)
    runs = client.search_runs([client.get_experiment_by_name("cli-check").experiment_id])
    assert len(runs) == 1
    tags = runs[0].data.tags
    assert tags["drift.baseline_uri"] == "models:/cli-baseline@production"
    assert tags["drift.tier"] in checked.output.lower()


def test_cli_check_with_server_down_still_prints_and_says_how_to_resend(baseline, tmp_path, monkeypatch):
    monkeypatch.setenv("DRIFT_TRACKING_SPOOL_DIR", str(tmp_path / "spool"))
    window = tmp_path / "window.jsonl"
    demo.write(demo.generate(60, seed=11), window)
    result = CliRunner().invoke(main, [
        "check", str(window), "--baseline", str(baseline.path), "--device", "cpu",
        "--mlflow", "--tracking-uri", _dead_uri(), "--out", str(tmp_path / "report.json"),
    ])
    assert result.exit_code == 0, result.output
    assert "Drift tier" in result.output
    assert "drift-tracking relog" in result.output
    assert json.loads((tmp_path / "report.json").read_text())["n_samples"] == 60
    assert len(pending_entries(tmp_path / "spool")) == 1


def test_spool_refuses_unreadable_entries_with_a_clear_message(tmp_path):
    from drift_tracking.report import DriftReport
    from drift_tracking.spool import SpoolError, spool_report

    report = DriftReport(tier="review", n_samples=30, n_baseline=100, metrics={"js_divergence": float("nan")},
                         window={"index": 2})
    entry = spool_report(report, {"sink": "mlflow"}, spool_dir=tmp_path)
    assert read_entry(entry / "entry.json").report.tier == "review"
    (entry / "entry.json").write_text("{not json")
    with pytest.raises(SpoolError, match="cannot read spooled report"):
        read_entry(entry)
    with pytest.raises(SpoolError, match="does not exist"):
        pending_entries(tmp_path / "missing")


def test_spooled_projection_keeps_novel_cluster_ids_and_reads_older_entries(tmp_path):
    import numpy as np

    from drift_tracking.report import DriftReport, Projection
    from drift_tracking.spool import PROJECTION_FILE, spool_report

    ids = np.array([-1, 0, 0, 1, -1])
    projection = Projection(baseline_xy=np.zeros((3, 2)), baseline_cluster=np.zeros(3, dtype=int),
                            window_xy=np.ones((5, 2)), window_cluster=np.zeros(5, dtype=int),
                            window_novel=ids >= 0, window_novel_cluster=ids, window_texts=list("abcde"))
    report = DriftReport(tier="review", n_samples=5, n_baseline=3, metrics={}, projection=projection)
    entry = spool_report(report, {"sink": "mlflow"}, spool_dir=tmp_path)
    assert read_entry(entry).report.projection.window_novel_cluster.tolist() == ids.tolist()
    # an entry spooled before the ids existed: the projection loads, with no point labelled
    with np.load(entry / PROJECTION_FILE) as arrays:
        older = {k: arrays[k] for k in arrays.files if k != "window_novel_cluster"}
    np.savez(entry / PROJECTION_FILE, **older)
    restored = read_entry(entry).report.projection
    assert restored.window_novel_cluster.tolist() == [-1] * 5 and restored.window_novel.tolist() == (ids >= 0).tolist()


def test_window_time_and_metric_keys():
    from dataclasses import replace

    from drift_tracking.integrations.mlflow_logging import report_metrics
    from drift_tracking.report import DriftReport

    report = DriftReport(tier="critical", n_samples=50, n_baseline=100,
                         metrics={"js_divergence": 0.3, "mmd_p_value": float("nan")},
                         response_metrics={"js_divergence": 0.1}, window={"index": 3, "timestamp": TIMESTAMPS[1]})
    assert report.step() == 3
    assert report.timestamp_ms() == TIMESTAMPS_MS[1]
    seconds = replace(report, window={"start": TIMESTAMPS_MS[0] / 1000})  # seconds since the epoch
    assert seconds.timestamp_ms() == TIMESTAMPS_MS[0]
    assert report_metrics(report) == {"drift/js_divergence": 0.3, "drift/response/js_divergence": 0.1,
                                      "drift/tier_level": 2.0, "drift/n_samples": 50.0}
