"""examples/mlflow_evaluate.py runs end to end against a local store, as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mlflow_evaluate.py"


def test_mlflow_evaluate_example(baseline, tmp_path):
    # The `baseline` fixture embeds the same generated texts, so the shared cache makes this quick.
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), "--dir", str(tmp_path / "demo"), "--n-baseline", "1500", "--n-window", "400"],
        capture_output=True, text=True, env={**os.environ, "MLFLOW_TRACKING_URI": ""}, check=False,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "registered models:/support-bot-baseline@production (version 1)" in out.stdout
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if " window: tier " in line}
    assert "tier ok" in lines["healthy"]
    assert "tier critical" in lines["drifted"] or "tier review" in lines["drifted"]
    assert "drift_report.html" in out.stdout and "cluster_scatter.png" in out.stdout
    assert (tmp_path / "demo" / "mlflow.db").exists()
