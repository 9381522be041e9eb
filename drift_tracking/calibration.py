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

   A metric's spec (:mod:`drift_tracking.metrics`) may give floors (the novel-cluster and
   outlier shares have them, because their null is often exactly 0) and an absolute
   extreme level (30% for those shares: the seed's "30-40% of prompts in new clusters").

The reference left after removing a chunk is smaller than the full baseline, so the null
is slightly wider than the real one: levels err on the side of fewer false alarms.
Everything stored is plain JSON (lists of floats) in the baseline's ``fit.json``. Levels
for a window size the baseline was not calibrated for are derived when first needed and
kept in a cache beside the baseline, never written into its fitted state.
"""

from __future__ import annotations

import math
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from drift_tracking import metrics as registry
from drift_tracking.errors import ConfigError, DataError
from drift_tracking.metrics import SidePair

if TYPE_CHECKING:
    from drift_tracking.baseline import Baseline, Reference

CALIBRATION_VERSION = 1
#: A window whose size is within this factor of a calibrated size uses that calibration.
SIZE_TOLERANCE = 1.5
MIN_WINDOW = 20
_DEFAULT_DRAWS = 60
_NOVELTY_QUANTILE = 0.99
_MIN_COSTLY_DRAWS = 10
# Entries derived at check time for window sizes the baseline was not calibrated for.
_DERIVED: "weakref.WeakKeyDictionary[Baseline, dict[int, dict[str, Any]]]" = weakref.WeakKeyDictionary()


def default_window_size(n_baseline: int) -> int:
    """A quarter of the baseline, 100 to 1,000 prompts (at most half the baseline): the default window size."""
    return int(min(1000, max(100, n_baseline // 4), n_baseline // 2))


def calibrated_metric_names() -> tuple[str, ...]:
    """The metrics whose null is calibrated: those that decide the tier."""
    return tuple(m.name for m in registry.deciding())


def check_window_size(window_size: int, n: int) -> None:
    """A chunk must leave at least half the baseline to compare it to."""
    if window_size < MIN_WINDOW:
        raise ConfigError(f"window_size must be at least {MIN_WINDOW} prompts, got {window_size}")
    if window_size > n // 2:
        raise DataError(
            f"cannot calibrate windows of {window_size} prompts on a baseline of {n}: leaving a chunk out "
            f"needs window_size <= n/2 = {n // 2}; use a smaller --window-size or a larger baseline"
        )


def null_distribution(
    reference: "Reference",
    window_size: int,
    *,
    n_draws: int = _DEFAULT_DRAWS,
    seed: int = 0,
    metrics: tuple[str, ...] | None = None,
) -> dict[str, list[float]]:
    """Each metric of ``n_draws`` baseline chunks against the baseline minus the chunk."""
    x = reference.embeddings_
    n = x.shape[0]
    check_window_size(window_size, n)
    chosen = [registry.get(name) for name in (metrics or calibrated_metric_names())]
    labels, distances = reference.assign(x)
    counts = np.bincount(labels, minlength=reference.n_clusters)
    rng = np.random.default_rng(seed)
    null: dict[str, list[float]] = {m.name: [] for m in chosen}
    for draw in range(n_draws):
        mask = np.zeros(n, dtype=bool)
        mask[rng.choice(n, window_size, replace=False)] = True
        pair = SidePair(
            reference=x[~mask], window=x[mask], centroids=reference.centroids_,
            reference_counts=counts - np.bincount(labels[mask], minlength=reference.n_clusters),
            novelty_cutoff=float(np.quantile(distances[~mask], _NOVELTY_QUANTILE)),
            seed=seed, known_assignment=(labels[mask], distances[mask]),
        )
        for metric in chosen:
            if draw < max(_MIN_COSTLY_DRAWS, int(n_draws * metric.calibration_share)):
                null[metric.name].append(round(float(metric.compute(pair)), 6))
    return null


def calibration_entry(reference: "Reference", size: int, *, n_draws: int = _DEFAULT_DRAWS, seed: int = 0) -> dict[str, Any]:
    """The calibration of one window size: the null of each metric and what it was drawn from."""
    return {
        "n_draws": int(n_draws),
        "n_reference": len(reference.embeddings_) - size,
        "null": null_distribution(reference, size, n_draws=n_draws, seed=seed),
    }


def calibrate(
    reference: "Reference", window_size: int | None = None, *, n_draws: int = _DEFAULT_DRAWS, seed: int = 0
) -> dict[str, Any]:
    """The calibration a baseline stores: the null of each deciding metric for one window size."""
    size = default_window_size(len(reference.embeddings_)) if window_size is None else int(window_size)
    return {
        "version": CALIBRATION_VERSION,
        "method": "leave-chunk-out",
        "seed": seed,
        "window_size": size,
        "sizes": {str(size): calibration_entry(reference, size, n_draws=n_draws, seed=seed)},
    }


def levels_from_null(metric: str, values: list[float]) -> tuple[float, float, float]:
    """Review, critical and extreme levels from one metric's null sample (see module doc)."""
    spec = registry.get(metric)
    floor_review, floor_critical = spec.floor if spec else (0.0, 0.0)
    v = np.asarray(values, dtype=float)
    mu, sigma = float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0
    review = max(float(np.quantile(v, 0.99)), mu + 3 * sigma, floor_review)
    critical = max(review + 3 * sigma, floor_critical, review)
    extreme = max(critical + 12 * sigma, 2 * critical)
    if spec is not None and spec.extreme is not None:
        extreme = max(critical, spec.extreme)
    return round(review, 6), round(critical, 6), round(extreme, 6)


def _size_entry(baseline: "Baseline", size: int) -> tuple[dict[str, Any], bool]:
    """The stored entry for ``size``, or one derived now (and cached beside the baseline)."""
    calibration = baseline.calibration_ or {}
    stored = calibration.get("sizes", {})
    if str(size) in stored:
        return stored[str(size)], False
    derived = _DERIVED.setdefault(baseline, {})
    if size not in derived:
        n_draws = next(iter(stored.values()))["n_draws"]
        derived[size] = {**calibration_entry(baseline.prompts_, size, n_draws=n_draws,
                                             seed=int(calibration.get("seed", 0))), "derived_at_check": True}
    return derived[size], True


def calibrated_levels(
    baseline: "Baseline", window_size: int
) -> tuple[dict[str, tuple[float, float, float]], dict[str, Any], list[str]]:
    """(review, critical, extreme) per metric for a window of ``window_size`` prompts, how they
    were derived, and warnings; derived for the size when it is far from every calibrated one."""
    calibration = baseline.calibration_ or {}
    sizes = [int(k) for k in calibration.get("sizes", {})]
    if not sizes:
        raise ConfigError("the baseline's calibration holds no window sizes; rebuild it with --window-size")
    nearest = min(sizes, key=lambda s: abs(math.log(window_size / s)))
    warnings: list[str] = []
    detail: dict[str, Any] = {"calibrated_window_size": nearest, "window_size": window_size}
    if max(window_size / nearest, nearest / window_size) > SIZE_TOLERANCE:
        if window_size <= len(baseline) // 2:
            nearest = window_size
            detail.update(calibrated_window_size=window_size, rederived=True)
        else:
            warnings.append(
                f"the window has {window_size} prompts but thresholds were calibrated for {nearest}; windows over "
                f"half the baseline ({len(baseline)}) cannot be re-calibrated, so the levels may be off"
            )
    entry, _ = _size_entry(baseline, nearest)
    levels = {metric: levels_from_null(metric, values) for metric, values in entry["null"].items()}
    detail.update(n_draws=entry["n_draws"], method=calibration.get("method", "leave-chunk-out"),
                  rule="review = max(q99, mean + 3 sd); critical = review + 3 sd")
    return levels, detail, warnings
