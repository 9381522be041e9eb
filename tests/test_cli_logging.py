"""MLflow's, W&B's and the model libraries' own INFO lines stay hidden unless ``-v`` asks for them.

A real MLflow store is created by the command (an empty SQLite file gets MLflow's tables,
which MLflow announces at INFO), so this runs the installed script in a subprocess: the
logging levels MLflow sets when it is imported cannot leak in from other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each run imports MLflow or the model in a fresh process (~10 s on 2 cores)


def _script() -> str:
    return str(Path(sys.executable).parent / "drift-tracking")


def _show(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    store = tmp_path / f"store{len(flags)}.db"
    store.touch()  # an existing (empty) store: the lookup proceeds and MLflow creates its tables
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_LOGGING_LEVEL", "WANDB_SILENT")}
    return subprocess.run([_script(), *flags, "baseline", "show", "models:/support-bot@production",
                           "--tracking-uri", f"sqlite:///{store}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_library_info_lines_appear_only_with_verbose(tmp_path):
    quiet = _show(tmp_path)
    loud = _show(tmp_path, "-v")
    for result in (quiet, loud):
        assert result.returncode == 2, result.stderr  # no such model: a usage error either way
        assert "not in the registry" in result.stderr
    assert "Creating initial MLflow database tables" in loud.stderr
    assert "INFO" not in quiet.stderr, quiet.stderr
    assert quiet.stderr.count("\n") == 1  # the one-line error, nothing else


def test_json_on_stdout_stays_one_object_with_wandb_offline(tmp_path, baseline, healthy_window):
    """transformers prints "[INFO] Running in WANDB offline mode" on stdout when imported with
    WANDB_MODE=offline (the mode W&B's docs suggest); a script parsing `--format json` would break."""
    from drift_tracking import demo

    demo.write(healthy_window[:120], tmp_path / "window.jsonl")
    env = {**os.environ, "WANDB_MODE": "offline"}
    result = subprocess.run([_script(), "check", str(tmp_path / "window.jsonl"), "--baseline", str(baseline.path),
                             "--device", "cpu", "--format", "json"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n_samples"] == 120  # the whole of stdout is the one object
    assert "WANDB offline" not in result.stderr  # logged at INFO: shown only with -v
