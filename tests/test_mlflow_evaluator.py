"""The ``drift`` evaluator and registered baselines, on a real ``mlflow server``.

A baseline is registered once per module; evaluations run against it through the
public ``mlflow.models.evaluate`` / ``mlflow.evaluate`` calls, and everything is read
back through ``MlflowClient`` from the server, never from our own return values alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from drift_tracking.errors import ArtifactError, ConfigError, DataError
from drift_tracking.integrations.mlflow_evaluator import DriftEvaluator

pytestmark = pytest.mark.slow

MODEL_NAME = "support-baseline-evaluator-tests"
EXPECTED_ROOT_FILES = {
    "drift_report.json",
    "drift_report.html",
    "cluster_scatter.png",
    "cluster_shares.png",
    "metric_timeseries.png",
    "drift_cluster_shift.json",
    "drift_novel_prompts.json",
}


@pytest.fixture(scope="module")
def server(mlflow_server):
    """The session server as MLflow's global tracking and registry URI, restored afterwards."""
    import mlflow

    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_server)
    mlflow.set_registry_uri(mlflow_server)
    yield mlflow_server
    mlflow.set_tracking_uri(before)
    mlflow.set_registry_uri(before)


@pytest.fixture(scope="module")
def registered(server, baseline):
    from drift_tracking.integrations.mlflow_registry import register_baseline

    return register_baseline(baseline.path, MODEL_NAME, aliases=["production"], tracking_uri=server)


def _frame(window) -> pd.DataFrame:
    return pd.DataFrame({"inputs": [s.prompt for s in window], "response": [s.response for s in window]})


def _download(client, run_id: str, path: str, tmp_path: Path) -> Path:
    return Path(client.download_artifacts(run_id, path, str(tmp_path)))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.tags.append(tag)

    def handle_data(self, data):  # noqa: ANN001
        self.text.append(data)


# -- the plugin module -------------------------------------------------------------------
def _python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (nothing imported yet); returns its stdout."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_plugin_is_registered_and_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from mlflow.models.evaluation.evaluator_registry import _model_evaluation_registry as r\n"
        "assert 'drift' in r._registry, list(r._registry)\n"
        "assert r._registry['drift'].__name__ == 'DriftEvaluator'\n"
        "heavy = [m for m in ('torch', 'sentence_transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "ours = {m for m in sys.modules if m.startswith('drift_tracking')}\n"
        "assert ours == {'drift_tracking', 'drift_tracking.errors', 'drift_tracking.integrations', "
        "'drift_tracking.integrations.mlflow_evaluator'}, ours\n"
        "print('ok')\n"
    )
    assert _python(code) == "ok"


def test_plugin_module_never_raises_at_import_even_without_mlflow():
    code = (
        "import sys\n"
        "sys.modules['mlflow'] = None  # any 'import mlflow...' now fails\n"
        "from drift_tracking.integrations.mlflow_evaluator import DriftEvaluator\n"
        "print(DriftEvaluator.can_evaluate(model_type='text', evaluator_config={'baseline': 'b'}))\n"
    )
    assert _python(code) == "True"


@pytest.mark.parametrize(
    ("config", "expected"),
    [({"baseline": "models:/b@production"}, True), ({}, False), (None, False), ({"baseline": ""}, False)],
)
def test_can_evaluate_only_when_a_baseline_is_configured(config, expected):
    # Without this, evaluators=None on somebody's classifier would run drift checks too.
    assert DriftEvaluator.can_evaluate(model_type="classifier", evaluator_config=config) is expected


# -- the registry ------------------------------------------------------------------------
def test_registered_baseline_has_alias_tags_and_downloads_verified(server, registered, baseline, tmp_path):
    from mlflow import MlflowClient

    from drift_tracking.baseline import Baseline
    from drift_tracking.integrations.mlflow_registry import download_baseline

    client = MlflowClient(tracking_uri=server, registry_uri=server)
    version = client.get_model_version_by_alias(MODEL_NAME, "production")
    assert int(version.version) == registered.version
    assert version.tags["drift.baseline_version"] == baseline.manifest["content_sha256"]
    assert version.tags["drift.embedding_fingerprint"] == baseline.identity_.fingerprint
    for uri in (registered.uri, registered.version_uri, f"runs:/{registered.run_id}/baseline_model"):
        loaded = Baseline.load(download_baseline(uri, tracking_uri=server, dst=tmp_path / uri.replace("/", "_")))
        assert loaded.version == baseline.version
        assert loaded.identity_ == baseline.identity_


def test_download_refuses_a_version_whose_files_changed_after_registration(server, registered, tmp_path):
    from mlflow import MlflowClient

    from drift_tracking.integrations.mlflow_registry import download_baseline

    client = MlflowClient(tracking_uri=server, registry_uri=server)
    original = client.get_model_version(MODEL_NAME, str(registered.version)).tags["drift.baseline_version"]
    client.set_model_version_tag(MODEL_NAME, str(registered.version), "drift.baseline_version", "0" * 64)
    try:
        with pytest.raises(ArtifactError, match="changed after registration"):
            download_baseline(registered.version_uri, tracking_uri=server, dst=tmp_path)
    finally:
        client.set_model_version_tag(MODEL_NAME, str(registered.version), "drift.baseline_version", original)
    with pytest.raises(ArtifactError, match="not in the registry"):
        download_baseline(f"models:/{MODEL_NAME}@no-such-alias", tracking_uri=server)


def test_registered_baseline_loads_as_pyfunc_scoring_novelty(server, registered, embedder):
    import mlflow

    from drift_tracking import demo

    model = mlflow.pyfunc.load_model(registered.uri)
    known = [s.prompt for s in demo.generate(40, seed=21)]
    novel = [s.prompt for s in demo.generate(40, seed=22, novel_share=1.0)]
    scores = model.predict(pd.DataFrame({"prompt": known + novel}))
    assert list(scores.columns) == ["cluster", "cluster_label", "distance", "novelty", "is_novel"]
    assert len(scores) == 80
    assert scores["cluster"].between(0, 100).all()
    assert scores["novelty"][40:].mean() > scores["novelty"][:40].mean() + 0.1
    assert scores["is_novel"][40:].mean() > scores["is_novel"][:40].mean()


# -- evaluate ----------------------------------------------------------------------------
def test_evaluate_logs_metrics_tags_and_artifacts_to_the_server(server, registered, baseline, drifted_window, tmp_path):
    import mlflow
    from mlflow import MlflowClient
    from PIL import Image

    with mlflow.start_run(run_name="drift evaluate test") as run:
        result = mlflow.models.evaluate(
            data=_frame(drifted_window),
            predictions="response",
            model_type="text",
            evaluators=["drift"],
            evaluator_config={"drift": {"baseline": registered.uri, "input_column": "inputs",
                                        "model_name": "support-bot", "model_version": "7",
                                        "window": {"index": 4, "timestamp": "2026-02-08T00:00:00Z"}}},
        )
    run_id = run.info.run_id
    assert result.metrics["drift/tier_level"] == 2.0
    assert result.metrics["drift/novel_cluster_share"] > 0.3
    assert "drift/response/js_divergence" in result.metrics

    client = MlflowClient(tracking_uri=server)
    logged = client.get_run(run_id)
    tags = logged.data.tags
    assert tags["drift.tier"] == "critical"
    assert tags["drift.kind"] in ("unknown", "degradation", "benign")
    assert tags["drift.retrain_recommended"] in ("true", "false")
    assert tags["drift.baseline_uri"] == registered.uri
    assert tags["drift.baseline_version"] == baseline.version
    assert (tags["drift.model_name"], tags["drift.model_version"]) == ("support-bot", "7")
    assert logged.data.params["drift.embedding_model"] == "all-MiniLM-L6-v2"
    assert logged.data.params["drift.baseline_uri"] == registered.uri
    for key, value in result.metrics.items():
        history = client.get_metric_history(run_id, key)
        assert [(m.step, m.value) for m in history] == [(4, pytest.approx(value))], key
    assert client.get_metric_history(run_id, "drift/js_divergence")[0].timestamp == 1770508800000

    files = {a.path for a in client.list_artifacts(run_id)}
    assert EXPECTED_ROOT_FILES <= files
    assert {a.path for a in client.list_artifacts(run_id, "windows/4")} >= {
        "windows/4/drift_report.json", "windows/4/cluster_scatter.png"}
    for name in ("cluster_scatter.png", "cluster_shares.png", "metric_timeseries.png"):
        with Image.open(_download(client, run_id, name, tmp_path)) as image:
            assert image.format == "PNG" and image.size[0] > 300
    report = json.loads(_download(client, run_id, "drift_report.json", tmp_path).read_text())
    assert report["tier"] == "critical" and report["n_samples"] == len(drifted_window)
    assert report["metrics"]["novel_cluster_share"] == pytest.approx(result.metrics["drift/novel_cluster_share"])
    parser = _Tags()
    parser.feed(_download(client, run_id, "drift_report.html", tmp_path).read_text())
    assert parser.tags.count("img") == 3 and "table" in parser.tags
    assert "CRITICAL" in "".join(parser.text)
    shift = json.loads(_download(client, run_id, "drift_cluster_shift.json", tmp_path).read_text())
    assert {"window", "cluster", "baseline_share", "window_share"} <= set(shift["columns"])
    assert len(shift["data"]) == len(report["cluster_shift"])
    novel = json.loads(_download(client, run_id, "drift_novel_prompts.json", tmp_path).read_text())
    prompts = [row[novel["columns"].index("prompt")] for row in novel["data"]]
    assert prompts and set(prompts) <= {s.prompt for s in drifted_window}
    assert set(result.artifacts) >= {"drift_report", "drift_report_html", "cluster_scatter", "drift_cluster_shift"}


def test_deprecated_evaluate_with_a_callable_model(server, registered, healthy_window):
    import mlflow
    from mlflow import MlflowClient

    answers = {s.prompt: s.response for s in healthy_window}
    with pytest.warns(FutureWarning):
        result = mlflow.evaluate(
            model=lambda frame: [answers[p] for p in frame["inputs"]],
            data=_frame(healthy_window)[["inputs"]],
            model_type="text",
            evaluators=["drift"],
            evaluator_config={"drift": {"baseline": registered.version_uri}},
        )
    assert result.metrics["drift/tier_level"] == 0.0
    assert result.metrics["drift/response/novel_cluster_share"] < 0.1
    assert MlflowClient(tracking_uri=server).get_run(result._run_id).data.tags["drift.tier"] == "ok"


def test_evaluate_with_a_pyfunc_model_measures_its_responses(server, registered, healthy_window):
    import mlflow

    class Echo(mlflow.pyfunc.PythonModel):
        """A stand-in 'LLM' whose answers have nothing to do with the baseline's responses."""

        def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
            return [f"I cannot help with that: {p}" for p in model_input["inputs"]]

    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="echo", python_model=Echo(), pip_requirements=[])
        result = mlflow.models.evaluate(
            model=info.model_uri,
            data=_frame(healthy_window)[["inputs"]],
            model_type="text",
            evaluators=["drift"],
            evaluator_config={"drift": {"baseline": registered.uri}},
        )
    # Same prompts as a healthy window, but the responses moved: response metrics say so.
    assert result.metrics["drift/novel_cluster_share"] < 0.1
    assert result.metrics["drift/response/classifier_auc"] > 0.9


def test_bad_configuration_gets_a_clear_error(server, registered, healthy_window):
    import mlflow

    frame = _frame(healthy_window)
    with pytest.raises(DataError, match="input_column 'question' is not in the evaluation data"):
        mlflow.models.evaluate(data=frame, predictions="response", model_type="text", evaluators=["drift"],
                               evaluator_config={"drift": {"baseline": registered.uri, "input_column": "question"}})
    with pytest.raises(ConfigError, match="unknown key.*treshold"):
        mlflow.models.evaluate(data=frame, predictions="response", model_type="text", evaluators=["drift"],
                               evaluator_config={"drift": {"baseline": registered.uri, "treshold": 0.2}})
