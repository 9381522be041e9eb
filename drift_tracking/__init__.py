"""drift-tracking: tell when a fine-tuned LLM's traffic or quality drifts from a good baseline.

The public names load lazily, so ``import drift_tracking`` is cheap (MLflow imports our
evaluator plugin for every user of the environment).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Baseline": "drift_tracking.baseline",
    "Embedder": "drift_tracking.embedding",
    "ModelIdentity": "drift_tracking.embedding",
    "compare": "drift_tracking.comparison",
    "compare_embeddings": "drift_tracking.comparison",
    "DriftReport": "drift_tracking.report",
    "load_texts": "drift_tracking.data",
    "Policy": "drift_tracking.policy",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'drift_tracking' has no attribute {name!r}")
