"""Baseline artifacts: round trip, safe formats, and refusal of anything tampered with."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from drift_tracking.baseline import Baseline, default_n_clusters
from drift_tracking.embedding import ModelIdentity
from drift_tracking.errors import ArtifactError, ConfigError, DataError, ModelMismatchError


def _copy(baseline, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(baseline.path, target)
    return target


def test_fitted_state_describes_the_good_period(baseline, baseline_samples):
    assert len(baseline) == len(baseline_samples)
    assert baseline.prompts_.n_clusters == default_n_clusters(len(baseline_samples))
    assert baseline.prompts_.counts_.sum() == len(baseline_samples)
    assert baseline.responses_ is not None
    assert baseline.texts_[0] == baseline_samples[0].prompt
    assert baseline.response_texts_[0] == baseline_samples[0].response
    assert baseline.identity_.name == "all-MiniLM-L6-v2"
    assert len(baseline.version) == 12
    assert all(label for label in baseline.prompts_.cluster_labels_)


def _fitted(obj) -> dict:
    """Every fitted attribute (name ending in ``_``) of a baseline or reference, by name."""
    names = [k for k in vars(obj) if k.endswith("_") and not k.startswith("_")]
    return {k: getattr(obj, k) for k in names}


def _assert_same(a, b, where: str) -> None:
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
        assert a.dtype.kind == b.dtype.kind, where
    elif hasattr(a, "__dataclass_fields__") and not hasattr(a, "fingerprint"):
        for key, value in _fitted(a).items():
            _assert_same(value, getattr(b, key), f"{where}.{key}")
    else:
        assert a == b, where


def test_every_fitted_attribute_survives_save_and_load(baseline, tmp_path):
    """Fit afresh (hyper-parameters and quality included), save, load: nothing learned is lost."""
    fresh = Baseline(n_clusters=8, window_size=60, seed=3).fit(
        baseline.prompts_.embeddings_[:400], baseline.responses_.embeddings_[:400], identity=baseline.identity_,
        texts=baseline.texts_[:400], response_texts=baseline.response_texts_[:400], ids=baseline.ids_[:400],
        quality={"golden_accuracy": 0.9}, source="good.jsonl",
    )
    loaded = Baseline.load(fresh.save(tmp_path / "b"))
    fitted = _fitted(fresh)
    assert set(fitted) == set(_fitted(loaded)) == {
        "identity_", "prompts_", "responses_", "texts_", "response_texts_", "ids_", "quality_", "source_",
        "created_at_", "calibration_",
    }
    for key, value in fitted.items():
        _assert_same(value, getattr(loaded, key), key)
    assert len(loaded.prompts_.labels_) == 400
    assert (loaded.n_clusters, loaded.window_size, loaded.seed) == (8, 60, 3)
    assert loaded.version == fresh.version


def test_only_safe_formats_are_written(baseline):
    suffixes = {p.suffix for p in baseline.path.iterdir()}
    assert suffixes <= {".json", ".npy", ".parquet"}
    for npy in baseline.path.glob("*.npy"):
        np.load(npy, allow_pickle=False)  # raises if any array needed pickle


def test_manifest_pins_model_and_checksums(baseline):
    manifest = json.loads((baseline.path / "manifest.json").read_text())
    assert manifest["kind"] == "drift-baseline"
    assert manifest["model"]["weights_sha256"] == baseline.identity_.weights_sha256
    assert set(manifest["files"]) == {p.name for p in baseline.path.iterdir() if p.name != "manifest.json"}


def test_tampered_file_is_refused(baseline, tmp_path):
    target = _copy(baseline, tmp_path)
    emb = np.load(target / "prompts_embeddings.npy")
    emb[0, 0] += 0.5
    np.save(target / "prompts_embeddings.npy", emb)
    with pytest.raises(ArtifactError, match="prompts_embeddings.npy does not match its sha256"):
        Baseline.load(target)


def test_truncated_file_is_refused(baseline, tmp_path):
    target = _copy(baseline, tmp_path)
    data = (target / "texts.parquet").read_bytes()
    (target / "texts.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="texts.parquet is .* bytes, expected .* \\(truncated\\?\\)"):
        Baseline.load(target)


def test_missing_file_and_missing_manifest_are_refused(baseline, tmp_path):
    target = _copy(baseline, tmp_path)
    (target / "fit.json").unlink()
    with pytest.raises(ArtifactError, match="fit.json is missing"):
        Baseline.load(target)
    (target / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="manifest.json is missing"):
        Baseline.load(target)


def test_unknown_format_version_is_refused(baseline, tmp_path):
    target = _copy(baseline, tmp_path)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["format_version"] = 99
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="format version 99"):
        Baseline.load(target)


def test_not_a_directory(tmp_path):
    with pytest.raises(ArtifactError, match="baseline not found"):
        Baseline.load(tmp_path / "nope")


def test_save_refuses_to_overwrite(baseline, tmp_path):
    target = _copy(baseline, tmp_path)
    with pytest.raises(ArtifactError, match="already exists"):
        baseline.save(target)


def test_window_from_another_model_is_refused(baseline, healthy_window, embedder):
    from drift_tracking.comparison import compare

    alien = Baseline(calibrate=False).fit(
        baseline.prompts_.embeddings_,
        identity=ModelIdentity(name="other-model", dimension=384, weights_sha256="f" * 64),
        texts=baseline.texts_,
    )
    with pytest.raises(ModelMismatchError, match="other-model"):
        compare(alien, [s.prompt for s in healthy_window], embedder=embedder)


def test_too_few_texts(embedder):
    with pytest.raises(DataError, match="at least 50"):
        Baseline().fit_texts(["a question"] * 10, embedder=embedder)


def test_bad_cluster_count(embedder, baseline):
    with pytest.raises(ConfigError, match="n_clusters must be between 2 and"):
        Baseline(n_clusters=60).fit(baseline.prompts_.embeddings_[:100], identity=baseline.identity_)
