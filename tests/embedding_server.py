"""A real OpenAI-compatible ``/v1/embeddings`` server on 127.0.0.1, backed by the bundled model.

Clients reach it over HTTP exactly as they would Text Embeddings Inference or OpenAI. A
test can make it fail the next requests (429 with ``Retry-After``, 503), require an API
key, leave out the ``usage`` field, or serve *another* model under the same name (the
bundled vectors with their coordinates permuted: same dimension, unit length, another
space). Every request is logged (status, number of inputs, whether a key matched).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

SERVED_NAME = "all-MiniLM-L6-v2"


@dataclass
class Fault:
    status: int
    retry_after: str | None = None


@dataclass
class ServerState:
    api_key: str | None = None
    served_name: str = SERVED_NAME
    permutation: np.ndarray | None = None  # serve another model: coordinates permuted
    report_usage: bool = True
    faults: list[Fault] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)


class EmbeddingServer:
    """Start with ``with EmbeddingServer() as server:``; ``server.url`` is its ``/v1`` base."""

    def __init__(self, **state: Any) -> None:
        from drift_tracking.embedding import bundled_model_path
        from drift_tracking.embedding.torch_backend import load_model

        self.model = load_model(str(bundled_model_path()), "cpu")
        self.state = ServerState(**state)
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        self.state.faults.extend(Fault(status, retry_after) for _ in range(times))

    def served(self, status: int = 200) -> list[dict[str, Any]]:
        """Logged requests answered with ``status``."""
        return [entry for entry in self.state.log if entry["status"] == status]

    def __enter__(self) -> "EmbeddingServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=10)

    # -- the endpoint ----------------------------------------------------------------
    def answer(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
        """Status, extra headers and JSON payload of one request; logged with its texts and tokens."""
        with self._lock:  # one request at a time: the model is shared with the test's own embedder
            status, extra, payload = self._answer(path, headers, body)
            try:
                texts = json.loads(body).get("input") or []
            except (ValueError, AttributeError):
                texts = []
            tokens = (payload.get("usage") or {}).get("prompt_tokens", 0) if status == 200 else 0
            self.state.log.append({"status": status, "inputs": len(texts), "texts": texts, "tokens": tokens})
            return status, extra, payload

    def _answer(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
        state = self.state
        if path.rstrip("/") != "/v1/embeddings":
            return 404, {}, {"error": {"message": f"no route {path}"}}
        if state.api_key is not None and headers.get("Authorization") != f"Bearer {state.api_key}":
            return 401, {}, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
        if state.faults:
            fault = state.faults.pop(0)
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return fault.status, extra, {"error": {"message": f"injected {fault.status}"}}
        request = json.loads(body)
        if request.get("model") != state.served_name:
            return 404, {}, {"error": {"message": f"The model `{request.get('model')}` does not exist"}}
        texts = request["input"] if isinstance(request["input"], list) else [request["input"]]
        return 200, {}, self._embeddings(texts)

    def _embeddings(self, texts: list[str]) -> dict[str, Any]:
        vectors = self.model.encode(texts, batch_size=32, convert_to_numpy=True)
        if self.state.permutation is not None:
            vectors = vectors[:, self.state.permutation]
        tokens = sum(len(ids) for ids in self.model.tokenizer(texts, truncation=True, max_length=256)["input_ids"])
        answer: dict[str, Any] = {
            "object": "list", "model": self.state.served_name,
            "data": [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)][::-1],
        }
        if self.state.report_usage:
            answer["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, extra, payload = server.answer(self.path, self.headers, body)
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

        return Handler
