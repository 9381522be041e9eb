"""Watch a support bot drift, day by day, in one Weights & Biases run.

Generates a good week of traffic for the baseline, then a log of the following days in
which a growing share of prompts is about topics the baseline never saw. A
:class:`~drift_tracking.monitor.Monitor` splits the log into daily windows and decides
each with the history of the days before it; every day becomes one step of one W&B run:
metrics against the ``window`` step, the tier, plots, tables and an alert on every
``review`` or ``critical`` day. (The CLI equivalent is ``drift-tracking monitor LOG
--baseline DIR --window 1d --wandb``.)

Runs offline without ``WANDB_API_KEY`` (nothing leaves the machine) and prints the
``wandb sync`` command that uploads the run later::

    python examples/wandb_monitor.py --dir /tmp/drift-wandb
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone
from pathlib import Path

from drift_tracking import demo
from drift_tracking.baseline import Baseline
from drift_tracking.data import load_texts
from drift_tracking.embedding import Embedder
from drift_tracking.integrations.wandb_logger import WandbSink
from drift_tracking.monitor import History, Monitor

START = datetime(2026, 3, 1, tzinfo=timezone.utc)


def novel_share(day: int, days: int, final: float) -> float:
    """No drift on the first day, rising linearly to ``final`` on the last."""
    return final * day / max(days - 1, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("drift-wandb-example"), help="where everything is written")
    parser.add_argument("--project", default="drift-tracking-example", help="W&B project")
    parser.add_argument("--n-baseline", type=int, default=1500, help="prompts in the baseline week")
    parser.add_argument("--n-window", type=int, default=300, help="prompts per day")
    parser.add_argument("--windows", type=int, default=6, help="days to monitor")
    parser.add_argument("--final-novel-share", type=float, default=0.45,
                        help="share of prompts from unseen topics on the last day")
    args = parser.parse_args()

    embedder = Embedder(device="cpu")
    good = demo.generate(args.n_baseline, seed=1, start=START - timedelta(days=7))
    print(f"Building a baseline from {len(good)} prompts and responses ...")
    baseline = Baseline().fit_texts([s.prompt for s in good], [s.response for s in good],
                              embedder=embedder, source="generated baseline week")
    baseline.save(args.dir / "baseline", overwrite=True)

    days = []
    for day in range(args.windows):
        share = novel_share(day, args.windows, args.final_novel_share)
        days += demo.generate(args.n_window, seed=100 + day, novel_share=share, start=START + timedelta(days=day),
                                 interval_seconds=86400 / args.n_window)
    log = demo.write(days, args.dir / "traffic.jsonl")
    traffic = load_texts(log, text_column="prompt", response_column="response", timestamp_column="timestamp")

    history = History(args.dir / "drift_history.jsonl")
    history.path.unlink(missing_ok=True)  # a rerun starts a fresh history
    monitor = Monitor(baseline, history=history, embedder=embedder)
    sink = WandbSink(project=args.project, dir=args.dir / "wandb-runs", run_name="daily-drift")
    try:
        for result in monitor.run(traffic, "1d"):
            if result.report is None:
                print(result.skipped)
                continue
            report = result.report
            sink.log_report(report, history=monitor.records)
            print(f"{report.window['start'][:10]}: novel_cluster_share {report.metrics['novel_cluster_share']:.3f}, "
                  f"tier {report.tier}")
    finally:
        print(sink.close())


if __name__ == "__main__":
    main()
