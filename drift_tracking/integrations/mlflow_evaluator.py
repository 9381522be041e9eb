"""The ``drift`` evaluator for ``mlflow.models.evaluate(..., evaluators=["drift"])``.

MLflow imports every registered evaluator whenever anyone evaluates anything, so this
module imports only the standard library and MLflow's own evaluation base (already
loaded by then); torch, the model and the statistics load inside ``evaluate``. If even
MLflow's base class cannot be imported, the class still defines itself on ``object``:
an import here must never break somebody else's evaluation.

Configuration (``evaluator_config={"drift": {...}}``):

``baseline`` (required)
    a baseline directory or URI (``models:/NAME@ALIAS``, ``runs:/...``, ``mlflow-artifacts:/...``).
``input_column``
    the prompts' column in ``data`` [default: ``inputs``, else the only text column].
``response_column``
    where responses are read when no model and no ``predictions`` column give them.
``model_name``, ``model_version``
    identity of the model under evaluation, tagged ``drift.model_name`` /
    ``drift.model_version`` so a registry gate can find this run; the run also gets the
    evaluation record the gate verifies, signed when ``$DRIFT_TRACKING_GATE_KEY`` is set.
``window``
    extra window facts (``index``, ``timestamp``, ...) recorded with the report.
``config``, ``golden``, other policy keys
    passed to the policy when it understands them.
``device``, ``batch_size``, ``embedding_model``, ``tracking_uri``
    embedding and download settings.
"""

from __future__ import annotations

from typing import Any

try:  # MLflow loads us through its registry, so this import is normally free
    from mlflow.models.evaluation.base import ModelEvaluator as _Base
except Exception:  # noqa: BLE001 - never raise at import, whatever MLflow's state
    _Base = object  # type: ignore[assignment,misc]

NAME = "drift"


class DriftEvaluator(_Base):  # type: ignore[misc,valid-type]
    """Compares the evaluation data's prompts and responses to a drift baseline and logs the report."""

    @classmethod
    def can_evaluate(cls, *, model_type: Any = None, evaluator_config: Any = None, **kwargs: Any) -> bool:
        """Only when asked: a ``baseline`` in this evaluator's config, whatever the model type.

        Without it, an ``evaluators=None`` call (all evaluators) on someone's classifier
        must not pick us up.
        """
        return isinstance(evaluator_config, dict) and bool(evaluator_config.get("baseline"))

    def evaluate(
        self,
        *,
        model_type: Any = None,
        dataset: Any,
        run_id: str,
        evaluator_config: dict[str, Any] | None = None,
        model: Any = None,
        extra_metrics: Any = None,
        custom_artifacts: Any = None,
        predictions: str | None = None,
        **kwargs: Any,
    ) -> Any:
        from drift_tracking.integrations.mlflow_evaluation import evaluate_drift

        return evaluate_drift(
            dataset=dataset,
            run_id=run_id,
            config=dict(evaluator_config or {}),
            model=model,
            predictions=predictions,
        )
