"""compare() cost on 50k baseline x 50k window synthetic 384-d embeddings.

Embedding is left out (bench_embedding.py measures it): this is the price of the
statistics and the decision once vectors exist. Prints seconds per statistic, the
total, and the process's peak memory. Target: under 5 s and 2 GB on 2 CPU cores.

    python benchmarks/bench_compare.py [--n 50000] [--dim 384]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def mixture(n: int, dim: int, centres: np.ndarray, rng: np.random.Generator, spread: float = 0.35) -> np.ndarray:
    """Unit vectors around random topic centres, like sentence embeddings of several topics."""
    which = rng.integers(0, len(centres), n)
    x = centres[which] + spread * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()

    from drift_tracking import statistics as st
    from drift_tracking.baseline import Baseline
    from drift_tracking.comparison import compare_embeddings
    from drift_tracking.embedding import ModelIdentity

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, args.dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    reference = mixture(args.n, args.dim, centres[:30], rng)
    window = np.vstack([mixture(int(args.n * 0.8), args.dim, centres[:30], rng),
                        mixture(args.n - int(args.n * 0.8), args.dim, centres[30:], rng)])
    identity = ModelIdentity(name="synthetic", dimension=args.dim, weights_sha256="0" * 64)

    start = time.perf_counter()
    baseline = Baseline().fit(reference, identity=identity)
    t_fit = time.perf_counter() - start

    ref = baseline.prompts_
    timings = {}
    for name, fn in {
        "assign + js_divergence": lambda: st.js_divergence(ref.counts_, np.bincount(ref.assign(window)[0], minlength=ref.n_clusters)),
        "wasserstein (sliced)": lambda: st.wasserstein(ref.embeddings_, window),
        "novel_clusters": lambda: st.novel_clusters(ref.embeddings_, window),
        "mmd (+permutations)": lambda: st.mmd(ref.embeddings_, window),
        "classifier_auc": lambda: st.classifier_auc(ref.embeddings_, window),
    }.items():
        start = time.perf_counter()
        fn()
        timings[name] = time.perf_counter() - start

    start = time.perf_counter()
    report = compare_embeddings(baseline, window)
    t_compare = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    print(f"baseline {args.n} x window {args.n}, dim {args.dim}")
    print(f"Baseline.fit (K-means, once per baseline): {t_fit:6.2f} s")
    for name, seconds in timings.items():
        print(f"  {name:<28} {seconds:6.2f} s")
    print(f"compare_embeddings (all statistics + plots data + decision): {t_compare:6.2f} s   target < 5 s")
    print(f"peak RSS of the process: {peak_gb:.2f} GB   target < 2 GB")
    print(f"tier={report.tier} novel_cluster_share={report.metrics['novel_cluster_share']:.3f} (20% injected)")


if __name__ == "__main__":
    main()
