"""Talking to servers from any layer: scoped environment variables, one-line errors, unreachable servers.

The log sources (MLflow traces) read from a tracking server as the integrations write to
one, so these helpers sit above both: a source bounds MLflow's retries and words a
failure exactly as a sink does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping


@contextlib.contextmanager
def scoped_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a call; the caller's values come back after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an MLflow error: enough for a one-line message, without the server's traceback."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


def is_unreachable(exc: BaseException) -> bool:
    """True for connection failures, timeouts and server-side 5xx, however MLflow wraps them."""
    import requests

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError,
                                TimeoutError)):
            return True
        text = str(current)
        if any(s in text for s in ("Max retries exceeded", "Connection refused", "Failed to establish",
                                   "Read timed out", "error code 50")):
            return True
        current = current.__cause__ or current.__context__
    return False
