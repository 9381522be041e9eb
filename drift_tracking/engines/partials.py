"""A window's statistics from pieces: what each block of rows reports, and how the pieces merge.

A distributed engine never holds a whole window. Each block of rows (a few thousand to a
few hundred thousand, wherever they live) reports small, mergeable summaries; the driver
adds them up and computes every registered metric from the sums, with the same numbers
the single-process path (:func:`drift_tracking.comparison.measure`) computes from the
whole window:

============================  ===================================================  ========
metric                        what a block reports                                  merged
============================  ===================================================  ========
``js_divergence``             rows per baseline centroid                            exact
``outlier_share``             rows beyond the baseline's nearest-centroid cut-off   exact
``wasserstein``               sorted projections on the 64 seeded directions        exact to
                              (:class:`~drift_tracking.statistics.ProjectionSketch`) 32,768 rows
``mmd``, ``classifier_auc``   the rows of the seeded samples (1,000 per side)       exact
``unexplained_share``,        the rows of the seeded sample of at most 5,000 the    exact
``novel_cluster_share``       single path scores; then each other row's group
                              (nearest novel-group centre within its radius)
============================  ===================================================  ========

Rows are found by their position in the window (0, 1, ... in the log's order, invalid
rows left out), so a block needs only the number of earlier rows of its window. Past
32,768 rows the Wasserstein sketch is compressed (see ``ProjectionSketch``): measured on
200k synthetic rows, the distance moved by 1.5e-6 (3e-5 of its value).

Nothing here imports Ray: every function takes numpy arrays and returns plain values, so
the pieces are tested without a cluster.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from drift_tracking import metrics as registry
from drift_tracking import statistics as st
from drift_tracking.comparison import projection_rows
from drift_tracking.errors import DataError
from drift_tracking.keywords import words

#: Points per direction a Wasserstein sketch keeps exactly before it compresses.
SKETCH_CAPACITY = 32_768


@dataclass(frozen=True)
class SidePlan:
    """What a block needs to summarise one side (prompts or responses) of a window."""

    column: str
    centroids: np.ndarray
    novelty_cutoff: float
    directions: np.ndarray


@dataclass
class SidePiece:
    """One block's summary of one side of a window."""

    counts: np.ndarray
    far: int
    sketch: st.ProjectionSketch
    rows: np.ndarray  # the gathered rows (embeddings at ``Collected.positions``)


@dataclass
class Collected:
    """One block's rows of one window: its side summaries and the rows at the wanted positions."""

    n: int
    positions: np.ndarray
    sides: list[SidePiece]
    texts: list[str]


def collect(x_sides: list[np.ndarray], texts: list[str] | None, offset: int, sides: list[SidePlan],
            wanted: np.ndarray, capacity: int = SKETCH_CAPACITY) -> Collected:
    """Summarise one block's rows of a window (``x_sides[i]``: the embeddings of side ``i``).

    ``offset`` is the number of the window's rows in earlier blocks; ``wanted`` the sorted
    positions of the seeded samples, whose rows (and texts) come back whole.
    """
    n = x_sides[0].shape[0]
    positions = offset + np.arange(n)
    take = np.isin(positions, wanted, assume_unique=True)
    pieces = []
    for x, plan in zip(x_sides, sides):
        labels, dist = st.nearest_unchecked(x, plan.centroids, 8192)
        pieces.append(SidePiece(
            counts=np.bincount(labels, minlength=len(plan.centroids)), far=int(np.sum(dist > plan.novelty_cutoff)),
            sketch=st.ProjectionSketch.of(x, plan.directions, capacity), rows=x[take],
        ))
    chosen = [texts[i] for i in np.flatnonzero(take)] if texts is not None else []
    return Collected(n=n, positions=positions[take], sides=pieces, texts=chosen)


@dataclass
class Joined:
    """One block's rows that joined each novel group (outside the scored sample), and their words."""

    sizes: np.ndarray
    words: list[Counter]


def join(x: np.ndarray, texts: list[str] | None, offset: int, scored: np.ndarray, centres: np.ndarray,
         radius: np.ndarray) -> Joined:
    """The unscored rows of one block that fall within a novel group's reach, counted per group."""
    positions = offset + np.arange(x.shape[0])
    rest = np.flatnonzero(~np.isin(positions, scored, assume_unique=True))
    labels = st.join_groups(x[rest], centres, radius) if rest.size else np.empty(0, dtype=np.int64)
    found = [Counter() for _ in range(len(centres))]
    if texts is not None:
        for row, gid in zip(rest, labels):
            if gid >= 0:
                found[gid].update(words(texts[row]))
    return Joined(sizes=np.bincount(labels[labels >= 0], minlength=len(centres)), words=found)


@dataclass
class SideSum:
    """One side of a window, merged over blocks."""

    counts: np.ndarray
    far: int = 0
    sketch: st.ProjectionSketch | None = None
    pending: list[st.ProjectionSketch] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)

    def add(self, piece: SidePiece) -> None:
        """Add a block's piece; sketches merge in batches of about one capacity (fewer compressions)."""
        self.counts = self.counts + piece.counts
        self.far += piece.far
        self.rows.append(piece.rows)
        self.pending.append(piece.sketch)
        capacity = piece.sketch.capacity
        if sum(p.values.shape[1] for p in self.pending) >= capacity:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            first, *rest = self.pending if self.sketch is None else [self.sketch, *self.pending]
            self.sketch = first.merge(rest)
            self.pending = []

    def final_sketch(self) -> st.ProjectionSketch:
        self._flush()
        assert self.sketch is not None
        return self.sketch


class WindowSum:
    """A window merged over blocks: per-side sums and the gathered rows, by position."""

    def __init__(self, sides: list[SidePlan]) -> None:
        self.n = 0
        self.sides = [SideSum(np.zeros(len(plan.centroids), dtype=np.int64)) for plan in sides]
        self.positions: list[np.ndarray] = []
        self.texts: list[str] = []

    def add(self, piece: Collected) -> None:
        self.n += piece.n
        self.positions.append(piece.positions)
        self.texts.extend(piece.texts)
        for total, side in zip(self.sides, piece.sides):
            total.add(side)

    def gathered(self) -> "Gathered":
        """The rows at the wanted positions, in position order."""
        positions = np.concatenate(self.positions) if self.positions else np.empty(0, dtype=np.int64)
        order = np.argsort(positions, kind="stable")
        rows = [np.concatenate(side.rows)[order] for side in self.sides]
        texts = [self.texts[i] for i in order] if self.texts else None
        return Gathered(positions[order], rows, texts)


@dataclass(frozen=True)
class Gathered:
    """Rows of a window at known positions (sorted), per side, with the prompts' texts."""

    positions: np.ndarray
    rows: list[np.ndarray]
    texts: list[str] | None

    def at(self, side: int, wanted: np.ndarray) -> np.ndarray:
        """The rows of ``side`` at positions ``wanted`` (all of which were gathered)."""
        where = np.searchsorted(self.positions, wanted)
        if where.size and (where.max() >= self.positions.size or np.any(self.positions[where] != wanted)):
            raise DataError("a seeded sample row was not gathered from the window; the log changed while it was read")
        return self.rows[side][where]

    def text_of(self) -> dict[int, str]:
        """Position -> text of every gathered row (for example prompts)."""
        return dict(zip(self.positions.tolist(), self.texts or []))


def wanted_positions(n_window: int, n_reference: int, seed: int, *, plotted: bool) -> np.ndarray:
    """Sorted positions of every seeded sample a window's metrics (and its plot) read."""
    parts = [registry.scored_rows(n_window, seed)]
    for size in (registry.MMD_SAMPLES, registry.CLASSIFIER_SAMPLES):
        parts.append(st.paired_subsample_indices(n_reference, n_window, size, seed)[1])
    if plotted:
        parts.append(projection_rows(n_reference, n_window, seed)[1])
    return np.unique(np.concatenate(parts))


@dataclass
class NovelGroups:
    """The novel groups of a window's scored rows, before their sizes are known."""

    scored: np.ndarray  # positions
    x: np.ndarray  # their rows
    scores: np.ndarray
    cutoff: float
    groups: list[Any]

    @cached_property
    def reach(self) -> tuple[np.ndarray, np.ndarray]:
        return st.group_reach(self.x, self.groups)

    def member_labels(self) -> np.ndarray:
        """The group of each scored row (-1 outside every group)."""
        labels = np.full(self.scored.size, -1, dtype=np.int64)
        for gid, (_, members) in enumerate(self.groups):
            labels[members] = gid
        return labels

    def labels_at(self, positions: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The group of rows at ``positions`` (rows ``x``): a member's, else the one it joins."""
        if not self.groups:
            return np.full(positions.size, -1, dtype=np.int64)
        where = np.minimum(np.searchsorted(self.scored, positions), self.scored.size - 1)
        in_scored = self.scored[where] == positions
        labels = st.join_groups(x, *self.reach)
        labels[in_scored] = self.member_labels()[where[in_scored]]
        return labels


def novel_groups(gathered: Gathered, side: int, n: int, knn_reference: np.ndarray, knn_scores: np.ndarray,
                 seed: int) -> NovelGroups:
    """Score the window's seeded sample (as the single path does) and group its far rows."""
    scored = registry.scored_rows(n, seed)
    x = np.asarray(gathered.at(side, scored), dtype=np.float32)
    scores = registry.novelty_scores(x, knn_reference)
    cutoff = registry.far_cutoff(knn_scores)
    return NovelGroups(scored, x, scores, cutoff, st.far_groups(x, scores, cutoff, n, seed=seed))


@dataclass
class MergedPair:
    """One side of a window summarised in pieces: what the metric registry reads (a :class:`~drift_tracking.metrics.Pair`).

    ``reference`` is the baseline side's embeddings and ``reference_sorted`` their sorted
    projections; the window is known only through its merged sums and gathered rows.
    ``novel`` is set by the engine once the novel groups' sizes are merged; its labels
    cover the plotted rows only.
    """

    reference: np.ndarray
    reference_sorted: np.ndarray
    reference_counts: np.ndarray
    window_counts: np.ndarray
    n: int
    far: int
    sketch: st.ProjectionSketch
    gathered: Gathered
    side: int
    knn_scores: np.ndarray
    groups: NovelGroups
    seed: int = 0
    novel: st.NovelClusterResult | None = None

    @property
    def window(self) -> np.ndarray:
        raise DataError("this metric needs the whole window, which a distributed engine never holds; "
                        "compute it from a SidePair (engine 'local') or give it a mergeable form")

    @property
    def outlier_share(self) -> float:
        return self.far / self.n

    @cached_property
    def sliced_wasserstein(self) -> float:
        return self.sketch.distance(self.reference_sorted)

    @cached_property
    def unexplained(self) -> st.UnexplainedResult:
        return st.estimate_from_scores(self.knn_scores, self.groups.scores)

    @cached_property
    def mmd(self) -> st.MMDResult:
        ia, ib, rng = st.paired_subsample_indices(len(self.reference), self.n, registry.MMD_SAMPLES, self.seed)
        return st.mmd_of_samples(self.reference[ia], self.gathered.at(self.side, ib), rng)

    @cached_property
    def classifier_auc(self) -> float:
        ia, ib, _ = st.paired_subsample_indices(len(self.reference), self.n, registry.CLASSIFIER_SAMPLES, self.seed)
        return st.auc_of_samples(self.reference[ia], self.gathered.at(self.side, ib),
                                 n_folds=registry.CLASSIFIER_FOLDS, seed=self.seed)
