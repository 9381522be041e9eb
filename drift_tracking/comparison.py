"""Measure a production window against a baseline: every registered metric, per side, once.

:func:`measure` returns :class:`Measurements`, an immutable record of what the statistics
found (metrics of prompts and responses, the cluster table, novel clusters with example
prompts, the 2-D projection, quality signals). The policy decides on it
(:meth:`drift_tracking.policy.Policy.decide`) and :func:`compare` assembles the
:class:`~drift_tracking.report.DriftReport` every sink receives, so the CLI, MLflow and
W&B always agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from drift_tracking import metrics as registry
from drift_tracking import statistics as st
from drift_tracking.artifact import utc_now
from drift_tracking.data import TextData
from drift_tracking.embedding import Embedder, checked_embeddings, embedder_for_baseline
from drift_tracking.errors import DataError
from drift_tracking.keywords import describe_groups
from drift_tracking.metrics import MIN_WINDOW
from drift_tracking.policy import Policy
from drift_tracking.report import DriftReport, Projection

if TYPE_CHECKING:
    from drift_tracking.baseline import Baseline, Reference
    from drift_tracking.quality import QualityInputs

_PLOT_BASELINE_POINTS = 3000
_PLOT_WINDOW_POINTS = 3000
_EXAMPLES_PER_CLUSTER = 5


@dataclass(frozen=True)
class SideMeasurements:
    """What the statistics found on one side (prompts or responses) of a window."""

    metrics: Mapping[str, float]
    cluster_shift: tuple[dict[str, Any], ...] = ()
    novel_clusters: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Measurements:
    """Everything measured about one window, before any decision."""

    prompts: SideMeasurements
    n_samples: int
    responses: SideMeasurements | None = None
    quality: Mapping[str, Any] = field(default_factory=dict)
    projection: Projection | None = None
    window: Mapping[str, Any] = field(default_factory=dict)
    invalid_rows: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    cost: Mapping[str, Any] = field(default_factory=dict)  # what embedding the window cost (EmbeddingUsage.report)


def measure_side(
    reference: "Reference", x: np.ndarray, *, seed: int = 0, texts: Sequence[str] | None = None
) -> tuple[SideMeasurements, registry.SidePair]:
    """Every registered metric of window embeddings ``x`` against one baseline side."""
    pair = reference.pair(x, seed=seed)
    shift = st.cluster_shift(reference.counts_, pair.window_counts)
    for row in shift:
        if reference.cluster_labels_:
            row["label"] = reference.cluster_labels_[row["cluster"]]
    novel = _with_examples(pair.novel.clusters, texts)
    if texts is not None and reference.word_counts_:
        labels = describe_groups(texts, pair.novel.labels, reference.word_counts_)
        novel = [{**cluster, "label": labels.get(cluster["id"], "")} for cluster in novel]
    side = SideMeasurements(
        metrics=registry.compute_all(pair), cluster_shift=tuple(shift), novel_clusters=tuple(novel),
    )
    return side, pair


def measure(
    baseline: "Baseline",
    prompt_embeddings: np.ndarray,
    *,
    response_embeddings: np.ndarray | None = None,
    texts: Sequence[str] | None = None,
    seed: int = 0,
    window: Mapping[str, Any] | None = None,
    quality: Mapping[str, Any] | None = None,
    invalid_rows: Mapping[str, Any] | None = None,
    warnings: Sequence[str] = (),
    cost: Mapping[str, Any] | None = None,
) -> Measurements:
    """The statistics of given window embeddings against ``baseline``; no decision yet."""
    x = checked_embeddings(prompt_embeddings, baseline.identity_.dimension, "prompt", holder="the window",
                           minimum=MIN_WINDOW)
    prompts, pair = measure_side(baseline.prompts_, x, seed=seed, texts=texts)
    responses = None
    if response_embeddings is not None and baseline.responses_ is not None:
        y = checked_embeddings(response_embeddings, baseline.identity_.dimension, "response", holder="the window",
                               minimum=MIN_WINDOW)
        responses, _ = measure_side(baseline.responses_, y, seed=seed)
    return Measurements(
        prompts=prompts, n_samples=int(x.shape[0]), responses=responses, quality=dict(quality or {}),
        projection=_projection(baseline, pair, texts, seed), window=dict(window or {}),
        invalid_rows=dict(invalid_rows or {}), warnings=tuple(warnings), cost=dict(cost or {}),
    )


def compare_embeddings(
    baseline: "Baseline",
    prompt_embeddings: np.ndarray,
    *,
    response_embeddings: np.ndarray | None = None,
    texts: Sequence[str] | None = None,
    policy: Policy | None = None,
    seed: int = 0,
    window: dict[str, Any] | None = None,
    history: Sequence[Mapping[str, Any]] = (),
    quality: dict[str, Any] | None = None,
) -> DriftReport:
    """Measure given embeddings and decide: :func:`compare` without the embedding step.

    ``history`` (earlier windows' records, oldest first) lets the policy require
    persistence; ``quality`` holds golden-set, reward and feedback signals
    (:meth:`drift_tracking.quality.QualityInputs.signals`).
    """
    found = measure(baseline, prompt_embeddings, response_embeddings=response_embeddings, texts=texts,
                    seed=seed, window=window, quality=quality)
    return decide_report(found, baseline, policy, history)


def decide_report(
    found: Measurements, baseline: "Baseline", policy: Policy | None, history: Sequence[Mapping[str, Any]] = ()
) -> DriftReport:
    """The policy's decision on ``found``, assembled with it into the one report."""
    decision = (policy or Policy()).decide(found, baseline, history=history)
    return DriftReport.assemble(found, decision, model=baseline.identity_.to_dict(),
                                baseline=baseline.describe(), n_baseline=len(baseline), created_at=utc_now())


def measure_texts(
    baseline: "Baseline",
    window: "Sequence[str] | TextData",
    *,
    embedder: Embedder,
    seed: int = 0,
    window_info: Mapping[str, Any] | None = None,
    quality: "QualityInputs | None" = None,
) -> Measurements:
    """Embed a window's prompts (and responses) with ``embedder`` and measure them."""
    data = window if isinstance(window, TextData) else TextData(prompts=list(window))
    texts, responses = data.prompts, data.responses
    if len(texts) < MIN_WINDOW:
        raise DataError(f"the window has {len(texts)} valid texts; at least {MIN_WINDOW} are needed to compare")
    if responses is not None and len(responses) != len(texts):
        raise DataError(f"{len(responses)} responses for {len(texts)} prompts: they must align")
    warnings = embedder.identity.check_compatible(baseline.identity_, "baseline")
    warnings += [data.invalid_summary()["warning"]] if data.mostly_invalid else []
    if responses is not None and baseline.responses_ is None:
        warnings.append("the baseline has no responses: response drift was not measured")
    started = embedder.usage
    y = embedder.encode(list(responses)) if responses is not None and baseline.responses_ is not None else None
    x = embedder.encode(texts)
    return measure(
        baseline, x, response_embeddings=y, texts=texts, seed=seed, window=window_info,
        quality=quality.signals(baseline) if quality is not None else None,
        invalid_rows=data.invalid_summary() if data.n_invalid else {}, warnings=warnings,
        cost=embedder.cost(since=started),
    )


def compare(
    baseline: "Baseline",
    window: "Sequence[str] | TextData",
    *,
    responses: Sequence[str] | None = None,
    embedder: Embedder | None = None,
    policy: Policy | None = None,
    seed: int = 0,
    window_info: Mapping[str, Any] | None = None,
    history: Sequence[Mapping[str, Any]] = (),
    quality: "QualityInputs | None" = None,
) -> DriftReport:
    """Embed a production window and compare it to ``baseline``.

    ``window`` is a list of prompts (with ``responses`` aligned to them) or a
    :class:`~drift_tracking.data.TextData` (whose responses and invalid-row report are
    then used). The embedder must use the model the baseline pins; by default one is
    made for it.
    """
    if not isinstance(window, TextData):
        window = TextData(prompts=list(window), responses=list(responses) if responses is not None else None)
    # The bundled copy by default, never a model the manifest names; weights checked against its pin.
    embedder = embedder or embedder_for_baseline(baseline.identity_)
    found = measure_texts(baseline, window, embedder=embedder, seed=seed, window_info=window_info, quality=quality)
    return decide_report(found, baseline, policy, history)


def _with_examples(clusters: Sequence[Mapping[str, Any]], texts: Sequence[str] | None) -> list[dict[str, Any]]:
    out = []
    for cluster in clusters:
        row = {k: v for k, v in cluster.items() if k != "members"}
        members = cluster.get("members", [])
        row["examples"] = [texts[i] for i in members[:_EXAMPLES_PER_CLUSTER]] if texts is not None else []
        out.append(row)
    return out


def projection_rows(n_baseline: int, n_window: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The seeded baseline and window rows (sorted positions) a report's projection plots."""
    rng = np.random.default_rng(seed)
    b_idx = np.sort(rng.choice(n_baseline, min(n_baseline, _PLOT_BASELINE_POINTS), replace=False))
    return b_idx, np.sort(rng.choice(n_window, min(n_window, _PLOT_WINDOW_POINTS), replace=False))


def _projection(
    baseline: "Baseline", pair: registry.SidePair, texts: Sequence[str] | None, seed: int
) -> Projection:
    ref = baseline.prompts_
    x = pair.window
    b_idx, w_idx = projection_rows(len(ref.embeddings_), len(x), seed)
    return Projection(
        baseline_xy=ref.project(ref.embeddings_[b_idx]),
        baseline_cluster=ref.labels_[b_idx],
        window_xy=ref.project(x[w_idx]),
        window_cluster=pair.assignment[0][w_idx],
        window_novel=np.asarray(pair.novel.novel_mask, dtype=bool)[w_idx],
        window_novel_cluster=np.asarray(pair.novel.labels)[w_idx],
        window_texts=[texts[i] for i in w_idx] if texts is not None else [],
    )
