"""One block of an embedded log (an Arrow table) and what it reports about each window.

A block holds consecutive rows of the log, invalid ones included, with these columns:

* ``prompt`` (and ``response``): the texts, null on an invalid row;
* ``invalid`` / ``invalid_column``: why a row was left out and which column made it so, null on valid rows;
* ``ts``: the request time in ns since the epoch (monitor), null when missing;
* ``embedding`` (and ``response_embedding``): fixed-size lists of float32, zeros on invalid rows.

A row's window comes from its time (:class:`Slots`); a check has a single window, 0. The
functions here run where the block lives and return small summaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drift_tracking.engines.partials import Collected, Joined, SidePlan, collect, join

PROMPT, RESPONSE, INVALID, INVALID_COLUMN, TIME = "prompt", "response", "invalid", "invalid_column", "ts"
EMBEDDING, RESPONSE_EMBEDDING = "embedding", "response_embedding"


@dataclass(frozen=True)
class Slots:
    """How rows map to windows: none given, all in window 0; else consecutive spans of ``delta_ns`` from ``origin_ns``."""

    origin_ns: int | None = None
    delta_ns: int | None = None
    n_windows: int = 1

    def of(self, table: Any) -> np.ndarray:
        """The window of each row (-1: no usable time, or outside the windows)."""
        if self.origin_ns is None or self.delta_ns is None:
            return np.zeros(table.num_rows, dtype=np.int64)
        times = table.column(TIME).to_numpy(zero_copy_only=False)
        known = ~np.isnan(times) if times.dtype.kind == "f" else np.ones(times.shape, dtype=bool)
        keys = np.full(table.num_rows, -1, dtype=np.int64)
        slot = (times[known].astype(np.int64) - self.origin_ns) // self.delta_ns
        keys[known] = np.where((slot >= 0) & (slot < self.n_windows), slot, -1)
        return keys


def valid_mask(table: Any) -> np.ndarray:
    return np.asarray(table.column(INVALID).is_null().to_numpy(zero_copy_only=False), dtype=bool)


def matrix(table: Any, column: str, rows: np.ndarray) -> np.ndarray:
    """The embeddings of ``rows`` in ``column`` as a float32 (len(rows), d) array."""
    values = table.column(column).combine_chunks()
    width = values.type.list_size
    flat = values.flatten().to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(flat.reshape(-1, width)[rows], dtype=np.float32)


def texts(table: Any, rows: np.ndarray) -> list[str]:
    return table.column(PROMPT).take(rows).to_pylist()


@dataclass
class BlockIndex:
    """What a first pass learns of a block: valid rows per window, invalid rows, rows without a time."""

    n_rows: int
    valid: dict[int, int]
    invalid: list[tuple[int, str, str, int]] = field(default_factory=list)  # (row in block, column, reason, window)
    undated: int = 0
    responses: int = 0  # valid rows with a response


def index_block(table: Any, slots: Slots) -> BlockIndex:
    """Count a block's valid rows per window and list its invalid rows (with their window)."""
    keys, ok = slots.of(table), valid_mask(table)
    found, counts = np.unique(keys[ok & (keys >= 0)], return_counts=True)
    bad = np.flatnonzero(~ok)
    columns = table.column(INVALID_COLUMN).take(bad).to_pylist()
    reasons = table.column(INVALID).take(bad).to_pylist()
    invalid = []
    for row, column, reason in zip(bad.tolist(), columns, reasons):
        for one_column, one_reason in zip(column.split("\t"), reason.split("\t")):
            invalid.append((row, one_column, one_reason, int(keys[row])))
    undated = int(np.sum(ok & (keys < 0))) if slots.origin_ns is not None else 0
    responses = int(table.num_rows - table.column(RESPONSE).null_count) if RESPONSE in table.column_names else 0
    return BlockIndex(table.num_rows, dict(zip(found.tolist(), counts.tolist())), invalid, undated, responses)


def window_rows(table: Any, slots: Slots, key: int) -> np.ndarray:
    """The block's valid rows of window ``key``, in order."""
    return np.flatnonzero(valid_mask(table) & (slots.of(table) == key))


def collect_block(table: Any, slots: Slots, key: int, offset: int, plans: list[SidePlan], wanted: np.ndarray,
                  with_texts: bool) -> Collected:
    """:func:`~drift_tracking.engines.partials.collect` on the block's rows of window ``key``."""
    rows = window_rows(table, slots, key)
    x_sides = [matrix(table, plan.column, rows) for plan in plans]
    return collect(x_sides, texts(table, rows) if with_texts else None, offset, plans, wanted)


def join_block(table: Any, slots: Slots, key: int, offset: int, column: str, scored: np.ndarray,
               centres: np.ndarray, radius: np.ndarray, with_texts: bool) -> Joined:
    """:func:`~drift_tracking.engines.partials.join` on the block's rows of window ``key``."""
    rows = window_rows(table, slots, key)
    return join(matrix(table, column, rows), texts(table, rows) if with_texts else None, offset, scored,
                centres, radius)
