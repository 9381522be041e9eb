"""From metrics to a decision: thresholds, tier, drift kind, retrain advice, with reasons.

The rules, in the order they are applied (each leaves a plain-words reason):

1. **Drift signal.** Each decision metric is compared to its levels. Levels come from the
   baseline's calibration (the null distribution of the metric on chunks of the
   baseline's own data, see :mod:`drift_tracking.calibration`) or, in ``fixed`` mode, from
   the rule of thumb teams start from (JS 0.15 / 0.25, novel clusters 30% / 40%).
2. **Persistence.** A critical-level signal makes the window ``critical`` only when drift
   was seen in the previous ``persistence - 1`` windows too, or when it is *extreme*
   (far past the critical level, or 30%+ of prompts from unseen topics). A one-window
   spike is ``review``.
3. **Quality.** Relative drops ``(baseline - current) / baseline`` of golden-set accuracy
   and mean reward: ``review`` from 5% (inclusive), ``critical`` above 15%; a golden
   accuracy drop above 10% is ``material_degradation``. A rising user-flag rate counts too.
4. **Benign or degradation.** Drifted inputs with stable golden accuracy and reward are
   ``benign`` (users changed, the model did not get worse): the tier stays at ``review`` at
   most. A quality drop is ``degradation``. Drift without any quality signal is ``unknown``.
5. **Retrain advice** when the novel-cluster share stays above 30% or drift persists over
   the retrain horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drift_tracking.calibration import EXTREME_NOVEL_SHARE, calibrated_levels
from drift_tracking.errors import ConfigError
from drift_tracking.report import TIER_LEVEL, TIERS, DriftReport

if TYPE_CHECKING:
    from collections.abc import Sequence

    from drift_tracking.baseline import Baseline

THRESHOLD_MODES = ("auto", "calibrated", "fixed")

# Metrics where larger means more drift, with fixed (review, critical) levels.
# JS is the divergence (base 2), not scipy's distance (its square root).
FIXED_LEVELS: dict[str, tuple[float, float]] = {
    "js_divergence": (0.15, 0.25),
    "novel_cluster_share": (0.30, 0.40),
}

_DESCRIPTIONS = {
    "js_divergence": "cluster mix shifted (Jensen-Shannon divergence {value:.3f} >= {level:.3f})",
    "novel_cluster_share": "{value:.0%} of prompts fall in clusters the baseline has never seen (>= {level:.0%})",
    "wasserstein": "embedding distribution moved (normalised Wasserstein {value:.3f} >= {level:.3f})",
    "mmd": "MMD two-sample statistic {value:.4f} >= {level:.4f}",
    "classifier_auc": "a classifier tells window from baseline (ROC AUC {value:.2f} >= {level:.2f})",
    "outlier_share": "{value:.1%} of prompts lie beyond the baseline's 99th-percentile distance (>= {level:.1%})",
}


@dataclass(frozen=True)
class Level:
    """Review and critical levels of one metric; ``extreme`` escalates without persistence."""

    review: float
    critical: float
    extreme: float = math.inf

    def __post_init__(self) -> None:
        check_levels("level", self.review, self.critical, self.extreme)


def check_levels(
    key: str, review: float, critical: float, extreme: float = math.inf,
    names: tuple[str, str, str] = ("review", "critical", "extreme"),
) -> None:
    """Raise :class:`ConfigError` naming the key (``key.review`` ...) of a negative or misordered level."""
    r, c, e = (f"{key}.{name}" for name in names)
    for full, value in ((r, review), (c, critical), (e, extreme)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
            raise ConfigError(f"{full} must be a number, got {value!r}")
        if value < 0:
            raise ConfigError(f"{full} must be >= 0, got {value}")
    if review > critical:
        raise ConfigError(f"{r} ({review}) is above {c} ({critical}); the review level must be the lower one")
    if critical > extreme:
        raise ConfigError(f"{e} ({extreme}) is below {c} ({critical})")


def fixed_levels() -> dict[str, Level]:
    """The rule-of-thumb levels of ``thresholds: fixed``."""
    levels = {name: Level(*pair) for name, pair in FIXED_LEVELS.items()}
    novel = levels["novel_cluster_share"]
    levels["novel_cluster_share"] = Level(novel.review, novel.critical, max(novel.critical, EXTREME_NOVEL_SHARE))
    return levels


@dataclass(frozen=True)
class QualityLevels:
    """Relative drops (and flag-rate rises) that make a window ``review`` or ``critical``.

    ``review_drop`` is inclusive (a 5.0% drop is review), ``critical_drop`` exclusive (15.0%
    is review, 15.1% critical), as in "drops of 5-15% go to the weekly review queue".
    """

    review_drop: float = 0.05
    critical_drop: float = 0.15
    material_drop: float = 0.10
    flag_review_increase: float = 0.5
    flag_critical_increase: float = 1.0

    def __post_init__(self) -> None:
        check_levels("quality", self.review_drop, self.critical_drop, names=("review_drop", "critical_drop", ""))
        check_levels("quality", self.flag_review_increase, self.flag_critical_increase,
                     names=("flag_review_increase", "flag_critical_increase", ""))
        if not 0 <= self.material_drop <= 1:
            raise ConfigError(f"quality.material_drop must be within [0, 1], got {self.material_drop}")

    def tier_for_drop(self, drop: float) -> str:
        return _tier(drop, self.review_drop, self.critical_drop)

    def tier_for_flag_increase(self, increase: float) -> str:
        return _tier(increase, self.flag_review_increase, self.flag_critical_increase)


def _tier(change: float, review: float, critical: float) -> str:
    """``review`` from ``review`` (inclusive), ``critical`` above ``critical``."""
    change = round(change, 9)  # (0.8 - 0.76) / 0.8 is 0.04999...: compare what people mean
    if change > critical:
        return "critical"
    return "review" if change >= review else "ok"


@dataclass(frozen=True)
class RetrainRule:
    """When to advise retraining: new topics that stay, or drift that does not go away."""

    novel_share: float = 0.30
    horizon: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.novel_share <= 1:
            raise ConfigError(f"retrain.novel_share must be within [0, 1], got {self.novel_share}")
        if self.horizon < 1:
            raise ConfigError(f"retrain.horizon must be >= 1 window, got {self.horizon}")


@dataclass
class Thresholds:
    """The levels used for one window and where they came from."""

    levels: dict[str, Level]
    source: str
    detail: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            **self.detail,
            "values": {
                k: {"review": v.review, "critical": v.critical, **({"extreme": v.extreme} if math.isfinite(v.extreme) else {})}
                for k, v in self.levels.items()
            },
        }


@dataclass
class Policy:
    """Maps a report's metrics, quality signals and history to a tier with reasons.

    ``mode`` is ``auto`` (calibrated levels when the baseline has a calibration, else
    fixed), ``calibrated`` (refuses an uncalibrated baseline) or ``fixed``. ``levels``
    overrides single metrics in any mode.
    """

    mode: str = "auto"
    levels: dict[str, Level] = field(default_factory=dict)
    persistence: int = 2
    quality: QualityLevels = field(default_factory=QualityLevels)
    retrain: RetrainRule = field(default_factory=RetrainRule)

    def __post_init__(self) -> None:
        if self.mode not in THRESHOLD_MODES:
            raise ConfigError(f"thresholds.mode must be one of {', '.join(THRESHOLD_MODES)}, got {self.mode!r}")
        if isinstance(self.persistence, bool) or not isinstance(self.persistence, int) or self.persistence < 1:
            raise ConfigError(f"persistence.windows must be an integer >= 1, got {self.persistence!r}")

    # -- thresholds ------------------------------------------------------------------
    def thresholds(self, baseline: "Baseline | None", window_size: int) -> Thresholds:
        """The levels for a window of ``window_size`` prompts compared to ``baseline``."""
        calibrated = baseline is not None and bool(getattr(baseline, "calibration_", None))
        if self.mode == "calibrated" and not calibrated:
            raise ConfigError(
                "thresholds.mode is 'calibrated' but the baseline has no calibration; rebuild it with "
                "`drift-tracking baseline build ... --window-size N` or use thresholds mode 'fixed'"
            )
        if self.mode == "fixed" or not calibrated:
            result = Thresholds(fixed_levels(), "fixed", {"note": "rule-of-thumb levels, not calibrated"})
        else:
            levels, detail, warnings = calibrated_levels(baseline, window_size)
            result = Thresholds({k: Level(*v) for k, v in levels.items()}, "calibrated", detail, warnings)
        if self.levels:
            result.levels = {**result.levels, **self.levels}
            result.detail["overridden"] = sorted(self.levels)
        return result

    # -- the decision ----------------------------------------------------------------
    def apply(
        self,
        report: DriftReport,
        baseline: "Baseline | None" = None,
        history: "Sequence[dict[str, Any]]" = (),
    ) -> DriftReport:
        """Set tier, reasons, drift kind, retrain advice and thresholds on ``report``."""
        thresholds = self.thresholds(baseline, report.n_samples)
        reasons: list[str] = []

        signal, extreme = self._drift_signal(report.metrics, thresholds.levels, reasons)
        report.drift_signal = signal
        previous = _consecutive(history, lambda r: r.get("drift_signal", "none") != "none")
        drift_tier = "ok" if signal == "none" else signal
        escalation = None
        if signal == "critical" and not extreme:
            if previous + 1 >= self.persistence:
                escalation = f"critical: drift persisted over {previous + 1} consecutive windows"
            else:
                drift_tier = "review"
                reasons.append(
                    f"review, not critical: critical-level drift in {previous + 1} window(s) in a row; "
                    f"it escalates after {self.persistence} consecutive windows or when extreme"
                )
        elif signal == "critical":
            escalation = "critical: the drift is extreme, so it escalates without waiting for persistence"

        quality_tier, dropped, measured = self._quality(report, reasons)
        if dropped:
            report.drift_kind = "degradation"
        elif signal != "none":
            report.drift_kind = "benign" if measured else "unknown"
        else:
            report.drift_kind = "none"
        if report.drift_kind == "benign" and drift_tier == "critical":
            drift_tier = "review"
            stable = " and ".join(measured)
            reasons.append(f"review, not critical: inputs drifted but {stable} {'is' if len(measured) == 1 else 'are'} "
                           "stable (benign evolution: users changed, the model did not get worse)")
        elif escalation:
            reasons.append(escalation)

        report.tier = _worse(drift_tier, quality_tier)
        self._retrain(report, history, reasons)
        # Headline first: what made the tier, then lesser findings, then advice.
        rank = {"critical": 1, "review": 2, report.tier: 0}
        reasons.sort(key=lambda r: (rank.get(r.split(":", 1)[0].split(",", 1)[0].split(" ", 1)[0], 3),
                                    " level:" in r.split(":", 1)[0] + ":"))
        report.tier_reasons = reasons or ["no drift metric reached its review level and quality is stable"]
        report.thresholds = {**thresholds.describe(), "persistence": self.persistence,
                             "quality": {"review_drop": self.quality.review_drop,
                                         "critical_drop": self.quality.critical_drop,
                                         "material_drop": self.quality.material_drop}}
        report.warnings = list(report.warnings) + [w for w in thresholds.warnings if w not in report.warnings]
        return report

    def _drift_signal(self, metrics: dict[str, float], levels: dict[str, Level], reasons: list[str]) -> tuple[str, bool]:
        signal, extreme = "none", False
        for name, level in levels.items():
            value = metrics.get(name)
            if value is None or not math.isfinite(value):
                continue
            for candidate, bound in (("critical", level.critical), ("review", level.review)):
                if value >= bound:
                    text = _DESCRIPTIONS.get(name, name + " {value:.4f} >= {level:.4f}").format(value=value, level=bound)
                    if value >= level.extreme:
                        extreme = True
                        text += ", extreme"
                    reasons.append(f"{candidate} level: {text}")
                    if signal == "none" or TIER_LEVEL[candidate] > TIER_LEVEL[signal]:
                        signal = candidate
                    break
        return signal, extreme

    def _quality(self, report: DriftReport, reasons: list[str]) -> tuple[str, bool, list[str]]:
        """Tier from quality signals, whether quality dropped, which were measured."""
        tier, dropped, measured = "ok", False, []
        q = report.quality or {}
        for key, label in (("golden", "golden-set accuracy"), ("reward", "mean reward score")):
            signal = q.get(key)
            if not signal or signal.get("relative_drop") is None:
                continue
            measured.append(label)
            drop = float(signal["relative_drop"])
            level = self.quality.tier_for_drop(drop)
            if level != "ok":
                dropped = True
                bound = self.quality.critical_drop if level == "critical" else self.quality.review_drop
                sign = ">" if level == "critical" else ">="
                reasons.append(f"{level}: {label} dropped {drop:.1%} from the baseline ({sign} {bound:.0%})")
                tier = _worse(tier, level)
            if key == "golden":
                report.material_degradation = round(drop, 9) > self.quality.material_drop
                if report.material_degradation:
                    reasons.append(
                        f"material degradation: golden-set accuracy dropped {drop:.1%}, "
                        f"more than {self.quality.material_drop:.0%}"
                    )
        feedback = q.get("feedback")
        if feedback and feedback.get("relative_increase") is not None:
            increase = float(feedback["relative_increase"])
            level = self.quality.tier_for_flag_increase(increase)
            if level != "ok":
                dropped = True
                reasons.append(
                    f"{level}: users flagged {feedback['flag_rate']:.1%} of responses, "
                    f"{increase:.0%} more than the baseline's {feedback['baseline_flag_rate']:.1%}"
                )
                tier = _worse(tier, level)
        return tier, dropped, measured

    def _retrain(self, report: DriftReport, history: "Sequence[dict[str, Any]]", reasons: list[str]) -> None:
        rule = self.retrain
        novel = report.metrics.get("novel_cluster_share")
        if novel is not None and novel > rule.novel_share:
            streak = 1 + _consecutive(history, lambda r: (r.get("metrics", {}).get("novel_cluster_share") or 0) > rule.novel_share)
            if streak >= self.persistence:
                report.retrain_recommended = True
                report.retrain_reason = (
                    f"novel-cluster share stayed above {rule.novel_share:.0%} for {streak} consecutive windows: "
                    "users ask about topics the model was not tuned on"
                )
        if not report.retrain_recommended and report.drift_signal != "none":
            streak = 1 + _consecutive(history, lambda r: r.get("drift_signal", "none") != "none")
            if streak >= rule.horizon:
                report.retrain_recommended = True
                report.retrain_reason = f"drift persisted over {streak} consecutive windows (horizon {rule.horizon})"
        if report.retrain_recommended:
            reasons.append(f"retrain recommended: {report.retrain_reason}")

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "persistence": self.persistence,
                "levels": {k: {"review": v.review, "critical": v.critical} for k, v in self.levels.items()}}


def _worse(a: str, b: str) -> str:
    """The higher of two tiers."""
    return TIERS[max(TIER_LEVEL[a], TIER_LEVEL[b])]


def _consecutive(history: "Sequence[dict[str, Any]]", predicate: Any) -> int:
    """How many of the most recent history records, counting back, satisfy ``predicate``."""
    count = 0
    for record in reversed(list(history)):
        if not predicate(record):
            break
        count += 1
    return count
