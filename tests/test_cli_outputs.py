"""Outputs are checked before any work, in the CLI's words, and nothing is written where the user did not ask.

Each refusal is checked to come before embedding: the embedding cache (a fresh
``DRIFT_TRACKING_CACHE_DIR``) must still be empty afterwards, which it would not be had
a single text been embedded. No model is loaded, so these run in the fast loop.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from drift_tracking import demo
from drift_tracking.cli import main


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """A working directory with one small log, no tracking URI set, and an empty embedding cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DRIFT_TRACKING_CACHE_DIR", str(tmp_path / "cache"))
    demo.write(demo.generate(60, seed=5), tmp_path / "traffic.jsonl")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    return tmp_path


def _nothing_embedded(root: Path) -> bool:
    cache = root / "cache"
    return not cache.exists() or not any(cache.rglob("*"))


def _refused(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "overwrite=True" not in result.output
    for word in words:
        assert word in result.output, result.output


def test_baseline_build_refuses_a_used_folder_before_embedding(fresh):
    result = CliRunner().invoke(main, ["baseline", "build", "traffic.jsonl", "--out", "mine", "--device", "cpu"])
    _refused(result, "--out", "--force")
    assert _nothing_embedded(fresh)
    forced = CliRunner().invoke(main, ["baseline", "build", "traffic.jsonl", "--out", "mine", "--force",
                                       "--device", "cpu"])
    _refused(forced, "holds no baseline")  # --force replaces a baseline, never a user's files
    assert (fresh / "mine" / "notes.txt").read_text() == "keep me"
    assert _nothing_embedded(fresh)


def test_check_refuses_its_outputs_before_embedding(fresh):
    (fresh / "baseline").mkdir()
    common = ["check", "traffic.jsonl", "--baseline", "baseline", "--device", "cpu"]
    _refused(CliRunner().invoke(main, [*common, "--report", "mine"]), "--report", "--force", "notes.txt")
    _refused(CliRunner().invoke(main, [*common, "--out", "mine"]), "--out", "is a directory")
    _refused(CliRunner().invoke(main, [*common, "--out", "nowhere/report.json"]), "--out", "does not exist")
    assert _nothing_embedded(fresh)


def test_demo_refuses_a_folder_holding_other_files(fresh):
    _refused(CliRunner().invoke(main, ["demo", "--dir", "mine"]), "--dir", "--force")
    assert sorted(p.name for p in (fresh / "mine").iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("command", [["check", "traffic.jsonl"], ["monitor", "traffic.jsonl"]])
def test_a_registry_lookup_creates_no_store(fresh, command):
    """With no tracking URI, MLflow would create ./mlruns.db on first touch, then fail to find the baseline."""
    result = CliRunner().invoke(main, [*command, "--baseline", "models:/support-bot@production", "--device", "cpu"])
    _refused(result, "no MLflow store", "--tracking-uri")
    assert not (fresh / "mlruns.db").exists()
    assert sorted(p.name for p in fresh.iterdir()) == ["mine", "traffic.jsonl"]
