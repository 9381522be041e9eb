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
    price_per_1k_tokens = 0.00002                # an endpoint's list price: reports carry the money

Unknown keys, wrong types, negative levels and a review level above its critical level
are errors that name the key, so a typo never silently falls back to a default. The
file and any command-line or evaluator overrides are merged first and validated once
(:meth:`Config.from_dict`, :meth:`Config.with_overrides`); a :class:`Config` is frozen.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from drift_tracking import metrics as registry
from drift_tracking.errors import ConfigError
from drift_tracking.metrics import MIN_WINDOW
from drift_tracking.monitor import parse_frequency
from drift_tracking.policy import Level, Policy, QualityLevels, RetrainRule, check_levels
from drift_tracking.quality import DEFAULT_SIMILARITY


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class LevelConfig(_Section):
    review: float = Field(ge=0)
    critical: float = Field(ge=0)
    extreme: float | None = Field(default=None, ge=0)

    def level(self) -> Level:
        return Level(self.review, self.critical, math.inf if self.extreme is None else self.extreme)


class ThresholdsConfig(_Section):
    mode: str = "auto"  # checked by Policy, which names the key
    levels: dict[str, LevelConfig] = Field(default_factory=dict)

    @field_validator("levels")
    @classmethod
    def _known_metrics(cls, levels: dict[str, LevelConfig]) -> dict[str, LevelConfig]:
        for metric in levels:
            if registry.get(metric) is None:
                raise ValueError(f"unknown metric 'thresholds.levels.{metric}'; known metrics: "
                                 f"{', '.join(sorted(registry.names()))}")
        return levels


# The sections below are typed here; their ranges and order are checked once, by the
# policy objects they become (Policy, QualityLevels, RetrainRule), whose errors name the key.
class PersistenceConfig(_Section):
    windows: int = 2


class QualityConfig(_Section):
    review_drop: float = 0.05
    critical_drop: float = 0.15
    material_drop: float = 0.10
    flag_review_increase: float = 0.5
    flag_critical_increase: float = 1.0


class RetrainConfig(_Section):
    novel_share: float = 0.30
    horizon: int = 3


class GoldenConfig(_Section):
    path: str | None = None
    method: Literal["exact", "normalised", "embedding"] = "normalised"
    min_similarity: float = Field(default=DEFAULT_SIMILARITY, ge=0, le=1)
    baseline_accuracy: float | None = Field(default=None, ge=0, le=1)


class RewardConfig(_Section):
    column: str | None = None
    baseline_mean: float | None = None


class FeedbackConfig(_Section):
    path: str | None = None
    id_column: str = "id"
    flag_column: str = "flag"
    baseline_rate: float | None = Field(default=None, ge=0, le=1)


class EmbeddingConfig(_Section):
    """Hub models a baseline's manifest may name (any other must be given with --model), and
    what 1,000 embedded tokens cost (reports then carry each window's cost)."""

    allowed_models: list[str] = Field(default_factory=list)
    price_per_1k_tokens: float | None = Field(default=None, ge=0)


class MonitorConfig(_Section):
    window: str = "1d"
    timestamp_column: str = "timestamp"
    min_window: int = Field(default=MIN_WINDOW, ge=MIN_WINDOW)
    history: str | None = None

    @field_validator("window")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_frequency(value)
        return value


class Config(_Section):
    """Everything a check or a monitor run can be told; ``policy()`` builds the decision rules."""

    thresholds: ThresholdsConfig = ThresholdsConfig()
    persistence: PersistenceConfig = PersistenceConfig()
    quality: QualityConfig = QualityConfig()
    retrain: RetrainConfig = RetrainConfig()
    golden: GoldenConfig = GoldenConfig()
    reward: RewardConfig = RewardConfig()
    feedback: FeedbackConfig = FeedbackConfig()
    monitor: MonitorConfig = MonitorConfig()
    embedding: EmbeddingConfig = EmbeddingConfig()

    def policy(self) -> Policy:
        return Policy(
            mode=self.thresholds.mode,
            levels={name: spec.level() for name, spec in self.thresholds.levels.items()},
            persistence=self.persistence.windows,
            quality=QualityLevels(**self.quality.model_dump()),
            retrain=RetrainRule(**self.retrain.model_dump()),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, base_dir: Path | None = None) -> "Config":
        """Build and validate from parsed TOML; errors name the offending key.

        Relative paths (golden set, feedback, history) are relative to ``base_dir``.
        """
        if base_dir is not None:
            data = _resolved(data, base_dir)
        try:
            config = cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_first_error(exc)) from None
        for name, spec in config.thresholds.levels.items():
            extreme = math.inf if spec.extreme is None else spec.extreme
            check_levels(f"thresholds.levels.{name}", spec.review, spec.critical, extreme)
        config.policy()  # the rules' own checks (review below critical, ...) name their keys
        return config

    def with_overrides(self, **sections: dict[str, Any]) -> "Config":
        """This configuration with some keys replaced (``golden={"path": ...}``), validated again.

        ``None`` values are left out, so unset command-line options keep the file's values.
        """
        data = self.model_dump()
        for section, values in sections.items():
            data[section] = {**data[section], **{k: v for k, v in values.items() if v is not None}}
        return Config.from_dict(data)


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


def _resolved(data: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """``data`` with the relative paths it names made relative to ``base_dir``."""
    out = dict(data)
    for section, key in (("golden", "path"), ("feedback", "path"), ("monitor", "history")):
        values = out.get(section)
        if isinstance(values, dict) and isinstance(values.get(key), str) and not Path(values[key]).is_absolute():
            out[section] = {**values, key: str(base_dir / values[key])}
    return out


def _first_error(exc: ValidationError) -> str:
    """One line naming the key: ``unknown key 'a.b'``, ``a.b is missing`` or ``a.b: what is wrong``."""
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown key '{key}'"
    if error["type"] == "missing":
        return f"{key} is missing"
    message = error["msg"].removeprefix("Value error, ")
    return message if "'thresholds.levels." in message else f"{key}: {message} (got {error.get('input')!r})"
