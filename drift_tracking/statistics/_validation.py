"""Input checks shared by every statistic, and the seeded subsampling they use.

Each check fails early with a :class:`ValueError` that names the offending argument, so
a caller sees "current contains NaN or infinite values", not a numpy traceback.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_float_array(x: Any, name: str, *, allow_1d: bool = False) -> np.ndarray:
    """``x`` as a float32/float64 array of shape (n, d) (or (n,) when allowed), validated."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if arr.ndim == 1 and allow_1d:
        pass
    elif arr.ndim != 2:
        expected = "1-D or 2-D" if allow_1d else "2-D (n_samples, dim)"
        raise ValueError(f"{name} must be {expected}, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 samples)")
    if arr.ndim == 2 and arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (dimension 0)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_pair(
    reference: Any, current: Any, *, allow_1d: bool = False, names: tuple[str, str] = ("reference", "current")
) -> tuple[np.ndarray, np.ndarray]:
    """Both samples validated by :func:`as_float_array`, with the same number of dimensions."""
    a = as_float_array(reference, names[0], allow_1d=allow_1d)
    b = as_float_array(current, names[1], allow_1d=allow_1d)
    if a.ndim != b.ndim:
        raise ValueError(f"{names[0]} is {a.ndim}-D but {names[1]} is {b.ndim}-D")
    if a.ndim == 2 and a.shape[1] != b.shape[1]:
        raise ValueError(
            f"dimension mismatch: {names[0]} has dimension {a.shape[1]} but {names[1]} has dimension {b.shape[1]}"
        )
    return a, b


def as_counts(x: Any, name: str) -> np.ndarray:
    """``x`` as a 1-D float64 vector of non-negative counts or shares with a positive sum."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector of counts or shares, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if np.any(arr < 0):
        raise ValueError(f"{name} has negative entries; counts and shares must be non-negative")
    if arr.sum() <= 0:
        raise ValueError(f"{name} sums to 0; at least one count must be positive")
    return arr


def check_count_pair(p: Any, q: Any, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Two count vectors validated by :func:`as_counts`, of the same length."""
    a = as_counts(p, names[0])
    b = as_counts(q, names[1])
    if a.shape != b.shape:
        raise ValueError(f"length mismatch: {names[0]} has {a.size} entries but {names[1]} has {b.size}")
    return a, b


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int, if it is an integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def subsample(x: np.ndarray, max_samples: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``max_samples`` rows of ``x`` drawn without replacement (all rows, in order, if fewer).

    The expensive statistics call it once per side, reference first, so that one seed gives
    one subsample whatever statistic is computed.
    """
    if x.shape[0] <= max_samples:
        return x
    return x[subsample_indices(x.shape[0], max_samples, rng)]


def subsample_indices(n: int, max_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of :func:`subsample`'s rows among ``n`` (``arange(n)`` without a draw if n is small)."""
    if n <= max_samples:
        return np.arange(n)
    return np.sort(rng.choice(n, size=max_samples, replace=False))


def paired_subsample_indices(
    n_reference: int, n_current: int, max_samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """The rows :func:`subsample` keeps of each side (reference first) and the generator after both draws.

    The statistics that subsample both sides and go on drawing (MMD's bandwidth points and
    permutations) take the generator from here, so a caller that holds only the window's
    drawn rows (a distributed window, gathered by position) gets the same numbers.
    """
    rng = np.random.default_rng(seed)
    ia = subsample_indices(n_reference, max_samples, rng)
    return ia, subsample_indices(n_current, max_samples, rng), rng
