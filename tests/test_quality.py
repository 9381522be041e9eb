"""Golden-set scoring, reward and feedback signals, and their reference values in the baseline."""

from __future__ import annotations

import json

import pytest

from drift_tracking import demo
from drift_tracking.config import Config
from drift_tracking.data import load_texts
from drift_tracking.errors import DataError
from drift_tracking.quality import (
    QualityInputs,
    QualitySource,
    answer_matches,
    as_flag,
    load_feedback,
    load_golden,
    reference_values,
    score_golden,
)


@pytest.fixture(scope="module")
def golden():
    return demo.golden_set(50)


@pytest.mark.parametrize(
    ("answer", "expected", "method", "match"),
    [
        ("30 days", "30 days", "exact", True),
        ("30 days.", "30 days", "exact", False),
        ("It's 30 days.", "30 days", "normalised", True),
        ("IT'S 30 DAYS", "30 days", "normalised", True),
        ("130 days", "30 days", "normalised", False),
        ("The answer is $14.99.", "$14.99", "normalised", True),
        ("It costs $14.", "$14.99", "normalised", False),
        ("Account > Billing > Invoices", "Account > Billing > Invoices", "normalised", True),
    ],
)
def test_answer_matching(answer, expected, method, match):
    assert answer_matches(answer, expected, method) is match


@pytest.mark.parametrize("accuracy", [1.0, 0.8, 0.5])
def test_normalised_scoring_recovers_the_simulated_accuracy(golden, accuracy):
    answers = demo.answer_golden(golden, accuracy=accuracy, seed=3)
    result = score_golden(golden, answers, method="normalised")
    assert result["accuracy"] == pytest.approx(accuracy)
    assert result["n"] == 50
    # exact match is stricter: sentences around a right answer do not count
    assert score_golden(golden, answers, method="exact")["accuracy"] <= accuracy


def test_embedding_similarity_scoring(golden, embedder):
    right = score_golden(golden, [g["expected"] for g in golden], method="embedding", embedder=embedder)
    assert right["accuracy"] == 1.0
    wrong = demo.answer_golden(golden, accuracy=0.0, seed=3)
    assert score_golden(golden, wrong, method="embedding", embedder=embedder)["accuracy"] < 0.5


def test_golden_file_round_trip_and_errors(tmp_path, golden):
    answers = demo.answer_golden(golden, accuracy=0.9, seed=1)
    path = demo.write([{**g, "answer": a} for g, a in zip(golden, answers)], tmp_path / "golden.jsonl")
    assert score_golden(load_golden(path))["accuracy"] == pytest.approx(0.9)
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer\nq,a\n")
    with pytest.raises(DataError, match="prompt, expected"):
        load_golden(bad)
    no_answers = demo.write(golden, tmp_path / "no_answers.jsonl")
    with pytest.raises(DataError, match="'answer' column"):
        score_golden(load_golden(no_answers))


def test_feedback_flags(tmp_path):
    path = tmp_path / "flags.csv"
    path.write_text("id,flag\nr1,thumbs_down\nr2,thumbs_up\nr3,1\nr1,0\n")
    assert load_feedback(path) == {"r1": True, "r2": False, "r3": True}
    with pytest.raises(DataError, match="'maybe'"):
        as_flag("maybe")
    with pytest.raises(DataError, match="feedback.flag_column"):
        load_feedback(path, flag_column="thumb")


def test_signals_use_the_baseline_reference_unless_overridden():
    from types import SimpleNamespace

    reference = reference_values(golden={"accuracy": 0.9}, rewards=[0.8, 1.0], flags=[True, False, False, False])
    assert reference == {"golden_accuracy": 0.9, "reward_mean": 0.9, "flag_rate": 0.25}
    baseline = SimpleNamespace(quality_=reference)  # what Baseline.quality_ holds after build/load
    signals = QualityInputs(golden={"accuracy": 0.81, "n": 50}, rewards=[0.72], flags=[True, False]).signals(baseline)
    assert signals["golden"]["relative_drop"] == pytest.approx(0.1)
    assert signals["reward"]["relative_drop"] == pytest.approx(0.2)
    assert signals["feedback"]["relative_increase"] == pytest.approx(1.0)
    override = QualityInputs(golden={"accuracy": 0.81, "n": 50}, reference={"golden_accuracy": 0.81}).signals(baseline)
    assert override["golden"]["relative_drop"] == 0.0


def test_a_signal_without_a_baseline_value_is_reported_not_judged():
    signals = QualityInputs(golden={"accuracy": 0.5, "n": 10}).signals()
    assert signals["golden"]["relative_drop"] is None and signals["golden"]["baseline_accuracy"] is None


def test_quality_source_aligns_rewards_and_flags_with_loaded_rows(tmp_path):
    rows = [{"id": "a", "prompt": "hello there", "reward": 0.5}, {"id": "b", "prompt": "", "reward": 0.1},
            {"id": "c", "prompt": "where is my order", "reward": 0.9}]
    data = tmp_path / "w.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    flags = tmp_path / "flags.jsonl"
    flags.write_text(json.dumps({"id": "c", "flag": True}))
    config = Config().with_overrides(reward={"column": "reward"}, feedback={"path": str(flags)})
    texts = load_texts(data, id_column="id")
    source = QualitySource.from_config(config, data, texts)
    assert source.rewards == [0.5, 0.9]  # row b has no prompt and is left out
    assert source.flags == [False, True]
    assert source.for_rows([1]).rewards == [0.9]
    config = config.with_overrides(reward={"column": "score"})
    with pytest.raises(DataError, match="reward column 'score'"):
        QualitySource.from_config(config, data, texts)


def test_check_cli_judges_golden_accuracy_against_the_configured_baseline(baseline, healthy_window, golden, tmp_path):
    from click.testing import CliRunner

    from drift_tracking.cli import main

    window = demo.write(healthy_window, tmp_path / "window.jsonl")
    answers = demo.answer_golden(golden, accuracy=0.8, seed=2)
    golden_file = demo.write([{**g, "answer": a} for g, a in zip(golden, answers)], tmp_path / "golden.jsonl")
    config = tmp_path / "drift.toml"
    config.write_text("[golden]\nbaseline_accuracy = 0.95\n[persistence]\nwindows = 3\n")
    args = ["check", str(window), "--baseline", str(baseline.path), "--config", str(config), "--golden",
            str(golden_file), "--history", str(tmp_path / "hist"), "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["quality"]["golden"]["accuracy"] == pytest.approx(0.8)
    assert report["quality"]["golden"]["relative_drop"] == pytest.approx(0.15 / 0.95)
    assert (report["tier"], report["drift_kind"], report["material_degradation"]) == ("critical", "degradation", True)
    assert report["thresholds"]["persistence"] == 3
    assert "golden-set accuracy dropped 15.8%" in report["tier_reasons"][0]
    again = json.loads(CliRunner().invoke(main, args).stdout)  # the same window again: reported, counted once
    assert again["window"]["index"] == 0 and any("already checked" in w for w in again["warnings"])
    assert len((tmp_path / "hist" / "drift_history.jsonl").read_text().splitlines()) == 1


@pytest.mark.slow  # embeds with the real model
def test_baseline_build_stores_the_good_period_quality(baseline_samples, golden, tmp_path):
    from click.testing import CliRunner

    from drift_tracking.baseline import Baseline
    from drift_tracking.cli import main

    rows = [{**demo.to_records([s])[0], "reward": 0.5 + (i % 2) * 0.5} for i, s in enumerate(baseline_samples[:300])]
    data = demo.write(rows, tmp_path / "good.jsonl")
    answers = demo.answer_golden(golden, accuracy=0.9, seed=1)
    golden_file = demo.write([{**g, "answer": a} for g, a in zip(golden, answers)], tmp_path / "golden.jsonl")
    result = CliRunner().invoke(main, ["baseline", "build", str(data), "--out", str(tmp_path / "b"), "--golden",
                                       str(golden_file), "--reward-column", "reward", "--window-size", "100"])
    assert result.exit_code == 0, result.output
    built = Baseline.load(tmp_path / "b")
    assert built.quality_ == {"golden_accuracy": pytest.approx(0.9), "reward_mean": pytest.approx(0.75)}
    assert built.calibration_["window_size"] == 100


def test_reward_scores_from_a_callable():
    from drift_tracking.quality import reward_scores

    def scorer(prompts, responses):  # a stand-in reward model: longer answers score higher
        return [min(1.0, len(r) / 40) for r in responses]

    scores = reward_scores(scorer, ["a", "b"], ["short", "a much longer and more helpful answer here"])
    assert scores == [pytest.approx(5 / 40), 1.0]
    with pytest.raises(DataError, match="returned 1 scores for 2"):
        reward_scores(lambda p, r: [0.5], ["a", "b"], ["x", "y"])
