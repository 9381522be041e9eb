"""Attacks on the registry gate, against a real ``mlflow server``: each must be refused, not promoted.

Anyone who can log a run or edit its tags used to decide promotions (issue 11, finding
1). Each test builds one forgery the way an attacker would (plain MLflow calls) and
checks the gate refuses it with a one-line reason, tags the version
``drift.gate=refused`` with that reason and leaves ``champion`` where it was.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from gate_support import alias_version, gate_reports, log_evaluation, register_versions, resign, version_tags

from drift_tracking import artifact
from drift_tracking.baseline import Baseline
from drift_tracking.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(mlflow_client):
    return mlflow_client


@pytest.fixture(scope="module")
def experiment_id(client):
    return client.create_experiment("gate-fault-tests")


@pytest.fixture(scope="module")
def reports(baseline, embedder, healthy_window, drifted_window):
    return gate_reports(baseline, embedder, healthy_window, drifted_window)


@pytest.fixture()
def model(client, experiment_id, reports):
    """Version 1 healthy and version 2 drifted, each with a genuine signed evaluation; champion on 1.

    Version 2's run is logged first, so version 1's is the newest run of the model.
    """
    name = register_versions(client, experiment_id, "faults", 2)
    runs = {"2": log_evaluation(client, experiment_id, reports["drifted"], name, "2"),
            "1": log_evaluation(client, experiment_id, reports["healthy"], name, "1")}
    client.set_registered_model_alias(name, "champion", "1")
    return name, runs


def _promote(server, *args, env=None):
    return CliRunner().invoke(main, ["gate", "promote", "--tracking-uri", server, *args], env=env,
                              catch_exceptions=False)


def _assert_refused(client, result, name, version, why):
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"REFUSED: {name} version {version}"), result.output
    assert "mode: signed-evaluation" in result.output
    tags = version_tags(client, name, version)
    assert tags["drift.gate"] == "refused"
    assert why in tags["drift.gate_reasons"] and "\n" not in tags["drift.gate_reasons"]
    assert f"reason: {tags['drift.gate_reasons']}" in result.output  # the one line printed is the one recorded
    assert tags["drift.gate_mode"] == "signed-evaluation"
    assert tags["drift.tier"] == ""  # nothing from an untrusted run is recorded as the version's drift
    assert alias_version(client, name, "champion") == "1"
    return tags


def test_forged_run_with_tags_only_is_refused(client, mlflow_server, model):
    name, _ = model
    forged = client.create_run(client.create_experiment(f"forged-{name}"))
    for key, value in {"drift.model_name": name, "drift.model_version": "2", "drift.tier": "ok",
                       "drift.kind": "none"}.items():
        client.set_tag(forged.info.run_id, key, value)
    client.set_terminated(forged.info.run_id)
    result = _promote(mlflow_server, "--model", name, "--version", "2", "--alias", "champion")
    tags = _assert_refused(client, result, name, "2", "tags only")
    assert tags["drift.evaluation_run_id"] == forged.info.run_id
    assert client.get_run(forged.info.run_id).data.tags["drift.gate"] == "refused"


@pytest.mark.parametrize("retag", ["tier", "version"])
def test_retagged_real_run_is_refused(client, mlflow_server, model, retag):
    name, runs = model
    if retag == "tier":  # version 2's own, critical evaluation, re-tagged as fine
        client.set_tag(runs["2"], "drift.tier", "ok")
        client.set_tag(runs["2"], "drift.kind", "none")
        why = "re-tagged after signing: drift.tier is 'ok' but the signed tier is 'critical'"
    else:  # version 1's healthy evaluation re-tagged as version 2's (it is the newest run)
        client.set_tag(runs["1"], "drift.model_version", "2")
        why = f"is a signed evaluation of {name} version 1, not of {name} version 2"
    result = _promote(mlflow_server, "--model", name, "--version", "2", "--alias", "champion")
    _assert_refused(client, result, name, "2", why)


def test_evaluation_of_another_version_is_refused(client, mlflow_server, model):
    name, runs = model
    for key in ("drift.model_name", "drift.model_version"):  # a run naming no model was accepted for any
        client.delete_tag(runs["1"], key)
    result = _promote(mlflow_server, "--model", name, "--version", "2", "--alias", "champion",
                      "--evaluation-run", runs["1"])
    _assert_refused(client, result, name, "2", "not of")


@pytest.fixture(scope="module")
def registered(mlflow_server, baseline):
    from drift_tracking.integrations.mlflow_registry import register_baseline

    return register_baseline(baseline.path, "gate-faults-baseline", aliases=["production"], tracking_uri=mlflow_server)


@pytest.fixture(scope="module")
def edited_baseline(baseline, tmp_path_factory):
    """The baseline with a wider novelty cut-off, saved consistently (it loads): another baseline."""
    target = tmp_path_factory.mktemp("edited") / "baseline"
    shutil.copytree(baseline.path, target)
    fit = json.loads((target / "fit.json").read_text())
    fit["sides"]["prompts"]["novelty_cutoff"] *= 3
    artifact.write_json(target / "fit.json", fit)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["files"]["fit.json"] = {"sha256": artifact.sha256_file(target / "fit.json"),
                                     "bytes": (target / "fit.json").stat().st_size}
    artifact.write_json(target / "manifest.json", artifact.seal(manifest))
    return Baseline.load(target)


@pytest.mark.parametrize("named_by", ["evaluation", "--baseline"])
def test_evaluation_against_an_edited_baseline_is_refused(client, mlflow_server, experiment_id, registered,
                                                          edited_baseline, embedder, drifted_window, named_by):
    from drift_tracking.comparison import compare

    name = register_versions(client, experiment_id, "faults-baseline", 2)
    client.set_registered_model_alias(name, "champion", "1")
    report = compare(edited_baseline, [s.prompt for s in drifted_window], embedder=embedder)
    if named_by == "evaluation":  # it claims the registered baseline, but its content is the edited one
        claimed = SimpleNamespace(manifest=edited_baseline.manifest, path=None, uri=registered.uri,
                                  registry_version=registered.version_uri)
        log_evaluation(client, experiment_id, report, name, "2", baseline=claimed)
        args = []
    else:
        log_evaluation(client, experiment_id, report, name, "2", baseline=edited_baseline)
        args = ["--baseline", registered.uri]
    result = _promote(mlflow_server, "--model", name, "--version", "2", "--alias", "champion", *args)
    why = (f"was evaluated against baseline {edited_baseline.manifest['content_sha256'][:12]}, but "
           f"{registered.uri} ({registered.version_uri}) holds")
    _assert_refused(client, result, name, "2", why)


def test_stale_evaluation_is_refused_and_the_age_is_configurable(client, mlflow_server, model):
    name, runs = model
    old = (datetime.now(timezone.utc) - timedelta(days=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    resign(client, runs["1"], created_at=old)
    client.delete_registered_model_alias(name, "champion")
    client.set_registered_model_alias(name, "champion", "2")  # so a promotion of 1 shows
    stale = _promote(mlflow_server, "--model", name, "--version", "1", "--alias", "champion")
    assert stale.exit_code == 1 and "is stale" in stale.output and "--max-age" in stale.output
    assert version_tags(client, name, "1")["drift.gate"] == "refused"
    assert alias_version(client, name, "champion") == "2"
    allowed = _promote(mlflow_server, "--model", name, "--version", "1", "--alias", "champion", "--max-age", "30d")
    assert allowed.exit_code == 0, allowed.output
    assert alias_version(client, name, "champion") == "1"
    bad = _promote(mlflow_server, "--model", name, "--version", "1", "--alias", "champion", "--max-age", "soon")
    assert bad.exit_code == 2 and "not an age" in bad.output


@pytest.mark.parametrize(
    ("forgery", "why"),
    [
        ("unsigned", "holds an unsigned evaluation"),
        ("other key", "it was signed with another key"),
        ("edited record", "its record was edited after signing"),
        ("odd signature", "its record was edited after signing"),
        ("edited report", "does not hash to the signed value"),
        ("copied record", "copied from another run"),
    ],
)
def test_evaluations_that_do_not_verify_are_refused(client, mlflow_server, experiment_id, model, reports, forgery,
                                                    why):
    from mlflow.entities import RunTag

    name, runs = model
    if forgery == "copied record":  # a tag-only run carrying version 1's genuine record and signature
        source = client.get_run(runs["1"]).data.tags
        forged = client.create_run(experiment_id).info.run_id
        client.log_batch(forged, tags=[RunTag(k, v) for k, v in source.items() if k.startswith("drift.")])
        client.set_tag(forged, "drift.model_version", "2")
    else:
        key = {"unsigned": None, "other key": b"not the gate's key, but long enough"}.get(forgery, "env")
        forged = log_evaluation(client, experiment_id, reports["healthy"], name, "2", key=key)
    if forgery == "edited record":
        record = json.loads(client.get_run(forged).data.tags["drift.evaluation"])
        client.set_tag(forged, "drift.evaluation", json.dumps({**record, "tier": "ok", "window_sha256": "0" * 64}))
    if forgery == "odd signature":  # not even hex: refused like any other, never a traceback
        client.set_tag(forged, "drift.evaluation_signature", "hmac-sha256:\u00e9t\u00e9")
    if forgery == "edited report":
        text = reports["healthy"].to_json().replace('"tier_reasons": [', '"tier_reasons": ["reviewed", ', 1)
        client.log_text(forged, text, "drift_report.json")
    result = _promote(mlflow_server, "--model", name, "--version", "2", "--alias", "champion")
    _assert_refused(client, result, name, "2", why)


def test_a_refusal_can_be_overridden_and_is_recorded(client, mlflow_server, experiment_id, model, reports):
    name, _ = model
    forged = log_evaluation(client, experiment_id, reports["healthy"], name, "2", key=None)
    reason = "the evaluation job lost its key during the incident; reviewed by hand by the support lead"
    result = _promote(mlflow_server, "--model", name, "--version", "2", "--alias", "champion",
                      "--override", "--reason", reason, env={"USER": "carol", "LOGNAME": "carol"})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("PROMOTED (override)")
    tags = version_tags(client, name, "2")
    assert tags["drift.gate"] == "overridden" and "holds an unsigned evaluation" in tags["drift.gate_reasons"]
    assert (tags["drift.override_by"], tags["drift.override_reason"]) == ("carol", reason)
    assert tags["drift.override_at"].endswith("Z") and tags["drift.evaluation_run_id"] == forged
    assert client.get_run(forged).data.tags["drift.override_by"] == "carol"
    assert alias_version(client, name, "champion") == "2"
