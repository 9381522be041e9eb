"""A receiver for MLflow registry webhooks that audits aliases set outside the gate.

MLflow sends a webhook *after* an alias moved, so this cannot block anything: it checks
the version the alias now points to and records the result as tags (see
:meth:`drift_tracking.integrations.mlflow_gate.Gate.audit`). Promotions made by
``drift-tracking gate promote`` are recognised by their own tags and left alone.

Security, following MLflow 3.17's delivery code (``mlflow/webhooks/delivery.py``):

* ``X-MLflow-Signature`` is ``v1,<base64 HMAC-SHA256>`` of
  ``"{X-MLflow-Delivery-Id}.{X-MLflow-Timestamp}.{raw body}"`` with the shared secret;
  it is checked with :func:`hmac.compare_digest` before the body is even parsed.
* A timestamp that is not a finite number, or is more than ``tolerance_s`` away from now,
  is refused (``"nan"`` would otherwise never be stale). A delivery id already handled is
  acknowledged without running the check again (MLflow retries deliveries); the ids live
  in a SQLite file in the receiver's state directory, so a restart does not re-open
  replays of recent deliveries.
* Unsigned, wrongly signed, stale or oversized deliveries get 401 / 413 and change nothing.
* Connections are served by a fixed pool of threads (``workers``), at most ``max_pending``
  wait for one (more are closed at once; MLflow retries), and a connection that sends
  nothing for ``timeout_s`` is closed: idle connections cannot pile up threads.
* From the payload only three strings are used: the model name, the alias and the
  version, validated and passed to the registry client as identifiers. Nothing else in it
  is run, loaded or followed.

The check runs on a worker thread, so MLflow gets its answer (202) at once and does not
retry while an evaluation is read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import os
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from drift_tracking.cache import default_cache_dir

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"
ALIAS_CREATED = ("model_version_alias", "created")
MAX_BODY = 64 * 1024
REPLAY_FILE = "webhook_deliveries.sqlite"
_NAME = re.compile(r"^[^\x00-\x1f'\"`\\]{1,256}$")
_ALIAS = re.compile(r"^[A-Za-z0-9_\-]{1,255}$")
_VERSION = re.compile(r"^[1-9][0-9]{0,9}$")

log = logging.getLogger(__name__)


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The ``X-MLflow-Signature`` value MLflow sends for ``body`` (``v1,<base64>``)."""
    content = delivery_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(secret.encode("utf-8"), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def verify(
    secret: str,
    headers: Any,
    body: bytes,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> str | None:
    """``None`` when the delivery is authentic and fresh, else why it is refused."""
    delivery_id = headers.get(DELIVERY_ID_HEADER) or ""
    timestamp = headers.get(TIMESTAMP_HEADER) or ""
    signature = headers.get(SIGNATURE_HEADER) or ""
    if not (delivery_id and timestamp and signature):
        return f"missing {SIGNATURE_HEADER}, {TIMESTAMP_HEADER} or {DELIVERY_ID_HEADER} header"
    expected = sign(secret, delivery_id, timestamp, body)
    # Several space-separated signatures are allowed (secret rotation, Standard Webhooks).
    if not any(hmac.compare_digest(expected.encode(), s.encode()) for s in signature.split()):
        return "signature does not match"
    try:
        sent = float(timestamp)
    except ValueError:
        return "timestamp is not a number"
    if not math.isfinite(sent):
        return "timestamp is not a finite number"
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        return f"timestamp is more than {tolerance_s:.0f} s away from now"
    return None


def alias_event(payload: Any) -> tuple[str, str, str] | None:
    """``(name, alias, version)`` of a ``model_version_alias.created`` event, else ``None``."""
    if not isinstance(payload, dict) or (payload.get("entity"), payload.get("action")) != ALIAS_CREATED:
        return None
    data = payload.get("data")
    if not isinstance(data, dict):
        raise ValueError("the event has no data object")
    name, alias, version = data.get("name"), data.get("alias"), str(data.get("version", ""))
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError("data.name is not a registered model name")
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise ValueError("data.alias is not an alias")
    if not _VERSION.match(version):
        raise ValueError("data.version is not a version number")
    return name, alias, version


class ReplayStore:
    """Delivery ids already accepted, in SQLite, so a restarted receiver still refuses replays.

    An id must be remembered as long as a delivery carrying it could still pass the
    timestamp check: up to ``2 * tolerance_s`` after it arrived (its timestamp may lie
    ``tolerance_s`` ahead). Older ids are pruned as new ones come in.
    """

    def __init__(self, path: str | os.PathLike[str], keep_s: float) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.keep_s = keep_s
        self._lock = threading.Lock()
        con = self._connect()
        try:
            with con:
                con.execute("CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, received_at REAL NOT NULL)")
                con.execute("CREATE INDEX IF NOT EXISTS deliveries_received ON deliveries (received_at)")
        finally:
            con.close()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def first_time(self, delivery_id: str, now: float | None = None) -> bool:
        """Record ``delivery_id``; False when it was already recorded (a retry or a replay)."""
        now = time.time() if now is None else now
        with self._lock:
            con = self._connect()
            try:
                with con:
                    con.execute("DELETE FROM deliveries WHERE received_at < ?", (now - self.keep_s,))
                    cursor = con.execute("INSERT OR IGNORE INTO deliveries (id, received_at) VALUES (?, ?)",
                                         (delivery_id, now))
                    return cursor.rowcount == 1
            finally:
                con.close()


class _PooledHTTPServer(HTTPServer):
    """An HTTP server whose connections are handled by a fixed pool of threads (see the module docstring)."""

    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *,
                 workers: int, max_pending: int) -> None:
        super().__init__(address, handler)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="drift-webhook")
        self._slots = threading.BoundedSemaphore(workers + max_pending)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # full: close now rather than hold it
            return
        try:
            self._pool.submit(self._handle, request, client_address)
        except RuntimeError:  # the pool is shut down
            self._slots.release()
            self.shutdown_request(request)

    def _handle(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - one bad connection must not stop the server
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False)


class WebhookReceiver:
    """An HTTP server on ``host:port`` that verifies deliveries and queues alias audits.

    ``check(name, alias, version)`` runs on one worker thread, one delivery at a time;
    by default it is :meth:`Gate.audit`. ``port=0`` picks a free port (see :attr:`port`).
    ``state_dir`` holds the replay store [default: ``webhook/`` in the drift-tracking
    cache directory]; ``workers``, ``max_pending`` and ``timeout_s`` bound the
    connections (see the module docstring).
    """

    def __init__(
        self,
        secret: str,
        check: Callable[[str, str, str], Any],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tolerance_s: float = 300.0,
        state_dir: str | os.PathLike[str] | None = None,
        workers: int = 8,
        max_pending: int = 64,
        timeout_s: float = 10.0,
    ) -> None:
        if not secret:
            raise ValueError("the webhook secret is empty: deliveries could not be verified")
        if workers < 1 or max_pending < 0 or not timeout_s > 0:
            raise ValueError("workers must be >= 1, max_pending >= 0 and timeout_s > 0")
        self.secret = secret
        self.check = check
        self.tolerance_s = tolerance_s
        self.timeout_s = timeout_s
        self.results: list[tuple[tuple[str, str, str], Any]] = []
        self._jobs: queue.Queue[tuple[str, str, str] | None] = queue.Queue()
        state = Path(state_dir) if state_dir is not None else default_cache_dir() / "webhook"
        self._deliveries = ReplayStore(state / REPLAY_FILE, keep_s=2 * tolerance_s + 60)
        self._server = _PooledHTTPServer((host, port), _handler(self), workers=workers, max_pending=max_pending)
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self._server.server_address[0]
        return f"http://{host}:{self.port}/"

    def start(self) -> "WebhookReceiver":
        """Serve and work in background threads (for embedding in a process or a test)."""
        for target in (self._server.serve_forever, self._work):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted; the checks run on a worker thread."""
        worker = threading.Thread(target=self._work, daemon=True)
        worker.start()
        try:
            self._server.serve_forever()
        finally:
            self.stop()

    def wait_idle(self) -> None:
        """Block until every accepted delivery has been checked."""
        self._jobs.join()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._jobs.put(None)

    # -- called by the handler and the worker --------------------------------------------
    def accept(self, headers: Any, body: bytes) -> tuple[int, str]:
        refused = verify(self.secret, headers, body, tolerance_s=self.tolerance_s)
        if refused:
            log.warning("refused webhook delivery: %s", refused)
            return 401, f"refused: {refused}"
        try:
            event = alias_event(json.loads(body))
        except (ValueError, UnicodeDecodeError) as exc:
            return 400, f"bad payload: {exc}"
        if event is None:
            return 200, "ignored: not a model_version_alias.created event"
        if not self._deliveries.first_time(headers.get(DELIVERY_ID_HEADER)):
            return 200, "already received"
        self._jobs.put(event)
        return 202, "accepted: drift check queued for {} version {} (alias {})".format(event[0], event[2], event[1])

    def _work(self) -> None:
        while True:
            event = self._jobs.get()
            try:
                if event is None:
                    return
                name, alias, version = event
                outcome = self.check(name, alias, version)
                log.info("audit of %s v%s (alias %s): %s", name, version, alias, outcome or "set by the gate")
                self.results.append((event, outcome))
            except Exception as exc:  # noqa: BLE001 - one failed check must not stop the receiver
                log.error("drift check of %s failed: %s", event, exc)
                self.results.append((event, exc))
            finally:
                self._jobs.task_done()


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "drift-tracking-webhook"
        timeout = receiver.timeout_s  # socket timeout: an idle or trickling connection is closed

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/") in ("", "/health"):
                self._reply(200, "ok")
            else:
                self._reply(404, "not found")

        def do_POST(self) -> None:  # noqa: N802
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                self._reply(413, f"body must be between 0 and {MAX_BODY} bytes")
                return
            body = self.rfile.read(length)
            status, text = receiver.accept(self.headers, body)
            self._reply(status, text)

        def _reply(self, status: int, text: str) -> None:
            data = json.dumps({"status": status, "message": text}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            log.info("%s %s", self.address_string(), format % args)

    return Handler
