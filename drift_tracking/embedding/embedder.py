"""The :class:`Embedder`: one model through one backend, a cache so no text is embedded twice,
and an account of what embedding cost.

Which model embeds a baseline's windows is never decided by the baseline's manifest
(a downloaded file anyone with write access to the store could edit): it is the bundled
copy, a model the caller names (``--model``), or a name on the caller's allow-list, and
its files must hash to the weights the baseline pins before a single text is embedded
(:func:`embedder_for_baseline`). Likewise an endpoint is only one the caller names.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from drift_tracking.cache import EmbeddingCache, default_cache_dir
from drift_tracking.embedding.endpoint import Endpoint, EndpointRuntime
from drift_tracking.embedding.files import BUNDLED_ALIASES, DEFAULT_MODEL, resolve_source
from drift_tracking.embedding.identity import (
    ENDPOINT,
    IN_PROCESS_BACKENDS,
    ONNX_INT8,
    TORCH,
    ModelIdentity,
    mismatch_advice,
)
from drift_tracking.embedding.onnx_backend import OnnxRuntime
from drift_tracking.embedding.torch_backend import TorchRuntime
from drift_tracking.embedding.usage import EmbeddingUsage
from drift_tracking.errors import DataError, DriftTrackingError, ModelMismatchError

BACKENDS = IN_PROCESS_BACKENDS
_PROGRESS_MIN_TEXTS = 512


class Runtime(Protocol):
    """What a backend does: say what it would embed with, load, and embed a list of texts."""

    backend: str
    name: str
    source: str

    def describe(self) -> str: ...
    def local_weights(self) -> str | None: ...
    def load(self) -> ModelIdentity: ...
    def embed(self, texts: Sequence[str], *, batch_size: int, progress: bool) -> tuple[np.ndarray, int | None]: ...
    @property
    def device(self) -> str: ...


class Embedder:
    """Embeds texts with one model through one backend, caching every vector on disk.

    Parameters
    ----------
    model:
        ``None`` (the bundled all-MiniLM-L6-v2, offline), a sentence-transformers name or a
        path; with ``endpoint``, the name of the model the endpoint serves.
    backend:
        In-process runtime: ``torch`` (sentence-transformers, the default), ``onnx`` or
        ``onnx-int8`` (ONNX Runtime on CPU; ``pip install 'drift-tracking[onnx]'``). Each
        is its own identity: a baseline refuses windows from another backend.
    endpoint:
        An OpenAI-compatible embeddings URL (or an :class:`Endpoint`) to embed through
        instead of in-process; ``backend`` and ``device`` do not apply.
    device:
        ``auto`` (CUDA with fp16 when present, else CPU), ``cpu`` or ``cuda`` (torch only).
    batch_size:
        Texts per forward pass, or per request to an endpoint. 32 was the fastest on 2
        CPU cores; on a GPU use 128 or more.
    cache_dir:
        Where vectors (and ONNX exports) are kept, keyed by model fingerprint and text
        hash. ``None`` uses ``$DRIFT_TRACKING_CACHE_DIR`` or ``~/.cache/drift-tracking``;
        ``False`` disables the vector cache.
    show_progress:
        ``None`` shows a bar for long runs when stderr is a terminal.
    source:
        ``"hub"`` loads ``model`` from the Hugging Face Hub (or its cache) even when a
        folder of that name exists here; by default an existing path is a local folder.
    expected:
        The identity a baseline pins: the backend must be the baseline's and the model's
        files are hashed before it is loaded (after the download, for a Hub model); a
        different ``weights_sha256`` or probe is refused.
    price_per_1k_tokens:
        What 1,000 embedded tokens cost; reports then carry the money (``cost.amount``).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        backend: str | None = None,
        endpoint: "str | Endpoint | None" = None,
        device: str = "auto",
        batch_size: int = 32,
        cache_dir: str | os.PathLike[str] | None | bool = None,
        show_progress: bool | None = None,
        source: str | None = None,
        expected: ModelIdentity | None = None,
        price_per_1k_tokens: float | None = None,
    ) -> None:
        if batch_size < 1:
            raise DriftTrackingError(f"batch_size must be >= 1, got {batch_size}")
        if price_per_1k_tokens is not None and not price_per_1k_tokens >= 0:
            raise DriftTrackingError(f"price_per_1k_tokens must be >= 0, got {price_per_1k_tokens}")
        root = default_cache_dir() if cache_dir in (None, False, True) else Path(cache_dir)
        self._runtime = _runtime(model, backend, endpoint, device, source, root)
        self.model_name, self.source = self._runtime.name, self._runtime.source
        self.backend = self._runtime.backend
        self.expected = expected
        self.requested_device = device
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.price_per_1k_tokens = price_per_1k_tokens
        self._cache_dir = None if cache_dir is False else root
        self._identity: ModelIdentity | None = None
        self._cache: EmbeddingCache | None = None
        self._usage = EmbeddingUsage()

    # -- loading -------------------------------------------------------------------
    def _load(self) -> ModelIdentity:
        if self._identity is not None:
            return self._identity
        self._check_backend()
        local = self._runtime.local_weights()
        if local is not None:  # the files are here: check them before loading any of them
            self._check_weights(local)
        identity = self._runtime.load()
        self._check_weights(identity.weights_sha256)  # a Hub model: after the download, before any encode
        if self.expected is not None:
            identity.check_compatible(self.expected, "baseline")  # the probe, for every backend
        self._identity = identity
        if self._cache_dir is not None:
            self._cache = EmbeddingCache(self._cache_dir, identity.fingerprint, identity.dimension)
        return identity

    def _check_backend(self) -> None:
        """Refuse another backend than the baseline's before loading, exporting or sending anything."""
        if self.expected is not None and self.expected.backend != self.backend:
            raise ModelMismatchError(
                f"the baseline was embedded by {self.expected.describe()} but this embedder is "
                f"{self._runtime.describe()} (backend: {self.expected.backend!r} vs {self.backend!r}); embeddings "
                f"from different backends cannot be compared. {mismatch_advice(self.expected)}"
            )

    def _check_weights(self, weights: str) -> None:
        expected = self.expected
        if expected is not None and expected.backend != ENDPOINT and weights != expected.weights_sha256:
            raise ModelMismatchError(
                f"the files of embedding model {self.model_name!r} ({getattr(self._runtime, 'target', '')}) hash to "
                f"weights {weights[:12]}, but the baseline pins {expected.weights_sha256[:12]} for "
                f"{expected.name!r}: use the exact model the baseline was built with, or rebuild the baseline"
            )

    @property
    def identity(self) -> ModelIdentity:
        """The model's identity; loads the model (or asks the endpoint) on first use."""
        return self._load()

    @property
    def device(self) -> str:
        self._load()
        return self._runtime.device

    @property
    def usage(self) -> EmbeddingUsage:
        """Everything this embedder has embedded so far; subtract an earlier reading for one window's share."""
        return self._usage

    def cost(self, since: EmbeddingUsage | None = None) -> dict[str, Any]:
        """The ``cost`` section of a report: what was embedded since ``since`` (default: ever)."""
        used = self._usage - since if since is not None else self._usage
        return used.report(backend=self.backend, model=self.model_name, price_per_1k_tokens=self.price_per_1k_tokens)

    # -- encoding ------------------------------------------------------------------
    def encode(self, texts: Sequence[str], *, show_progress: bool | None = None) -> np.ndarray:
        """Return float32 embeddings, one row per text, in input order.

        Cached texts are read from disk; the rest are de-duplicated and sent to the
        backend in one call (it sorts by length, which beats arrival-order batches by
        35-45%). Rows are unit length when the model normalises.
        """
        texts = _validate_texts(texts)
        identity = self._load()
        started = time.perf_counter()
        out = np.empty((len(texts), identity.dimension), dtype=np.float32)
        unique: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            unique.setdefault(text, []).append(i)
        found = self._cache.get_many(list(unique)) if self._cache else {}
        missing = [t for t in unique if t not in found]
        new, tokens = self._embed(missing, show_progress) if missing else ({}, 0)
        found.update(new)
        for text, rows in unique.items():
            out[rows] = found[text]
        self._usage += EmbeddingUsage(
            texts=len(texts), embedded=len(missing), cache_hits=len(unique) - len(missing),
            tokens=tokens or 0, unmetered=len(missing) if tokens is None else 0,
            seconds=time.perf_counter() - started,
        )
        return out

    def _embed(self, missing: list[str], show_progress: bool | None) -> tuple[dict[str, np.ndarray], int | None]:
        progress = self.show_progress if show_progress is None else show_progress
        if progress is None:
            progress = len(missing) >= _PROGRESS_MIN_TEXTS and sys.stderr.isatty()
        vectors, tokens = self._runtime.embed(missing, batch_size=self.batch_size, progress=bool(progress))
        if vectors.shape != (len(missing), self.identity.dimension):
            raise DriftTrackingError(
                f"{self._runtime.describe()} returned embeddings of shape {vectors.shape} for {len(missing)} texts; "
                f"its identity says {self.identity.dimension} dimensions"
            )
        new = dict(zip(missing, vectors))
        if self._cache:
            self._cache.put_many(new)
        return new, tokens

    def cache_stats(self) -> dict[str, int]:
        return self._cache.stats() if self._cache else {}


def _runtime(
    model: str | os.PathLike[str] | None, backend: str | None, endpoint: "str | Endpoint | None",
    device: str, source: str | None, cache_root: Path,
) -> Runtime:
    """The backend that will embed: an endpoint when one is named, else the in-process ``backend``."""
    if endpoint is not None:
        if backend is not None:
            raise DriftTrackingError(
                f"--backend {backend} runs a model in this process; it does not apply with --embedding-endpoint"
            )
        if model is None:
            raise DriftTrackingError(
                "name the model the endpoint serves with --model NAME (e.g. text-embedding-3-small)")
        return EndpointRuntime(str(model), endpoint if isinstance(endpoint, Endpoint) else Endpoint(str(endpoint)))
    backend = backend or TORCH
    if backend not in BACKENDS:
        raise DriftTrackingError(f"unknown backend {backend!r}: use {', '.join(BACKENDS)} (or an endpoint)")
    name, target, resolved = resolve_source(model, source)
    if backend == TORCH:
        return TorchRuntime(name, target, resolved, device)
    if device.startswith("cuda"):
        raise DriftTrackingError(f"--backend {backend} runs on the CPU: drop --device {device} or use --backend torch")
    return OnnxRuntime(name, target, resolved, quantized=backend == ONNX_INT8, export_root=cache_root / "onnx")


def embedder_for_baseline(
    identity: ModelIdentity,
    model: str | os.PathLike[str] | None = None,
    *,
    allowed_models: Sequence[str] = (),
    backend: str | None = None,
    endpoint: "str | Endpoint | None" = None,
    **options: Any,
) -> Embedder:
    """The embedder for a baseline's windows: chosen by the caller, checked against the baseline's pin.

    ``model`` is what the user named (``--model``); without it the baseline's model must
    be the bundled one, or a Hub name in ``allowed_models`` (``[embedding] allowed_models``
    in the config). A baseline built from a local folder needs ``model``: its folder name
    is never looked up in the working directory or on the Hub. ``backend`` defaults to the
    baseline's own in-process backend; a baseline built through an endpoint needs
    ``endpoint`` (its address is never read from the baseline). The returned embedder
    refuses another backend, weights that do not hash to the baseline's
    ``weights_sha256`` and a probe that disagrees, before a single window text is embedded.
    ``options`` go to :class:`Embedder` (device, batch_size, cache_dir, show_progress, price_per_1k_tokens).
    """
    if endpoint is not None:
        return Embedder(model or identity.name, endpoint=endpoint, backend=backend, expected=identity, **options)
    if identity.backend == ENDPOINT:
        if backend is None:
            raise ModelMismatchError(
                f"the baseline was embedded by {identity.describe()}; drift-tracking never sends prompts to an "
                f"address read from a baseline: pass --embedding-endpoint URL (and --model {identity.name}) to check "
                "through it"
            )
        return Embedder(model, backend=backend, expected=identity, **options)  # refused on first use, naming both
    backend = backend or identity.backend
    if model is not None:
        return Embedder(model, backend=backend, expected=identity, **options)
    if identity.name in BUNDLED_ALIASES and identity.source in ("", "bundled"):
        return Embedder(None, backend=backend, expected=identity, **options)
    if identity.source == "local":
        raise ModelMismatchError(
            f"the baseline was built with the local model folder {identity.name!r}; drift-tracking never looks "
            "that name up in the working directory or on the Hugging Face Hub: pass --model PATH to that "
            "folder (its files must hash to the weights the baseline pins)"
        )
    if identity.name in allowed_models:
        return Embedder(identity.name, source="hub", backend=backend, expected=identity, **options)
    raise ModelMismatchError(
        f"the baseline names embedding model {identity.name!r}, which is not the bundled {DEFAULT_MODEL} and "
        "not on the allow-list, so it is not loaded (a baseline's manifest never chooses what is downloaded): "
        f"pass --model {identity.name} if you trust it, or add it to [embedding] allowed_models in the config"
    )


def _validate_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise DataError("encode() takes a list of texts, not a single string")
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        raise DataError(
            f"{len(bad)} text(s) are empty or not strings (positions {bad[:10]}); "
            "load data with drift_tracking.data.load_texts, which reports and drops them"
        )
    return texts


def checked_embeddings(x: Any, dimension: int, what: str, *, holder: str, minimum: int) -> np.ndarray:
    """``x`` as float32 ``(n, dimension)`` rows, at least ``minimum`` of them, all finite.

    ``what`` names the rows (``prompt``), ``holder`` what they are for (``the window``);
    both appear in the error, which is all a user needs to fix the input.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != dimension:
        raise DataError(f"{what} embeddings must be (n, {dimension}), got {x.shape}")
    if x.shape[0] < minimum:
        raise DataError(f"{holder} has {x.shape[0]} {what}s; at least {minimum} are needed")
    if not np.isfinite(x).all():
        raise DataError(f"{what} embeddings contain NaN or infinite values")
    return x
