"""The registry gate against a real ``mlflow server``: refuse, promote, override, stages, dry runs.

Evaluation runs hold real reports (the bundled model on generated traffic); model
versions are tiny placeholders registered on the server.
"""

from __future__ import annotations

import json
import warnings

import pytest
from click.testing import CliRunner
from gate_support import alias_version, gate_reports, log_evaluation, register_versions, version_tags

from drift_tracking import demo
from drift_tracking.cli import main
from drift_tracking.integrations.mlflow_gate import Gate, GateError, GateRule

pytestmark = pytest.mark.slow


# -- the rule alone ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "tier", "kind", "blocked", "warned"),
    [
        (GateRule(), "ok", "none", False, False),
        (GateRule(), "review", "unknown", False, True),
        (GateRule(), "critical", "unknown", True, False),
        (GateRule(), "review", "degradation", True, False),
        (GateRule(block_on="review"), "review", "benign", True, False),
        (GateRule(block_kinds=frozenset()), "review", "degradation", False, True),
        (GateRule(block_kinds=frozenset({"unknown"})), "review", "unknown", True, False),
    ],
)
def test_rule_decides_on_tier_and_kind(rule, tier, kind, blocked, warned):
    is_blocked, reasons, notes = rule.decide(tier, kind)
    assert is_blocked is blocked
    assert bool(reasons) is blocked
    assert bool(notes) is warned


def test_rule_refuses_bad_configuration():
    with pytest.raises(GateError, match="block_on"):
        GateRule(block_on="ok")
    with pytest.raises(GateError, match="drift kind"):
        GateRule(block_kinds=frozenset({"worse"}))
    with pytest.raises(GateError, match="tier"):
        GateRule().decide("fine", "none")


# -- against the server -----------------------------------------------------------------
@pytest.fixture(scope="module")
def client(mlflow_server):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)


@pytest.fixture(scope="module")
def experiment_id(client):
    return client.create_experiment("gate-tests")


@pytest.fixture(scope="module")
def reports(baseline, embedder, healthy_window, drifted_window):
    found = gate_reports(baseline, embedder, healthy_window, drifted_window)
    rule = GateRule()
    assert not rule.decide(found["healthy"].tier, found["healthy"].drift_kind)[0], found["healthy"].tier_reasons
    assert found["drifted"].tier == "critical", found["drifted"].tier_reasons
    assert found["degraded"].drift_kind == "degradation", found["degraded"].tier_reasons
    return found


@pytest.fixture()
def model(client, experiment_id, reports):
    """A model with champion on version 1 (healthy), version 2 drifted, version 3 degraded."""
    name = register_versions(client, experiment_id, "gate", 3)
    runs = {
        "1": log_evaluation(client, experiment_id, reports["healthy"], name, "1"),
        "2": log_evaluation(client, experiment_id, reports["drifted"], name, "2"),
        "3": log_evaluation(client, experiment_id, reports["degraded"], name, "3"),
    }
    client.set_registered_model_alias(name, "champion", "1")
    return name, runs


def _promote(mlflow_server, *args, env=None):
    result = CliRunner().invoke(
        main, ["gate", "promote", "--tracking-uri", mlflow_server, *args], env=env, catch_exceptions=False
    )
    return result


@pytest.mark.parametrize("version", ["2", "3"])
def test_drifted_or_degrading_version_is_refused(client, mlflow_server, model, version):
    name, runs = model
    result = _promote(mlflow_server, "--model", name, "--version", version, "--alias", "champion")
    assert result.exit_code == 1, result.output
    assert "BLOCKED" in result.output
    expected = "tier is critical" if version == "2" else "kind is degradation"
    assert expected in result.output
    assert alias_version(client, name, "champion") == "1"
    tags = version_tags(client, name, version)
    assert tags["drift.gate"] == "blocked"
    assert tags["drift.evaluation_run_id"] == runs[version]
    assert tags["drift.tier"] == client.get_run(runs[version]).data.tags["drift.tier"]
    assert tags["drift.baseline_version"]
    assert "drift.gate_aliases" not in tags
    assert client.get_run(runs[version]).data.tags["drift.gate"] == "blocked"


def test_healthy_version_is_promoted_and_searchable(client, mlflow_server, model, reports):
    name, runs = model
    client.delete_registered_model_alias(name, "champion")
    result = _promote(mlflow_server, "--model", name, "--version", "1", "--alias", "champion",
                      "--evaluation-run", runs["1"], "--format", "json")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["outcome"] == "passed" and decision["applied"] is True
    assert alias_version(client, name, "champion") == "1"
    tags = version_tags(client, name, "1")
    assert tags["drift.gate"] == "passed"
    assert tags["drift.tier"] == reports["healthy"].tier
    assert tags["drift.kind"] == reports["healthy"].drift_kind
    assert tags["drift.evaluation_run_id"] == runs["1"]
    assert tags["drift.baseline_version"] == reports["healthy"].baseline["version"]
    assert tags["drift.gate_aliases"] == "champion"
    found = client.search_model_versions(f"name = '{name}' and tags.`drift.gate` = 'passed'")
    assert [v.version for v in found] == ["1"]
    assert name in {v.name for v in client.search_model_versions("tags.drift.gate='passed'")}
    assert client.get_run(runs["1"]).data.tags["drift.gate"] == "passed"


def test_review_tier_passes_with_a_warning_tag(client, experiment_id, reports):
    from dataclasses import replace

    name = register_versions(client, experiment_id, "gate-review", 1)
    review = replace(reports["drifted"], tier="review", drift_kind="benign")
    run_id = log_evaluation(client, experiment_id, review, name, "1")
    result = Gate(client=client).promote(name, "1", alias="champion")
    assert result.outcome == "passed" and result.evaluation.run_id == run_id
    assert "review" in version_tags(client, name, "1")["drift.gate_warning"]
    assert alias_version(client, name, "champion") == "1"
    strict = Gate(client=client, rule=GateRule(block_on="review")).promote(name, "1", alias="challenger")
    assert strict.outcome == "blocked" and alias_version(client, name, "challenger") is None


def test_override_is_recorded_on_version_and_run(client, mlflow_server, model):
    name, runs = model
    missing_reason = _promote(mlflow_server, "--model", name, "--version", "2", "--alias", "champion", "--override")
    assert missing_reason.exit_code == 2
    assert "--reason" in missing_reason.output
    assert "drift.gate" not in version_tags(client, name, "2")

    reason = "new topics are the launch of the travel product; reviewed by the support lead"
    result = _promote(mlflow_server, "--model", name, "--version", "2", "--alias", "champion",
                      "--override", "--reason", reason, env={"USER": "alice", "LOGNAME": "alice"})
    assert result.exit_code == 0, result.output
    assert "override" in result.output
    assert alias_version(client, name, "champion") == "2"
    tags = version_tags(client, name, "2")
    assert tags["drift.gate"] == "overridden"
    assert tags["drift.override_by"] == "alice"
    assert tags["drift.override_reason"] == reason
    assert tags["drift.override_at"].endswith("Z")
    run_tags = client.get_run(runs["2"]).data.tags
    assert run_tags["drift.gate"] == "overridden"
    assert run_tags["drift.override_by"] == "alice"
    assert run_tags["drift.override_reason"] == reason


def test_dry_run_changes_nothing(client, mlflow_server, model):
    name, _ = model
    blocked = _promote(mlflow_server, "--model", name, "--version", "2", "--alias", "champion", "--dry-run")
    assert blocked.exit_code == 1
    assert "DRY RUN: would be blocked" in blocked.output
    passed = _promote(mlflow_server, "--model", name, "--version", "1", "--alias", "prod", "--dry-run")
    assert passed.exit_code == 0 and "DRY RUN: would be promoted" in passed.output
    assert alias_version(client, name, "champion") == "1"
    assert alias_version(client, name, "prod") is None
    for version in ("1", "2"):
        assert not any(k.startswith("drift.") for k in version_tags(client, name, version))


def test_stage_transition_handles_the_deprecation(client, model):
    name, _ = model
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = Gate(client=client).promote(name, "1", stage="Production")
        blocked = Gate(client=client).promote(name, "2", stage="Production")
    assert not [w for w in caught if issubclass(w.category, FutureWarning)], [str(w.message) for w in caught]
    assert result.outcome == "passed" and blocked.outcome == "blocked"
    assert any("deprecated" in note for note in result.notes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        assert client.get_model_version(name, "1").current_stage == "Production"
        assert client.get_model_version(name, "2").current_stage == "None"
    assert version_tags(client, name, "1")["drift.gate_target"] == "stage:Production"


def test_gate_runs_the_evaluation_itself(client, mlflow_server, experiment_id, baseline, healthy_window,
                                         session_tmp, reports):
    name = register_versions(client, experiment_id, "gate-run", 1)
    window = demo.write(healthy_window, session_tmp / "gate-window.jsonl")
    args = ["--model", name, "--version", "1", "--alias", "champion", "--baseline", str(session_tmp / "baseline"),
            "--window", str(window), "--response-column", "response", "--experiment", "gate-run-evaluations"]
    dry = _promote(mlflow_server, *args, "--dry-run")
    assert dry.exit_code == 0 and "(not logged, dry run)" in dry.output, dry.output
    assert client.get_experiment_by_name("gate-run-evaluations") is None
    assert alias_version(client, name, "champion") is None
    result = _promote(mlflow_server, *args)
    assert result.exit_code == 0, result.output
    run_id = version_tags(client, name, "1")["drift.evaluation_run_id"]
    run = client.get_run(run_id)
    assert run.data.tags["drift.model_name"] == name and run.data.tags["drift.model_version"] == "1"
    assert run.data.tags["drift.tier"] == reports["healthy"].tier
    assert "drift/js_divergence" in run.data.metrics
    assert "drift_report.json" in [a.path for a in client.list_artifacts(run_id)]
    # the next gate call finds that run by its tags
    assert Gate(client=client).evaluation(name, "1").run_id == run_id


def test_missing_or_mismatched_evaluation_is_a_usage_error(client, mlflow_server, experiment_id, model):
    name, runs = model
    bare = register_versions(client, experiment_id, "gate-bare", 1)
    none = _promote(mlflow_server, "--model", bare, "--version", "1", "--alias", "champion")
    assert none.exit_code == 2 and "no drift evaluation found" in none.output
    other = _promote(mlflow_server, "--model", name, "--version", "1", "--alias", "champion",
                     "--evaluation-run", runs["2"])
    assert other.exit_code == 2 and "not " in other.output and "version 2" in other.output
    absent = _promote(mlflow_server, "--model", name, "--version", "9", "--alias", "champion")
    assert absent.exit_code == 2 and "not in the registry" in absent.output
    assert alias_version(client, bare, "champion") is None


def test_golden_answers_that_got_worse_block_as_degradation(client, mlflow_server, experiment_id, healthy_window,
                                                            session_tmp):
    name = register_versions(client, experiment_id, "gate-golden", 1)
    window = demo.write(healthy_window, session_tmp / "gate-golden-window.jsonl")
    golden = demo.golden_set(40)
    answered = [{**item, "answer": answer} for item, answer in zip(golden, demo.answer_golden(golden, accuracy=0.5))]
    golden_path = demo.write(answered, session_tmp / "gate-golden.jsonl")
    args = ["--model", name, "--version", "1", "--alias", "champion", "--baseline", str(session_tmp / "baseline"),
            "--window", str(window), "--response-column", "response", "--golden", str(golden_path)]
    no_reference = _promote(mlflow_server, *args)
    assert no_reference.exit_code == 2 and "--golden-baseline-accuracy" in no_reference.output
    result = _promote(mlflow_server, *args, "--golden-baseline-accuracy", "0.95")
    assert result.exit_code == 1, result.output
    assert "kind is degradation" in result.output and "golden-set accuracy dropped" in result.output
    tags = version_tags(client, name, "1")
    assert tags["drift.gate"] == "blocked" and tags["drift.kind"] == "degradation"
    assert alias_version(client, name, "champion") is None


def test_ci_script_fails_the_job_when_blocked(client, mlflow_server, model, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    name, _ = model
    script = Path(__file__).resolve().parents[1] / "examples" / "ci_gate.sh"
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server, "MODEL": name, "VERSION": "2",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    job = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert job.returncode == 1, job.stdout + job.stderr
    assert "::error title=Promotion blocked by drift::" in job.stdout
    assert json.loads((tmp_path / "gate-decision.json").read_text())["outcome"] == "blocked"
    assert alias_version(client, name, "champion") == "1"


def test_unreachable_server_is_one_line_and_changes_nothing():
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _promote(f"http://127.0.0.1:{port}", "--model", "m", "--version", "1", "--alias", "champion")
    assert result.exit_code == 2
    assert "nothing was changed" in result.output and "Traceback" not in result.output
