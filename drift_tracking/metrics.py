"""Every drift metric as one spec: how it is computed, read, calibrated, decided on and drawn.

A :class:`Metric` is the only place a metric's facts live. Comparison computes every
registered metric for each side of a window, calibration measures the null distribution
of those that decide, the policy compares them to their levels and words their reasons,
and the report, the plots, the HTML page and both sinks iterate over the registry.
Adding a metric is one :func:`register` call (and its test)::

    register(Metric("mean_shift", compute=lambda pair: float(np.linalg.norm(
        pair.window.mean(axis=0) - pair.reference.mean(axis=0))), title="Shift of the mean"))

A metric's ``compute`` receives a :class:`SidePair`: one side's reference and window
embeddings plus the work several metrics share (nearest-centroid assignment, novel
clusters, the MMD test), each done at most once per pair.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, Protocol

import numpy as np

from drift_tracking import statistics as st

Direction = Literal["up", "down"]
#: Fewest window points every metric is defined on (the classifier's folds, MMD's pairs).
MIN_WINDOW = 20
_KNN_NEIGHBOURS = 3
_FAR_QUANTILE = 0.99
#: Window points given a novelty score (a seeded sample: see :func:`scored_rows`).
MAX_SCORED = 5000
#: Rows per side of the MMD test: its kernel matrix is (2 * 1000)^2.
MMD_SAMPLES = 1000
#: Rows per side and folds of the classifier: the AUC is reported, not decided on.
CLASSIFIER_SAMPLES = 1000
CLASSIFIER_FOLDS = 3


def scored_rows(n_window: int, seed: int) -> np.ndarray:
    """Positions (sorted) of the window rows given a novelty score: a seeded sample of at most 5,000.

    Every engine scores these rows, so a window measured whole or in pieces finds the
    same far points and novel clusters.
    """
    rows = np.random.default_rng([seed, 3]).permutation(n_window)[:MAX_SCORED]
    rows.sort()
    return rows


def novelty_scores(rows: np.ndarray, knn_reference: np.ndarray) -> np.ndarray:
    """Each row's novelty score: its mean distance to its 3 nearest rows of the baseline's k-NN sample."""
    return st.knn_distance(np.asarray(rows, dtype=np.float32), np.asarray(knn_reference, dtype=np.float32),
                           _KNN_NEIGHBOURS)


def far_cutoff(knn_scores: np.ndarray) -> float:
    """The reference's own 99th-percentile novelty score: beyond it a point is far."""
    return float(np.quantile(knn_scores, _FAR_QUANTILE))


@dataclass(frozen=True)
class SidePair:
    """One side (prompts or responses) of a comparison: reference and window embeddings.

    ``reference_counts`` are the reference's points per centroid and ``novelty_cutoff``
    its 99th-percentile distance to the nearest centroid. ``knn_reference`` are the rows
    novelty scores are measured against and ``knn_scores`` their own leave-one-out
    scores. Calibration compares a chunk of the baseline to the rest, so it passes what it
    already knows of the chunk: its ``known_assignment`` to centroids and its
    ``known_scores`` (row positions in ``window`` and their novelty scores).
    """

    reference: np.ndarray
    window: np.ndarray
    centroids: np.ndarray
    reference_counts: np.ndarray
    novelty_cutoff: float
    knn_reference: np.ndarray
    knn_scores: np.ndarray
    seed: int = 0
    known_assignment: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    known_scores: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @cached_property
    def assignment(self) -> tuple[np.ndarray, np.ndarray]:
        """Nearest reference centroid of each window point and the distance to it."""
        if self.known_assignment is not None:
            return self.known_assignment
        return st.assign_nearest(self.window, self.centroids)

    @cached_property
    def window_counts(self) -> np.ndarray:
        return np.bincount(self.assignment[0], minlength=len(self.centroids))

    @cached_property
    def window_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows of a seeded sample of at most 5,000 window points, their novelty scores)."""
        if self.known_scores is not None:
            return self.known_scores
        rows = scored_rows(len(self.window), self.seed)
        return rows, novelty_scores(self.window[rows], self.knn_reference)

    @cached_property
    def score_cutoff(self) -> float:
        """The reference's own 99th-percentile novelty score: beyond it a point is far."""
        return far_cutoff(self.knn_scores)

    @cached_property
    def novel(self) -> st.NovelClusterResult:
        rows, scores = self.window_scores
        return st.group_far_points(self.window, rows, scores, self.score_cutoff, seed=self.seed)

    @cached_property
    def unexplained(self) -> st.UnexplainedResult:
        return st.estimate_from_scores(self.knn_scores, self.window_scores[1])

    @cached_property
    def mmd(self) -> st.MMDResult:
        return st.mmd(self.reference, self.window, max_samples=MMD_SAMPLES, seed=self.seed)

    @cached_property
    def sliced_wasserstein(self) -> float:
        return st.wasserstein(self.reference, self.window, seed=self.seed)

    @cached_property
    def classifier_auc(self) -> float:
        return st.classifier_auc(self.reference, self.window, max_samples=CLASSIFIER_SAMPLES, n_folds=CLASSIFIER_FOLDS,
                                 seed=self.seed)

    @cached_property
    def outlier_share(self) -> float:
        return float(np.mean(self.assignment[1] > self.novelty_cutoff))


class Pair(Protocol):
    """What a metric's ``compute`` may read: a :class:`SidePair`, or a window summarised in pieces.

    A distributed engine (:mod:`drift_tracking.engines`) never holds a whole window; it
    merges partial results into an object with these attributes (counts, the shared
    seeded samples' results, the sliced Wasserstein from merged projection sketches) and
    the registry computes every metric from it as from a :class:`SidePair`.
    """

    reference_counts: np.ndarray
    seed: int

    @property
    def window_counts(self) -> np.ndarray: ...
    @property
    def novel(self) -> st.NovelClusterResult: ...
    @property
    def unexplained(self) -> st.UnexplainedResult: ...
    @property
    def mmd(self) -> st.MMDResult: ...
    @property
    def sliced_wasserstein(self) -> float: ...
    @property
    def classifier_auc(self) -> float: ...
    @property
    def outlier_share(self) -> float: ...


@dataclass(frozen=True)
class Metric:
    """The facts of one metric.

    ``reason`` is a format string with ``{value}`` and ``{level}`` that words a level
    being reached. ``decides`` metrics are calibrated and compared to levels; the others
    are reported only. ``fixed`` holds the rule-of-thumb (review, critical) levels of
    ``thresholds.mode = "fixed"``. ``floor`` bounds calibrated levels from below (a share
    whose null is exactly 0 would otherwise alarm on a single prompt). ``extreme`` is an
    absolute level past which drift is critical without waiting for persistence.
    ``null_level`` = (q, k) places the calibrated review level at max(q-quantile,
    mean + k standard deviations) of the no-drift null. ``calibration_share`` is the
    fraction of null draws it is computed on (for costly metrics whose levels the floor
    decides anyway).
    """

    name: str
    compute: Callable[["Pair"], float]
    title: str
    reason: str = ""
    share: bool = False
    direction: Direction = "up"
    decides: bool = False
    fixed: tuple[float, float] | None = None
    floor: tuple[float, float] = (0.0, 0.0)
    extreme: float | None = None
    null_level: tuple[float, float] = (0.99, 3.0)
    calibration_share: float = 1.0
    timeseries: bool = False

    def words(self, value: float, level: float) -> str:
        """Why ``value`` reached ``level``, in the words people read in alerts."""
        template = self.reason or (self.name + " {value:.4f} " + (">=" if self.direction == "up" else "<=") + " {level:.4f}")
        return template.format(value=value, level=level)

    def reached(self, value: float, level: float) -> bool:
        return value >= level if self.direction == "up" else value <= level

    def format(self, value: float | None) -> str:
        """The value as a person reads it: shares as percentages."""
        if value is None or not math.isfinite(value):
            return "-"
        return f"{value:.1%}" if self.share else f"{value:.4f}"


_REGISTRY: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    """Add ``metric`` to the registry every stage reads; its name must be new."""
    if metric.name in _REGISTRY:
        raise ValueError(f"a metric named {metric.name!r} is already registered")
    _REGISTRY[metric.name] = metric
    return metric


@contextlib.contextmanager
def registered(metric: Metric) -> Iterator[Metric]:
    """Register ``metric`` for the duration of a block (tests, experiments)."""
    register(metric)
    try:
        yield metric
    finally:
        _REGISTRY.pop(metric.name, None)


def all_metrics() -> tuple[Metric, ...]:
    """Every registered metric, in the order reports list them."""
    return tuple(_REGISTRY.values())


def get(name: str) -> Metric | None:
    return _REGISTRY.get(name)


def names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def deciding() -> tuple[Metric, ...]:
    """The metrics whose levels make the tier."""
    return tuple(m for m in _REGISTRY.values() if m.decides)


def compute_all(pair: "Pair", only: tuple[str, ...] | None = None) -> dict[str, float]:
    """Every registered metric (or those named in ``only``) of one side pair."""
    chosen = all_metrics() if only is None else tuple(_REGISTRY[name] for name in only)
    return {m.name: float(m.compute(pair)) for m in chosen}


#: A share of prompts from unseen topics this large is extreme: critical at once.
EXTREME_SHARE = 0.30

register(Metric(
    "js_divergence",
    compute=lambda p: st.js_divergence(p.reference_counts, p.window_counts),
    title="Jensen-Shannon divergence of the cluster mix",
    reason="cluster mix shifted (Jensen-Shannon divergence {value:.3f} >= {level:.3f})",
    decides=True, fixed=(0.15, 0.25), floor=(0.02, 0.05), timeseries=True,
))
register(Metric(
    "wasserstein",
    compute=lambda p: p.sliced_wasserstein,
    title="Normalised Wasserstein distance",
    reason="embedding distribution moved (normalised Wasserstein {value:.3f} >= {level:.3f})",
    decides=True, floor=(0.08, 0.10), timeseries=True,
))
register(Metric(
    "novel_cluster_share",
    compute=lambda p: float(p.novel.share),
    title="Share of prompts in novel clusters",
    reason="{value:.0%} of prompts fall in clusters the baseline has never seen (>= {level:.0%})",
    share=True, decides=True, fixed=(0.30, 0.40), floor=(0.05, 0.10), extreme=EXTREME_SHARE,
    calibration_share=0.25, timeseries=True,
))
register(Metric(
    "unexplained_share",
    compute=lambda p: float(p.unexplained.share),
    title="Share of the window the baseline does not explain (best-bin estimate)",
    reason="about {value:.0%} of prompts are unlike anything in the baseline (>= {level:.0%})",
    share=True, decides=True, fixed=(0.10, 0.20), extreme=EXTREME_SHARE, null_level=(0.95, 2.0), timeseries=True,
))
register(Metric(
    "mmd",
    compute=lambda p: float(p.mmd.mmd2),
    title="MMD two-sample statistic",
    reason="MMD two-sample statistic {value:.4f} >= {level:.4f}",
))
register(Metric(
    "mmd_p_value",
    compute=lambda p: float(p.mmd.p_value),
    title="MMD permutation p-value",
    reason="MMD permutation p-value {value:.4f} <= {level:.4f}",
    direction="down",
))
register(Metric(
    "classifier_auc",
    compute=lambda p: p.classifier_auc,
    title="Window-vs-baseline classifier ROC AUC",
    reason="a classifier tells window from baseline (ROC AUC {value:.2f} >= {level:.2f})",
    timeseries=True,
))
register(Metric(
    "outlier_share",
    compute=lambda p: p.outlier_share,
    title="Share of prompts beyond the baseline's 99th-percentile distance",
    reason="{value:.1%} of prompts lie beyond the baseline's 99th-percentile distance (>= {level:.1%})",
    share=True, decides=True, floor=(0.02, 0.04), extreme=EXTREME_SHARE,
))
