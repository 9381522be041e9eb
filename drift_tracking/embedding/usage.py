"""What embedding a window cost: texts, tokens, cache hits, seconds and, with a price, money.

An :class:`~drift_tracking.embedding.Embedder` adds to one running :class:`EmbeddingUsage`;
a window's share is the difference of two readings (``after - before``), so one embedder
serves many windows and each report carries only its own cost.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class EmbeddingUsage:
    """Counts of one or more ``encode`` calls.

    ``texts`` counts every text asked for (repeats too); ``embedded`` the distinct texts the
    model or endpoint computed; ``cache_hits`` the distinct texts read from the on-disk
    cache. ``tokens`` are those of the embedded texts: the endpoint's own count (its
    ``usage`` field), else the model tokenizer's, special tokens included, after
    truncation. ``unmetered`` counts embedded texts an endpoint reported no tokens for;
    no money is computed while it is above zero. ``seconds`` is wall time inside
    ``encode``, cache look-ups and retries included.
    """

    texts: int = 0
    embedded: int = 0
    cache_hits: int = 0
    tokens: int = 0
    unmetered: int = 0
    seconds: float = 0.0

    def __add__(self, other: "EmbeddingUsage") -> "EmbeddingUsage":
        return EmbeddingUsage(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def __sub__(self, other: "EmbeddingUsage") -> "EmbeddingUsage":
        return EmbeddingUsage(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)})

    def amount(self, price_per_1k_tokens: float | None) -> float | None:
        """Money at ``price_per_1k_tokens``; ``None`` without a price or with unmetered texts."""
        if price_per_1k_tokens is None or self.unmetered:
            return None
        return self.tokens / 1000.0 * price_per_1k_tokens

    def report(self, *, backend: str, model: str, price_per_1k_tokens: float | None) -> dict[str, Any]:
        """The ``cost`` section of a drift report."""
        return {
            "backend": backend, "model": model, "texts": self.texts, "embedded": self.embedded,
            "cache_hits": self.cache_hits, "tokens": self.tokens, "unmetered": self.unmetered,
            "seconds": round(self.seconds, 4), "price_per_1k_tokens": price_per_1k_tokens,
            "amount": self.amount(price_per_1k_tokens),
        }
