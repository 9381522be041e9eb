"""Sliced Wasserstein-1 distance, normalised by the reference spread.

It says *how far* the mass moved, in units of reference standard deviations, so the number
is comparable across embedding models (a 384-d and a 768-d model give the same scale).
Slicing (random 1-D projections) keeps it exact and cheap: a 1-D Wasserstein distance is
a sort and a weighted sum, no optimal-transport solver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from drift_tracking.statistics._validation import check_pair, positive_int

_DIRECTIONS_PER_BLOCK = 8


def wasserstein(reference: Any, current: Any, *, n_projections: int = 64, seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance, normalised by the reference spread per direction.

    With ``n_projections`` random unit directions w_1..w_K (Gaussian, normalised, drawn
    with ``np.random.default_rng(seed)``):

        SW = (1/K) * sum_k  W1(reference . w_k, current . w_k) / std(reference . w_k)
        W1(u, v) = integral_0^1 |F_u^-1(t) - F_v^-1(t)| dt

    W1 is the exact 1-D Wasserstein-1 distance between the two empirical distributions of
    projections (the value of ``scipy.stats.wasserstein_distance``, computed here for all
    directions at once); std is the population (ddof=0) standard deviation of the reference
    projections, which makes the number unit-free like Evidently's normalised Wasserstein:
    0 for identical samples, and shifting every point by ``delta * std`` along a direction
    gives ``delta`` on that direction. Symmetric only up to that normalisation (it uses the
    reference's spread). A direction on which the reference is constant uses the pooled std
    (and contributes 0 if both samples are the same constant). 1-D inputs are not projected:
    the result is exactly ``scipy.stats.wasserstein_distance(reference, current) /
    reference.std()``. Nothing is subsampled: all points are projected and sorted
    (O(K (n + m) log(n + m))).

    Parameters
    ----------
    reference
        Reference sample, shape (n, d) or (n,).
    current
        Window sample, shape (m, d) or (m,), the same d.
    n_projections
        Number K of random directions (ignored for 1-D inputs).
    seed
        Seed of the random directions.

    Examples
    --------
    >>> round(wasserstein([0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]), 4)  # W1 = 1, std = 1.118
    0.8944
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.standard_normal((500, 8)), rng.standard_normal((500, 8))
    >>> wasserstein(x, x), round(wasserstein(x, y), 2), round(wasserstein(x, y + 1.0), 2)
    (0.0, 0.09, 0.91)

    References
    ----------
    [^1]: Bonneel, N., Rabin, J., Peyré, G., Pfister, H. (2015). Sliced and Radon Wasserstein
    barycenters of measures. Journal of Mathematical Imaging and Vision, 51(1), 22-45.
    """
    a, b = check_pair(reference, current, allow_1d=True)
    if a.ndim == 1:
        pa = np.sort(a.astype(np.float64))[None, :]
        pb = np.sort(b.astype(np.float64))[None, :]
    else:
        directions = projection_directions(a.shape[1], positive_int(n_projections, "n_projections"), seed, a.dtype)
        pa, pb = sorted_projections(a, directions), sorted_projections(b.astype(a.dtype, copy=False), directions)
    return wasserstein_sorted(pa, pb)


def projection_directions(dim: int, n_projections: int = 64, seed: int = 0, dtype: Any = np.float32) -> np.ndarray:
    """The seeded unit directions of :func:`wasserstein`, shape (dim, n_projections), in ``dtype``."""
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((dim, n_projections))
    directions /= np.linalg.norm(directions, axis=0, keepdims=True)
    return directions.astype(dtype)


def sorted_projections(x: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Rows of ``x`` projected on ``directions``: (K, n) float64, each row sorted.

    Projections are per row, so a window projected in pieces and merged gives the same
    values as projected whole.
    """
    # (K, n) contiguous rows so each row sorts in place quickly.
    projected = np.ascontiguousarray((x @ directions).T, dtype=np.float64)
    projected.sort(axis=1)
    return projected


def wasserstein_sorted(pa: np.ndarray, pb: np.ndarray) -> float:
    """:func:`wasserstein` from both samples' sorted projections, (K, n) and (K, m)."""
    # In blocks of directions: the gathered quantile arrays are (block, n + m) float64.
    step = _DIRECTIONS_PER_BLOCK
    w1 = np.concatenate([_w1_sorted(pa[i : i + step], pb[i : i + step]) for i in range(0, pa.shape[0], step)])
    return _mean_over_reference_spread(w1, pa, pb)


def _w1_sorted(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Exact 1-D Wasserstein-1 per row between rows of ``u`` (k, n) and ``v`` (k, m), both sorted.

    W1 = integral_0^1 |F_u^-1(t) - F_v^-1(t)| dt. The quantile functions are step functions
    with breaks at i/n and j/m; on the union grid (the same for every row) the integral is a
    weighted sum of |u[i] - v[j]|. Grid points are kept as integers in units of 1/(n m).
    """
    n, m = u.shape[1], v.shape[1]
    grid = np.unique(
        np.concatenate(
            [
                np.arange(0, n + 1, dtype=np.int64) * m,
                np.arange(0, m + 1, dtype=np.int64) * n,
            ]
        )
    )
    lo, hi = grid[:-1], grid[1:]
    iu = (lo + hi) // (2 * m)
    iv = (lo + hi) // (2 * n)
    weights = (hi - lo).astype(np.float64) / (float(n) * float(m))
    return np.abs(u[:, iu] - v[:, iv]) @ weights


def _mean_over_reference_spread(
    w1: np.ndarray, pa: np.ndarray, pb: np.ndarray, pb_weights: np.ndarray | None = None
) -> float:
    """Mean over directions of W1 / std of the reference projections (pooled std where that is 0)."""
    scale = pa.std(axis=1)
    flat = scale <= 0
    if np.any(flat) and pb_weights is None:
        pooled = np.concatenate([pa[flat], pb[flat]], axis=1).std(axis=1)
        scale[flat] = pooled
    elif np.any(flat):
        values = np.concatenate([pa[flat], pb[flat]], axis=1)
        weights = np.concatenate([np.ones_like(pa[flat]), pb_weights[flat]], axis=1)
        mean = np.average(values, axis=1, weights=weights)
        scale[flat] = np.sqrt(np.average((values - mean[:, None]) ** 2, axis=1, weights=weights))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(scale > 0, w1 / np.where(scale > 0, scale, 1.0), 0.0)
    return float(np.mean(ratio))


@dataclass(frozen=True)
class ProjectionSketch:
    """A mergeable summary of a sample's sorted projections, for :func:`wasserstein` of a window in pieces.

    ``values`` (K, p) holds each direction's points sorted, ``weights`` (K, p) their masses
    (None: every point has mass 1). A sketch of at most ``capacity`` points per direction
    is exact: :meth:`distance` then runs :func:`wasserstein_sorted` on every projection and
    gives :func:`wasserstein`'s number. Past ``capacity``, :meth:`merge` compresses each
    direction to ``capacity`` equal-mass points, each at the mean of its mass:

        v_k = (Q(k W / c + W / c) - Q(k W / c)) / (W / c),   Q(t) = integral_0^t F^-1(s) ds

    (W the total mass, c = ``capacity``). A compression moves the window's distribution
    by at most (range of the values) / c in Wasserstein-1 and preserves its mean exactly.
    """

    values: np.ndarray
    weights: np.ndarray | None = None
    capacity: int = 32_768

    @classmethod
    def of(cls, x: np.ndarray, directions: np.ndarray, capacity: int = 32_768) -> "ProjectionSketch":
        """The sketch of rows ``x`` (exact until ``capacity`` rows)."""
        return cls(sorted_projections(x, directions), None, capacity).merge([])

    @property
    def mass(self) -> float:
        return float(self.values.shape[1] if self.weights is None else self.weights[0].sum())

    def merge(self, others: "list[ProjectionSketch]") -> "ProjectionSketch":
        """This sketch and ``others`` as one (compressed if they hold more than ``capacity`` points)."""
        parts = [self, *others]
        values = np.concatenate([p.values for p in parts], axis=1)
        if all(p.weights is None for p in parts):
            weights = None
        else:
            weights = np.concatenate([np.ones_like(p.values) if p.weights is None else p.weights for p in parts], axis=1)
        if len(parts) > 1:
            order = np.argsort(values, axis=1, kind="stable")
            values = np.take_along_axis(values, order, axis=1)
            weights = None if weights is None else np.take_along_axis(weights, order, axis=1)
        if values.shape[1] <= self.capacity:
            return ProjectionSketch(values, weights, self.capacity)
        return _compressed(values, weights, self.capacity)

    def distance(self, reference: np.ndarray) -> float:
        """:func:`wasserstein` between the sorted reference projections (K, n) and this sample."""
        if self.weights is None:
            return wasserstein_sorted(reference, self.values)
        w1 = np.array([_w1_weighted(reference[k], self.values[k], self.weights[k]) for k in range(reference.shape[0])])
        return _mean_over_reference_spread(w1, reference, self.values, self.weights)


def _compressed(values: np.ndarray, weights: np.ndarray | None, capacity: int) -> ProjectionSketch:
    """Each direction's points as ``capacity`` equal-mass points at the means of their masses."""
    k, p = values.shape
    w = np.ones_like(values) if weights is None else weights
    out = np.empty((k, capacity), dtype=np.float64)
    for row in range(k):
        cum_mass = np.concatenate([[0.0], np.cumsum(w[row])])
        cum_value = np.concatenate([[0.0], np.cumsum(w[row] * values[row])])
        total = cum_mass[-1]
        bounds = np.linspace(0.0, total, capacity + 1)
        # Q(t): the integral of the quantile function up to mass t, linear within each point's mass.
        idx = np.clip(np.searchsorted(cum_mass, bounds, side="left"), 1, p)
        q = cum_value[idx - 1] + (bounds - cum_mass[idx - 1]) * values[row, idx - 1]
        out[row] = np.diff(q) / (total / capacity)
    np.maximum.accumulate(out, axis=1, out=out)  # rounding must not unsort the means
    return ProjectionSketch(out, np.full((k, capacity), w[0].sum() / capacity), capacity)


def _w1_weighted(u: np.ndarray, v: np.ndarray, weights: np.ndarray) -> float:
    """Exact 1-D Wasserstein-1 between sorted ``u`` (unit masses) and sorted ``v`` with masses ``weights``."""
    cum_v = np.cumsum(weights) / weights.sum()
    grid = np.unique(np.concatenate([np.arange(u.size + 1) / u.size, [0.0], cum_v]))
    mid = (grid[:-1] + grid[1:]) / 2
    iu = np.minimum((mid * u.size).astype(np.int64), u.size - 1)
    iv = np.minimum(np.searchsorted(cum_v, mid, side="right"), v.size - 1)
    return float(np.abs(u[iu] - v[iv]) @ np.diff(grid))
