"""The work behind the ``drift`` evaluator: read MLflow's dataset, compare, log, return.

``data`` may be the DataFrame ``mlflow.search_traces`` returns: each trace's root span then
gives the prompt and response (see :func:`drift_tracking.data.load_traces`).

Kept apart from :mod:`drift_tracking.integrations.mlflow_evaluator` so the plugin module
MLflow imports for everyone stays empty; this one loads only when an evaluation asks
for drift. All decisions are the library's (``compare`` and the policy), so the CLI,
this evaluator and W&B give the same answer for the same data.

Every call to the tracking server made here (the baseline download, the logging) gives
up after a couple of quick retries instead of MLflow's minutes. A report computed but
not logged is spooled, and the error names ``drift-tracking relog`` to send it into the
evaluation's run later.
"""

from __future__ import annotations

from typing import Any

from drift_tracking.comparison import compare
from drift_tracking.config import Config, load_config
from drift_tracking.data import TextData, load_texts, load_traces
from drift_tracking.embedding import Embedder, embedder_for_baseline
from drift_tracking.errors import ConfigError, DataError
from drift_tracking.integrations import load_baseline
from drift_tracking.integrations.common import is_unreachable
from drift_tracking.integrations.gate_evaluation import gate_key, record_evaluation, window_sha256
from drift_tracking.integrations.mlflow_logging import bounded_http_retries, log_report_to_run, report_metrics
from drift_tracking.quality import QualitySource
from drift_tracking.sources.traces import is_traces_source
from drift_tracking.sinks import spool_failed

_DEFAULT_INPUT_COLUMNS = ("inputs", "prompt", "input", "question", "text")
# (retries, timeout in s) for the server: a couple of quick tries; the timeout leaves room for a baseline download
_RETRIES = (2, 60)
_KNOWN_KEYS = frozenset({
    "baseline", "input_column", "response_column", "model_name", "model_version", "window",
    "device", "batch_size", "embedding_model", "tracking_uri", "config", "golden", "seed",
})


def evaluate_drift(
    *, dataset: Any, run_id: str, config: dict[str, Any], model: Any = None, predictions: str | None = None
) -> Any:
    """Compare the dataset's prompts (and responses) to the configured baseline; log to ``run_id``."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models.evaluation import EvaluationResult

    unknown = sorted(set(config) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown key(s) in evaluator_config['drift']: {', '.join(unknown)}; "
            f"known keys: {', '.join(sorted(_KNOWN_KEYS))}"
        )
    features = _frame(dataset.features_data, dataset)
    texts = _texts(dataset, features, config, model=model, predictions=predictions)

    baseline = fetch_baseline(config["baseline"], config.get("tracking_uri"))
    embedder = embedder_for_config(baseline, config)
    policy, quality = _policy_and_quality(config, features, texts, embedder)
    window = {"source": "mlflow.evaluate", **dict(config.get("window") or {})}
    report = compare(baseline, texts, embedder=embedder, policy=policy, quality=quality,
                     seed=int(config.get("seed", 0)), window_info=window)

    client = MlflowClient()
    extra_tags = {f"drift.{k}": str(config[k]) for k in ("model_name", "model_version") if config.get(k) is not None}
    written, root = log_or_spool(client, run_id, report, extra_tags)
    if len(extra_tags) == 2:  # an evaluation of a model version: bind it for the gate, signed when a key is set
        record_evaluation(client, run_id, report, name=extra_tags["drift.model_name"],
                          version=extra_tags["drift.model_version"], baseline=baseline,
                          window_hash=window_sha256(texts.prompts, texts.responses), key=gate_key())
    artifacts = {_artifact_name(path): _artifact(f"{root}/{path}") for path in written if "/" not in path}
    return EvaluationResult(metrics=report_metrics(report), artifacts=artifacts, run_id=run_id)


def fetch_baseline(uri: str, tracking_uri: str | None = None) -> Any:
    """The baseline at ``uri``, verified; from MLflow's tracking server by default, with quick retries."""
    import mlflow

    with bounded_http_retries(*_RETRIES):
        return load_baseline(uri, tracking_uri=tracking_uri or mlflow.get_tracking_uri())


def log_or_spool(client: Any, run_id: str, report: Any, extra_tags: dict[str, str]) -> tuple[list[str], str]:
    """Log the report to the evaluation's run; on failure spool it and raise SinkFailed naming relog."""
    uri = str(client.tracking_uri)
    try:
        with bounded_http_retries(*_RETRIES):
            written = log_report_to_run(client, run_id, report, extra_tags=extra_tags)
            return written, client.get_run(run_id).info.artifact_uri.rstrip("/")
    except Exception as exc:  # noqa: BLE001 - the computed report must not be lost with the server
        target = {"sink": "mlflow", "tracking_uri": uri, "run_id": run_id, "session": run_id,
                  "experiment_name": None, "run_name": None}
        raise spool_failed(None, report, (), exc, what=f"the drift report (tier {report.tier}) was computed but "
                           f"MLflow at {uri}", target=target, unreachable=is_unreachable(exc)) from exc


def _texts(dataset: Any, features: Any, config: dict[str, Any], *, model: Any, predictions: str | None) -> TextData:
    """The window's prompts and responses: from the traces of a ``mlflow.search_traces`` frame, else columns.

    In a traces frame, ``input_column`` / ``response_column`` name fields of each
    trace's root span inputs / outputs (unless they are columns of the frame).
    """
    wanted = config.get("input_column")
    if is_traces_source(features) and wanted not in features.columns:
        return load_traces(features, prompt_key=wanted, response_key=config.get("response_column"))
    prompt_column = _input_column(features, wanted)
    responses = _responses(dataset, features, config, model=model, predictions=predictions)
    table = {"prompt": features[prompt_column].tolist()}
    if responses is not None:
        table["response"] = responses
    return load_texts(_pandas().DataFrame(table), text_column="prompt",
                      response_column="response" if responses is not None else None)


def _pandas() -> Any:
    import pandas as pd

    return pd


def _frame(data: Any, dataset: Any) -> Any:
    pd = _pandas()
    if isinstance(data, pd.DataFrame):
        return data
    names = list(getattr(dataset, "feature_names", None) or [])
    frame = pd.DataFrame(data)
    if names and len(names) == frame.shape[1]:
        frame.columns = names
    return frame


def _input_column(features: Any, wanted: str | None) -> str:
    columns = [str(c) for c in features.columns]
    if wanted is not None:
        if wanted not in features.columns:
            raise DataError(
                f"input_column {wanted!r} is not in the evaluation data; its columns are: {', '.join(columns)}. "
                "Set evaluator_config={'drift': {'input_column': ...}} to the prompts' column"
            )
        return wanted
    for name in _DEFAULT_INPUT_COLUMNS:
        if name in features.columns:
            return name
    if len(columns) == 1:
        return features.columns[0]
    raise DataError(
        f"cannot tell which column holds the prompts among {', '.join(columns)}; "
        "set evaluator_config={'drift': {'input_column': NAME}}"
    )


def _responses(dataset: Any, features: Any, config: dict[str, Any], *, model: Any, predictions: str | None) -> list[Any] | None:
    """Responses from the model when one is given, else the ``predictions`` column, else ``response_column``."""
    if model is not None:
        return _model_outputs(model.predict(features), predictions)
    data = getattr(dataset, "predictions_data", None)
    if data is not None:
        return list(data.tolist() if hasattr(data, "tolist") else data)
    column = config.get("response_column")
    if column is not None:
        if column not in features.columns:
            raise DataError(f"response_column {column!r} is not in the evaluation data")
        return features[column].tolist()
    return None


def _model_outputs(outputs: Any, predictions: str | None) -> list[Any]:
    pd = _pandas()
    if isinstance(outputs, pd.DataFrame):
        if predictions is not None and predictions in outputs.columns:
            return outputs[predictions].tolist()
        if outputs.shape[1] == 1:
            return outputs.iloc[:, 0].tolist()
        raise DataError(
            f"the model returned columns {list(outputs.columns)}; pass predictions=COLUMN to say which holds responses"
        )
    if isinstance(outputs, pd.Series):
        return outputs.tolist()
    if isinstance(outputs, dict):
        if predictions in outputs:
            return list(outputs[predictions])
        if len(outputs) == 1:
            return list(next(iter(outputs.values())))
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):
        key = predictions if predictions in outputs[0] else next(iter(outputs[0]))
        return [o.get(key) for o in outputs]
    if hasattr(outputs, "tolist"):
        return list(outputs.tolist())
    if isinstance(outputs, (list, tuple)):
        return list(outputs)
    raise DataError(f"cannot read responses from a model output of type {type(outputs).__name__}")


def embedder_for_config(baseline: Any, config: dict[str, Any]) -> Any:
    """``embedding_model`` when given, else the bundled copy or a model the config's allow-list names."""
    allowed = load_config(config["config"]).embedding.allowed_models if config.get("config") else ()
    return embedder_for_baseline(
        baseline.identity_, config.get("embedding_model"), allowed_models=allowed,
        device=str(config.get("device", "auto")), batch_size=int(config.get("batch_size", 32)),
    )


def _policy_and_quality(config: dict[str, Any], features: Any, texts: Any, embedder: Any) -> tuple[Any, Any]:
    """The policy a ``config`` TOML file asks for (library defaults without one) and quality inputs.

    ``golden`` (a golden-set file) overrides the file's golden set; rewards and feedback
    named in the file are read from the evaluation data, row for row.
    """
    if config.get("config") is None and config.get("golden") is None:
        return None, None
    settings = load_config(config["config"]) if config.get("config") else Config()
    if config.get("golden"):
        settings = settings.with_overrides(golden={"path": str(config["golden"])})
    source = QualitySource.from_config(settings, features, texts, embedder=embedder)
    return settings.policy(), (None if source.empty else source.for_rows())


def _artifact_name(path: str) -> str:
    """``drift_report.json`` -> ``drift_report``; the HTML page is ``drift_report_html``."""
    stem, _, suffix = path.rpartition(".")
    return f"{stem}_html" if suffix == "html" else stem


def _artifact(uri: str) -> Any:
    from mlflow.models.evaluation.artifacts import (
        ImageEvaluationArtifact,
        JsonEvaluationArtifact,
        TextEvaluationArtifact,
    )

    if uri.endswith(".png"):
        return ImageEvaluationArtifact(uri=uri)
    if uri.endswith(".json"):
        return JsonEvaluationArtifact(uri=uri)
    return TextEvaluationArtifact(uri=uri)
