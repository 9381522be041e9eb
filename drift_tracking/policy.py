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

:meth:`Policy.decide` returns a :class:`Decision`, an immutable value whose reasons are
structured (:class:`Reason`: what, which metric, value and level); they are put into
words only when shown (:meth:`Reason.words`), never parsed back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drift_tracking import metrics as registry
from drift_tracking.calibration import calibrated_levels
from drift_tracking.errors import ConfigError

if TYPE_CHECKING:
    from drift_tracking.baseline import Baseline
    from drift_tracking.comparison import Measurements

TIERS = ("ok", "review", "critical")
TIER_LEVEL = {name: level for level, name in enumerate(TIERS)}
# "unknown": inputs drifted but no golden set, reward or feedback says whether quality held.
DRIFT_KINDS = ("none", "benign", "degradation", "unknown")
THRESHOLD_MODES = ("auto", "calibrated", "fixed")
_QUALITY_LABELS = {"golden": "golden-set accuracy", "reward": "mean reward score"}


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


@dataclass(frozen=True)
class Level:
    """Review and critical levels of one metric; ``extreme`` escalates without persistence."""

    review: float
    critical: float
    extreme: float = math.inf

    def __post_init__(self) -> None:
        check_levels("level", self.review, self.critical, self.extreme)


def fixed_levels() -> dict[str, Level]:
    """The rule-of-thumb levels of ``thresholds.mode = "fixed"``, from the metric specs."""
    return {
        m.name: Level(*m.fixed, max(m.fixed[1], m.extreme) if m.extreme is not None else math.inf)
        for m in registry.deciding() if m.fixed is not None
    }


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


@dataclass(frozen=True)
class Thresholds:
    """The levels used for one window and where they came from."""

    levels: Mapping[str, Level]
    source: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            **self.detail,
            "values": {
                k: {"review": v.review, "critical": v.critical, **({"extreme": v.extreme} if math.isfinite(v.extreme) else {})}
                for k, v in self.levels.items()
            },
        }


# -- reasons -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reason:
    """One finding behind a decision, as data; :meth:`words` says it in a sentence.

    ``kind`` is one of ``level`` (a metric reached a level), ``persisted`` / ``extreme``
    (escalated to critical), ``held`` (critical-level drift kept at review: not yet
    persistent), ``benign`` (drift with stable quality, kept at review), ``quality`` (a
    golden or reward drop), ``flags`` (more user flags), ``material`` (golden drop over the
    material level), ``retrain`` and ``calm``. ``tier`` is the tier the finding argues for.
    """

    kind: str
    tier: str | None = None
    metric: str | None = None
    value: float | None = None
    level: float | None = None
    count: int | None = None
    detail: str | None = None
    is_extreme: bool = False

    def words(self) -> str:
        return _WORDS[self.kind](self)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and v is not False}


def _level_words(r: Reason) -> str:
    spec = registry.get(r.metric or "")
    text = spec.words(r.value, r.level) if spec else f"{r.metric} {r.value:.4f} >= {r.level:.4f}"
    return f"{r.tier} level: {text}" + (", extreme" if r.is_extreme else "")


def _quality_words(r: Reason) -> str:
    sign = ">" if r.tier == "critical" else ">="
    return f"{r.tier}: {_QUALITY_LABELS[r.metric]} dropped {r.value:.1%} from the baseline ({sign} {r.level:.0%})"


_WORDS: dict[str, Callable[[Reason], str]] = {
    "level": _level_words,
    "persisted": lambda r: f"critical: drift persisted over {r.count} consecutive windows",
    "extreme": lambda r: "critical: the drift is extreme, so it escalates without waiting for persistence",
    "held": lambda r: (f"review, not critical: critical-level drift in {r.count} window(s) in a row; "
                       f"it escalates after {int(r.level)} consecutive windows or when extreme"),
    "benign": lambda r: (f"review, not critical: inputs drifted but {r.detail} "
                         f"{'are' if ' and ' in (r.detail or '') else 'is'} stable "
                         "(benign evolution: users changed, the model did not get worse)"),
    "quality": _quality_words,
    "material": lambda r: (f"material degradation: golden-set accuracy dropped {r.value:.1%}, "
                           f"more than {r.level:.0%}"),
    "flags": lambda r: (f"{r.tier}: users flagged {r.value:.1%} of responses, "
                        f"{r.detail} more than the baseline's {r.level:.1%}"),
    "retrain": lambda r: f"retrain recommended: {r.detail}",
    "calm": lambda r: "no drift metric reached its review level and quality is stable",
}


def _headline_order(reasons: Sequence[Reason], tier: str) -> list[Reason]:
    """What made the tier first, then critical, then review findings (decisions before levels), then advice."""
    rank = {"critical": 1, "review": 2, tier: 0}
    return sorted(reasons, key=lambda r: (rank.get(r.tier or "", 3), r.kind == "level"))


@dataclass(frozen=True)
class Decision:
    """What the policy concluded about one window; assembled with the measurements into the report."""

    tier: str
    drift_signal: str
    drift_kind: str
    reasons: tuple[Reason, ...]
    thresholds: Mapping[str, Any]
    retrain_recommended: bool = False
    retrain_reason: str | None = None
    material_degradation: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def tier_reasons(self) -> list[str]:
        return [r.words() for r in self.reasons]


# -- the policy ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    """Maps a window's measurements, quality signals and history to a :class:`Decision`.

    ``mode`` is ``auto`` (calibrated levels when the baseline has a calibration, else
    fixed), ``calibrated`` (refuses an uncalibrated baseline) or ``fixed``. ``levels``
    overrides single metrics in any mode.
    """

    mode: str = "auto"
    levels: Mapping[str, Level] = field(default_factory=dict)
    persistence: int = 2
    quality: QualityLevels = field(default_factory=QualityLevels)
    retrain: RetrainRule = field(default_factory=RetrainRule)

    def __post_init__(self) -> None:
        if self.mode not in THRESHOLD_MODES:
            raise ConfigError(f"thresholds.mode must be one of {', '.join(THRESHOLD_MODES)}, got {self.mode!r}")
        if isinstance(self.persistence, bool) or not isinstance(self.persistence, int) or self.persistence < 1:
            raise ConfigError(f"persistence.windows must be an integer >= 1, got {self.persistence!r}")

    def thresholds(self, baseline: "Baseline | None", window_size: int) -> Thresholds:
        """The levels for a window of ``window_size`` prompts compared to ``baseline``."""
        calibrated = baseline is not None and bool(getattr(baseline, "calibration_", None))
        if self.mode == "calibrated" and not calibrated:
            raise ConfigError(
                "thresholds.mode is 'calibrated' but the baseline has no calibration; rebuild it with "
                "`drift-tracking baseline build ... --window-size N` or use thresholds mode 'fixed'"
            )
        if self.mode == "fixed" or not calibrated:
            levels, source, detail, warnings = fixed_levels(), "fixed", {"note": "rule-of-thumb levels, not calibrated"}, []
        else:
            found, detail, warnings = calibrated_levels(baseline, window_size)
            levels, source = {k: Level(*v) for k, v in found.items()}, "calibrated"
        if self.levels:
            levels, detail = {**levels, **self.levels}, {**detail, "overridden": sorted(self.levels)}
        return Thresholds(levels, source, detail, tuple(warnings))

    def decide(
        self,
        found: "Measurements",
        baseline: "Baseline | None" = None,
        history: Sequence[Mapping[str, Any]] = (),
    ) -> Decision:
        """Tier, reasons, drift kind and retrain advice for one window's measurements."""
        thresholds = self.thresholds(baseline, found.n_samples)
        signal, level_reasons = _drift_signal(found.prompts.metrics, thresholds.levels)
        drift_tier, escalation = self._persistence(signal, level_reasons, history)
        quality_tier, quality_reasons, measured, material = self._quality(found.quality)
        dropped = any(r.kind in ("quality", "flags") for r in quality_reasons)
        kind = "degradation" if dropped else ("none" if signal == "none" else ("benign" if measured else "unknown"))
        if kind == "benign" and drift_tier == "critical":
            drift_tier, escalation = "review", Reason("benign", "review", detail=" and ".join(measured))
        tier = _worse(drift_tier, quality_tier)
        retrain = self._retrain(found.prompts.metrics, signal, history)
        # Before sorting, findings keep the order people read them in: levels, a hold, quality, escalation.
        held = [escalation] if escalation and escalation.kind == "held" else []
        escalated = [escalation] if escalation and escalation.kind != "held" else []
        reasons = [*level_reasons, *held, *quality_reasons, *escalated]
        reasons += [Reason("retrain", detail=retrain)] if retrain else []
        return Decision(
            tier=tier, drift_signal=signal, drift_kind=kind,
            reasons=tuple(_headline_order(reasons, tier)) or (Reason("calm"),),
            thresholds={**thresholds.describe(), "persistence": self.persistence,
                        "quality": {"review_drop": self.quality.review_drop,
                                    "critical_drop": self.quality.critical_drop,
                                    "material_drop": self.quality.material_drop}},
            retrain_recommended=retrain is not None, retrain_reason=retrain, material_degradation=material,
            warnings=thresholds.warnings,
        )

    def _persistence(
        self, signal: str, level_reasons: Sequence[Reason], history: Sequence[Mapping[str, Any]]
    ) -> tuple[str, Reason | None]:
        """The drift tier once persistence is applied, and the reason for escalating or holding."""
        if signal != "critical":
            return ("ok" if signal == "none" else signal), None
        if any(r.is_extreme for r in level_reasons):
            return "critical", Reason("extreme", "critical")
        streak = 1 + _consecutive(history, lambda r: r.get("drift_signal", "none") != "none")
        if streak >= self.persistence:
            return "critical", Reason("persisted", "critical", count=streak)
        return "review", Reason("held", "review", count=streak, level=self.persistence)

    def _quality(self, quality: Mapping[str, Any]) -> tuple[str, list[Reason], list[str], bool]:
        """Tier from quality signals, their reasons, which were measured, material degradation."""
        tier, reasons, measured, material = "ok", [], [], False
        for key in ("golden", "reward"):
            signal = quality.get(key)
            if not signal or signal.get("relative_drop") is None:
                continue
            measured.append(_QUALITY_LABELS[key])
            drop = float(signal["relative_drop"])
            level = self.quality.tier_for_drop(drop)
            if level != "ok":
                bound = self.quality.critical_drop if level == "critical" else self.quality.review_drop
                reasons.append(Reason("quality", level, metric=key, value=drop, level=bound))
                tier = _worse(tier, level)
            if key == "golden" and round(drop, 9) > self.quality.material_drop:
                material = True
                reasons.append(Reason("material", value=drop, level=self.quality.material_drop))
        flag_reason = self._flags(quality.get("feedback"))
        if flag_reason is not None:
            reasons.append(flag_reason)
            tier = _worse(tier, flag_reason.tier)
        return tier, reasons, measured, material

    def _flags(self, feedback: Mapping[str, Any] | None) -> Reason | None:
        if not feedback or feedback.get("relative_increase") is None:
            return None
        increase = float(feedback["relative_increase"])
        level = self.quality.tier_for_flag_increase(increase)
        if level == "ok":
            return None
        return Reason("flags", level, value=feedback["flag_rate"], level=feedback["baseline_flag_rate"],
                      detail=f"{increase:.0%}")

    def _retrain(self, metrics: Mapping[str, float], signal: str, history: Sequence[Mapping[str, Any]]) -> str | None:
        """Why retraining is advised, or None."""
        rule = self.retrain
        novel = metrics.get("novel_cluster_share")
        if novel is not None and novel > rule.novel_share:
            streak = 1 + _consecutive(history, lambda r: (r.get("metrics", {}).get("novel_cluster_share") or 0) > rule.novel_share)
            if streak >= self.persistence:
                return (f"novel-cluster share stayed above {rule.novel_share:.0%} for {streak} consecutive windows: "
                        "users ask about topics the model was not tuned on")
        if signal != "none":
            streak = 1 + _consecutive(history, lambda r: r.get("drift_signal", "none") != "none")
            if streak >= rule.horizon:
                return f"drift persisted over {streak} consecutive windows (horizon {rule.horizon})"
        return None


def _drift_signal(metrics: Mapping[str, float], levels: Mapping[str, Level]) -> tuple[str, list[Reason]]:
    """The highest level any metric reached, with one reason per metric that reached one."""
    signal, reasons = "none", []
    for name, level in levels.items():
        value = metrics.get(name)
        if value is None or not math.isfinite(value):
            continue
        spec = registry.get(name)
        reached = spec.reached if spec else (lambda v, b: v >= b)
        for candidate, bound in (("critical", level.critical), ("review", level.review)):
            if reached(value, bound):
                reasons.append(Reason("level", candidate, metric=name, value=value, level=bound,
                                      is_extreme=reached(value, level.extreme)))
                signal = _worse(signal, candidate) if signal != "none" else candidate
                break
    return signal, reasons


def _worse(a: str, b: str) -> str:
    """The higher of two tiers."""
    return TIERS[max(TIER_LEVEL[a], TIER_LEVEL[b])]


def _consecutive(history: Sequence[Mapping[str, Any]], predicate: Callable[[Mapping[str, Any]], bool]) -> int:
    """How many of the most recent history records, counting back, satisfy ``predicate``."""
    count = 0
    for record in reversed(list(history)):
        if not predicate(record):
            break
        count += 1
    return count
