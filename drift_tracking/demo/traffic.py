"""Seeded generator of realistic support-bot / assistant LLM traffic.

The tables live in ``topics.json`` next to this module: ``topics`` maps a topic to its
slot fillers (``slots``, merged over ``common_slots`` and :data:`GENERATORS`) and its
*intents*, each ``{"prompts": [...], "responses": [...], "answers": [...]}`` where
``answers[i]`` lists the responses that answer ``prompts[i]`` (any response of the
intent when ``answers`` is absent); ``"novel": true`` marks topics never in a baseline.
Filled prompt templates are 6-40 words. A sample draws a topic, an intent, a prompt and
a response template, fills every ``{slot}`` once (so prompt and response agree on the
product, city, amount ...) and sometimes wraps the prompt in a greeting / sign-off
(``openers`` / ``closers``) or writes it tersely in lower case.

Base topics are what a fine-tuned support assistant normally sees; novel topics never
appear in a baseline and are used to simulate data drift. Degraded responses
(off-topic, evasive, truncated or wrong) simulate concept drift of answer quality.
"""

from __future__ import annotations

import json
import random
import string
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any, Callable, Sequence

MAX_PROMPT_WORDS = 40


@dataclass(frozen=True)
class Sample:
    """One generated request: a user prompt, the assistant's response and where it came from."""

    id: str
    prompt: str
    response: str
    topic: str
    novel: bool
    timestamp: str  # ISO 8601, UTC, "Z" suffix


def read_table(name: str) -> dict[str, Any]:
    """The JSON data file ``name`` shipped next to this module (package data, so it works from a wheel)."""
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


_TABLES = read_table("topics.json")
COMMON_SLOTS: dict[str, list[str]] = _TABLES["common_slots"]
TOPICS: dict[str, dict[str, Any]] = _TABLES["topics"]
_MONTHS = COMMON_SLOTS["month"]
_OPENERS: list[str] = _TABLES["openers"]
_CLOSERS: list[str] = _TABLES["closers"]
_EVASIVE: list[str] = _TABLES["evasive_responses"]

# Slots whose values are made up on the fly (thousands of distinct values).
GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "order_id": lambda r: f"#{r.randint(100000, 999999)}",
    "amount": lambda r: f"${r.randint(5, 250)}.{r.choice(['00', '49', '99', '95', '50', '19'])}",
    "date": lambda r: f"{r.choice(_MONTHS)} {r.randint(1, 28)}",
    "days": lambda r: str(r.randint(2, 12)),
    "hours": lambda r: str(r.randint(2, 48)),
    "count": lambda r: str(r.randint(2, 9)),
    "invoice_id": lambda r: f"INV-2026-{r.randint(1000, 9999)}",
    "tracking": lambda r: f"1Z{r.randint(10**9, 10**10 - 1)}",
    "last4": lambda r: f"{r.randint(0, 9999):04d}",
    "flight": lambda r: f"{r.choice(['BA', 'LH', 'AF', 'KL', 'IB', 'UA', 'AA', 'DL'])}{r.randint(100, 2999)}",
    "time": lambda r: f"{r.randint(1, 12)}:{r.choice(['00', '15', '30', '45'])} {r.choice(['am', 'pm'])}",
    "servings": lambda r: str(r.randint(2, 12)),
    "minutes": lambda r: str(r.choice([10, 15, 20, 25, 30, 40, 45, 60, 90])),
    "kg": lambda r: str(r.randint(50, 120)),
    "km": lambda r: str(r.choice([3, 5, 8, 10, 12, 15, 21, 30])),
    "income": lambda r: f"${r.randint(18, 95) * 100:,}",
    "debt": lambda r: f"${r.randint(2, 60) * 500:,}",
    "percent": lambda r: str(r.randint(3, 25)),
    "age": lambda r: str(r.randint(1, 14)),
    "coins": lambda r: f"{r.randint(1, 50) / 10:.1f}",
    "level": lambda r: str(r.randint(5, 80)),
    "line": lambda r: str(r.randint(3, 400)),
}

BASE_TOPICS: tuple[str, ...] = tuple(t for t, spec in TOPICS.items() if not spec.get("novel"))
NOVEL_TOPICS: tuple[str, ...] = tuple(t for t, spec in TOPICS.items() if spec.get("novel"))

_P_OPENER, _P_CLOSER, _P_TERSE = 0.3, 0.3, 0.12
DEGRADATIONS = ("off_topic", "evasive", "truncated", "wrong")

_FORMATTER = string.Formatter()


def _fields(template: str) -> list[str]:
    return [f for _, f, _, _ in _FORMATTER.parse(template) if f]


def _validate_tables() -> None:
    """Every slot a template uses must have a filler (checked once, at import)."""
    for topic, spec in TOPICS.items():
        known = set(spec.get("slots", {})) | set(COMMON_SLOTS) | set(GENERATORS)
        if not spec.get("intents"):
            raise RuntimeError(f"topic {topic!r} has no intents")
        for intent in spec["intents"]:
            answers = intent.get("answers")
            if answers is not None and (
                len(answers) != len(intent["prompts"])
                or not all(a and all(0 <= j < len(intent["responses"]) for j in a) for a in answers)
            ):
                raise RuntimeError(f"topic {topic!r}: 'answers' must list valid response indices for every prompt")
            for template in intent["prompts"] + intent["responses"]:
                missing = set(_fields(template)) - known
                if missing:
                    raise RuntimeError(f"topic {topic!r}: no filler for {sorted(missing)} in {template!r}")


_validate_tables()


def _slot_value(topic: str, slot: str, rng: random.Random) -> str:
    own = TOPICS[topic].get("slots", {})
    if slot in own:
        return rng.choice(own[slot])
    if slot in COMMON_SLOTS:
        return rng.choice(COMMON_SLOTS[slot])
    return GENERATORS[slot](rng)


def _fill(template: str, values: dict[str, str]) -> str:
    """Fill the slots; a template that starts with a slot gets a capital first letter."""
    text = template.format(**values)
    if template.startswith("{") and text:
        text = text[0].upper() + text[1:]
    return text


def _style_prompt(text: str, rng: random.Random) -> str:
    """Greeting / sign-off for some prompts, a terse lower-case variant for others."""
    opener = rng.choice(_OPENERS) if rng.random() < _P_OPENER else ""
    closer = rng.choice(_CLOSERS) if rng.random() < _P_CLOSER else ""
    terse = rng.random() < _P_TERSE
    if terse:
        text = text.rstrip("?.!")
        return text[0].lower() + text[1:] if text[1:2].islower() else text
    n_words = len(text.split())
    if closer and n_words + len(closer.split()) > MAX_PROMPT_WORDS:
        closer = ""
    n_words += len(closer.split())
    if opener and n_words + len(opener.split()) > MAX_PROMPT_WORDS:
        opener = ""
    if opener.endswith(",") and text[1:2].islower():
        text = text[0].lower() + text[1:]
    if closer and text[-1] not in ".?!":
        text += "."
    return " ".join(part for part in (opener, text, closer) if part)


def _render(topic: str, rng: random.Random) -> tuple[str, str, int, dict[str, str]]:
    """(prompt, response, intent index, slot values) for one sample of ``topic``."""
    intents = TOPICS[topic]["intents"]
    k = rng.randrange(len(intents))
    intent = intents[k]
    i = rng.randrange(len(intent["prompts"]))
    prompt_t = intent["prompts"][i]
    answers = intent.get("answers")
    response_t = intent["responses"][rng.choice(answers[i])] if answers else rng.choice(intent["responses"])
    values = {f: _slot_value(topic, f, rng) for f in dict.fromkeys(_fields(prompt_t) + _fields(response_t))}
    return _style_prompt(_fill(prompt_t, values), rng), _fill(response_t, values), k, values


def _degrade(topic: str, intent: int, response: str, values: dict[str, str], rng: random.Random) -> str:
    kind = rng.choice(DEGRADATIONS)
    if kind == "off_topic":
        other = rng.choice([t for t in BASE_TOPICS + NOVEL_TOPICS if t != topic])
        return _render(other, rng)[1]
    if kind == "evasive":
        return rng.choice(_EVASIVE)
    if kind == "truncated":
        words = response.split()
        keep = max(2, int(len(words) * rng.uniform(0.25, 0.6)))
        return " ".join(words[:keep]).rstrip(",;:")
    # wrong: a confident answer to another of the topic's questions
    intents = TOPICS[topic]["intents"]
    others = [i for i in range(len(intents)) if i != intent]
    if not others:  # pragma: no cover - every built-in topic has several intents
        return rng.choice(_EVASIVE)
    template = rng.choice(intents[rng.choice(others)]["responses"])
    filled = {f: values.get(f) or _slot_value(topic, f, rng) for f in _fields(template)}
    return _fill(template, filled)


def topic_weights(topics: Sequence[str]) -> dict[str, float]:
    """Mildly unequal topic weights in [0.7, 1.3], fixed per topic name (not per seed).

    They do not depend on ``generate``'s seed, so two windows generated with different
    seeds from the same topics share one topic distribution (a healthy window is healthy).
    """
    return {t: 0.7 + 0.6 * (zlib.crc32(t.encode()) % 1000) / 999 for t in topics}


def _parse_start(start: str | datetime) -> datetime:
    if isinstance(start, datetime):
        dt = start
    else:
        try:
            dt = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"start must be an ISO 8601 timestamp such as '2026-01-01T00:00:00Z', got {start!r}") from None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _iso(dt: datetime) -> str:
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    return text + "Z"


def _check_topics(names: Sequence[str] | None, default: tuple[str, ...], arg: str) -> tuple[str, ...]:
    if names is None:
        return default
    if isinstance(names, str):
        names = [names]
    names = tuple(dict.fromkeys(names))
    if not names:
        raise ValueError(f"{arg} must name at least one topic; available: {', '.join(TOPICS)}")
    unknown = [t for t in names if t not in TOPICS]
    if unknown:
        raise ValueError(f"unknown topic(s) in {arg}: {', '.join(map(repr, unknown))}; available: {', '.join(TOPICS)}")
    return names


def check_share(value: float, arg: str) -> float:
    """``value`` as a float in [0, 1]; a ValueError naming ``arg`` otherwise."""
    try:
        share = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{arg} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"{arg} must be in [0, 1], got {value!r}")
    return share


def _check_clock(start: str | datetime, interval_seconds: float) -> tuple[datetime, float]:
    """The first timestamp (UTC) and the step between samples in seconds, validated."""
    try:
        step = float(interval_seconds)
    except (TypeError, ValueError):
        raise ValueError(f"interval_seconds must be a number, got {interval_seconds!r}") from None
    if step < 0:
        raise ValueError(f"interval_seconds must be >= 0, got {interval_seconds!r}")
    return _parse_start(start), step


def _draw_topics(
    rng: random.Random, base: tuple[str, ...], novel_pool: tuple[str, ...], n: int, n_novel: int
) -> list[tuple[str, bool]]:
    """``(topic, is_novel)`` for ``n`` samples: exactly ``n_novel`` novel ones, shuffled in."""
    weights = topic_weights(base)
    drawn = rng.choices(base, weights=[weights[t] for t in base], k=n - n_novel)
    drawn = [(t, False) for t in drawn] + [(rng.choice(novel_pool), True) for _ in range(n_novel)]
    rng.shuffle(drawn)
    return drawn


def generate(
    n: int,
    *,
    seed: int = 0,
    topics: Sequence[str] | None = None,
    novel_share: float = 0.0,
    novel_topics: Sequence[str] | None = None,
    degraded_share: float = 0.0,
    start: str | datetime = "2026-01-01T00:00:00Z",
    interval_seconds: float = 60.0,
) -> list[Sample]:
    """``n`` samples of assistant traffic, deterministic for a given ``seed``.

    Exactly ``round(n * novel_share)`` samples come from ``novel_topics`` (default
    :data:`NOVEL_TOPICS`, ``novel=True``), the rest from ``topics`` (default
    :data:`BASE_TOPICS`) with the mildly unequal weights of :func:`topic_weights`; the
    order is shuffled. Exactly ``round(n * degraded_share)`` responses, chosen at random,
    are degraded (off-topic, evasive, truncated or wrong). Prompts, topics and the
    non-degraded responses do not depend on ``degraded_share``: the same seed with and
    without degradation differs only in the degraded responses. Timestamps start at
    ``start`` and increase by ``interval_seconds``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    novel_share = check_share(novel_share, "novel_share")
    degraded_share = check_share(degraded_share, "degraded_share")
    base = _check_topics(topics, BASE_TOPICS, "topics")
    novel_pool = _check_topics(novel_topics, NOVEL_TOPICS, "novel_topics")
    t0, step = _check_clock(start, interval_seconds)

    # Independent streams, so that e.g. degraded_share changes nothing but responses.
    topic_rng, text_rng, degrade_rng = (random.Random(f"drift-tracking:{seed}:{part}") for part in ("topic", "text", "degrade"))
    drawn = _draw_topics(topic_rng, base, novel_pool, n, int(round(n * novel_share)))
    degraded = set(degrade_rng.sample(range(n), int(round(n * degraded_share))))

    out: list[Sample] = []
    for i, (topic, is_novel) in enumerate(drawn):
        prompt, response, intent, values = _render(topic, text_rng)
        if i in degraded:
            response = _degrade(topic, intent, response, values, degrade_rng)
        out.append(
            Sample(
                id=f"req-{seed}-{i:06d}",
                prompt=prompt,
                response=response,
                topic=topic,
                novel=is_novel,
                timestamp=_iso(t0 + timedelta(seconds=i * step)),
            )
        )
    return out

