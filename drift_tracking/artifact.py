"""Checksummed artifact directories: write files, then a manifest of their sha256; verify on read.

Kept apart from :mod:`baseline` so any saved object (baselines today, calibration or
history snapshots later) gets the same guarantees: safe formats only (JSON, ``.npy``
without pickle, parquet) and a refusal to load anything truncated or edited.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from drift_tracking.errors import ArtifactError

MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def save_npy(path: Path, array: np.ndarray) -> None:
    np.save(path, np.ascontiguousarray(array), allow_pickle=False)


def load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:  # object arrays need pickle: refuse them
        raise ArtifactError(f"{path.name} is not a plain numeric array ({exc})") from exc


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_manifest(directory: Path, *, kind: str, format_version: int, metadata: dict[str, Any]) -> dict[str, Any]:
    """Hash every file in ``directory`` (except the manifest) and write ``manifest.json`` last.

    The manifest is written to a temporary name and renamed, so a crash leaves either
    no manifest (the load says the artifact is incomplete) or a complete one.
    """
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST):
        rel = path.relative_to(directory).as_posix()
        files[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    content = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    manifest = {
        "kind": kind,
        "format_version": format_version,
        "created_at": metadata.pop("created_at", utc_now()),
        "content_sha256": content,
        "files": files,
        **metadata,
    }
    tmp = directory / (MANIFEST + ".tmp")
    write_json(tmp, manifest)
    os.replace(tmp, directory / MANIFEST)
    return manifest


def verify(directory: str | os.PathLike[str], *, kind: str, supported_versions: set[int]) -> dict[str, Any]:
    """Return the manifest of a complete, untouched artifact or raise :class:`ArtifactError`."""
    root = Path(directory)
    if not root.is_dir():
        raise ArtifactError(f"baseline not found: {root} is not a directory")
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(
            f"{root} is not a drift-tracking {kind}: {MANIFEST} is missing "
            "(was the save interrupted? rebuild it with `drift-tracking baseline build`)"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{manifest_path} is corrupted: {exc}") from exc
    if manifest.get("kind") != kind:
        raise ArtifactError(f"{root} holds a {manifest.get('kind')!r} artifact, not a {kind}")
    version = manifest.get("format_version")
    if version not in supported_versions:
        raise ArtifactError(
            f"{root} has {kind} format version {version}; this drift-tracking reads "
            f"{sorted(supported_versions)}: upgrade drift-tracking or rebuild the {kind}"
        )
    problems = []
    for rel, expected in sorted(manifest.get("files", {}).items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
        elif path.stat().st_size != expected["bytes"]:
            problems.append(f"{rel} is {path.stat().st_size} bytes, expected {expected['bytes']} (truncated?)")
        elif sha256_file(path) != expected["sha256"]:
            problems.append(f"{rel} does not match its sha256 checksum (modified after saving)")
    if problems:
        raise ArtifactError(
            f"refusing to load {kind} {root}: " + "; ".join(problems) + ". Restore it from the tracking "
            "server or rebuild it."
        )
    return manifest
