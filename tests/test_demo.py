"""The README's first command: `drift-tracking demo` runs the whole flow with nothing but this machine."""

from __future__ import annotations

import json

from click.testing import CliRunner

from drift_tracking.cli import main


def test_demo_decides_and_logs_everywhere(tmp_path):
    workdir = tmp_path / "demo"
    result = CliRunner().invoke(
        main, ["demo", "--dir", str(workdir), "--n-baseline", "400", "--n-window", "200", "--device", "cpu"]
    )
    assert result.exit_code == 0, result.output
    healthy = json.loads((workdir / "report_healthy.json").read_text())
    drifted = json.loads((workdir / "report_drifted.json").read_text())
    assert healthy["tier"] == "ok", healthy["tier_reasons"]
    assert drifted["tier"] == "critical", drifted["tier_reasons"]
    assert drifted["metrics"]["novel_cluster_share"] > 0.3
    assert "Drift tier: OK" in result.output and "Drift tier: CRITICAL" in result.output

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{(workdir / 'mlflow.db').resolve()}")
    (run,) = client.search_runs([client.get_experiment_by_name("drift-tracking-demo").experiment_id])
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "drift/novel_cluster_share")]
    assert sorted(steps) == [0, 1]
    assert run.data.tags["drift.tier"] == "critical"

    (run_dir,) = (workdir / "wandb").glob("offline-run-*")
    assert list(run_dir.glob("run-*.wandb"))
    assert f"wandb sync {run_dir}" in result.output
