"""Thresholds calibrated from the baseline's own noise (leave-chunk-out null distributions).

A fixed level such as JS >= 0.15 ignores how noisy a metric is for *this* baseline and
*this* window size: on sentence embeddings healthy windows give JS of about 0.01-0.04, so
0.15 almost never fires. Here each metric's no-drift distribution is measured instead:

1. Draw ``n_draws`` random chunks of ``window_size`` baseline rows (the novel-cluster
   share, which fits K-means on every chunk, uses a quarter of them).
2. Compare each chunk to the baseline *without that chunk*. Comparing a chunk to a
   reference that contains it biases the null low (NannyML issue #426): the chunk is
   always partly compared to itself. The K-means clusters are not refitted; the
   reference's cluster counts are the baseline's minus the chunk's, its novelty cut-off
   is the 99th percentile of the remaining rows' distances.
3. Levels from the null of each metric (mean ``mu``, standard deviation ``sigma``):

       review   = max(q99, mu + 3 sigma, floor_review)
       critical = max(review + 3 sigma, floor_critical)
       extreme  = max(critical + 12 sigma, 2 * critical)   (escalates without persistence)

   Shares of prompts in novel clusters or beyond the novelty cut-off get floors (novel
   clusters 5% / 10%, outliers 2% / 4%) because their null is often exactly 0, and their
   extreme level is 30% (the seed's "30-40% of prompts in new clusters").

The reference left after removing a chunk is smaller than the full baseline, so the null
is slightly wider than the real one: levels err on the side of fewer false alarms.
Everything stored is plain JSON (lists of floats) in the baseline's ``fit.json``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from drift_tracking import statistics as st
from drift_tracking.errors import ConfigError, DataError

if TYPE_CHECKING:
    from drift_tracking.baseline import Baseline, Reference

CALIBRATION_VERSION = 1
#: A share of prompts from unseen topics this large is extreme in any mode: critical at once.
EXTREME_NOVEL_SHARE = 0.30
#: Metrics whose null is calibrated and which drive the tier in calibrated mode.
#: The classifier AUC (0.3 s a draw) and MMD (a p-value of its own) are reported, not calibrated.
CALIBRATED_METRICS = ("js_divergence", "wasserstein", "novel_cluster_share", "outlier_share")
_SHARE_METRICS = ("novel_cluster_share", "outlier_share")
_FLOORS = {"novel_cluster_share": (0.05, 0.10), "outlier_share": (0.02, 0.04)}
#: A window whose size is within this factor of a calibrated size uses that calibration.
SIZE_TOLERANCE = 1.5
_DEFAULT_DRAWS = 60
# K-means on every chunk costs ~80 ms; the novel-cluster null is almost always 0 and its
# floors decide the levels, so a quarter of the draws (at least 10) is enough for it.
_COSTLY = ("novel_cluster_share",)
_NOVELTY_QUANTILE = 0.99


def default_window_size(n_baseline: int) -> int:
    """A quarter of the baseline, 100 to 1,000 prompts (at most half the baseline): the default window size."""
    return int(min(1000, max(100, n_baseline // 4), n_baseline // 2))


def null_distribution(
    reference: "Reference",
    window_size: int,
    *,
    n_draws: int = _DEFAULT_DRAWS,
    seed: int = 0,
    metrics: tuple[str, ...] = CALIBRATED_METRICS,
) -> dict[str, list[float]]:
    """Each metric of ``n_draws`` baseline chunks against the baseline minus the chunk."""
    x = reference.embeddings
    n = x.shape[0]
    if window_size < 20:
        raise ConfigError(f"window_size must be at least 20 prompts, got {window_size}")
    if window_size > n // 2:
        raise DataError(
            f"cannot calibrate windows of {window_size} prompts on a baseline of {n}: leaving a chunk out "
            f"needs window_size <= n/2 = {n // 2}; use a smaller --window-size or a larger baseline"
        )
    labels, distances = reference.assign(x)
    counts = np.bincount(labels, minlength=reference.n_clusters)
    rng = np.random.default_rng(seed)
    null: dict[str, list[float]] = {m: [] for m in metrics}
    for draw in range(n_draws):
        mask = np.zeros(n, dtype=bool)
        mask[rng.choice(n, window_size, replace=False)] = True
        chunk, rest = x[mask], x[~mask]
        chunk_counts = np.bincount(labels[mask], minlength=reference.n_clusters)
        values = {
            "js_divergence": lambda: st.js_divergence(counts - chunk_counts, chunk_counts),
            "wasserstein": lambda: st.wasserstein(rest, chunk, seed=seed),
            "novel_cluster_share": lambda: st.novel_clusters(rest, chunk, seed=seed).share,
            "outlier_share": lambda: np.mean(distances[mask] > np.quantile(distances[~mask], _NOVELTY_QUANTILE)),
            "classifier_auc": lambda: st.classifier_auc(rest, chunk, seed=seed),
        }
        for metric in metrics:
            if metric in _COSTLY and draw >= max(10, n_draws // 4):
                continue
            null[metric].append(round(float(values[metric]()), 6))
    return null


def calibrate(
    baseline: "Baseline",
    window_size: int | None = None,
    *,
    n_draws: int = _DEFAULT_DRAWS,
    seed: int = 0,
) -> dict[str, Any]:
    """Calibrate ``baseline`` for windows of ``window_size`` prompts; stores and returns ``calibration_``."""
    n = len(baseline)
    size = default_window_size(n) if window_size is None else int(window_size)
    entry = _size_entry(baseline, size, n_draws, seed)
    calibration = baseline.calibration_ or {
        "version": CALIBRATION_VERSION,
        "method": "leave-chunk-out",
        "seed": seed,
        "window_size": size,
        "sizes": {},
    }
    calibration["sizes"][str(size)] = entry
    baseline.calibration_ = calibration
    return calibration


def _size_entry(baseline: "Baseline", size: int, n_draws: int, seed: int) -> dict[str, Any]:
    """The calibration of one window size: the null of each metric and what it was drawn from."""
    return {
        "n_draws": int(n_draws),
        "n_reference": len(baseline) - size,
        "null": null_distribution(baseline.prompts, size, n_draws=n_draws, seed=seed),
    }


def levels_from_null(metric: str, values: list[float]) -> tuple[float, float, float]:
    """Review, critical and extreme levels from one metric's null sample (see module doc)."""
    v = np.asarray(values, dtype=float)
    mu, sigma = float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0
    floor_review, floor_critical = _FLOORS.get(metric, (0.0, 0.0))
    review = max(float(np.quantile(v, 0.99)), mu + 3 * sigma, floor_review)
    critical = max(review + 3 * sigma, floor_critical, review)
    extreme = max(critical + 12 * sigma, 2 * critical)
    if metric in _SHARE_METRICS:
        extreme = max(critical, EXTREME_NOVEL_SHARE)
    return round(review, 6), round(critical, 6), round(extreme, 6)


def calibrated_levels(
    baseline: "Baseline", window_size: int
) -> tuple[dict[str, tuple[float, float, float]], dict[str, Any], list[str]]:
    """(review, critical, extreme) per metric for a window of ``window_size`` prompts, how they
    were derived, and warnings; re-derived when the size is far from every calibrated one."""
    calibration = baseline.calibration_ or {}
    sizes = {int(k): v for k, v in calibration.get("sizes", {}).items()}
    if not sizes:
        raise ConfigError("the baseline's calibration holds no window sizes; rebuild it with --window-size")
    nearest = min(sizes, key=lambda s: abs(math.log(window_size / s)))
    warnings: list[str] = []
    detail: dict[str, Any] = {"calibrated_window_size": nearest, "window_size": window_size}
    if max(window_size / nearest, nearest / window_size) > SIZE_TOLERANCE:
        if window_size <= len(baseline) // 2:
            entry = _size_entry(baseline, window_size, sizes[nearest]["n_draws"], int(calibration.get("seed", 0)))
            entry["derived_at_check"] = True
            calibration["sizes"][str(window_size)] = entry  # kept in memory for the next window
            nearest = window_size
            detail.update(calibrated_window_size=window_size, rederived=True)
        else:
            warnings.append(
                f"the window has {window_size} prompts but thresholds were calibrated for {nearest}; windows over "
                f"half the baseline ({len(baseline)}) cannot be re-calibrated, so the levels may be off"
            )
    entry = sizes.get(nearest) or calibration["sizes"][str(nearest)]
    levels = {metric: levels_from_null(metric, values) for metric, values in entry["null"].items()}
    detail.update(n_draws=entry["n_draws"], method=calibration.get("method", "leave-chunk-out"),
                  rule="review = max(q99, mean + 3 sd); critical = review + 3 sd")
    return levels, detail, warnings
