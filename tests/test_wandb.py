"""W&B integration, offline: runs are read back from their ``.wandb`` record stream and files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import wandb_records as wr
from drift_tracking import demo
from drift_tracking.errors import ArtifactError, ConfigError
from drift_tracking.integrations import wandb_logger
from drift_tracking.integrations.wandb_logger import WandbSink, alert_text, log_baseline_artifact

ROOT = Path(__file__).resolve().parents[1]


def _run_dir(root: Path) -> Path:
    runs = sorted(root.glob("wandb/offline-run-*"))
    assert len(runs) == 1, runs
    return runs[0]


class FixedTiers:
    """Decides ok, review, critical for windows 0, 1, 2: the sink is tested, not the policy."""

    levels = {"review": 0.05, "critical": 0.25}

    def decide(self, found, baseline=None, history=()):
        from drift_tracking.policy import Decision, Reason

        tier = ("ok", "review", "critical")[found.window["index"]]
        value = found.prompts.metrics["novel_cluster_share"]
        reason = Reason("calm") if tier == "ok" else Reason("level", tier, "novel_cluster_share", value, self.levels[tier])
        return Decision(tier=tier, drift_signal="none" if tier == "ok" else tier, drift_kind="unknown",
                        reasons=(reason,), thresholds={"source": "test", "values": {"novel_cluster_share": self.levels}})


@pytest.fixture(scope="module")
def monitor(tmp_path_factory, baseline, embedder, healthy_window, drifted_window):
    """One offline run with three windows: ok, review and critical."""
    from drift_tracking.comparison import compare

    mild = healthy_window[:300] + drifted_window[300:]  # ~10% unseen topics, embeddings cached
    root = tmp_path_factory.mktemp("wandb-monitor")
    sink = WandbSink(project="drift-tests", dir=root, run_name="monitor")
    reports, history = [], []
    for index, window in enumerate([healthy_window, mild, drifted_window]):
        report = compare(
            baseline, [s.prompt for s in window], responses=[s.response for s in window], embedder=embedder,
            policy=FixedTiers(),
            window_info={"index": index, "start": window[0].timestamp, "end": window[-1].timestamp},
        )
        history.append(report.to_dict())
        where = sink.log_report(report, history=history)
        assert where and f"window {index}" in where
        reports.append(report)
    line = sink.close()
    run_dir = _run_dir(root)
    return {"reports": reports, "dir": run_dir, "records": wr.finished_records(run_dir), "line": line}


def test_windows_have_all_three_tiers(monitor):
    assert [r.tier for r in monitor["reports"]] == ["ok", "review", "critical"]


def test_history_is_one_row_per_window_against_the_window_step(monitor):
    rows = [h for h in wr.history(monitor["records"]) if "window" in h]
    assert [h["window"] for h in rows] == [0, 1, 2]
    for row, report in zip(rows, monitor["reports"]):
        for name, value in report.metrics.items():
            assert row[f"drift/{name}"] == pytest.approx(value)
        for name, value in report.response_metrics.items():
            assert row[f"drift/response/{name}"] == pytest.approx(value)
        assert row["drift/tier_level"] == report.tier_level
        assert row["drift/threshold/novel_cluster_share/review"] == pytest.approx(0.05)
        assert row["drift/threshold/novel_cluster_share/critical"] == pytest.approx(0.25)
    metrics = {m.glob_name or m.name: m.step_metric for m in wr.of_type(monitor["records"], "metric")}
    assert metrics["drift/*"] == "window" and "window" in metrics


def test_summary_holds_the_latest_tier_as_a_string(monitor):
    summary = wr.summary(monitor["records"])
    last = monitor["reports"][-1]
    assert summary["drift/tier"] == "critical"
    assert summary["drift/tier_level"] == 2
    assert summary["drift/tier_reasons"] == "\n".join(last.tier_reasons)
    assert summary["drift/window"] == 2


def test_alerts_follow_the_tier(monitor):
    alerts = wr.of_type(monitor["records"], "alert")
    assert [(a.title, a.level) for a in alerts] == [
        ("Drift REVIEW in window 1", "WARN"),
        ("Drift CRITICAL in window 2", "ERROR"),
    ]
    critical = alerts[1].text
    assert critical.startswith(monitor["reports"][2].tier_reasons[0])
    assert "tables/novel_prompts" in critical
    assert len(critical) < 700


def test_images_and_tables_land_under_files_media(monitor):
    files = monitor["dir"] / "files"
    rows = [h for h in wr.history(monitor["records"]) if "window" in h]
    for i, row in enumerate(rows):
        expected = {"cluster_scatter", "cluster_shares"} | ({"metric_timeseries"} if i > 0 else set())
        images = {k.split("/")[1].split(".")[0] for k in row if k.startswith("plots/") and k.endswith(".path")}
        assert expected <= images
        for name in expected:
            path = files / row[f"plots/{name}.path"]
            assert path.parts[-4:-1] == ("media", "images", "plots")
            with Image.open(path) as img:
                assert img.format == "PNG" and img.width > 300
        shift = json.loads((files / row["tables/cluster_shift.path"]).read_text())
        assert shift["columns"] == ["cluster", "label", "baseline_share", "window_share", "change", "ratio"]
        assert len(shift["data"]) == monitor["reports"][i].baseline["n_clusters"]
        projection = json.loads((files / row["plots/projection_table.path"]).read_text())
        assert projection["columns"] == ["x", "y", "source", "cluster", "novel", "text"]
        assert {r[2] for r in projection["data"]} >= {"baseline", "window"}
    novel = json.loads((files / rows[2]["tables/novel_prompts.path"]).read_text())
    assert novel["columns"] == ["novel_cluster", "label", "cluster_share", "cluster_size", "prompt"]
    examples = {e for c in monitor["reports"][2].novel_clusters for e in c["examples"]}
    assert novel["data"] and all(r[4] in examples for r in novel["data"])


def test_reports_are_saved_as_run_files(monitor):
    files = monitor["dir"] / "files"
    latest = json.loads((files / "drift_report.json").read_text())
    assert latest["tier"] == "critical" and latest["window"]["index"] == 2
    assert [json.loads((files / f"reports/window_{i}.json").read_text())["tier"] for i in range(3)] == [
        "ok", "review", "critical"
    ]
    assert "<!DOCTYPE html>" in (files / "drift_report.html").read_text()
    saved = {f.path for files_rec in wr.of_type(monitor["records"], "files") for f in files_rec.files}
    assert {"drift_report.json", "drift_report.html", "reports/window_0.json"} <= saved


def test_close_prints_the_sync_command(monitor):
    assert f"wandb sync {monitor['dir']}" in monitor["line"]
    assert "3 window(s)" in monitor["line"]


def test_ok_window_raises_no_alert(monitor):
    assert alert_text(monitor["reports"][0], 0) is None
    title, text = alert_text(monitor["reports"][1], 7)
    assert title == "Drift REVIEW in window 7" and "Look at:" in text


def test_mode_is_offline_without_a_key(monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert wandb_logger.wandb_mode() == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert wandb_logger.wandb_mode() == "online"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert wandb_logger.wandb_mode() == "offline"


# -- baseline artifacts ---------------------------------------------------------------
@pytest.mark.slow  # embeds with the real model
def test_baseline_build_logs_an_artifact_with_aliases(tmp_path):
    from click.testing import CliRunner

    from drift_tracking.cli import main

    data = demo.write(demo.generate(80, seed=5), tmp_path / "good.jsonl")
    result = CliRunner().invoke(main, [
        "baseline", "build", str(data), "--response-column", "response", "--out", str(tmp_path / "bl"),
        "--device", "cpu", "--wandb", "--wandb-project", "drift-tests", "--wandb-dir", str(tmp_path / "wb"),
        "--alias", "production",
    ])
    assert result.exit_code == 0, result.output
    run_dir = _run_dir(tmp_path / "wb")
    assert f"wandb sync {run_dir}" in result.output
    assert "--baseline wandb:ENTITY/drift-tests/drift-baseline:production" in result.output
    arts = [a for a in wr.of_type(wr.finished_records(run_dir), "artifact") if a.type == "drift-baseline"]
    assert len(arts) == 1
    art = arts[0]
    assert art.name == "drift-baseline" and sorted(art.aliases) == ["latest", "production"]
    manifest = json.loads((tmp_path / "bl" / "manifest.json").read_text())
    meta = json.loads(art.metadata)
    assert meta["content_sha256"] == manifest["content_sha256"]
    assert meta["n_samples"] == 80 and meta["model"]["name"] == manifest["model"]["name"]
    assert {c.path for c in art.manifest.contents} == {*manifest["files"], "manifest.json"}


def test_a_tampered_baseline_is_not_logged(tmp_path, baseline):
    import shutil

    copy = shutil.copytree(baseline.path, tmp_path / "bl")
    (copy / "fit.json").write_text((copy / "fit.json").read_text() + " ")
    with pytest.raises(ArtifactError):
        log_baseline_artifact(copy, dir=tmp_path / "wb")
    assert not (tmp_path / "wb").exists()


def test_bad_alias_is_refused_with_advice(baseline, tmp_path):
    with pytest.raises(ConfigError, match="may hold only letters"):
        log_baseline_artifact(baseline.path, aliases=["prod/eu"], dir=tmp_path)


def test_download_offline_says_to_pass_a_local_path(monkeypatch):
    from drift_tracking.integrations import load_baseline

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    with pytest.raises(ArtifactError, match="local baseline directory"):
        load_baseline("wandb:team/drift-tracking/drift-baseline:production")
    with pytest.raises(ArtifactError, match="ENTITY/PROJECT/NAME:ALIAS"):
        wandb_logger.download_baseline("wandb:drift-baseline:production")
    assert wandb_logger.parse_wandb_uri("wandb:t/p/n") == ("t", "p", "n", "latest")


# -- the example ------------------------------------------------------------------------
@pytest.mark.slow  # runs the example: the real model and a W&B run
def test_monitor_example_writes_an_offline_run(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "wandb_monitor.py"), "--dir", str(tmp_path),
         "--n-baseline", "200", "--n-window", "80", "--windows", "3"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    run_dir = _run_dir(tmp_path / "wandb-runs")
    assert f"wandb sync {run_dir}" in out.stdout
    recs = wr.finished_records(run_dir)
    rows = [h for h in wr.history(recs) if "window" in h]
    assert [h["window"] for h in rows] == [0, 1, 2]
    assert rows[-1]["drift/novel_cluster_share"] > rows[0]["drift/novel_cluster_share"]
    assert wr.summary(recs)["drift/tier"] != "ok"


# -- the CLI --------------------------------------------------------------------------
def test_check_with_wandb_logs_one_window_and_prints_the_sync_command(tmp_path, baseline, healthy_window):
    from click.testing import CliRunner

    from drift_tracking.cli import main

    data = demo.write(healthy_window, tmp_path / "window.jsonl")
    result = CliRunner().invoke(main, [
        "check", str(data), "--baseline", str(baseline.path), "--device", "cpu", "--format", "json",
        "--wandb", "--wandb-project", "drift-tests", "--wandb-dir", str(tmp_path / "wb"),
    ])
    assert result.exit_code == 0, result.output
    run_dir = _run_dir(tmp_path / "wb")
    assert f"wandb sync {run_dir}" in result.output
    recs = wr.finished_records(run_dir)
    rows = [h for h in wr.history(recs) if "window" in h]
    assert len(rows) == 1 and rows[0]["window"] == 0
    printed = json.loads(result.stdout)
    assert wr.summary(recs)["drift/tier"] == printed["tier"]
    assert rows[0]["drift/js_divergence"] == pytest.approx(printed["metrics"]["js_divergence"])


def test_an_unreachable_server_falls_back_to_an_offline_run(tmp_path, monitor):
    """Online mode with a key but nothing listening: the window is kept in an offline run."""
    import os
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    report = tmp_path / "report.json"
    report.write_text(monitor["reports"][2].to_json())
    script = (
        "import json, sys\n"
        "from drift_tracking.report import DriftReport\n"
        "from drift_tracking.integrations.wandb_logger import WandbSink\n"
        "sink = WandbSink(project='drift-tests', dir=sys.argv[2])\n"
        "sink.log_report(DriftReport.from_dict(json.load(open(sys.argv[1]))))\n"
        "print(sink.close())\n"
    )
    env = {**os.environ, "WANDB_MODE": "online", "WANDB_API_KEY": "k" * 40,
           "WANDB_BASE_URL": f"http://127.0.0.1:{port}", "WANDB_INIT_TIMEOUT": "5"}
    out = subprocess.run([sys.executable, "-c", script, str(report), str(tmp_path / "wb")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    run_dir = _run_dir(tmp_path / "wb")
    assert "W&B could not be reached" in out.stdout and f"wandb sync {run_dir}" in out.stdout
    rows = [h for h in wr.history(wr.finished_records(run_dir)) if "window" in h]
    assert [r["window"] for r in rows] == [2] and rows[0]["drift/tier_level"] == 2
