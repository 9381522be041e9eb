"""Time windows, the append-only history and the monitor over a real log."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from drift_tracking.errors import ConfigError, DataError
from drift_tracking.monitor import History, Monitor, parse_frequency, split_windows
from drift_tracking.report import DriftReport


# -- history ------------------------------------------------------------------------------
def test_history_appends_one_line_per_record_and_reads_them_back(tmp_path):
    history = History(tmp_path)
    for i in range(3):
        history.append({"window": {"index": i}, "tier": "ok"})
    assert history.path.name == "drift_history.jsonl"
    assert [r["window"]["index"] for r in history.read()] == [0, 1, 2]
    assert history.path.read_text().count("\n") == 3


def test_a_torn_last_line_is_skipped_and_sealed_by_the_next_append(tmp_path):
    history = History(tmp_path / "h.jsonl")
    history.append({"window": {"index": 0}})
    with history.path.open("a") as fh:
        fh.write('{"window": {"ind')  # a crash in the middle of a write
    with pytest.warns(UserWarning, match="torn line"):
        assert len(history.read()) == 1
    history.append({"window": {"index": 1}})
    assert json.loads(history.path.read_text().splitlines()[-1]) == {"window": {"index": 1}}
    with pytest.warns(UserWarning, match=r"torn line\(s\) 2 "):
        assert [r["window"]["index"] for r in history.read()] == [0, 1]  # nothing after the crash is lost


def test_history_is_not_written_inside_the_checksummed_baseline(tmp_path):
    from types import SimpleNamespace

    baseline = SimpleNamespace(path=tmp_path / "baseline", uri=None)
    assert History.for_baseline(baseline).path == tmp_path / "baseline.drift_history.jsonl"
    downloaded = SimpleNamespace(path=tmp_path / "cache" / "x", uri="models:/support-bot@production")
    assert History.for_baseline(downloaded).path.name == "models_support-bot_production.jsonl"
    assert History.for_baseline(baseline, tmp_path / "h").path == tmp_path / "h" / "drift_history.jsonl"


# -- time windows -----------------------------------------------------------------------------
def test_split_windows_covers_time_without_gaps():
    stamps = ["2026-01-01T00:10:00Z", "2026-01-01T00:50:00Z", "2026-01-01T03:05:00Z", None, "2026-01-01T01:00:00Z"]
    windows, undated = split_windows(stamps, "1h")
    assert undated == 1
    assert [w.rows for w in windows] == [[0, 1], [4], [], [2]]
    info = windows[1].info()
    assert info["start"] == "2026-01-01T01:00:00Z" and info["end"] == info["timestamp"] == "2026-01-01T02:00:00Z"
    daily, _ = split_windows(stamps, "1d")
    assert len(daily) == 1 and daily[0].info()["start"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize("bad", ["weekly", "0h", "-1d", ""])
def test_bad_window_lengths_are_clear(bad):
    with pytest.raises(ConfigError, match="1h, 1d or 7d|must be positive"):
        parse_frequency(bad)


# -- the monitor on real text -------------------------------------------------------------------
@pytest.fixture(scope="module")
def log(healthy_window, drifted_window):
    """Three hours of healthy traffic, then three hours with 40% new topics, a sample a minute."""
    from datetime import datetime, timedelta, timezone

    t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    rows = healthy_window[:180] + drifted_window[:190]
    return [replace(s, timestamp=(t0 + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")) for i, s in enumerate(rows)]


def test_monitor_run_decides_each_window_with_history(baseline, embedder, log, tmp_path):
    from drift_tracking import demo
    from drift_tracking.data import load_texts

    path = demo.write(log, tmp_path / "log.jsonl")
    texts = load_texts(path, timestamp_column="timestamp")
    history = History(tmp_path / "hist")
    monitor = Monitor(baseline, history=history, embedder=embedder, min_window=30)
    results = list(monitor.run(texts, "1h"))
    reports = [r.report for r in results if r.report is not None]
    assert [r.window.index for r in results] == list(range(7))
    assert results[-1].skipped and "fewer than the minimum 30" in results[-1].skipped  # 10 rows
    assert [r.tier for r in reports[:3]] == ["ok", "ok", "ok"]
    assert all(r.tier != "ok" for r in reports[3:])
    assert reports[4].tier == "critical"  # new topics persisted (or are extreme)
    assert [r.window["index"] for r in reports] == list(range(6))
    assert reports[0].window["timestamp"] == "2026-03-01T01:00:00Z"
    stored = history.read()
    assert [s["window"]["index"] for s in stored] == list(range(6))
    assert stored[-1]["tier"] == reports[-1].tier and "cluster_shift" not in stored[-1]
    # a second run over the same log adds nothing: every window is already recorded
    again = Monitor(baseline, history=History(tmp_path / "hist"), embedder=embedder, min_window=30)
    assert [r.report for r in again.run(texts, "1h") if r.report] == []
    assert len(history.read()) == 6


def test_monitor_cli_logs_every_window_as_json(baseline, log, tmp_path):
    from click.testing import CliRunner

    from drift_tracking import demo
    from drift_tracking.cli import main

    path = demo.write(log, tmp_path / "log.jsonl")
    result = CliRunner().invoke(main, ["monitor", str(path), "--baseline", str(baseline.path), "--window", "2h",
                                       "--history", str(tmp_path / "h"), "--format", "json", "--fail-on", "critical"])
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    assert [w["window"]["index"] for w in out["windows"]] == [0, 1, 2]
    assert out["windows"][-1]["tier"] == "critical"
    for w in out["windows"]:
        assert {"tier_reasons", "drift_kind", "retrain_recommended", "material_degradation", "thresholds"} <= set(w)
        assert w["thresholds"]["source"] == "calibrated"
    assert out["history"].endswith("drift_history.jsonl")


def test_monitor_needs_timestamps(baseline, healthy_window):
    from drift_tracking.data import TextData

    with pytest.raises(DataError, match="--timestamp-column"):
        list(Monitor(baseline).run(TextData(prompts=[s.prompt for s in healthy_window]), "1h"))


def test_check_with_history_escalates_on_the_second_drifted_window(baseline, embedder, drifted_window, tmp_path):
    """The same drifted traffic twice: the second check sees the first in the history."""
    monitor = Monitor(baseline, history=History(tmp_path), embedder=embedder)
    first = monitor.check([s.prompt for s in drifted_window[:200]])
    second = monitor.check([s.prompt for s in drifted_window[200:]])
    assert first.drift_signal != "none" and second.tier == "critical"
    assert second.window["index"] == 1 and len(History(tmp_path).read()) == 2
    assert isinstance(DriftReport.from_dict(History(tmp_path).read()[0]), DriftReport)
