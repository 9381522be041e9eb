"""The baseline: a good period's embeddings plus what was fitted on them.

:class:`Baseline` is an estimator in scikit-learn's sense: hyper-parameters go to the
constructor, :meth:`Baseline.fit` learns and returns ``self``, and everything learned
ends in ``_`` (K-means centroids, cluster counts and labels, the novelty cut-off, a 2-D
PCA projection for plots, cluster keywords, the calibrated null distributions, the
good period's quality) and survives :meth:`Baseline.save` / :meth:`Baseline.load`.
``save`` writes safe formats only and a checksummed manifest; ``load`` verifies every
byte before trusting any of it. Nothing outside this module writes into fitted state.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drift_tracking import artifact
from drift_tracking.calibration import calibrate
from drift_tracking.embedding import Embedder, ModelIdentity, checked_embeddings
from drift_tracking.errors import ArtifactError, ConfigError, DataError
from drift_tracking.metrics import SidePair
from drift_tracking.statistics import assign_nearest

FORMAT_VERSION = 2  # 2: fitted labels and hyper-parameters are saved
KIND = "drift-baseline"
MIN_SAMPLES = 50
_MAX_FIT_SAMPLES = 20_000
_NOVELTY_QUANTILE = 0.99
_STOPWORDS = frozenset(
    """a an and are as at be but by can could do does for from has have how i if in is it its me my
    of on or our please so that the their them there this to was we what when where which who why
    will with would you your yours i'm i've it's can't don't hi hello thanks thank get got need want
    just any some also about into out up all not no""".split()
)


def default_n_clusters(n: int) -> int:
    """sqrt(n)/3 clusters, 4 to 50: ~15 for 2k samples, 33 for 10k, 50 from 22k on.

    Few enough that a window of a few hundred prompts still fills every cluster (JS on
    sparse shares is noise), many enough to separate a support bot's topics.
    """
    return int(np.clip(round(np.sqrt(n) / 3), 4, 50))


@dataclass
class Reference:
    """One side of a baseline (prompts or responses): its embeddings and their K-means summary.

    Built by :func:`fit_reference`; every field is fitted state and is saved.
    """

    embeddings_: np.ndarray
    centroids_: np.ndarray
    counts_: np.ndarray
    labels_: np.ndarray
    novelty_cutoff_: float
    projection_mean_: np.ndarray
    projection_components_: np.ndarray
    cluster_labels_: list[str] = field(default_factory=list)

    @property
    def n_clusters(self) -> int:
        return int(self.centroids_.shape[0])

    def project(self, x: np.ndarray) -> np.ndarray:
        """2-D coordinates on the baseline's first two principal components."""
        return ((x - self.projection_mean_) @ self.projection_components_.T).astype(np.float32)

    def assign(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return assign_nearest(x, self.centroids_)

    def pair(self, window: np.ndarray, *, seed: int = 0) -> SidePair:
        """This reference and ``window`` as the pair every metric is computed on."""
        return SidePair(self.embeddings_, window, self.centroids_, self.counts_, self.novelty_cutoff_, seed)

    # -- persistence ---------------------------------------------------------------
    def _save(self, directory: Path, prefix: str) -> dict[str, Any]:
        artifact.save_npy(directory / f"{prefix}_embeddings.npy", self.embeddings_)
        artifact.save_npy(directory / f"{prefix}_centroids.npy", self.centroids_)
        artifact.save_npy(directory / f"{prefix}_labels.npy", self.labels_.astype(np.int32))
        artifact.save_npy(directory / f"{prefix}_projection.npy", np.vstack([self.projection_mean_, self.projection_components_]))
        return {
            "n_clusters": self.n_clusters,
            "counts": self.counts_.tolist(),
            "novelty_cutoff": self.novelty_cutoff_,
            "cluster_labels": self.cluster_labels_,
        }

    @classmethod
    def _load(cls, directory: Path, prefix: str, meta: dict[str, Any]) -> "Reference":
        def npy(name: str) -> np.ndarray:
            return artifact.load_npy(directory / f"{prefix}_{name}.npy")

        projection = npy("projection").astype(np.float32, copy=False)
        return cls(
            embeddings_=npy("embeddings").astype(np.float32, copy=False),
            centroids_=npy("centroids").astype(np.float32, copy=False),
            counts_=np.asarray(meta["counts"], dtype=np.int64),
            labels_=npy("labels").astype(np.int64),
            novelty_cutoff_=float(meta["novelty_cutoff"]),
            projection_mean_=projection[0],
            projection_components_=projection[1:3],
            cluster_labels_=list(meta.get("cluster_labels", [])),
        )


def fit_reference(
    embeddings: np.ndarray, texts: Sequence[str] | None = None, *, n_clusters: int | None = None, seed: int = 0
) -> Reference:
    """K-means summary of one side: centroids, counts, labels, novelty cut-off, projection, keywords."""
    from sklearn.cluster import KMeans

    x = np.ascontiguousarray(embeddings, dtype=np.float32)
    n = x.shape[0]
    k = n_clusters or default_n_clusters(n)
    if not 2 <= k <= n // 5:
        raise ConfigError(f"n_clusters must be between 2 and n/5 = {n // 5} for {n} samples, got {k}")
    order = np.random.default_rng(seed).permutation(n)
    fit_idx = order[: min(n, _MAX_FIT_SAMPLES)]
    centroids = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(x[fit_idx]).cluster_centers_.astype(np.float32)
    labels, dist = assign_nearest(x, centroids)
    # The cut-off comes from points K-means did not see when there are any: distances of
    # fitted points are biased low, which would flag too many window points as novel.
    held_out = order[len(fit_idx) :]
    cut_dist = dist[held_out] if len(held_out) >= 500 else dist
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x[fit_idx[:5000]] - mean, full_matrices=False)
    return Reference(
        embeddings_=x,
        centroids_=centroids,
        counts_=np.bincount(labels, minlength=k).astype(np.int64),
        labels_=labels,
        novelty_cutoff_=float(np.quantile(cut_dist, _NOVELTY_QUANTILE)),
        projection_mean_=mean.astype(np.float32),
        projection_components_=vt[:2].astype(np.float32),
        cluster_labels_=describe_clusters(texts, labels, k) if texts is not None else [""] * k,
    )


def describe_clusters(texts: Sequence[str], labels: np.ndarray, k: int, top: int = 3) -> list[str]:
    """Label each cluster with the words most over-represented in it (p_k * log(p_k / p)).

    People read "refund order days" faster than "cluster 7"; the score favours words
    frequent in the cluster and rare elsewhere.
    """
    per_cluster = [Counter() for _ in range(k)]
    overall: Counter = Counter()
    for text, label in zip(texts, labels):
        words = [w for w in re.findall(r"[a-z][a-z']{2,}", text.lower()) if w not in _STOPWORDS]
        per_cluster[int(label)].update(words)
        overall.update(words)
    total = sum(overall.values()) or 1
    names = []
    for counts in per_cluster:
        size = sum(counts.values()) or 1
        scored = sorted(
            counts,
            key=lambda w: -(counts[w] / size) * np.log((counts[w] / size) / (overall[w] / total)),
        )
        names.append(" ".join(scored[:top]))
    return names


class Baseline:
    """A reference period: fit it on embeddings (or texts), save it, load it back verified.

    Parameters
    ----------
    n_clusters: K-means clusters per side [default: sqrt(n)/3, 4 to 50].
    window_size: prompts per production window to calibrate thresholds for
        [default: n/4, 100 to 1,000].
    seed: seeds K-means, the projection sample and the calibration draws.
    calibrate: measure each deciding metric's no-drift distribution (leave-chunk-out).

    Fitted attributes
    -----------------
    identity_: the embedding model the baseline pins.
    prompts_, responses_: :class:`Reference` of each side (``responses_`` is None without responses).
    texts_, response_texts_, ids_: the raw rows (example prompts in reports, feedback joins).
    calibration_: null distributions of each deciding metric per window size, or None.
    quality_: the good period's golden accuracy, mean reward and flag rate, when given.
    source_, created_at_: where the rows came from and when the baseline was fitted.

    ``path`` and ``manifest`` say where a saved baseline lives and what it holds, and
    ``uri`` how it was addressed (a registry URI, a run URI or the path); they are set by
    :meth:`save` / :meth:`load`, not learned.
    """

    def __init__(
        self, *, n_clusters: int | None = None, window_size: int | None = None, seed: int = 0, calibrate: bool = True
    ) -> None:
        self.n_clusters = n_clusters
        self.window_size = window_size
        self.seed = seed
        self.calibrate = calibrate
        self.path: Path | None = None
        self.manifest: dict[str, Any] | None = None
        self.uri: str | None = None

    def __len__(self) -> int:
        return int(self.prompts_.embeddings_.shape[0])

    def __repr__(self) -> str:
        if not hasattr(self, "prompts_"):
            return f"Baseline(n_clusters={self.n_clusters}, window_size={self.window_size}, seed={self.seed})"
        return (
            f"Baseline(n={len(self)}, clusters={self.prompts_.n_clusters}, model={self.identity_.name!r}, "
            f"responses={self.responses_ is not None}, version={self.version!r})"
        )

    @property
    def version(self) -> str | None:
        """The content hash of the saved artifact: changes whenever any byte does."""
        return self.manifest["content_sha256"][:12] if self.manifest else None

    # -- fitting -------------------------------------------------------------------
    def fit(
        self,
        prompt_embeddings: np.ndarray,
        response_embeddings: np.ndarray | None = None,
        *,
        identity: ModelIdentity,
        texts: Sequence[str] | None = None,
        response_texts: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        quality: dict[str, float] | None = None,
        source: str | None = None,
    ) -> "Baseline":
        """Learn the reference from precomputed embeddings; returns ``self``."""
        x = checked_embeddings(prompt_embeddings, identity.dimension, "prompt", holder="a baseline", minimum=MIN_SAMPLES)
        y = None if response_embeddings is None else checked_embeddings(
            response_embeddings, identity.dimension, "response", holder="a baseline", minimum=MIN_SAMPLES)
        if y is not None and len(y) != len(x):
            raise DataError(f"{len(y)} response embeddings for {len(x)} prompts: they must align")
        self.identity_ = identity
        self.prompts_ = fit_reference(x, texts, n_clusters=self.n_clusters, seed=self.seed)
        self.responses_ = None if y is None else fit_reference(y, response_texts, n_clusters=self.n_clusters, seed=self.seed)
        self.texts_ = list(texts) if texts is not None else []
        self.response_texts_ = list(response_texts) if response_texts is not None else None
        self.ids_ = [str(i) for i in ids] if ids is not None else None
        self.quality_ = dict(quality or {})
        self.source_ = source
        self.created_at_ = artifact.utc_now()
        self.calibration_ = calibrate(self.prompts_, self.window_size, seed=self.seed) if self.calibrate else None
        self.path = self.manifest = self.uri = None
        return self

    def fit_texts(
        self,
        texts: Sequence[str],
        responses: Sequence[str] | None = None,
        *,
        embedder: Embedder | None = None,
        ids: Sequence[str] | None = None,
        quality: dict[str, float] | None = None,
        source: str | None = None,
    ) -> "Baseline":
        """Embed ``texts`` (and ``responses``) with ``embedder`` [default: the bundled model], then fit."""
        texts = list(texts)
        if len(texts) < MIN_SAMPLES:
            raise DataError(
                f"a baseline needs at least {MIN_SAMPLES} texts, got {len(texts)}; "
                "10k-50k from a good period is the recommended size"
            )
        if responses is not None and len(responses) != len(texts):
            raise DataError(f"{len(responses)} responses for {len(texts)} prompts: they must align")
        embedder = embedder or Embedder()
        y = embedder.encode(list(responses)) if responses is not None else None
        return self.fit(embedder.encode(texts), y, identity=embedder.identity, texts=texts,
                        response_texts=responses, ids=ids, quality=quality, source=source)

    # -- persistence ---------------------------------------------------------------
    def save(self, directory: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the baseline to ``directory`` and return it; the manifest is written last."""
        root = Path(directory)
        check_output_dir(root, overwrite=overwrite)
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        sides = {"prompts": self.prompts_._save(root, "prompts")}
        if self.responses_ is not None:
            sides["responses"] = self.responses_._save(root, "responses")
        self._save_texts(root)
        artifact.write_json(root / "fit.json", {
            "params": {"n_clusters": self.n_clusters, "window_size": self.window_size, "seed": self.seed,
                       "calibrate": self.calibrate},
            "sides": sides, "calibration": self.calibration_, "quality": self.quality_,
        })
        self.manifest = artifact.write_manifest(root, kind=KIND, format_version=FORMAT_VERSION, metadata={
            "seed": self.seed, "source": self.source_, "created_at": self.created_at_,
            "model": self.identity_.to_dict(), "n_samples": len(self), "has_responses": self.responses_ is not None,
        })
        self.path, self.uri = root, str(root)
        return root

    def _save_texts(self, root: Path) -> None:
        import pandas as pd

        if not self.texts_:
            return
        table: dict[str, list[str]] = {"prompt": self.texts_}
        if self.response_texts_ is not None:
            table["response"] = self.response_texts_
        if self.ids_ is not None:
            table["id"] = self.ids_
        pd.DataFrame(table).to_parquet(root / "texts.parquet", index=False)

    @classmethod
    def load(cls, directory: str | os.PathLike[str], *, uri: str | None = None) -> "Baseline":
        """Load a saved baseline after verifying every file's checksum.

        ``uri`` records how it was addressed when that is not the directory itself (a
        registry or run URI whose download landed in ``directory``).
        """
        root = Path(directory)
        manifest = artifact.verify(root, kind=KIND, supported_versions={FORMAT_VERSION})
        try:
            fit = json.loads((root / "fit.json").read_text())
            params = fit.get("params") or {"seed": manifest.get("seed", 0)}
            baseline = cls(**params)
            baseline._restore(root, manifest, fit)
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"baseline {root} is malformed: {exc!r}") from exc
        baseline.path, baseline.manifest, baseline.uri = root, manifest, uri or str(root)
        return baseline

    def _restore(self, root: Path, manifest: dict[str, Any], fit: dict[str, Any]) -> None:
        import pandas as pd

        self.identity_ = ModelIdentity.from_dict(manifest["model"])
        self.prompts_ = Reference._load(root, "prompts", fit["sides"]["prompts"])
        responses = fit["sides"].get("responses")
        self.responses_ = Reference._load(root, "responses", responses) if responses is not None else None
        table = pd.read_parquet(root / "texts.parquet") if (root / "texts.parquet").exists() else None
        self.texts_ = table["prompt"].tolist() if table is not None else []
        self.response_texts_ = table["response"].tolist() if table is not None and "response" in table else None
        self.ids_ = table["id"].tolist() if table is not None and "id" in table else None
        self.calibration_ = fit.get("calibration")
        self.quality_ = dict(fit.get("quality") or {})
        self.source_, self.created_at_ = manifest.get("source"), manifest.get("created_at")

    def describe(self) -> dict[str, Any]:
        """What reports and tracking params say about the baseline."""
        return {
            "uri": self.uri,
            "version": self.version,
            "n_samples": len(self),
            "n_clusters": self.prompts_.n_clusters,
            "created_at": self.created_at_,
            "has_responses": self.responses_ is not None,
            "calibrated": bool(self.calibration_),
            "calibrated_window_size": (self.calibration_ or {}).get("window_size"),
            "quality": dict(self.quality_),
        }


def check_output_dir(root: Path, *, overwrite: bool) -> None:
    """Refuse to write over a non-empty directory unless told to; call it before any work."""
    if root.exists() and not root.is_dir():
        raise ArtifactError(f"{root} exists and is not a directory; choose another output directory")
    if root.exists() and any(root.iterdir()) and not overwrite:
        raise ArtifactError(f"{root} already exists and is not empty; choose another directory or overwrite it")
