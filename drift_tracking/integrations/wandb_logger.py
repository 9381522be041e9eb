"""Weights & Biases: one run per monitor with one step per window, and baselines as Artifacts.

Offline first. Without ``WANDB_API_KEY`` (and without a ``WANDB_MODE`` the user chose)
runs are written offline under the directory the user gave and the closing line says
which ``wandb sync`` command uploads them, so a cron job never blocks on a login prompt
and nothing is lost when W&B is out of reach. An online start that fails falls back to an
offline run for the same reason.

Everything here is a view of the one :class:`~drift_tracking.report.DriftReport`: the
numbers and the tier are never recomputed, so W&B, MLflow and the CLI always agree.
wandb is imported only inside the functions that need it.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from drift_tracking import artifact
from drift_tracking.baseline import FORMAT_VERSION, KIND
from drift_tracking.cache import default_cache_dir
from drift_tracking.errors import ArtifactError, ConfigError
from drift_tracking.html_report import render_html
from drift_tracking.integrations.common import first_line, scoped_env
from drift_tracking.plots import png_bytes, report_figures
from drift_tracking.report import DriftReport, label_text

ARTIFACT_TYPE = "drift-baseline"
DEFAULT_PROJECT = "drift-tracking"
STEP_METRIC = "window"
REPORT_FILE = "drift_report.json"
HTML_FILE = "drift_report.html"
ALERT_LEVELS = {"critical": "ERROR", "review": "WARN"}

_OFFLINE_MODES = {"offline", "dryrun", "disabled"}
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_MAX_BASELINE_POINTS = 1000
_MAX_WINDOW_POINTS = 1000
_MAX_NOVEL_PROMPTS = 50


# -- mode and run lifecycle -------------------------------------------------------------
def wandb_mode() -> str:
    """``online`` only when the user asked for it or gave a key; ``offline`` otherwise."""
    chosen = os.environ.get("WANDB_MODE", "").strip().lower()
    if chosen:
        return "offline" if chosen == "dryrun" else chosen
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


# Quiet and light: no console capture, system metrics, git or requirements scan; flush the
# record file every 2 s (default 15 s) so a crash loses little.
_SETTINGS = {
    "console": "off", "silent": True, "save_code": False, "disable_git": True,
    "x_disable_stats": True, "x_disable_meta": True, "x_disable_machine_info": True,
    "x_save_requirements": False, "x_transaction_log_flush_interval": 2.0,
}


def _import_wandb() -> Any:
    try:
        import wandb
    except ImportError as exc:  # pragma: no cover - wandb is a dependency
        raise ConfigError("the W&B integration needs the wandb package: pip install wandb") from exc
    return wandb


def _start_run(*, project: str, dir: str | os.PathLike[str] | None, entity: str | None = None,
               **init_kwargs: Any) -> tuple[Any, str | None]:
    """Start a run; returns it and a note when an online start failed and it went offline."""
    wandb = _import_wandb()
    mode = wandb_mode()
    root = Path(dir) if dir is not None else Path(os.environ.get("WANDB_DIR") or ".")
    root.mkdir(parents=True, exist_ok=True)
    kwargs = {"project": project, "entity": entity, "dir": str(root), "reinit": "create_new",
              "settings": wandb.Settings(**_SETTINGS), **init_kwargs}
    with scoped_env({"WANDB_MODE": mode}):  # the environment, not only mode=: no network lookup offline
        try:
            return wandb.init(mode=mode, **kwargs), None
        except Exception as exc:  # wandb raises many types (CommError, UsageError, timeouts)
            if mode in _OFFLINE_MODES:
                raise ConfigError(f"could not start an offline W&B run under {root}: {exc}") from exc
            note = f"W&B could not be reached ({type(exc).__name__}: {first_line(exc)}); the run was kept offline."
    with scoped_env({"WANDB_MODE": "offline"}):
        return wandb.init(mode="offline", **kwargs), note


def _run_dir(run: Any) -> str:
    return str(run.settings.sync_dir)


def _online_url(run: Any) -> str | None:
    return run.url if run.settings.mode == "online" and run.url else None


def _where(run: Any) -> str:
    return _online_url(run) or _run_dir(run)


def _location(run: Any) -> str:
    """Where the finished run is, with the command that uploads it when it is offline."""
    if _online_url(run):
        return f"W&B run {run.url}"
    return f"offline W&B run {_run_dir(run)}; upload it with: wandb sync {_run_dir(run)}"


# -- what one report becomes ----------------------------------------------------------
def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def summary_values(report: DriftReport, step: int) -> dict[str, Any]:
    """The latest decision in words, for the run table and the overview page."""
    window = report.window or {}
    return {
        "drift/tier": report.tier,
        "drift/tier_reasons": "\n".join(report.tier_reasons),
        "drift/drift_kind": report.drift_kind,
        "drift/window": step,
        "drift/window_start": str(window.get("start") or ""),
        "drift/window_end": str(window.get("end") or ""),
        "drift/retrain_reason": report.retrain_reason or "",
    }


def _table(wandb: Any, rows: list[dict[str, Any]]) -> Any:
    """A W&B table from a report view's rows (their keys are the columns)."""
    columns = list(rows[0]) if rows else []
    return wandb.Table(columns=columns, data=[list(r.values()) for r in rows])


def projection_rows(report: DriftReport) -> tuple[list[str], list[list[Any]]]:
    """2-D points of baseline and window, one row each, for an interactive scatter."""
    columns = ["x", "y", "source", "cluster", "novel", "text"]
    proj = report.projection
    if proj is None:
        return columns, []
    rows: list[list[Any]] = []
    for (x, y), c in list(zip(proj.baseline_xy.tolist(), proj.baseline_cluster.tolist()))[:_MAX_BASELINE_POINTS]:
        rows.append([x, y, "baseline", int(c), False, ""])
    texts = list(proj.window_texts) or [""] * len(proj.window_xy)
    window = zip(proj.window_xy.tolist(), proj.window_cluster.tolist(), proj.window_novel.tolist(), texts)
    for (x, y), c, novel, text in list(window)[:_MAX_WINDOW_POINTS]:
        rows.append([x, y, "window novel" if novel else "window", int(c), bool(novel), text])
    return columns, rows


def alert_text(report: DriftReport, step: int) -> tuple[str, str] | None:
    """Title and short body for a ``review`` or ``critical`` window; None when ``ok``."""
    if report.tier not in ALERT_LEVELS:
        return None
    title = f"Drift {report.tier.upper()} in window {step}"
    reasons = "; ".join(report.tier_reasons[:3])
    look = []
    if report.novel_clusters:
        share = report.metrics.get("novel_cluster_share")
        share_text = f"{share:.0%} of prompts in " if _finite(share) else ""
        example = (report.novel_clusters[0].get("examples") or [""])[0][:80]
        look.append(f"tables/novel_prompts ({share_text}{len(report.novel_clusters)} new cluster(s), "
                    f"e.g. {example!r})")
    if report.cluster_shift:
        top = report.cluster_shift[0]
        label = label_text(top.get("label"))
        named = f"cluster {top['cluster']} {label!r}" if label else f"cluster {top['cluster']}"
        look.append(f"tables/cluster_shift ({named} {top['change']:+.1%})")
    text = f"{reasons}. Look at: {', '.join(look) or 'plots/cluster_shares'}."
    if report.retrain_recommended and report.retrain_reason:
        text += f" Retraining recommended: {report.retrain_reason}"
    return title, text


def _image(wandb: Any, png: bytes) -> Any:
    # PNG bytes through PIL: wandb.Image(figure) needs pyplot, which the plots module avoids.
    from PIL import Image

    return wandb.Image(Image.open(io.BytesIO(png)))


# -- the sink -------------------------------------------------------------------------
class WandbSink:
    """Logs each window's report as one step of one W&B run (see the module docstring).

    Metrics go under ``drift/`` against the ``window`` step metric; images under
    ``plots/``; tables under ``tables/``; a ``review``/``critical`` window raises a W&B
    alert (WARN/ERROR). The run starts with the first report and ends at :meth:`close`.
    """

    name = "wandb"

    def __init__(self, project: str = DEFAULT_PROJECT, dir: str | os.PathLike[str] | None = None,
                 run_name: str | None = None, *, entity: str | None = None) -> None:
        self.project = project or DEFAULT_PROJECT
        self.dir = dir
        self.run_name = run_name
        self.entity = entity
        self.run: Any = None
        self._note: str | None = None
        self._history: list[dict[str, Any]] = []
        self._last: DriftReport | None = None
        self._last_png: dict[str, bytes] | None = None  # the last window's figures, reused by the HTML page

    def __enter__(self) -> "WandbSink":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _start(self, report: DriftReport) -> Any:
        config = {"baseline": report.baseline, "model": report.model, "thresholds": report.thresholds}
        self.run, self._note = _start_run(
            project=self.project, dir=self.dir, entity=self.entity, name=self.run_name,
            job_type="drift-monitor", tags=["drift-tracking"], config=config,
        )
        self.run.define_metric(STEP_METRIC)
        for prefix in ("drift/*", "plots/*", "tables/*"):
            self.run.define_metric(prefix, step_metric=STEP_METRIC)
        return self.run

    def log_report(self, report: DriftReport, *, history: Sequence[Mapping[str, Any]] = ()) -> str | None:
        """Log one window; ``report.window['index']`` is its step. Returns the run's place."""
        wandb = _import_wandb()
        run = self.run or self._start(report)
        step = report.step(default=len(self._history))
        self._history = report.history_with(list(history) or self._history)
        payload: dict[str, Any] = {STEP_METRIC: step, **report.metric_series(), **report.decision_series(),
                                   **report.cost_series()}
        payload.update(self._media(wandb, report))
        run.log(payload)
        run.summary.update(summary_values(report, step))
        alert = alert_text(report, step)
        if alert:
            level = getattr(wandb.AlertLevel, ALERT_LEVELS[report.tier])
            run.alert(title=alert[0], text=alert[1], level=level, wait_duration=1)
        report_json = report.to_json()
        _save_file(run, f"reports/window_{step}.json", report_json, policy="now")
        _save_file(run, REPORT_FILE, report_json, policy="end")
        self._last = report
        return f"window {step} -> {_where(run)}"

    def _media(self, wandb: Any, report: DriftReport) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self._last_png = None
        try:
            figures = report_figures(report, history=self._history)
            self._last_png = {name: png_bytes(fig) for name, fig in figures.items()}
            for name, png in self._last_png.items():
                if name != "metric_timeseries" or len(self._history) >= 2:  # a one-point series says nothing yet
                    out[f"plots/{name}"] = _image(wandb, png)
        except Exception as exc:  # a figure that cannot be drawn must not cost the metrics
            warnings.warn(f"W&B: figures for this window could not be drawn: {exc}", stacklevel=2)
        out["tables/cluster_shift"] = _table(wandb, report.cluster_shift_rows())
        novel = report.novel_prompt_rows()[:_MAX_NOVEL_PROMPTS]
        if novel:
            out["tables/novel_prompts"] = _table(wandb, novel)
        columns, rows = projection_rows(report)
        if rows:
            table = wandb.Table(columns=columns, data=rows)
            out["plots/projection"] = wandb.plot.scatter(
                table, "x", "y", title="Prompt embeddings (baseline PCA): baseline vs window"
            )
        return out

    def close(self) -> str | None:
        """Finish the run; returns where it is, or the ``wandb sync`` command when offline."""
        if self.run is None:
            return None
        run, self.run = self.run, None
        try:
            if self._last is not None:
                page = render_html(self._last, history=self._history, figures_png=self._last_png)
                _save_file(run, HTML_FILE, page, policy="end")
        finally:
            run.finish()
        line = f"Drift reports for {len(self._history)} window(s): {_location(run)}"
        return f"{self._note} {line}" if self._note else line


def _save_file(run: Any, name: str, text: str, *, policy: str) -> Path:
    """Write ``name`` in the run's files directory and register it for upload."""
    path = Path(run.dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    run.save(str(path), base_path=run.dir, policy=policy)
    return path


# -- baseline artifacts ---------------------------------------------------------------
def _check_name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise ConfigError(
            f"W&B {what} {value!r} may hold only letters, digits, '-', '_' and '.'; use e.g. 'production'"
        )
    return value


def log_baseline_artifact(path: str | os.PathLike[str], *, project: str = DEFAULT_PROJECT,
                          aliases: Sequence[str] = (), dir: str | os.PathLike[str] | None = None,
                          name: str = ARTIFACT_TYPE, entity: str | None = None) -> str:
    """Log a saved baseline directory as an Artifact of type ``drift-baseline``.

    The directory is verified first, so a corrupted baseline never becomes ``latest``.
    Offline the artifact waits in the run for ``wandb sync``. Returns a line for the user.
    """
    manifest = artifact.verify(path, kind=KIND, supported_versions={FORMAT_VERSION})
    _check_name(name, "artifact name")
    all_aliases = list(dict.fromkeys(["latest", *(_check_name(a, "alias") for a in aliases)]))
    version = manifest["content_sha256"][:12]
    metadata = {
        "baseline_version": version,
        "content_sha256": manifest["content_sha256"],
        "format_version": manifest.get("format_version"),
        "model": manifest.get("model"),
        "n_samples": manifest.get("n_samples"),
        "has_responses": manifest.get("has_responses"),
        "created_at": manifest.get("created_at"),
        "source": manifest.get("source"),
    }
    wandb = _import_wandb()
    run, note = _start_run(project=project, dir=dir, entity=entity, name=f"baseline-{version}",
                           job_type="baseline", tags=["drift-tracking"])
    try:
        art = wandb.Artifact(name, type=ARTIFACT_TYPE, metadata=metadata,
                             description=f"drift-tracking baseline {version} ({metadata['n_samples']} samples)")
        art.add_dir(str(path))
        run.log_artifact(art, aliases=all_aliases)
    finally:
        run.finish()
    uri = f"wandb:{run.entity or 'ENTITY'}/{run.project}/{name}:{all_aliases[-1]}"
    line = (f"Baseline {version} logged as W&B artifact {name} (type {ARTIFACT_TYPE}, aliases "
            f"{', '.join(all_aliases)}) in {_location(run)}. Check against it with --baseline {uri}")
    return f"{note} {line}" if note else line


def parse_wandb_uri(uri: str) -> tuple[str, str, str, str]:
    """``wandb:ENTITY/PROJECT/NAME:ALIAS`` -> (entity, project, name, alias); alias defaults to latest."""
    body = uri.removeprefix("wandb:").lstrip("/")
    path, _, alias = body.partition(":")
    parts = path.split("/")
    if len(parts) != 3 or not all(parts):
        raise ArtifactError(
            f"W&B baseline URI {uri!r} must look like wandb:ENTITY/PROJECT/NAME:ALIAS "
            "(e.g. wandb:my-team/drift-tracking/drift-baseline:production)"
        )
    return parts[0], parts[1], parts[2], alias or "latest"


def download_baseline(uri: str, *, root: str | os.PathLike[str] | None = None) -> Path:
    """Download the baseline artifact ``uri`` and check it is the one that was logged."""
    entity, project, name, alias = parse_wandb_uri(uri)
    if wandb_mode() != "online":
        raise ArtifactError(
            f"cannot download {uri}: W&B is offline here (no WANDB_API_KEY, or WANDB_MODE="
            f"{os.environ.get('WANDB_MODE') or 'unset'}). Pass the local baseline directory instead "
            "(--baseline path/to/baseline), or set WANDB_API_KEY to download it"
        )
    wandb = _import_wandb()
    try:
        art = wandb.Api().artifact(f"{entity}/{project}/{name}:{alias}", type=ARTIFACT_TYPE)
        if root is None:
            root = default_cache_dir() / "wandb" / entity / project / f"{name}-{art.digest[:16]}"
        target = Path(art.download(root=str(root)))
    except Exception as exc:  # wandb raises CommError, ValueError, HTTP errors...
        raise ArtifactError(
            f"could not download {uri} from W&B ({type(exc).__name__}: {exc}); check ENTITY/PROJECT/NAME:ALIAS "
            "and that WANDB_API_KEY can read that project, or pass a local baseline directory"
        ) from exc
    expected = (art.metadata or {}).get("content_sha256")
    manifest = target / "manifest.json"
    found = json.loads(manifest.read_text()).get("content_sha256") if manifest.exists() else None
    if expected and found != expected:
        raise ArtifactError(
            f"{uri} downloaded to {target} does not match what was logged (content sha256 {found} != "
            f"{expected}); delete {target} and retry"
        )
    return target
