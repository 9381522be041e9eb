"""How the no-drift null of each decision metric scales with the window size n (banking77).

    python benchmarks/null_scaling.py --data ../shared/data/banking77

Same corpus, baseline and embedding cache as ``detection.py``. For each n in ``--sizes``
two nulls are measured:

* ``held-out``: windows of n held-out train rows of the seen intents (never in the
  baseline) against the full fitted baseline: the null a real clean window meets;
* ``leave-chunk-out``: what ``drift_tracking.calibration.null_distribution`` measures
  (a chunk of the baseline against the baseline without it; novelty scores are the
  rows' own leave-one-out scores): what levels are calibrated from.

Per metric and n: mean, standard deviation, 99th percentile, and the exponent b of
mean ~ n^b fitted over the sizes (JS of cluster shares should go as 1/n, a normalised
Wasserstein as 1/sqrt(n)). The two nulls agreeing is what makes calibrated levels hold
on real windows.
Writes ``results/null_scaling.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from detection_data import embed_cached, load_corpus  # noqa: E402

METRICS = ("js_divergence", "wasserstein", "novel_cluster_share", "outlier_share", "unexplained_share")


def held_out_null(baseline, x: np.ndarray, pool: np.ndarray, n: int, draws: int, seed: int) -> dict[str, list[float]]:
    """Each metric on ``draws`` windows of ``n`` rows drawn from ``pool`` against the full baseline.

    The metrics are computed as a check computes them (the baseline's side pair, its
    fitted novelty scores and cut-offs), so this null is the one real windows meet.
    """
    from drift_tracking import metrics as registry

    rng = np.random.default_rng(seed + n)
    out: dict[str, list[float]] = {m: [] for m in METRICS}
    for _ in range(draws):
        pair = baseline.prompts_.pair(x[rng.choice(pool, n, replace=False)], seed=seed)
        for m in METRICS:
            out[m].append(float(registry.get(m).compute(pair)))
    return out


def summary(values: list[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)), "q99": float(np.quantile(v, 0.99)), "draws": int(v.size)}


def exponent(sizes: list[int], means: list[float]) -> float | None:
    """Least-squares slope of log(mean) against log(n); None when a mean is 0."""
    if min(means) <= 0:
        return None
    return float(np.polyfit(np.log(sizes), np.log(means), 1)[0])


def table(results: dict, sizes: list[int]) -> list[str]:
    lines = ["| null | metric | " + " | ".join(f"n={n:,} mean / sd / q99" for n in sizes) + " | mean ~ n^b |",
             "|" + "---|" * (len(sizes) + 3)]
    for mode, per_metric in results.items():
        for metric, per_n in per_metric.items():
            cells = [f"{per_n[n]['mean']:.4f} / {per_n[n]['sd']:.4f} / {per_n[n]['q99']:.4f}" for n in sizes]
            b = exponent(sizes, [per_n[n]["mean"] for n in sizes])
            lines.append(f"| {mode} | {metric} | " + " | ".join(cells) + f" | {'–' if b is None else f'{b:+.2f}'} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "drift-tracking-bench")
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 250, 500, 1000, 2000])
    p.add_argument("--draws", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from drift_tracking import Baseline, ModelIdentity
    from drift_tracking.calibration import null_distribution

    corpus = load_corpus(args.data, seed=args.seed)
    x, identity = embed_cached(corpus.texts, args.cache_dir)
    start = time.perf_counter()
    baseline = Baseline(calibrate=False).fit(x[corpus.baseline_idx], identity=ModelIdentity.from_dict(identity))
    results: dict[str, dict[str, dict[int, dict]]] = {"held-out": {m: {} for m in METRICS},
                                                      "leave-chunk-out": {m: {} for m in METRICS}}
    for n in args.sizes:
        held = held_out_null(baseline, x, corpus.held_out_idx, n, args.draws, args.seed)
        chunk = null_distribution(baseline.prompts_, n, n_draws=args.draws, seed=args.seed, metrics=METRICS)
        for m in METRICS:
            results["held-out"][m][n] = summary(held[m])
            results["leave-chunk-out"][m][n] = summary(chunk[m])
        print(f"n={n}: done at {time.perf_counter() - start:.0f} s", flush=True)
    lines = [f"# No-drift null against window size ({args.data.name}, baseline {len(corpus.baseline_idx):,})", "",
             f"{args.draws} draws per size (novel_cluster_share leave-chunk-out: a quarter, at least 10, as "
             "calibration does). Cells: mean / standard deviation / 99th percentile.", "",
             *table(results, args.sizes), ""]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "null_scaling.md").write_text("\n".join(lines))
    (args.out / "null_scaling.json").write_text(json.dumps(
        {mode: {m: {str(n): v for n, v in per_n.items()} for m, per_n in pm.items()} for mode, pm in results.items()},
        indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
