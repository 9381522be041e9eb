"""The webhook receiver: MLflow's own signature scheme, refusals, and audits on a real server."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid

import pytest
from gate_support import alias_version, gate_reports, log_evaluation, register_versions, version_tags

from drift_tracking.integrations.mlflow_gate import Gate
from drift_tracking.integrations.webhook import WebhookReceiver, alias_event, sign, verify

SECRET = "s3cret-for-tests"


def _delivery(payload: dict, secret: str = SECRET, *, timestamp: float | None = None) -> tuple[bytes, dict]:
    """A delivery exactly as MLflow 3.17 builds it (body, headers)."""
    body = json.dumps(payload)
    delivery_id = str(uuid.uuid4())
    ts = str(int(time.time() if timestamp is None else timestamp))
    headers = {"Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery_id, "X-MLflow-Timestamp": ts}
    if secret:
        headers["X-MLflow-Signature"] = sign(secret, delivery_id, ts, body.encode())
    return body.encode(), headers


def _alias_payload(name: str, alias: str, version: str) -> dict:
    return {"entity": "model_version_alias", "action": "created", "timestamp": "2026-01-01T00:00:00+00:00",
            "data": {"name": name, "alias": alias, "version": version}}


def test_signature_matches_mlflows_delivery_code():
    from mlflow.webhooks.delivery import _generate_hmac_signature

    body = json.dumps(_alias_payload("m", "champion", "3"))
    assert sign(SECRET, "id-1", "1767225600", body.encode()) == _generate_hmac_signature(
        SECRET, "id-1", "1767225600", body
    )


def test_verify_refuses_forged_unsigned_and_stale_deliveries():
    body, headers = _delivery(_alias_payload("m", "champion", "3"))
    assert verify(SECRET, headers, body) is None
    assert "does not match" in verify("another-secret", headers, body)
    assert "does not match" in verify(SECRET, headers, body.replace(b'"3"', b'"4"'))
    unsigned = {k: v for k, v in headers.items() if k != "X-MLflow-Signature"}
    assert "missing" in verify(SECRET, unsigned, body)
    old_body, old_headers = _delivery(_alias_payload("m", "champion", "3"), timestamp=time.time() - 3600)
    assert "away from now" in verify(SECRET, old_headers, old_body)


@pytest.mark.parametrize("stamp", ["nan", "NaN", "inf", "-Infinity", "1e400"])
def test_verify_refuses_a_signed_timestamp_that_is_not_finite(stamp):
    body = json.dumps(_alias_payload("m", "champion", "3")).encode()
    headers = {"X-MLflow-Delivery-Id": "d-1", "X-MLflow-Timestamp": stamp,
               "X-MLflow-Signature": sign(SECRET, "d-1", stamp, body)}
    assert verify(SECRET, headers, body) == "timestamp is not a finite number"


def test_replay_store_remembers_ids_across_instances_and_forgets_old_ones(tmp_path):
    from drift_tracking.integrations.webhook import ReplayStore

    store = ReplayStore(tmp_path / "ids.sqlite", keep_s=600)
    assert store.first_time("a", now=1000.0) and not store.first_time("a", now=1001.0)
    reopened = ReplayStore(tmp_path / "ids.sqlite", keep_s=600)
    assert not reopened.first_time("a", now=1500.0)  # a restart does not forget
    assert reopened.first_time("b", now=1700.0)  # ... and pruning "a" (older than 600 s) happened here
    assert reopened.first_time("a", now=1701.0)


def test_alias_event_reads_only_validated_identifiers():
    assert alias_event(_alias_payload("support-bot", "champion", "12")) == ("support-bot", "champion", "12")
    assert alias_event({"entity": "model_version", "action": "created", "data": {}}) is None
    for bad in ({"name": "m", "alias": "x; rm -rf /", "version": "1"}, {"name": "m", "alias": "a", "version": "1e3"},
                {"name": "m'--", "alias": "a", "version": "1"}):
        with pytest.raises(ValueError):
            alias_event({"entity": "model_version_alias", "action": "created", "data": bad})


# -- a receiver on loopback, auditing against the real server ---------------------------
@pytest.fixture(scope="module")
def client(mlflow_server):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)


@pytest.fixture(scope="module")
def receiver(client, tmp_path_factory):
    started = WebhookReceiver(SECRET, Gate(client=client).audit, port=0,
                              state_dir=tmp_path_factory.mktemp("webhook-state")).start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def reports(baseline, embedder, healthy_window, drifted_window):
    return gate_reports(baseline, embedder, healthy_window, drifted_window)


def _post(url: str, body: bytes, headers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.slow
def test_signed_delivery_audits_and_forged_one_changes_nothing(client, receiver, reports):
    experiment_id = client.create_experiment("webhook-tests")
    name = register_versions(client, experiment_id, "webhook", 3)
    run_id = log_evaluation(client, experiment_id, reports["drifted"], name, "1")
    log_evaluation(client, experiment_id, reports["healthy"], name, "3")
    Gate(client=client).promote(name, "3", alias="champion")  # through the gate: not audited again
    client.set_registered_model_alias(name, "hotfix", "1")  # outside the gate, on a drifted version
    client.set_registered_model_alias(name, "canary", "2")  # outside the gate, never evaluated

    forged_body, forged_headers = _delivery(_alias_payload(name, "hotfix", "1"), secret="guessed")
    status, answer = _post(receiver.url, forged_body, forged_headers)
    assert status == 401 and "signature" in answer["message"]
    unsigned_body, unsigned_headers = _delivery(_alias_payload(name, "hotfix", "1"), secret="")
    assert _post(receiver.url, unsigned_body, unsigned_headers)[0] == 401
    receiver.wait_idle()
    assert not any(k.startswith("drift.") for k in version_tags(client, name, "1"))

    body, headers = _delivery(_alias_payload(name, "hotfix", "1"))
    status, answer = _post(receiver.url, body, headers)
    assert status == 202, answer
    assert _post(receiver.url, body, headers) == (200, {"status": 200, "message": "already received"})
    for alias, version in (("canary", "2"), ("champion", "3")):
        assert _post(receiver.url, *_delivery(_alias_payload(name, alias, version)))[0] == 202
    receiver.wait_idle()

    audited = version_tags(client, name, "1")
    assert audited["drift.gate"] == "audited-blocked"
    assert audited["drift.audit_alias"] == "hotfix"
    assert audited["drift.evaluation_run_id"] == run_id
    assert audited["drift.tier"] == "critical"
    assert version_tags(client, name, "2")["drift.gate"] == "audited-unevaluated"
    assert version_tags(client, name, "3")["drift.gate"] == "passed"
    assert alias_version(client, name, "hotfix") == "1"  # an audit records, it never moves aliases
    assert [outcome for (n, _, _), outcome in receiver.results if n == name] == [
        "audited-blocked", "audited-unevaluated", None
    ]
    found = client.search_model_versions(f"name = '{name}' and tags.`drift.gate` = 'audited-blocked'")
    assert [v.version for v in found] == ["1"]


def test_other_events_and_bad_payloads_are_not_checked(receiver):
    before = len(receiver.results)
    body, headers = _delivery({"entity": "model_version", "action": "created", "data": {"name": "m"}})
    assert _post(receiver.url, body, headers)[0] == 200
    bad_body, bad_headers = _delivery({"entity": "model_version_alias", "action": "created",
                                       "data": {"name": "m", "alias": "../../etc", "version": "1"}})
    assert _post(receiver.url, bad_body, bad_headers)[0] == 400
    receiver.wait_idle()
    assert len(receiver.results) == before


@pytest.mark.slow
def test_deliveries_from_the_mlflow_server_itself(client, reports):
    """The server signs and sends the webhook; the receiver verifies it and audits the version."""
    audited: list[tuple[str, str, str]] = []
    gate = Gate(client=client)

    def check(name: str, alias: str, version: str) -> str | None:
        outcome = gate.audit(name, alias, version)
        audited.append((alias, version, outcome))
        return outcome

    own = WebhookReceiver(SECRET, check, port=0).start()
    webhook = client.create_webhook(name="drift-audit-e2e", url=own.url,
                                    events=["model_version_alias.created"], secret=SECRET)
    try:
        experiment_id = client.create_experiment("webhook-e2e")
        name = register_versions(client, experiment_id, "webhook-e2e", 2)
        log_evaluation(client, experiment_id, reports["healthy"], name, "1")
        log_evaluation(client, experiment_id, reports["drifted"], name, "2")
        gate.promote(name, "1", alias="champion")
        client.set_registered_model_alias(name, "champion", "2")  # a manual move around the gate
        deadline = time.monotonic() + 120  # delivery is asynchronous on the server's side
        while len([a for a in audited if a[0] == "champion"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        own.wait_idle()
    finally:
        client.delete_webhook(webhook.webhook_id)
        own.stop()
    assert sorted(audited) == [("champion", "1", None), ("champion", "2", "audited-blocked")]
    assert version_tags(client, name, "2")["drift.gate"] == "audited-blocked"
    assert version_tags(client, name, "1")["drift.gate"] == "passed"


def test_serve_command_needs_a_secret_and_refuses_forgeries(mlflow_server):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from click.testing import CliRunner

    from drift_tracking.cli import main

    missing = CliRunner().invoke(main, ["gate", "serve", "--port", "0", "--secret-env", "NO_SUCH_SECRET_VAR"])
    assert missing.exit_code == 2 and "NO_SUCH_SECRET_VAR" in missing.output

    cli = Path(sys.executable).parent / "drift-tracking"
    env = {**os.environ, "GATE_TEST_SECRET": SECRET}
    proc = subprocess.Popen([str(cli), "gate", "serve", "--port", "0", "--secret-env", "GATE_TEST_SECRET",
                             "--tracking-uri", mlflow_server], env=env, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "Listening for MLflow webhooks on http://127.0.0.1:" in line, line
        url = line.split(" on ", 1)[1].split()[0]
        with urllib.request.urlopen(url + "health", timeout=30) as resp:
            assert resp.status == 200
        body, headers = _delivery(_alias_payload("m", "champion", "1"), secret="not-the-secret")
        assert _post(url, body, headers)[0] == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stderr.close()
