"""A ``mlflow.genai`` scorer: how novel each trace is against a drift baseline, and the window's report.

For teams on MLflow 3's GenAI evaluation::

    traces = mlflow.search_traces(locations=[experiment_id], filter_string="trace.timestamp_ms > ...")
    mlflow.genai.evaluate(data=traces, scorers=[drift_scorer(baseline="models:/support-baseline@production",
                                                             data=traces)])

Each trace gets one assessment, ``drift_novel``, shown next to it in the MLflow UI:

* value: whether its prompt lies in a *novel cluster*, a group of the window's prompts
  where the baseline has none (what the report's ``novel_cluster_share`` counts);
* rationale and metadata: its novelty score relative to the baseline's cut-off
  (``distance_ratio``; above 1 it is farther from the baseline than 99% of the
  baseline's own prompts, ``beyond_cutoff``), its nearest baseline cluster and that
  cluster's keywords, the novel cluster it joined and the window's tier.

MLflow's aggregation of the values (``drift_novel/mean``) is the window's novel share,
equal to the report's; the window-level report (every statistic, the tier, the plots and
tables) is logged to the evaluation's run in the shape the ``drift`` evaluator and the
MLflow sink give it (``drift/...`` metrics, ``drift.tier`` tag, ``drift_report.json``), so
the registry gate and dashboards read it the same way.

**Why the scorer is given the data.** MLflow 3.17 calls a scorer one row at a time, in a
pool of threads, and has no hook that shows a scorer the whole dataset (nor one that runs
after the last row). Whether a prompt belongs to a novel cluster is a property of the
whole window, and embedding row by row would cost a model call per trace, so the scorer
takes the rows it will be asked about (``data``, the same DataFrame or list given to
``mlflow.genai.evaluate``). The first call embeds the whole window in one batched model
call, computes the report, logs it to the run and keeps every row's assessment; the
other calls look their row up: by trace id, or, for traces MLflow copied into another
experiment (new ids) and for ``inputs``/``outputs`` rows, by prompt and response.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from mlflow.entities import Feedback
from mlflow.genai.scorers import Scorer
from pydantic import PrivateAttr

from drift_tracking.comparison import compare
from drift_tracking.config import load_config
from drift_tracking.data import TextData, load_traces, text_reason
from drift_tracking.errors import DataError
from drift_tracking.integrations.mlflow_evaluation import embedder_for_config, fetch_baseline, log_or_spool
from drift_tracking.report import DriftReport, label_text
from drift_tracking.sources import traces as trace_source

log = logging.getLogger(__name__)

FEEDBACK_NAME = "drift_novel"
_NEEDS_DATA = ("drift_scorer needs the rows it will score: drift_scorer(baseline=..., data=DATA) with the DATA "
               "given to mlflow.genai.evaluate (MLflow shows a scorer one row at a time, and novel clusters and "
               "the window's report need them all)")
_SCORE_BLOCK = 4096  # rows scored per block: within what one SidePair scores (5,000)


# -- per-row novelty (pure: no MLflow) ------------------------------------------------------
@dataclass(frozen=True)
class RowNovelty:
    """Per window row: novel cluster (-1: none), novelty score over the cut-off, nearest baseline cluster."""

    novel_cluster: np.ndarray
    distance_ratio: np.ndarray
    nearest_cluster: np.ndarray

    @property
    def novel(self) -> np.ndarray:
        return self.novel_cluster >= 0


def row_novelty(baseline: Any, prompt_embeddings: np.ndarray, *, seed: int = 0) -> RowNovelty:
    """Each prompt's place against ``baseline``, computed exactly as the window's statistics are.

    The novelty score of x is d(x), the mean distance to its 3 nearest rows of the
    baseline's k-NN reference (``baseline.prompts_.knn_reference``); the cut-off is the
    99th percentile of the baseline's own leave-one-out scores; novel clusters are those
    of the report's ``novel_cluster_share`` (same seed, same points), so the mean of
    ``novel`` is that share.
    """
    reference = baseline.prompts_
    x = np.ascontiguousarray(prompt_embeddings, dtype=np.float32)
    pair = reference.pair(x, seed=seed)
    rows, scores = pair.window_scores
    if len(rows) < len(x):  # the window's statistics score a sample of large windows: score every row
        scores = np.concatenate([_all_scores(reference, x[start:start + _SCORE_BLOCK], seed)
                                 for start in range(0, len(x), _SCORE_BLOCK)])
    return RowNovelty(
        novel_cluster=np.asarray(pair.novel.labels, dtype=np.int64),
        distance_ratio=np.asarray(scores, dtype=np.float64) / pair.score_cutoff,
        nearest_cluster=np.asarray(pair.assignment[0], dtype=np.int64),
    )


def _all_scores(reference: Any, block: np.ndarray, seed: int) -> np.ndarray:
    rows, scores = reference.pair(block, seed=seed).window_scores
    if len(rows) != len(block):
        raise RuntimeError(f"a block of {len(block)} rows was only partly scored ({len(rows)})")
    return scores


# -- the window -------------------------------------------------------------------------------
@dataclass
class _Window:
    """The scored window: its report, every row's novelty and how to find a trace's row."""

    baseline: Any
    texts: TextData
    report: DriftReport
    rows: RowNovelty
    keys: tuple[str | None, str | None] = (None, None)  # the prompt and response fields the rows were read with
    by_id: dict[str, int] = field(default_factory=dict)
    by_text: dict[tuple[str, str | None], int] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)  # trace id -> why it is not in the window
    logged_to: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        responses = self.texts.responses
        for row, prompt in enumerate(self.texts.prompts):
            if self.texts.ids is not None and self.texts.ids[row]:
                self.by_id[self.texts.ids[row]] = row
            self.by_text.setdefault((prompt, responses[row] if responses is not None else None), row)
        for bad in self.texts.invalid:
            if bad.id:
                self.left_out.setdefault(bad.id, f"{bad.column}: {bad.reason}")

    def row_of(self, trace: Any, inputs: Any, outputs: Any) -> int:
        """The window row of the trace MLflow is scoring; DataError saying why when it has none."""
        trace_id = trace.info.trace_id if trace is not None else None
        if trace_id in self.by_id:
            return self.by_id[trace_id]
        if trace_id in self.left_out:
            raise DataError(f"trace {trace_id} was left out of the drift window ({self.left_out[trace_id]})")
        prompt_key, response_key = self.keys
        record = (trace_source.from_trace(trace, prompt_key=prompt_key, response_key=response_key) if trace is not None
                  else trace_source.read([{"inputs": inputs, "outputs": outputs}], prompt_key=prompt_key,
                                         response_key=response_key)[0])
        uses_responses = self.texts.responses is not None
        column, problem = "prompt", record.prompt_problem or text_reason(record.prompt)
        if problem is None and uses_responses:
            column, problem = "response", record.response_problem or text_reason(record.response)
        if problem is not None:
            raise DataError(f"this trace was left out of the drift window ({column}: {problem})")
        key = (record.prompt, record.response if uses_responses else None)
        if key not in self.by_text:
            raise DataError("this trace is not in the data given to drift_scorer(data=...): pass the same "
                            "rows as to mlflow.genai.evaluate")
        return self.by_text[key]

    def feedback(self, row: int, name: str) -> Feedback:
        """The assessment of one row: novel or not, and why in words and numbers."""
        reference = self.baseline.prompts_
        novel_id = int(self.rows.novel_cluster[row])
        ratio = float(self.rows.distance_ratio[row])
        nearest = int(self.rows.nearest_cluster[row])
        keywords = label_text(reference.cluster_labels_[nearest]) if reference.cluster_labels_ else ""
        topic = next((label_text(c.get("label")) for c in self.report.novel_clusters if c.get("id") == novel_id), "")
        where = (f"in new topic #{novel_id} of this window{f' ({topic})' if topic else ''}" if novel_id >= 0
                 else "not in a new topic of this window")
        rationale = (f"{where}; novelty {ratio:.2f}x the baseline's cut-off "
                     f"({'beyond' if ratio > 1 else 'within'} it); nearest baseline cluster {nearest}"
                     f"{f' ({keywords})' if keywords else ''}; window tier {self.report.tier}")
        metadata = {"distance_ratio": f"{ratio:.4f}", "beyond_cutoff": str(ratio > 1).lower(),
                    "nearest_cluster": str(nearest), "cluster_keywords": keywords, "novel_cluster": str(novel_id),
                    "novel_topic": topic, "window_tier": self.report.tier}
        return Feedback(name=name, value=novel_id >= 0, rationale=rationale, metadata=metadata)


# -- the scorer -------------------------------------------------------------------------------
class DriftScorer(Scorer):
    """Scores each trace's novelty against a drift baseline; logs the window's report to the run.

    Build it with :func:`drift_scorer`. ``timeout`` is off by default: the first call
    embeds the whole window, which may take longer than MLflow's per-call limit on a CPU.
    """

    name: str = FEEDBACK_NAME
    baseline: str
    seed: int = 0
    config: str | None = None
    embedding_model: str | None = None
    device: str = "auto"
    batch_size: int = 32
    tracking_uri: str | None = None
    prompt_key: str | None = None
    response_key: str | None = None
    timeout: int | float | None = 0

    _data: Any = PrivateAttr(default=None)
    _embedder: Any = PrivateAttr(default=None)
    _window: _Window | None = PrivateAttr(default=None)
    _failure: Exception | None = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def __call__(self, *, inputs: Any = None, outputs: Any = None, trace: Any = None) -> Feedback:
        with self._lock:
            if self._failure is not None:  # the window could not be scored: every row says why, none retries
                raise self._failure
            try:
                window = self._window or self._score_window()
            except Exception as exc:
                self._failure = exc
                raise
            self._log_to_run(window)
        return window.feedback(window.row_of(trace, inputs, outputs), self.name)

    @property
    def report(self) -> DriftReport | None:
        """The window's report, once the first row was scored."""
        return self._window.report if self._window is not None else None

    def _score_window(self) -> _Window:
        """Embed every row at once, compare the window to the baseline, keep each row's novelty."""
        if self._data is None:
            raise DataError(_NEEDS_DATA)
        texts = load_traces(self._data, prompt_key=self.prompt_key, response_key=self.response_key)
        baseline = fetch_baseline(self.baseline, self.tracking_uri)
        embedder = self._embedder or embedder_for_config(baseline, {
            "embedding_model": self.embedding_model, "device": self.device, "batch_size": self.batch_size,
            "config": self.config})
        policy = load_config(self.config).policy() if self.config else None
        report = compare(baseline, texts, embedder=embedder, policy=policy, seed=self.seed,
                         window_info={"source": "mlflow.genai.evaluate"})
        rows = row_novelty(baseline, embedder.encode(texts.prompts), seed=self.seed)  # read from the cache
        self._window = _Window(baseline, texts, report, rows, (self.prompt_key, self.response_key))
        return self._window

    def _log_to_run(self, window: _Window) -> None:
        """Log the report to the evaluation's run, once per run; a failure is spooled and warned about."""
        from mlflow import MlflowClient

        run_id = _evaluation_run_id()
        if run_id is None or run_id in window.logged_to:
            return
        window.logged_to.add(run_id)
        try:
            log_or_spool(MlflowClient(), run_id, window.report, {})
        except Exception as exc:  # noqa: BLE001 - the rows are still scored; the report is spooled
            log.warning("%s", exc)


def _evaluation_run_id() -> str | None:
    """The run ``mlflow.genai.evaluate`` scores into (its worker threads carry it), else the active run."""
    import mlflow
    from mlflow.genai.evaluation.context import get_context

    try:
        run_id = get_context().get_mlflow_run_id()
    except NotImplementedError:  # not inside an evaluation
        run_id = None
    if run_id is None and (active := mlflow.active_run()) is not None:
        run_id = active.info.run_id
    return run_id


def drift_scorer(
    baseline: str,
    *,
    data: Any = None,
    name: str = FEEDBACK_NAME,
    seed: int = 0,
    config: str | None = None,
    embedder: Any = None,
    embedding_model: str | None = None,
    device: str = "auto",
    batch_size: int = 32,
    tracking_uri: str | None = None,
    prompt_key: str | None = None,
    response_key: str | None = None,
) -> DriftScorer:
    """A scorer for ``mlflow.genai.evaluate(data, scorers=[drift_scorer(baseline=URI, data=data)])``.

    ``baseline`` is a directory or URI (``models:/NAME@ALIAS``, ``runs:/...``); ``data``
    the rows given to ``mlflow.genai.evaluate`` (a ``mlflow.search_traces`` DataFrame, a
    list of traces, or ``inputs``/``outputs`` rows); ``config`` a TOML file whose policy
    decides the tier; ``embedder`` an :class:`~drift_tracking.embedding.Embedder` to use
    (else one matching the baseline's model); ``prompt_key``/``response_key`` name the
    root span's input/output fields when the usual ones do not fit.
    """
    if data is None:
        raise DataError(_NEEDS_DATA)
    scorer = DriftScorer(name=name, baseline=str(baseline), seed=seed, config=config, embedding_model=embedding_model,
                         device=device, batch_size=batch_size, tracking_uri=tracking_uri, prompt_key=prompt_key,
                         response_key=response_key)
    scorer._data = data
    scorer._embedder = embedder
    return scorer
