"""Labelled text for the detection benchmark: splits, embeddings (cached) and scenario windows.

banking77 (or any folder with ``train.csv``, ``test.csv`` with ``text,category`` columns)
is read from the path given; nothing of it is copied. From a fixed seed:

* the intents are shuffled once: the first ``n_seen`` (60) are *seen*, the rest (17)
  *unseen*;
* the baseline is ``n_baseline`` (5,000) train rows of seen intents drawn at random;
  the remaining train rows of seen intents are the *held-out* pool;
* windows are built by drawing rows from pools (below). A pool smaller than what a
  window needs is drawn *with* replacement and the window is marked ``resampled``.

Scenarios (``unseen`` is the true share of rows from unseen intents):

=============  =========================================================================
clean          held-out train rows of seen intents (no drift)
mild_mix       banking77's balanced test split, seen intents (intent shares differ from
               the imbalanced train split: a mild mix shift)
strong_mix     held-out rows with ``tripled`` (3) seen intents at three times their
               baseline share
unseen_XX      XX% rows of unseen intents (train and test rows), the rest held-out rows
gradual        window i of k has an unseen share rising linearly from 0 to 40%
=============  =========================================================================

Embeddings come from the bundled all-MiniLM-L6-v2 through drift-tracking's
:class:`~drift_tracking.embedding.Embedder` and are cached as one ``.npy`` per text list,
named by a hash of the model's files and the sha256 of the texts, so reruns skip
embedding (and loading the model).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

UNSEEN_SHARES = (0.05, 0.10, 0.20, 0.40)
GRADUAL_MAX = 0.40
N_TRIPLED = 3


@dataclass
class Corpus:
    """All texts with their intent and split, and which intents are seen."""

    texts: list[str]
    intents: np.ndarray  # int intent id per row
    is_test: np.ndarray  # bool per row
    intent_names: list[str]
    seen: np.ndarray  # bool per intent id
    baseline_idx: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    held_out_idx: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @property
    def unseen_names(self) -> list[str]:
        return [n for n, s in zip(self.intent_names, self.seen) if not s]


def _read_csv(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"text", "category"} <= set(reader.fieldnames):
            raise SystemExit(f"{path} must have 'text' and 'category' columns, got {reader.fieldnames}")
        return [(row["text"], row["category"]) for row in reader]


def load_corpus(data: Path, *, n_seen: int = 60, n_baseline: int = 5000, seed: int = 0) -> Corpus:
    """Read train/test, pick seen intents and the baseline rows from ``seed``."""
    for name in ("train.csv", "test.csv"):
        if not (data / name).is_file():
            raise SystemExit(f"--data {data} has no {name}; point it at a folder like shared/data/banking77")
    train, test = _read_csv(data / "train.csv"), _read_csv(data / "test.csv")
    names = sorted({c for _, c in train + test})
    index = {n: i for i, n in enumerate(names)}
    rng = np.random.default_rng(seed)
    seen = np.zeros(len(names), dtype=bool)
    seen[rng.permutation(len(names))[:n_seen]] = True
    rows = train + test
    corpus = Corpus(
        texts=[t for t, _ in rows],
        intents=np.array([index[c] for _, c in rows], dtype=np.int64),
        is_test=np.r_[np.zeros(len(train), bool), np.ones(len(test), bool)],
        intent_names=names,
        seen=seen,
    )
    seen_train = np.flatnonzero(~corpus.is_test & seen[corpus.intents])
    if len(seen_train) <= n_baseline:
        raise SystemExit(f"only {len(seen_train)} train rows of seen intents; --baseline-size must be smaller")
    order = rng.permutation(seen_train)
    corpus.baseline_idx = np.sort(order[:n_baseline])
    corpus.held_out_idx = np.sort(order[n_baseline:])
    return corpus


def embed_cached(texts: list[str], cache_dir: Path, backend: str = "torch") -> tuple[np.ndarray, dict]:
    """Embeddings of ``texts`` with the bundled model on ``backend``, from ``cache_dir`` when already computed.

    The cache key is the sha256 of the bundled model's files, the backend and the texts, so
    a hit needs neither torch nor the model; the model identity is stored beside the vectors.
    Returns the (n, d) float32 array and the model identity as a dict.
    """
    import json

    from drift_tracking.embedding import Embedder, bundled_model_path, hash_model_files

    weights = hash_model_files(bundled_model_path())[:16]
    digest = hashlib.sha256("\x1e".join(texts).encode("utf-8")).hexdigest()[:24]
    path = cache_dir / (f"{weights}-{digest}.npy" if backend == "torch" else f"{weights}-{backend}-{digest}.npy")
    meta = path.with_suffix(".json")
    if path.is_file() and meta.is_file():
        x = np.load(path, allow_pickle=False)
        identity = json.loads(meta.read_text())
        if x.shape == (len(texts), identity["dimension"]):
            return x, identity
    embedder = Embedder(cache_dir=False, backend=backend)
    x = embedder.encode(texts, show_progress=False)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, x)
    tmp.replace(path)
    meta.write_text(json.dumps(embedder.identity.to_dict()))
    return x, embedder.identity.to_dict()


@dataclass
class Window:
    """Row indices of one window and what it is."""

    scenario: str
    n: int
    i: int
    idx: np.ndarray
    unseen_share: float
    resampled: bool


def _draw(pool: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """``k`` rows of ``pool``, without replacement when the pool is large enough."""
    if k <= len(pool):
        return rng.choice(pool, k, replace=False), False
    return rng.choice(pool, k, replace=True), True


def _mixed(c: Corpus, n: int, share: float, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    unseen_pool = np.flatnonzero(~c.seen[c.intents])
    k = int(round(share * n))
    a, ra = _draw(c.held_out_idx, n - k, rng)
    b, rb = _draw(unseen_pool, k, rng) if k else (np.empty(0, dtype=np.int64), False)
    return np.concatenate([a, b]), ra or rb


def _strong_mix(c: Corpus, n: int, tripled: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """Per-intent counts from the baseline's intent shares with ``tripled`` intents x3."""
    shares = np.bincount(c.intents[c.baseline_idx], minlength=len(c.intent_names)).astype(float)
    shares[tripled] *= 3
    counts = rng.multinomial(n, shares / shares.sum())
    parts, resampled = [], False
    for intent in np.flatnonzero(counts):
        pool = c.held_out_idx[c.intents[c.held_out_idx] == intent]
        drawn, r = _draw(pool, int(counts[intent]), rng)
        parts.append(drawn)
        resampled |= r
    return np.concatenate(parts), resampled


def scenario_names() -> list[str]:
    return ["clean", "mild_mix", "strong_mix"] + [f"unseen_{round(s * 100):02d}" for s in UNSEEN_SHARES] + ["gradual"]


def make_windows(c: Corpus, sizes: list[int], n_windows: int, seed: int = 0) -> list[Window]:
    """Every scenario's windows at every size, reproducible from ``seed``."""
    rng = np.random.default_rng(seed + 1)
    tripled = rng.choice(np.flatnonzero(c.seen), N_TRIPLED, replace=False)
    mild_pool = np.flatnonzero(c.is_test & c.seen[c.intents])
    out: list[Window] = []
    for n in sizes:
        for scenario in scenario_names():
            for i in range(n_windows):
                share = 0.0
                if scenario == "clean":
                    idx, r = _draw(c.held_out_idx, n, rng)
                elif scenario == "mild_mix":
                    idx, r = _draw(mild_pool, n, rng)
                elif scenario == "strong_mix":
                    idx, r = _strong_mix(c, n, tripled, rng)
                else:
                    share = GRADUAL_MAX * i / max(n_windows - 1, 1) if scenario == "gradual" else int(scenario[-2:]) / 100
                    idx, r = _mixed(c, n, share, rng)
                out.append(Window(scenario, n, i, rng.permutation(idx), share, bool(r)))
    return out


def tripled_intents(c: Corpus, seed: int = 0) -> list[str]:
    """The intents the strong-mix scenario triples (the same draw as :func:`make_windows`)."""
    rng = np.random.default_rng(seed + 1)
    return [c.intent_names[i] for i in rng.choice(np.flatnonzero(c.seen), N_TRIPLED, replace=False)]
