"""What a baseline pins about its embeddings, and when two embedders' vectors may be compared.

Two embedding models, or one model run by two backends whose numerics differ (int8
quantisation moves vectors by ~0.6% in cosine), place texts in different spaces, so a
baseline and a window must come from the same model *and* backend or every drift
number is meaningless. :class:`ModelIdentity` records both.

For a model whose files are here the weights' sha256 says which model it is. For an
endpoint nothing can be hashed, so the identity carries a *probe*: eight fixed
sentences embedded by the model, each reduced to 16 fixed random projections. Two
embedders agree when the probes match to a tolerance (estimated cosine >= 0.999):
fp16 against fp32 passes (~0.99999), another model behind the same name does not
(~0.3), nor does an int8 copy of the same model (~0.994). Every backend computes a
probe, so a re-exported or edited model file is caught the same way.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from drift_tracking.errors import ModelMismatchError

TORCH, ONNX, ONNX_INT8, ENDPOINT = "torch", "onnx", "onnx-int8", "endpoint"
IN_PROCESS_BACKENDS = (TORCH, ONNX, ONNX_INT8)
RUNTIME_NAMES = {
    TORCH: "sentence-transformers (PyTorch)",
    ONNX: "ONNX Runtime, fp32",
    ONNX_INT8: "ONNX Runtime, dynamic int8",
    ENDPOINT: "an OpenAI-compatible endpoint",
}
# Fields that must agree for two embeddings to be comparable. Precision (fp16 on GPU,
# fp32 on CPU) changes vectors by ~1e-5 in cosine: reported, but not a mismatch.
_FINGERPRINT_FIELDS = ("name", "dimension", "weights_sha256", "backend", "normalized", "max_seq_length")

PROBE_TEXTS = (
    "How do I reset my password?",
    "The parcel arrived two days late and the box was damaged.",
    "Explain the difference between a stock and a bond.",
    "Je voudrais annuler ma commande, s'il vous plait.",
    "def add(a, b): return a + b",
    "The quick brown fox jumps over the lazy dog.",
    "What are the side effects of ibuprofen?",
    "Write a haiku about autumn rain on a tin roof.",
)
PROBE_DIRECTIONS = 16
PROBE_MIN_AGREEMENT = 0.999
_PROBE_SEED = 14


@dataclass(frozen=True)
class ModelIdentity:
    """What a baseline pins: enough to refuse comparing embeddings from different models or backends."""

    name: str
    dimension: int
    weights_sha256: str
    backend: str = TORCH
    normalized: bool = True
    max_seq_length: int | None = None
    precision: str = "float32"
    source: str = ""  # bundled | local (a folder) | hub | endpoint; "" in baselines saved before it was recorded
    probe: tuple[float, ...] = ()  # see the module docstring; () in baselines saved before it was recorded

    @property
    def fingerprint(self) -> str:
        """Short stable hash of the fields that must match; names cache files too.

        An endpoint has no weights to hash, so its probe (rounded to 0.01, so noise in
        the last digits rarely changes it) stands in for them: a different model behind
        the same name never reads the old model's cached vectors.
        """
        payload: dict[str, Any] = {k: getattr(self, k) for k in _FINGERPRINT_FIELDS}
        if self.backend == ENDPOINT:
            payload["probe"] = [round(v, 2) for v in self.probe]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["probe"] = list(self.probe)
        return {**data, "fingerprint": self.fingerprint}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelIdentity":
        fields = cls.__dataclass_fields__
        values = {k: v for k, v in data.items() if k in fields}
        values["probe"] = tuple(float(v) for v in values.get("probe") or ())
        return cls(**values)

    def describe(self) -> str:
        """One phrase naming the model, how it runs and what pins it, for error messages."""
        runtime = RUNTIME_NAMES.get(self.backend, self.backend)
        if self.backend == ENDPOINT:
            return f"{self.name!r} through {runtime} ({self.dimension}-d, fingerprint {self.fingerprint})"
        return (f"{self.name!r} in-process with {runtime} ({self.dimension}-d, {self.precision}, "
                f"weights {self.weights_sha256[:12]}, fingerprint {self.fingerprint})")

    def check_compatible(self, other: "ModelIdentity", what: str = "baseline") -> list[str]:
        """Raise if ``other`` embeds into another space; return warnings for harmless differences."""
        diffs = [f for f in _FINGERPRINT_FIELDS if getattr(self, f) != getattr(other, f)]
        if diffs:
            detail = ", ".join(f"{f}: {getattr(other, f)!r} vs {getattr(self, f)!r}" for f in diffs)
            raise ModelMismatchError(
                f"the {what} was embedded by {other.describe()} but this embedder is {self.describe()} "
                f"({detail}); embeddings from different models or backends cannot be compared. {mismatch_advice(other)}"
            )
        agreement = probe_agreement(self.probe, other.probe)
        if agreement is not None and agreement < PROBE_MIN_AGREEMENT:
            raise ModelMismatchError(
                f"the probe sentences embed differently (estimated cosine {agreement:.4f}, below "
                f"{PROBE_MIN_AGREEMENT}): the {what} was embedded by {other.describe()} and this embedder is "
                f"{self.describe()}, the same name and files but another model or export behind them. "
                f"{mismatch_advice(other)}"
            )
        if self.precision != other.precision:
            return [
                f"the {what} was embedded in {other.precision} and this window in {self.precision}; "
                "differences are ~1e-5 in cosine, well below drift levels"
            ]
        return []


def mismatch_advice(baseline: ModelIdentity) -> str:
    """What to run instead, given what the baseline was embedded with."""
    if baseline.backend == ENDPOINT:
        return (f"Check it through the endpoint it was built with (--embedding-endpoint URL --model {baseline.name}), "
                "or rebuild the baseline with this embedder.")
    options = [] if baseline.backend == TORCH else [f"--backend {baseline.backend}"]
    if baseline.source not in ("", "bundled"):
        options.append(f"--model {baseline.name}")
    how = " ".join(options) or "the default backend and the bundled model"
    return f"Embed with the baseline's model and backend ({how}), or rebuild the baseline with this embedder."


@functools.lru_cache(maxsize=8)
def _directions(dimension: int) -> np.ndarray:
    """PROBE_DIRECTIONS fixed random unit vectors of ``dimension`` (columns)."""
    directions = np.random.default_rng(_PROBE_SEED).standard_normal((dimension, PROBE_DIRECTIONS))
    return directions / np.linalg.norm(directions, axis=0)


def probe_signature(vectors: np.ndarray) -> tuple[float, ...]:
    """The probe texts' embeddings (one row per text), each projected on the fixed directions.

    A random projection keeps distances (Johnson-Lindenstrauss), so the difference of two
    signatures estimates the difference of the full vectors from 128 numbers.
    """
    x = np.asarray(vectors, dtype=np.float64)
    return tuple(round(float(v), 5) for v in (x @ _directions(x.shape[1])).ravel())


def probe_agreement(a: tuple[float, ...], b: tuple[float, ...]) -> float | None:
    """Estimated cosine of the least-agreeing probe text, or ``None`` when a side has no probe.

    For each text ``|pa - pb|^2 / |p|^2`` estimates ``|va - vb|^2 / |v|^2``, which is
    ``2 (1 - cos)`` for vectors of one length.
    """
    if not a or not b or len(a) != len(b):
        return None
    pa = np.asarray(a, dtype=np.float64).reshape(-1, PROBE_DIRECTIONS)
    pb = np.asarray(b, dtype=np.float64).reshape(-1, PROBE_DIRECTIONS)
    scale = np.maximum(np.maximum((pa**2).sum(1), (pb**2).sum(1)), 1e-12)
    relative = ((pa - pb) ** 2).sum(1) / scale
    return float(1.0 - relative.max() / 2.0)


def with_probe(identity: ModelIdentity, embed: Callable[..., tuple[np.ndarray, Any]]) -> ModelIdentity:
    """``identity`` with the probe signature of what ``embed`` (a backend's) makes of the probe texts."""
    vectors, _ = embed(list(PROBE_TEXTS), batch_size=len(PROBE_TEXTS), progress=False)
    return replace(identity, probe=probe_signature(vectors))
