"""Cost of each drift statistic on 50k reference x 50k current synthetic 384-d embeddings.

The embeddings are unit vectors around 30 random topic centres (a Gaussian mixture,
normalised), like sentence embeddings of several topics; the current window takes 20 % of
its points from 10 topics absent from the reference, so the statistics have something to
find. Prints seconds per statistic (timed without tracing), the total, the Python-level
peak allocation per statistic (tracemalloc, second traced pass: numpy buffers included)
and the peak RSS of the process. Target: total under 5 s and peak under 2 GB on 2 cores.

    python benchmarks/bench_statistics.py [--n 50000] [--dim 384]
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from typing import Any, Callable

import numpy as np


def mixture(n: int, dim: int, centres: np.ndarray, rng: np.random.Generator, spread: float = 0.35) -> np.ndarray:
    """Unit vectors around random topic centres."""
    which = rng.integers(0, len(centres), n)
    x = centres[which] + spread * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000, help="rows per side (reference and current)")
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()

    # Import everything first so that import time is not charged to the first statistic.
    import sklearn.cluster  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.model_selection  # noqa: F401

    from drift_tracking import statistics as st

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, args.dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    reference = mixture(args.n, args.dim, centres[:30], rng)
    n_old = int(args.n * 0.8)
    current = np.vstack([mixture(n_old, args.dim, centres[:30], rng), mixture(args.n - n_old, args.dim, centres[30:], rng)])
    # 50 "baseline" centroids and the reference counts a baseline would have stored.
    centroids = reference[rng.choice(args.n, 50, replace=False)]
    reference_counts = np.bincount(st.assign_nearest(reference, centroids)[0], minlength=50)

    statistics: dict[str, Callable[[], Any]] = {
        "assign_nearest + js_divergence": lambda: st.js_divergence(
            reference_counts, np.bincount(st.assign_nearest(current, centroids)[0], minlength=50)
        ),
        "wasserstein (sliced, 64 dirs)": lambda: st.wasserstein(reference, current),
        "novel_clusters": lambda: st.novel_clusters(reference, current),
        "mmd (2k+2k, 200 perms)": lambda: st.mmd(reference, current),
        "classifier_auc (5k+5k, 5 folds)": lambda: st.classifier_auc(reference, current),
    }

    timings: dict[str, float] = {}
    values: dict[str, Any] = {}
    for name, fn in statistics.items():
        start = time.perf_counter()
        values[name] = fn()
        timings[name] = time.perf_counter() - start

    peaks: dict[str, float] = {}
    tracemalloc.start()
    for name, fn in statistics.items():
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        fn()
        peaks[name] = (tracemalloc.get_traced_memory()[1] - base) / 1024**2
    tracemalloc.stop()
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # ru_maxrss is KiB on Linux

    print(f"reference {args.n} x current {args.n}, dim {args.dim} ({reference.nbytes / 1024**2:.0f} MB per side)")
    print(f"  {'statistic':<34} {'seconds':>8} {'peak alloc MB':>14}")
    for name in statistics:
        print(f"  {name:<34} {timings[name]:8.2f} {peaks[name]:14.0f}")
    total = sum(timings.values())
    print(f"  {'total':<34} {total:8.2f}   target < 5 s")
    print(f"peak RSS of the process: {rss_gb:.2f} GB   target < 2 GB")
    novel = values["novel_clusters"]
    mmd = values["mmd (2k+2k, 200 perms)"]
    print(
        f"values: js={values['assign_nearest + js_divergence']:.3f} "
        f"wasserstein={values['wasserstein (sliced, 64 dirs)']:.3f} "
        f"novel_share={novel.share:.3f} (20% injected, {len(novel.clusters)} clusters) "
        f"mmd2={mmd.mmd2:.4f} p={mmd.p_value:.3f} auc={values['classifier_auc (5k+5k, 5 folds)']:.3f}"
    )


if __name__ == "__main__":
    main()
