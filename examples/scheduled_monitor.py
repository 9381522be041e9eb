"""The compose stack's scheduled monitor, run by hand on a generated day of traffic.

The ``monitor`` service of ``docker/compose.yaml`` runs::

    python -m drift_tracking.scheduled --log /data/traffic.jsonl \\
        --baseline models:/support-bot-baseline@production --every-hours 6 --state /state

and every 6 hours checks the last 6 hours of the log against the registered baseline,
logging each check as a run on the tracking server. This script does the same without
Docker or a server:

1. builds a baseline from a good week and registers it as
   ``support-bot-baseline@production`` (in ``--tracking-uri``, default a SQLite store in DIR);
2. writes a day of traffic in four 6-hour windows (``--windows``); in the last one, 40% of
   the prompts are about topics the baseline never saw;
3. runs the job once after each window closed, at 06:10, 12:10, 18:10 and 00:10 UTC
   (``--now`` stands in for the clock the service waits on);
4. prints each window's decision and where the runs and the job's ledger are.

    python examples/scheduled_monitor.py --dir scheduled-demo
    mlflow ui --backend-store-uri sqlite:///scheduled-demo/mlflow.db
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from drift_tracking import Baseline, Embedder, demo
from drift_tracking.integrations.mlflow_registry import register_baseline

DAY = datetime(2026, 3, 2, tzinfo=timezone.utc)
EVERY = timedelta(hours=6)


def traffic(n_window: int, windows: int) -> list[demo.Sample]:
    """``windows`` 6-hour windows of ``n_window`` requests; the last with 40% unseen topics."""
    rows: list[demo.Sample] = []
    for i in range(windows):
        rows += demo.generate(n_window, seed=30 + i, novel_share=0.4 if i == windows - 1 else 0.0,
                                 start=DAY + i * EVERY, interval_seconds=EVERY.total_seconds() / n_window)
    return rows


def run_job(log: Path, state: Path, tracking_uri: str, now: datetime) -> str:
    """One tick of the monitor service, as compose runs it; returns what it printed."""
    command = [sys.executable, "-m", "drift_tracking.scheduled", "--log", str(log),
               "--baseline", "models:/support-bot-baseline@production", "--every-hours", "6",
               "--response-column", "response", "--state", str(state), "--tracking-uri", tracking_uri,
               "--catch-up", "0", "--now", now.isoformat()]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the job failed (exit {done.returncode}):\n{done.stdout}{done.stderr[-3000:]}")
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("scheduled-demo"), help="where everything is written")
    parser.add_argument("--tracking-uri", default=None, help="MLflow server [default: a SQLite store in DIR]")
    parser.add_argument("--n-baseline", type=int, default=2000, help="requests in the good week")
    parser.add_argument("--n-window", type=int, default=300, help="requests per 6-hour window")
    parser.add_argument("--windows", type=int, default=4, choices=range(2, 5), help="6-hour windows (2 to 4)")
    args = parser.parse_args(argv)

    root = args.dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    tracking_uri = args.tracking_uri or f"sqlite:///{root / 'mlflow.db'}"
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    # 1. The production baseline, calibrated for windows of this size, in the registry.
    good = demo.generate(args.n_baseline, seed=1)
    baseline = Baseline(window_size=args.n_window).fit_texts(
        [s.prompt for s in good], [s.response for s in good], embedder=Embedder(device="cpu"))
    path = baseline.save(root / "baseline", overwrite=True)
    registered = register_baseline(path, "support-bot-baseline", aliases=["production"], tracking_uri=tracking_uri)
    print(f"registered {registered.uri} (version {registered.version})")

    # 2. The log the service reads from /data.
    log = demo.write(traffic(args.n_window, args.windows), root / "logs" / "traffic.jsonl")

    # 3. One tick after each window closed (the service sleeps until then).
    state = root / "state"
    (state / "scheduled_windows.jsonl").unlink(missing_ok=True)  # a rerun starts a fresh schedule
    (state / "history" / "drift_history.jsonl").unlink(missing_ok=True)
    for i in range(1, args.windows + 1):
        print(run_job(log, state, tracking_uri, DAY + i * EVERY + timedelta(minutes=10)))

    # 4. What the job recorded.
    ledger = [json.loads(line) for line in (state / "scheduled_windows.jsonl").read_text().splitlines()]
    print(f"\nLedger: {state / 'scheduled_windows.jsonl'}; reports under {state / 'reports'}")
    print(f"Runs in experiment drift-monitor: mlflow ui --backend-store-uri {tracking_uri}")
    tiers = [r.get("tier") for r in ledger]
    return 0 if tiers[0] == "ok" and tiers[-1] in ("review", "critical") else 1


if __name__ == "__main__":
    sys.exit(main())
