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

With the tracking server down the evaluator fails fast rather than computing and
spooling: ``mlflow.models.evaluate`` starts its run on the server *before* it calls any
evaluator, and with nothing listening MLflow retries that for about four minutes, so
no evaluator could ever compute anything. MLflow does instantiate the evaluators it
resolves before starting the run; :class:`DriftEvaluator` uses that moment to try one
TCP connection to an ``http(s)`` tracking URI and, when it is refused or the host name
does not resolve, raises :class:`TrackingServerUnreachable` naming the server, in
milliseconds. A slow or filtered server (a timeout) is left to MLflow's own retries,
so a probe can never refuse a server that works. If the server goes away *after* the
run started, the report already computed is spooled (see ``mlflow_evaluation``).
"""

from __future__ import annotations

import socket
from typing import Any

from drift_tracking.errors import DriftTrackingError

try:  # MLflow loads us through its registry, so this import is normally free
    from mlflow.models.evaluation.base import ModelEvaluator as _Base
except Exception:  # noqa: BLE001 - never raise at import, whatever MLflow's state
    _Base = object  # type: ignore[assignment,misc]

NAME = "drift"
_PROBE_TIMEOUT_S = 5.0


class TrackingServerUnreachable(DriftTrackingError, ConnectionError):
    """Nothing listens at the MLflow tracking URI: the evaluation was refused before it started."""


class DriftEvaluator(_Base):  # type: ignore[misc,valid-type]
    """Compares the evaluation data's prompts and responses to a drift baseline and logs the report."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        refuse_unreachable_tracking_server()

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


def refuse_unreachable_tracking_server(uri: str | None = None) -> None:
    """Raise :class:`TrackingServerUnreachable` when the tracking server refuses connections.

    Only definite answers count: a refused connection or a host name that does not
    resolve. Non-HTTP stores (sqlite, files, Databricks) and URIs reached through a proxy
    are not probed; a timeout is left to MLflow's own retries.
    """
    import urllib.parse
    import urllib.request

    if uri is None:
        import mlflow

        uri = mlflow.get_tracking_uri()
    parsed = urllib.parse.urlparse(str(uri))
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return
    if urllib.request.getproxies().get(parsed.scheme) and not urllib.request.proxy_bypass(parsed.hostname):
        return  # the proxy, not the server, answers the connection
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        with socket.create_connection((parsed.hostname, port), timeout=_PROBE_TIMEOUT_S):
            return
    except (ConnectionRefusedError, socket.gaierror) as exc:
        reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else f"host not found: {exc}"
    except (OSError, ValueError):
        return
    raise TrackingServerUnreachable(
        f"drift evaluator: the MLflow tracking server at {uri} is not reachable ({reason}); nothing was evaluated "
        "or logged. Start the server, or point MLFLOW_TRACKING_URI (mlflow.set_tracking_uri) at one that runs"
    )
