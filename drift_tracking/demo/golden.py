"""A golden set of prompts with short factual answers, and simulated answers to it.

The fixed questions and the answer phrasings live in ``golden.json`` next to this module;
company policies there match the responses of ``topics.json``. Beyond the fixed
questions, parameterised ones with computed answers are generated.
"""

from __future__ import annotations

import random
import re
from typing import Any, Sequence

from drift_tracking.demo.traffic import BASE_TOPICS, check_share, read_table

_TABLES = read_table("golden.json")
_GOLDEN_FIXED: list[tuple[str, str, str]] = [tuple(q) for q in _TABLES["questions"]]
_CORRECT_FORMS: list[str] = _TABLES["correct_forms"]
_WRONG_FORMS: list[str] = _TABLES["wrong_forms"]
_WRONG_WORDS: list[str] = _TABLES["wrong_words"]


def _golden_generated(rng: random.Random) -> tuple[str, str, str]:
    """One parameterised question with a computed answer."""
    kind = rng.randrange(6)
    if kind == 0:
        items = [rng.randint(0, 99) for _ in range(rng.randint(2, 9))]
        return ("python_programming", f"What does len({items}) return in Python?", str(len(items)))
    if kind == 1:
        a, b = rng.randint(10, 999), rng.randint(2, 9)
        return ("python_programming", f"What is the result of {a} // {b} in Python?", str(a // b))
    if kind == 2:
        cups = rng.randint(2, 12)
        return ("cooking_recipes", f"How many tablespoons are in {cups} cups?", str(16 * cups))
    if kind == 3:
        income = rng.randint(20, 120) * 100
        return ("personal_finance", f"Under the 50/30/20 rule, how much of a ${income:,} monthly income goes to needs?",
                f"${income // 2:,}")
    if kind == 4:
        principal, rate = rng.randint(1, 50) * 1000, rng.randint(2, 9)
        return ("personal_finance", f"How much interest does ${principal:,} earn in one year at {rate}% simple interest?",
                f"${principal * rate // 100:,}")
    km, minutes = rng.choice([5, 10]), rng.randint(20, 70)
    if (minutes * 60) % km:
        minutes = km * (minutes // km or 1)
    pace = minutes * 60 // km
    return ("fitness", f"If I run {km} km in {minutes} minutes, what is my average pace per km?",
            f"{pace // 60}:{pace % 60:02d}")


def golden_set(n: int = 50, *, seed: int = 0) -> list[dict[str, str]]:
    """``n`` prompt / expected-answer pairs over the base topics.

    Each item is ``{"id", "topic", "prompt", "expected"}`` with a short factual
    ``expected`` answer (e.g. "How many days do I have to return an item?" -> "30 days").
    The fixed questions come first, interleaved by topic so any ``n >= 10`` covers every
    base topic; beyond them, parameterised questions with computed answers are added.
    Prompts are unique. ``seed`` shuffles the order within each topic and the generated
    questions.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    rng = random.Random(f"drift-tracking:golden:{seed}")
    by_topic: dict[str, list[tuple[str, str, str]]] = {t: [] for t in BASE_TOPICS}
    for item in _GOLDEN_FIXED:
        by_topic[item[0]].append(item)
    for items in by_topic.values():
        rng.shuffle(items)
    pool: list[tuple[str, str, str]] = []
    for depth in range(max(len(v) for v in by_topic.values())):
        pool += [items[depth] for items in by_topic.values() if depth < len(items)]
    seen = {p for _, p, _ in pool}
    attempts = 0
    while len(pool) < n:
        attempts += 1
        if attempts > 100 * n + 10_000:  # pragma: no cover - the generators have ample variety
            raise ValueError(f"cannot make {n} distinct golden questions")
        item = _golden_generated(rng)
        if item[1] not in seen:
            seen.add(item[1])
            pool.append(item)
    return [
        {"id": f"golden-{i:04d}", "topic": topic, "prompt": prompt, "expected": expected}
        for i, (topic, prompt, expected) in enumerate(pool[:n])
    ]


def _wrong_answer(expected: str, others: Sequence[str], rng: random.Random) -> str:
    bad = expected.lower()
    for _ in range(50):
        if re.search(r"\d", expected) and rng.random() < 0.7:
            candidate = re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 9) * rng.choice([1, 2, 3])), expected)
        else:
            candidate = rng.choice(list(others) + _WRONG_WORDS)
        if candidate and bad not in candidate.lower() and candidate.lower() not in bad:
            return candidate
    return "I don't know"  # pragma: no cover


def answer_golden(golden: Sequence[dict[str, Any]], *, accuracy: float = 1.0, seed: int = 0) -> list[str]:
    """Simulated model answers to ``golden``: exactly ``round(len * accuracy)`` correct.

    A correct answer contains the expected answer verbatim or in another casing, alone or
    inside a short sentence ("It's 30 days."). A wrong one never contains it (compared
    case-insensitively), e.g. another number or another item's answer.
    """
    accuracy = check_share(accuracy, "accuracy")
    items = list(golden)
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("expected"), str) or not item["expected"].strip():
            raise ValueError(f"golden item {i} has no 'expected' text answer: {item!r}")
    rng = random.Random(f"drift-tracking:answers:{seed}")
    n_correct = int(round(len(items) * accuracy))
    correct = set(rng.sample(range(len(items)), n_correct))
    expecteds = [item["expected"] for item in items]
    answers = []
    for i, expected in enumerate(expecteds):
        if i in correct:
            form = rng.choice(_CORRECT_FORMS)
            answers.append(form.format(a=expected, A=expected.upper(), l=expected.lower()))
        else:
            wrong = _wrong_answer(expected, expecteds, rng)
            answers.append(rng.choice(_WRONG_FORMS).format(w=wrong))
    return answers
