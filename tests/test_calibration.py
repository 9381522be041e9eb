"""Calibrated thresholds, tested statistically on real embeddings of generated traffic.

No-drift windows are random draws of the calibrated size from 1,600 fresh prompts of the
baseline's own distribution (same generator and topics, another seed); the calibrated
levels must flag at most ~5% of them, and the fixed JS 0.15 level's rate is reported
beside it. A window with 20% novel-topic prompts must be flagged.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from drift_tracking import demo
from drift_tracking.calibration import calibrated_metric_names, levels_from_null, null_distribution
from drift_tracking.comparison import compare_embeddings, decide_report, measure
from drift_tracking.errors import DataError
from drift_tracking.policy import Policy, Thresholds
from drift_tracking.statistics import js_divergence

N_NULL_WINDOWS = 30


@pytest.fixture(scope="module")
def pool(embedder):
    return embedder.encode([s.prompt for s in demo.generate(1600, seed=21)])


@pytest.fixture(scope="module")
def window_size(baseline):
    return int(baseline.calibration_["window_size"])


def calibrated_thresholds(baseline, window_size: int) -> Thresholds:
    return Policy(mode="calibrated").thresholds(baseline, window_size)


@pytest.fixture(scope="module")
def null_measurements(baseline, pool, window_size):
    rng = np.random.default_rng(7)
    return [measure(baseline, pool[rng.choice(len(pool), window_size, replace=False)], seed=i)
            for i in range(N_NULL_WINDOWS)]


@pytest.fixture(scope="module")
def null_reports(baseline, null_measurements):
    return [decide_report(found, baseline, Policy()) for found in null_measurements]


def test_calibration_is_stored_as_json_in_the_baseline(baseline, window_size):
    fit = json.loads((baseline.path / "fit.json").read_text())
    entry = fit["calibration"]["sizes"][str(window_size)]
    assert fit["calibration"]["method"] == "leave-chunk-out"
    assert set(entry["null"]) == set(calibrated_metric_names())
    assert len(entry["null"]["js_divergence"]) == entry["n_draws"] >= 40
    assert entry["n_reference"] == len(baseline) - window_size
    assert baseline.describe()["calibrated"] is True


def test_calibrated_levels_are_far_below_the_rule_of_thumb(baseline, window_size):
    thresholds = calibrated_thresholds(baseline, window_size)
    js = thresholds.levels["js_divergence"]
    assert thresholds.source == "calibrated"
    assert 0 < js.review < js.critical < 0.15  # healthy JS is ~0.01: 0.15 never fires
    assert thresholds.levels["novel_cluster_share"].review >= 0.05  # floors where the null is 0


def test_no_drift_windows_rarely_alarm_with_calibrated_levels(baseline, null_measurements, null_reports, record_property,
                                                             capsys):
    calibrated = [r.tier != "ok" for r in null_reports]
    fixed = [Policy(mode="fixed").decide(found, baseline).tier != "ok" for found in null_measurements]
    fixed_js = [r.metrics["js_divergence"] >= 0.15 for r in null_reports]
    rates = {"calibrated": np.mean(calibrated), "fixed": np.mean(fixed), "fixed_js_0.15": np.mean(fixed_js)}
    record_property("false_alarm_rates", rates)
    with capsys.disabled():
        print(f"\nfalse-alarm rates over {N_NULL_WINDOWS} no-drift windows: "
              + ", ".join(f"{k} {v:.1%}" for k, v in rates.items()))
    assert sum(calibrated) <= 2, [r.tier_reasons for r in null_reports if r.tier != "ok"]
    assert all(r.thresholds["source"] == "calibrated" for r in null_reports)


def test_twenty_percent_novel_topics_are_flagged(baseline, embedder, window_size, null_reports, capsys):
    window = demo.generate(window_size, seed=31, novel_share=0.2)
    found = measure(baseline, embedder.encode([s.prompt for s in window]))
    report, fixed = decide_report(found, baseline, Policy()), Policy(mode="fixed").decide(found, baseline)
    with capsys.disabled():
        print(f"\n20% novel topics: calibrated {report.tier}, fixed levels {fixed.tier}")
    assert report.tier != "ok", report.metrics
    assert report.drift_signal != "none"
    # it stands out from every no-drift window on the metric that flagged it
    flagged = [m for m, level in report.thresholds["values"].items() if report.metrics[m] >= level["review"]]
    assert flagged
    assert all(report.metrics[flagged[0]] > r.metrics[flagged[0]] for r in null_reports)


def test_every_window_size_gets_levels_without_recalibrating(baseline, pool, window_size):
    """Levels come from the calibrated grid: exact on it, interpolated between, extended beyond."""
    before = json.dumps(baseline.calibration_, sort_keys=True)
    sizes = [int(s) for s in baseline.calibration_["sizes"]]
    assert window_size in sizes and min(sizes) <= 100 and len(sizes) >= 4
    on_grid = calibrated_thresholds(baseline, 200)
    between = calibrated_thresholds(baseline, 300)
    beyond = calibrated_thresholds(baseline, len(baseline))  # a window as large as the baseline
    assert (on_grid.detail["how"], between.detail["how"], beyond.detail["how"]) == ("calibrated", "interpolated",
                                                                                    "extrapolated")
    js = [t.levels["js_divergence"].review for t in (on_grid, between, beyond)]
    wasserstein = [t.levels["wasserstein"].review for t in (on_grid, between, beyond)]
    # smaller windows are noisier, so their levels are higher (down to the effect-size floor)
    assert js[0] >= js[1] >= js[2] and wasserstein[0] >= wasserstein[1] >= wasserstein[2]
    report = compare_embeddings(baseline, pool[: len(baseline) // 2 + 50])
    assert report.thresholds["how"] == "extrapolated" and not report.warnings
    assert json.dumps(baseline.calibration_, sort_keys=True) == before  # nothing derived into the baseline


def test_interpolation_follows_a_power_law_between_grid_sizes():
    from drift_tracking.calibration import _interpolate

    # a level going as n^-1/2 is exact between and beyond two grid points
    assert _interpolate(400, [100, 1600], [0.1, 0.025]) == pytest.approx(0.05)
    assert _interpolate(6400, [100, 1600], [0.1, 0.025]) == pytest.approx(0.0125)
    assert _interpolate(500, [100, 1000], [0.0, 0.0]) == 0.0  # a null of zeros stays zero


def test_levels_extrapolated_far_beyond_the_grid_keep_their_floors_and_order():
    """Each level follows its own power law; lines of different slopes cross far enough out."""
    from types import SimpleNamespace

    from drift_tracking.calibration import calibrated_levels

    rng = np.random.default_rng(3)
    noisy, tight = (rng.normal(0.5, 0.1, 40) + 0.1).tolist(), rng.normal(0.45, 0.01, 40).tolist()
    baseline = SimpleNamespace(calibration_={"sizes": {
        "100": {"n_draws": 40, "n_reference": 900, "null": {"wasserstein": noisy}},
        "200": {"n_draws": 40, "n_reference": 800, "null": {"wasserstein": tight}},
    }})
    for window_size in (150, 10**4, 10**8):
        review, critical, extreme = calibrated_levels(baseline, window_size)[0]["wasserstein"]
        assert review >= 0.08 and critical >= 0.10 and review <= critical <= extreme, window_size


def test_leaving_the_chunk_out_raises_the_null(baseline, window_size):
    """A chunk compared to a reference that contains it looks closer than it is (biased low)."""
    ref = baseline.prompts_
    left_out = null_distribution(ref, window_size, n_draws=20, metrics=("outlier_share", "js_divergence"))
    labels, _ = ref.assign(ref.embeddings_)
    counts = np.bincount(labels, minlength=ref.n_clusters)
    rng = np.random.default_rng(0)  # the same chunks compared to the whole baseline, chunk included
    js_included = [js_divergence(counts, np.bincount(labels[rng.choice(len(labels), window_size, replace=False)],
                                                      minlength=ref.n_clusters)) for _ in range(20)]
    assert np.mean(left_out["js_divergence"]) > np.mean(js_included)


def test_levels_from_null_follow_the_documented_rule():
    values = [0.01] * 50 + [0.02] * 50
    sd = float(np.std(values, ddof=1))
    review, critical, extreme = levels_from_null("a_metric_without_a_spec", values)
    assert review == pytest.approx(0.015 + 3 * sd, abs=1e-6)
    assert critical == pytest.approx(review + 3 * sd, abs=1e-6)
    assert extreme == pytest.approx(max(critical + 12 * sd, 2 * critical), abs=1e-6)
    # a spec's floor holds when the null is tighter than the effect worth a look
    assert levels_from_null("js_divergence", [v / 10 for v in values])[:2] == (0.02, 0.05)
    assert levels_from_null("novel_cluster_share", [0.0] * 20) == (0.05, 0.10, 0.30)
    # the unexplained share's review level is the null's mean + 2 sd (its spec's null_level)
    assert levels_from_null("unexplained_share", values)[0] == pytest.approx(0.015 + 2 * sd, abs=1e-6)


def test_calibrating_a_window_over_half_the_baseline_is_refused(baseline):
    with pytest.raises(DataError, match="window_size <= n/2"):
        null_distribution(baseline.prompts_, len(baseline) // 2 + 1)
