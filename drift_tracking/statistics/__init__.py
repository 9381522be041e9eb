"""Two-sample drift statistics on sentence embeddings, one module per method.

Everything here is a pure function of numpy arrays (numpy and threadpoolctl; scikit-learn
loads inside the two functions that fit a model; no tracking code, no torch). Embeddings
are ``(n, d)`` float arrays, typically unit-length rows from all-MiniLM-L6-v2 (``d = 384``),
so Euclidean distance is a monotone function of cosine distance
(``||x - y||^2 = 2 - 2 cos(x, y)``).

Why several metrics: each answers a different question and fails differently.

=====================  ==================================================================
module                 question
=====================  ==================================================================
``jensen_shannon``     :func:`js_divergence`: did the *topic mix* (shares per baseline
                       cluster) change? Bounded in [0, 1]; blind to change inside a cluster.
``wasserstein``        :func:`wasserstein`: *how far* did the mass move, in reference
                       standard deviations (sliced, comparable across models)?
``mmd``                :func:`mmd`: how different are the distributions (MMD^2), and is the
                       difference more than sampling noise (permutation p-value)?
``domain_classifier``  :func:`classifier_auc`: can a linear model tell the samples apart
                       (0.5 no, 1.0 perfectly)?
``novel_clusters``     :func:`novel_clusters`: which *new topics* appeared, with their
                       members so a person can read examples?
``best_bin_estimation``  :func:`unexplained_share`: what share of the window does the
                       baseline not explain (mixture-proportion estimation)?
``nearest_neighbours``  :func:`knn_distance`: the novelty score the two above share.
``cluster_shift``      :func:`cluster_shift`: the per-cluster table behind the JS number.
``nearest_centroid``   :func:`assign_nearest`: the baseline cluster of each point.
=====================  ==================================================================

Pieces for a window measured in parts (a distributed engine): :class:`ProjectionSketch`
merges sorted projections for the sliced Wasserstein; :func:`paired_subsample_indices`,
:func:`mmd_of_samples` and :func:`auc_of_samples` run MMD and the classifier on rows
gathered by position; :func:`far_groups`, :func:`join_groups` and
:func:`summarise_groups` are the steps of :func:`group_far_points`.

Each function's docstring is its spec: the formula, the parameters, a runnable example
(collected by the test suite) and the paper or library it follows. The expensive
statistics subsample at random (seeded with ``seed``) so that 50k x 50k samples of 384-d
embeddings take a few seconds and well under 2 GB on two CPU cores; each docstring says
what is subsampled. Invalid input raises :class:`ValueError` with a message naming the
argument.
"""

from __future__ import annotations

from drift_tracking.statistics._validation import paired_subsample_indices
from drift_tracking.statistics.best_bin_estimation import UnexplainedResult, estimate_from_scores, unexplained_share
from drift_tracking.statistics.cluster_shift import cluster_shift
from drift_tracking.statistics.domain_classifier import auc_of_samples, classifier_auc
from drift_tracking.statistics.jensen_shannon import js_divergence
from drift_tracking.statistics.mmd import MMDResult, mmd, mmd_of_samples
from drift_tracking.statistics.nearest_centroid import assign_nearest, nearest_unchecked
from drift_tracking.statistics.nearest_neighbours import knn_distance, knn_lists, scores_without
from drift_tracking.statistics.novel_clusters import (
    NovelClusterResult,
    far_groups,
    group_far_points,
    group_reach,
    join_groups,
    novel_clusters,
    summarise_groups,
)
from drift_tracking.statistics.wasserstein import (
    ProjectionSketch,
    projection_directions,
    sorted_projections,
    wasserstein,
    wasserstein_sorted,
)

__all__ = [
    "MMDResult",
    "NovelClusterResult",
    "ProjectionSketch",
    "UnexplainedResult",
    "assign_nearest",
    "auc_of_samples",
    "classifier_auc",
    "cluster_shift",
    "estimate_from_scores",
    "far_groups",
    "group_far_points",
    "group_reach",
    "join_groups",
    "js_divergence",
    "knn_distance",
    "knn_lists",
    "mmd",
    "mmd_of_samples",
    "nearest_unchecked",
    "novel_clusters",
    "paired_subsample_indices",
    "projection_directions",
    "scores_without",
    "sorted_projections",
    "summarise_groups",
    "unexplained_share",
    "wasserstein",
    "wasserstein_sorted",
]
