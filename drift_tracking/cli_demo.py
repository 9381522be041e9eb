"""``drift-tracking demo``: the whole flow on generated support-bot traffic, in well under a minute.

One numbered progress line per stage, with how long it took, so nothing looks stuck and
``benchmarks/bench_demo.py`` can read where the time goes. Everything is written under
``--dir``: the data, the baseline, the reports, the MLflow store *and its artifacts*
(the experiment's artifact location is set inside the folder; MLflow would otherwise put
them in ``./mlruns`` of the working directory) and the offline W&B run.

Sizes: most of the demo's time is embedding (about 75% at the former 3,000-row baseline
with 2 x 1,000-row windows), so the defaults are the smallest that still show what the
demo is for, measured over seeds: a healthy window that stays ``ok`` and a drifted one
(40% new topics) that is ``critical`` on its own, with its novel clusters named.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from drift_tracking.baseline import Baseline
from drift_tracking.cli_common import EXIT_CODES_EPILOG, check_output_dir
from drift_tracking.cli_report import close_sinks, emit, exit_if_reached, format_report, open_sinks, write_report_dir
from drift_tracking.comparison import compare
from drift_tracking.data import load_texts
from drift_tracking.embedding import Embedder
from drift_tracking.integrations.common import scoped_env
from drift_tracking.report import DriftReport
from drift_tracking.sinks import Sink

N_BASELINE = 1000
N_WINDOW = 300
EXPERIMENT = "drift-tracking-demo"
WINDOWS = ("healthy", "drifted")
#: Everything the demo writes in its folder; a folder holding only these is reused without --force.
DEMO_FILES = ("baseline_period.jsonl", "window_healthy.jsonl", "window_drifted.jsonl", "baseline",
              "report_healthy.json", "report_drifted.json", "report", "mlflow.db", "mlartifacts", "wandb")


class Stages:
    """Numbered progress lines, each closed with its duration: ``[3/9] Embedding ... 8.1 s``."""

    def __init__(self, total: int) -> None:
        self.total, self.index = total, 0
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def __call__(self, text: str) -> Iterator[None]:
        self.index += 1
        click.echo(f"[{self.index}/{self.total}] {text} ...", nl=False)
        start = time.perf_counter()
        try:
            yield
        except BaseException:
            click.echo(" failed")
            raise
        click.echo(f" {time.perf_counter() - start:.1f} s")

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


@click.command(epilog=EXIT_CODES_EPILOG)
@click.option("--dir", "workdir", type=click.Path(file_okay=False), default="drift-demo", show_default=True,
              help="Where the demo writes everything: data, baseline, reports, MLflow store and artifacts, W&B run.")
@click.option("--n-baseline", type=click.IntRange(min=200), default=N_BASELINE, show_default=True,
              help="Generated rows (prompt and response) in the baseline period.")
@click.option("--n-window", type=click.IntRange(min=100), default=N_WINDOW, show_default=True,
              help="Generated rows in each of the two production windows (at most half the baseline).")
@click.option("--novel-share", type=click.FloatRange(0, 1), default=0.4, show_default=True,
              help="Share of the drifted window's prompts from topics absent from the baseline.")
@click.option("--mlflow/--no-mlflow", "use_mlflow", default=True, show_default=True,
              help="Log both windows to a local MLflow store (DIR/mlflow.db, artifacts in DIR/mlartifacts) as one run.")
@click.option("--wandb/--no-wandb", "use_wandb", default=True, show_default=True,
              help="Log both windows to an offline W&B run under DIR/wandb.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where to embed: auto uses a CUDA GPU (fp16) when present.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Texts per forward pass.")
@click.option("--force", is_flag=True, help="Write into --dir even though it holds files the demo did not write.")
def demo(
    workdir: str, n_baseline: int, n_window: int, novel_share: float, use_mlflow: bool, use_wandb: bool,
    device: str, batch_size: int, force: bool,
) -> None:
    """Run the whole flow on generated support-bot traffic: baseline, a healthy and a drifted window.

    Nothing leaves the machine and nothing is written outside DIR: the bundled model
    embeds, MLflow writes to a SQLite store in DIR, W&B runs offline in DIR/wandb, and
    DIR/report/report.html shows both windows without either. Under a minute on 2 idle CPU
    cores with an empty embedding cache (benchmarks/bench_demo.py times each stage).
    """
    check_output_dir(workdir, "--dir", force=force, ours=DEMO_FILES)
    if n_window > n_baseline // 2:
        raise click.BadParameter(f"{n_window} rows per window need a baseline of at least {2 * n_window} rows "
                                 "(thresholds are calibrated on baseline chunks of the window's size)",
                                 param_hint="--n-window")
    root = Path(workdir)
    stages = Stages(7 + use_mlflow + use_wandb)
    paths = _generate(stages, root, n_baseline, n_window, novel_share)
    with stages("Loading the embedding model (the bundled all-MiniLM-L6-v2)"):
        embedder = Embedder(device=device, batch_size=batch_size, show_progress=False)
        embedder.identity  # noqa: B018 - loads the model and checks its weights here, not in the next stage
    built = _fit_baseline(stages, root, paths["baseline"], embedder, n_window)
    reports = [_check_window(stages, root, built, embedder, index, paths[name], name, novel_share)
               for index, name in enumerate(WINDOWS)]
    closing: list[str] = []
    with stages(f"Writing both windows' HTML report to {root / 'report'}"):
        for index, report in enumerate(reports):
            page = write_report_dir(report, root / "report", [r.to_dict() for r in reports[:index]],
                                    per_window=True)
    closing.append(f"Open the report in a browser: {page}")
    failures: list[str] = []
    if use_mlflow:
        with scoped_env({"MLFLOW_DISABLE_TELEMETRY": "true"}):  # nothing leaves the machine
            failures += _log(stages, lambda: _mlflow_sinks(root), reports, closing,
                             f"Logging both windows to MLflow ({root / 'mlflow.db'}, artifacts in "
                             f"{root / 'mlartifacts'})")
        closing.append(f"See the MLflow run with: mlflow ui --backend-store-uri {_tracking_uri(root)}")
    if use_wandb:
        with scoped_env(_wandb_env(root / "wandb")):
            failures += _log(stages, lambda: open_sinks(
                use_mlflow=False, use_wandb=True, tracking_uri=None, experiment=EXPERIMENT, wandb_project=EXPERIMENT,
                wandb_dir=str(root), run_name="demo"), reports, closing,
                f"Logging both windows to an offline W&B run ({root / 'wandb'})")
    click.echo(f"\nDone in {stages.elapsed:.1f} s.")
    for line in closing:
        click.echo(line)
    exit_if_reached(None, [], failures)


def _generate(stages: Stages, root: Path, n_baseline: int, n_window: int, novel_share: float) -> dict[str, Path]:
    from drift_tracking import demo as samples  # demo data is loaded by this command only

    paths = {"baseline": root / "baseline_period.jsonl", "healthy": root / "window_healthy.jsonl",
             "drifted": root / "window_drifted.jsonl"}
    with stages(f"Generating support-bot traffic: {n_baseline:,} baseline rows, 2 windows of {n_window:,}"):
        root.mkdir(parents=True, exist_ok=True)
        samples.write(samples.generate(n_baseline, seed=1), paths["baseline"])
        samples.write(samples.generate(n_window, seed=2, start="2026-02-01T00:00:00Z"), paths["healthy"])
        samples.write(samples.generate(n_window, seed=3, novel_share=novel_share, start="2026-02-08T00:00:00Z"),
                      paths["drifted"])
    return paths


def _fit_baseline(stages: Stages, root: Path, path: Path, embedder: Embedder, n_window: int) -> Baseline:
    """Embed the baseline period (prompts and responses in one pass), fit, calibrate and save it."""
    data = load_texts(path, text_column="prompt", response_column="response")
    n = len(data.prompts)
    with stages(f"Embedding {n:,} baseline prompts and {n:,} responses on {embedder.device}"):
        vectors = embedder.encode(data.prompts + list(data.responses or []))
    with stages(f"Fitting the baseline: clusters, novelty scores, thresholds calibrated for windows of {n_window}"):
        built = Baseline(window_size=n_window).fit(
            vectors[:n], vectors[n:], identity=embedder.identity, texts=data.prompts,
            response_texts=data.responses, ids=data.ids, source=str(path))
        built.save(root / "baseline", overwrite=True)
    return built


def _check_window(stages: Stages, root: Path, built: Baseline, embedder: Embedder, index: int, path: Path,
                  name: str, novel_share: float) -> DriftReport:
    """Embed one window, measure and decide; print its report as soon as it is known."""
    window = load_texts(path, text_column="prompt", response_column="response", timestamp_column="timestamp")
    what = "same topics as the baseline" if name == "healthy" else f"{novel_share:.0%} of prompts on new topics"
    with stages(f"Checking the {name} window ({len(window.prompts):,} prompts and responses, {what})"):
        stamp = window.timestamps[-1] if window.timestamps else None
        report = compare(built, window, embedder=embedder,
                         window_info={"index": index, "name": name, "timestamp": stamp, "source": str(path)})
        (root / f"report_{name}.json").write_text(report.to_json())
    click.echo(click.style(f"\n== {name} window ({path.name})", bold=True))
    click.echo(format_report(report) + "\n")
    return report


def _wandb_env(folder: Path) -> dict[str, str]:
    """Offline even with a W&B key, and W&B's staging, cache and config files kept in the demo's folder."""
    return {"WANDB_MODE": "offline", "WANDB_DATA_DIR": str(folder / "data"), "WANDB_CACHE_DIR": str(folder / "cache"),
            "WANDB_CONFIG_DIR": str(folder / "config")}


def _tracking_uri(root: Path) -> str:
    return f"sqlite:///{(root / 'mlflow.db').resolve()}"


def _mlflow_sinks(root: Path) -> list[Sink]:
    """A sink for the demo's own store, whose experiment keeps its artifacts in DIR/mlartifacts."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=_tracking_uri(root))
    if client.get_experiment_by_name(EXPERIMENT) is None:
        client.create_experiment(EXPERIMENT, artifact_location=(root / "mlartifacts").resolve().as_uri())
    return open_sinks(use_mlflow=True, use_wandb=False, tracking_uri=_tracking_uri(root), experiment=EXPERIMENT,
                      wandb_project=EXPERIMENT, wandb_dir=None, run_name="demo")


def _log(stages: Stages, make_sinks: Callable[[], list[Sink]], reports: list[DriftReport], closing: list[str],
         text: str) -> list[str]:
    """Log every window as a step of one run and close it; returns the failures (each spooled and printed).

    Where the run is goes to ``closing``, printed once every stage is done.
    """
    failures: list[str] = []
    with stages(text):
        sinks = make_sinks()
        history: list[dict[str, Any]] = []
        for report in reports:
            failures += emit(report, sinks, history=history, announce=False)
            history.append(report.to_dict())
        failures += close_sinks(sinks, closing)
    return failures
