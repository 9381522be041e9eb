"""Drift monitoring at scale: a folder of daily Parquet logs, read, embedded and measured on Ray.

1. write a good period and a few days of production traffic as daily Parquet files
   (generated support-bot traffic; the last day has prompts from topics the baseline never saw),
2. build the baseline on the cluster (``RayEngine.build_baseline``: embedding on the actor
   pool, fitting here),
3. monitor the folder by day (``RayEngine.monitor``): each day is embedded and measured in
   the cluster, decided here with the history, as ``drift-tracking monitor --engine ray`` does.

    python examples/ray_at_scale.py --dir ray-demo                       # a local cluster on this machine
    python examples/ray_at_scale.py --address ray://head:10001 --logs s3://bucket/support-bot/2026-03/ \\
        --baseline-logs s3://bucket/support-bot/2026-01/

The same from the command line:

    drift-tracking baseline build ray-demo/baseline-period/ --out ray-demo/baseline --engine ray
    drift-tracking monitor ray-demo/logs/ --baseline ray-demo/baseline --window 1d --engine ray
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def write_logs(root: Path, n_baseline: int, per_day: int, days: int) -> tuple[Path, Path]:
    """A good period and ``days`` daily files of production traffic (the last drifted), as Parquet."""
    from drift_tracking import demo

    period = root / "baseline-period"
    demo.write(demo.generate(n_baseline, seed=1), period / "part-0.parquet")
    for day in range(days):
        novel = 0.4 if day == days - 1 else 0.0
        rows = demo.generate(per_day, seed=10 + day, novel_share=novel, start=f"2026-03-{day + 1:02d}T00:00:00Z")
        demo.write(rows, root / "logs" / f"2026-03-{day + 1:02d}.parquet")
    return period, root / "logs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Monitor a folder of logs on Ray, end to end.")
    parser.add_argument("--dir", default="ray-demo", help="where generated logs, the baseline and the history go")
    parser.add_argument("--address", default=None, help="Ray cluster [default: a local one, or $RAY_ADDRESS]")
    parser.add_argument("--cpus", type=int, default=None, help="CPUs of a local cluster [default: all]")
    parser.add_argument("--logs", default=None, help="production logs (folder or URL) [default: generated]")
    parser.add_argument("--baseline-logs", default=None, help="good-period logs [default: generated]")
    parser.add_argument("--n-baseline", type=int, default=2000)
    parser.add_argument("--per-day", type=int, default=600)
    parser.add_argument("--days", type=int, default=3)
    args = parser.parse_args(argv)

    from drift_tracking.engines.ray_engine import RayEngine, embedder_factory
    from drift_tracking.monitor import History, Monitor

    root = Path(args.dir).resolve()
    period, logs = write_logs(root, args.n_baseline, args.per_day, args.days)
    period_source, logs_source = args.baseline_logs or str(period), args.logs or str(logs)
    engine = RayEngine(args.address, num_cpus=args.cpus)
    print(f"cluster resources: {engine.connect()}")
    built = engine.build_baseline(period_source, embedder_factory(), response_column="response")
    built.save(root / "baseline", overwrite=True)
    print(f"baseline {built.version}: {len(built)} rows, {built.prompts_.n_clusters} clusters")
    monitor = Monitor(built, history=History(root / "history"))
    for result in engine.monitor(built, logs_source, "1d", monitor=monitor, response_column="response"):
        if result.report is None:
            print(f"skipped: {result.skipped}")
            continue
        report = result.report
        reason = report.tier_reasons[0] if report.tier_reasons else ""
        print(f"window {report.window['index']} {report.window['start']}: tier {report.tier} "
              f"n={report.n_samples} {reason}")
    print(f"history: {monitor.history.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
