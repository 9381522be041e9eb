"""Quality signals (concept drift): golden-set accuracy, reward score, user feedback.

Embedding drift says the *inputs* changed; only a quality signal says whether the model
got *worse*. Each signal is reported as its current value, the baseline's value and the
relative change, which is what the policy compares to its levels:

    relative_drop     = (baseline - current) / baseline      golden accuracy, mean reward
    relative_increase = (current - baseline) / baseline      user flag rate

The baseline values come from the baseline artifact (``Baseline.quality_``, recorded when
it was built) or are given explicitly (configuration, :class:`QualityInputs`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from drift_tracking.data import read_table
from drift_tracking.errors import ConfigError, DataError

if TYPE_CHECKING:
    from drift_tracking.baseline import Baseline
    from drift_tracking.embedding import Embedder

GOLDEN_METHODS = ("exact", "normalised", "embedding")
DEFAULT_SIMILARITY = 0.8
_TRUE_FLAGS = frozenset({"1", "true", "yes", "y", "bad", "down", "thumbs_down", "thumbs-down", "flagged", "👎"})
_FALSE_FLAGS = frozenset({"0", "false", "no", "n", "good", "up", "thumbs_up", "thumbs-up", "", "👍"})


# -- golden set ------------------------------------------------------------------------------
def normalise(text: str) -> str:
    """Lower case, compatibility forms folded, punctuation dropped (except between digits), spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"(?<!\d)[.,;:!?'\"()\[\]]|[.,;:!?'\"()\[\]](?!\d)", " ", text)
    return " ".join(text.split())


def answer_matches(answer: str, expected: str, method: str = "normalised") -> bool:
    """Whether ``answer`` gives ``expected`` by ``exact`` or ``normalised`` match.

    ``exact``: equal after stripping surrounding whitespace. ``normalised``: the normalised
    expected answer appears in the normalised answer as whole words, so "It's 30 days."
    matches "30 days" but "130 days" does not.
    """
    if method == "exact":
        return answer.strip() == expected.strip()
    if method == "normalised":
        want = normalise(expected)
        return bool(want) and re.search(rf"(?<!\S){re.escape(want)}(?!\S)", normalise(answer)) is not None
    raise ConfigError(f"golden.method must be one of {', '.join(GOLDEN_METHODS)}, got {method!r}")


def load_golden(path: str | Path) -> list[dict[str, Any]]:
    """Golden items from a .jsonl/.csv/.parquet file: ``prompt``, ``expected`` and ``answer`` columns.

    ``answer`` is the model's current answer to the prompt; without it, answers must be
    given to :func:`score_golden` (e.g. from calling the model).
    """
    table = read_table(path)
    missing = [c for c in ("prompt", "expected") if c not in table.columns]
    if missing:
        raise DataError(
            f"golden set {path} lacks column(s) {', '.join(missing)}; it needs prompt and expected "
            f"(and answer, the model's current answer); found: {', '.join(map(str, table.columns))}"
        )
    items = table.to_dict("records")
    for i, item in enumerate(items):
        if not isinstance(item.get("expected"), str) or not item["expected"].strip():
            raise DataError(f"golden set {path} row {i}: 'expected' must be non-empty text")
    return items


def score_golden(
    items: Sequence[dict[str, Any]],
    answers: Sequence[str] | None = None,
    *,
    method: str = "normalised",
    embedder: "Embedder | None" = None,
    min_similarity: float = DEFAULT_SIMILARITY,
) -> dict[str, Any]:
    """Accuracy of ``answers`` (default: each item's ``answer``) against the expected answers.

    ``embedding``: an answer is correct when the cosine similarity of its embedding to the
    expected answer's is at least ``min_similarity`` (unit-length embeddings, so a dot product).
    """
    if method not in GOLDEN_METHODS:
        raise ConfigError(f"golden.method must be one of {', '.join(GOLDEN_METHODS)}, got {method!r}")
    if not items:
        raise DataError("the golden set is empty; it needs prompt / expected pairs")
    if answers is None:
        if any(not isinstance(item.get("answer"), str) for item in items):
            raise DataError("golden items need an 'answer' column (the model's current answers), or pass answers=")
        answers = [item["answer"] for item in items]
    if len(answers) != len(items):
        raise DataError(f"{len(answers)} answers for {len(items)} golden items: they must align")
    expected = [str(item["expected"]) for item in items]
    if method == "embedding":
        if embedder is None:
            raise ConfigError("golden.method 'embedding' needs an embedder")
        a = embedder.encode(list(answers))
        b = embedder.encode(expected)
        similarity = np.sum(a * b, axis=1)
        correct = [bool(s >= min_similarity) for s in similarity]
    else:
        correct = [answer_matches(str(ans), exp, method) for ans, exp in zip(answers, expected)]
    return {"accuracy": float(np.mean(correct)), "n": len(items), "method": method, "n_correct": int(sum(correct))}


# -- reward and feedback -----------------------------------------------------------------------
def reward_scores(
    scorer: Callable[[Sequence[str], Sequence[str]], Sequence[float]],
    prompts: Sequence[str],
    responses: Sequence[str],
) -> list[float]:
    """Scores from a reward model (any callable taking prompts and responses)."""
    scores = [float(s) for s in scorer(list(prompts), list(responses))]
    if len(scores) != len(prompts):
        raise DataError(f"the reward scorer returned {len(scores)} scores for {len(prompts)} responses")
    return scores


def as_flag(value: Any) -> bool:
    """A user flag (thumbs down, "bad answer") from a bool, 0/1 or a word."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and not (isinstance(value, float) and math.isnan(value)):
        return value > 0
    text = str(value).strip().lower() if value is not None else ""
    if text in _TRUE_FLAGS:
        return True
    if text in _FALSE_FLAGS or text == "nan":
        return False
    raise DataError(f"cannot read {value!r} as a feedback flag; use true/false, 1/0, thumbs_down/thumbs_up or bad/good")


def load_feedback(path: str | Path, *, id_column: str = "id", flag_column: str = "flag") -> dict[str, bool]:
    """Flags per response id from a .jsonl/.csv/.parquet file (a response flagged once is flagged)."""
    table = read_table(path)
    for column, key in ((id_column, "feedback.id_column"), (flag_column, "feedback.flag_column")):
        if column not in table.columns:
            raise DataError(f"feedback file {path} has no column '{column}' ({key}); found: {', '.join(map(str, table.columns))}")
    flags: dict[str, bool] = {}
    for rid, value in zip(table[id_column].tolist(), table[flag_column].tolist()):
        flags[str(rid)] = flags.get(str(rid), False) or as_flag(value)
    return flags


# -- signals -----------------------------------------------------------------------------------
def relative_drop(baseline: float, current: float) -> float | None:
    """(baseline - current) / |baseline|; None when the baseline is 0 (no relative change exists)."""
    return None if baseline == 0 else (baseline - current) / abs(baseline)


@dataclass
class QualityInputs:
    """One window's quality evidence, and the baseline values to compare it with.

    ``golden`` is a :func:`score_golden` result; ``rewards`` the window's reward scores;
    ``flags`` one bool per window response. ``reference`` overrides the baseline's stored
    quality values (keys ``golden_accuracy``, ``reward_mean``, ``flag_rate``).
    """

    golden: dict[str, Any] | None = None
    rewards: Sequence[float] | None = None
    flags: Sequence[bool] | None = None
    reference: dict[str, float] = field(default_factory=dict)

    def signals(self, baseline: "Baseline | None" = None) -> dict[str, Any]:
        """The report's ``quality`` section; a signal without a baseline value is reported, not judged."""
        ref = {**(getattr(baseline, "quality_", None) or {}), **{k: v for k, v in self.reference.items() if v is not None}}
        out: dict[str, Any] = {}
        if self.golden is not None:
            out["golden"] = _signal(self.golden, "accuracy", ref.get("golden_accuracy"), "baseline_accuracy")
        rewards = _finite(self.rewards)
        if rewards is not None:
            stats = {"mean": float(rewards.mean()), "n": int(rewards.size)}
            out["reward"] = _signal(stats, "mean", ref.get("reward_mean"), "baseline_mean")
        rate = _flag_rate(self.flags)
        if rate is not None:
            feedback: dict[str, Any] = {"flag_rate": rate, "n": len(self.flags), "baseline_flag_rate": ref.get("flag_rate")}
            base = ref.get("flag_rate")
            if base is not None:
                drop = relative_drop(base, rate)
                feedback["relative_increase"] = -drop if drop is not None else (math.inf if rate > 0 else 0.0)
            out["feedback"] = feedback
        return out


def _signal(stats: dict[str, Any], key: str, baseline: float | None, baseline_key: str) -> dict[str, Any]:
    signal = {**stats, baseline_key: baseline, "relative_drop": None}
    if baseline is not None:
        signal["relative_drop"] = relative_drop(float(baseline), float(stats[key]))
    return signal


def reference_values(
    *, golden: dict[str, Any] | None = None, rewards: Sequence[float] | None = None, flags: Sequence[bool] | None = None
) -> dict[str, float]:
    """The quality values of a good period, stored in the baseline as ``quality_``."""
    ref: dict[str, float] = {}
    if golden is not None:
        ref["golden_accuracy"] = float(golden["accuracy"])
    values = _finite(rewards)
    if values is not None:
        ref["reward_mean"] = float(values.mean())
    rate = _flag_rate(flags)
    if rate is not None:
        ref["flag_rate"] = rate
    return ref


def _finite(scores: Sequence[float] | None) -> np.ndarray | None:
    """The finite scores as an array, or None when there are none."""
    if scores is None:
        return None
    values = np.asarray(list(scores), dtype=float)
    values = values[np.isfinite(values)]
    return values if values.size else None


def _flag_rate(flags: Sequence[bool] | None) -> float | None:
    """The share of flagged responses, or None without any."""
    return float(np.mean([bool(f) for f in flags])) if flags is not None and len(flags) else None


@dataclass
class QualitySource:
    """A run's quality evidence, aligned with the loaded rows so any window can take its part.

    The golden set is scored once per run (it is the model's current answers, not traffic);
    rewards and flags are per row, and :meth:`for_rows` picks a window's.
    """

    golden: dict[str, Any] | None = None
    rewards: list[float] | None = None
    flags: list[bool] | None = None
    reference: dict[str, float] = field(default_factory=dict)

    def for_rows(self, rows: Sequence[int] | None = None) -> QualityInputs:
        def pick(values: list[Any] | None) -> list[Any] | None:
            return values if values is None or rows is None else [values[i] for i in rows]

        return QualityInputs(golden=self.golden, rewards=pick(self.rewards), flags=pick(self.flags),
                             reference=dict(self.reference))

    @property
    def empty(self) -> bool:
        return self.golden is None and self.rewards is None and self.flags is None

    @classmethod
    def from_config(cls, config: Any, source: Any, texts: Any, *, embedder: Any = None) -> "QualitySource":
        """Read what ``config`` (a :class:`~drift_tracking.config.Config`) names for ``texts`` loaded from ``source``."""

        found = cls(reference={
            "golden_accuracy": config.golden.baseline_accuracy,
            "reward_mean": config.reward.baseline_mean,
            "flag_rate": config.feedback.baseline_rate,
        })
        found.reference = {k: v for k, v in found.reference.items() if v is not None}
        if config.golden.path:
            found.golden = score_golden(load_golden(config.golden.path), method=config.golden.method,
                                        embedder=embedder, min_similarity=config.golden.min_similarity)
        if config.reward.column:
            table = read_table(source)
            if config.reward.column not in table.columns:
                raise DataError(f"reward column '{config.reward.column}' not found in {source}; "
                                f"available columns: {', '.join(map(str, table.columns))}")
            raw = table[config.reward.column].tolist()
            found.rewards = [_as_score(raw[i], i, config.reward.column) for i in texts.row_ids]
        if config.feedback.path:
            if texts.ids is None:
                raise DataError(f"feedback needs response ids: the data has no '{config.feedback.id_column}' column "
                                "(set feedback.id_column)")
            flags = load_feedback(config.feedback.path, id_column=config.feedback.id_column,
                                  flag_column=config.feedback.flag_column)
            found.flags = [flags.get(str(rid), False) for rid in texts.ids]
        return found


def _as_score(value: Any, row: int, column: str) -> float:
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise DataError(f"row {row} of reward column '{column}' is {value!r}, not a number") from None
    return score
