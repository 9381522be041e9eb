"""How much of ``mlflow.models.evaluate(..., evaluators=["drift"])`` is spent outside embedding.

Embedding is the irreducible cost (a transformer pass per text); everything else (reading
the dataset, statistics, policy, plots, HTML, logging to MLflow) is overhead the plugin
adds. Target: at most 20% of the call on a 2,000-row window.

    python benchmarks/bench_evaluate.py [--rows 2000] [--baseline 1500]

Texts are fresh (a new embedding cache per run), so every window text is really
embedded. A 50-row warm-up call first loads the model and imports MLflow's evaluation
stack and matplotlib; the measured call is the second one, as in a long-lived job.
Time inside ``Embedder.encode`` counts as embedding.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(tempfile.mkdtemp(prefix="bench-evaluate-"))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["DRIFT_TRACKING_CACHE_DIR"] = str(ROOT / "cache")
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{ROOT / 'mlflow.db'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="window rows in the measured call")
    parser.add_argument("--baseline", type=int, default=1500, help="baseline samples (prompts and responses)")
    args = parser.parse_args()

    import mlflow
    import pandas as pd

    from drift_tracking import demo
    from drift_tracking.baseline import Baseline
    from drift_tracking.embedding import Embedder

    spent = {"embedding": 0.0}
    original = Embedder.encode

    def timed_encode(self, texts, **kwargs):  # noqa: ANN001, ANN202
        start = time.perf_counter()
        try:
            return original(self, texts, **kwargs)
        finally:
            spent["embedding"] += time.perf_counter() - start

    base = demo.generate(args.baseline, seed=1)
    built = Baseline().fit_texts([s.prompt for s in base], [s.response for s in base], embedder=Embedder())
    path = built.save(ROOT / "baseline")

    def evaluate(rows: int, seed: int) -> tuple[float, float, dict]:
        window = demo.generate(rows, seed=seed, novel_share=0.1, start="2026-03-01T00:00:00Z")
        df = pd.DataFrame({"inputs": [s.prompt for s in window], "response": [s.response for s in window]})
        spent["embedding"] = 0.0
        Embedder.encode = timed_encode
        start = time.perf_counter()
        try:
            with mlflow.start_run():
                result = mlflow.models.evaluate(
                    data=df, predictions="response", model_type="text", evaluators=["drift"],
                    evaluator_config={"drift": {"baseline": str(path), "input_column": "inputs"}},
                )
        finally:
            Embedder.encode = original
        return time.perf_counter() - start, spent["embedding"], result.metrics

    evaluate(50, seed=99)  # warm-up: model load, imports
    total, embedding, metrics = evaluate(args.rows, seed=7)
    outside = total - embedding
    print(f"evaluate on {args.rows} rows (prompts + responses), baseline {args.baseline}: {total:.2f} s")
    print(f"  embedding {embedding:.2f} s, outside embedding {outside:.2f} s")
    print(f"  share of time outside embedding: {outside / total:.1%} (target <= 20%)")
    print(f"  tier level {metrics['drift/tier_level']:.0f}, novel share {metrics['drift/novel_cluster_share']:.3f}")
    return 0 if outside / total <= 0.20 else 1


if __name__ == "__main__":
    sys.exit(main())
