"""The seeded traffic generator: determinism, shares, topic coverage, golden set."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

import pytest

from drift_tracking import demo
from drift_tracking.demo import BASE_TOPICS, NOVEL_TOPICS, Sample


def test_topic_tables():
    assert len(BASE_TOPICS) >= 10
    assert len(NOVEL_TOPICS) >= 5
    assert not set(BASE_TOPICS) & set(NOVEL_TOPICS)
    for topic in BASE_TOPICS + NOVEL_TOPICS:
        intents = demo.TOPICS[topic]["intents"]
        assert sum(len(i["prompts"]) for i in intents) >= 8, topic


def test_deterministic_by_seed():
    a = demo.generate(300, seed=5, novel_share=0.2, degraded_share=0.1)
    b = demo.generate(300, seed=5, novel_share=0.2, degraded_share=0.1)
    c = demo.generate(300, seed=6, novel_share=0.2, degraded_share=0.1)
    assert a == b
    assert [s.prompt for s in a] != [s.prompt for s in c]
    assert all(isinstance(s, Sample) for s in a)
    with pytest.raises(Exception):
        a[0].prompt = "x"  # frozen


@pytest.mark.parametrize("n,share", [(1, 0.0), (7, 0.5), (100, 0.4), (333, 0.1), (50, 1.0)])
def test_exact_novel_share(n, share):
    out = demo.generate(n, seed=2, novel_share=share)
    assert len(out) == n
    novel = [s for s in out if s.novel]
    assert len(novel) == round(n * share)
    assert all(s.topic in NOVEL_TOPICS for s in novel)
    assert all(s.topic in BASE_TOPICS for s in out if not s.novel)


def test_novel_samples_are_shuffled_in():
    out = demo.generate(200, seed=3, novel_share=0.3)
    flags = [s.novel for s in out]
    assert any(flags[:100]) and any(flags[100:])


def test_topic_coverage_and_mild_weights():
    out = demo.generate(5000, seed=1, novel_share=0.2)
    base = Counter(s.topic for s in out if not s.novel)
    novel = Counter(s.topic for s in out if s.novel)
    assert set(base) == set(BASE_TOPICS)
    assert set(novel) == set(NOVEL_TOPICS)
    assert max(base.values()) < 2.5 * min(base.values())  # unequal, but mildly
    # weights do not depend on the seed: two seeds share one topic distribution
    other = Counter(s.topic for s in demo.generate(5000, seed=99) if not s.novel)
    for topic in BASE_TOPICS:
        assert abs(base[topic] / sum(base.values()) - other[topic] / sum(other.values())) < 0.02


def test_topics_argument_and_validation():
    out = demo.generate(50, seed=0, topics=["billing", "fitness"], novel_share=0.2, novel_topics=["gardening"])
    assert {s.topic for s in out if not s.novel} <= {"billing", "fitness"}
    assert {s.topic for s in out if s.novel} == {"gardening"}
    with pytest.raises(ValueError, match="unknown topic"):
        demo.generate(10, topics=["astrology"])
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="n must be"):
            demo.generate(bad)
    with pytest.raises(ValueError, match="novel_share"):
        demo.generate(10, novel_share=1.5)
    with pytest.raises(ValueError, match="degraded_share"):
        demo.generate(10, degraded_share=-0.1)
    with pytest.raises(ValueError, match="ISO 8601"):
        demo.generate(10, start="yesterday")


def test_degraded_share_changes_only_responses():
    clean = demo.generate(400, seed=4)
    degraded = demo.generate(400, seed=4, degraded_share=0.25)
    assert [s.prompt for s in clean] == [s.prompt for s in degraded]
    assert [s.topic for s in clean] == [s.topic for s in degraded]
    changed = sum(a.response != b.response for a, b in zip(clean, degraded))
    assert changed == 100
    assert demo.generate(400, seed=4, degraded_share=1.0)[0].response != clean[0].response


def test_texts_look_like_messages():
    out = demo.generate(3000, seed=8, novel_share=0.3)
    for s in out:
        words = len(s.prompt.split())
        assert 6 <= words <= 40, s.prompt
        assert "{" not in s.prompt and "}" not in s.prompt
        assert "{" not in s.response and s.response.strip()
        assert 1 <= len(re.findall(r"[.!?](\s|$)", s.response)) <= 3, s.response
        assert s.prompt.isascii() or "°" in s.prompt or "'" in s.prompt
    # thousands of distinct prompts per topic are possible; a few thousand draws are mostly unique
    big = demo.generate(20000, seed=9)
    per_topic: dict[str, set[str]] = {}
    for s in big:
        per_topic.setdefault(s.topic, set()).add(s.prompt)
    assert all(len(v) >= 1000 for v in per_topic.values()), {k: len(v) for k, v in per_topic.items()}


def test_timestamps_and_ids():
    out = demo.generate(5, seed=1, start="2026-03-01T12:00:00Z", interval_seconds=90)
    assert [s.timestamp for s in out] == [
        "2026-03-01T12:00:00Z", "2026-03-01T12:01:30Z", "2026-03-01T12:03:00Z",
        "2026-03-01T12:04:30Z", "2026-03-01T12:06:00Z",
    ]
    assert len({s.id for s in out}) == 5
    assert all(datetime.fromisoformat(s.timestamp.replace("Z", "+00:00")).tzinfo for s in out)


def test_records_and_frame():
    out = demo.generate(20, seed=1, novel_share=0.5)
    records = demo.to_records(out)
    assert records[0] == {k: getattr(out[0], k) for k in ("id", "prompt", "response", "topic", "novel", "timestamp")}
    frame = demo.to_frame(out)
    assert list(frame.columns) == ["id", "prompt", "response", "topic", "novel", "timestamp"]
    assert len(frame) == 20 and frame["novel"].sum() == 10


def test_write_rejects_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match="unsupported extension"):
        demo.write(demo.generate(2), tmp_path / "x.txt")


def test_golden_set():
    golden = demo.golden_set(50)
    assert len(golden) == 50
    assert golden == demo.golden_set(50)  # fixed
    assert len({g["prompt"] for g in golden}) == 50
    assert {g["topic"] for g in golden} == set(BASE_TOPICS)
    assert all(set(g) == {"id", "topic", "prompt", "expected"} and g["expected"].strip() for g in golden)
    assert any(g["prompt"] == "How many days do I have to return an item?" and g["expected"] == "30 days" for g in golden)
    assert len(demo.golden_set(10)) == 10 and {g["topic"] for g in demo.golden_set(10)} == set(BASE_TOPICS)
    many = demo.golden_set(300, seed=3)
    assert len({g["prompt"] for g in many}) == 300
    with pytest.raises(ValueError):
        demo.golden_set(0)


@pytest.mark.parametrize("accuracy", [0.0, 0.3, 0.72, 1.0])
def test_answer_golden_accuracy(accuracy):
    golden = demo.golden_set(100, seed=1)
    answers = demo.answer_golden(golden, accuracy=accuracy, seed=2)
    assert len(answers) == len(golden)
    correct = sum(g["expected"].lower() in a.lower() for g, a in zip(golden, answers))
    assert correct == round(100 * accuracy)
    assert answers == demo.answer_golden(golden, accuracy=accuracy, seed=2)


def test_answer_golden_varies_form_and_validates():
    golden = demo.golden_set(60)
    answers = demo.answer_golden(golden, accuracy=1.0, seed=0)
    assert any(a != g["expected"] for g, a in zip(golden, answers))  # sentences / other casing
    with pytest.raises(ValueError, match="accuracy"):
        demo.answer_golden(golden, accuracy=1.2)
    with pytest.raises(ValueError, match="expected"):
        demo.answer_golden([{"prompt": "x"}])
