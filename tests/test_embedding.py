"""The embedder on the real bundled model: shapes, identity, cache, bad input, and who chooses the model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from drift_tracking.embedding import (
    Embedder,
    ModelIdentity,
    bundled_model_path,
    embedder_for_baseline,
    hash_model_files,
)
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


@pytest.mark.slow  # loads the real model
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


# -- which model embeds a baseline's windows (issue 11, finding 3) ------------------------
def _mirror(source, target):
    """A model folder of symlinks to ``source``'s files: same weights, another name, no 90 MB copy."""
    for path in source.rglob("*"):
        if path.is_file():
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (target / path.relative_to(source)).symlink_to(path)
    return target


@pytest.fixture(scope="module")
def local_model(tmp_path_factory):
    """The bundled model as a local folder named support-minilm, and a decoy of that name with other files."""
    root = tmp_path_factory.mktemp("models")
    folder = _mirror(bundled_model_path(), root / "support-minilm")
    decoy = _mirror(bundled_model_path(), root / "elsewhere" / "support-minilm")
    (decoy / "data_config.json").unlink()
    (decoy / "data_config.json").write_text('{"edited": true}')
    return folder, decoy


def test_a_baseline_of_the_bundled_model_gets_the_bundled_copy(baseline):
    chosen = embedder_for_baseline(baseline.identity_, device="cpu")
    assert (chosen.source, chosen.model_name) == ("bundled", "all-MiniLM-L6-v2")
    assert baseline.identity_.source == "bundled"


@pytest.mark.parametrize("source", ["hub", ""])
def test_a_model_the_manifest_names_is_refused_unless_allowed(source, tmp_path, monkeypatch):
    identity = ModelIdentity(name="acme/support-embedder", dimension=384, weights_sha256="a" * 64, source=source)
    with pytest.raises(ModelMismatchError, match="'acme/support-embedder'.*--model acme/support-embedder.*allowed_models"):
        embedder_for_baseline(identity)
    (tmp_path / "acme" / "support-embedder").mkdir(parents=True)  # a folder of that name here is never used
    monkeypatch.chdir(tmp_path)
    allowed = embedder_for_baseline(identity, allowed_models=["acme/support-embedder"])
    assert (allowed.source, allowed.model_name, allowed.expected) == ("hub", "acme/support-embedder", identity)


def test_a_local_folder_baseline_needs_an_explicit_model(local_model, tmp_path, monkeypatch):
    folder, decoy = local_model
    identity = Embedder(folder, device="cpu").identity
    assert (identity.name, identity.source) == ("support-minilm", "local")
    assert identity.weights_sha256 == hash_model_files(bundled_model_path())
    monkeypatch.chdir(decoy.parent)  # a folder with the baseline's model name in the working directory
    with pytest.raises(ModelMismatchError, match="local model folder 'support-minilm'.*--model PATH"):
        embedder_for_baseline(identity, allowed_models=["support-minilm"])
    chosen = embedder_for_baseline(identity, folder, device="cpu")
    assert chosen.encode(["where is my parcel"]).shape == (1, 384)


def test_weights_that_differ_from_the_pin_are_refused_before_loading(local_model, baseline):
    from drift_tracking.embedding import torch_backend

    _, decoy = local_model
    loaded = torch_backend.load_model.cache_info().currsize
    for chosen in (embedder_for_baseline(baseline.identity_, decoy, device="cpu"),
                   embedder_for_baseline(replace(baseline.identity_, weights_sha256="0" * 64), device="cpu")):
        with pytest.raises(ModelMismatchError, match="hash to weights .* but the baseline pins"):
            chosen.encode(["where is my parcel"])
    assert torch_backend.load_model.cache_info().currsize == loaded  # neither model was loaded


def test_check_with_a_local_folder_baseline_names_the_fix(local_model, baseline, healthy_window, tmp_path,
                                                          monkeypatch):
    from click.testing import CliRunner

    from drift_tracking import demo as samples
    from drift_tracking.baseline import Baseline
    from drift_tracking.cli import main

    folder, decoy = local_model
    identity = Embedder(folder, device="cpu").identity
    built = Baseline(calibrate=False).fit(baseline.prompts_.embeddings_, identity=identity, texts=baseline.texts_)
    path = built.save(tmp_path / "local-baseline")
    window = samples.write(healthy_window[:60], tmp_path / "window.jsonl")
    monkeypatch.chdir(decoy.parent)
    refused = CliRunner().invoke(main, ["check", str(window), "--baseline", str(path), "--device", "cpu"])
    assert refused.exit_code == 2
    assert "local model folder 'support-minilm'" in refused.output and "--model PATH" in refused.output
    wrong = CliRunner().invoke(main, ["check", str(window), "--baseline", str(path), "--model", str(decoy)])
    assert wrong.exit_code == 2 and "but the baseline pins" in wrong.output
    right = CliRunner().invoke(main, ["check", str(window), "--baseline", str(path), "--model", str(folder),
                                      "--device", "cpu", "--format", "json"])
    assert right.exit_code == 0, right.output


def test_the_allow_list_is_a_config_section():
    from drift_tracking.config import Config
    from drift_tracking.errors import ConfigError

    config = Config.from_dict({"embedding": {"allowed_models": ["acme/support-embedder"]}})
    assert config.embedding.allowed_models == ["acme/support-embedder"]
    assert Config().embedding.allowed_models == []
    with pytest.raises(ConfigError, match="embedding.allowed_models.*list"):
        Config.from_dict({"embedding": {"allowed_models": "acme/support-embedder"}})
    with pytest.raises(ConfigError, match=r"embedding.allowed_models.0: .*string"):
        Config.from_dict({"embedding": {"allowed_models": [3]}})
