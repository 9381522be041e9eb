"""Jensen-Shannon divergence of the topic mix.

The window's prompts are counted per baseline cluster and the two share vectors are
compared. Cheap, bounded in [0, 1] and easy to explain ("the cluster mix moved"); blind to
change inside a cluster, which the embedding-level statistics see.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from drift_tracking.statistics._validation import check_count_pair


def js_divergence(p: Any, q: Any) -> float:
    """Jensen-Shannon *divergence* (base 2) between two count or share vectors.

    Both vectors are normalised to sum to 1, then

        JS(p, q) = 0.5 * KL(p || m) + 0.5 * KL(q || m),   m = (p + q) / 2,
        KL(a || b) = sum_i a_i * log2(a_i / b_i)   (terms with a_i = 0 count as 0).

    The result lies in [0, 1]: 0 for identical shares, 1 for disjoint supports (no cluster
    used by both); it is symmetric in p and q. It equals
    ``scipy.spatial.distance.jensenshannon(p, q, base=2) ** 2``: this is the divergence,
    not the Jensen-Shannon *distance* scipy returns (its square root). Nothing is subsampled.
    A vector that is empty, not 1-D, negative, NaN or all zeros, or lengths that differ,
    raise ValueError.

    Parameters
    ----------
    p
        Counts (or shares) of the reference per bin, e.g. baseline prompts per cluster.
    q
        Counts (or shares) of the window in the same bins.

    Examples
    --------
    >>> js_divergence([10, 10, 0], [0, 10, 10])  # half of each mass sits where the other has none
    0.5
    >>> js_divergence([3, 0], [0, 5]), js_divergence([1, 2, 3], [2, 4, 6])
    (1.0, 0.0)

    References
    ----------
    [^1]: Lin, J. (1991). Divergence measures based on the Shannon entropy. IEEE Transactions
    on Information Theory, 37(1), 145-151.
    """
    a, b = check_count_pair(p, q, ("p", "q"))
    a = a / a.sum()
    b = b / b.sum()
    m = 0.5 * (a + b)
    js = 0.5 * _kl_to_mixture(a, m) + 0.5 * _kl_to_mixture(b, m)
    return float(min(max(js, 0.0), 1.0))


def _kl_to_mixture(u: np.ndarray, m: np.ndarray) -> float:
    """KL(u || m) in bits, for m a mixture that includes u (so m > 0 wherever u > 0)."""
    nz = u > 0
    return float(np.sum(u[nz] * np.log2(u[nz] / m[nz])))
