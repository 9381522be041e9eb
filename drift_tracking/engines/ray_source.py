"""Reading and embedding a log with Ray Data: the rows of :mod:`drift_tracking.engines.blocks`.

The log is read where it lives (a local path or any URL pyarrow or fsspec opens, such as
``s3://bucket/logs/*.jsonl``): JSON lines as text lines parsed by the package's own
reader, CSV with every column as text (as the local reader does), Parquet as stored.
Each batch goes through :func:`drift_tracking.data.load_texts`, so a row is valid or
invalid for the same reason as in the local path; invalid rows stay in the data (with
their reason) so every row keeps its place. Embedding runs in ``map_batches`` on a pool
of actors, one model each (one GPU each when the cluster has GPUs, where the embedder
runs in fp16).

Ray is imported by the functions that need it; this module imports without it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from drift_tracking.data import _read_json_lines, load_texts, text_reason
from drift_tracking.embedding import Embedder
from drift_tracking.engines import blocks as blk
from drift_tracking.errors import DataError

FORMATS = {".jsonl": "json", ".ndjson": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
_NO_TEXT = "\t"  # joins the reasons of a row that is invalid in two columns


def format_of(source: str) -> str:
    """``json``, ``csv`` or ``parquet`` from the source's extension (a folder's: from the files in it)."""
    name = _first_file(source)[1] if not _suffix(source) else source
    fmt = FORMATS.get(_suffix(name))
    if fmt is None:
        raise DataError(f"cannot tell the format of {source!r}; its files must end in {', '.join(FORMATS)}")
    return fmt


def _suffix(name: str) -> str:
    tail = name.rstrip("/").rsplit("/", 1)[-1].lower()
    return next((suffix for suffix in FORMATS if tail.endswith(suffix)), "")


def _first_file(source: str) -> tuple[Any, str]:
    """(file system, path) of ``source``, or of the first data file under it when it is a folder."""
    import pyarrow.fs as pafs

    try:
        fs, path = pafs.FileSystem.from_uri(source)
    except (pafs.ArrowInvalid, ValueError):  # a plain local path, or a scheme only fsspec knows
        if "://" not in source:
            fs, path = pafs.LocalFileSystem(), str(source)
        else:
            import fsspec

            protocol, path = source.split("://", 1)
            fs = pafs.PyFileSystem(pafs.FSSpecHandler(fsspec.filesystem(protocol)))
    try:
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise DataError(f"data file {source!r} not found; check the path or URL")
        if info.type == pafs.FileType.Directory:
            found = sorted(f.path for f in fs.get_file_info(pafs.FileSelector(path, recursive=True))
                           if f.type == pafs.FileType.File and _suffix(f.path))
            if not found:
                raise DataError(f"{source!r} holds no {', '.join(FORMATS)} file")
            path = found[0]
    except OSError as exc:
        raise DataError(f"cannot open {source!r}: {exc}") from None
    return fs, path


def read_log(source: str) -> Any:
    """A Ray Dataset of the raw rows of ``source`` (JSON lines as a ``text`` column of lines)."""
    import ray.data

    fmt = format_of(source)
    if fmt == "json":
        return ray.data.read_text(source)
    if fmt == "parquet":
        return ray.data.read_parquet(source)
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    header = _csv_header(source)
    options = pa_csv.ConvertOptions(column_types={name: pa.string() for name in header},
                                    strings_can_be_null=False, quoted_strings_can_be_null=False)
    return ray.data.read_csv(source, convert_options=options)


def _csv_header(source: str) -> list[str]:
    """The (first) CSV file's header, so every column can be read as text."""
    fs, path = _first_file(source)
    with fs.open_input_stream(path) as stream:
        first = stream.read(1 << 16)
    return next(csv.reader(io.StringIO(first.decode("utf-8-sig", "replace").splitlines()[0] + "\n")), [])


class Rows:
    """``map_batches`` step: raw rows -> prompt, response, invalid reason (and column), time."""

    def __init__(self, fmt: str, text_column: str, response_column: str | None, timestamp_column: str | None,
                 where: str) -> None:
        self.fmt, self.where = fmt, where
        self.columns = {"text_column": text_column, "response_column": response_column,
                        "timestamp_column": timestamp_column}

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        frame = self._frame(batch)
        n = len(frame)
        prompts: list[str | None] = [None] * n
        responses: list[str | None] = [None] * n
        reasons: dict[int, list[tuple[str, str]]] = {}
        times: list[str | None] = [None] * n
        try:
            data = load_texts(frame, **self.columns)
        except DataError as exc:
            if not str(exc).startswith("all "):
                raise
            data = None
            reasons = self._all_invalid(frame)
        if data is not None:
            for i, row in enumerate(data.row_ids):
                prompts[row] = data.prompts[i]
                responses[row] = data.responses[i] if data.responses is not None else None
                times[row] = data.timestamps[i] if data.timestamps is not None else None
            for bad in data.invalid:
                reasons.setdefault(bad.row, []).append((bad.column, bad.reason))
            times = [data.invalid_timestamps.get(row, t) if row in reasons else t for row, t in enumerate(times)]
        if data is None and self.columns["timestamp_column"]:
            times = frame[self.columns["timestamp_column"]].tolist()
        return pa.table({
            blk.PROMPT: pa.array(prompts, pa.string()), blk.RESPONSE: pa.array(responses, pa.string()),
            blk.INVALID: pa.array([_NO_TEXT.join(r for _, r in reasons[i]) if i in reasons else None
                                   for i in range(n)], pa.string()),
            blk.INVALID_COLUMN: pa.array([_NO_TEXT.join(c for c, _ in reasons[i]) if i in reasons else None
                                          for i in range(n)], pa.string()),
            blk.TIME: pa.array(_nanoseconds(times), pa.int64()),
        })

    def _frame(self, batch: Any) -> pd.DataFrame:
        if self.fmt != "json":
            return batch.to_pandas()
        lines = batch.column("text").to_pylist()
        if lines and lines[0].lstrip().startswith("["):
            raise DataError(f"{self.where} holds a JSON array; the ray engine reads JSON lines (one object per line)")
        return _read_json_lines("\n".join(lines), self.where)

    def _all_invalid(self, frame: pd.DataFrame) -> dict[int, list[tuple[str, str]]]:
        """Every row's reasons when the whole batch is invalid (load_texts refuses such a batch)."""
        out: dict[int, list[tuple[str, str]]] = {}
        for key in ("text_column", "response_column"):
            column = self.columns[key]
            if column is None or column not in frame.columns:
                continue
            for row, value in enumerate(frame[column].tolist()):
                reason = text_reason(value)
                if reason is not None:
                    out.setdefault(row, []).append((column, reason))
        return out


def _nanoseconds(values: list[Any]) -> list[int | None]:
    """ISO times (or None) as ns since the epoch, None where missing or not a time."""
    parsed = pd.to_datetime(pd.Series(values, dtype=object), utc=True, errors="coerce", format="ISO8601")
    return [None if pd.isna(t) else int(t.value) for t in parsed]


class Embed:
    """``map_batches`` step on an actor pool: one embedder (one model) per actor, valid rows only."""

    def __init__(self, make_embedder: Callable[[], Embedder], columns: list[tuple[str, str]]) -> None:
        self.embedder = make_embedder()
        self.dimension = self.embedder.identity.dimension  # loads the model (and checks its weights) once
        self.columns = columns

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        valid = np.asarray(batch.column(blk.INVALID).is_null().to_numpy(zero_copy_only=False))
        for text_column, embedding_column in self.columns:
            present = np.asarray(batch.column(text_column).is_valid().to_numpy(zero_copy_only=False))
            rows = np.flatnonzero(valid & present)  # a log without responses has none to embed
            out = np.zeros((batch.num_rows, self.dimension), dtype=np.float32)
            if rows.size:
                out[rows] = self.embedder.encode(batch.column(text_column).take(rows).to_pylist())
            values = pa.FixedSizeListArray.from_arrays(pa.array(out.ravel()), self.dimension)
            batch = batch.append_column(embedding_column, values)
        return batch
