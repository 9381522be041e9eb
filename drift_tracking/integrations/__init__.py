"""Adapters from the core to tracking servers. Each imports its SDK only when called.

``resolve_baseline_uri`` lets every entry point accept the same baseline addresses:
a local directory, MLflow (``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``runs:/``,
``mlflow-artifacts:/``) or W&B (``wandb:ENTITY/PROJECT/NAME:ALIAS``).
"""

from __future__ import annotations

import os
from pathlib import Path

from drift_tracking.errors import ArtifactError

_MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")


def resolve_baseline_uri(uri: str | os.PathLike[str], *, tracking_uri: str | None = None) -> Path:
    """Return a local directory holding the baseline ``uri`` points to (downloading if needed)."""
    text = str(uri)
    if text.startswith(_MLFLOW_SCHEMES):
        from drift_tracking.integrations.mlflow_registry import download_baseline

        return download_baseline(text, tracking_uri=tracking_uri)
    if text.startswith("wandb:"):
        from drift_tracking.integrations.wandb_logger import download_baseline as download_wandb

        return download_wandb(text)
    if "://" in text and not text.startswith("file://"):
        raise ArtifactError(
            f"unsupported baseline URI {text!r}: use a local directory, models:/NAME@ALIAS, "
            "runs:/RUN_ID/PATH, mlflow-artifacts:/... or wandb:ENTITY/PROJECT/NAME:ALIAS"
        )
    return Path(text.removeprefix("file://"))


def load_baseline(uri: str | os.PathLike[str], *, tracking_uri: str | None = None):  # noqa: ANN201
    """Resolve ``uri`` and load the baseline, verified; records the URI it came from."""
    from drift_tracking.baseline import Baseline

    return Baseline.load(resolve_baseline_uri(uri, tracking_uri=tracking_uri), uri=str(uri))
