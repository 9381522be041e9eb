"""Embedding texts: one model through one backend, its identity, a cache, and what it cost.

The identity matters more than the vectors: two embedding models (or one model run
through backends whose numerics differ) place texts in unrelated spaces, so a baseline
and a window must come from the same model and backend or every drift number is
meaningless. The identity is a hash of the model's config and weight files, not just its
name, so a re-fine-tuned checkpoint with the same folder name is caught too; for an
endpoint, whose weights cannot be hashed, a probe of fixed sentences stands in.

Modules, in the order data flows through them:

- :mod:`.files`: where a model's files are (bundled, local folder, Hub) and their hash.
- :mod:`.identity`: :class:`ModelIdentity`, the probe, and when two identities may be compared.
- :mod:`.usage`: :class:`EmbeddingUsage`, texts, tokens, cache hits, seconds and money.
- backends: :mod:`.torch_backend` (sentence-transformers, the default),
  :mod:`.onnx_backend` (ONNX Runtime fp32 / int8 on CPU, optional extra) and
  :mod:`.endpoint` (an OpenAI-compatible ``/v1/embeddings`` service).
- :mod:`.embedder`: :class:`Embedder` (cache, de-duplication, accounting over a backend)
  and :func:`embedder_for_baseline` (which model and backend embeds a baseline's windows).
"""

from drift_tracking.embedding.embedder import BACKENDS, Embedder, checked_embeddings, embedder_for_baseline
from drift_tracking.embedding.endpoint import Endpoint, EndpointError
from drift_tracking.embedding.files import DEFAULT_MODEL, bundled_model_path, hash_model_files, resolve_model
from drift_tracking.embedding.identity import ModelIdentity
from drift_tracking.embedding.torch_backend import select_device
from drift_tracking.embedding.usage import EmbeddingUsage

__all__ = [
    "BACKENDS", "DEFAULT_MODEL", "EmbeddingUsage", "Embedder", "Endpoint", "EndpointError", "ModelIdentity",
    "bundled_model_path", "checked_embeddings", "embedder_for_baseline", "hash_model_files", "resolve_model",
    "select_device",
]
