"""What every detector runner shares: read a job, time each window's check, write the result.

Runners execute in their own virtual environment (see ``setup.sh``), so this module uses
only the standard library and numpy. A job is a JSON file::

    {"embeddings": "all.npy",        # (N, d) float32, every text of the corpus
     "baseline": "baseline_idx.npy", # row indices of the baseline
     "windows": "windows.npz",       # one int array per window, keys w0, w1, ...
     "meta": [{"scenario": ..., "n": ..., "i": ...}, ...],   # same order as the keys
     "options": {...},               # runner-specific
     "out": "result.json"}

A runner builds its detector once from the baseline (not timed), then calls
``check(window) -> dict`` for every window; the dict must hold ``alarm`` (bool) and may
hold ``critical`` and any scores. The wall time of each call is recorded as ``seconds``
(unless the runner times the check itself and returns ``seconds``)
(embedding is never part of it: the vectors are given), and the process's peak resident
memory is written at the end.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def load_job(argv: list[str] | None = None) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The job dict, all embeddings and the baseline's embeddings."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python RUNNER.py JOB.json")
    job = json.loads(Path(args[0]).read_text())
    x = np.load(job["embeddings"], allow_pickle=False).astype(np.float32, copy=False)
    baseline = x[np.load(job["baseline"], allow_pickle=False)]
    return job, x, baseline


def run(job: dict[str, Any], x: np.ndarray, check: Callable[[np.ndarray], dict[str, Any]],
        versions: dict[str, str]) -> None:
    """Check every window of ``job`` and write the result file."""
    rows = []
    with np.load(job["windows"], allow_pickle=False) as windows:
        for key, meta in zip(sorted(windows.files, key=lambda k: int(k[1:])), job["meta"]):
            w = x[windows[key]]
            start = time.perf_counter()
            out = check(w)
            seconds = out.pop("seconds", time.perf_counter() - start)  # a runner may time a part itself
            rows.append({**meta, **{k: _plain(v) for k, v in out.items()}, "seconds": seconds})
    peak_mb = peak_rss_mb()
    Path(job["out"]).write_text(json.dumps({"rows": rows, "peak_rss_mb": peak_mb, "versions": versions}))


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MB.

    ``VmHWM`` is reset by ``exec``; ``ru_maxrss`` is not (Linux carries the parent's peak
    over), so it would report the launching process's memory for every runner.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _plain(value: Any) -> Any:
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value
