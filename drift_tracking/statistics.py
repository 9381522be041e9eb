"""Two-sample drift statistics on sentence embeddings.

Everything here is a pure function of numpy arrays (numpy, scipy and scikit-learn only;
no tracking code, no torch). Embeddings are ``(n, d)`` float arrays, typically unit-length
rows from all-MiniLM-L6-v2 (``d = 384``), so Euclidean distance is a monotone function of
cosine distance (``||x - y||^2 = 2 - 2 cos(x, y)``).

Why several metrics: each answers a different question and fails differently.

* :func:`js_divergence` compares the *topic mix* (shares of prompts per baseline cluster).
  Cheap, bounded in [0, 1], easy to explain; blind to change inside a cluster.
* :func:`wasserstein` (sliced, normalised by the reference spread) measures *how far* the
  mass moved, in units of reference standard deviations, comparable across models.
* :func:`mmd` is a kernel two-sample test: MMD^2 says how different the distributions are
  and its permutation p-value says whether the difference is more than sampling noise.
* :func:`classifier_auc` asks whether a domain classifier can tell the samples apart:
  0.5 means indistinguishable, 1.0 means separable. Easy to read, sensitive to any shift
  a linear model can see.
* :func:`novel_clusters` looks for *new topics*: dense regions of the window where the
  reference has almost no points, and returns their members so a person can read examples.
* :func:`cluster_shift` is the per-cluster table behind the JS number.

The expensive statistics subsample at random (seeded with ``seed``) so that 50k x 50k
samples of 384-d embeddings take a few seconds and well under 2 GB on two CPU cores;
each docstring says what is subsampled. Invalid input raises :class:`ValueError` with a
message naming the argument.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

__all__ = [
    "MMDResult",
    "NovelClusterResult",
    "assign_nearest",
    "classifier_auc",
    "cluster_shift",
    "js_divergence",
    "mmd",
    "novel_clusters",
    "wasserstein",
]


# --------------------------------------------------------------------------- validation


def _as_float_array(x: Any, name: str, *, allow_1d: bool = False) -> np.ndarray:
    """``x`` as a float32/float64 array of shape (n, d) (or (n,) when allowed), validated."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if arr.ndim == 1 and allow_1d:
        pass
    elif arr.ndim != 2:
        expected = "1-D or 2-D" if allow_1d else "2-D (n_samples, dim)"
        raise ValueError(f"{name} must be {expected}, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 samples)")
    if arr.ndim == 2 and arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (dimension 0)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_pair(
    reference: Any, current: Any, *, allow_1d: bool = False, names: tuple[str, str] = ("reference", "current")
) -> tuple[np.ndarray, np.ndarray]:
    a = _as_float_array(reference, names[0], allow_1d=allow_1d)
    b = _as_float_array(current, names[1], allow_1d=allow_1d)
    if a.ndim != b.ndim:
        raise ValueError(f"{names[0]} is {a.ndim}-D but {names[1]} is {b.ndim}-D")
    if a.ndim == 2 and a.shape[1] != b.shape[1]:
        raise ValueError(
            f"dimension mismatch: {names[0]} has dimension {a.shape[1]} but {names[1]} has dimension {b.shape[1]}"
        )
    return a, b


def _as_counts(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector of counts or shares, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if np.any(arr < 0):
        raise ValueError(f"{name} has negative entries; counts and shares must be non-negative")
    if arr.sum() <= 0:
        raise ValueError(f"{name} sums to 0; at least one count must be positive")
    return arr


def _check_count_pair(p: Any, q: Any, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    a = _as_counts(p, names[0])
    b = _as_counts(q, names[1])
    if a.shape != b.shape:
        raise ValueError(f"length mismatch: {names[0]} has {a.size} entries but {names[1]} has {b.size}")
    return a, b


def _subsample(x: np.ndarray, max_samples: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``max_samples`` rows of ``x`` drawn without replacement (all rows, in order, if fewer)."""
    if x.shape[0] <= max_samples:
        return x
    idx = np.sort(rng.choice(x.shape[0], size=max_samples, replace=False))
    return x[idx]


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- JS divergence


def js_divergence(p: Any, q: Any) -> float:
    """Jensen-Shannon *divergence* (base 2) between two count or share vectors.

    Both vectors are normalised to sum to 1, then

        JS(p, q) = 0.5 * KL(p || m) + 0.5 * KL(q || m),   m = (p + q) / 2,
        KL(a || b) = sum_i a_i * log2(a_i / b_i)   (terms with a_i = 0 count as 0).

    The result lies in [0, 1]: 0 for identical shares, 1 for disjoint supports (no cluster
    used by both). It equals ``scipy.spatial.distance.jensenshannon(p, q, base=2) ** 2``:
    this is the divergence, not the Jensen-Shannon *distance* scipy returns (its square
    root). Nothing is subsampled.

    Raises ValueError when a vector is empty, not 1-D, negative, NaN, all zeros, or when
    the lengths differ.
    """
    a, b = _check_count_pair(p, q, ("p", "q"))
    a = a / a.sum()
    b = b / b.sum()
    m = 0.5 * (a + b)

    def _kl(u: np.ndarray) -> float:
        nz = u > 0  # where u > 0, m > 0 too
        return float(np.sum(u[nz] * np.log2(u[nz] / m[nz])))

    js = 0.5 * _kl(a) + 0.5 * _kl(b)
    return float(min(max(js, 0.0), 1.0))


# --------------------------------------------------------------------------- nearest centroid


def _assign_nearest(x: np.ndarray, centroids: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Unvalidated core of :func:`assign_nearest`."""
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


def assign_nearest(x: Any, centroids: Any, *, batch_size: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid of each row of ``x`` and the Euclidean distance to it.

    For each batch of at most ``batch_size`` rows the nearest centroid is the argmin over
    centroids c of ``||x||^2 - 2 x.c + ||c||^2`` (one matrix product per batch, so memory is
    bounded by ``batch_size * n_centroids``). The returned distance is then recomputed as
    ``||x - c_label||`` from the difference itself (clipped at 0 before the square root),
    which avoids the cancellation error of the expanded form in float32 (identical points
    get distance exactly 0). Nothing is subsampled.

    Returns ``(labels, distances)``: int64 labels in ``[0, n_centroids)`` and float32
    distances (float64 if either input is float64).
    """
    xa, ca = _check_pair(x, centroids, names=("x", "centroids"))
    batch_size = _positive_int(batch_size, "batch_size")
    return _assign_nearest(xa, ca, batch_size)


# --------------------------------------------------------------------------- Wasserstein


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


def wasserstein(reference: Any, current: Any, *, n_projections: int = 64, seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance, normalised by the reference spread per direction.

    With ``n_projections`` random unit directions w_1..w_K (Gaussian, normalised, drawn
    with ``np.random.default_rng(seed)``):

        SW = (1/K) * sum_k  W1(reference . w_k, current . w_k) / std(reference . w_k)

    where W1 is the exact 1-D Wasserstein-1 distance between the two empirical distributions
    of projections (the same value as ``scipy.stats.wasserstein_distance``, computed here for
    all directions at once) and std is the population (ddof=0) standard deviation of the
    reference projections. Dividing by it makes the number unit-free and comparable across
    embedding models, like Evidently's normalised Wasserstein: 0 for identical samples, and
    shifting every point by ``delta * std`` along a direction gives ``delta`` on that
    direction. A direction on which the reference is constant uses the pooled std instead
    (and contributes 0 if both samples are the same constant).

    1-D inputs are accepted: then there is no projection and the result is exactly
    ``scipy.stats.wasserstein_distance(reference, current) / reference.std()``.

    Nothing is subsampled: all points are projected and sorted (O(K (n + m) log(n + m))).
    """
    a, b = _check_pair(reference, current, allow_1d=True)
    if a.ndim == 1:
        pa = np.sort(a.astype(np.float64))[None, :]
        pb = np.sort(b.astype(np.float64))[None, :]
    else:
        n_projections = _positive_int(n_projections, "n_projections")
        rng = np.random.default_rng(seed)
        directions = rng.standard_normal((a.shape[1], n_projections))
        directions /= np.linalg.norm(directions, axis=0, keepdims=True)
        directions = directions.astype(a.dtype)
        # (K, n) contiguous rows so each row sorts in place quickly.
        pa = np.ascontiguousarray((a @ directions).T, dtype=np.float64)
        pb = np.ascontiguousarray((b.astype(a.dtype, copy=False) @ directions).T, dtype=np.float64)
        pa.sort(axis=1)
        pb.sort(axis=1)
    # In blocks of directions: the gathered quantile arrays are (block, n + m) float64.
    w1 = np.concatenate([_w1_sorted(pa[i : i + 8], pb[i : i + 8]) for i in range(0, pa.shape[0], 8)])
    scale = pa.std(axis=1)
    flat = scale <= 0
    if np.any(flat):
        pooled = np.concatenate([pa[flat], pb[flat]], axis=1).std(axis=1)
        scale[flat] = pooled
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(scale > 0, w1 / np.where(scale > 0, scale, 1.0), 0.0)
    return float(np.mean(ratio))


# --------------------------------------------------------------------------- MMD


@dataclass(frozen=True)
class MMDResult:
    """Unbiased MMD^2, its permutation p-value, the RBF bandwidth and the sample sizes used."""

    mmd2: float
    p_value: float
    bandwidth: float
    n_reference: int
    n_current: int


def _mmd2_columns(
    K: np.ndarray, A: np.ndarray, row_sums: np.ndarray, total: float, diag: np.ndarray, m: int, n: int
) -> np.ndarray:
    """Unbiased MMD^2 for each labelling in the columns of indicator matrix ``A`` (N, P).

    With a = column of A (1 for "reference"), b = 1 - a and K the pooled kernel matrix:
    a'Ka from column sums of A * (K A); a'Kb = r'a - a'Ka with r = K 1; b'Kb = 1'K1 - 2 r'a
    + a'Ka. Diagonal terms are removed for the unbiased estimator.
    """
    KA = K @ A  # the only O(N^2 P) step: one BLAS call
    aKa = np.einsum("ij,ij->j", A, KA, dtype=np.float64)
    A64 = A.astype(np.float64)
    ra = row_sums @ A64
    da = diag @ A64
    xx = (aKa - da) / (m * (m - 1))
    yy = (total - 2 * ra + aKa - (diag.sum() - da)) / (n * (n - 1))
    xy = (ra - aKa) / (m * n)
    return xx + yy - 2 * xy


_MAX_MEDIAN_POINTS = 1000


def _median_distance(z: np.ndarray) -> float:
    """Median Euclidean distance over distinct pairs of rows of ``z`` (positive fallback if 0)."""
    zz = z.astype(np.float64)
    sq = np.einsum("ij,ij->i", zz, zz)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (zz @ zz.T)
    iu = np.triu_indices(zz.shape[0], k=1)
    d = np.sqrt(np.maximum(d2[iu], 0.0))
    if d.size == 0:
        return 1.0
    sigma = float(np.median(d))
    if not sigma > 0:
        positive = d[d > 0]
        sigma = float(np.median(positive)) if positive.size else 1.0
    return sigma


def mmd(
    reference: Any,
    current: Any,
    *,
    max_samples: int = 2000,
    n_permutations: int = 200,
    bandwidth: float | None = None,
    seed: int = 0,
) -> MMDResult:
    """Unbiased squared Maximum Mean Discrepancy with an RBF kernel, plus a permutation test.

    Each side is first subsampled at random (without replacement, seeded) to at most
    ``max_samples`` rows; this is what makes 50k x 50k inputs fit in memory and time
    (the pooled kernel matrix is at most ``(2 max_samples)^2``). With X (m rows) and
    Y (n rows) the subsamples and k(x, y) = exp(-||x - y||^2 / (2 sigma^2)):

        MMD^2 = sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (n (n-1))
                - 2 sum_{i, j} k(x_i, y_j) / (m n)

    sigma (``bandwidth``) defaults to the median heuristic: the median of the pairwise
    Euclidean distances between distinct points of the pooled subsample (computed on a
    random 1000 of its points, about 500k pairs, which pins the median down to well under
    1%; 1 if all points coincide). MMD^2 is about 0
    (and can be slightly negative, the estimator being unbiased) for samples from the same
    distribution, and approaches 2 - 2 E k(x, y) for disjoint ones.

    p-value = (1 + #{permutation statistics >= observed}) / (1 + n_permutations), where
    each permutation re-splits the pooled subsample at random into groups of sizes m and n.
    The kernel matrix K is built once; all permutations are evaluated with one matrix
    product K @ A (A the N x P group-indicator matrix, chunked), no per-permutation loop
    over N^2 entries.

    Returns an :class:`MMDResult` whose ``n_reference``/``n_current`` are the subsample
    sizes actually used. Each side needs at least 2 rows.
    """
    a, b = _check_pair(reference, current)
    max_samples = _positive_int(max_samples, "max_samples", 2)
    n_permutations = _positive_int(n_permutations, "n_permutations", 0)
    if a.shape[0] < 2:
        raise ValueError(f"reference needs at least 2 samples for the unbiased MMD, got {a.shape[0]}")
    if b.shape[0] < 2:
        raise ValueError(f"current needs at least 2 samples for the unbiased MMD, got {b.shape[0]}")
    if bandwidth is not None and not (np.isfinite(bandwidth) and bandwidth > 0):
        raise ValueError(f"bandwidth must be a positive finite number or None, got {bandwidth!r}")

    rng = np.random.default_rng(seed)
    xs = _subsample(a, max_samples, rng)
    ys = _subsample(b, max_samples, rng)
    m, n = xs.shape[0], ys.shape[0]
    N = m + n
    z = np.vstack([xs, ys]).astype(np.float32)
    sq = np.einsum("ij,ij->i", z, z, dtype=np.float64).astype(np.float32)

    if bandwidth is None:
        sigma = _median_distance(z[rng.permutation(N)[:_MAX_MEDIAN_POINTS]])
    else:
        sigma = float(bandwidth)

    # Pooled kernel matrix, built in place in one float32 N x N buffer (64 MB for N = 4000):
    # squared distances ||z_i||^2 + ||z_j||^2 - 2 z_i.z_j clipped at 0, then exp(-d^2 / 2 sigma^2).
    K = z @ z.T
    K *= -2.0
    K += sq[:, None]
    K += sq[None, :]
    np.maximum(K, 0.0, out=K)
    np.fill_diagonal(K, 0.0)
    K *= np.float32(-1.0 / (2.0 * sigma * sigma))
    np.exp(K, out=K)
    row_sums = K.sum(axis=1, dtype=np.float64)
    total = float(row_sums.sum())
    diag = np.diagonal(K).astype(np.float64)

    # Column 0 of the first block is the observed split (first m rows = reference); the
    # other columns are random re-splits. Every statistic goes through the same code path.
    observed: float | None = None
    exceed = 0
    done = 0
    block = 128
    while observed is None or done < n_permutations:
        p = min(block, n_permutations - done)
        extra = 1 if observed is None else 0
        A = np.zeros((N, p + extra), dtype=np.float32)
        if extra:
            A[:m, 0] = 1.0
        if p:
            idx = rng.random((p, N)).argsort(axis=1)[:, :m]
            A[idx, extra + np.arange(p)[:, None]] = 1.0
        stats = _mmd2_columns(K, A, row_sums, total, diag, m, n)
        if extra:
            observed = float(stats[0])
        exceed += int(np.sum(stats[extra:] >= observed))
        done += p
    p_value = (1 + exceed) / (1 + n_permutations)
    return MMDResult(mmd2=observed, p_value=float(p_value), bandwidth=sigma, n_reference=m, n_current=n)


# --------------------------------------------------------------------------- domain classifier


def classifier_auc(
    reference: Any, current: Any, *, max_samples: int = 5000, n_folds: int = 5, seed: int = 0
) -> float:
    """Cross-validated ROC AUC of a logistic-regression domain classifier.

    Labels are 0 for reference rows and 1 for current rows. Each side is subsampled at
    random (seeded) to at most ``max_samples`` rows. The model is
    ``StandardScaler -> LogisticRegression(solver="lbfgs", C=1.0, max_iter=100)``;
    out-of-fold probabilities come from ``cross_val_predict(..., method="predict_proba")``
    with ``StratifiedKFold(n_folds, shuffle=True, random_state=seed)``, and one
    ``roc_auc_score`` is computed on all of them. Cost control: the subsampling (10k rows
    at most), float32 features, lbfgs capped at 100 iterations (a convergence warning from
    the cap is silenced: a nearly converged fit ranks points the same) and one BLAS
    thread, which is ~3x faster than two for lbfgs's small matrix-vector products; 50k x
    50k 384-d inputs take about 0.6 s on two cores.

    About 0.5 when both samples come from the same distribution (the classifier cannot do
    better than chance out of fold), about 1.0 when they are linearly separable. Each side
    needs at least ``n_folds`` rows.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    a, b = _check_pair(reference, current)
    max_samples = _positive_int(max_samples, "max_samples")
    n_folds = _positive_int(n_folds, "n_folds", 2)
    for name, arr in (("reference", a), ("current", b)):
        if arr.shape[0] < n_folds:
            raise ValueError(f"{name} needs at least n_folds={n_folds} samples, got {arr.shape[0]}")
    if max_samples < n_folds:
        raise ValueError(f"max_samples must be >= n_folds={n_folds}, got {max_samples}")

    rng = np.random.default_rng(seed)
    xs = _subsample(a, max_samples, rng)
    ys = _subsample(b, max_samples, rng)
    X = np.vstack([xs, ys]).astype(np.float32)
    y = np.concatenate([np.zeros(xs.shape[0], dtype=np.int64), np.ones(ys.shape[0], dtype=np.int64)])
    model = make_pipeline(StandardScaler(), LogisticRegression(solver="lbfgs", C=1.0, max_iter=100))
    cv = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    # One BLAS thread: lbfgs on 8k x 384 is a string of small matrix-vector products for
    # which thread hand-offs cost more than they save (about 3x slower with 2 threads).
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        proba = cross_val_predict(model, X, y, cv=cv, method="predict_proba")
    return float(roc_auc_score(y, proba[:, 1]))


# --------------------------------------------------------------------------- novel clusters


@dataclass(frozen=True)
class NovelClusterResult:
    """Share of the window in novel clusters, per-point group labels and the novel clusters.

    ``labels[i]`` is the novel cluster of current point i, or -1 when the point is not
    novel. ``clusters`` holds one dict per novel cluster, largest first:
    ``{"id", "size", "share", "distance_ratio", "members"}`` with ``members`` the indices
    of up to 20 current points closest to the cluster centre. ``cutoff`` is the distance
    beyond which a point counts as far from the reference.
    """

    share: float
    labels: np.ndarray
    novel_mask: np.ndarray
    clusters: list[dict[str, Any]] = field(default_factory=list)
    cutoff: float = 0.0


_MAX_MEMBERS = 20


def _knn_distance(query: np.ndarray, points: np.ndarray, k: int, *, exclude_self: bool = False) -> np.ndarray:
    """Mean Euclidean distance from each query row to its ``k`` nearest rows of ``points``.

    Squared distances come from one matrix product per block of 2048 queries (memory
    ``2048 * len(points)`` floats); with ``exclude_self`` the query block is a slice of
    ``points`` starting at the same row and its own entry is skipped (leave-one-out).
    """
    p_sq = np.einsum("ij,ij->i", points, points)
    out = np.empty(query.shape[0], dtype=np.float64)
    for start in range(0, query.shape[0], 2048):
        q = query[start : start + 2048]
        d2 = q @ points.T
        d2 *= -2
        d2 += p_sq[None, :]
        d2 += np.einsum("ij,ij->i", q, q)[:, None]
        if exclude_self:
            d2[np.arange(q.shape[0]), start + np.arange(q.shape[0])] = np.inf
        nearest = np.partition(d2, k - 1, axis=1)[:, :k]
        out[start : start + q.shape[0]] = np.sqrt(np.maximum(nearest, 0)).mean(axis=1)
    return out


def novel_clusters(
    reference: Any,
    current: Any,
    *,
    n_neighbors: int = 3,
    quantile: float = 0.99,
    min_cluster_size: int = 5,
    min_cluster_share: float = 0.01,
    n_clusters: int | None = None,
    max_samples: int = 5000,
    seed: int = 0,
) -> NovelClusterResult:
    """Groups of window points that lie where the reference has no points: new topics.

    1. Far points. d(x) is the mean Euclidean distance from x to its ``n_neighbors``
       nearest reference points. The cut-off is the ``quantile`` (0.99) of the same
       distance for every reference point to the *other* reference points (leave one
       out), so on no-drift data a window point is far with probability ~1%.
    2. Grouped, not lone. Far points are grouped with K-means (k = ``n_clusters`` or
       ``clip(round(sqrt(n_far / 2)), 1, 20)``) and groups smaller than
       ``max(min_cluster_size, min_cluster_share * N_cur)`` are dropped: a new topic
       shows up as many prompts, while the ~1% of far points a no-drift window has are
       scattered and split into groups below the floor (which grows with the window).
    3. ``share`` = (points in the remaining groups) / N_cur.

    On no-drift data ``share`` is about 0; a topic absent from the reference contributes
    about its share of the window. Measured on generated support traffic embedded with
    all-MiniLM-L6-v2 (1,500 reference prompts, windows of 400): 0.00 with no drift,
    0.11 with 10% and 0.40 with 40% of prompts from unseen topics, precision 0.9-1.0.
    Point-by-point distance to the nearest K-means centroid is much noisier: centroids of
    a broad topic sit far from its edges.

    Cost: each side is subsampled at random (seeded) to ``max_samples`` rows before the
    neighbour search (two ``max_samples^2`` distance matrices in blocks). Window points left
    out of the subsample join the novel group whose centroid is nearest if they lie within
    that group's radius (its farthest kept member), else they are not novel.

    Each cluster dict has ``distance_ratio`` = median d(x) of its members / cut-off (> 1:
    how much farther from the reference than usual).
    """
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    a, b = _check_pair(reference, current)
    n_neighbors = _positive_int(n_neighbors, "n_neighbors")
    max_samples = _positive_int(max_samples, "max_samples", 2)
    min_cluster_size = _positive_int(min_cluster_size, "min_cluster_size", 0)
    if n_clusters is not None:
        n_clusters = _positive_int(n_clusters, "n_clusters")
    if not 0.0 < float(quantile) < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    if not 0.0 <= float(min_cluster_share) <= 1.0:
        raise ValueError(f"min_cluster_share must be in [0, 1], got {min_cluster_share!r}")
    if a.shape[0] < 2:
        raise ValueError(f"reference needs at least 2 samples for a leave-one-out cut-off, got {a.shape[0]}")

    rng = np.random.default_rng(seed)
    ref = _subsample(a, max_samples, rng).astype(np.float32)
    n_cur = b.shape[0]
    sub = np.arange(n_cur) if n_cur <= max_samples else np.sort(rng.choice(n_cur, max_samples, replace=False))
    cur = b[sub].astype(np.float32)
    k = min(n_neighbors, ref.shape[0] - 1)

    cutoff = float(np.quantile(_knn_distance(ref, ref, k, exclude_self=True), quantile))
    dist = _knn_distance(cur, ref, k)
    far = np.flatnonzero(dist > cutoff)

    labels = np.full(n_cur, -1, dtype=np.int64)
    min_size = max(float(min_cluster_size), float(min_cluster_share) * n_cur)
    groups: list[tuple[np.ndarray, np.ndarray]] = []  # (centroid, kept subsample positions)
    if far.size:
        g = n_clusters or int(np.clip(round(np.sqrt(far.size / 2)), 1, 20))
        with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            km = KMeans(n_clusters=min(g, far.size), n_init=1, random_state=seed).fit(cur[far].astype(np.float64))
        scale = n_cur / cur.shape[0]  # a group of the subsample stands for this many window points
        for c in range(km.n_clusters):
            members = far[km.labels_ == c]
            if members.size and members.size * scale >= min_size:
                groups.append((km.cluster_centers_[c].astype(np.float32), members))
    for gid, (_, members) in enumerate(groups):
        labels[sub[members]] = gid
    if groups and sub.size < n_cur:
        _assign_rest(b, sub, groups, cur, labels)

    novel_mask = labels >= 0
    found = []
    for gid, (centre, members) in enumerate(groups):
        d_centre = np.linalg.norm(cur[members] - centre, axis=1)
        closest = members[np.argsort(d_centre, kind="stable")[:_MAX_MEMBERS]]
        size = int(np.sum(labels == gid))
        found.append(
            {
                "id": gid,
                "size": size,
                "share": size / n_cur,
                "distance_ratio": float(np.median(dist[members]) / cutoff) if cutoff > 0 else math.inf,
                "members": [int(sub[i]) for i in closest],
            }
        )
    order = sorted(range(len(found)), key=lambda i: (-found[i]["size"], i))
    relabel = np.full(len(found) + 1, -1, dtype=np.int64)
    for new_id, old_id in enumerate(order):
        relabel[old_id] = new_id
        found[old_id]["id"] = new_id
    labels = relabel[labels]  # -1 stays -1 (last slot)
    return NovelClusterResult(
        share=float(novel_mask.mean()),
        labels=labels,
        novel_mask=novel_mask,
        clusters=[found[i] for i in order],
        cutoff=cutoff,
    )


def _assign_rest(
    b: np.ndarray, sub: np.ndarray, groups: list[tuple[np.ndarray, np.ndarray]], cur: np.ndarray, labels: np.ndarray
) -> None:
    """Label window points outside the subsample by the nearest novel group, within its radius."""
    centres = np.vstack([c for c, _ in groups])
    radius = np.array([np.linalg.norm(cur[m] - c, axis=1).max() for c, m in groups])
    rest = np.setdiff1d(np.arange(b.shape[0]), sub, assume_unique=True)
    nearest, d = _assign_nearest(b[rest].astype(np.float32, copy=False), centres, 8192)
    inside = d <= radius[nearest]
    labels[rest[inside]] = nearest[inside]


# --------------------------------------------------------------------------- cluster table


def cluster_shift(reference_counts: Any, current_counts: Any) -> list[dict[str, Any]]:
    """Per-cluster share table, largest absolute change first.

    With baseline_share_i = reference_counts_i / sum(reference_counts) and window_share_i
    likewise, each row is ``{"cluster": i, "baseline_share", "window_share",
    "change": window_share - baseline_share, "ratio": window_share / baseline_share}``;
    ``ratio`` is None when the baseline share is 0 (no inf/NaN in the table). Rows are
    sorted by |change| descending, ties by cluster index. Identical shares give all-zero
    changes and ratios 1; nothing is subsampled.
    """
    ref, cur = _check_count_pair(reference_counts, current_counts, ("reference_counts", "current_counts"))
    base = ref / ref.sum()
    win = cur / cur.sum()
    rows = []
    for i in range(base.size):
        b_share, w_share = float(base[i]), float(win[i])
        rows.append(
            {
                "cluster": i,
                "baseline_share": b_share,
                "window_share": w_share,
                "change": w_share - b_share,
                "ratio": (w_share / b_share) if b_share > 0 else None,
            }
        )
    rows.sort(key=lambda r: (-abs(r["change"]), r["cluster"]))
    return rows
