"""The embedder on the real bundled model: shapes, identity, cache, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from drift_tracking.embedding import Embedder, ModelIdentity, hash_model_files, bundled_model_path
from drift_tracking.errors import DataError, ModelMismatchError


def test_bundled_model_embeds_unit_vectors(embedder):
    vectors = embedder.encode(["How do I reset my password?", "Where is my parcel?"])
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_similar_texts_are_closer_than_unrelated(embedder):
    a, b, c = embedder.encode(
        ["How do I reset my password?", "I forgot my password, how can I change it?", "Best recipe for lasagna"]
    )
    assert a @ b > a @ c + 0.3


def test_identity_pins_model_files(embedder):
    identity = embedder.identity
    assert identity.name == "all-MiniLM-L6-v2"
    assert identity.dimension == 384
    assert identity.weights_sha256 == hash_model_files(bundled_model_path())
    assert ModelIdentity.from_dict(identity.to_dict()) == identity


def test_cache_serves_repeated_texts_and_keeps_order(tmp_path):
    emb = Embedder(device="cpu", cache_dir=tmp_path)
    texts = ["refund for order 1234", "track my package", "refund for order 1234"]
    first = emb.encode(texts)
    assert emb.cache_stats() == {"hits": 0, "misses": 2}
    np.testing.assert_array_equal(first[0], first[2])
    again = Embedder(device="cpu", cache_dir=tmp_path)  # a new process would see the same file
    second = again.encode(list(reversed(texts)))
    assert again.cache_stats() == {"hits": 2, "misses": 0}
    np.testing.assert_array_equal(second[::-1], first)


def test_cached_vectors_equal_fresh_ones(tmp_path, embedder):
    texts = [f"question number {i} about my invoice" for i in range(20)]
    cached = Embedder(device="cpu", cache_dir=tmp_path)
    cached.encode(texts)
    np.testing.assert_allclose(cached.encode(texts), Embedder(device="cpu", cache_dir=False).encode(texts), atol=1e-5)


@pytest.mark.parametrize(
    "texts, message",
    [
        (["fine", ""], "empty or not strings"),
        (["fine", "   "], "empty or not strings"),
        (["fine", float("nan")], "empty or not strings"),
        ("a single string", "not a single string"),
    ],
)
def test_bad_texts_are_refused(embedder, texts, message):
    with pytest.raises(DataError, match=message):
        embedder.encode(texts)


def test_identity_mismatch_names_both_models(embedder):
    other = ModelIdentity(name="e5-small", dimension=384, weights_sha256="0" * 64)
    with pytest.raises(ModelMismatchError, match="e5-small.*all-MiniLM-L6-v2"):
        embedder.identity.check_compatible(other)


def test_precision_difference_is_a_warning_not_an_error(embedder):
    fp16 = ModelIdentity(**{**embedder.identity.__dict__, "precision": "float16"})
    assert "float16" in embedder.identity.check_compatible(fp16)[0]
