"""An OpenAI-compatible ``/v1/embeddings`` endpoint as a backend (OpenAI, Azure OpenAI's v1 API,
Text Embeddings Inference, vLLM, LiteLLM, ...): the model runs elsewhere, nothing loads here.

Texts go in batches (``input``: a list) and come back in order (each item's ``index``).
429 and 5xx answers, timeouts and refused connections are retried with exponential
back-off (half to all of ``backoff_s * 2**attempt``, at most ``max_backoff_s``, or the
server's ``Retry-After`` when it sends one), at most ``max_retries`` times; a 401 or 403
stops at once with a one-line error naming the environment variables the key is read
from. The key is sent as ``Authorization: Bearer`` and never appears in a message.

Nothing can hash the weights behind a URL, so the identity pins the served model's
name, its dimension and a probe (:mod:`drift_tracking.embedding.identity`): a baseline
built through one endpoint refuses windows embedded by another model under the same name.
The URL is not part of the identity: the same model moved to another host is the same
model, and it is the probe, not the address, that says so. An endpoint is only ever one
the user names (``--embedding-endpoint``), never one read from a baseline.
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import numpy as np

from drift_tracking.embedding.identity import ENDPOINT, PROBE_TEXTS, ModelIdentity, probe_signature
from drift_tracking.errors import DriftTrackingError

KEY_VARIABLES = ("DRIFT_TRACKING_EMBEDDING_API_KEY", "OPENAI_API_KEY")
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


class EndpointError(DriftTrackingError):
    """The embedding endpoint refused, failed or answered something that is not embeddings."""


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach an OpenAI-compatible embeddings endpoint.

    ``url`` is the service's base (``http://host:8080``), its ``/v1`` or the full
    ``.../v1/embeddings``; ``api_key`` defaults to ``$DRIFT_TRACKING_EMBEDDING_API_KEY``,
    else ``$OPENAI_API_KEY``, else none (a local server may need none).
    """

    url: str
    api_key: str | None = field(default=None, repr=False)
    max_retries: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlsplit(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise DriftTrackingError(
                f"--embedding-endpoint must be an http(s) URL such as http://localhost:8080/v1, got {self.url!r}"
            )
        if self.max_retries < 0 or self.backoff_s < 0 or self.timeout_s <= 0:
            raise DriftTrackingError("max_retries and backoff_s must be >= 0 and timeout_s > 0")

    @property
    def embeddings_url(self) -> str:
        """The ``/v1/embeddings`` URL the requests go to."""
        parts = urllib.parse.urlsplit(self.url)
        path = parts.path.rstrip("/")
        if not path.endswith("/embeddings"):
            path += "/embeddings" if path.endswith("/v1") else "/v1/embeddings"
        return urllib.parse.urlunsplit(parts._replace(path=path))

    def key(self) -> str | None:
        if self.api_key is not None:
            return self.api_key
        return next((os.environ[v] for v in KEY_VARIABLES if os.environ.get(v)), None)


class EndpointRuntime:
    """Embeds through ``endpoint``, asking for ``model``; tokens are the endpoint's ``usage`` count."""

    backend = ENDPOINT

    def __init__(self, model: str, endpoint: Endpoint) -> None:
        self.name = model
        self.endpoint = endpoint
        self.source = "endpoint"

    def describe(self) -> str:
        return f"{self.name!r} through an OpenAI-compatible endpoint ({self.endpoint.embeddings_url})"

    def local_weights(self) -> str | None:
        return None

    @property
    def device(self) -> str:
        return self.endpoint.embeddings_url

    def load(self) -> ModelIdentity:
        """Embed the probe texts: the answer gives the dimension, the norms and the probe."""
        vectors, _ = self.embed(list(PROBE_TEXTS), batch_size=len(PROBE_TEXTS), progress=False)
        norms = np.linalg.norm(vectors, axis=1)
        return ModelIdentity(
            name=self.name, dimension=int(vectors.shape[1]), weights_sha256="", backend=ENDPOINT,
            normalized=bool(np.allclose(norms, 1.0, atol=1e-3)), max_seq_length=None, precision="unknown",
            source="endpoint", probe=probe_signature(vectors),
        )

    def embed(self, texts: Sequence[str], *, batch_size: int, progress: bool) -> tuple[np.ndarray, int | None]:
        """One request per ``batch_size`` texts; tokens are ``None`` when any answer had no ``usage``."""
        from tqdm.auto import tqdm

        texts = list(texts)
        parts, tokens = [], 0
        for start in tqdm(range(0, len(texts), batch_size), disable=not progress, unit="request"):
            batch = texts[start : start + batch_size]
            answer = self._post({"model": self.name, "input": batch, "encoding_format": "float"})
            vectors, used = parse_embeddings(answer, len(batch), self.endpoint.embeddings_url)
            parts.append(vectors)
            tokens = None if tokens is None or used is None else tokens + used
        return np.concatenate(parts), tokens

    def _post(self, payload: dict[str, Any]) -> Any:
        """POST with bounded retries on 429/5xx and network errors; a 401/403 stops at once."""
        url = self.endpoint.embeddings_url
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = self.endpoint.key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        body = json.dumps(payload).encode("utf-8")
        attempts = self.endpoint.max_retries + 1
        for attempt in range(attempts):
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.endpoint.timeout_s) as response:
                    return _json(response.read(), url)
            except urllib.error.HTTPError as exc:
                failure, wait = _http_failure(exc, url, key is not None), _retry_after(exc.headers)
                if exc.code not in RETRY_STATUSES:
                    raise EndpointError(failure) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                failure, wait = f"cannot reach the embedding endpoint {url}: {reason}", None
            if attempt + 1 < attempts:
                time.sleep(self._delay(attempt, wait))
        raise EndpointError(f"{failure} (gave up after {attempts} attempts)")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.endpoint.max_backoff_s)
        ceiling = min(self.endpoint.backoff_s * 2**attempt, self.endpoint.max_backoff_s)
        return random.uniform(ceiling / 2, ceiling)


def parse_embeddings(answer: Any, expected: int, url: str) -> tuple[np.ndarray, int | None]:
    """``(vectors in input order, prompt tokens or None)`` from an embeddings answer, or one-line errors."""
    items = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(items, list) or len(items) != expected:
        got = len(items) if isinstance(items, list) else "no data list"
        raise EndpointError(f"the embedding endpoint {url} answered {got} embeddings for {expected} texts")
    try:
        ordered = sorted(items, key=lambda item: int(item.get("index", 0)))
        vectors = np.asarray([item["embedding"] for item in ordered], dtype=np.float32)
    except (TypeError, ValueError, KeyError, AttributeError):
        raise EndpointError(
            f"the embedding endpoint {url} answered embeddings that are not lists of numbers of one length "
            "(base64 answers are not read: drift-tracking asks for encoding_format=float)"
        ) from None
    if vectors.ndim != 2 or vectors.shape[1] == 0 or not np.isfinite(vectors).all():
        raise EndpointError(f"the embedding endpoint {url} answered empty or non-finite embeddings")
    usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else {}
    tokens = usage.get("prompt_tokens", usage.get("total_tokens"))
    return vectors, int(tokens) if isinstance(tokens, (int, float)) and not isinstance(tokens, bool) else None


def _json(raw: bytes, url: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise EndpointError(f"the embedding endpoint {url} did not answer JSON: {raw[:80]!r}") from None


def _http_failure(exc: urllib.error.HTTPError, url: str, sent_key: bool) -> str:
    """One line for an HTTP error answer: what happened and what to do."""
    if exc.code in (401, 403):
        sent = "refused the API key it was sent" if sent_key else "needs an API key and none was sent"
        return (f"the embedding endpoint {url} {sent} (HTTP {exc.code}): set DRIFT_TRACKING_EMBEDDING_API_KEY "
                "(or OPENAI_API_KEY) to a key it accepts")
    return f"the embedding endpoint {url} answered HTTP {exc.code}: {_server_message(exc)}"


def _server_message(exc: urllib.error.HTTPError) -> str:
    """The server's own error message (OpenAI's ``{"error": {"message": ...}}`` or TEI's ``{"error": ...}``)."""
    try:
        raw = exc.read()
    except OSError:
        raw = b""
    try:
        data = json.loads(raw)
        error = data.get("error", data) if isinstance(data, dict) else data
        message = error.get("message", error) if isinstance(error, dict) else error
    except ValueError:
        message = raw.decode("utf-8", "replace")
    text = " ".join(str(message or exc.reason).split())
    return text[:200] or str(exc.reason)


def _retry_after(headers: Message | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds; ``None`` when absent or a date."""
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
