"""Baselines in the MLflow Model Registry: register, address by alias, download verified.

A registered baseline is an MLflow pyfunc model in the ``loader_module`` flavour: the
baseline directory travels as the model's data (``data/baseline/``) and this module's
:func:`_load_pyfunc` turns it back into a scorer. Nothing is pickled: the model is the
checksummed baseline plus the name of this module. Loaded as a pyfunc, it scores texts
for their nearest baseline cluster and their novelty (distance to that cluster over
the baseline's own 99th-percentile distance).

Addresses that work: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION``,
``runs:/RUN_ID/baseline_model`` and the ``mlflow-artifacts:/...`` URI of either
directory. Each is pinned to what was registered: the registering run's params (which
MLflow never lets anyone change) hold the baseline's content hash and a short digest of
every file and manifest field; the version's ``drift.baseline_version`` tag repeats the
hash. A download is refused unless its recomputed content hash equals the param, and,
for a registered version, the tag equals the param too; the refusal names the files or
fields that differ from the registered copy.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drift_tracking import __version__, artifact
from drift_tracking.baseline import FORMAT_VERSION, KIND, Baseline
from drift_tracking.embedding import embedder_for_baseline
from drift_tracking.errors import ArtifactError, DataError
from drift_tracking.integrations.mlflow_logging import experiment_id, scoped_env
from drift_tracking.integrations.mlflow_sink import default_tracking_uri

MODEL_ARTIFACT_PATH = "baseline_model"
BASELINE_DATA_NAME = "baseline"
BASELINES_EXPERIMENT = "drift-tracking-baselines"
VERSION_TAG = "drift.baseline_version"
FINGERPRINT_TAG = "drift.embedding_fingerprint"
CONTENT_PARAM = "content_sha256"  # the registering run's params: immutable once logged
DIGESTS_PARAM = "manifest_digests"
_PARAM_MAX = 6000  # MLflow's limit on a param value
_MANIFEST = "manifest.json"
_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))(?:/.*)?$")
_RUNS_URI = re.compile(r"^runs:/(?P<run>[0-9a-f]{32})(?:/.*)?$")
_RUN_IN_PATH = re.compile(r"/(?P<run>[0-9a-f]{32})/artifacts(?:/|$)")
_TEXT_COLUMNS = ("prompt", "inputs", "text", "input")


@dataclass(frozen=True)
class RegisteredBaseline:
    """Where a registered baseline can be found again."""

    name: str
    version: int
    uri: str  # models:/NAME@ALIAS (first alias) or models:/NAME/VERSION
    run_id: str
    source: str  # the run's artifact URI of the model directory
    aliases: tuple[str, ...] = ()

    @property
    def version_uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class RegistrationPin:
    """What a baseline URI must hold: the content hash recorded when it was registered."""

    content_sha256: str
    source: str  # the artifact URI to download
    where: str  # the URI the user gave, for messages
    registry_version: str | None = None  # models:/NAME/VERSION when the URI went through the registry
    digests: dict[str, Any] = field(default_factory=dict)  # short per-file / per-field digests, when kept


def register_baseline(
    path: str | os.PathLike[str],
    name: str,
    aliases: tuple[str, ...] | list[str] = (),
    tracking_uri: str | None = None,
    *,
    experiment_name: str = BASELINES_EXPERIMENT,
    description: str | None = None,
) -> RegisteredBaseline:
    """Log the baseline at ``path`` to a run and register it as a new version of ``name``.

    The baseline is verified first (a corrupt one is refused before anything is
    uploaded); each alias (``production``, ``champion`` ...) is moved to the new version.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if not name or "/" in name or "@" in name:
        raise DataError(f"invalid registered model name {name!r}: use letters, digits, '-', '_' or '.'")
    baseline = Baseline.load(path)
    assert baseline.manifest is not None
    uri = tracking_uri or default_tracking_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    identity = baseline.identity_.to_dict()
    tags = {
        VERSION_TAG: baseline.manifest["content_sha256"],
        FINGERPRINT_TAG: identity["fingerprint"],
        "drift.embedding_model": identity["name"],
        "drift.n_samples": str(len(baseline)),
        "drift.kind": "baseline",
    }
    with tempfile.TemporaryDirectory(prefix="drift-register-") as tmp:
        model_dir = _save_pyfunc(Path(path), Path(tmp))
        run = client.create_run(experiment_id(client, experiment_name), run_name=f"baseline {name} {baseline.version}", tags=tags)
        run_id = run.info.run_id
        client.log_batch(run_id, params=_params(baseline))
        client.log_artifacts(run_id, str(model_dir), MODEL_ARTIFACT_PATH)
        client.set_terminated(run_id)
    try:
        client.create_registered_model(name, description=description or "drift-tracking baseline")
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    source = f"{run.info.artifact_uri.rstrip('/')}/{MODEL_ARTIFACT_PATH}"
    version = client.create_model_version(name, source, run_id=run_id, tags=tags,
                                          description=f"baseline {baseline.version}, {len(baseline)} samples")
    for alias in aliases:
        client.set_registered_model_alias(name, alias, version.version)
    first = f"models:/{name}@{aliases[0]}" if aliases else f"models:/{name}/{version.version}"
    return RegisteredBaseline(name, int(version.version), first, run_id, source, tuple(aliases))


def download_baseline(
    uri: str, tracking_uri: str | None = None, *, dst: str | os.PathLike[str] | None = None
) -> Path:
    """Download the baseline ``uri`` points to, verified against its registration; return its directory."""
    return fetch_baseline(uri, tracking_uri, dst=dst)[0]


def fetch_baseline(
    uri: str, tracking_uri: str | None = None, *, dst: str | os.PathLike[str] | None = None
) -> tuple[Path, RegistrationPin]:
    """Download ``uri`` and refuse it unless it is byte for byte what was registered.

    Every file and manifest field is checked (``artifact.verify``), then the recomputed
    content hash is compared with the registering run's immutable param
    (:func:`registered_pin`), so an edit in the artifact store is refused even when the
    manifest's own checksums were updated to match it.
    """
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    tracking = tracking_uri or default_tracking_uri()
    pin = registered_pin(uri, tracking)
    target = Path(dst) if dst is not None else Path(tempfile.mkdtemp(prefix="drift-baseline-"))
    target.mkdir(parents=True, exist_ok=True)
    try:
        with scoped_env({"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}):
            local = Path(download_artifacts(artifact_uri=pin.source, dst_path=str(target), tracking_uri=tracking))
    except MlflowException as exc:
        raise ArtifactError(
            f"cannot download baseline {uri} from {tracking}: {exc.message.splitlines()[0]}. "
            "Check the name, alias or run id (and --tracking-uri / MLFLOW_TRACKING_URI)"
        ) from exc
    directory = find_baseline_dir(local)
    artifact.verify(directory, kind=KIND, supported_versions={FORMAT_VERSION},
                    pin=artifact.Pin(pin.content_sha256, pin.digests, uri))
    return directory, pin


def registered_pin(uri: str, tracking_uri: str | None = None, *, client: Any = None) -> RegistrationPin:
    """The content hash ``uri`` was registered with, read from the registering run's params.

    ``models:/`` URIs go through the registry (the version's tag must agree with the
    param, and its source must be the registering run's); ``runs:/`` and
    ``mlflow-artifacts:/`` URIs name the run directly. A run that registered no baseline
    pins nothing and is refused.
    """
    from mlflow import MlflowClient


    if client is None:
        tracking = tracking_uri or default_tracking_uri()
        client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    if uri.startswith("models:/"):
        version = _model_version(uri, client)
        registry = f"models:/{version.name}/{version.version}"
        pin = _run_pin(client, version.run_id, uri, version.source, registry)
        _check_version(version, pin, registry)
        return pin
    match = _RUNS_URI.match(uri) or (_RUN_IN_PATH.search(uri) if uri.startswith("mlflow-artifacts:") else None)
    if match is None:
        raise ArtifactError(
            f"cannot tell which run registered baseline {uri}, so nothing pins its content: use models:/NAME@ALIAS, "
            f"runs:/RUN_ID/{MODEL_ARTIFACT_PATH} or mlflow-artifacts:/EXPERIMENT/RUN_ID/artifacts/..., "
            "or a local directory"
        )
    return _run_pin(client, match["run"], uri, uri, None)


def _run_pin(client: Any, run_id: str | None, uri: str, source: str, registry: str | None) -> RegistrationPin:
    import json

    from mlflow.exceptions import MlflowException

    try:
        params = client.get_run(run_id).data.params if run_id else {}
    except MlflowException as exc:
        raise ArtifactError(f"baseline {uri}: its registering run {run_id} cannot be read ({exc.message.splitlines()[0]})") from exc
    expected = params.get(CONTENT_PARAM)
    if not expected:
        raise ArtifactError(
            f"baseline {uri} has no content hash recorded at registration (run {run_id} has no {CONTENT_PARAM!r} "
            "param), so it cannot be verified: register it with `drift-tracking baseline build ... --register NAME` "
            "(or register_baseline) and use the URI it prints"
        )
    try:
        digests = json.loads(params.get(DIGESTS_PARAM) or "{}")
    except json.JSONDecodeError:
        digests = {}
    return RegistrationPin(expected, source, uri, registry, digests if isinstance(digests, dict) else {})


def _check_version(version: Any, pin: RegistrationPin, registry: str) -> None:
    """A version's tag must repeat its run's pinned hash, and its files must be that run's."""
    tag = (version.tags or {}).get(VERSION_TAG)
    if tag != pin.content_sha256:
        raise ArtifactError(
            f"baseline {pin.where} ({registry}) was changed after registration: its {VERSION_TAG} tag is "
            f"{str(tag)[:12]} but the registering run {version.run_id} recorded {pin.content_sha256[:12]}. "
            "Restore the tag or re-register the baseline"
        )
    found = _RUN_IN_PATH.search(version.source or "") or _RUNS_URI.match(version.source or "")
    if found is None or found["run"] != version.run_id:
        raise ArtifactError(
            f"baseline {pin.where} ({registry}) points at {version.source}, not at the artifacts of its registering "
            f"run {version.run_id}: re-register the baseline"
        )


def find_baseline_dir(local: Path) -> Path:
    """The baseline inside a download: the directory itself, a model's ``data/baseline``, or one level down."""
    if (local / _MANIFEST).is_file():
        return local
    for candidate in (local / "data" / BASELINE_DATA_NAME, local / MODEL_ARTIFACT_PATH / "data" / BASELINE_DATA_NAME):
        if (candidate / _MANIFEST).is_file():
            return candidate
    found = sorted(p.parent for p in local.rglob(_MANIFEST))
    if len(found) == 1:
        return found[0]
    raise ArtifactError(
        f"no drift baseline found in {local} ({len(found)} manifests): point the URI at a baseline directory "
        f"or at a registered baseline model (models:/NAME@ALIAS, runs:/RUN_ID/{MODEL_ARTIFACT_PATH})"
    )


# -- the pyfunc flavour ----------------------------------------------------------------
class BaselineScorer:
    """What ``mlflow.pyfunc.load_model`` returns for a registered baseline (wrapped by MLflow).

    ``predict`` takes texts (a DataFrame with a ``prompt``/``inputs``/``text`` column or
    one column, a Series, or a list of strings) and returns one row per text: nearest
    baseline ``cluster``, its ``cluster_label``, ``distance`` to it, ``novelty``
    (distance over the baseline's 99th-percentile distance; above 1 is unusual) and
    ``is_novel``.
    """

    def __init__(self, baseline: Any, embedder: Any = None) -> None:
        self.baseline = baseline
        self._embedder = embedder

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            self._embedder = embedder_for_baseline(self.baseline.identity_)
        return self._embedder

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        texts = _texts(model_input)
        self.embedder.identity.check_compatible(self.baseline.identity_, "baseline")
        reference = self.baseline.prompts_
        labels, distances = reference.assign(self.embedder.encode(texts))
        cutoff = reference.novelty_cutoff_
        names = reference.cluster_labels_ or [""] * reference.n_clusters
        return pd.DataFrame({
            "cluster": labels.astype(int),
            "cluster_label": [names[i] for i in labels],
            "distance": distances.astype(float),
            "novelty": (distances / cutoff).astype(float) if cutoff > 0 else distances.astype(float),
            "is_novel": distances > cutoff,
        })


def _load_pyfunc(data_path: str) -> BaselineScorer:
    """MLflow's ``loader_module`` hook: ``data_path`` is the model's ``data/baseline``."""
    return BaselineScorer(Baseline.load(find_baseline_dir(Path(data_path))))


def _texts(model_input: Any) -> list[str]:
    import pandas as pd

    if isinstance(model_input, pd.DataFrame):
        column = next((c for c in _TEXT_COLUMNS if c in model_input.columns), None)
        if column is None and model_input.shape[1] == 1:
            column = model_input.columns[0]
        if column is None:
            raise DataError(
                f"cannot tell which column holds the texts among {list(model_input.columns)}; "
                f"name it one of {', '.join(_TEXT_COLUMNS)}"
            )
        return model_input[column].tolist()
    if isinstance(model_input, pd.Series):
        return model_input.tolist()
    if isinstance(model_input, str):
        return [model_input]
    return list(model_input)


def _save_pyfunc(baseline_dir: Path, tmp: Path) -> Path:
    import mlflow.pyfunc


    data = tmp / "data-src" / BASELINE_DATA_NAME
    shutil.copytree(baseline_dir, data)
    model_dir = tmp / MODEL_ARTIFACT_PATH
    mlflow.pyfunc.save_model(
        path=str(model_dir),
        loader_module=__name__,
        data_path=str(data),
        pip_requirements=[f"drift-tracking=={__version__}"],
    )
    return model_dir


def _params(baseline: Any) -> list[Any]:
    """The run's params: facts people read, plus the pin every later download is checked against."""
    import json

    from mlflow.entities import Param

    identity = baseline.identity_.to_dict()
    values = {
        "baseline_version": baseline.version,
        "n_samples": len(baseline),
        "n_clusters": baseline.prompts_.n_clusters,
        "has_responses": baseline.responses_ is not None,
        "embedding_model": identity["name"],
        "embedding_fingerprint": identity["fingerprint"],
        "embedding_dimension": identity["dimension"],
        CONTENT_PARAM: baseline.manifest["content_sha256"],
    }
    digests = json.dumps(artifact.digests(baseline.manifest), separators=(",", ":"), sort_keys=True)
    if len(digests) <= _PARAM_MAX:  # else only the hash is pinned: a refusal cannot name the file
        values[DIGESTS_PARAM] = digests
    return [Param(k, str(v)) for k, v in values.items()]


def _model_version(uri: str, client: Any) -> Any:
    """The registry's ModelVersion behind a ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` URI.

    Resolved here, not by MLflow's models:/ repository, which reads the global registry URI.
    """
    from mlflow.exceptions import MlflowException

    match = _MODELS_URI.match(uri)
    if match is None:
        raise ArtifactError(f"malformed model URI {uri!r}: use models:/NAME@ALIAS or models:/NAME/VERSION")
    try:
        if match["alias"]:
            version = client.get_model_version_by_alias(match["name"], match["alias"])
        else:
            version = client.get_model_version(match["name"], match["version"])
    except MlflowException as exc:
        raise ArtifactError(
            f"baseline {uri} is not in the registry at {client.tracking_uri}: {exc.message.splitlines()[0]}. "
            "Register one with `drift-tracking baseline build ... --register NAME --alias ALIAS`"
        ) from exc
    return version
