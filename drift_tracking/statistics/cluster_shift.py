"""The per-cluster table behind the Jensen-Shannon number: which clusters grew or shrank."""

from __future__ import annotations

from typing import Any

from drift_tracking.statistics._validation import check_count_pair


def cluster_shift(reference_counts: Any, current_counts: Any) -> list[dict[str, Any]]:
    """Per-cluster share table, largest absolute change first.

    With p_i and q_i the reference and window counts of cluster i:

        baseline_share_i = p_i / sum(p),   window_share_i = q_i / sum(q)
        change_i = window_share_i - baseline_share_i,   ratio_i = window_share_i / baseline_share_i

    Each row is ``{"cluster": i, "baseline_share", "window_share", "change", "ratio"}``;
    ``ratio`` is None when the baseline share is 0 (no inf/NaN in the table). Rows are
    sorted by |change| descending, ties by cluster index. Identical shares give all-zero
    changes and ratios 1; swapping the arguments negates every change. Nothing is
    subsampled.

    Parameters
    ----------
    reference_counts
        Baseline points per cluster.
    current_counts
        Window points per cluster, the same length.

    Examples
    --------
    >>> [(r["cluster"], round(r["change"], 2), r["ratio"]) for r in cluster_shift([50, 50, 0], [25, 50, 25])]
    [(0, -0.25, 0.5), (2, 0.25, None), (1, 0.0, 1.0)]

    References
    ----------
    [^1]: The bins p_i, q_i of Lin, J. (1991), Divergence measures based on the Shannon
    entropy, IEEE Transactions on Information Theory, 37(1), 145-151, as a table.
    """
    ref, cur = check_count_pair(reference_counts, current_counts, ("reference_counts", "current_counts"))
    base = ref / ref.sum()
    win = cur / cur.sum()
    rows = []
    for i in range(base.size):
        b_share, w_share = float(base[i]), float(win[i])
        rows.append(
            {
                "cluster": i,
                "baseline_share": b_share,
                "window_share": w_share,
                "change": w_share - b_share,
                "ratio": (w_share / b_share) if b_share > 0 else None,
            }
        )
    rows.sort(key=lambda r: (-abs(r["change"]), r["cluster"]))
    return rows
