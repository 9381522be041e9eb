"""The drift report: the one object every sink (console, JSON, MLflow, W&B, registry) receives.

A :class:`DriftReport` is assembled once, by :meth:`DriftReport.assemble`, from what was
measured (:class:`~drift_tracking.comparison.Measurements`) and what the policy decided
(:class:`~drift_tracking.policy.Decision`); it is frozen afterwards. Its methods are the
views sinks share (flat metric series, table rows, the step, the history record), so
MLflow and W&B never derive the same thing twice.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from drift_tracking import metrics as registry
from drift_tracking.policy import DRIFT_KINDS, TIER_LEVEL, TIERS

if TYPE_CHECKING:
    from drift_tracking.comparison import Measurements
    from drift_tracking.policy import Decision

__all__ = ["DRIFT_KINDS", "TIERS", "TIER_LEVEL", "DriftReport", "Projection", "label_text"]

METRIC_PREFIX = "drift/"
# What a history line keeps of a report: enough to decide persistence and to plot a
# time series, without the per-cluster tables and example texts.
HISTORY_FIELDS = (
    "window", "tier", "drift_signal", "drift_kind", "metrics", "response_metrics", "quality",
    "tier_reasons", "retrain_recommended", "retrain_reason", "material_degradation", "n_samples",
    "n_baseline", "baseline", "thresholds", "created_at", "cost",
)
# The numbers of a report's ``cost`` section that dashboards plot (``drift/cost/<name>``).
COST_METRICS = ("texts", "embedded", "cache_hits", "tokens", "seconds", "amount")


@dataclass(frozen=True)
class Projection:
    """2-D points for plots. Kept out of ``to_dict()``: it is large and only plots need it."""

    baseline_xy: np.ndarray  # (m, 2) float32, a sample of the baseline
    baseline_cluster: np.ndarray  # (m,) int, baseline K-means cluster of each point
    window_xy: np.ndarray  # (n, 2) float32
    window_cluster: np.ndarray  # (n,) int, nearest baseline cluster
    window_novel: np.ndarray  # (n,) bool, point lies in a novel cluster
    window_novel_cluster: np.ndarray  # (n,) int, id of that novel cluster (report.novel_clusters[i]["id"]), -1 if none
    window_texts: list[str] = field(default_factory=list)  # same order as window_xy


@dataclass(frozen=True)
class DriftReport:
    """Everything known about one production window compared to one baseline.

    ``metrics`` are the prompts'; ``response_metrics`` the responses' when both sides
    have responses. ``cluster_shift`` is the per-baseline-cluster table (shares and
    change); ``novel_clusters`` lists window clusters with (almost) no baseline
    neighbours, with example texts. ``tier_reasons`` are the decision's reasons in words,
    headline first; ``reasons`` the same as data. ``cost`` says what embedding the window
    took (:meth:`drift_tracking.embedding.EmbeddingUsage.report`: backend, texts, distinct
    texts embedded, cache hits, tokens, seconds and, with a price, the amount).
    """

    tier: str
    n_samples: int
    n_baseline: int
    metrics: dict[str, float]
    response_metrics: dict[str, float] | None = None
    cluster_shift: list[dict[str, Any]] = field(default_factory=list)
    novel_clusters: list[dict[str, Any]] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    tier_reasons: list[str] = field(default_factory=list)
    reasons: list[dict[str, Any]] = field(default_factory=list)
    drift_kind: str = "none"
    drift_signal: str = "none"  # level the drift metrics reached before persistence and quality rules
    retrain_recommended: bool = False
    retrain_reason: str | None = None
    material_degradation: bool = False
    quality: dict[str, Any] = field(default_factory=dict)
    window: dict[str, Any] = field(default_factory=dict)
    invalid_rows: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    created_at: str = ""
    projection: Projection | None = None
    cost: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def assemble(
        cls, found: "Measurements", decision: "Decision", *, model: Mapping[str, Any],
        baseline: Mapping[str, Any], n_baseline: int, created_at: str,
    ) -> "DriftReport":
        """The one place a report is made: measurements plus the decision on them."""
        warnings = list(found.warnings) + [w for w in decision.warnings if w not in found.warnings]
        return cls(
            tier=decision.tier, n_samples=found.n_samples, n_baseline=n_baseline,
            metrics=dict(found.prompts.metrics),
            response_metrics=dict(found.responses.metrics) if found.responses is not None else None,
            cluster_shift=[dict(r) for r in found.prompts.cluster_shift],
            novel_clusters=[dict(c) for c in found.prompts.novel_clusters],
            model=dict(model), baseline=dict(baseline), thresholds=dict(decision.thresholds),
            tier_reasons=decision.tier_reasons, reasons=[r.to_dict() for r in decision.reasons],
            drift_kind=decision.drift_kind, drift_signal=decision.drift_signal,
            retrain_recommended=decision.retrain_recommended, retrain_reason=decision.retrain_reason,
            material_degradation=decision.material_degradation, quality=dict(found.quality),
            window=dict(found.window), invalid_rows=dict(found.invalid_rows), warnings=warnings,
            created_at=created_at, projection=found.projection, cost=dict(found.cost),
        )

    def with_window(self, **window: Any) -> "DriftReport":
        """The same report with window facts added (the step a sink logs it at)."""
        return replace(self, window={**self.window, **window})

    @property
    def drift_detected(self) -> bool:
        """True when the window is anything but ``ok``."""
        return self.tier != "ok"

    @property
    def tier_level(self) -> int:
        """0 for ok, 1 for review, 2 for critical: the number dashboards plot."""
        return TIER_LEVEL[self.tier]

    # -- serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN and infinities become ``None``), without the projection."""
        data = asdict(replace(self, projection=None))
        data.pop("projection", None)
        data["drift_detected"] = self.drift_detected
        data["tier_level"] = self.tier_level
        return _json_safe(data)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DriftReport":
        """Rebuild a report written by ``to_dict`` (for re-logging a spooled report)."""
        known = {f.name for f in fields(cls)} - {"projection"}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["metrics"] = {k: (math.nan if v is None else v) for k, v in kwargs.get("metrics", {}).items()}
        return cls(**kwargs)

    def history_record(self) -> dict[str, Any]:
        """The compact, JSON-safe summary of this report that a history line holds."""
        data = self.to_dict()
        return {k: data[k] for k in HISTORY_FIELDS if k in data}

    # -- views every sink shares -----------------------------------------------------------
    def step(self, default: int = 0) -> int:
        """The window's index, what dashboards use as the step; ``default`` when it has none."""
        index = self.window.get("index")
        return int(index) if isinstance(index, int) and not isinstance(index, bool) else default

    def timestamp_ms(self) -> int:
        """The window's own time (its ``timestamp``, else its ``end``/``start``), else now."""
        for key in ("timestamp", "end", "start"):
            value = self.window.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return int(value if value > 1e11 else value * 1000)  # seconds or milliseconds
            if isinstance(value, str) and value:
                try:
                    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
                except ValueError:
                    continue
            if isinstance(value, datetime):
                return int(value.timestamp() * 1000)
        return int(time.time() * 1000)

    def metric_series(self) -> dict[str, float]:
        """Every metric of both sides, the tier level and the window size, keyed ``drift/...``.

        Missing or non-finite values are left out: a gap in a chart says "not measured"
        better than a fake zero.
        """
        out: dict[str, float] = {}
        for prefix, values in ((METRIC_PREFIX, self.metrics), (f"{METRIC_PREFIX}response/", self.response_metrics or {})):
            out.update({f"{prefix}{k}": float(v) for k, v in values.items() if _finite(v)})
        out[f"{METRIC_PREFIX}tier_level"] = float(self.tier_level)
        out[f"{METRIC_PREFIX}n_samples"] = float(self.n_samples)
        return out

    def cost_series(self) -> dict[str, float]:
        """What embedding this window cost, keyed ``drift/cost/<name>``: texts asked for, distinct
        texts embedded, cache hits, tokens, seconds and, when a price was set, the amount.

        Empty for a report of given embeddings (nothing was embedded for it).
        """
        return {f"{METRIC_PREFIX}cost/{k}": float(self.cost[k]) for k in COST_METRICS if _finite(self.cost.get(k))}

    def decision_series(self) -> dict[str, float]:
        """The decision's numbers beside the metrics: novel clusters, retrain advice, levels used."""
        out = {
            f"{METRIC_PREFIX}n_novel_clusters": float(len(self.novel_clusters)),
            f"{METRIC_PREFIX}retrain_recommended": float(self.retrain_recommended),
        }
        for metric, levels in (self.thresholds.get("values") or {}).items():
            for level in ("review", "critical"):
                if isinstance(levels, Mapping) and _finite(levels.get(level)):
                    out[f"{METRIC_PREFIX}threshold/{metric}/{level}"] = float(levels[level])
        return out

    def cluster_shift_rows(self) -> list[dict[str, Any]]:
        """The per-cluster share table, one row per baseline cluster, its label as text."""
        columns = ("baseline_share", "window_share", "change", "ratio")
        return [
            {"cluster": int(r["cluster"]), "label": label_text(r.get("label")),
             **{c: (r.get(c) if _finite(r.get(c)) else None) for c in columns}}
            for r in self.cluster_shift
        ]

    def novel_prompt_rows(self) -> list[dict[str, Any]]:
        """Example prompts of each novel cluster, largest cluster first: what is new in the traffic."""
        return [
            {"novel_cluster": c.get("id"), "label": label_text(c.get("label")), "cluster_share": c.get("share"),
             "cluster_size": c.get("size"), "prompt": str(example)}
            for c in self.novel_clusters
            for example in (c.get("examples") or [])
        ]

    def history_with(self, history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """``history`` (earlier windows' records, oldest first) ending with this report.

        The caller may or may not have appended this report already; it is never twice.
        """
        current = self.to_dict()
        out = [dict(h) for h in history]
        if out and out[-1].get("window") == current["window"] and out[-1].get("created_at") == current["created_at"]:
            out[-1] = current
        else:
            out.append(current)
        return out


def metric_titles() -> dict[str, str]:
    """Each registered metric's title, for tables and plots."""
    return {m.name: m.title for m in registry.all_metrics()}


def label_text(label: Any) -> str:
    """A cluster's label (top words; a list in older reports) as one string."""
    return " ".join(map(str, label)) if isinstance(label, (list, tuple)) else str(label or "")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and math.isfinite(value)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value
