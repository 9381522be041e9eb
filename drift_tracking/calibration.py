"""Thresholds calibrated from the baseline's own noise, for every window size.

A fixed level such as JS >= 0.15 ignores how noisy a metric is for *this* baseline and
*this* window size: on sentence embeddings healthy windows give JS of about 0.01-0.04, so
0.15 almost never fires. Here each deciding metric's no-drift distribution is measured:

1. For each size n of a grid (50, 100, 200, 500, 1,000, 2,000, 5,000, ... up to half the
   baseline, plus the window size asked for), draw ``n_draws`` random chunks of n
   baseline rows and compare each chunk to the baseline *without that chunk*. Comparing
   a chunk to a reference that contains it biases the null low (NannyML issue #426). The
   K-means clusters are not refitted: the reference's cluster counts are the baseline's
   minus the chunk's and its nearest-centroid cut-off is the 99th percentile of the
   remaining rows. Novelty scores (mean distance to the 3 nearest rows of the baseline's
   k-NN sample) are every row's own leave-one-out score, computed once at fit.
2. Levels from the null of each metric at each size (mean ``mu``, standard deviation
   ``sigma``):

       review   = max(q99, mu + 3 sigma, floor_review)   (the spec's null_level may say
                                                     q95 and 2 sigma instead)
       critical = max(review + 3 sigma, floor_critical)
       extreme  = max(critical + 12 sigma, 2 * critical)   (escalates without persistence)

   A metric's spec (:mod:`drift_tracking.metrics`) may give floors (the novel-cluster and
   outlier shares have them, because their null is often exactly 0) and an absolute
   extreme level (30% for the shares of new or unexplained prompts).
3. A window of any size n gets levels interpolated between the two grid sizes around it,
   linearly in log(level) against log(n): measured on banking77 the nulls follow power
   laws in n (JS ~ n^-0.9, Wasserstein ~ n^-0.4, unexplained share ~ n^-0.6; see
   ``benchmarks/results/null_scaling.md``). Beyond the grid the last segment's slope is
   extended. Nothing is re-derived when a window is checked.

Everything stored is plain JSON (lists of floats) in the baseline's ``fit.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from drift_tracking import metrics as registry
from drift_tracking import statistics as st
from drift_tracking.errors import ConfigError, DataError
from drift_tracking.metrics import MIN_WINDOW, SidePair

if TYPE_CHECKING:
    from drift_tracking.baseline import Baseline, Reference

CALIBRATION_VERSION = 2
GRID = (50, 100, 200, 500, 1000, 2000, 5000, 10_000, 25_000)
_DEFAULT_DRAWS = 40
_NOVELTY_QUANTILE = 0.99
_MIN_COSTLY_DRAWS = 10
_MAX_SCORED = 5000
_KNN_NEIGHBOURS = 3
_NEIGHBOUR_LIST = 64  # enough left once a chunk of up to half the baseline is removed


def default_window_size(n_baseline: int) -> int:
    """A quarter of the baseline, 100 to 1,000 prompts (at most half the baseline): the default window size."""
    return int(min(1000, max(100, n_baseline // 4), n_baseline // 2))


def calibrated_metric_names() -> tuple[str, ...]:
    """The metrics whose null is calibrated: those that decide the tier."""
    return tuple(m.name for m in registry.deciding())


def grid_sizes(n_baseline: int, window_size: int) -> list[int]:
    """The window sizes a baseline of ``n_baseline`` rows is calibrated for."""
    return sorted({s for s in GRID if s <= n_baseline // 2} | {int(window_size)})


def check_window_size(window_size: int, n: int) -> None:
    """A chunk must leave at least half the baseline to compare it to."""
    if window_size < MIN_WINDOW:
        raise ConfigError(f"window_size must be at least {MIN_WINDOW} prompts, got {window_size}")
    if window_size > n // 2:
        raise DataError(
            f"cannot calibrate windows of {window_size} prompts on a baseline of {n}: leaving a chunk out "
            f"needs window_size <= n/2 = {n // 2}; use a smaller --window-size or a larger baseline"
        )


@dataclass(frozen=True)
class _Neighbours:
    """Every baseline row's nearest k-NN-sample rows, nearest first (the row itself left out)."""

    indices: np.ndarray  # (n, K) positions in the k-NN sample
    distances: np.ndarray  # (n, K)

    @classmethod
    def of(cls, reference: "Reference") -> "_Neighbours":
        x = reference.embeddings_.astype(np.float32, copy=False)
        sample = reference.knn_index_
        skip = np.full(len(x), -1, dtype=np.int64)
        skip[sample] = np.arange(sample.size)
        k = min(_NEIGHBOUR_LIST, sample.size - 1)
        return cls(*st.knn_lists(x, x[sample], k, skip=skip))

    def scores_without(self, reference: "Reference", mask: np.ndarray) -> np.ndarray:
        """Every row's novelty score with the rows in ``mask`` gone from the k-NN sample."""
        return st.scores_without(self.indices, self.distances, mask[reference.knn_index_], _KNN_NEIGHBOURS)


def _chunk_pair(reference: "Reference", mask: np.ndarray, labels: np.ndarray, distances: np.ndarray,
                counts: np.ndarray, neighbours: _Neighbours, seed: int) -> SidePair:
    """A baseline chunk (``mask``) against the rest, as a check would see it: nothing of the chunk is in the reference."""
    chunk = np.flatnonzero(mask)
    scored = np.arange(chunk.size)
    if scored.size > _MAX_SCORED:
        scored = np.sort(np.random.default_rng([seed, chunk.size]).choice(scored.size, _MAX_SCORED, replace=False))
    scores = neighbours.scores_without(reference, mask)
    rest_sample = reference.knn_index_[~mask[reference.knn_index_]]
    x = reference.embeddings_
    return SidePair(
        reference=x[~mask], window=x[mask], centroids=reference.centroids_,
        reference_counts=counts - np.bincount(labels[mask], minlength=reference.n_clusters),
        novelty_cutoff=float(np.quantile(distances[~mask], _NOVELTY_QUANTILE)),
        knn_reference=x[rest_sample], knn_scores=scores[rest_sample], seed=seed,
        known_assignment=(labels[mask], distances[mask]),
        known_scores=(scored, scores[chunk[scored]]),
    )


def null_distribution(
    reference: "Reference",
    window_size: int,
    *,
    n_draws: int = _DEFAULT_DRAWS,
    seed: int = 0,
    metrics: tuple[str, ...] | None = None,
    neighbours: _Neighbours | None = None,
) -> dict[str, list[float]]:
    """Each metric of ``n_draws`` baseline chunks against the baseline minus the chunk.

    Novelty scores are recomputed without the chunk (from each row's list of nearest
    sample rows, ``neighbours``), so the chunk's scores and the rest's are what a window
    and its baseline would give: no chunk point ever counts as a neighbour.
    """
    x = reference.embeddings_
    n = x.shape[0]
    check_window_size(window_size, n)
    chosen = [registry.get(name) for name in (metrics or calibrated_metric_names())]
    labels, distances = reference.assign(x)
    counts = np.bincount(labels, minlength=reference.n_clusters)
    neighbours = neighbours or _Neighbours.of(reference)
    rng = np.random.default_rng(seed)
    null: dict[str, list[float]] = {m.name: [] for m in chosen}
    for draw in range(n_draws):
        mask = np.zeros(n, dtype=bool)
        mask[rng.choice(n, window_size, replace=False)] = True
        pair = _chunk_pair(reference, mask, labels, distances, counts, neighbours, seed)
        for metric in chosen:
            if draw < max(_MIN_COSTLY_DRAWS, int(n_draws * metric.calibration_share)):
                null[metric.name].append(round(float(metric.compute(pair)), 6))
    return null


def calibrate(
    reference: "Reference", window_size: int | None = None, *, n_draws: int = _DEFAULT_DRAWS, seed: int = 0
) -> dict[str, Any]:
    """The calibration a baseline stores: the null of each deciding metric at every grid size."""
    n = len(reference.embeddings_)
    size = default_window_size(n) if window_size is None else int(window_size)
    check_window_size(size, n)
    neighbours = _Neighbours.of(reference)
    return {
        "version": CALIBRATION_VERSION,
        "method": "leave-chunk-out",
        "seed": seed,
        "window_size": size,
        "sizes": {
            str(s): {"n_draws": int(n_draws), "n_reference": n - s,
                     "null": null_distribution(reference, s, n_draws=n_draws, seed=seed, neighbours=neighbours)}
            for s in grid_sizes(n, size)
        },
    }


def levels_from_null(metric: str, values: list[float]) -> tuple[float, float, float]:
    """Review, critical and extreme levels from one metric's null sample (see module doc)."""
    spec = registry.get(metric)
    floor_review, floor_critical = spec.floor if spec else (0.0, 0.0)
    quantile, sigmas = spec.null_level if spec else (0.99, 3.0)
    v = np.asarray(values, dtype=float)
    mu, sigma = float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0
    review = max(float(np.quantile(v, quantile)), mu + sigmas * sigma, floor_review)
    critical = max(review + 3 * sigma, floor_critical, review)
    extreme = max(critical + 12 * sigma, 2 * critical)
    if spec is not None and spec.extreme is not None:
        extreme = max(critical, spec.extreme)
    return round(review, 6), round(critical, 6), round(extreme, 6)


def _ordered(metric: str, levels: list[float]) -> tuple[float, float, float]:
    """Floors and review <= critical <= extreme again after interpolation.

    Each level is interpolated on its own line, and lines of different slopes cross
    when extrapolated far enough (a window larger than every calibrated size).
    """
    spec = registry.get(metric)
    floor_review, floor_critical = spec.floor if spec else (0.0, 0.0)
    review = max(levels[0], floor_review)
    critical = max(levels[1], floor_critical, review)
    extreme = max(levels[2], critical)
    return round(review, 6), round(critical, 6), round(extreme, 6)


def _interpolate(n: int, sizes: list[int], values: list[float]) -> float:
    """``values`` (one per size) at ``n``: linear in log-log between neighbours, the end slope outside."""
    if len(sizes) == 1:
        return values[0]
    i = int(np.clip(np.searchsorted(sizes, n) - 1, 0, len(sizes) - 2))
    (n0, n1), (v0, v1) = sizes[i : i + 2], values[i : i + 2]
    t = (math.log(n) - math.log(n0)) / (math.log(n1) - math.log(n0))
    if v0 > 0 and v1 > 0:
        return math.exp(math.log(v0) + t * (math.log(v1) - math.log(v0)))
    return max(v0 + t * (v1 - v0), 0.0)


def calibrated_levels(
    baseline: "Baseline", window_size: int
) -> tuple[dict[str, tuple[float, float, float]], dict[str, Any], list[str]]:
    """(review, critical, extreme) per metric for a window of ``window_size`` prompts, how they
    were derived, and warnings; interpolated between calibrated sizes, never re-derived."""
    calibration = baseline.calibration_ or {}
    entries = {int(k): v for k, v in calibration.get("sizes", {}).items()}
    if not entries:
        raise ConfigError("the baseline's calibration holds no window sizes; rebuild it with --window-size")
    sizes = sorted(entries)
    per_size = {s: {m: levels_from_null(m, v) for m, v in entries[s]["null"].items()} for s in sizes}
    metrics = [m for m in per_size[sizes[0]] if all(m in per_size[s] for s in sizes)]
    levels = {
        m: _ordered(m, [_interpolate(window_size, sizes, [per_size[s][m][j] for s in sizes]) for j in range(3)])
        for m in metrics
    }
    detail: dict[str, Any] = {
        "window_size": window_size, "calibrated_window_sizes": sizes,
        "how": "calibrated" if window_size in entries else (
            "interpolated" if sizes[0] < window_size < sizes[-1] else "extrapolated"),
        "n_draws": entries[sizes[0]]["n_draws"], "method": calibration.get("method", "leave-chunk-out"),
        "rule": "review = max(q99, mean + 3 sd); critical = review + 3 sd; log-log in the window size",
    }
    return levels, detail, []
