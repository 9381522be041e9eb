"""Checksummed artifact directories: write files, then a sealed manifest; verify on read.

Kept apart from :mod:`baseline` so any saved object (baselines today, calibration or
history snapshots later) gets the same guarantees: safe formats only (JSON, ``.npy``
without pickle, parquet) and a refusal to load anything truncated or edited.

The seal: ``content_sha256`` is recomputed on every load from the file table *and*
every other manifest field (kind, format, the model's identity, counts, times), so an
edited byte anywhere, in a file or in the manifest, changes it. ``fields_sha256`` keeps
one digest per manifest field (dotted: ``model.name``) only so that a refusal can name
the field that was edited. A registry keeps the content hash (and short digests from
:func:`digests`) where they cannot be edited, and :func:`verify` with a :class:`Pin`
compares against it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from drift_tracking.errors import ArtifactError

MANIFEST = "manifest.json"
INTEGRITY = 2  # 1: content_sha256 covered the file table only (metadata could be edited unseen)
_UNSEALED = ("content_sha256", "fields_sha256", "files")
_SHORT = 16  # hex digits per digest kept in a registry pin: enough to name what changed
_ENTRY = "files/"  # field digests of file-table entries


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


def canonical_json(value: Any) -> bytes:
    """One byte string per JSON value (sorted keys, no spaces, ASCII): what hashes and signatures cover."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=True).encode()


def content_sha256(manifest: dict[str, Any]) -> str:
    """The seal: sha256 over the file table and every manifest field but the seal's own two."""
    sealed = {k: v for k, v in manifest.items() if k not in _UNSEALED}
    return hashlib.sha256(canonical_json({"files": manifest.get("files", {}), "fields": sealed})).hexdigest()


def field_digests(manifest: dict[str, Any]) -> dict[str, str]:
    """sha256 of each manifest field by dotted name (``model.name``) and of each file-table entry (``files/NAME``).

    The entries let a refusal name the file whose checksum was rewritten to match an edit.
    """
    out = {f"{_ENTRY}{name}": hashlib.sha256(canonical_json(entry)).hexdigest()
           for name, entry in (manifest.get("files") or {}).items()}

    def walk(name: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(f"{name}.{key}", inner)
        else:
            out[name] = hashlib.sha256(canonical_json(value)).hexdigest()

    for key, value in manifest.items():
        if key not in _UNSEALED:
            walk(key, value)
    return out


def digests(manifest: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Short digests of every file and field: small enough for a registry, enough to name a change."""
    return {
        "files": {name: entry["sha256"][:_SHORT] for name, entry in sorted(manifest.get("files", {}).items())},
        "fields": {name: d[:_SHORT] for name, d in sorted(field_digests(manifest).items())
                   if not name.startswith(_ENTRY)},
    }


def write_manifest(directory: Path, *, kind: str, format_version: int, metadata: dict[str, Any]) -> dict[str, Any]:
    """Hash every file in ``directory`` (except the manifest) and write the sealed ``manifest.json`` last.

    The manifest is written to a temporary name and renamed, so a crash leaves either
    no manifest (the load says the artifact is incomplete) or a complete one.
    """
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST):
        rel = path.relative_to(directory).as_posix()
        files[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest = {
        "kind": kind,
        "format_version": format_version,
        "integrity": INTEGRITY,
        "created_at": metadata.pop("created_at", utc_now()),
        "files": files,
        **metadata,
    }
    manifest = seal(manifest)
    tmp = directory / (MANIFEST + ".tmp")
    write_json(tmp, manifest)
    os.replace(tmp, directory / MANIFEST)
    return manifest


def seal(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` with its field digests and content hash (re)computed."""
    out = {k: v for k, v in manifest.items() if k not in ("content_sha256", "fields_sha256")}
    out["fields_sha256"] = field_digests(out)
    out["content_sha256"] = content_sha256(out)
    return out


def verify(
    directory: str | os.PathLike[str], *, kind: str, supported_versions: set[int], pin: Pin | None = None,
) -> dict[str, Any]:
    """Return the manifest of a complete, untouched artifact or raise :class:`ArtifactError`.

    Every file is checked against the table, every field against its digest, and the
    content hash is recomputed from both: the manifest's own claim is never trusted.
    With a ``pin`` (what a registry recorded), the recomputed hash must also be the
    pinned one, and the refusal names the files and fields that differ from it.
    """
    root = Path(directory)
    manifest = _read_manifest(root, kind, supported_versions)
    problems = _file_problems(root, manifest) + _field_problems(manifest)
    actual = content_sha256(manifest)
    if pin is not None and actual != pin.content_sha256:
        raise ArtifactError(
            f"refusing to load {kind} {pin.where}: it is not what was registered ("
            + "; ".join(_pin_changes(manifest, pin) + problems) + "): its artifacts were changed after registration. "
            "Restore them, or re-register the baseline"
        )
    if not problems and actual != manifest.get("content_sha256"):
        problems.append(f"{MANIFEST} was edited after saving (its content_sha256 does not match its file table "
                        "and fields)")
    if problems:
        raise ArtifactError(
            f"refusing to load {kind} {root}: " + "; ".join(problems) + ". Restore it from the tracking "
            "server or rebuild it."
        )
    return manifest


@dataclass(frozen=True)
class Pin:
    """What a registry recorded of an artifact: its content hash, and short digests to name changes."""

    content_sha256: str
    digests: dict[str, Any]
    where: str  # how the user addressed it, for messages


def _pin_changes(manifest: dict[str, Any], pin: Pin) -> list[str]:
    """Files and fields that differ from the pinned digests (by the manifest's table, checked separately)."""
    now = digests(manifest)
    changed = [
        f"{label}{name} {_change(name, pin.digests[part], now[part])} after registration"
        for part, label in (("files", ""), ("fields", "manifest field "))
        if isinstance(pin.digests.get(part), dict)
        for name in _differing(pin.digests[part], now[part])
    ]
    return changed or [f"content {content_sha256(manifest)[:12]}, registered {pin.content_sha256[:12]}"]


def _read_manifest(root: Path, kind: str, supported_versions: set[int]) -> dict[str, Any]:
    if not root.is_dir():
        raise ArtifactError(f"baseline not found: {root} " + ("is a file, not a folder" if root.is_file()
                                                              else "does not exist"))
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(
            f"{root} is not a saved drift-tracking baseline: {MANIFEST} is missing "
            "(was the save interrupted? rebuild it with `drift-tracking baseline build`)"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{manifest_path} is corrupted: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{manifest_path} is corrupted: not a JSON object")
    if manifest.get("kind") != kind:
        raise ArtifactError(f"{root} holds a {manifest.get('kind')!r} artifact (manifest field kind), not a {kind}")
    version = manifest.get("format_version")
    if version not in supported_versions:
        raise ArtifactError(
            f"{root} has {kind} format version {version}; this drift-tracking reads "
            f"{sorted(supported_versions)}: upgrade drift-tracking or rebuild the {kind}"
        )
    if manifest.get("integrity") != INTEGRITY or not isinstance(manifest.get("fields_sha256"), dict):
        raise ArtifactError(
            f"{root} has no sealed manifest (integrity {manifest.get('integrity')!r}, expected {INTEGRITY}): "
            f"it was saved by an older drift-tracking, or its seal was removed. Rebuild the {kind}"
        )
    return manifest


def _file_problems(root: Path, manifest: dict[str, Any]) -> list[str]:
    problems = []
    files = manifest.get("files")
    if not isinstance(files, dict):
        return [f"{MANIFEST} has no file table"]
    for rel, expected in sorted(files.items()):
        path = root / rel
        if not isinstance(expected, dict) or not {"sha256", "bytes"} <= set(expected):
            problems.append(f"the {MANIFEST} entry for {rel} is malformed")
        elif not path.is_file():
            problems.append(f"{rel} is missing")
        elif path.stat().st_size != expected["bytes"]:
            problems.append(f"{rel} is {path.stat().st_size} bytes, expected {expected['bytes']} (truncated?)")
        elif sha256_file(path) != expected["sha256"]:
            problems.append(f"{rel} does not match its sha256 checksum (modified after saving)")
    extra = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() and p.name != MANIFEST and p.relative_to(root).as_posix() not in files)
    problems += [f"{rel} is not in {MANIFEST} (added after saving)" for rel in extra]
    return problems


def _field_problems(manifest: dict[str, Any]) -> list[str]:
    recorded, actual = manifest["fields_sha256"], field_digests(manifest)
    return [
        (f"the {MANIFEST} entry of {name.removeprefix(_ENTRY)}" if name.startswith(_ENTRY) else f"manifest field {name}")
        + f" {_change(name, recorded, actual)} after saving"
        for name in _differing(recorded, actual)
    ]


def _differing(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))


def _change(name: str, before: dict[str, str], after: dict[str, str]) -> str:
    return "was added" if name not in before else "was removed" if name not in after else "was edited"
