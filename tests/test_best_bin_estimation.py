"""unexplained_share: known answers on synthetic data, determinism, input validation."""

from __future__ import annotations

import numpy as np
import pytest

from drift_tracking.statistics.best_bin_estimation import estimate_from_scores, reference_scores, unexplained_share


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _topics(rng: np.random.Generator, centres: np.ndarray, n: int, spread: float = 0.5) -> np.ndarray:
    """Unit vectors scattered around randomly chosen topic centres, like sentence embeddings."""
    which = rng.integers(0, len(centres), n)
    return _unit(centres[which] + spread * rng.standard_normal((n, centres.shape[1])) / np.sqrt(centres.shape[1]))


@pytest.fixture(scope="module")
def space() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(42)
    centres = _unit(rng.standard_normal((30, 32)))
    return {
        "baseline": _topics(rng, centres[:20], 3000),
        "seen": _topics(rng, centres[:20], 2000),
        "unseen": _topics(rng, centres[20:], 2000),
    }


def test_same_distribution_is_near_zero(space: dict[str, np.ndarray]) -> None:
    result = unexplained_share(space["baseline"], space["seen"][:1000])
    assert result.share <= 0.03
    assert abs(result.auc - 0.5) < 0.05


def test_identical_samples_are_fully_explained(space: dict[str, np.ndarray]) -> None:
    # A window copied from the baseline sits at distance 0 from it: nothing is new.
    result = unexplained_share(space["baseline"], space["baseline"][:800])
    assert result.share == 0.0


@pytest.mark.parametrize("share", [0.1, 0.25, 0.4])
def test_known_mixture_proportion_is_recovered(space: dict[str, np.ndarray], share: float) -> None:
    n = 1500
    k = int(share * n)
    window = np.vstack([space["seen"][: n - k], space["unseen"][:k]])
    assert unexplained_share(space["baseline"], window).share == pytest.approx(share, abs=0.04)


def test_disjoint_window_is_fully_unexplained(space: dict[str, np.ndarray]) -> None:
    result = unexplained_share(space["baseline"], space["unseen"][:500])
    assert result.share == 1.0
    assert result.auc > 0.99


def test_change_of_mix_among_known_topics_is_explained() -> None:
    # Topic 0 three times as frequent in the window as in the baseline: a mix shift, nothing new.
    rng = np.random.default_rng(3)
    centres = _unit(rng.standard_normal((10, 32)))
    baseline = _topics(rng, centres, 3000)
    heavy = _topics(rng, centres[:1], 450)
    window = np.vstack([heavy, _topics(rng, centres[1:], 1050)])
    assert unexplained_share(baseline, window).share <= 0.05


def test_same_seed_same_answer_and_subsampling_depends_on_seed(space: dict[str, np.ndarray]) -> None:
    window = np.vstack([space["seen"][:1200], space["unseen"][:400]])
    kwargs = {"max_reference": 1000, "max_current": 500}
    first = unexplained_share(space["baseline"], window, seed=7, **kwargs)
    assert unexplained_share(space["baseline"], window, seed=7, **kwargs) == first
    others = {unexplained_share(space["baseline"], window, seed=s, **kwargs).share for s in range(5)}
    assert len(others) > 1
    assert first.n_reference == 1000 and first.n_current == 500


def test_precomputed_reference_scores_give_the_same_estimate(space: dict[str, np.ndarray]) -> None:
    window = np.vstack([space["seen"][:900], space["unseen"][:300]])
    ref, scores = reference_scores(space["baseline"], max_reference=2000, seed=1)
    direct = unexplained_share(space["baseline"], window, max_reference=2000, seed=1)
    reused = unexplained_share(ref, window, reference_scores=scores, max_reference=2000, seed=1)
    assert reused == direct


def test_estimate_from_scores_matches_the_definition() -> None:
    # 30% of the window scores beyond every baseline score; the rest matches the baseline.
    base = np.linspace(0.0, 1.0, 400)
    window = np.concatenate([np.linspace(0.0, 1.0, 140), np.full(60, 5.0)])
    result = estimate_from_scores(base, window)
    assert result.share == pytest.approx(0.3, abs=0.01)
    assert result.auc == pytest.approx(0.5 * 0.7 + 1.0 * 0.3, abs=0.01)


@pytest.mark.parametrize(
    ("reference", "current", "kwargs", "message"),
    [
        (np.zeros((10, 4)), np.zeros((10, 3)), {}, "dimension mismatch"),
        (np.zeros(10), np.zeros((10, 4)), {}, "reference must be 2-D"),
        (np.zeros((10, 4)), np.zeros((0, 4)), {}, "current is empty"),
        (np.full((10, 4), np.nan), np.zeros((10, 4)), {}, "reference contains NaN"),
        (np.array([["a"] * 4] * 10), np.zeros((10, 4)), {}, "reference must be numeric"),
        (np.zeros((3, 4)), np.zeros((10, 4)), {}, "more than n_neighbors=3 rows"),
        (np.zeros((10, 4)), np.zeros((10, 4)), {"n_neighbors": 0}, "n_neighbors must be an integer >= 1"),
        (np.zeros((10, 4)), np.zeros((10, 4)), {"max_current": 0}, "max_current must be an integer >= 1"),
        (np.zeros((10, 4)), np.zeros((10, 4)), {"delta": 1.5}, "delta must be in"),
        (np.zeros((10, 4)), np.zeros((10, 4)), {"reference_scores": np.zeros(3)}, "one score per reference row"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(reference, current, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        unexplained_share(reference, current, **kwargs)


def test_bad_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="current_scores must be a non-empty 1-D"):
        estimate_from_scores([1.0, 2.0], [])
    with pytest.raises(ValueError, match="reference_scores contains NaN"):
        estimate_from_scores([1.0, np.nan], [1.0])
