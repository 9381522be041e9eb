"""Shared fixtures: a real bundled model, generated traffic, and tracking files kept in tmp.

The environment is set before anything imports MLflow or wandb, so no test can reach
the network or write under $HOME.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

_SESSION_TMP = Path(tempfile.mkdtemp(prefix="drift-tracking-tests-"))
for _key, _value in {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "DRIFT_TRACKING_CACHE_DIR": str(_SESSION_TMP / "cache"),
    "WANDB_DIR": str(_SESSION_TMP / "wandb"),
    "WANDB_DATA_DIR": str(_SESSION_TMP / "wandb-data"),
    "WANDB_CACHE_DIR": str(_SESSION_TMP / "wandb-cache"),
    "WANDB_CONFIG_DIR": str(_SESSION_TMP / "wandb-config"),
    "MLFLOW_TRACKING_URI": f"sqlite:///{_SESSION_TMP / 'default-mlflow.db'}",
    # evaluations of model versions are signed with it, and the registry gate verifies them
    "DRIFT_TRACKING_GATE_KEY": secrets.token_hex(32),
}.items():
    os.environ[_key] = _value

import pytest  # noqa: E402

from drift_tracking import demo  # noqa: E402

N_BASELINE = 1500
N_WINDOW = 400


@pytest.fixture(scope="session")
def session_tmp() -> Path:
    return _SESSION_TMP


@pytest.fixture(scope="session")
def embedder():
    """The real bundled all-MiniLM-L6-v2 on CPU, with a cache shared by the whole session."""
    from drift_tracking.embedding import Embedder

    return Embedder(device="cpu")


@pytest.fixture(scope="session")
def baseline_samples():
    return demo.generate(N_BASELINE, seed=1)


@pytest.fixture(scope="session")
def baseline(embedder, baseline_samples, session_tmp):
    """A saved and re-loaded baseline of generated prompts and responses."""
    from drift_tracking.baseline import Baseline

    built = Baseline().fit_texts(
        [s.prompt for s in baseline_samples],
        [s.response for s in baseline_samples],
        ids=[s.id for s in baseline_samples],
        embedder=embedder,
    )
    path = built.save(session_tmp / "baseline")
    return Baseline.load(path)


@pytest.fixture(scope="session")
def healthy_window():
    """Same generator and topics as the baseline, other seed: no drift."""
    return demo.generate(N_WINDOW, seed=11, start="2026-02-01T00:00:00Z")


@pytest.fixture(scope="session")
def drifted_window():
    """40% of prompts from topics the baseline never saw."""
    return demo.generate(N_WINDOW, seed=12, novel_share=0.4, start="2026-02-08T00:00:00Z")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def mlflow_server(session_tmp):
    """A real ``mlflow server`` (sqlite backend, one worker) on 127.0.0.1; yields its URI.

    Started once per session (~5-12 s): tests isolate themselves by experiment and
    registered-model names, not by server.
    """
    import subprocess
    import sys
    import time
    import urllib.request

    root = session_tmp / "mlflow-server"
    root.mkdir(exist_ok=True)
    port = _free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
           # registry webhooks may be delivered to a receiver on loopback over plain http
           "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true", "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
           "MLFLOW_WEBHOOK_CACHE_TTL": "0"}
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server",
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--artifacts-destination", str(root / "artifacts"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"mlflow server did not start: {(root / 'server.log').read_text()[-2000:]}")
        time.sleep(0.5)
    try:
        yield uri
    finally:
        import signal

        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="session")
def mlflow_client(mlflow_server):
    """A client of the session server, for tracking and the registry."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)


@pytest.fixture
def dead_tracking_uri() -> str:
    """An http URI on 127.0.0.1 where nothing listens (the port was free a moment ago)."""
    return f"http://127.0.0.1:{_free_port()}"


@pytest.fixture
def not_found_uri():
    """A real HTTP server on 127.0.0.1 answering 404 to every request: a mistyped tracking URI."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class NotFound(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b"<html><body>404 Not Found</body></html>"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


#: Fixtures that load the real model or start a server: a test using any of them is ``slow``,
#: so ``pytest -m "not slow"`` is the fast inner loop (tests that embed without them say so).
_SLOW_FIXTURES = {"embedder", "baseline", "local_model", "mlflow_server", "mlflow_client"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
