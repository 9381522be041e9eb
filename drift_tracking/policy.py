"""From metrics to a decision: thresholds, tier and the reasons behind it.

This first policy uses fixed levels (the rule of thumb teams start from). Levels are
data, so a calibrated policy only has to supply other numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drift_tracking.errors import ConfigError
from drift_tracking.report import TIER_LEVEL, DriftReport

if TYPE_CHECKING:
    from drift_tracking.baseline import Baseline

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
    "outlier_share": "{value:.0%} of prompts lie beyond the baseline's 99th-percentile distance (>= {level:.0%})",
}


@dataclass(frozen=True)
class Level:
    review: float
    critical: float

    def __post_init__(self) -> None:
        if self.review < 0 or self.critical < 0:
            raise ConfigError(f"threshold levels must be >= 0, got review={self.review}, critical={self.critical}")
        if self.review > self.critical:
            raise ConfigError(f"review level {self.review} is above critical level {self.critical}")


@dataclass
class Policy:
    """Maps a report's metrics to ``ok``/``review``/``critical`` with plain-word reasons."""

    levels: dict[str, Level] = field(default_factory=lambda: {k: Level(*v) for k, v in FIXED_LEVELS.items()})
    source: str = "fixed"

    def apply(self, report: DriftReport, baseline: "Baseline | None" = None) -> DriftReport:
        tier, reasons = "ok", []
        for name, level in self.levels.items():
            value = report.metrics.get(name)
            if value is None:
                continue
            for candidate, bound in (("critical", level.critical), ("review", level.review)):
                if value >= bound:
                    reasons.append(f"{candidate}: " + _DESCRIPTIONS[name].format(value=value, level=bound))
                    if TIER_LEVEL[candidate] > TIER_LEVEL[tier]:
                        tier = candidate
                    break
        report.tier = tier
        report.tier_reasons = reasons or ["no drift metric reached its review level"]
        report.drift_kind = "none" if tier == "ok" else "unknown"
        report.thresholds = self.describe()
        return report

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "values": {k: {"review": v.review, "critical": v.critical} for k, v in self.levels.items()},
        }
