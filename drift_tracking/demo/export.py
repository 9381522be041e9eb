"""Generated samples as records, a DataFrame or a file the CLI and ``load_texts`` read."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable

from drift_tracking.demo.traffic import Sample

COLUMNS = ("id", "prompt", "response", "topic", "novel", "timestamp")


def to_records(samples: Iterable[Sample]) -> list[dict[str, Any]]:
    """Plain dicts with the keys of :data:`COLUMNS`."""
    return [asdict(s) for s in samples]


def to_frame(samples: Iterable[Sample]):  # -> pandas.DataFrame
    """A DataFrame with columns id, prompt, response, topic, novel, timestamp."""
    import pandas as pd

    return pd.DataFrame(to_records(samples), columns=list(COLUMNS))


def write(samples: Iterable[Sample] | Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Write samples (or record dicts) to ``.jsonl``/``.ndjson``, ``.json``, ``.csv`` or ``.parquet``."""
    path = Path(path)
    records = [asdict(s) if isinstance(s, Sample) else dict(s) for s in samples]
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".json", ".csv", ".parquet"):
        raise ValueError(f"cannot write {path}: unsupported extension {suffix!r}; use .jsonl, .ndjson, .json, .csv or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".jsonl", ".ndjson"):
        with path.open("w", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    elif suffix == ".json":
        path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    elif suffix == ".csv":
        fields = list(dict.fromkeys(k for r in records for k in r)) or list(COLUMNS)
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            for record in records:  # nested values (chat messages) as JSON text
                writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                                 for k, v in record.items()})
    else:
        import pandas as pd

        pd.DataFrame(records).to_parquet(path, index=False)
    return path

