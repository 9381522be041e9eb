"""Read back what an offline W&B run wrote: the ``run-<id>.wandb`` record stream.

wandb 0.31 keeps everything (history, summary, alerts, artifacts) in one file framed
like a LevelDB log: a 7-byte file header (``:W&B``, magic 0xBEE1, version 0), then
32 KiB blocks of chunks, each with a 7-byte header (CRC32C, little-endian length, type).
A record larger than what is left of a block is split into FIRST/MIDDLE.../LAST chunks;
fewer than 7 bytes left at the end of a block are zero padding. Each reassembled payload
is one ``wandb_internal_pb2.Record``.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

FILE_HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
BLOCK = 32 * 1024
CHUNK_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def run_file(run_dir: str | Path) -> Path:
    """The one ``.wandb`` file of a run directory (``offline-run-.../``)."""
    found = sorted(Path(run_dir).glob("run-*.wandb"))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one run-*.wandb in {run_dir}, found {[p.name for p in found]}")
    return found[0]


def records(path: str | Path) -> list[wandb_internal_pb2.Record]:
    """Every record in the file, in order."""
    data = Path(path).read_bytes()
    if not data.startswith(FILE_HEADER):
        raise ValueError(f"{path} does not start with the W&B log header")
    out, pending, pos = [], b"", len(FILE_HEADER)
    while pos + CHUNK_HEADER <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < CHUNK_HEADER:  # block trailer padding
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack_from("<IHB", data, pos)
        if kind == 0 and length == 0:  # zero fill written before a crash or at the end
            pos += left_in_block
            continue
        payload = data[pos + CHUNK_HEADER: pos + CHUNK_HEADER + length]
        pos += CHUNK_HEADER + length
        if kind in (FULL, FIRST):
            pending = payload
        elif kind in (MIDDLE, LAST):
            pending += payload
        else:
            raise ValueError(f"unknown chunk type {kind} at byte {pos} of {path}")
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            out.append(record)
    return out


def finished_records(run_dir: str | Path, patience_s: float = 60.0) -> list[wandb_internal_pb2.Record]:
    """The records of a finished run, once its ``exit`` record is on disk.

    ``run.finish()`` returns before wandb-core has flushed the file, so a reader in the
    same process polls for the ``exit`` record (it is written last).
    """
    path, deadline = run_file(run_dir), time.monotonic() + patience_s
    while True:
        recs = records(path)
        if any(r.WhichOneof("record_type") == "exit" for r in recs) or time.monotonic() > deadline:
            return recs
        time.sleep(0.2)


def of_type(recs: list[wandb_internal_pb2.Record], kind: str) -> list[Any]:
    """The payloads of one record type (``history``, ``summary``, ``alert``, ``artifact``, ...)."""
    return [getattr(r, kind) for r in recs if r.WhichOneof("record_type") == kind]


def _key(item: Any) -> str:
    return item.key or ".".join(item.nested_key)


def history(recs: list[wandb_internal_pb2.Record]) -> list[dict[str, Any]]:
    """One dict per ``run.log`` call, values decoded from JSON."""
    return [{_key(i): json.loads(i.value_json) for i in h.item} for h in of_type(recs, "history")]


def summary(recs: list[wandb_internal_pb2.Record]) -> dict[str, Any]:
    """The final summary: every update applied in order, removals honoured."""
    out: dict[str, Any] = {}
    for s in of_type(recs, "summary"):
        for item in s.update:
            out[_key(item)] = json.loads(item.value_json)
        for item in s.remove:
            out.pop(_key(item), None)
    return out
