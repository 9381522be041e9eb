"""From a window's merged pieces to the :class:`~drift_tracking.comparison.Measurements` the policy decides on.

The same measurements :func:`drift_tracking.comparison.measure` makes from a whole
window, made from :mod:`drift_tracking.engines.partials`: the registry computes every
metric from a :class:`~drift_tracking.engines.partials.MergedPair`, the cluster table
comes from the merged counts, novel clusters from the scored sample plus the merged
sizes of the groups, and the projection from the gathered plotted rows. The policy,
the report and every sink are shared with the single-process path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from drift_tracking import metrics as registry
from drift_tracking import statistics as st
from drift_tracking.comparison import SideMeasurements, _with_examples, projection_rows
from drift_tracking.engines.partials import Joined, MergedPair, NovelGroups, SidePlan, WindowSum, novel_groups
from drift_tracking.keywords import top_words, words
from drift_tracking.report import Projection

if TYPE_CHECKING:
    from drift_tracking.baseline import Baseline, Reference


def side_plans(baseline: "Baseline", columns: Sequence[str], seed: int) -> list[SidePlan]:
    """What every block needs to summarise each side: prompts first, responses when measured."""
    references = [baseline.prompts_, baseline.responses_]
    return [
        SidePlan(column, ref.centroids_, float(ref.novelty_cutoff_),
                 st.projection_directions(ref.embeddings_.shape[1], seed=seed, dtype=ref.embeddings_.dtype))
        for column, ref in zip(columns, references)
    ]


@dataclass
class SideState:
    """One side of one window between the merge and the measurements: its pair and novel groups."""

    reference: "Reference"
    pair: MergedPair

    @property
    def needs_join(self) -> bool:
        """Whether rows outside the scored sample must be joined to novel groups (a second pass)."""
        groups = self.pair.groups
        return bool(groups.groups) and self.pair.n > groups.scored.size


def side_states(baseline: "Baseline", merged: WindowSum, seed: int) -> list[SideState]:
    """Each measured side's merged pair, its seeded sample scored and its far rows grouped."""
    gathered = merged.gathered()
    states = []
    for side, (total, ref) in enumerate(zip(merged.sides, [baseline.prompts_, baseline.responses_])):
        assert ref is not None
        x = ref.embeddings_
        directions = st.projection_directions(x.shape[1], seed=seed, dtype=x.dtype)
        knn_scores = ref.knn_scores_[ref.knn_index_]
        groups = novel_groups(gathered, side, merged.n, ref.knn_reference, knn_scores, seed)
        states.append(SideState(ref, MergedPair(
            reference=x, reference_sorted=st.sorted_projections(x, directions), reference_counts=ref.counts_,
            window_counts=total.counts, n=merged.n, far=total.far, sketch=total.final_sketch(), gathered=gathered,
            side=side, knn_scores=knn_scores, groups=groups, seed=seed,
        )))
    return states


def finish_side(state: SideState, joined: Joined | None, *, with_texts: bool, plotted: np.ndarray | None
                ) -> SideMeasurements:
    """The side's measurements once the novel groups' sizes (``joined``: rows outside the sample) are merged."""
    pair, groups, ref = state.pair, state.pair.groups, state.reference
    members = groups.member_labels()
    sizes = [int(np.sum(members == g)) + (int(joined.sizes[g]) if joined is not None else 0)
             for g in range(len(groups.groups))]
    clusters, relabel = st.summarise_groups(groups.groups, groups.x, groups.scored, sizes, groups.scores,
                                            groups.cutoff, pair.n)
    labels = np.empty(0, dtype=np.int64)
    if plotted is not None:
        labels = relabel[groups.labels_at(plotted, pair.gathered.at(pair.side, plotted))]
    pair.novel = st.NovelClusterResult(share=sum(sizes) / pair.n, labels=labels, novel_mask=labels >= 0,
                                       clusters=clusters, cutoff=groups.cutoff)
    shift = st.cluster_shift(ref.counts_, pair.window_counts)
    for row in shift:
        if ref.cluster_labels_:
            row["label"] = ref.cluster_labels_[row["cluster"]]
    texts = pair.gathered.text_of() if with_texts else None
    novel = _with_examples(clusters, texts)
    if texts is not None and ref.word_counts_:
        named = _group_words(groups, texts, joined, relabel, ref.word_counts_)
        novel = [{**cluster, "label": named.get(cluster["id"], "")} for cluster in novel]
    return SideMeasurements(metrics=registry.compute_all(pair), cluster_shift=tuple(shift), novel_clusters=tuple(novel))


def _group_words(groups: NovelGroups, texts: Mapping[int, str], joined: Joined | None, relabel: np.ndarray,
                 background: Mapping[str, int]) -> dict[int, str]:
    """Each novel group's top words (members' and joined rows' texts) against the baseline's."""
    counts = [Counter() for _ in groups.groups]
    for position, gid in zip(groups.scored.tolist(), groups.member_labels().tolist()):
        if gid >= 0:
            counts[gid].update(words(texts[position]))
    if joined is not None:
        for gid, found in enumerate(joined.words):
            counts[gid].update(found)
    return {int(relabel[g]): top_words(c, background, top=3, smooth=True) for g, c in enumerate(counts) if c}


def projection(baseline: "Baseline", state: SideState, seed: int) -> Projection:
    """The report's 2-D projection from the gathered plotted rows (those the single path plots)."""
    ref, pair = baseline.prompts_, state.pair
    b_idx, w_idx = projection_rows(len(ref.embeddings_), pair.n, seed)
    x = pair.gathered.at(0, w_idx)
    texts = pair.gathered.text_of() if pair.gathered.texts is not None else None
    assert pair.novel is not None
    return Projection(
        baseline_xy=ref.project(ref.embeddings_[b_idx]), baseline_cluster=ref.labels_[b_idx],
        window_xy=ref.project(x), window_cluster=st.assign_nearest(x, ref.centroids_)[0],
        window_novel=np.asarray(pair.novel.novel_mask, dtype=bool), window_novel_cluster=np.asarray(pair.novel.labels),
        window_texts=[texts[int(i)] for i in w_idx] if texts is not None else [],
    )


def plotted_rows(baseline: "Baseline", n: int, seed: int) -> np.ndarray:
    return projection_rows(len(baseline.prompts_.embeddings_), n, seed)[1]
