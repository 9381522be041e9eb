"""Tests of drift_tracking.statistics on synthetic data (no embedding model needed)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist, jensenshannon
from scipy.stats import wasserstein_distance

from drift_tracking import statistics as st
from drift_tracking.statistics.mmd import _mmd2_columns

DIM = 32


def unit_blobs(n: int, centres: np.ndarray, rng: np.random.Generator, spread: float = 0.35) -> np.ndarray:
    """Unit-norm points scattered around some of ``centres`` (like sentence embeddings of a few topics)."""
    which = rng.integers(0, len(centres), n)
    x = centres[which] + spread * rng.standard_normal((n, centres.shape[1])) / np.sqrt(centres.shape[1])
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def random_centres(k: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    c = rng.standard_normal((k, dim))
    return c / np.linalg.norm(c, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def samples() -> dict[str, np.ndarray]:
    """Reference, a second draw of the same distribution, and a clearly shifted window."""
    rng = np.random.default_rng(123)
    centres = random_centres(12, DIM, rng)
    reference = unit_blobs(1500, centres[:8], rng)
    same = unit_blobs(1200, centres[:8], rng)
    shifted = unit_blobs(1200, centres[8:], rng)  # topics absent from the reference
    return {"reference": reference, "same": same, "shifted": shifted}


# --------------------------------------------------------------------------- identity / shift


def _counts(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    return np.bincount(st.assign_nearest(x, centroids)[0], minlength=len(centroids))


METRICS = {
    # name: (statistic on (reference, other), check when other ~ reference, check when other is shifted)
    "js_divergence": (
        lambda r, o: st.js_divergence(_counts(r, r[:20]), _counts(o, r[:20])),
        lambda v: v < 0.05,
        lambda v: v > 0.3,
    ),
    "wasserstein": (
        lambda r, o: st.wasserstein(r, o),
        lambda v: v < 0.1,
        lambda v: v > 0.5,
    ),
    "mmd2": (
        lambda r, o: st.mmd(r, o, n_permutations=50).mmd2,
        lambda v: abs(v) < 0.01,
        lambda v: v > 0.1,
    ),
    "mmd_p_value": (
        lambda r, o: st.mmd(r, o, n_permutations=50).p_value,
        lambda v: v > 0.05,
        lambda v: v <= 1 / 51 + 1e-12,
    ),
    "classifier_auc": (
        lambda r, o: st.classifier_auc(r, o),
        lambda v: abs(v - 0.5) < 0.08,
        lambda v: v > 0.95,
    ),
    "novel_cluster_share": (
        lambda r, o: st.novel_clusters(r, o).share,
        lambda v: v < 0.03,
        lambda v: v > 0.9,
    ),
}


@pytest.mark.parametrize("name", sorted(METRICS))
def test_same_distribution_vs_shifted(name: str, samples: dict[str, np.ndarray]) -> None:
    statistic, check_same, check_shifted = METRICS[name]
    same = statistic(samples["reference"], samples["same"])
    shifted = statistic(samples["reference"], samples["shifted"])
    assert check_same(same), f"{name} on same-distribution samples: {same}"
    assert check_shifted(shifted), f"{name} on shifted samples: {shifted}"


@pytest.mark.parametrize("name", ["js_divergence", "wasserstein", "mmd2", "novel_cluster_share"])
def test_identical_samples(name: str, samples: dict[str, np.ndarray]) -> None:
    statistic, _, _ = METRICS[name]
    value = statistic(samples["reference"], samples["reference"].copy())
    if name == "mmd2":  # unbiased: -(2/m)(1 - mean off-diagonal kernel) for X = Y, so in (-2/m, 0]
        m = len(samples["reference"])
        assert -2 / m < value <= 1e-9
    else:
        assert value == pytest.approx(0.0, abs=1e-9)


# --------------------------------------------------------------------------- identities every metric shares


def _total_variation(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Half the sum of |change| in :func:`st.cluster_shift`'s table: 0 for the same mix, 1 for disjoint ones."""
    return 0.5 * sum(abs(row["change"]) for row in st.cluster_shift(reference_counts, current_counts))


@pytest.fixture(scope="module")
def disjoint() -> dict[str, np.ndarray]:
    """Two tight blobs at orthogonal unit vectors (distance sqrt(2)) and the two centres as a codebook."""
    rng = np.random.default_rng(3)
    codebook = np.eye(2, DIM)
    return {
        "reference": unit_blobs(400, codebook[:1], rng, spread=0.05),
        "current": unit_blobs(300, codebook[1:], rng, spread=0.05),
        "codebook": codebook,
    }


IDENTITIES = {
    # name: (statistic(reference, other, codebook), check on identical samples, check on disjoint samples or None)
    "js_divergence": (
        lambda r, o, c: st.js_divergence(_counts(r, c), _counts(o, c)),
        lambda v: v == 0.0,
        lambda v: v == 1.0,  # the maximum
    ),
    "cluster_shift (total variation)": (
        lambda r, o, c: _total_variation(_counts(r, c), _counts(o, c)),
        lambda v: v == 0.0,
        lambda v: v == pytest.approx(1.0, abs=1e-12),  # the maximum
    ),
    "wasserstein": (
        lambda r, o, c: st.wasserstein(r, o),
        lambda v: v == 0.0,
        lambda v: v > 10,  # unbounded: many reference standard deviations away
    ),
    "mmd2": (
        # bandwidth between the blobs' spread and their distance: k ~ 1 within a blob, ~ 0 across
        lambda r, o, c: st.mmd(r, o, bandwidth=0.5, n_permutations=0).mmd2,
        lambda v: -2 / 400 < v <= 1e-9,  # unbiased: slightly negative for X = Y
        lambda v: 1.9 < v <= 2.0,  # the bound 2 - 2 E k(x, y)
    ),
    "mmd_p_value": (
        lambda r, o, c: st.mmd(r, o, n_permutations=19).p_value,
        lambda v: v > 0.5,
        lambda v: v == 1 / 20,  # the smallest a permutation test with 19 permutations can give
    ),
    "classifier_auc": (
        lambda r, o, c: st.classifier_auc(r, o),
        # duplicated rows carry both labels, so out of fold the model is anti-correlated: never above chance
        lambda v: v < 0.55,
        lambda v: v == 1.0,  # the maximum
    ),
    "novel_cluster_share": (
        lambda r, o, c: st.novel_clusters(r, o).share,
        lambda v: v == 0.0,
        lambda v: v == 1.0,  # the maximum
    ),
}


@pytest.mark.parametrize("name", list(IDENTITIES))
def test_identical_samples_show_no_drift(name: str, disjoint: dict[str, np.ndarray]) -> None:
    statistic, check_identical, _ = IDENTITIES[name]
    r = disjoint["reference"]
    value = statistic(r, r.copy(), disjoint["codebook"])
    assert check_identical(value), f"{name} on identical samples: {value}"


@pytest.mark.parametrize("name", list(IDENTITIES))
def test_disjoint_samples_reach_the_maximum(name: str, disjoint: dict[str, np.ndarray]) -> None:
    statistic, _, check_disjoint = IDENTITIES[name]
    value = statistic(disjoint["reference"], disjoint["current"], disjoint["codebook"])
    assert check_disjoint(value), f"{name} on disjoint samples: {value}"


def test_symmetric_metrics_are_symmetric(samples: dict[str, np.ndarray]) -> None:
    r, o = samples["reference"][:500], np.vstack([samples["same"][:200], samples["shifted"][:200]])
    codebook = r[:20]
    p, q = _counts(r, codebook), _counts(o, codebook)
    assert st.js_divergence(p, q) == st.js_divergence(q, p)
    assert _total_variation(p, q) == pytest.approx(_total_variation(q, p), abs=1e-15)
    forward = {row["cluster"]: row["change"] for row in st.cluster_shift(p, q)}
    backward = {row["cluster"]: row["change"] for row in st.cluster_shift(q, p)}
    assert forward == pytest.approx({k: -v for k, v in backward.items()}, abs=1e-15)
    # MMD^2 is symmetric once the bandwidth is fixed (the median heuristic draws its points at random)
    assert st.mmd(r, o, bandwidth=0.8, n_permutations=0).mmd2 == pytest.approx(
        st.mmd(o, r, bandwidth=0.8, n_permutations=0).mmd2, rel=1e-5
    )
    # the classifier sees the same two samples with the labels swapped (folds differ: close, not equal)
    assert st.classifier_auc(r, o) == pytest.approx(st.classifier_auc(o, r), abs=0.05)


def test_wasserstein_is_symmetric_up_to_its_normalisation() -> None:
    rng = np.random.default_rng(9)
    a, b = rng.normal(0.0, 1.0, 400), rng.normal(1.0, 3.0, 300)
    # W1 itself is symmetric; each direction divides it by the first argument's spread
    assert st.wasserstein(a, b) * a.std() == pytest.approx(st.wasserstein(b, a) * b.std(), rel=1e-12)


def test_novel_clusters_is_directional(samples: dict[str, np.ndarray]) -> None:
    """It asks what the window has that the reference lacks, so swapping the sides changes the answer."""
    narrow = samples["reference"][:600]
    wide = np.vstack([narrow, samples["shifted"][:300]])  # a third of it from topics the narrow one lacks
    assert st.novel_clusters(narrow, wide).share > 0.25
    assert st.novel_clusters(wide, narrow).share < 0.02


@pytest.mark.parametrize("seed", [0, 5])
def test_sliced_wasserstein_matches_scipy_direction_by_direction(seed: int, samples: dict[str, np.ndarray]) -> None:
    r, o = samples["reference"][:300].astype(np.float64), samples["shifted"][:200].astype(np.float64)
    directions = np.random.default_rng(seed).standard_normal((DIM, 16))  # the draw the docstring names
    directions /= np.linalg.norm(directions, axis=0, keepdims=True)
    expected = np.mean(
        [wasserstein_distance(r @ w, o @ w) / (r @ w).std() for w in directions.T]
    )
    assert st.wasserstein(r, o, n_projections=16, seed=seed) == pytest.approx(expected, rel=1e-10)


def test_cluster_shift_table_gives_back_the_js_divergence() -> None:
    p, q = np.array([50, 30, 20, 0]), np.array([25, 30, 20, 25])
    rows = sorted(st.cluster_shift(p, q), key=lambda row: row["cluster"])
    shares = [row["baseline_share"] for row in rows], [row["window_share"] for row in rows]
    assert st.js_divergence(*shares) == pytest.approx(st.js_divergence(p, q), rel=1e-12)
    assert sum(row["change"] for row in rows) == pytest.approx(0.0, abs=1e-15)


# --------------------------------------------------------------------------- js_divergence


@pytest.mark.parametrize("seed", range(5))
def test_js_matches_scipy_and_is_symmetric(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.random(30) * (rng.random(30) > 0.3)
    q = rng.integers(0, 50, 30).astype(float)
    q[0] += 1  # never all zero
    p[0] += 0.1
    expected = jensenshannon(p, q, base=2) ** 2
    assert st.js_divergence(p, q) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert st.js_divergence(p, q) == pytest.approx(st.js_divergence(q, p), rel=1e-12)
    assert 0.0 <= st.js_divergence(p, q) <= 1.0
    # scaling (counts vs shares) does not matter
    assert st.js_divergence(p * 7, q) == pytest.approx(st.js_divergence(p, q), rel=1e-12)


def test_js_bounds() -> None:
    assert st.js_divergence([3, 0], [0, 5]) == 1.0
    assert st.js_divergence([1, 2, 0, 0], [0, 0, 4, 1]) == pytest.approx(1.0, abs=1e-12)
    assert st.js_divergence([1, 2, 3], [2, 4, 6]) == 0.0
    assert 0.0 < st.js_divergence([1, 1], [1, 3]) < 1.0


# --------------------------------------------------------------------------- assign_nearest


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_assign_nearest_matches_brute_force(dtype: type) -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1000, 16)).astype(dtype)
    centroids = rng.standard_normal((7, 16)).astype(dtype)
    labels, dist = st.assign_nearest(x, centroids, batch_size=64)
    full = cdist(x.astype(np.float64), centroids.astype(np.float64))
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, full.argmin(axis=1))
    np.testing.assert_allclose(dist, full.min(axis=1), rtol=1e-5, atol=1e-5)


def test_assign_nearest_identical_points_have_zero_distance() -> None:
    rng = np.random.default_rng(0)
    c = random_centres(5, 384, rng).astype(np.float32)
    labels, dist = st.assign_nearest(c[[3, 1, 4]], c)
    np.testing.assert_array_equal(labels, [3, 1, 4])
    np.testing.assert_array_equal(dist, 0.0)


# --------------------------------------------------------------------------- wasserstein


@pytest.mark.parametrize("seed", range(3))
def test_wasserstein_1d_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(0.0, 2.0, 301)
    b = rng.gamma(2.0, 1.5, 517)
    expected = wasserstein_distance(a, b) / a.std()
    assert st.wasserstein(a, b) == pytest.approx(expected, rel=1e-10)
    # a (n, 1) array is the same single direction (up to its sign)
    assert st.wasserstein(a[:, None], b[:, None], n_projections=3) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("k", [0.5, 1.0, 3.0])
def test_wasserstein_shift_of_k_std_gives_k(k: float) -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(5.0, 2.0, 4000)
    assert st.wasserstein(a, a + k * a.std()) == pytest.approx(k, rel=1e-9)
    fresh = rng.normal(5.0, 2.0, 3000)
    assert st.wasserstein(a, fresh + k * a.std()) == pytest.approx(k, abs=0.1)


def test_wasserstein_is_unit_free_and_seeded(samples: dict[str, np.ndarray]) -> None:
    r, s = samples["reference"], samples["shifted"]
    base = st.wasserstein(r, s, seed=3)
    assert st.wasserstein(10 * r + 4, 10 * s + 4, seed=3) == pytest.approx(base, rel=1e-4)
    assert st.wasserstein(r, s, seed=3) == base
    # shifting every point by k std of the reference along one axis: about k on average
    # over directions, weighted by how much each direction sees that axis
    rng = np.random.default_rng(0)
    g = rng.standard_normal((3000, 3))
    shifted = g + np.array([2.0, 0.0, 0.0])
    value = st.wasserstein(g, shifted, n_projections=400)
    w = rng.standard_normal((200_000, 3))
    expected = 2.0 * np.mean(np.abs(w[:, 0]) / np.linalg.norm(w, axis=1))  # E|u.w| for isotropic g
    assert value == pytest.approx(expected, rel=0.08)


# --------------------------------------------------------------------------- mmd


def _brute_mmd2(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    kxx = np.exp(-cdist(x, x, "sqeuclidean") / (2 * sigma**2))
    kyy = np.exp(-cdist(y, y, "sqeuclidean") / (2 * sigma**2))
    kxy = np.exp(-cdist(x, y, "sqeuclidean") / (2 * sigma**2))
    m, n = len(x), len(y)
    return (
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )


def test_mmd_matches_brute_force(samples: dict[str, np.ndarray]) -> None:
    x = samples["reference"][:300].astype(np.float64)
    y = samples["shifted"][:200].astype(np.float64)
    result = st.mmd(x, y, bandwidth=0.8, n_permutations=10)
    assert result.mmd2 == pytest.approx(_brute_mmd2(x, y, 0.8), rel=1e-4)
    assert (result.n_reference, result.n_current, result.bandwidth) == (300, 200, 0.8)
    # default bandwidth: the median pairwise distance of the pooled points
    pooled = np.vstack([x, y])
    median = np.median(cdist(pooled, pooled)[np.triu_indices(len(pooled), 1)])
    assert st.mmd(x, y, n_permutations=0).bandwidth == pytest.approx(median, rel=1e-4)


def test_mmd_permutation_statistics_match_direct_formula() -> None:
    rng = np.random.default_rng(5)
    z = rng.standard_normal((40, 3))
    K = np.exp(-cdist(z, z, "sqeuclidean") / 2.0)
    m, n = 15, 25
    A = np.zeros((40, 6))
    splits = [rng.permutation(40)[:m] for _ in range(6)]
    for j, idx in enumerate(splits):
        A[idx, j] = 1.0
    got = _mmd2_columns(K, A, K.sum(axis=1), float(K.sum()), np.diagonal(K).copy(), m, n)
    for j, idx in enumerate(splits):
        rest = np.setdiff1d(np.arange(40), idx)
        assert got[j] == pytest.approx(_brute_mmd2(z[idx], z[rest], 1.0), rel=1e-9, abs=1e-12)


def test_mmd_p_values(samples: dict[str, np.ndarray]) -> None:
    far = st.mmd(samples["reference"], samples["shifted"], n_permutations=99)
    assert far.p_value <= 1 / 100 + 1e-12
    near = st.mmd(samples["reference"], samples["same"], n_permutations=99)
    assert near.p_value > 0.05
    assert abs(near.mmd2) < 0.05 * far.mmd2


def test_mmd_subsamples_and_is_seeded(samples: dict[str, np.ndarray]) -> None:
    r, s = samples["reference"], samples["same"]
    result = st.mmd(r, s, max_samples=100, n_permutations=20, seed=4)
    assert (result.n_reference, result.n_current) == (100, 100)
    assert st.mmd(r, s, max_samples=100, n_permutations=20, seed=4) == result
    assert st.mmd(r, s, max_samples=100, n_permutations=20, seed=5).mmd2 != result.mmd2
    assert st.mmd(r, s, n_permutations=0).p_value == 1.0


# --------------------------------------------------------------------------- classifier_auc


def test_classifier_auc_subsamples(samples: dict[str, np.ndarray]) -> None:
    auc = st.classifier_auc(samples["reference"], samples["shifted"], max_samples=200, n_folds=3)
    assert auc > 0.95
    partial = np.vstack([samples["same"][:600], samples["shifted"][:600]])
    mixed = st.classifier_auc(samples["reference"], partial)
    # half the window is separable: AUC about 0.5 + 0.5 / 2
    assert 0.65 < mixed < 0.85


# --------------------------------------------------------------------------- novel_clusters


def test_novel_clusters_finds_injected_topic() -> None:
    rng = np.random.default_rng(11)
    centres = random_centres(7, 64, rng)
    reference = unit_blobs(4000, centres[:6], rng)
    n_cur, n_new = 3000, 900  # 30 % of the window from a topic absent from the reference
    current = np.vstack([unit_blobs(n_cur - n_new, centres[:6], rng), unit_blobs(n_new, centres[6:], rng)])
    order = rng.permutation(n_cur)
    current = current[order]
    injected = order >= n_cur - n_new

    result = st.novel_clusters(reference, current)
    assert abs(result.share - 0.3) < 0.03
    assert result.labels.shape == (n_cur,) and result.labels.dtype == np.int64
    assert result.novel_mask.dtype == bool and result.novel_mask.shape == (n_cur,)
    assert np.array_equal(result.novel_mask, result.labels >= 0)
    assert result.novel_mask.sum() == sum(c["size"] for c in result.clusters)
    assert result.share == pytest.approx(result.novel_mask.mean())
    assert np.mean(injected[result.novel_mask]) > 0.95  # novel points really are the new topic
    assert np.mean(result.novel_mask[injected]) > 0.9  # and most of the new topic is found
    sizes = [c["size"] for c in result.clusters]
    assert sizes == sorted(sizes, reverse=True)
    assert [c["id"] for c in result.clusters] == list(range(len(result.clusters)))
    for cluster in result.clusters:
        assert cluster["distance_ratio"] > 1
        assert cluster["share"] == pytest.approx(cluster["size"] / n_cur)
        members = np.array(cluster["members"])
        assert 0 < len(members) <= 20
        assert np.all(result.labels[members] == cluster["id"])
        centre = current[result.labels == cluster["id"]].mean(axis=0)
        d = np.linalg.norm(current[members] - centre, axis=1)
        assert np.all(np.diff(d) >= -1e-3)  # closest first (centroid ~ cluster mean)


def test_novel_clusters_cutoff_is_the_references_own_quantile() -> None:
    """The cut-off is the 99th percentile of leave-one-out 3-NN distances within the reference."""
    rng = np.random.default_rng(5)
    reference = unit_blobs(300, random_centres(3, 16, rng), rng)
    d = cdist(reference, reference)
    np.fill_diagonal(d, np.inf)
    loo = np.sort(d, axis=1)[:, :3].mean(axis=1)
    result = st.novel_clusters(reference, reference[:50])
    assert result.cutoff == pytest.approx(np.quantile(loo, 0.99), rel=1e-4)


def test_novel_clusters_same_distribution() -> None:
    rng = np.random.default_rng(12)
    centres = random_centres(6, 64, rng)
    reference = unit_blobs(4000, centres, rng)
    current = unit_blobs(3000, centres, rng)
    result = st.novel_clusters(reference, current)
    assert result.share < 0.02
    small = st.novel_clusters(reference, current[:400], seed=1)
    assert small.share < 0.02


def test_novel_clusters_subsample_extends_to_every_point() -> None:
    """With a window larger than max_samples, points outside the subsample are labelled too."""
    rng = np.random.default_rng(14)
    centres = random_centres(4, 32, rng)
    reference = unit_blobs(2000, centres[:3], rng)
    current = np.vstack([unit_blobs(1400, centres[:3], rng), unit_blobs(600, centres[3:], rng)])
    full = st.novel_clusters(reference, current)
    sub = st.novel_clusters(reference, current, max_samples=500)
    assert abs(full.share - 0.3) < 0.03 and abs(sub.share - 0.3) < 0.03
    assert sub.novel_mask[1400:].mean() > 0.9 and sub.novel_mask[:1400].mean() < 0.02


def test_novel_clusters_size_floor() -> None:
    rng = np.random.default_rng(13)
    centres = random_centres(3, 16, rng)
    reference = unit_blobs(2000, centres[:2], rng)
    current = np.vstack([unit_blobs(990, centres[:2], rng), unit_blobs(10, centres[2:], rng)])
    assert st.novel_clusters(reference, current, n_clusters=1).share >= 0.01
    assert st.novel_clusters(reference, current, n_clusters=1, min_cluster_size=50).share == 0.0


def test_novel_clusters_tiny_inputs() -> None:
    x = np.eye(4, dtype=np.float32)
    result = st.novel_clusters(x, x)
    assert result.share == 0.0 and result.labels.tolist() == [-1] * 4
    # a window of one repeated point far from every reference point is all novel
    far = np.repeat(x[:1] + 10, 12, axis=0)
    assert st.novel_clusters(np.eye(4)[1:], far, min_cluster_size=1).share == 1.0
    with pytest.raises(ValueError, match="at least 2 samples"):
        st.novel_clusters(x[:1], x)


# --------------------------------------------------------------------------- cluster_shift


def test_cluster_shift_rows() -> None:
    rows = st.cluster_shift([50, 30, 20, 0], [25, 30, 20, 25])
    assert [r["cluster"] for r in rows] == [0, 3, 1, 2]
    by_id = {r["cluster"]: r for r in rows}
    assert by_id[0]["baseline_share"] == pytest.approx(0.5)
    assert by_id[0]["window_share"] == pytest.approx(0.25)
    assert by_id[0]["change"] == pytest.approx(-0.25)
    assert by_id[0]["ratio"] == pytest.approx(0.5)
    assert by_id[3]["ratio"] is None and by_id[3]["change"] == pytest.approx(0.25)
    assert by_id[1]["ratio"] == pytest.approx(1.0) and by_id[1]["change"] == pytest.approx(0.0)


# --------------------------------------------------------------------------- validation


def test_validation_messages() -> None:
    good = np.ones((5, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="reference is empty"):
        st.wasserstein(np.empty((0, 3)), good)
    with pytest.raises(ValueError, match="current is empty"):
        st.mmd(good, np.empty((0, 3)))
    with pytest.raises(ValueError, match="dimension mismatch: reference has dimension 3 but current has dimension 4"):
        st.classifier_auc(good, np.ones((5, 4)))
    with pytest.raises(ValueError, match="dimension mismatch: x has dimension 3 but centroids has dimension 2"):
        st.assign_nearest(good, np.ones((2, 2)))
    bad = good.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="current contains NaN"):
        st.novel_clusters(good, bad)
    with pytest.raises(ValueError, match="x contains NaN"):
        st.assign_nearest(bad, good)
    with pytest.raises(ValueError, match="reference must be 2-D"):
        st.mmd(np.ones(5), np.ones(5))
    with pytest.raises(ValueError, match="q has negative entries"):
        st.js_divergence([1, 2], [1, -2])
    with pytest.raises(ValueError, match="length mismatch: p has 2 entries but q has 3"):
        st.js_divergence([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="p sums to 0"):
        st.js_divergence([0, 0], [1, 2])
    with pytest.raises(ValueError, match="p is empty"):
        st.js_divergence([], [])
    with pytest.raises(ValueError, match="reference_counts contains NaN"):
        st.cluster_shift([np.nan, 1], [1, 1])
    with pytest.raises(ValueError, match="reference needs at least 2 samples"):
        st.mmd(good[:1], good)
    with pytest.raises(ValueError, match="current needs at least n_folds=5 samples"):
        st.classifier_auc(good, good[:3])
    with pytest.raises(ValueError, match="bandwidth must be a positive"):
        st.mmd(good, good, bandwidth=0.0)
