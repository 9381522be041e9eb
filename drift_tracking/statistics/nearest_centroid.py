"""Nearest centroid of each point: the assignment step of K-means.

The baseline's clusters are fixed once it is fitted; every window is counted per cluster
(for :func:`~drift_tracking.statistics.js_divergence` and
:func:`~drift_tracking.statistics.cluster_shift`) by assigning its points here, in batches
so that 50k points against 50 centroids never build a 50k x 50 float64 matrix at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from drift_tracking.statistics._validation import check_pair, positive_int


def assign_nearest(x: Any, centroids: Any, *, batch_size: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid of each row of ``x`` and the Euclidean distance to it.

    For each batch of at most ``batch_size`` rows the nearest centroid is

        label(x) = argmin_c  ||x||^2 - 2 x.c + ||c||^2  =  argmin_c  -2 x.c + ||c||^2

    (one matrix product per batch, so memory is bounded by ``batch_size * n_centroids``).
    The returned distance is then recomputed as ``||x - c_label||`` from the difference
    itself (clipped at 0 before the square root), which avoids the cancellation error of the
    expanded form in float32 (identical points get distance exactly 0). Nothing is
    subsampled. Returns ``(labels, distances)``: int64 labels in ``[0, k)`` and float32
    distances (float64 if either input is float64).

    Parameters
    ----------
    x
        Points, shape (n, d).
    centroids
        Cluster centres, shape (k, d).
    batch_size
        Rows of ``x`` handled per matrix product.

    Examples
    --------
    >>> labels, distances = assign_nearest([[0.0, 0.0], [3.0, 4.0], [9.0, 1.0]], [[0.0, 0.0], [9.0, 0.0]])
    >>> labels.tolist(), distances.tolist()
    ([0, 0, 1], [0.0, 5.0, 1.0])

    References
    ----------
    [^1]: Lloyd, S. (1982). Least squares quantization in PCM. IEEE Transactions on
    Information Theory, 28(2), 129-137 (the assignment step). The same result as
    ``sklearn.metrics.pairwise_distances_argmin_min(x, centroids)``.
    """
    xa, ca = check_pair(x, centroids, names=("x", "centroids"))
    batch_size = positive_int(batch_size, "batch_size")
    return nearest_unchecked(xa, ca, batch_size)


def nearest_unchecked(x: np.ndarray, centroids: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`assign_nearest` on inputs already validated (for callers inside this package)."""
    dtype = np.result_type(x.dtype, centroids.dtype)
    c = np.ascontiguousarray(centroids, dtype=dtype)
    c_sq = np.einsum("ij,ij->i", c, c, dtype=np.float64).astype(dtype)
    n = x.shape[0]
    labels = np.empty(n, dtype=np.int64)
    dist = np.empty(n, dtype=np.float32 if dtype == np.float32 else np.float64)
    for start in range(0, n, batch_size):
        xb = np.asarray(x[start : start + batch_size], dtype=dtype)
        # ||x||^2 is constant per row, so it does not change the argmin: -2 x.c + ||c||^2 suffices.
        scores = xb @ c.T
        scores *= -2
        scores += c_sq
        lb = np.argmin(scores, axis=1)
        labels[start : start + len(xb)] = lb
        # Distance to the chosen centroid from the difference itself: no cancellation error.
        diff = xb - c[lb]
        dist[start : start + len(xb)] = np.sqrt(np.maximum(np.einsum("ij,ij->i", diff, diff), 0))
    return labels, dist
