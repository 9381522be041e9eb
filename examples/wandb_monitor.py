"""Watch a support bot drift, day by day, in one Weights & Biases run.

Generates a good week of traffic for the baseline, then daily windows in which a growing
share of prompts is about topics the baseline never saw, and logs every day as one step
of one W&B run: metrics against the ``window`` step, the tier, plots, tables and an alert
on every ``review`` or ``critical`` day.

Runs offline without ``WANDB_API_KEY`` (nothing leaves the machine) and prints the
``wandb sync`` command that uploads the run later::

    python examples/wandb_monitor.py --dir /tmp/drift-wandb
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone
from pathlib import Path

from drift_tracking import samples
from drift_tracking.baseline import Baseline
from drift_tracking.comparison import compare
from drift_tracking.embedding import Embedder
from drift_tracking.integrations.wandb_logger import WandbSink

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
    good = samples.generate(args.n_baseline, seed=1, start=START - timedelta(days=7))
    print(f"Building a baseline from {len(good)} prompts and responses ...")
    baseline = Baseline.build([s.prompt for s in good], responses=[s.response for s in good],
                              embedder=embedder, source="generated baseline week")
    baseline.save(args.dir / "baseline", overwrite=True)

    history: list[dict] = []
    sink = WandbSink(project=args.project, dir=args.dir / "wandb-runs", run_name="daily-drift")
    try:
        for day in range(args.windows):
            share = novel_share(day, args.windows, args.final_novel_share)
            start = START + timedelta(days=day)
            traffic = samples.generate(args.n_window, seed=100 + day, novel_share=share, start=start,
                                       interval_seconds=86400 / args.n_window)
            report = compare(
                baseline, [s.prompt for s in traffic], responses=[s.response for s in traffic], embedder=embedder,
                window_info={"index": day, "start": traffic[0].timestamp, "end": traffic[-1].timestamp},
            )
            history.append(report.to_dict())
            sink.log_report(report, history=history)
            print(f"day {day}: {share:4.0%} unseen topics -> novel_cluster_share "
                  f"{report.metrics['novel_cluster_share']:.3f}, tier {report.tier}")
    finally:
        print(sink.close())


if __name__ == "__main__":
    main()
