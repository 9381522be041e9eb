"""The baseline: a good period's embeddings plus what was fitted on them.

Fitted state follows scikit-learn's convention (names ending in ``_``): K-means
centroids, reference cluster counts, the novelty cut-off on nearest-centroid distance,
a 2-D PCA projection for plots, cluster labels, and (when calibrated) the null
distribution of every metric. ``save`` writes safe formats only and a checksummed
manifest; ``load`` verifies every byte before trusting any of it.
"""

from __future__ import annotations

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
from drift_tracking.embedding import Embedder, ModelIdentity
from drift_tracking.errors import ArtifactError, DataError
from drift_tracking.statistics import assign_nearest

FORMAT_VERSION = 1
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
    """One side of a baseline (prompts or responses): embeddings and their K-means summary."""

    embeddings: np.ndarray
    centroids_: np.ndarray
    counts_: np.ndarray
    novelty_cutoff_: float
    projection_mean_: np.ndarray
    projection_components_: np.ndarray
    cluster_labels_: list[str] = field(default_factory=list)
    labels_: np.ndarray | None = None

    @property
    def n_clusters(self) -> int:
        return int(self.centroids_.shape[0])

    @property
    def shares_(self) -> np.ndarray:
        return self.counts_ / self.counts_.sum()

    def project(self, x: np.ndarray) -> np.ndarray:
        """2-D coordinates on the baseline's first two principal components."""
        return ((x - self.projection_mean_) @ self.projection_components_.T).astype(np.float32)

    def assign(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return assign_nearest(x, self.centroids_)

    @classmethod
    def fit(
        cls,
        embeddings: np.ndarray,
        texts: Sequence[str] | None = None,
        *,
        n_clusters: int | None = None,
        seed: int = 0,
    ) -> "Reference":
        from sklearn.cluster import KMeans

        x = np.ascontiguousarray(embeddings, dtype=np.float32)
        n = x.shape[0]
        k = n_clusters or default_n_clusters(n)
        if not 2 <= k <= n // 5:
            raise DataError(f"--clusters must be between 2 and n/5 = {n // 5} for {n} samples, got {k}")
        rng = np.random.default_rng(seed)
        order = rng.permutation(n)
        fit_idx = order[: min(n, _MAX_FIT_SAMPLES)]
        km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(x[fit_idx])
        centroids = km.cluster_centers_.astype(np.float32)
        labels, dist = assign_nearest(x, centroids)
        # The cut-off comes from points K-means did not see when there are any: distances of
        # fitted points are biased low, which would flag too many window points as novel.
        held_out = order[len(fit_idx) :]
        cut_dist = dist[held_out] if len(held_out) >= 500 else dist
        mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x[fit_idx[:5000]] - mean, full_matrices=False)
        return cls(
            embeddings=x,
            centroids_=centroids,
            counts_=np.bincount(labels, minlength=k).astype(np.int64),
            novelty_cutoff_=float(np.quantile(cut_dist, _NOVELTY_QUANTILE)),
            projection_mean_=mean.astype(np.float32),
            projection_components_=vt[:2].astype(np.float32),
            cluster_labels_=describe_clusters(texts, labels, k) if texts is not None else [""] * k,
            labels_=labels,
        )

    # -- persistence ---------------------------------------------------------------
    def _save(self, directory: Path, prefix: str) -> dict[str, Any]:
        artifact.save_npy(directory / f"{prefix}_embeddings.npy", self.embeddings)
        artifact.save_npy(directory / f"{prefix}_centroids.npy", self.centroids_)
        artifact.save_npy(directory / f"{prefix}_projection.npy", np.vstack([self.projection_mean_, self.projection_components_]))
        return {
            "n_clusters": self.n_clusters,
            "counts": self.counts_.tolist(),
            "novelty_cutoff": self.novelty_cutoff_,
            "cluster_labels": self.cluster_labels_,
        }

    @classmethod
    def _load(cls, directory: Path, prefix: str, meta: dict[str, Any]) -> "Reference":
        embeddings = artifact.load_npy(directory / f"{prefix}_embeddings.npy").astype(np.float32, copy=False)
        centroids = artifact.load_npy(directory / f"{prefix}_centroids.npy").astype(np.float32, copy=False)
        projection = artifact.load_npy(directory / f"{prefix}_projection.npy").astype(np.float32, copy=False)
        return cls(
            embeddings=embeddings,
            centroids_=centroids,
            counts_=np.asarray(meta["counts"], dtype=np.int64),
            novelty_cutoff_=float(meta["novelty_cutoff"]),
            projection_mean_=projection[0],
            projection_components_=projection[1:3],
            cluster_labels_=list(meta.get("cluster_labels", [])),
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
    """A reference period: build it from texts, save it, load it back verified.

    Attributes
    ----------
    identity: the embedding model the baseline pins.
    prompts: the prompts' :class:`Reference`.
    responses: the responses' :class:`Reference`, when responses were given.
    texts, response_texts, ids: the raw texts (kept for example prompts in reports).
    calibration_: null distributions of each metric per window size, when calibrated.
    quality_: the good period's golden accuracy, mean reward and flag rate, when known.
    """

    def __init__(
        self,
        identity: ModelIdentity,
        prompts: Reference,
        *,
        responses: Reference | None = None,
        texts: Sequence[str] = (),
        response_texts: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
        calibration: dict[str, Any] | None = None,
        quality: dict[str, float] | None = None,
    ) -> None:
        self.identity = identity
        self.prompts = prompts
        self.responses = responses
        self.texts = list(texts)
        self.response_texts = list(response_texts) if response_texts is not None else None
        self.ids = list(ids) if ids is not None else None
        self.metadata = dict(metadata or {})
        self.calibration_ = calibration
        self.quality_ = dict(quality or {})
        self.path: Path | None = None
        self.manifest: dict[str, Any] | None = None

    def __len__(self) -> int:
        return int(self.prompts.embeddings.shape[0])

    def __repr__(self) -> str:
        return (
            f"Baseline(n={len(self)}, clusters={self.prompts.n_clusters}, model={self.identity.name!r}, "
            f"responses={self.responses is not None}, version={self.version!r})"
        )

    @property
    def version(self) -> str | None:
        """The content hash of the saved artifact: changes whenever any byte does."""
        return self.manifest["content_sha256"][:12] if self.manifest else None

    # -- building ------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        *,
        responses: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        embedder: Embedder | None = None,
        n_clusters: int | None = None,
        seed: int = 0,
        source: str | None = None,
        window_size: int | None = None,
        calibrate: bool = True,
    ) -> "Baseline":
        """Embed ``texts`` (and ``responses``) and fit the baseline on them.

        ``calibrate`` measures each metric's no-drift distribution for windows of
        ``window_size`` prompts (default: a quarter of the baseline, 100 to 1,000), which
        is what calibrated thresholds come from (:mod:`drift_tracking.calibration`).
        """
        texts = list(texts)
        if len(texts) < MIN_SAMPLES:
            raise DataError(
                f"a baseline needs at least {MIN_SAMPLES} texts, got {len(texts)}; "
                "10k-50k from a good period is the recommended size"
            )
        if responses is not None and len(responses) != len(texts):
            raise DataError(f"{len(responses)} responses for {len(texts)} prompts: they must align")
        embedder = embedder or Embedder()
        prompt_emb = embedder.encode(texts)
        response_emb = embedder.encode(list(responses)) if responses is not None else None
        return cls.fit(
            prompt_emb,
            texts,
            identity=embedder.identity,
            response_embeddings=response_emb,
            response_texts=responses,
            ids=ids,
            n_clusters=n_clusters,
            seed=seed,
            source=source,
            window_size=window_size,
            calibrate=calibrate,
        )

    @classmethod
    def fit(
        cls,
        embeddings: np.ndarray,
        texts: Sequence[str] | None = None,
        *,
        identity: ModelIdentity,
        response_embeddings: np.ndarray | None = None,
        response_texts: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        n_clusters: int | None = None,
        seed: int = 0,
        source: str | None = None,
        window_size: int | None = None,
        calibrate: bool = True,
    ) -> "Baseline":
        """Fit on precomputed embeddings (what ``build`` does after embedding)."""
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape[1] != identity.dimension:
            raise DataError(f"embeddings must be (n, {identity.dimension}), got {embeddings.shape}")
        if embeddings.shape[0] < MIN_SAMPLES:
            raise DataError(f"a baseline needs at least {MIN_SAMPLES} samples, got {embeddings.shape[0]}")
        if not np.isfinite(embeddings).all():
            raise DataError("embeddings contain NaN or infinite values")
        prompts = Reference.fit(embeddings, texts, n_clusters=n_clusters, seed=seed)
        responses = None
        if response_embeddings is not None:
            responses = Reference.fit(response_embeddings, response_texts, n_clusters=n_clusters, seed=seed)
        metadata = {"seed": seed, "source": source, "created_at": artifact.utc_now()}
        fitted = cls(
            identity,
            prompts,
            responses=responses,
            texts=texts if texts is not None else [],
            response_texts=response_texts,
            ids=ids,
            metadata=metadata,
        )
        if calibrate:
            from drift_tracking.calibration import calibrate as calibrate_baseline

            calibrate_baseline(fitted, window_size, seed=seed)
        return fitted

    # -- persistence ---------------------------------------------------------------
    def save(self, directory: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the baseline to ``directory`` and return it; the manifest is written last."""
        import pandas as pd

        root = Path(directory)
        if root.exists() and any(root.iterdir()):
            if not overwrite:
                raise ArtifactError(f"{root} already exists and is not empty; pass overwrite=True (--force)")
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)
        sides = {"prompts": self.prompts._save(root, "prompts")}
        if self.responses is not None:
            sides["responses"] = self.responses._save(root, "responses")
        table = {"prompt": self.texts}
        if self.response_texts is not None:
            table["response"] = self.response_texts
        if self.ids is not None:
            table["id"] = [str(i) for i in self.ids]
        if self.texts:
            pd.DataFrame(table).to_parquet(root / "texts.parquet", index=False)
        artifact.write_json(root / "fit.json", {"sides": sides, "calibration": self.calibration_, "quality": self.quality_})
        self.manifest = artifact.write_manifest(
            root,
            kind=KIND,
            format_version=FORMAT_VERSION,
            metadata={
                **self.metadata,
                "model": self.identity.to_dict(),
                "n_samples": len(self),
                "has_responses": self.responses is not None,
            },
        )
        self.path = root
        return root

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> "Baseline":
        """Load a saved baseline after verifying every file's checksum."""
        import json

        import pandas as pd

        root = Path(directory)
        manifest = artifact.verify(root, kind=KIND, supported_versions={FORMAT_VERSION})
        try:
            fit = json.loads((root / "fit.json").read_text())
            identity = ModelIdentity.from_dict(manifest["model"])
            prompts = Reference._load(root, "prompts", fit["sides"]["prompts"])
            responses = (
                Reference._load(root, "responses", fit["sides"]["responses"]) if "responses" in fit["sides"] else None
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"baseline {root} is malformed: {exc!r}") from exc
        texts: list[str] = []
        response_texts = ids = None
        if (root / "texts.parquet").exists():
            table = pd.read_parquet(root / "texts.parquet")
            texts = table["prompt"].tolist()
            response_texts = table["response"].tolist() if "response" in table else None
            ids = table["id"].tolist() if "id" in table else None
        metadata = {k: manifest.get(k) for k in ("seed", "source", "created_at")}
        baseline = cls(
            identity,
            prompts,
            responses=responses,
            texts=texts,
            response_texts=response_texts,
            ids=ids,
            metadata=metadata,
            calibration=fit.get("calibration"),
            quality=fit.get("quality"),
        )
        baseline.path = root
        baseline.manifest = manifest
        return baseline

    def describe(self) -> dict[str, Any]:
        """What reports and tracking params say about the baseline."""
        return {
            "uri": self.metadata.get("uri") or (str(self.path) if self.path else None),
            "version": self.version,
            "n_samples": len(self),
            "n_clusters": self.prompts.n_clusters,
            "created_at": self.metadata.get("created_at"),
            "has_responses": self.responses is not None,
            "calibrated": bool(self.calibration_),
            "calibrated_window_size": (self.calibration_ or {}).get("window_size"),
            "quality": dict(self.quality_),
        }
