"""The drift report: the one object every sink (console, JSON, MLflow, W&B, registry) receives.

`compare()` lives in :mod:`drift_tracking.comparison`; this module holds only data, so the
integrations can import it without pulling in torch or scikit-learn.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

TIERS = ("ok", "review", "critical")
TIER_LEVEL = {name: level for level, name in enumerate(TIERS)}
# "unknown": inputs drifted but no golden set, reward or feedback says whether quality held.
DRIFT_KINDS = ("none", "benign", "degradation", "unknown")

# Metrics every report carries, in the order people read them.
METRIC_NAMES = (
    "js_divergence",
    "wasserstein",
    "novel_cluster_share",
    "mmd",
    "mmd_p_value",
    "classifier_auc",
)


@dataclass
class Projection:
    """2-D points for plots. Kept out of ``to_dict()``: it is large and only plots need it."""

    baseline_xy: np.ndarray  # (m, 2) float32, a sample of the baseline
    baseline_cluster: np.ndarray  # (m,) int, baseline K-means cluster of each point
    window_xy: np.ndarray  # (n, 2) float32
    window_cluster: np.ndarray  # (n,) int, nearest baseline cluster
    window_novel: np.ndarray  # (n,) bool, point lies in a novel cluster
    window_novel_cluster: np.ndarray  # (n,) int, id of that novel cluster (report.novel_clusters[i]["id"]), -1 if none
    window_texts: list[str] = field(default_factory=list)  # same order as window_xy


@dataclass
class DriftReport:
    """Everything known about one production window compared to one baseline.

    ``metrics`` are the prompts'; ``response_metrics`` the responses' when both sides
    have responses. ``cluster_shift`` is the per-baseline-cluster table (shares and
    change); ``novel_clusters`` lists window clusters with (almost) no baseline
    neighbours, with example texts.
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

    @property
    def drift_detected(self) -> bool:
        """True when the window is anything but ``ok``."""
        return self.tier != "ok"

    @property
    def tier_level(self) -> int:
        """0 for ok, 1 for review, 2 for critical: the number dashboards plot."""
        return TIER_LEVEL[self.tier]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN and infinities become ``None``), without the projection."""
        data = asdict(self)
        data.pop("projection", None)
        data["drift_detected"] = self.drift_detected
        data["tier_level"] = self.tier_level
        return _json_safe(data)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DriftReport":
        """Rebuild a report written by ``to_dict`` (for re-logging a spooled report)."""
        known = {f for f in cls.__dataclass_fields__ if f != "projection"}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["metrics"] = {k: (math.nan if v is None else v) for k, v in kwargs.get("metrics", {}).items()}
        return cls(**kwargs)


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
