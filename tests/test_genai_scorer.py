"""The drift scorer for ``mlflow.genai.evaluate``, on traces in a real ``mlflow server``.

Assessments, metrics and the report are read back from the server, not taken from the
scorer's own return values.
"""

from __future__ import annotations

import json
import uuid

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from trace_support import log_traced_calls, server, write_jsonl  # noqa: F401 - server is a fixture

from drift_tracking.cli import main
from drift_tracking.comparison import compare_embeddings
from drift_tracking.errors import DataError
from drift_tracking.integrations.mlflow_scorer import FEEDBACK_NAME, drift_scorer, row_novelty
from drift_tracking.statistics import knn_distance

METADATA = {"distance_ratio", "beyond_cutoff", "nearest_cluster", "cluster_keywords", "novel_cluster",
            "novel_topic", "window_tier"}


def _cutoff(reference) -> float:
    return float(np.quantile(reference.knn_scores_[reference.knn_index_], 0.99))


# -- per-row novelty ---------------------------------------------------------------------------
@pytest.mark.slow
def test_row_novelty_is_the_baseline_score_over_its_cutoff(baseline, embedder, drifted_window):
    reference = baseline.prompts_
    x = embedder.encode([s.prompt for s in drifted_window])
    rows = row_novelty(baseline, x)
    expected = knn_distance(x, reference.knn_reference, 3) / _cutoff(reference)
    np.testing.assert_allclose(rows.distance_ratio, expected, rtol=1e-5)
    assert rows.nearest_cluster.tolist() == reference.assign(x)[0].tolist()
    report = compare_embeddings(baseline, x)
    assert rows.novel.mean() == pytest.approx(report.metrics["novel_cluster_share"])
    novel_topics = np.array([s.novel for s in drifted_window])
    assert rows.novel[novel_topics].mean() > 0.8 and rows.novel[~novel_topics].mean() < 0.05
    assert (rows.distance_ratio[rows.novel] > 1).all()


@pytest.mark.slow
def test_every_row_of_a_window_larger_than_the_scored_sample_gets_its_score(baseline):
    reference = baseline.prompts_
    rng = np.random.default_rng(5)
    x = reference.embeddings_[rng.choice(len(reference.embeddings_), 6000)] + rng.normal(0, 0.02, (6000, 384))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    rows = row_novelty(baseline, x)
    expected = knn_distance(x, reference.knn_reference, 3) / _cutoff(reference)
    np.testing.assert_allclose(rows.distance_ratio, expected, rtol=1e-5)
    assert len(rows.novel_cluster) == len(rows.nearest_cluster) == 6000


def test_the_scorer_asks_for_the_rows_it_will_score():
    with pytest.raises(DataError, match="needs the rows it will score"):
        drift_scorer(baseline="models:/support-baseline@production")


# -- mlflow.genai.evaluate on a real server ----------------------------------------------------
@pytest.fixture(scope="module")
def app(server, healthy_window, drifted_window, tmp_path_factory):
    """200 traces logged live by @mlflow.trace and mlflow.start_span (chat formats among them); the same as JSONL."""
    samples = list(healthy_window[:100]) + list(drifted_window[:100])
    name, experiment_id = log_traced_calls(samples, prefix="scored")
    path = write_jsonl(samples, tmp_path_factory.mktemp("scored") / "same.jsonl")
    return {"name": name, "id": experiment_id, "samples": samples, "jsonl": path}


def _assessments(trace) -> list:
    return [a for a in trace.info.assessments if a.name == FEEDBACK_NAME]


@pytest.mark.slow
def test_evaluate_200_traces_one_assessment_each_and_the_window_report(server, app, baseline, embedder, monkeypatch):
    import mlflow
    from mlflow import MlflowClient

    cli = CliRunner().invoke(main, ["check", str(app["jsonl"]), "--baseline", str(baseline.path),
                                    "--response-column", "response", "--format", "json"])  # the same prompts
    assert cli.exit_code == 0, cli.output
    expected = json.loads(cli.stdout)
    batches: list[int] = []
    encode = embedder.encode
    monkeypatch.setattr(embedder, "encode", lambda texts, **kw: batches.append(len(texts)) or encode(texts, **kw))

    frame = mlflow.search_traces(locations=[app["id"]])
    mlflow.set_experiment(experiment_id=app["id"])
    result = mlflow.genai.evaluate(data=frame, scorers=[drift_scorer(baseline=str(baseline.path), data=frame,
                                                                     embedder=embedder)])
    assert batches == [200, 200, 200]  # prompts and responses for the report, prompts again (from the cache)
    assert result.metrics[f"{FEEDBACK_NAME}/mean"] == pytest.approx(expected["metrics"]["novel_cluster_share"])

    client = MlflowClient(tracking_uri=server)
    run = client.get_run(result.run_id)
    assert run.data.tags["drift.tier"] == expected["tier"]
    assert run.data.metrics["drift/tier_level"] == {"ok": 0, "review": 1, "critical": 2}[expected["tier"]]
    for name, value in expected["metrics"].items():
        assert run.data.metrics[f"drift/{name}"] == pytest.approx(value, rel=1e-5, abs=1e-6), name
    assert run.data.metrics[f"{FEEDBACK_NAME}/mean"] == pytest.approx(expected["metrics"]["novel_cluster_share"])
    assert {"drift_report.json", "drift_report.html"} <= {a.path for a in client.list_artifacts(result.run_id)}

    scored = mlflow.search_traces(locations=[app["id"]], run_id=result.run_id, return_type="list")
    assert len(scored) == 200
    found = [_assessments(t) for t in scored]
    assert all(len(a) == 1 and a[0].error is None for a in found)
    values = [a[0].value for a in found]
    assert np.mean(values) == pytest.approx(expected["metrics"]["novel_cluster_share"])
    novel = next(a[0] for a in found if a[0].value)
    assert set(novel.metadata) >= METADATA and float(novel.metadata["distance_ratio"]) > 1
    assert novel.metadata["window_tier"] == expected["tier"] and "new topic" in novel.rationale
    known = next(a[0] for a in found if not a[0].value)
    assert "not in a new topic" in known.rationale and known.metadata["cluster_keywords"]
    assert known.span_id  # attached to the trace's root span: shown next to it in the UI


@pytest.mark.slow
def test_copied_traces_unreadable_traces_and_plain_rows(server, app, baseline, embedder):
    import mlflow

    odd = mlflow.create_experiment(f"odd-{uuid.uuid4().hex[:8]}")
    span = mlflow.start_span_no_context("two_arguments", inputs={"a": "x", "b": "y"}, experiment_id=odd)
    span.set_outputs("ok")
    span.end()
    mlflow.flush_trace_async_logging()
    frame = pd.concat([mlflow.search_traces(locations=[app["id"]], max_results=24),
                       mlflow.search_traces(locations=[odd])], ignore_index=True)
    mlflow.set_experiment(f"elsewhere-{uuid.uuid4().hex[:8]}")  # traces are copied here, with new ids
    scorer = drift_scorer(baseline=str(baseline.path), data=frame, embedder=embedder)
    result = mlflow.genai.evaluate(data=frame, scorers=[scorer])
    scored = mlflow.search_traces(run_id=result.run_id, return_type="list")
    assert len(scored) == 25 and not {t.info.trace_id for t in scored} & set(frame["trace_id"])
    errors = [a[0].error for a in map(_assessments, scored) if a[0].error is not None]
    assert len(errors) == 1 and "no prompt in the trace" in errors[0].error_message
    assert result.metrics[f"{FEEDBACK_NAME}/mean"] == pytest.approx(scorer.report.metrics["novel_cluster_share"])
    assert scorer.report.n_samples == 24 and scorer.report.invalid_rows["n_invalid_rows"] == 1

    rows = [{"inputs": {"question": s.prompt}, "outputs": s.response} for s in app["samples"][100:124]]
    plain = drift_scorer(baseline=str(baseline.path), data=rows, embedder=embedder)
    result = mlflow.genai.evaluate(data=rows, scorers=[plain])
    assert plain.report.n_samples == 24
    assert result.metrics[f"{FEEDBACK_NAME}/mean"] == pytest.approx(plain.report.metrics["novel_cluster_share"])


@pytest.mark.slow
def test_a_trace_outside_the_data_is_refused_by_name(server, app, baseline, embedder):
    import mlflow

    listed = mlflow.search_traces(locations=[app["id"]], return_type="list", order_by=["timestamp_ms ASC"])
    scorer = drift_scorer(baseline=str(baseline.path), data=listed[:60], embedder=embedder)
    inside = scorer(trace=listed[10])
    assert inside.name == FEEDBACK_NAME and isinstance(inside.value, bool)
    assert set(inside.metadata) >= METADATA
    with pytest.raises(DataError, match="not in the data given to drift_scorer"):
        scorer(trace=listed[150])
