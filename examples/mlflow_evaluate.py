"""Drift checks inside the MLflow evaluation call a team already makes.

End to end against a local MLflow store (SQLite, no server needed):

1. build a baseline from a good period of generated support-bot traffic,
2. register it in the Model Registry as ``support-bot-baseline@production``,
3. evaluate a healthy and a drifted production window with
   ``mlflow.models.evaluate(..., evaluators=["drift"])``,
4. read the runs back: tier tags, ``drift/`` metrics and the report artifacts.

    python examples/mlflow_evaluate.py --dir mlflow-demo
    mlflow ui --backend-store-uri sqlite:///mlflow-demo/mlflow.db   # then open the runs
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Drift evaluation with mlflow.models.evaluate, end to end.")
    parser.add_argument("--dir", default="mlflow-demo", help="where the store, baseline and data go")
    parser.add_argument("--n-baseline", type=int, default=1500, help="baseline samples")
    parser.add_argument("--n-window", type=int, default=400, help="samples per production window")
    args = parser.parse_args(argv)

    root = Path(args.dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    import mlflow
    import pandas as pd

    from drift_tracking import Baseline, Embedder, demo
    from drift_tracking.integrations.mlflow_registry import register_baseline

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)

    # 1. A baseline from a good period: prompts and the fine-tuned model's responses.
    good = demo.generate(args.n_baseline, seed=1)
    embedder = Embedder()
    baseline = Baseline().fit_texts([s.prompt for s in good], [s.response for s in good], embedder=embedder)
    path = baseline.save(root / "baseline", overwrite=True)
    print(f"baseline {baseline.version}: {len(baseline)} samples, {baseline.prompts_.n_clusters} clusters")

    # 2. Registered, so every job can find it by alias.
    registered = register_baseline(path, "support-bot-baseline", aliases=["production"], tracking_uri=tracking_uri)
    print(f"registered {registered.uri} (version {registered.version})")

    # 3. Production windows: one like the baseline, one where 40% of prompts are new topics.
    windows = {
        "healthy": demo.generate(args.n_window, seed=11, start="2026-02-01T00:00:00Z"),
        "drifted": demo.generate(args.n_window, seed=12, novel_share=0.4, start="2026-02-08T00:00:00Z"),
    }
    mlflow.set_experiment("support-bot-evaluation")
    client = mlflow.MlflowClient()
    tiers = {}
    for name, window in windows.items():
        data = pd.DataFrame({"inputs": [s.prompt for s in window], "response": [s.response for s in window]})
        with mlflow.start_run(run_name=f"eval {name} window") as run:
            result = mlflow.models.evaluate(
                data=data,
                predictions="response",
                model_type="text",
                evaluators=["drift"],
                evaluator_config={"drift": {
                    "baseline": registered.uri,
                    "input_column": "inputs",
                    "model_name": "support-bot",
                    "model_version": "7",
                }},
            )
        # 4. What landed in the run, read back from the store.
        logged = client.get_run(run.info.run_id)
        tiers[name] = logged.data.tags["drift.tier"]
        files = sorted(a.path for a in client.list_artifacts(run.info.run_id))
        print(f"{name:>8} window: tier {tiers[name]:<8} "
              f"novel share {result.metrics['drift/novel_cluster_share']:.2f}  "
              f"JS {result.metrics['drift/js_divergence']:.3f}  run {run.info.run_id}")
        print(f"{'':>17}artifacts: {', '.join(files)}")
    print(f"\nOpen the runs: mlflow ui --backend-store-uri {tracking_uri}")
    return 0 if tiers["healthy"] == "ok" and tiers["drifted"] != "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
