"""Content-addressed on-disk cache of embeddings.

One SQLite file per model fingerprint, keyed by the sha256 of the text. SQLite gives
atomic commits and safe concurrent readers for free, and 50k look-ups take ~0.1 s,
which is noise next to embedding (~180 texts/s on two CPU cores). Vectors are stored
as raw float32 bytes: nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

_CHUNK = 900  # below SQLite's default limit of 999 bound parameters


def default_cache_dir() -> Path:
    env = os.environ.get("DRIFT_TRACKING_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "drift-tracking"


def text_key(text: str) -> bytes:
    """sha256 of the text's UTF-8 bytes.

    ``surrogatepass`` keeps a lone surrogate (``"\\ud800"``, which no valid UTF-8 holds)
    from aborting a whole look-up with ``UnicodeEncodeError``: it gets a key of its own
    and simply misses. :func:`drift_tracking.data.load_texts` reports such texts as
    invalid rows before they come this far.
    """
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    """Maps texts to vectors for one model; see the module docstring for why SQLite."""

    def __init__(self, directory: str | os.PathLike[str], fingerprint: str, dimension: int) -> None:
        self.path = Path(directory) / "embeddings" / f"{fingerprint}.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dimension = dimension
        self._hits = 0
        self._misses = 0
        with self._connect() as con:
            con.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("PRAGMA journal_mode=WAL")
        return con

    def get_many(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        by_key = {text_key(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        keys = list(by_key)
        nbytes = self.dimension * 4
        con = self._connect()
        try:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for key, blob in con.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})", chunk):
                    if len(blob) == nbytes:  # a short row is a torn write: treat as a miss
                        found[by_key[key]] = np.frombuffer(blob, dtype=np.float32)
        finally:
            con.close()
        self._hits += len(found)
        self._misses += len(keys) - len(found)
        return found

    def put_many(self, vectors: Mapping[str, np.ndarray]) -> None:
        rows = [(text_key(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in vectors.items()]
        con = self._connect()
        try:
            with con:
                con.executemany("INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)", rows)
        finally:
            con.close()

    def stats(self) -> dict[str, int]:
        return {"hits": self._hits, "misses": self._misses}
