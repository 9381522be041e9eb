"""Mean distance to the k nearest reference points: the novelty score two statistics share.

Both :func:`~drift_tracking.statistics.novel_clusters` (which points are far, and do they
group) and :func:`~drift_tracking.statistics.unexplained_share` (what share of the window
the baseline does not explain) rank window points by this score, so a check computes it
once; the reference's own leave-one-out scores depend on the baseline alone and are
computed when it is fitted.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

_QUERY_BLOCK = 2048


def knn_distance(
    query: np.ndarray, points: np.ndarray, k: int, *, exclude_self: bool = False, skip: np.ndarray | None = None
) -> np.ndarray:
    """Mean Euclidean distance from each row of ``query`` to its ``k`` nearest rows of ``points``.

        d(x) = (1/k) * sum_{j=1..k} ||x - p_(j)||,    p_(j) the j-th nearest row of ``points``

    Squared distances come from one matrix product per block of 2048 queries (memory
    ``2048 * len(points)`` floats). With ``exclude_self`` the query *is* ``points`` (same
    rows, same order) and each row's own entry is skipped: the leave-one-out score.
    ``skip[i]`` (when given) is a row of ``points`` query row i must not count, -1 for
    none: the leave-one-out score of query rows that are also in ``points``.

    >>> points = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    >>> knn_distance(np.array([[0.0, 0.0]]), points, 2).round(3).tolist()
    [1.5]
    >>> knn_distance(points, points, 1, exclude_self=True).round(3).tolist()
    [3.0, 3.0, 4.0]
    >>> knn_distance(points, points[:2], 1, skip=np.array([0, 1, -1])).round(3).tolist()
    [3.0, 3.0, 4.0]

    Reference: Angiulli, F., Pizzuti, C. (2002). Fast outlier detection in high dimensional
    spaces. PKDD 2002, LNCS 2431, 15-27 (the mean k-NN distance as a novelty score).
    """
    if exclude_self:
        skip = np.arange(query.shape[0])
    out = np.empty(query.shape[0], dtype=np.float64)
    for rows, d2 in _squared_distances(query, points, skip):
        nearest = np.partition(d2, k - 1, axis=1)[:, :k]
        out[rows] = np.sqrt(np.maximum(nearest, 0)).mean(axis=1)
    return out


def _squared_distances(
    query: np.ndarray, points: np.ndarray, skip: np.ndarray | None
) -> Iterator[tuple[slice, np.ndarray]]:
    """Blocks of squared distances (one matrix product each), skipped pairs set to +inf."""
    p_sq = np.einsum("ij,ij->i", points, points)
    for start in range(0, query.shape[0], _QUERY_BLOCK):
        q = query[start : start + _QUERY_BLOCK]
        d2 = q @ points.T
        d2 *= -2
        d2 += p_sq[None, :]
        d2 += np.einsum("ij,ij->i", q, q)[:, None]
        if skip is not None:
            rows = np.flatnonzero(skip[start : start + q.shape[0]] >= 0)
            d2[rows, skip[start + rows]] = np.inf
        yield slice(start, start + q.shape[0]), d2


def knn_lists(
    query: np.ndarray, points: np.ndarray, k: int, *, skip: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``points`` for each query row, nearest first: (indices, distances).

    ``skip`` as in :func:`knn_distance`. Keeping a list longer than the 3 neighbours a
    score averages lets a caller recompute scores with any subset of ``points`` removed
    (calibration leaves a chunk out) without another distance product.

    >>> points = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    >>> idx, dist = knn_lists(points, points, 2, skip=np.array([0, 1, 2]))
    >>> idx.tolist(), dist.round(3).tolist()
    ([[1, 2], [0, 2], [0, 1]], [[3.0, 4.0], [3.0, 5.0], [4.0, 5.0]])
    """
    indices = np.empty((query.shape[0], k), dtype=np.int64)
    distances = np.empty((query.shape[0], k), dtype=np.float32)
    for rows, d2 in _squared_distances(query, points, skip):
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(d2, part, axis=1), axis=1)
        nearest = np.take_along_axis(part, order, axis=1)
        indices[rows] = nearest
        distances[rows] = np.sqrt(np.maximum(np.take_along_axis(d2, nearest, axis=1), 0))
    return indices, distances


def scores_without(indices: np.ndarray, distances: np.ndarray, removed: np.ndarray, k: int) -> np.ndarray:
    """Mean distance to the ``k`` nearest neighbours left once the ``removed`` points are gone.

    ``indices``/``distances`` come from :func:`knn_lists`; ``removed`` is a boolean mask
    over ``points``. A row whose list runs out averages the neighbours it has left.

    >>> idx = np.array([[1, 2], [0, 2]]); dist = np.array([[3.0, 4.0], [3.0, 5.0]])
    >>> scores_without(idx, dist, np.array([False, True, False]), 1).tolist()
    [4.0, 3.0]
    """
    keep = ~removed[indices]
    take = keep & (np.cumsum(keep, axis=1) <= k)
    return (distances * take).sum(axis=1) / np.maximum(take.sum(axis=1), 1)
