"""Every example under examples/ runs, as a user would run it, on small generated data.

Three are run where their subject is tested: mlflow_evaluate.py in test_mlflow_example.py,
wandb_monitor.py in test_wandb.py, ci_gate.sh in test_gate.py (a blocked promotion) and
test_stack.py (a passing one). The others run here, and the last test makes sure no
example is left without a test that runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
pytestmark = pytest.mark.slow


def _env(**extra: str) -> dict[str, str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "PYTHON": sys.executable, "MLFLOW_TRACKING_URI": "", **extra}


def test_cli_quickstart(baseline, tmp_path):
    # Sizes and seeds of the conftest fixtures, so the shared embedding cache serves most texts.
    out = subprocess.run(["bash", str(EXAMPLES / "cli_quickstart.sh"), str(tmp_path / "quick")], cwd=tmp_path,
                         env=_env(N_BASELINE="1500", N_WINDOW="400"), capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Drift tier: OK" in out.stdout  # the healthy window's text report
    assert "the drifted window reached critical" in out.stdout
    report = json.loads((tmp_path / "quick" / "drifted_report.json").read_text())
    assert report["tier"] == "critical" and report["metrics"]["novel_cluster_share"] > 0.3


def test_scheduled_monitor_example(baseline, tmp_path):
    out = subprocess.run([sys.executable, str(EXAMPLES / "scheduled_monitor.py"), "--dir", str(tmp_path / "demo"),
                          "--n-baseline", "1500", "--n-window", "120", "--windows", "2"],
                         cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    decided = [line for line in out.stdout.splitlines() if " 120 rows: " in line]
    assert [line.split("]")[0] + "]" for line in decided] == [
        "[2026-03-02T00:00:00Z .. 2026-03-02T06:00:00Z]", "[2026-03-02T06:00:00Z .. 2026-03-02T12:00:00Z]"]
    assert "rows: OK " in decided[0]
    assert "rows: CRITICAL" in decided[-1] or "rows: REVIEW" in decided[-1]
    assert (tmp_path / "demo" / "mlflow.db").exists()


def test_every_example_is_run_by_a_test():
    tests = {path.name: path.read_text() for path in (ROOT / "tests").glob("test_*.py")}
    for example in sorted(EXAMPLES.iterdir()):
        if example.suffix == ".yml":  # a workflow for GitHub: it must run the CI script it documents
            workflow = yaml.safe_load(example.read_text())
            steps = [s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"]]
            assert any("gate.sh" in run for run in steps) and "ci_gate.sh" in example.read_text()
            continue
        runners = [name for name, text in tests.items()
                   if f'"{example.name}"' in text and ("subprocess" in text or "CliRunner" in text)]
        assert runners, f"no test runs examples/{example.name}"
