"""Attacks on baselines: edited files or manifest fields, locally and in the MLflow artifact store.

Issue 11, findings 2 and 3: a registered baseline edited in the artifact store (with its
per-file checksums updated) loaded unnoticed, ``runs:/`` and ``mlflow-artifacts:/`` URIs
pinned nothing, and the manifest's ``model.name`` chose which model was downloaded.
Every edit here must be refused with the file or field named; the registered copies are
restored after each test, and the session baseline is never touched (each local test
edits a copy).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import random
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from drift_tracking import artifact
from drift_tracking import demo as samples
from drift_tracking.baseline import Baseline
from drift_tracking.cli import main
from drift_tracking.errors import ArtifactError

FILES = (
    "fit.json", "texts.parquet", "prompts_embeddings.npy", "prompts_centroids.npy", "prompts_projection.npy",
    "prompts_labels.npy", "prompts_knn_index.npy", "prompts_knn_scores.npy", "responses_embeddings.npy",
    "responses_centroids.npy", "responses_projection.npy", "responses_labels.npy", "responses_knn_index.npy",
    "responses_knn_scores.npy",
)
FIELDS = (
    "kind", "format_version", "integrity", "created_at", "seed", "source", "n_samples", "has_responses",
    "model.name", "model.dimension", "model.weights_sha256", "model.backend", "model.normalized",
    "model.max_seq_length", "model.precision", "model.source", "model.fingerprint", "model.probe",
)
# what a refusal says for fields checked before the seal; every other field is named as such
_FIELD_MESSAGES = {"kind": "manifest field kind", "format_version": "format version", "integrity": "integrity"}


# -- edits, as an attacker would make them ------------------------------------------------
def flip_byte(path: Path, offset: float = 0.5) -> None:
    """XOR one byte (at ``offset`` of the file's length) with 0x01."""
    data = bytearray(path.read_bytes())
    data[int(len(data) * offset)] ^= 0x01
    path.write_bytes(bytes(data))


def _manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def update_table(root: Path, name: str) -> None:
    """Make the manifest's file table agree with an edited file (what the attack in the issue did)."""
    manifest = _manifest(root)
    manifest["files"][name] = {"sha256": artifact.sha256_file(root / name), "bytes": (root / name).stat().st_size}
    artifact.write_json(root / "manifest.json", manifest)


def reseal(root: Path) -> None:
    """Recompute every checksum, digest and the content hash: a consistent, different baseline."""
    manifest = _manifest(root)
    for name in manifest["files"]:
        manifest["files"][name] = {"sha256": artifact.sha256_file(root / name), "bytes": (root / name).stat().st_size}
    artifact.write_json(root / "manifest.json", artifact.seal(manifest))


def edit_field(root: Path, dotted: str, then: Callable[[Path], None] | None = None) -> None:
    """Change one manifest field to another value of its type."""
    manifest = _manifest(root)
    *parents, last = dotted.split(".")
    holder = manifest
    for part in parents:
        holder = holder[part]
    value = holder[last]
    holder[last] = (not value if isinstance(value, bool) else value + 1 if isinstance(value, (int, float))
                    else value + "x" if isinstance(value, str) else "x")
    artifact.write_json(root / "manifest.json", manifest)
    if then is not None:
        then(root)


@pytest.fixture()
def copy(baseline, tmp_path) -> Path:
    target = tmp_path / "baseline"
    shutil.copytree(baseline.path, target)
    return target


# -- local directories ---------------------------------------------------------------------
def test_the_lists_cover_every_file_and_field(baseline):
    manifest = _manifest(baseline.path)
    assert set(manifest["files"]) == set(FILES)
    assert set(artifact.field_digests(manifest)) == set(FIELDS) | {f"files/{name}" for name in FILES}


@pytest.mark.parametrize("attack", ["byte", "byte and table"])
@pytest.mark.parametrize("name", FILES)
def test_an_edited_file_is_refused_naming_it(copy, name, attack):
    flip_byte(copy / name)
    if attack == "byte and table":
        update_table(copy, name)
    expected = (f"{name} does not match its sha256" if attack == "byte"
                else f"the manifest.json entry of {name} was edited after saving")
    with pytest.raises(ArtifactError, match=expected):
        Baseline.load(copy)


@pytest.mark.parametrize("field", FIELDS)
def test_an_edited_manifest_field_is_refused_naming_it(copy, field):
    edit_field(copy, field)
    expected = _FIELD_MESSAGES.get(field, f"manifest field {field} was edited after saving")
    with pytest.raises(ArtifactError, match=expected):
        Baseline.load(copy)


def test_byte_flips_anywhere_in_the_manifest_are_refused(copy):
    original = (copy / "manifest.json").read_bytes()
    for offset in sorted(random.Random(11).sample(range(len(original)), 60)):
        data = bytearray(original)
        data[offset] ^= 0x01
        (copy / "manifest.json").write_bytes(bytes(data))
        with pytest.raises(ArtifactError, match=r"manifest|kind|format version|integrity|does not match|is missing"):
            Baseline.load(copy)


def test_an_added_file_is_refused_naming_it(copy):
    np.save(copy / "extra.npy", np.zeros(3), allow_pickle=False)
    with pytest.raises(ArtifactError, match="extra.npy is not in manifest.json"):
        Baseline.load(copy)


def test_a_manifest_without_its_seal_is_refused(copy):
    manifest = _manifest(copy)
    for key in ("integrity", "fields_sha256"):
        manifest.pop(key)
    artifact.write_json(copy / "manifest.json", manifest)
    with pytest.raises(ArtifactError, match="no sealed manifest.*Rebuild"):
        Baseline.load(copy)


def test_check_refuses_an_edited_local_baseline_in_one_line(copy, healthy_window, tmp_path):
    edit_field(copy, "n_samples")
    window = samples.write(healthy_window[:60], tmp_path / "window.jsonl")
    result = CliRunner().invoke(main, ["check", str(window), "--baseline", str(copy)])
    assert result.exit_code == 2
    assert "manifest field n_samples was edited after saving" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


# -- the MLflow artifact store ------------------------------------------------------------
@pytest.fixture(scope="module")
def registered(mlflow_server, baseline):
    from drift_tracking.integrations.mlflow_registry import register_baseline

    return register_baseline(baseline.path, "faults-store-baseline", aliases=["production"],
                             tracking_uri=mlflow_server)


@pytest.fixture(scope="module")
def client(mlflow_client):
    return mlflow_client


@pytest.fixture()
def store(registered, client, session_tmp, tmp_path) -> Iterator[Path]:
    """The registered baseline's directory in the server's artifact store, restored after the test."""
    artifact_uri = client.get_run(registered.run_id).info.artifact_uri
    root = session_tmp / "mlflow-server" / "artifacts" / artifact_uri.removeprefix("mlflow-artifacts:/")
    directory = root / "baseline_model" / "data" / "baseline"
    assert (directory / "manifest.json").is_file(), directory
    saved = tmp_path / "saved"
    shutil.copytree(directory, saved)
    yield directory
    shutil.rmtree(directory)
    shutil.copytree(saved, directory)


def _load(uri, mlflow_server, tmp_path):
    from drift_tracking.integrations import load_baseline

    with _chdir(tmp_path):
        return load_baseline(uri, tracking_uri=mlflow_server)


@contextlib.contextmanager
def _chdir(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def test_the_registered_baseline_loads_from_every_uri(registered, client, mlflow_server, baseline, tmp_path):
    artifact_uri = client.get_run(registered.run_id).info.artifact_uri
    for uri in (registered.uri, registered.version_uri, f"runs:/{registered.run_id}/baseline_model",
                f"{artifact_uri}/baseline_model"):
        loaded = _load(uri, mlflow_server, tmp_path)
        assert loaded.manifest["content_sha256"] == baseline.manifest["content_sha256"], uri
    assert _load(registered.uri, mlflow_server, tmp_path).registry_version == registered.version_uri


@pytest.mark.parametrize("name", FILES)
def test_a_file_edited_in_the_store_is_refused_naming_it(store, registered, mlflow_server, tmp_path, name):
    flip_byte(store / name)
    update_table(store, name)  # the attack in the issue: the per-file checksum updated to match
    with pytest.raises(ArtifactError, match=f"{name} was edited after registration"):
        _load(registered.uri, mlflow_server, tmp_path)


@pytest.mark.parametrize("field", [f for f in FIELDS if f not in _FIELD_MESSAGES])
def test_a_field_edited_in_the_store_is_refused_naming_it(store, registered, mlflow_server, tmp_path, field):
    edit_field(store, field, then=reseal)  # every checksum and the content hash recomputed
    with pytest.raises(ArtifactError, match=f"manifest field {field} was edited after registration"):
        _load(registered.uri, mlflow_server, tmp_path)


@pytest.mark.parametrize("form", ["runs", "mlflow-artifacts", "version"])
def test_every_uri_form_is_checked_against_the_registration(store, registered, client, mlflow_server, tmp_path,
                                                            form):
    artifact_uri = client.get_run(registered.run_id).info.artifact_uri
    uri = {"runs": f"runs:/{registered.run_id}/baseline_model", "mlflow-artifacts": f"{artifact_uri}/baseline_model",
           "version": registered.version_uri}[form]
    flip_byte(store / "prompts_embeddings.npy")
    reseal(store)
    with pytest.raises(ArtifactError, match="prompts_embeddings.npy was edited after registration"):
        _load(uri, mlflow_server, tmp_path)


def test_a_version_tag_edited_to_match_edited_files_is_refused(store, registered, client, mlflow_server, tmp_path):
    flip_byte(store / "fit.json")
    reseal(store)
    version = str(registered.version)
    original = client.get_model_version(registered.name, version).tags["drift.baseline_version"]
    client.set_model_version_tag(registered.name, version, "drift.baseline_version", _manifest(store)["content_sha256"])
    try:
        with pytest.raises(ArtifactError, match="tag is .* but the registering run .* recorded"):
            _load(registered.uri, mlflow_server, tmp_path)
    finally:
        client.set_model_version_tag(registered.name, version, "drift.baseline_version", original)


def test_a_run_that_registered_nothing_pins_nothing(client, mlflow_server, baseline, tmp_path):
    run = client.create_run(client.create_experiment("faults-unregistered"))
    client.log_artifacts(run.info.run_id, str(baseline.path), "baseline")
    with pytest.raises(ArtifactError, match="no content hash recorded at registration"):
        _load(f"runs:/{run.info.run_id}/baseline", mlflow_server, tmp_path)


def test_check_refuses_a_baseline_edited_in_the_store(store, registered, mlflow_server, healthy_window, tmp_path):
    flip_byte(store / "prompts_embeddings.npy")
    update_table(store, "prompts_embeddings.npy")
    window = samples.write(healthy_window[:60], tmp_path / "window.jsonl")
    result = CliRunner().invoke(main, ["check", str(window), "--baseline", registered.uri,
                                       "--tracking-uri", mlflow_server])
    assert result.exit_code == 2, result.output
    assert "prompts_embeddings.npy was edited after registration" in result.output
    assert "Traceback" not in result.output


# -- the manifest does not choose the embedding model ---------------------------------------
class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.requests.append(self.path)
        self.send_error(404)

    do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        pass


def test_an_edited_model_name_downloads_nothing(copy, healthy_window, tmp_path):
    """A resealed manifest naming another model (so only the model choice is tested) reaches no Hub."""
    manifest = _manifest(copy)
    manifest["model"]["name"] = "attacker/evil-model"
    artifact.write_json(copy / "manifest.json", artifact.seal(manifest))
    window = samples.write(healthy_window[:60], tmp_path / "window.jsonl")
    hub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf"),
           "HF_ENDPOINT": f"http://127.0.0.1:{hub.server_address[1]}"}
    try:
        proc = subprocess.run([str(Path(sys.executable).parent / "drift-tracking"), "check", str(window),
                               "--baseline", str(copy)], env=env, capture_output=True, text=True, timeout=600)
    finally:
        hub.shutdown()
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "attacker/evil-model" in proc.stderr and "allowed_models" in proc.stderr and "--model" in proc.stderr
    assert _Recorder.requests == []
