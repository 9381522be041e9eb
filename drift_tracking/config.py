"""One configuration, as a TOML file or as Python objects: thresholds, persistence, quality inputs.

Example (every key optional; relative paths are relative to the file)::

    [thresholds]
    mode = "auto"                 # auto | calibrated | fixed
    [thresholds.levels.js_divergence]
    review = 0.02                 # overrides one metric in any mode
    critical = 0.04

    [persistence]
    windows = 2                   # consecutive drifted windows before critical

    [quality]
    review_drop = 0.05            # relative drop, inclusive
    critical_drop = 0.15          # relative drop, exclusive
    material_drop = 0.10

    [golden]
    path = "golden.jsonl"         # prompt, expected, answer
    method = "normalised"         # exact | normalised | embedding
    baseline_accuracy = 0.92      # else the value stored in the baseline

    [reward]
    column = "reward"
    baseline_mean = 0.81

    [feedback]
    path = "flags.csv"            # id, flag
    baseline_rate = 0.03

    [retrain]
    novel_share = 0.30
    horizon = 3

    [monitor]
    window = "1d"
    timestamp_column = "timestamp"
    min_window = 50
    history = "drift-history/"

    [embedding]
    allowed_models = ["intfloat/e5-small-v2"]   # Hub models a baseline may name (else bundled or --model)

Unknown keys, wrong types, negative levels and a review level above its critical level
are errors that name the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import math
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from drift_tracking.errors import ConfigError
from drift_tracking.policy import (
    THRESHOLD_MODES,
    Level,
    Policy,
    QualityLevels,
    RetrainRule,
    check_levels,
)
from drift_tracking.quality import DEFAULT_SIMILARITY, GOLDEN_METHODS


@dataclass
class ThresholdsConfig:
    mode: str = "auto"
    levels: dict[str, Level] = field(default_factory=dict)


@dataclass
class GoldenConfig:
    path: str | None = None
    method: str = "normalised"
    min_similarity: float = DEFAULT_SIMILARITY
    baseline_accuracy: float | None = None


@dataclass
class RewardConfig:
    column: str | None = None
    baseline_mean: float | None = None


@dataclass
class FeedbackConfig:
    path: str | None = None
    id_column: str = "id"
    flag_column: str = "flag"
    baseline_rate: float | None = None


@dataclass
class MonitorConfig:
    window: str = "1d"
    timestamp_column: str = "timestamp"
    min_window: int = 20
    history: str | None = None


@dataclass
class EmbeddingConfig:
    """Hub models a baseline's manifest may name; any other model must be given with --model."""

    allowed_models: list[str] = field(default_factory=list)


@dataclass
class PersistenceConfig:
    windows: int = 2


@dataclass
class Config:
    """Everything a check or a monitor run can be told; ``policy()`` builds the decision rules."""

    thresholds: ThresholdsConfig = field(default_factory=ThresholdsConfig)
    persistence: PersistenceConfig = field(default_factory=PersistenceConfig)
    quality: QualityLevels = field(default_factory=QualityLevels)
    retrain: RetrainRule = field(default_factory=RetrainRule)
    golden: GoldenConfig = field(default_factory=GoldenConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)

    def policy(self) -> Policy:
        return Policy(
            mode=self.thresholds.mode,
            levels=dict(self.thresholds.levels),
            persistence=self.persistence.windows,
            quality=self.quality,
            retrain=self.retrain,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, base_dir: Path | None = None) -> "Config":
        """Build and validate from parsed TOML; errors name the offending key."""
        _check_keys(data, {f.name for f in fields(cls)}, "")
        sections: dict[str, Any] = {}
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            raw = data.get(f.name, {})
            if not isinstance(raw, dict):
                raise ConfigError(f"[{f.name}] must be a table of keys, got {type(raw).__name__}")
            if f.name == "thresholds":
                sections[f.name] = _thresholds(raw)
            else:
                sections[f.name] = _section(hints[f.name], raw, f.name)
        config = cls(**sections)
        _validate(config)
        if base_dir is not None:
            for section in (config.golden, config.feedback, config.monitor):
                attr = "history" if section is config.monitor else "path"
                value = getattr(section, attr)
                if value is not None and not Path(value).is_absolute():
                    setattr(section, attr, str(base_dir / value))
        return config


def load_config(path: str | Path) -> Config:
    """Read a TOML configuration file."""
    path = Path(path)
    if path.suffix.lower() not in (".toml", ""):
        raise ConfigError(f"{path}: configuration files are TOML (.toml)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    try:
        return Config.from_dict(data, base_dir=path.parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


# -- validation ------------------------------------------------------------------------------
def _check_keys(data: dict[str, Any], known: set[str], prefix: str) -> None:
    for key in data:
        if key not in known:
            raise ConfigError(f"unknown key '{prefix}{key}'; known keys: {', '.join(sorted(prefix + k for k in known))}")


def _section(kind: type, raw: dict[str, Any], name: str) -> Any:
    hints = typing.get_type_hints(kind)
    _check_keys(raw, set(hints), f"{name}.")
    values = {key: _typed(value, hints[key], f"{name}.{key}") for key, value in raw.items()}
    return kind(**values)


def _typed(value: Any, hint: Any, key: str) -> Any:
    if typing.get_origin(hint) is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        return [_typed(item, typing.get_args(hint)[0], f"{key}[{i}]") for i, item in enumerate(value)]
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in options:
        return None
    for option in options:
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isnan(value):
                break
            return float(value)
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option is str and isinstance(value, str):
            return value
    wanted = " or ".join(getattr(o, "__name__", str(o)) for o in options if o is not type(None))
    raise ConfigError(f"{key} must be a {wanted}, got {value!r}")


def _thresholds(raw: dict[str, Any]) -> ThresholdsConfig:
    _check_keys(raw, {"mode", "levels"}, "thresholds.")
    mode = raw.get("mode", "auto")
    if mode not in THRESHOLD_MODES:
        raise ConfigError(f"thresholds.mode must be one of {', '.join(THRESHOLD_MODES)}, got {mode!r}")
    levels: dict[str, Level] = {}
    from drift_tracking.report import METRIC_NAMES

    known = set(METRIC_NAMES) | {"outlier_share"}
    for metric, spec in raw.get("levels", {}).items():
        key = f"thresholds.levels.{metric}"
        if metric not in known:
            raise ConfigError(f"unknown metric '{key}'; known metrics: {', '.join(sorted(known))}")
        if not isinstance(spec, dict):
            raise ConfigError(f"{key} must be a table with review and critical")
        _check_keys(spec, {"review", "critical", "extreme"}, key + ".")
        for needed in ("review", "critical"):
            if needed not in spec:
                raise ConfigError(f"{key}.{needed} is missing")
        values = {k: _typed(v, float, f"{key}.{k}") for k, v in spec.items()}
        check_levels(key, values["review"], values["critical"], values.get("extreme", math.inf))
        levels[metric] = Level(**values)
    return ThresholdsConfig(mode=mode, levels=levels)


def _validate(config: Config) -> None:
    if config.persistence.windows < 1:
        raise ConfigError(f"persistence.windows must be >= 1, got {config.persistence.windows}")
    if config.golden.method not in GOLDEN_METHODS:
        raise ConfigError(f"golden.method must be one of {', '.join(GOLDEN_METHODS)}, got {config.golden.method!r}")
    for key, value in (
        ("golden.min_similarity", config.golden.min_similarity),
        ("golden.baseline_accuracy", config.golden.baseline_accuracy),
        ("feedback.baseline_rate", config.feedback.baseline_rate),
    ):
        if value is not None and not 0 <= value <= 1:
            raise ConfigError(f"{key} must be within [0, 1], got {value}")
    from drift_tracking.comparison import MIN_WINDOW
    from drift_tracking.monitor import parse_frequency

    if config.monitor.min_window < MIN_WINDOW:
        raise ConfigError(f"monitor.min_window must be >= {MIN_WINDOW}, got {config.monitor.min_window}")

    try:
        parse_frequency(config.monitor.window)
    except ConfigError as exc:
        raise ConfigError(f"monitor.window: {exc}") from None
