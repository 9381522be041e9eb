"""The decision rules on given metrics: tier boundaries, benign vs degradation, persistence, retrain."""

from __future__ import annotations

import pytest

from drift_tracking.comparison import Measurements, SideMeasurements
from drift_tracking.errors import ConfigError
from drift_tracking.policy import Level, Policy, QualityLevels
from drift_tracking.quality import QualityInputs
from drift_tracking.report import DriftReport

# Explicit levels keep these tests about the rules, not about a calibration.
LEVELS = {"js_divergence": Level(0.02, 0.04, 0.20), "novel_cluster_share": Level(0.05, 0.10, 0.30)}
CALM = {"js_divergence": 0.01, "novel_cluster_share": 0.0}


def _measured(metrics=None, quality=None) -> Measurements:
    return Measurements(prompts=SideMeasurements(dict(metrics or CALM)), n_samples=400, quality=quality or {})


def _decide(metrics=None, quality=None, history=(), policy=None) -> DriftReport:
    policy = policy or Policy(mode="fixed", levels=LEVELS)
    found = _measured(metrics, quality)
    decision = policy.decide(found, None, history=history)
    return DriftReport.assemble(found, decision, model={}, baseline={}, n_baseline=1500, created_at="")


def _golden(baseline: float, current: float) -> dict:
    return QualityInputs(golden={"accuracy": current, "n": 1000}, reference={"golden_accuracy": baseline}).signals()


@pytest.mark.parametrize(
    ("baseline", "current", "tier"),
    [
        (1.0, 0.951, "ok"),  # 4.9% drop
        (0.8, 0.76, "review"),  # exactly 5% (0.04 / 0.8 is 0.0499999... in floating point)
        (1.0, 0.95, "review"),  # exactly 5%
        (0.8, 0.68, "review"),  # exactly 15%
        (1.0, 0.85, "review"),  # exactly 15%
        (1.0, 0.849, "critical"),  # 15.1%
    ],
)
def test_golden_accuracy_tier_boundaries(baseline, current, tier):
    report = _decide(quality=_golden(baseline, current))
    assert report.tier == tier, report.tier_reasons
    assert report.drift_kind == ("none" if tier == "ok" else "degradation")


@pytest.mark.parametrize(("current", "tier"), [(0.951, "ok"), (0.95, "review"), (0.85, "review"), (0.849, "critical")])
def test_reward_score_tier_boundaries(current, tier):
    quality = QualityInputs(rewards=[current] * 10, reference={"reward_mean": 1.0}).signals()
    report = _decide(quality=quality)
    assert report.tier == tier, report.tier_reasons
    assert quality["reward"]["relative_drop"] == pytest.approx(1.0 - current)


def test_material_degradation_is_a_drop_over_ten_percent():
    assert not _decide(quality=_golden(1.0, 0.90)).material_degradation
    flagged = _decide(quality=_golden(1.0, 0.899))
    assert flagged.material_degradation and flagged.tier == "review"
    assert any("material" in r for r in flagged.tier_reasons)


def test_drifted_inputs_with_stable_quality_are_benign_and_capped_at_review():
    extreme = {"js_divergence": 0.5, "novel_cluster_share": 0.4}
    report = _decide(extreme, quality=_golden(0.9, 0.89))  # 1.1% drop: stable
    assert report.drift_signal == "critical"
    assert report.drift_kind == "benign"
    assert report.tier == "review"
    assert report.tier_reasons[0].startswith("review, not critical") and "benign" in report.tier_reasons[0]
    assert not any(r.startswith("critical:") for r in report.tier_reasons)  # no escalation was made


def test_golden_drop_with_drift_is_degradation_and_critical():
    report = _decide({"js_divergence": 0.5, "novel_cluster_share": 0.4}, quality=_golden(0.9, 0.6))
    assert report.drift_kind == "degradation" and report.tier == "critical"
    assert report.material_degradation


def test_quality_drop_without_input_drift_is_degradation():
    report = _decide(quality=_golden(0.9, 0.7))
    assert report.drift_signal == "none" and report.drift_kind == "degradation" and report.tier == "critical"


def test_drift_without_quality_evidence_is_unknown_kind():
    report = _decide({"js_divergence": 0.03, "novel_cluster_share": 0.0})
    assert report.tier == "review" and report.drift_kind == "unknown"


def test_one_window_spike_then_recovery_never_goes_critical():
    policy = Policy(mode="fixed", levels=LEVELS)
    history: list[dict] = []
    tiers = []
    for js in (0.01, 0.06, 0.01, 0.06, 0.01):  # critical-level spikes, each followed by recovery
        report = _decide({"js_divergence": js, "novel_cluster_share": 0.0}, history=history, policy=policy)
        history.append(report.to_dict())
        tiers.append(report.tier)
    assert tiers == ["ok", "review", "ok", "review", "ok"]
    assert "escalates after 2 consecutive windows" in history[1]["tier_reasons"][0]


def test_persistent_drift_escalates_after_n_windows():
    for windows, expected in ((2, ["review", "critical", "critical"]), (3, ["review", "review", "critical"])):
        policy = Policy(mode="fixed", levels=LEVELS, persistence=windows)
        history: list[dict] = []
        for _ in range(3):
            history.append(_decide({"js_divergence": 0.06, "novel_cluster_share": 0.0}, history=history,
                                   policy=policy).to_dict())
        assert [h["tier"] for h in history] == expected
        assert "persisted over" in history[-1]["tier_reasons"][0]


def test_reasons_are_data_rendered_to_words_not_parsed():
    report = _decide({"js_divergence": 0.06, "novel_cluster_share": 0.0}, quality=_golden(1.0, 0.9))
    level = next(r for r in report.reasons if r["kind"] == "level")
    assert (level["tier"], level["metric"], level["value"], level["level"]) == ("critical", "js_divergence", 0.06, 0.04)
    assert len(report.reasons) == len(report.tier_reasons)
    assert any("Jensen-Shannon divergence 0.060 >= 0.040" in words for words in report.tier_reasons)
    # the headline is what made the tier: the persistence hold, then the quality drop, before the level found
    assert [r["kind"] for r in report.reasons] == ["held", "quality", "level"]


def test_decisions_and_reports_are_immutable():
    import dataclasses

    report = _decide({"js_divergence": 0.06, "novel_cluster_share": 0.0})
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.tier = "ok"
    with pytest.raises(dataclasses.FrozenInstanceError):
        Policy().persistence = 5


def test_extreme_drift_is_critical_without_history():
    report = _decide({"js_divergence": 0.25, "novel_cluster_share": 0.0})
    assert report.tier == "critical" and "extreme" in " ".join(report.tier_reasons)


def test_retrain_when_novel_share_stays_above_thirty_percent():
    policy = Policy(mode="fixed", levels=LEVELS)
    high = {"js_divergence": 0.01, "novel_cluster_share": 0.35}
    first = _decide(high, policy=policy)
    assert not first.retrain_recommended  # one window is not "stays"
    second = _decide(high, history=[first.to_dict()], policy=policy)
    assert second.retrain_recommended and "30%" in second.retrain_reason
    after_gap = _decide(high, history=[first.to_dict(), _decide(policy=policy).to_dict()], policy=policy)
    assert not after_gap.retrain_recommended


def test_retrain_when_drift_persists_over_the_horizon():
    policy = Policy(mode="fixed", levels=LEVELS)
    history: list[dict] = []
    for _ in range(3):
        report = _decide({"js_divergence": 0.03, "novel_cluster_share": 0.0}, history=history, policy=policy)
        history.append(report.to_dict())
    assert [h["retrain_recommended"] for h in history] == [False, False, True]
    assert "horizon 3" in report.retrain_reason


def test_rising_flag_rate_is_a_quality_signal():
    quality = QualityInputs(flags=[True] * 6 + [False] * 94, reference={"flag_rate": 0.03}).signals()
    assert quality["feedback"]["relative_increase"] == pytest.approx(1.0)
    report = _decide(quality=quality)
    assert report.tier == "review" and report.drift_kind == "degradation"
    assert _decide(quality=QualityInputs(flags=[True] * 7 + [False] * 93, reference={"flag_rate": 0.03}).signals()).tier == "critical"


def test_fixed_mode_uses_the_rule_of_thumb_and_says_so():
    report = _decide({"js_divergence": 0.16, "novel_cluster_share": 0.0}, policy=Policy(mode="fixed"))
    assert report.thresholds["source"] == "fixed"
    assert report.thresholds["values"]["js_divergence"] == {"review": 0.15, "critical": 0.25}
    assert report.tier == "review"


def test_calibrated_mode_refuses_an_uncalibrated_baseline():
    with pytest.raises(ConfigError, match="no calibration"):
        Policy(mode="calibrated").decide(_measured(), None)


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (lambda: QualityLevels(review_drop=0.2, critical_drop=0.1), "quality.review_drop"),
        (lambda: QualityLevels(review_drop=-0.1), "quality.review_drop"),
        (lambda: Policy(mode="adaptive"), "thresholds.mode"),
        (lambda: Policy(persistence=0), "persistence.windows"),
    ],
)
def test_bad_rules_name_the_key(make, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        make()


def test_new_topics_with_a_stable_golden_set_are_benign_on_real_text(baseline, drifted_window, embedder):
    """40% new-topic prompts (extreme drift) while the model still answers the golden set."""
    from drift_tracking.comparison import compare

    prompts = [s.prompt for s in drifted_window]
    stable = QualityInputs(golden={"accuracy": 0.9, "n": 50}, reference={"golden_accuracy": 0.92})
    benign = compare(baseline, prompts, embedder=embedder, quality=stable)
    assert benign.drift_signal == "critical"
    assert (benign.drift_kind, benign.tier) == ("benign", "review")
    dropped = QualityInputs(golden={"accuracy": 0.7, "n": 50}, reference={"golden_accuracy": 0.92})
    degraded = compare(baseline, prompts, embedder=embedder, quality=dropped)
    assert (degraded.drift_kind, degraded.tier, degraded.material_degradation) == ("degradation", "critical", True)
