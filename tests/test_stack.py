"""docker/compose.yaml's services as plain processes, through one full cycle.

No container engine is needed: a real PostgreSQL (``initdb`` / ``pg_ctl`` / ``postgres``
from the machine), ``mlflow server`` on it through psycopg2, ``drift-tracking gate serve``
with the alias-audit webhook registered by the same module the ``gate-webhook`` service
runs, and the ``monitor`` service's entry script (``python -m drift_tracking.scheduled``).
The cycle: register a baseline, let the scheduled job check a healthy and a drifted
window, promote a healthy model version through ``examples/ci_gate.sh``, refuse a drifted
one, and audit an alias set by hand. Every service is started here in temporary folders
on free ports and stopped at the end, whatever happened.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from gate_support import alias_version, register_versions, version_tags

from drift_tracking import demo

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BASELINE_NAME = "support-bot-baseline"
BASELINE_URI = f"models:/{BASELINE_NAME}@production"
SECRET = "stack-test-secret"
START = "2026-02-01T00:00:00Z"  # the healthy window is 00:00-06:00 UTC, the drifted one 06:00-12:00
PG_PASSWORD = "stack-test-pw"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bindir() -> Path:
    """The folder of initdb, pg_ctl and postgres: $PG_BIN, Debian's layout, then the PATH."""
    names = ("initdb", "pg_ctl", "postgres")
    candidates = [Path(os.environ["PG_BIN"])] if os.environ.get("PG_BIN") else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).resolve().parent)
    for folder in candidates:
        if all((folder / name).is_file() for name in names):
            return folder
    pytest.fail("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install PostgreSQL "
                "(Debian: apt-get install postgresql) or set PG_BIN to the folder holding them")


def _server_user() -> str | None:
    """Postgres refuses to run as root: as root, run it as the postgres (else nobody) user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name).pw_name
        except KeyError:
            continue
    pytest.fail("running as root and no 'postgres' or 'nobody' user exists to run PostgreSQL as")


def _wait_for(url: str, proc: subprocess.Popen, log: Path, what: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start: {log.read_text()[-3000:]}")
        time.sleep(0.5)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL on 127.0.0.1 with a password-protected ``mlflow`` database; yields its URI."""
    import psycopg2

    bindir, user = _pg_bindir(), _server_user()
    root = Path(tempfile.mkdtemp(prefix="drift-stack-pg-"))  # not under pytest's 0700 tmp: the server user needs it
    (root / "pw").write_text(PG_PASSWORD + "\n")
    if user:
        shutil.chown(root, user)
        shutil.chown(root / "pw", user)
    port = _free_port()
    as_user = {"user": user} if user else {}
    data = root / "data"
    try:
        subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "drift", f"--pwfile={root / 'pw'}",
                        "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True, **as_user)
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
        subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "120",
                        "-o", options, "start"], check=True, capture_output=True, **as_user)
        connection = psycopg2.connect(host="127.0.0.1", port=port, user="drift", password=PG_PASSWORD,
                                      dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE mlflow")
        connection.close()
        yield f"postgresql+psycopg2://drift:{PG_PASSWORD}@127.0.0.1:{port}/mlflow"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, **as_user)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(postgres: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``mlflow server`` on the Postgres store and ``gate serve`` auditing its aliases."""
    root = tmp_path_factory.mktemp("stack")
    mlflow_port, gate_port = _free_port(), _free_port()
    uri = f"http://127.0.0.1:{mlflow_port}"
    from cryptography.fernet import Fernet

    server_env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
                  "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                  "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https", "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
                  "MLFLOW_WEBHOOK_CACHE_TTL": "0"}
    processes = []
    try:
        processes.append(_start([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", postgres,
                                 "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1",
                                 "--port", str(mlflow_port), "--workers", "1"], server_env, root / "mlflow.log"))
        _wait_for(f"{uri}/health", processes[-1], root / "mlflow.log", "mlflow server")
        gate_env = {**os.environ, "MLFLOW_WEBHOOK_SECRET": SECRET, "MLFLOW_TRACKING_URI": uri}
        processes.append(_start([sys.executable, "-m", "drift_tracking.cli", "gate", "serve", "--port",
                                 str(gate_port)], gate_env, root / "gate.log"))
        gate_url = f"http://127.0.0.1:{gate_port}/"
        _wait_for(f"{gate_url}health", processes[-1], root / "gate.log", "gate serve")
        yield {"uri": uri, "gate_url": gate_url, "root": str(root), "postgres": postgres}
    finally:
        for proc in reversed(processes):
            _stop(proc)


def _run(args: list[str], uri: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": path, **env})


def _job(uri: str, cwd: Path, log: Path, now: str, *extra: str) -> subprocess.CompletedProcess:
    """The monitor service's command, as compose.yaml runs it, once at ``now``."""
    return _run([sys.executable, "-m", "drift_tracking.scheduled", "--log", str(log), "--baseline", BASELINE_URI,
                 "--every-hours", "6", "--grace-minutes", "10", "--response-column", "response", "--config", "",
                 "--state", str(cwd / "state"), "--now", now, *extra], uri, cwd)


def test_webhook_setup_proves_the_secret_and_is_idempotent(stack, tmp_path):
    setup = [sys.executable, "-m", "drift_tracking.integrations.webhook_setup", "--url", stack["gate_url"]]
    wrong = _run(setup, stack["uri"], tmp_path, MLFLOW_WEBHOOK_SECRET="not-the-receivers-secret")
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert "Webhook drift-audit created" in wrong.stdout and "refused the server's signature (401)" in wrong.stderr
    right = _run(setup, stack["uri"], tmp_path, MLFLOW_WEBHOOK_SECRET=SECRET)
    assert right.returncode == 0, right.stdout + right.stderr
    assert "Webhook drift-audit updated" in right.stdout and "accepted by the receiver" in right.stdout
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=stack["uri"], registry_uri=stack["uri"])  # not a registry set globally
    hooks = [w for w in client.list_webhooks() if w.name == "drift-audit"]
    assert len(hooks) == 1 and hooks[0].url == stack["gate_url"]


def test_full_cycle_on_postgres(stack, baseline_samples, healthy_window, drifted_window, tmp_path):
    from mlflow import MlflowClient

    uri = stack["uri"]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    # 1. Register the baseline the monitor checks against, as the compose header says.
    good = demo.write(baseline_samples, tmp_path / "good_week.jsonl")
    built = _run(["drift-tracking", "baseline", "build", str(good), "--response-column", "response", "--device",
                  "cpu", "--out", str(tmp_path / "baseline"), "--register", BASELINE_NAME, "--alias", "production"],
                 uri, tmp_path)
    assert built.returncode == 0, built.stderr[-3000:]
    assert f"Registered in MLflow as {BASELINE_URI}" in built.stdout

    # 2. Production traffic: six healthy hours, then six hours with 40% unseen topics.
    healthy = demo.generate(len(healthy_window), seed=11, start=START, interval_seconds=54)
    drifted = demo.generate(len(drifted_window), seed=12, novel_share=0.4, start="2026-02-01T06:00:00Z",
                               interval_seconds=54)
    log = demo.write(healthy + drifted, tmp_path / "logs" / "traffic.jsonl")

    # 3. The scheduled job at 06:15 checks 00:00-06:00 (and finds no traffic in the 4 windows before it) ...
    first = _job(uri, tmp_path, log, "2026-02-01T06:15:00Z")
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    assert "[2026-02-01T00:00:00Z .. 2026-02-01T06:00:00Z] 400 rows: OK" in first.stdout
    assert first.stdout.count("no traffic logged in this window") == 4
    # ... at 12:15 the drifted 06:00-12:00 window, failing the run as asked; a repeat does nothing.
    second = _job(uri, tmp_path, log, "2026-02-01T12:15:00Z", "--fail-on", "critical")
    assert second.returncode == 1, second.stdout + second.stderr[-3000:]
    assert "[2026-02-01T06:00:00Z .. 2026-02-01T12:00:00Z] 400 rows: CRITICAL" in second.stdout
    again = _job(uri, tmp_path, log, "2026-02-01T12:40:00Z")
    assert again.returncode == 0 and "already checked" in again.stdout, again.stdout + again.stderr[-2000:]

    runs = client.search_runs([client.get_experiment_by_name("drift-monitor").experiment_id],
                              order_by=["attributes.start_time ASC"])
    assert [r.data.tags["drift.tier"] for r in runs] == ["ok", "critical"]
    assert {r.data.tags["drift.baseline_uri"] for r in runs} == {BASELINE_URI}
    assert [m.step for r in runs for m in client.get_metric_history(r.info.run_id, "drift/tier_level")] == [0, 1]
    ledger = [json.loads(line) for line in (tmp_path / "state" / "scheduled_windows.jsonl").read_text().splitlines()]
    assert [r["outcome"] for r in ledger] == ["no-traffic"] * 4 + ["checked", "checked"]
    assert len((tmp_path / "state" / "history" / "drift_history.jsonl").read_text().splitlines()) == 2
    assert not list((tmp_path / "state" / "windows").iterdir())  # production rows are not kept

    # 4. Promotions: the webhook feeds gate serve; a healthy version passes the CI script ...
    hook = _run([sys.executable, "-m", "drift_tracking.integrations.webhook_setup", "--url", stack["gate_url"]],
                uri, tmp_path, MLFLOW_WEBHOOK_SECRET=SECRET)
    assert hook.returncode == 0, hook.stdout + hook.stderr
    name = register_versions(client, client.create_experiment("stack-models"), "support-bot", 2)
    window_v1 = demo.write(healthy, tmp_path / "answers_v1.jsonl")
    promoted = _run(["bash", str(ROOT / "examples" / "ci_gate.sh")], uri, tmp_path, MODEL=name, VERSION="1",
                    BASELINE=BASELINE_URI, WINDOW=str(window_v1))
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr[-3000:]
    assert "Gate passed" in promoted.stdout
    assert alias_version(client, name, "champion") == "1"
    assert version_tags(client, name, "1")["drift.gate"] == "passed"
    # ... a drifted one is refused and the alias stays ...
    window_v2 = demo.write(drifted, tmp_path / "answers_v2.jsonl")
    refused = _run(["drift-tracking", "gate", "promote", "--model", name, "--version", "2", "--alias", "champion",
                    "--baseline", BASELINE_URI, "--window", str(window_v2), "--response-column", "response"],
                   uri, tmp_path)
    assert refused.returncode == 1, refused.stdout + refused.stderr[-3000:]
    assert alias_version(client, name, "champion") == "1"
    assert version_tags(client, name, "2")["drift.gate"] == "blocked"
    # ... and an alias moved by hand onto it is audited by gate serve, through the server's webhook.
    client.set_registered_model_alias(name, "hotfix", "2")
    deadline = time.monotonic() + 120  # deliveries are asynchronous on the server's side
    while version_tags(client, name, "2").get("drift.gate") != "audited-blocked" and time.monotonic() < deadline:
        time.sleep(0.5)
    tags = version_tags(client, name, "2")
    assert tags["drift.gate"] == "audited-blocked" and tags["drift.audit_alias"] == "hotfix", tags
    assert version_tags(client, name, "1")["drift.gate"] == "passed"  # the gate's own promotion is left alone

    # 5. All of it is in Postgres.
    import psycopg2

    dsn = stack["postgres"].replace("postgresql+psycopg2://", "postgresql://")
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid WHERE t.key = 'drift.tier'")
        assert cursor.fetchone()[0] >= 4  # two scheduled checks and two gate evaluations
        cursor.execute("SELECT count(*) FROM model_versions WHERE name = %s", (BASELINE_NAME,))
        assert cursor.fetchone()[0] == 1
