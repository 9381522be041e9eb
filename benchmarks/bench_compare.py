"""Cost of one check once vectors exist: every statistic, the decision, against a reference.

Embedding is left out (bench_embedding.py measures it). For each (baseline, window)
size pair this fits a baseline on synthetic 384-d unit vectors of 30 topics (once per
baseline: K-means, novelty scores, calibration over the size grid), then times one
``compare_embeddings`` on a window with 20% of its points from 10 unseen topics, the time
of each registered metric on its own, and, as a reference measured in the same run, the
domain classifier Evidently's ``model`` method uses (SGD logistic regression on a 50/50
split, ROC AUC) on the same arrays. Targets (issue 10, two CPU cores): 2,000 x 5,000 in
0.3 s, 10k x 10k in 0.5 s, 50k x 50k in 5 s and under 2 GB.

    python benchmarks/bench_compare.py                       # the three target sizes
    python benchmarks/bench_compare.py --sizes 5000:2000     # baseline:window pairs
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

TARGETS = {(5000, 2000): 0.3, (10_000, 10_000): 0.5, (50_000, 50_000): 5.0}


def mixture(n: int, dim: int, centres: np.ndarray, rng: np.random.Generator, spread: float = 0.35) -> np.ndarray:
    """Unit vectors around random topic centres, like sentence embeddings of several topics."""
    which = rng.integers(0, len(centres), n)
    x = centres[which] + spread * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def evidently_style_auc(reference: np.ndarray, window: np.ndarray, seed: int = 0) -> float:
    """The reference detector: SGD logistic regression, 50/50 split, ROC AUC (Evidently 0.7 ``model``)."""
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    x = np.vstack([reference, window])
    y = np.r_[np.zeros(len(reference)), np.ones(len(window))]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, random_state=seed, stratify=y)
    model = SGDClassifier(loss="log_loss", random_state=seed).fit(x_train, y_train)
    return float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))


def _timed(fn, repeat: int = 3) -> float:
    """Median wall seconds of ``repeat`` calls (the first call warms caches and imports)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run(n_reference: int, n_window: int, dim: int) -> None:
    from drift_tracking import metrics as registry
    from drift_tracking.baseline import Baseline
    from drift_tracking.comparison import compare_embeddings
    from drift_tracking.embedding import ModelIdentity

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    reference = mixture(n_reference, dim, centres[:30], rng)
    window = np.vstack([mixture(int(n_window * 0.8), dim, centres[:30], rng),
                        mixture(n_window - int(n_window * 0.8), dim, centres[30:], rng)])
    identity = ModelIdentity(name="synthetic", dimension=dim, weights_sha256="0" * 64)
    start = time.perf_counter()
    baseline = Baseline().fit(reference, identity=identity)
    t_fit = time.perf_counter() - start

    t_check = _timed(lambda: compare_embeddings(baseline, window))
    t_reference = _timed(lambda: evidently_style_auc(reference, window))
    report = compare_embeddings(baseline, window)
    print(f"\nbaseline {n_reference:,} x window {n_window:,}, dim {dim}  (Baseline.fit once: {t_fit:.1f} s)")
    for metric in registry.all_metrics():
        seconds = _timed(lambda: metric.compute(baseline.prompts_.pair(window)), repeat=1)
        print(f"  {metric.name:<22} {seconds:7.3f} s (alone, shared work included)")
    target = TARGETS.get((n_reference, n_window))
    print(f"  compare_embeddings     {t_check:7.3f} s  (all statistics, plot data, decision)"
          + (f"   target {target} s: {'met' if t_check <= target else 'MISSED'}" if target else ""))
    print(f"  reference: Evidently-style domain classifier {t_reference:.3f} s; ratio check / reference "
          f"{t_check / t_reference:.2f}")
    print(f"  tier {report.tier}, unexplained_share {report.metrics['unexplained_share']:.3f}, "
          f"novel_cluster_share {report.metrics['novel_cluster_share']:.3f} (20% injected)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", default=[f"{b}:{w}" for b, w in TARGETS],
                        help="baseline:window size pairs [default: the three targets]")
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (timings are medians of 3 calls)")
    for pair in args.sizes:
        n_reference, n_window = (int(v) for v in pair.split(":"))
        run(n_reference, n_window, args.dim)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"\npeak RSS of the process: {peak_gb:.2f} GB   target < 2 GB")


if __name__ == "__main__":
    main()
