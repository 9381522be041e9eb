"""The driver's side of a window measured in pieces: which blocks to ask what, and in which order.

Three passes over the blocks of an embedded log, each returning small summaries:

1. **index** (once per log): valid rows per window in each block, the invalid rows, the rows
   without a time. From it each block knows its rows' positions in their window.
2. **collect** (per window, only the blocks holding it): counts per centroid, far rows,
   projection sketches, and the rows of the seeded samples (at most ~10k per window).
3. **join** (per window, only when the scored sample found novel groups and the window
   is larger than the sample): how many other rows fall in each group, and their words.

A :class:`Runner` runs a function over blocks: :class:`SerialRunner` in this process
(tests, small logs), the Ray engine's tasks on a cluster. Results are consumed in
submission order, so the merged numbers do not depend on which block finished first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from drift_tracking.comparison import SideMeasurements
from drift_tracking.data import InvalidRow, TextData
from drift_tracking.engines import blocks as blk
from drift_tracking.engines.partials import Joined, WindowSum, wanted_positions
from drift_tracking.engines.window import SideState, finish_side, plotted_rows, projection, side_plans, side_states
from drift_tracking.report import Projection

if TYPE_CHECKING:
    from drift_tracking.baseline import Baseline


class Runner(Protocol):
    """Runs ``fn(block, *args)`` for each (block, args) and yields the results in that order."""

    def map(self, fn: Callable[..., Any], calls: Iterable[tuple[Any, tuple[Any, ...]]]) -> Iterator[Any]: ...


class SerialRunner:
    """Every call in this process, one after the other."""

    def map(self, fn: Callable[..., Any], calls: Iterable[tuple[Any, tuple[Any, ...]]]) -> Iterator[Any]:
        for block, args in calls:
            yield fn(block, *args)


@dataclass
class LogIndex:
    """What the index pass found, block by block in log order."""

    blocks: list[Any]
    slots: blk.Slots
    valid: list[dict[int, int]] = field(default_factory=list)
    invalid: list[tuple[int, str, str, int]] = field(default_factory=list)  # (row in the log, column, reason, window)
    n_rows: int = 0
    undated: int = 0
    n_responses: int = 0

    def n_valid(self, key: int) -> int:
        return sum(found.get(key, 0) for found in self.valid)

    def windows(self) -> list[int]:
        return sorted({key for found in self.valid for key in found} | {w for *_, w in self.invalid if w >= 0})

    def holding(self, key: int) -> list[tuple[Any, int]]:
        """(block, rows of window ``key`` in earlier blocks) for each block holding rows of the window."""
        out, offset = [], 0
        for block, found in zip(self.blocks, self.valid):
            if found.get(key, 0):
                out.append((block, offset))
                offset += found[key]
        return out

    def rows_of(self, key: int | None) -> TextData:
        """The window's invalid rows as :class:`~drift_tracking.data.TextData` (its summary, strict checks)."""
        bad = [InvalidRow(row, column, reason) for row, column, reason, w in self.invalid if key is None or w == key]
        n_valid = sum(sum(found.values()) for found in self.valid) if key is None else self.n_valid(key)
        return TextData(prompts=[], n_rows=n_valid + len({r.row for r in bad}), invalid=bad)


def index_log(blocks: list[Any], slots: blk.Slots, runner: Runner) -> LogIndex:
    """The index pass over every block."""
    index = LogIndex(blocks, slots)
    for found in runner.map(blk.index_block, [(block, (slots,)) for block in blocks]):
        index.valid.append(found.valid)
        index.invalid.extend((index.n_rows + row, column, reason, w) for row, column, reason, w in found.invalid)
        index.n_rows += found.n_rows
        index.undated += found.undated
        index.n_responses += found.responses
    return index


@dataclass(frozen=True)
class Measured:
    """The statistics of one window (what :class:`~drift_tracking.comparison.Measurements` holds of them)."""

    n: int
    prompts: SideMeasurements
    responses: SideMeasurements | None
    projection: Projection


def measure_window(baseline: "Baseline", index: LogIndex, key: int, runner: Runner, *, seed: int = 0,
                   responses: bool = False, with_texts: bool = True) -> Measured:
    """Collect, score, join and assemble one window's statistics against ``baseline``."""
    columns = [blk.EMBEDDING] + ([blk.RESPONSE_EMBEDDING] if responses else [])
    plans = side_plans(baseline, columns, seed)
    n = index.n_valid(key)
    wanted = wanted_positions(n, len(baseline.prompts_.embeddings_), seed, plotted=True)
    holding = index.holding(key)
    merged = WindowSum(plans)
    calls = [(block, (index.slots, key, offset, plans, wanted, with_texts)) for block, offset in holding]
    for piece in runner.map(blk.collect_block, calls):
        merged.add(piece)
    states = side_states(baseline, merged, seed)
    plotted = plotted_rows(baseline, n, seed)
    sides = [finish_side(state, _joined(state, index, key, runner, columns[i], with_texts and i == 0),
                         with_texts=with_texts and i == 0, plotted=plotted if i == 0 else None)
             for i, state in enumerate(states)]
    return Measured(n=n, prompts=sides[0], responses=sides[1] if responses else None,
                    projection=projection(baseline, states[0], seed))


def _joined(state: SideState, index: LogIndex, key: int, runner: Runner, column: str,
            with_texts: bool) -> Joined | None:
    """The join pass for one side, when its novel groups may reach rows outside the scored sample."""
    if not state.needs_join:
        return None
    groups = state.pair.groups
    centres, radius = groups.reach
    calls = [(block, (index.slots, key, offset, column, groups.scored, centres, radius, with_texts))
             for block, offset in index.holding(key)]
    total = Joined(np.zeros(len(centres), dtype=np.int64), [Counter() for _ in range(len(centres))])
    for piece in runner.map(blk.join_block, calls):
        total.sizes += piece.sizes
        for mine, theirs in zip(total.words, piece.words):
            mine.update(theirs)
    return total

