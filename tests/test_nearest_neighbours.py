"""Novelty scores with points removed, as calibration uses them, against a brute-force recomputation."""

from __future__ import annotations

import numpy as np

from drift_tracking.statistics import knn_distance, knn_lists, scores_without


def test_scores_without_a_chunk_equal_scores_recomputed_on_the_rest():
    rng = np.random.default_rng(7)
    points = rng.normal(size=(400, 8)).astype(np.float32)
    removed = np.zeros(len(points), dtype=bool)
    removed[rng.choice(len(points), 120, replace=False)] = True
    self_rows = np.arange(len(points))
    indices, distances = knn_lists(points, points, 64, skip=self_rows)

    fast = scores_without(indices, distances, removed, 3)

    kept = np.flatnonzero(~removed)
    position = np.full(len(points), -1)
    position[kept] = np.arange(kept.size)
    brute = knn_distance(points, points[kept], 3, skip=position)
    np.testing.assert_allclose(fast, brute, rtol=1e-5)


def test_removing_neighbours_never_lowers_a_score():
    rng = np.random.default_rng(8)
    points = rng.normal(size=(200, 4))
    indices, distances = knn_lists(points, points, 32, skip=np.arange(len(points)))
    full = scores_without(indices, distances, np.zeros(len(points), dtype=bool), 3)
    np.testing.assert_allclose(full, knn_distance(points, points, 3, exclude_self=True), rtol=1e-5)
    removed = rng.random(len(points)) < 0.3
    assert np.all(scores_without(indices, distances, removed, 3) >= full - 1e-9)
