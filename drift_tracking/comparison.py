"""compare(): a production window against a baseline, as one :class:`DriftReport`.

The statistics are computed here once, for prompts and (when both sides have them)
responses; the policy turns them into a tier. Every sink receives the result, so the
CLI, MLflow and W&B always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from drift_tracking import statistics as st
from drift_tracking.artifact import utc_now
from drift_tracking.errors import DataError
from drift_tracking.report import DriftReport, Projection

if TYPE_CHECKING:
    from drift_tracking.baseline import Baseline, Reference
    from drift_tracking.data import TextData
    from drift_tracking.embedding import Embedder
    from drift_tracking.policy import Policy
    from drift_tracking.quality import QualityInputs

MIN_WINDOW = 20
_PLOT_BASELINE_POINTS = 3000
_PLOT_WINDOW_POINTS = 3000
_EXAMPLES_PER_CLUSTER = 5


@dataclass
class SideResult:
    """Metrics of one side (prompts or responses) and the per-point facts plots need."""

    metrics: dict[str, float]
    cluster_shift: list[dict[str, Any]]
    novel_clusters: list[dict[str, Any]]
    nearest_cluster: np.ndarray
    novel_mask: np.ndarray


def side_metrics(reference: "Reference", x: np.ndarray, *, seed: int = 0) -> SideResult:
    """Every drift statistic of window embeddings ``x`` against one baseline side."""
    labels, distances = reference.assign(x)
    counts = np.bincount(labels, minlength=reference.n_clusters)
    novel = st.novel_clusters(reference.embeddings, x, seed=seed)
    mmd = st.mmd(reference.embeddings, x, seed=seed)
    metrics = {
        "js_divergence": st.js_divergence(reference.counts_, counts),
        "wasserstein": st.wasserstein(reference.embeddings, x, seed=seed),
        "novel_cluster_share": float(novel.share),
        "mmd": float(mmd.mmd2),
        "mmd_p_value": float(mmd.p_value),
        "classifier_auc": st.classifier_auc(reference.embeddings, x, seed=seed),
        "outlier_share": float(np.mean(distances > reference.novelty_cutoff_)),
    }
    shift = st.cluster_shift(reference.counts_, counts)
    for row in shift:
        if reference.cluster_labels_:
            row["label"] = reference.cluster_labels_[row["cluster"]]
    return SideResult(metrics, shift, list(novel.clusters), labels, np.asarray(novel.novel_mask, dtype=bool))


def compare_embeddings(
    baseline: "Baseline",
    prompt_embeddings: np.ndarray,
    *,
    response_embeddings: np.ndarray | None = None,
    texts: Sequence[str] | None = None,
    policy: "Policy | None" = None,
    seed: int = 0,
    window: dict[str, Any] | None = None,
    history: Sequence[dict[str, Any]] = (),
    quality: dict[str, Any] | None = None,
) -> DriftReport:
    """The pure part of :func:`compare`: statistics and decision on given embeddings.

    ``history`` (earlier windows' records, oldest first) lets the policy require
    persistence; ``quality`` holds golden-set, reward and feedback signals
    (:meth:`drift_tracking.quality.QualityInputs.signals`).
    """
    from drift_tracking.policy import Policy

    x = np.asarray(prompt_embeddings, dtype=np.float32)
    _check_window(x, baseline.identity.dimension, "prompt")
    prompts = side_metrics(baseline.prompts, x, seed=seed)
    response_metrics = None
    if response_embeddings is not None and baseline.responses is not None:
        y = np.asarray(response_embeddings, dtype=np.float32)
        _check_window(y, baseline.identity.dimension, "response")
        response_metrics = side_metrics(baseline.responses, y, seed=seed).metrics
    novel = _with_examples(prompts.novel_clusters, texts)
    report = DriftReport(
        tier="ok",
        n_samples=int(x.shape[0]),
        n_baseline=len(baseline),
        metrics=prompts.metrics,
        response_metrics=response_metrics,
        cluster_shift=prompts.cluster_shift,
        novel_clusters=novel,
        model=baseline.identity.to_dict(),
        baseline=baseline.describe(),
        window=dict(window or {}),
        created_at=utc_now(),
        projection=_projection(baseline, x, prompts, texts, seed),
    )
    report.quality = dict(quality or {})
    (policy or Policy()).apply(report, baseline, history=history)
    return report


def compare(
    baseline: "Baseline",
    window: "Sequence[str] | TextData",
    *,
    responses: Sequence[str] | None = None,
    embedder: "Embedder | None" = None,
    policy: "Policy | None" = None,
    seed: int = 0,
    window_info: dict[str, Any] | None = None,
    history: Sequence[dict[str, Any]] = (),
    quality: "QualityInputs | None" = None,
) -> DriftReport:
    """Embed a production window and compare it to ``baseline``.

    ``window`` is a list of prompts or a :class:`~drift_tracking.data.TextData` (whose
    responses and invalid-row report are then used). The embedder must use the model
    the baseline pins; by default one is made for it.
    """
    from drift_tracking.data import TextData
    from drift_tracking.embedding import Embedder

    invalid: dict[str, Any] = {}
    if isinstance(window, TextData):
        texts = window.prompts
        responses = window.responses if responses is None else responses
        invalid = window.invalid_summary() if window.n_invalid else {}
    else:
        texts = list(window)
    if len(texts) < MIN_WINDOW:
        raise DataError(f"the window has {len(texts)} valid texts; at least {MIN_WINDOW} are needed to compare")
    if responses is not None and len(responses) != len(texts):
        raise DataError(f"{len(responses)} responses for {len(texts)} prompts: they must align")
    if embedder is None:  # the baseline's model; its name resolves to the bundled copy when it is the default
        embedder = Embedder(baseline.identity.name)
    warnings = embedder.identity.check_compatible(baseline.identity, "baseline")
    x = embedder.encode(texts)
    y = embedder.encode(list(responses)) if responses is not None and baseline.responses is not None else None
    report = compare_embeddings(
        baseline, x, response_embeddings=y, texts=texts, policy=policy, seed=seed, window=window_info,
        history=history, quality=quality.signals(baseline) if quality is not None else None,
    )
    report.invalid_rows = invalid
    report.warnings = warnings + ([invalid["warning"]] if invalid.get("warning") else []) + report.warnings
    if responses is not None and baseline.responses is None:
        report.warnings.append("the baseline has no responses: response drift was not measured")
    return report


def _check_window(x: np.ndarray, dim: int, what: str) -> None:
    if x.ndim != 2 or x.shape[1] != dim:
        raise DataError(f"{what} embeddings must be (n, {dim}), got {x.shape}")
    if x.shape[0] < MIN_WINDOW:
        raise DataError(f"the window has {x.shape[0]} {what}s; at least {MIN_WINDOW} are needed to compare")
    if not np.isfinite(x).all():
        raise DataError(f"{what} embeddings contain NaN or infinite values")


def _with_examples(clusters: list[dict[str, Any]], texts: Sequence[str] | None) -> list[dict[str, Any]]:
    out = []
    for cluster in clusters:
        row = {k: v for k, v in cluster.items() if k != "members"}
        members = cluster.get("members", [])
        row["examples"] = [texts[i] for i in members[:_EXAMPLES_PER_CLUSTER]] if texts is not None else []
        out.append(row)
    return out


def _projection(
    baseline: "Baseline", x: np.ndarray, side: SideResult, texts: Sequence[str] | None, seed: int
) -> Projection:
    rng = np.random.default_rng(seed)
    ref = baseline.prompts
    b_idx = np.sort(rng.choice(len(ref.embeddings), min(len(ref.embeddings), _PLOT_BASELINE_POINTS), replace=False))
    w_idx = np.sort(rng.choice(len(x), min(len(x), _PLOT_WINDOW_POINTS), replace=False))
    b_labels, _ = ref.assign(ref.embeddings[b_idx])
    return Projection(
        baseline_xy=ref.project(ref.embeddings[b_idx]),
        baseline_cluster=b_labels,
        window_xy=ref.project(x[w_idx]),
        window_cluster=side.nearest_cluster[w_idx],
        window_novel=side.novel_mask[w_idx],
        window_texts=[texts[i] for i in w_idx] if texts is not None else [],
    )
