"""The CLI as scripts use it: exit codes, one JSON object on stdout, one-line errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from drift_tracking import demo
from drift_tracking.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory, healthy_window, drifted_window):
    root = tmp_path_factory.mktemp("cli")
    demo.write(healthy_window, root / "healthy.jsonl")
    demo.write(drifted_window, root / "drifted.csv")
    return root


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_help_reads_well():
    result = _run("--help")
    assert result.exit_code == 0
    for command in ("baseline", "check", "demo"):
        assert command in result.output
    assert "--fail-on" in _run("check", "--help").output


@pytest.mark.slow  # embeds with the real model
def test_build_then_check_json(tmp_path, baseline_samples, files):
    data = tmp_path / "base.parquet"
    demo.write(baseline_samples[:600], data)
    out = tmp_path / "baseline"
    built = _run("baseline", "build", data, "--text-column", "prompt", "--response-column", "response",
                 "--out", out, "--clusters", "8", "--device", "cpu")
    assert built.exit_code == 0, built.output
    assert (out / "manifest.json").exists()

    result = _run("check", files / "drifted.csv", "--baseline", out, "--text-column", "prompt", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # exactly one JSON object
    assert {"tier", "drift_detected", "n_samples", "metrics"} <= set(report)
    assert {"js_divergence", "wasserstein", "novel_cluster_share", "mmd", "mmd_p_value", "classifier_auc"} <= set(
        report["metrics"]
    )
    assert report["tier"] == "critical"

    failing = _run("check", files / "drifted.csv", "--baseline", out, "--format", "json", "--fail-on", "review")
    assert failing.exit_code == 1
    passing = _run("check", files / "healthy.jsonl", "--baseline", out, "--fail-on", "critical")
    assert passing.exit_code == 0, passing.output
    assert "Drift tier" in passing.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "{files}/healthy.jsonl", "--baseline", "{files}/missing"], "baseline not found"),
        (["check", "{files}/healthy.jsonl", "--baseline", "{files}", "--text-column", "question"], "manifest.json is missing"),
        (["baseline", "build", "{files}/healthy.jsonl", "--text-column", "question", "--out", "{files}/b"], "column 'question' not found"),
        (["baseline", "build", "{files}/data.xlsx", "--out", "{files}/b"], "xlsx"),
    ],
)
def test_usage_errors_exit_2_with_one_line(files, args, message):
    result = _run(*[a.format(files=files) for a in args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
