"""The Ray engine: read, embed and measure a log on a Ray cluster; decide and report here.

    engine = RayEngine("ray://head:10001")          # None: this machine, or $RAY_ADDRESS
    report = engine.check(baseline, "s3://bucket/logs/2026-02-*.jsonl", text_column="prompt")

Ray Data reads the log where it lives and validates every batch as the local reader does
(:mod:`~drift_tracking.engines.ray_source`); ``map_batches`` embeds it on an actor pool,
one model per actor (one GPU per actor, fp16, when the cluster has GPUs; else one CPU
each). The embedded rows stay in the cluster's object store; Ray tasks summarise each
block (:mod:`~drift_tracking.engines.driver`), so only counts, projection sketches and
the seeded samples (about 10k rows a window) reach this process: its memory does not
grow with the log. The :class:`~drift_tracking.comparison.Measurements` it assembles are
decided by the same policy through :meth:`drift_tracking.monitor.Monitor.record`, so the
history, the report and every sink are those of the local engine.

A window's identity (the sha256 of its sorted prompts) is computed exactly: Ray Data
sorts the prompts and one task hashes them as they stream by.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import re
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from drift_tracking import errors
from drift_tracking.baseline import Baseline
from drift_tracking.cache import default_cache_dir
from drift_tracking.comparison import Measurements
from drift_tracking.embedding import Embedder, embedder_for_baseline
from drift_tracking.engines import blocks as blk
from drift_tracking.engines.driver import LogIndex, Measured, index_log, measure_window
from drift_tracking.engines.ray_source import Embed, Rows, format_of, read_log
from drift_tracking.errors import ConfigError, DataError, DriftTrackingError
from drift_tracking.metrics import MIN_WINDOW
from drift_tracking.monitor import Monitor, TimeWindow, WindowResult, parse_frequency, prompts_digest, window_origin

if TYPE_CHECKING:
    from drift_tracking.quality import QualityInputs
    from drift_tracking.report import DriftReport

_ROWS_PER_CALL = 2048  # rows an embedding actor encodes per call (sorted by length inside)


def embedder_factory(model: str | None = None, *, baseline: Baseline | None = None, allowed_models: Sequence[str] = (),
                     batch_size: int = 32, cache_dir: Any = None) -> Callable[[], Embedder]:
    """What each embedding actor calls to make its embedder (picklable; the model loads in the actor).

    With ``baseline`` the embedder is the one :func:`~drift_tracking.embedding.embedder_for_baseline`
    chooses, refusing weights that do not hash to the baseline's pin. Actors share the
    embedding cache at ``cache_dir`` (default: this machine's cache directory; False: none).
    """
    options = {"batch_size": batch_size, "cache_dir": default_cache_dir() if cache_dir is None else cache_dir,
               "device": "auto"}
    if baseline is not None:
        return functools.partial(embedder_for_baseline, baseline.identity_, model, allowed_models=tuple(allowed_models),
                                 **options)
    return functools.partial(Embedder, model, **options)


class RayRunner:
    """Runs a function over blocks as Ray tasks, a bounded number at a time, results in submission order."""

    def __init__(self, in_flight: int) -> None:
        self.in_flight = max(1, in_flight)
        self._remote: dict[Callable[..., Any], Any] = {}

    def map(self, fn: Callable[..., Any], calls: Iterable[tuple[Any, tuple[Any, ...]]]) -> Iterator[Any]:
        import ray

        remote = self._remote.setdefault(fn, ray.remote(num_cpus=1)(fn))
        pending: deque[Any] = deque()
        for block, args in calls:
            pending.append(remote.remote(block, *args))
            if len(pending) >= self.in_flight:
                yield ray.get(pending.popleft())
        while pending:
            yield ray.get(pending.popleft())


@dataclass
class EmbeddedLog:
    """A log read, validated and embedded in the cluster: its blocks and what the index pass found."""

    index: LogIndex
    has_responses: bool
    dataset: Any


class RayEngine:
    """Measure logs on a Ray cluster; see the module docstring.

    ``address``: the cluster (``auto``, ``ray://host:10001``); None starts or joins a local
    one (``$RAY_ADDRESS`` if set). ``num_cpus`` bounds a local cluster. ``actors``: embedding
    actors [default: one per GPU, else one per CPU].
    """

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None, actors: int | None = None,
                 gpus: bool = True) -> None:
        self.address, self.num_cpus, self.actors, self.gpus = address, num_cpus, actors, gpus

    # -- the cluster -----------------------------------------------------------------
    def connect(self) -> dict[str, float]:
        """Join (or start) the cluster once; returns its resources."""
        os.environ.setdefault("RAY_DATA_LOG_LEVEL", "WARNING")
        try:
            import ray
        except ImportError:
            raise ConfigError("the ray engine needs Ray: pip install 'drift-tracking[ray]'") from None
        if not ray.is_initialized():
            os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
            ray.init(address=self.address, num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # window positions follow the log's order
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        return dict(ray.cluster_resources())

    @property
    def runner(self) -> RayRunner:
        return RayRunner(int(self.connect().get("CPU", 1)) * 2)

    # -- reading and embedding ------------------------------------------------------------
    def load(self, source: str, make_embedder: Callable[[], Embedder], *, text_column: str = "prompt",
             response_column: str | None = None, timestamp_column: str | None = None, responses: bool = True,
             freq: str | None = None) -> EmbeddedLog:
        """Read, validate and embed ``source``; index it into windows of ``freq`` (None: one window)."""
        resources = self.connect()
        with _errors(source):
            rows = read_log(source).map_batches(
                Rows(format_of(source), text_column, response_column, timestamp_column, repr(source)),
                batch_format="pyarrow").materialize()
            slots = _slots(rows, freq) if freq else blk.Slots()
            columns = [(blk.PROMPT, blk.EMBEDDING)] + ([(blk.RESPONSE, blk.RESPONSE_EMBEDDING)] if responses else [])
            embedded = rows.map_batches(Embed, fn_constructor_args=(make_embedder, columns), batch_format="pyarrow",
                                        batch_size=_ROWS_PER_CALL, **self._pool(resources)).materialize()
            index = index_log(list(embedded.to_arrow_refs()), slots, self.runner)
        return EmbeddedLog(index, index.n_responses > 0, embedded)

    def _pool(self, resources: dict[str, float]) -> dict[str, Any]:
        """The embedding actors: one per GPU with fp16, else one per CPU."""
        import ray.data

        gpus = int(resources.get("GPU", 0)) if self.gpus else 0
        if gpus:
            return {"compute": ray.data.ActorPoolStrategy(size=self.actors or gpus), "num_gpus": 1}
        return {"compute": ray.data.ActorPoolStrategy(size=self.actors or max(1, int(resources.get("CPU", 1)))),
                "num_cpus": 1}

    # -- windows ------------------------------------------------------------------------
    def measure_embedded(self, baseline: Baseline, log: EmbeddedLog, key: int, *, seed: int = 0,
                         info: dict[str, Any] | None = None, quality: "QualityInputs | None" = None,
                         notes: Sequence[str] = ()) -> Measurements:
        """One window of an embedded log, measured against ``baseline``."""
        n = log.index.n_valid(key)
        if n < MIN_WINDOW:
            raise DataError(f"the window has {n} valid texts; at least {MIN_WINDOW} are needed to compare")
        responses = log.has_responses and baseline.responses_ is not None
        with _errors("the window"):
            found: Measured = measure_window(baseline, log.index, key, self.runner, seed=seed, responses=responses)
        part = log.index.rows_of(key)
        notes = list(notes) + ([part.invalid_summary()["warning"]] if part.mostly_invalid else [])
        if log.has_responses and baseline.responses_ is None:
            notes.append("the baseline has no responses: response drift was not measured")
        return Measurements(
            prompts=found.prompts, n_samples=found.n, responses=found.responses,
            quality=quality.signals(baseline) if quality is not None else {}, projection=found.projection,
            window=dict(info or {}), invalid_rows=part.invalid_summary() if part.n_invalid else {},
            warnings=tuple(notes),
        )

    def check(self, baseline: Baseline, source: str, *, make_embedder: Callable[[], Embedder] | None = None,
              monitor: Monitor | None = None, text_column: str = "prompt", response_column: str | None = None,
              window_info: dict[str, Any] | None = None, quality: "QualityInputs | None" = None) -> "DriftReport":
        """Compare the whole log at ``source`` (one window) to ``baseline``; decide and record with ``monitor``."""
        monitor = monitor or Monitor(baseline)
        make_embedder = make_embedder or embedder_factory(baseline=baseline)
        log = self.load(source, make_embedder, text_column=text_column, response_column=response_column,
                        responses=baseline.responses_ is not None)
        if monitor.strict:
            _refuse_mostly_invalid(log.index.rows_of(0), (window_info or {}).get("source") or source)
        if log.index.n_valid(0) < MIN_WINDOW:
            raise DataError(f"the window has {log.index.n_valid(0)} valid texts; at least {MIN_WINDOW} are needed to compare")
        info = {**(window_info or {}), "identity": {"content_sha256": _digests(log)[0], "start": None, "end": None}}
        found = self.measure_embedded(baseline, log, 0, seed=monitor.seed, info=info, quality=quality,
                                      notes=_model_warnings(make_embedder, baseline, self.connect(), self.gpus))
        return monitor.record(found)

    def monitor(self, baseline: Baseline, source: str, freq: str, *, monitor: Monitor,
                make_embedder: Callable[[], Embedder] | None = None, text_column: str = "prompt",
                response_column: str | None = None, timestamp_column: str = "timestamp",
                quality: "QualityInputs | None" = None) -> Iterator[WindowResult]:
        """Split the log into windows of ``freq`` and check each in turn (as :meth:`Monitor.run` does)."""
        make_embedder = make_embedder or embedder_factory(baseline=baseline)
        log = self.load(source, make_embedder, text_column=text_column, response_column=response_column,
                        timestamp_column=timestamp_column, responses=baseline.responses_ is not None, freq=freq)
        if log.index.undated:
            warnings.warn(f"{log.index.undated} row(s) without a usable timestamp were left out", stacklevel=2)
        todo = _todo_windows(log.index, monitor)
        if monitor.strict:
            for _, window, part in todo:
                info = window.info()
                _refuse_mostly_invalid(part, f"window {window.index} ({info['start']} to {info['end']})")
        digests = _digests(log)
        notes = _model_warnings(make_embedder, baseline, self.connect(), self.gpus)
        for key, window, part in todo:
            note = monitor._skip_note(window, part)
            if note is not None:
                if note:
                    yield WindowResult(window, skipped=note)
                continue
            info = window.info()
            info["identity"] = {"content_sha256": digests[key], "start": info["start"], "end": info["end"]}
            found = self.measure_embedded(baseline, log, key, seed=monitor.seed, info=info, quality=quality,
                                          notes=notes)
            report = monitor.record(found)
            window.index = report.window["index"]
            yield WindowResult(window, report=report)

    # -- baselines ----------------------------------------------------------------------------
    def build_baseline(self, source: str, make_embedder: Callable[[], Embedder], *, text_column: str = "prompt",
                       response_column: str | None = None, n_clusters: int | None = None,
                       window_size: int | None = None, seed: int = 0, quality: dict[str, float] | None = None
                       ) -> Baseline:
        """Read and embed ``source`` on the cluster, then fit a baseline here (it holds every row it was fitted on)."""
        import numpy as np

        log = self.load(source, make_embedder, text_column=text_column, response_column=response_column)
        prompts, responses, texts, answers = [], [], [], []
        for table in _valid_tables(log):
            rows = np.arange(table.num_rows)
            prompts.append(blk.matrix(table, blk.EMBEDDING, rows))
            texts.extend(table.column(blk.PROMPT).to_pylist())
            if log.has_responses:
                responses.append(blk.matrix(table, blk.RESPONSE_EMBEDDING, rows))
                answers.extend(table.column(blk.RESPONSE).to_pylist())
        if not prompts:
            raise DataError(f"{source} has no valid rows; nothing to build a baseline from")
        identity = _actor_identity(make_embedder, self.connect(), self.gpus)
        return Baseline(n_clusters=n_clusters, window_size=window_size, seed=seed).fit(
            np.vstack(prompts), np.vstack(responses) if responses else None, identity=identity, texts=texts,
            response_texts=answers if log.has_responses else None, quality=quality, source=str(source))


def _todo_windows(index: LogIndex, monitor: Monitor) -> list[tuple[int, TimeWindow, Any]]:
    """(slot, window, its invalid rows) for each window :meth:`Monitor.run` would check, numbered after the history."""
    import pandas as pd

    if monitor.history is not None:
        monitor.records = monitor.history.read()
    offset = monitor._next_index()
    seen = {(r.get("window", {}).get("start"), r.get("window", {}).get("end")) for r in monitor.records}
    slots, todo = index.slots, []
    assert slots.origin_ns is not None and slots.delta_ns is not None
    for key in range(slots.n_windows):
        start = pd.Timestamp(slots.origin_ns + key * slots.delta_ns, unit="ns", tz="UTC")
        window = TimeWindow(key, start, start + pd.Timedelta(slots.delta_ns, unit="ns"), range(index.n_valid(key)))
        info = window.info()
        if (info["start"], info["end"]) not in seen:
            window.index = offset + len(todo)
            todo.append((key, window, index.rows_of(key)))
    return todo


def _refuse_mostly_invalid(part: Any, where: str) -> None:
    from drift_tracking.monitor import _refuse_mostly_invalid as refuse

    refuse(part, where)


def _slots(rows: Any, freq: str) -> blk.Slots:
    """The log's windows of ``freq``, from its valid rows' first and last times."""
    import pandas as pd

    delta = parse_frequency(freq)
    times = rows.map_batches(_valid_times, batch_format="pyarrow")
    if times.count() == 0:
        raise DataError("no row has a usable timestamp; check --timestamp-column")
    first, last = times.min("t"), times.max("t")
    origin = window_origin(pd.Timestamp(first, tz="UTC"), delta)
    return blk.Slots(int(origin.value), int(delta.value), int((last - origin.value) // delta.value) + 1)


def _valid_times(batch: Any) -> Any:
    import pyarrow as pa

    batch = batch.filter(batch.column(blk.INVALID).is_null())
    return pa.table({"t": batch.column(blk.TIME).drop_null()})


def _valid_tables(log: EmbeddedLog) -> Iterator[Any]:
    """The embedded log's valid rows, block by block (baselines are fitted here, so they come here)."""
    import ray

    for ref in log.index.blocks:
        table = ray.get(ref)
        yield table.filter(table.column(blk.INVALID).is_null())


def _digests(log: EmbeddedLog) -> dict[int, str]:
    """Each window's sha256 of its sorted prompts: Ray Data sorts, one task hashes them as they stream by."""
    import ray

    ordered = log.dataset.select_columns([blk.PROMPT, blk.INVALID, blk.TIME]).map_batches(
        functools.partial(_keyed_prompts, slots=log.index.slots), batch_format="pyarrow").sort(["window", blk.PROMPT])
    return ray.get(ray.remote(num_cpus=0)(_hash_windows).remote(ordered))  # its sort needs every CPU


def _keyed_prompts(batch: Any, slots: blk.Slots) -> Any:
    import pyarrow as pa

    batch = batch.filter(batch.column(blk.INVALID).is_null())
    return pa.table({"window": slots.of(batch), blk.PROMPT: batch.column(blk.PROMPT)})


def _hash_windows(ordered: Any) -> dict[int, str]:
    """Stream a dataset sorted by (window, prompt) and hash each window's prompts (never all in memory)."""
    pairs = ((key, text) for batch in ordered.iter_batches(batch_format="numpy", batch_size=4096)
             for key, text in zip(batch["window"].tolist(), batch[blk.PROMPT].tolist()))
    return {key: prompts_digest(text for _, text in group)
            for key, group in itertools.groupby(pairs, key=lambda pair: pair[0]) if key >= 0}


def _actor_identity(make_embedder: Callable[[], Embedder], resources: dict[str, float], gpus: bool = True) -> Any:
    """The identity the actors' embedder has: this process's, in fp16 when the actors have GPUs."""
    identity = make_embedder().identity
    return replace(identity, precision="float16") if resources.get("GPU", 0) and gpus else identity


def _model_warnings(make_embedder: Callable[[], Embedder], baseline: Baseline, resources: dict[str, float],
                    gpus: bool = True) -> list[str]:
    return _actor_identity(make_embedder, resources, gpus).check_compatible(baseline.identity_, "baseline")


@contextlib.contextmanager
def _errors(where: str) -> Iterator[None]:
    """Ray's wrapped failures as the package's one-line errors (a bad row, a missing file, a model mismatch)."""
    try:
        yield
    except DriftTrackingError as exc:
        raise _cause(exc) or exc from None
    except FileNotFoundError:
        raise DataError(f"data file {where!r} not found; check the path or URL") from None
    except Exception as exc:
        cause = _cause(exc)
        if cause is not None:
            raise cause from None
        if "FileNotFoundError" in repr(exc) or "No such file" in str(exc):
            raise DataError(f"data file {where!r} not found; check the path or URL") from None
        raise


def _cause(exc: BaseException) -> DriftTrackingError | None:
    """The package's own error inside a Ray failure (the innermost that is not a Ray wrapper).

    A worker's exception reaches the driver pickled, without its ``__cause__``; when the
    object is gone, its class and message are read back from the worker's traceback text.
    """
    seen, todo, found = set(), [exc], None
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, DriftTrackingError) and "Ray" not in type(current).__name__:
            found = current
        todo.extend([getattr(current, "cause", None), current.__cause__, current.__context__])
    if found is None:
        last = re.findall(r"drift_tracking\.errors\.(\w+): ([^\n]+)", str(exc))
        kind = getattr(errors, last[-1][0], None) if last else None
        if isinstance(kind, type) and issubclass(kind, DriftTrackingError):
            found = kind(last[-1][1])
    return found
