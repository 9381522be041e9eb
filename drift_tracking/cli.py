"""The ``drift-tracking`` command line: thin click commands over the library.

Exit codes scripts can rely on:

* 0 success, whatever the tier (unless ``--fail-on``);
* 1 the ``--fail-on`` tier was reached (it wins over 3: a gate must not miss a block);
* 2 usage or input error, one line on stderr (with ``--strict``, also a window where
  more than half the rows are invalid);
* 3 a sink (MLflow, W&B) failed: the report was still printed and written, and spooled
  for ``drift-tracking relog``, which the warning names.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

import click

from drift_tracking.baseline import Baseline
from drift_tracking.comparison import compare
from drift_tracking.config import Config, load_config
from drift_tracking.data import TextData, load_texts
from drift_tracking.embedding import BACKENDS, Embedder, embedder_for_baseline
from drift_tracking.engines import ENGINES
from drift_tracking.errors import ConfigError, DriftTrackingError
from drift_tracking.integrations import load_baseline
from drift_tracking.integrations.mlflow_registry import register_baseline
from drift_tracking.integrations.mlflow_sink import MlflowSink
from drift_tracking.integrations.relog import relog as relog_reports
from drift_tracking.integrations.wandb_logger import WandbSink, log_baseline_artifact
from drift_tracking.monitor import History, Monitor
from drift_tracking.quality import QualitySource, reference_values
from drift_tracking.report import TIER_LEVEL, DriftReport
from drift_tracking.sinks import Sink, SinkFailed, failure_text, spool_failed

TIER_COLOURS = {"ok": "green", "review": "yellow", "critical": "red"}
EXIT_SINK_FAILED = 3
EXIT_CODES = (
    "\b\nExit codes: 0 success (whatever the tier); 1 the --fail-on tier was reached; 2 usage or input\n"
    "error (--strict: a mostly invalid window); 3 a sink failed (report printed and spooled for relog)."
)


class _Group(click.Group):
    """Turns library errors into one-line messages with exit code 2, like click's usage errors."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DriftTrackingError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=EXIT_CODES)
@click.version_option(package_name="drift-tracking")
def main() -> None:
    """Detect when a deployed LLM's traffic or answer quality drifts from a good baseline.

    \b
    Typical use:
      drift-tracking baseline build good_period.jsonl --text-column prompt --out baseline/
      drift-tracking check last_week.jsonl --baseline baseline/ --text-column prompt
    Try `drift-tracking demo` first: it runs the whole flow on generated data.
    """


# -- shared options ------------------------------------------------------------------
_BASELINE_OPTION = click.option("--baseline", "baseline_uri", required=True, help="Baseline directory or URI.")
_MODEL_OPTION = click.option("--model", default=None,
                             help="Embedding model (name or folder) when the baseline's is not the bundled one or "
                             "on [embedding] allowed_models; its files must hash to the baseline's pinned weights.")
_FORMAT_OPTION = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                              show_default=True)
_STRICT_OPTION = click.option("--strict", is_flag=True,
                              help="Refuse (exit 2) a window where more than half the rows are invalid, "
                                   "instead of deciding on the rest with a warning.")


def _model_options(func: Any) -> Any:
    func = click.option(
        "--device",
        type=click.Choice(["auto", "cpu", "cuda"]),
        default="auto",
        show_default=True,
        help="Where to embed: auto uses a CUDA GPU (fp16) when present.",
    )(func)
    func = click.option(
        "--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="Texts per forward pass."
    )(func)
    return func


def _backend_options(func: Any) -> Any:
    """--backend, --embedding-endpoint and --price-per-1k-tokens, handed to the command as one ``embedding`` dict."""

    @functools.wraps(func)
    def command(*args: Any, backend: str | None, embedding_endpoint: str | None,
                price_per_1k_tokens: float | None, **kwargs: Any) -> Any:
        choice = {"backend": backend, "endpoint": embedding_endpoint, "price_per_1k_tokens": price_per_1k_tokens}
        return func(*args, embedding=choice, **kwargs)

    options = [
        click.option("--price-per-1k-tokens", type=click.FloatRange(min=0), default=None,
                     help="What 1,000 embedded tokens cost (an endpoint's list price); reports then carry the "
                          "window's cost [default: [embedding] price_per_1k_tokens in --config]."),
        click.option("--embedding-endpoint", metavar="URL", default=None,
                     help="Embed through an OpenAI-compatible /v1/embeddings endpoint instead of in-process; "
                          "--model names the served model; the key is read from $DRIFT_TRACKING_EMBEDDING_API_KEY "
                          "or $OPENAI_API_KEY."),
        click.option("--backend", type=click.Choice(BACKENDS), default=None,
                     help="In-process runtime: torch (sentence-transformers), onnx or onnx-int8 (ONNX Runtime on "
                          "CPU: pip install 'drift-tracking[onnx]') [default: the baseline's; torch for a new one]."),
    ]
    for option in options:
        command = option(command)
    return command


def _data_options(func: Any) -> Any:
    func = click.option(
        "--response-column", default=None, help="Column holding the model's responses (optional)."
    )(func)
    func = click.option(
        "--text-column",
        default="prompt",
        show_default=True,
        help="Column holding the prompts; use 'messages' for OpenAI-style chat logs.",
    )(func)
    return func


def _sink_options(func: Any) -> Any:
    options = [
        click.option("--wandb-dir", type=click.Path(file_okay=False), default=None,
                     help="Where offline W&B runs are written [default: ./wandb].")
        ,
        click.option("--wandb-project", default="drift-tracking", show_default=True, help="W&B project."),
        click.option("--wandb", "use_wandb", is_flag=True,
                     help="Log to Weights & Biases (offline unless WANDB_API_KEY is set)."),
        click.option("--experiment", default="drift-tracking", show_default=True, help="MLflow experiment name."),
        click.option("--tracking-uri", default=None,
                     help="MLflow tracking URI [default: $MLFLOW_TRACKING_URI, else a local store]."),
        click.option("--mlflow", "use_mlflow", is_flag=True, help="Log the report to an MLflow run."),
    ]
    for option in options:
        func = option(func)
    return func


def open_sinks(
    *, use_mlflow: bool, use_wandb: bool, tracking_uri: str | None, experiment: str,
    wandb_project: str, wandb_dir: str | None, run_name: str | None = None,
) -> list[Sink]:
    """The sinks a command logs to; each imports its SDK only here."""
    sinks: list[Sink] = []
    if use_mlflow:
        sinks.append(MlflowSink(tracking_uri=tracking_uri, experiment_name=experiment, run_name=run_name))
    if use_wandb:
        sinks.append(WandbSink(project=wandb_project, dir=wandb_dir, run_name=run_name))
    return sinks


def emit(report: DriftReport, sinks: list[Sink], history: list[dict[str, Any]] | None = None) -> list[str]:
    """Send a report to every sink; returns the failures, each spooled and already printed as a warning.

    Whatever a sink raises, the report is kept (the sink spools it, or this does) and the
    others still get it: a sink can cost an exit code (3), never the report.
    """
    failures: list[str] = []
    for sink in sinks:
        try:
            where = sink.log_report(report, history=history or ())
            if where:
                click.echo(f"Logged to {sink.name}: {where}", err=True)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            failure = exc if isinstance(exc, SinkFailed) else spool_failed(sink, report, history or (), exc)
            click.echo(click.style(f"warning: {failure}", fg="yellow"), err=True)
            failures.append(str(failure))
    return failures


def close_sinks(sinks: list[Sink]) -> list[str]:
    """Close every sink, printing its closing line; returns the failures (printed as warnings)."""
    failures: list[str] = []
    for sink in sinks:
        try:
            line = sink.close()
        except Exception as exc:  # noqa: BLE001 - one sink failing to close must not stop the others
            failures.append(str(exc) if isinstance(exc, DriftTrackingError) else
                            f"{sink.name} could not be closed ({failure_text(exc)})")
            click.echo(click.style(f"warning: {failures[-1]}", fg="yellow"), err=True)
            continue
        if line:
            click.echo(line, err=True)
    return failures


def _embedder(model: str | None, device: str, batch_size: int, **embedding: Any) -> Embedder:
    return Embedder(model, device=device, batch_size=batch_size, **embedding)


def _load(data: str, text_column: str, response_column: str | None, config: Config, tracking_uri: str | None = None,
          **columns: str | None) -> TextData:
    """The rows of DATA; response ids are read when feedback is configured (flags join on them).

    A ``traces:/EXPERIMENT`` DATA is read from ``tracking_uri`` (default $MLFLOW_TRACKING_URI).
    """
    id_column = config.feedback.id_column if config.feedback.path else None
    texts = load_texts(data, text_column=text_column, response_column=response_column, id_column=id_column,
                       tracking_uri=tracking_uri, **columns)
    if texts.n_invalid:
        summary = texts.invalid_summary()
        click.echo(f"Skipped {texts.n_invalid} invalid row(s) in {data}: {json.dumps(summary)}", err=True)
        if summary.get("warning"):
            click.echo(click.style(f"warning: {summary['warning']}", fg="yellow"), err=True)
    return texts


def _engine_options(func: Any) -> Any:
    func = click.option("--ray-address", default=None,
                        help="Ray cluster for --engine ray (auto, ray://HOST:10001) [default: $RAY_ADDRESS, else a "
                             "local one].")(func)
    func = click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
                        help="Where to read, embed and measure: this process, or a Ray cluster (pip install "
                             "'drift-tracking[ray]'; DATA may then be a folder, a glob or a URL such as s3://...).")(func)
    return func


def _in_process_backend_only(embedding: dict[str, Any]) -> None:
    """Ray's actors embed with the in-process torch model; other backends run on the local engine."""
    if (embedding.get("backend") or "torch") != "torch" or embedding.get("endpoint"):
        raise click.UsageError("--engine ray embeds with the in-process torch model: drop --backend and "
                               "--embedding-endpoint, or use --engine local")


def _ray_engine(address: str | None, device: str) -> Any:
    from drift_tracking.engines.ray_engine import RayEngine  # imports no Ray until it connects

    return RayEngine(address, gpus=device != "cpu")


def _ray_inputs(baseline_uri: str, tracking_uri: str | None, data: str, config: Config, model: str | None,
                batch_size: int) -> tuple[Baseline, Any, QualitySource | None]:
    """What check and monitor on Ray start from: the baseline, its actors' embedder, the golden set."""
    from drift_tracking.engines.ray_engine import embedder_factory

    loaded = load_baseline(baseline_uri, tracking_uri=tracking_uri)
    make_embedder = embedder_factory(model, baseline=loaded, allowed_models=config.embedding.allowed_models,
                                     batch_size=batch_size)
    return loaded, make_embedder, _ray_quality(config, data, make_embedder)


def _ray_quality(config: Config, data: str, make_embedder: Any) -> QualitySource | None:
    """The golden set on the Ray engine (scored here); per-row rewards and flags are local-engine only."""
    if config.reward.column or config.feedback.path:
        raise ConfigError("--reward-column and --feedback read every row's value: use --engine local for them")
    if not config.golden.path:
        return None
    return QualitySource.from_config(config, data, None, embedder=make_embedder())


def _policy_options(func: Any) -> Any:
    options = [
        click.option("--feedback", "feedback_path", type=click.Path(dir_okay=False), default=None,
                     help="User flags per response id (.jsonl/.csv: id, flag); reports flag rate vs baseline."),
        click.option("--reward-column", default=None,
                     help="Column of reward-model scores; reports the mean's relative drop from the baseline."),
        click.option("--golden", "golden_path", type=click.Path(dir_okay=False), default=None,
                     help="Golden set (.jsonl/.csv: prompt, expected, answer); reports accuracy vs baseline."),
        click.option("--history", "history_dir", type=click.Path(file_okay=False), default=None,
                     help="Directory of the window history (append-only JSONL) used for persistence "
                          "[default: next to a local baseline for monitor; none for check]."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                     help="TOML file: thresholds mode and levels, persistence, golden set, reward, feedback."),
    ]
    for option in options:
        func = option(func)
    return func


def _config(config_path: str | None, **overrides: Any) -> Config:
    """The configuration file (or defaults) with command-line options taking precedence, validated once."""
    config = load_config(config_path) if config_path else Config()
    return config.with_overrides(
        golden={"path": overrides.get("golden_path")},
        reward={"column": overrides.get("reward_column")},
        feedback={"path": overrides.get("feedback_path")},
        monitor={"history": overrides.get("history_dir"), "window": overrides.get("freq"),
                 "timestamp_column": overrides.get("timestamp_column"), "min_window": overrides.get("min_window")},
    )


def _quality(config: Config, data: str, texts: TextData, embedder: Embedder) -> QualitySource | None:
    source = QualitySource.from_config(config, data, texts, embedder=embedder)
    return None if source.empty else source


# -- baseline ------------------------------------------------------------------------
@main.group()
def baseline() -> None:
    """Build and inspect baselines (the reference a window is compared to)."""


@baseline.command("build")
@click.argument("data", type=click.Path())
@_data_options
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Directory to write.")
@click.option("--clusters", type=click.IntRange(min=2), default=None, help="K-means clusters [default: sqrt(n)/3].")
@click.option("--window-size", type=click.IntRange(min=20), default=None,
              help="Prompts per production window, to calibrate thresholds for [default: n/4, 100 to 1,000].")
@click.option("--golden", "golden_path", type=click.Path(dir_okay=False), default=None,
              help="Golden set answered in the good period (prompt, expected, answer): stores its accuracy.")
@click.option("--reward-column", default=None, help="Column of reward-model scores: stores their mean.")
@click.option("--feedback", "feedback_path", type=click.Path(dir_okay=False), default=None,
              help="User flags per response id (id, flag) for the good period: stores the flag rate.")
@click.option("--model", default=None, help="sentence-transformers model name or path, or the model an "
              "--embedding-endpoint serves [default: bundled MiniLM].")
@_model_options
@_backend_options
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@click.option("--register", "register_name", default=None,
              help="Also log the baseline to MLflow and register it under this model name.")
@click.option("--alias", "aliases", multiple=True,
              help="Alias for the registered baseline (MLflow) or artifact (W&B), e.g. production. Repeatable.")
@click.option("--tracking-uri", default=None, help="MLflow tracking URI for --register.")
@click.option("--wandb", "use_wandb", is_flag=True, help="Also log the baseline as a W&B Artifact (drift-baseline).")
@click.option("--wandb-project", default="drift-tracking", show_default=True, help="W&B project for --wandb.")
@click.option("--wandb-dir", type=click.Path(file_okay=False), default=None,
              help="Where an offline W&B run is written [default: ./wandb].")
@_engine_options
def baseline_build(
    data: str,
    text_column: str,
    response_column: str | None,
    out: str,
    clusters: int | None,
    window_size: int | None,
    golden_path: str | None,
    reward_column: str | None,
    feedback_path: str | None,
    model: str | None,
    device: str,
    batch_size: int,
    seed: int,
    force: bool,
    register_name: str | None,
    aliases: tuple[str, ...],
    tracking_uri: str | None,
    use_wandb: bool,
    wandb_project: str,
    wandb_dir: str | None,
    embedding: dict[str, Any],
    engine: str,
    ray_address: str | None,
) -> None:
    """Embed DATA (.jsonl, .csv, .parquet) and save a checksummed baseline to --out."""
    if Path(out).exists() and (not Path(out).is_dir() or any(Path(out).iterdir())) and not force:
        raise click.BadParameter(f"{out} already exists and is not empty; pass --force to overwrite it", param_hint="--out")
    config = _config(None, golden_path=golden_path, reward_column=reward_column, feedback_path=feedback_path)
    if engine == "ray":
        from drift_tracking.engines.ray_engine import embedder_factory

        _in_process_backend_only(embedding)
        make_embedder = embedder_factory(model, batch_size=batch_size)
        quality = _ray_quality(config, data, make_embedder)
        reference = reference_values(golden=quality.golden) if quality else {}
        click.echo(f"Embedding {data} on Ray ...", err=True)
        built = _ray_engine(ray_address, device).build_baseline(
            data, make_embedder, text_column=text_column, response_column=response_column, n_clusters=clusters,
            window_size=window_size, seed=seed, quality=reference)
        _save_built(built, out, force, register_name, aliases, tracking_uri, use_wandb, wandb_project, wandb_dir)
        return
    texts = _load(data, text_column, response_column, config, tracking_uri)
    embedder = _embedder(model, device, batch_size, **embedding)
    quality = _quality(config, data, texts, embedder)
    reference = reference_values(golden=quality.golden, rewards=quality.rewards, flags=quality.flags) if quality else {}
    if reference:
        click.echo(f"Quality of the good period: {json.dumps(reference)}", err=True)
    click.echo(f"Embedding {len(texts)} prompts with {embedder.model_name} ...", err=True)
    built = Baseline(n_clusters=clusters, window_size=window_size, seed=seed).fit_texts(
        texts.prompts, texts.responses, embedder=embedder, ids=texts.ids, quality=reference, source=str(data),
    )
    _save_built(built, out, force, register_name, aliases, tracking_uri, use_wandb, wandb_project, wandb_dir)


def _save_built(built: Baseline, out: str, force: bool, register_name: str | None, aliases: tuple[str, ...],
                tracking_uri: str | None, use_wandb: bool, wandb_project: str, wandb_dir: str | None) -> None:
    """Save a fitted baseline and register it where asked (both engines)."""
    path = built.save(out, overwrite=force)
    click.echo(f"Saved baseline {built.version} ({len(built)} samples, {built.prompts_.n_clusters} clusters) to {path}")
    if register_name:
        registered = register_baseline(path, register_name, aliases=aliases, tracking_uri=tracking_uri)
        click.echo(f"Registered in MLflow as {registered.uri} (version {registered.version})")
    if use_wandb:
        click.echo(log_baseline_artifact(path, project=wandb_project, aliases=aliases, dir=wandb_dir))


@baseline.command("show")
@click.argument("uri")
def baseline_show(uri: str) -> None:
    """Verify a baseline's checksums and print its manifest."""
    loaded = Baseline.load(uri)
    click.echo(json.dumps({**loaded.describe(), "model": loaded.identity_.to_dict()}, indent=2))


# -- check ---------------------------------------------------------------------------
@main.command(epilog=EXIT_CODES)
@click.argument("data", type=click.Path())
@_BASELINE_OPTION
@_data_options
@_FORMAT_OPTION
@_STRICT_OPTION
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Also write the JSON report here.")
@click.option(
    "--fail-on",
    type=click.Choice(["review", "critical"]),
    default=None,
    help="Exit 1 when the tier reaches this level (for CI and cron).",
)
@_MODEL_OPTION
@_policy_options
@_model_options
@_backend_options
@_sink_options
@_engine_options
def check(
    data: str,
    baseline_uri: str,
    text_column: str,
    response_column: str | None,
    fmt: str,
    strict: bool,
    out: str | None,
    fail_on: str | None,
    model: str | None,
    config_path: str | None,
    history_dir: str | None,
    golden_path: str | None,
    reward_column: str | None,
    feedback_path: str | None,
    device: str,
    batch_size: int,
    use_mlflow: bool,
    tracking_uri: str | None,
    experiment: str,
    use_wandb: bool,
    wandb_project: str,
    wandb_dir: str | None,
    embedding: dict[str, Any],
    engine: str,
    ray_address: str | None,
) -> None:
    """Compare the production window in DATA to a baseline and print the decision.

    BASELINE is a directory or an MLflow / W&B URI (models:/NAME@ALIAS, runs:/..., wandb:...).
    With --history the window is recorded and earlier windows count for persistence.
    """
    config = _config(config_path, golden_path=golden_path, reward_column=reward_column,
                     feedback_path=feedback_path, history_dir=history_dir)
    if engine == "ray":
        _in_process_backend_only(embedding)
        monitor, report = _check_on_ray(data, baseline_uri, tracking_uri, text_column, response_column, config,
                                        model, device, batch_size, strict, ray_address)
    else:
        loaded, texts, embedder = _window_inputs(baseline_uri, tracking_uri, data, text_column, response_column,
                                                 config, model, device, batch_size, embedding=embedding)
        history = History.for_baseline(loaded, config.monitor.history) if config.monitor.history else None
        monitor = Monitor(loaded, policy=config.policy(), history=history, embedder=embedder, strict=strict)
        quality = _quality(config, data, texts, embedder)
        report = monitor.check(texts, window_info={"source": str(data)},
                               quality=quality.for_rows() if quality else None)
    if out:
        Path(out).write_text(report.to_json())
    sinks = open_sinks(
        use_mlflow=use_mlflow, use_wandb=use_wandb, tracking_uri=tracking_uri, experiment=experiment,
        wandb_project=wandb_project, wandb_dir=wandb_dir,
    )
    failures = emit(report, sinks, history=monitor.decided_with)
    failures += close_sinks(sinks)
    if fmt == "json":
        click.echo(report.to_json())
    else:
        click.echo(format_report(report))
    _exit_if_reached(fail_on, [report.tier], failures)


def _check_on_ray(
    data: str, baseline_uri: str, tracking_uri: str | None, text_column: str, response_column: str | None,
    config: Config, model: str | None, device: str, batch_size: int, strict: bool, ray_address: str | None,
) -> tuple[Monitor, DriftReport]:
    """``check --engine ray``: the window is read, embedded and measured on the cluster, decided here."""
    loaded, make_embedder, quality = _ray_inputs(baseline_uri, tracking_uri, data, config, model, batch_size)
    history = History.for_baseline(loaded, config.monitor.history) if config.monitor.history else None
    monitor = Monitor(loaded, policy=config.policy(), history=history, strict=strict)
    report = _ray_engine(ray_address, device).check(
        loaded, data, make_embedder=make_embedder, monitor=monitor, text_column=text_column,
        response_column=response_column, window_info={"source": str(data)},
        quality=quality.for_rows() if quality else None)
    return monitor, report


# -- monitor -------------------------------------------------------------------------
@main.command(epilog=EXIT_CODES)
@click.argument("data", type=click.Path())
@_BASELINE_OPTION
@_data_options
@click.option("--window", "freq", default=None,
              help="Window length, pandas-style: 30min, 1h, 1d, 7d [default: 1d, or the config's monitor.window].")
@click.option("--timestamp-column", default=None,
              help="Column holding request times [default: timestamp, or the config's monitor.timestamp_column].")
@click.option("--min-window", type=click.IntRange(min=20), default=None,
              help="Skip windows with fewer prompts than this, with a note [default: 20].")
@_FORMAT_OPTION
@_STRICT_OPTION
@click.option("--fail-on", type=click.Choice(["review", "critical"]), default=None,
              help="Exit 1 when any window reaches this tier (for CI and cron).")
@_MODEL_OPTION
@_policy_options
@_model_options
@_backend_options
@_sink_options
@_engine_options
def monitor(
    data: str, baseline_uri: str, text_column: str, response_column: str | None, freq: str | None,
    timestamp_column: str | None, min_window: int | None, fmt: str, strict: bool, fail_on: str | None,
    model: str | None,
    config_path: str | None, history_dir: str | None, golden_path: str | None, reward_column: str | None,
    feedback_path: str | None, device: str, batch_size: int, use_mlflow: bool, tracking_uri: str | None,
    experiment: str, use_wandb: bool, wandb_project: str, wandb_dir: str | None, embedding: dict[str, Any],
    engine: str, ray_address: str | None,
) -> None:
    """Split the log in DATA into consecutive time windows and check each against the baseline.

    Each window is decided with the history of the ones before it (drift must persist
    over `persistence.windows` windows to go critical, unless extreme), recorded in an
    append-only history (--history DIR, else next to a local baseline) and logged to
    the sinks with its index as the step.
    """
    config = _config(config_path, golden_path=golden_path, reward_column=reward_column, feedback_path=feedback_path,
                     history_dir=history_dir, freq=freq, timestamp_column=timestamp_column, min_window=min_window)
    if engine == "ray":
        _in_process_backend_only(embedding)
        runner, windows = _monitor_on_ray(data, baseline_uri, tracking_uri, text_column, response_column, config,
                                          model, device, batch_size, strict, ray_address)
    else:
        loaded, texts, embedder = _window_inputs(baseline_uri, tracking_uri, data, text_column, response_column,
                                                 config, model, device, batch_size, embedding=embedding,
                                                 timestamp_column=config.monitor.timestamp_column)
        runner = Monitor(loaded, policy=config.policy(), history=History.for_baseline(loaded, config.monitor.history),
                         embedder=embedder, min_window=config.monitor.min_window, strict=strict)
        quality = _quality(config, data, texts, embedder)
        windows = runner.run(texts, config.monitor.window, quality_for=quality.for_rows if quality else None)
    history = runner.history
    assert history is not None
    sinks = open_sinks(
        use_mlflow=use_mlflow, use_wandb=use_wandb, tracking_uri=tracking_uri, experiment=experiment,
        wandb_project=wandb_project, wandb_dir=wandb_dir, run_name=f"monitor {Path(data).name}",
    )
    reports, skipped, failures = [], [], []
    try:
        for result in windows:
            if result.report is None:
                skipped.append(result.skipped)
                click.echo(f"note: {result.skipped}", err=True)
                continue
            reports.append(result.report)
            failures += emit(result.report, sinks, history=runner.decided_with)
            if fmt == "text":
                click.echo(format_window_line(result.report))
    finally:
        failures += close_sinks(sinks)
    click.echo(f"History: {history.path} ({len(runner.records)} windows)", err=True)
    if fmt == "json":
        click.echo(json.dumps({"windows": [r.to_dict() for r in reports], "skipped": skipped,
                               "history": str(history.path)}, indent=2))
    _exit_if_reached(fail_on, [r.tier for r in reports], failures)


def _monitor_on_ray(
    data: str, baseline_uri: str, tracking_uri: str | None, text_column: str, response_column: str | None,
    config: Config, model: str | None, device: str, batch_size: int, strict: bool, ray_address: str | None,
) -> tuple[Monitor, Any]:
    """``monitor --engine ray``: the monitor and its windows, each measured on the cluster as it comes."""
    loaded, make_embedder, quality = _ray_inputs(baseline_uri, tracking_uri, data, config, model, batch_size)
    runner = Monitor(loaded, policy=config.policy(), history=History.for_baseline(loaded, config.monitor.history),
                     min_window=config.monitor.min_window, strict=strict)
    windows = _ray_engine(ray_address, device).monitor(
        loaded, data, config.monitor.window, monitor=runner, make_embedder=make_embedder, text_column=text_column,
        response_column=response_column, timestamp_column=config.monitor.timestamp_column,
        quality=quality.for_rows() if quality else None)
    return runner, windows


def format_window_line(report: Any) -> str:
    """One line per monitored window: when, the decision, and its first reason."""
    w = report.window
    tier = click.style(f"{report.tier.upper():<8}", fg=TIER_COLOURS[report.tier], bold=True)
    reason = report.tier_reasons[0] if report.tier_reasons else ""
    line = f"[{w.get('index')}] {w.get('start', '?')} .. {w.get('end', '?')}  {tier} n={report.n_samples:<5} {reason}"
    if report.retrain_recommended:
        line += "  | retrain recommended"
    return line


def _window_inputs(
    baseline_uri: str, tracking_uri: str | None, data: str, text_column: str, response_column: str | None,
    config: Config, model: str | None, device: str, batch_size: int, *, embedding: dict[str, Any],
    **columns: str | None,
) -> tuple[Baseline, TextData, Embedder]:
    """What check and monitor start from: the baseline, the rows of DATA and an embedder matching the baseline."""
    loaded = load_baseline(baseline_uri, tracking_uri=tracking_uri)
    texts = _load(data, text_column, response_column, config, tracking_uri, **columns)
    price = embedding["price_per_1k_tokens"]
    embedding = {**embedding, "price_per_1k_tokens": config.embedding.price_per_1k_tokens if price is None else price}
    return loaded, texts, embedder_for_baseline(loaded.identity_, model, allowed_models=config.embedding.allowed_models,
                                                device=device, batch_size=batch_size, **embedding)


def _exit_if_reached(fail_on: str | None, tiers: list[str], sink_failures: list[str] | None = None) -> None:
    """Exit 1 when any of ``tiers`` reaches the ``--fail-on`` level, else 3 when a sink failed."""
    if fail_on and max((TIER_LEVEL[t] for t in tiers), default=0) >= TIER_LEVEL[fail_on]:
        sys.exit(1)
    if sink_failures:
        sys.exit(EXIT_SINK_FAILED)


def format_report(report: Any) -> str:
    """A terminal summary: the decision first, then the numbers behind it."""
    tier = click.style(report.tier.upper(), fg=TIER_COLOURS[report.tier], bold=True)
    m = report.metrics
    lines = [
        f"Drift tier: {tier}   (kind: {report.drift_kind}, {report.n_samples} window vs {report.n_baseline} baseline)",
        *[f"  - {r}" for r in report.tier_reasons],
        "",
        "Metrics (prompts)" + ("   | responses" if report.response_metrics else ""),
    ]
    for name, value in m.items():
        row = f"  {name:<22} {_fmt(value):>10}"
        if report.response_metrics:
            row += f"   | {_fmt(report.response_metrics.get(name)):>10}"
        lines.append(row)
    lines.append(f"Thresholds: {report.thresholds.get('source', '?')}")
    for name, signal in (report.quality or {}).items():
        value = signal.get("accuracy", signal.get("mean", signal.get("flag_rate")))
        change = signal.get("relative_drop", signal.get("relative_increase"))
        what = "relative increase" if "relative_increase" in signal else "relative drop"
        lines.append(f"Quality {name:<9} {_fmt(value):>10}" + (f"   ({what} {change:.1%})" if change is not None else ""))
    if report.material_degradation:
        lines.append(click.style("Material degradation: golden-set accuracy dropped more than 10%", fg="red"))
    if report.novel_clusters:
        lines.append("")
        lines.append("Novel clusters (no baseline neighbours):")
        for c in report.novel_clusters[:5]:
            example = c["examples"][0] if c.get("examples") else ""
            label = f"{c['label']}: " if c.get("label") else ""
            lines.append(f"  #{c['id']:<3} {c['share']:>6.1%}  {label}e.g. {example[:80]!r}")
    if report.retrain_recommended:
        lines.append(click.style(f"Retraining recommended: {report.retrain_reason}", bold=True))
    for w in report.warnings:
        lines.append(click.style(f"warning: {w}", fg="yellow"))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


# -- relog ---------------------------------------------------------------------------
@main.command()
@click.argument("spool", type=click.Path(exists=True))
@click.option("--tracking-uri", default=None,
              help="Send to this MLflow server instead of the one each report was meant for.")
def relog(spool: str, tracking_uri: str | None) -> None:
    """Re-send reports spooled while a tracking server was down.

    SPOOL is a spool directory (all its pending reports) or one spooled report. Reports
    from one run go back into one run, in window order; each sent report moves to
    SPOOL/sent/ so it is never sent twice.
    """
    sent = relog_reports(spool, tracking_uri=tracking_uri, echo=lambda line: click.echo(line, err=True))
    click.echo(f"Re-logged {len(sent)} report(s) from {spool}")


# -- demo ----------------------------------------------------------------------------
@main.command()
@click.option(
    "--dir", "workdir", type=click.Path(file_okay=False), default="drift-demo", show_default=True,
    help="Where the demo writes its data, baseline and reports.",
)
@click.option("--n-baseline", type=click.IntRange(min=200), default=3000, show_default=True)
@click.option("--n-window", type=click.IntRange(min=100), default=1000, show_default=True)
@click.option("--novel-share", type=click.FloatRange(0, 1), default=0.4, show_default=True,
              help="Share of the drifted window's prompts from topics absent from the baseline.")
@click.option("--mlflow/--no-mlflow", "use_mlflow", default=True, show_default=True,
              help="Log both windows to a local MLflow store (DIR/mlflow.db) as one run.")
@click.option("--wandb/--no-wandb", "use_wandb", default=True, show_default=True,
              help="Log both windows to an offline W&B run under DIR/wandb.")
@_model_options
def demo(
    workdir: str, n_baseline: int, n_window: int, novel_share: float, use_mlflow: bool, use_wandb: bool,
    device: str, batch_size: int,
) -> None:
    """Run the whole flow on generated support-bot traffic: baseline, a healthy and a drifted window.

    Nothing leaves the machine: the bundled model embeds, MLflow writes to a SQLite store
    in DIR and W&B runs offline in DIR/wandb. The closing lines say how to look at both.
    """
    from drift_tracking import demo as samples  # demo data is loaded by this command only

    root = Path(workdir)
    root.mkdir(parents=True, exist_ok=True)
    paths = {
        "baseline": root / "baseline_period.jsonl",
        "healthy": root / "window_healthy.jsonl",
        "drifted": root / "window_drifted.jsonl",
    }
    samples.write(samples.generate(n_baseline, seed=1), paths["baseline"])
    samples.write(samples.generate(n_window, seed=2, start="2026-02-01T00:00:00Z"), paths["healthy"])
    samples.write(
        samples.generate(n_window, seed=3, novel_share=novel_share, start="2026-02-08T00:00:00Z"), paths["drifted"]
    )
    click.echo(f"Generated {n_baseline} baseline and 2 x {n_window} window samples in {root}/")
    embedder = _embedder(None, device, batch_size)
    data = load_texts(paths["baseline"], text_column="prompt", response_column="response")
    click.echo(f"Building the baseline (embedding {len(data)} prompts and responses on {embedder.device}) ...")
    built = Baseline().fit_texts(data.prompts, data.responses, embedder=embedder, ids=data.ids,
                                 source=str(paths["baseline"]))
    built.save(root / "baseline", overwrite=True)
    click.echo(f"Saved baseline {built.version} to {root / 'baseline'}\n")
    tracking_uri = f"sqlite:///{(root / 'mlflow.db').resolve()}"
    sinks = open_sinks(
        use_mlflow=use_mlflow, use_wandb=use_wandb, tracking_uri=tracking_uri, experiment="drift-tracking-demo",
        wandb_project="drift-tracking-demo", wandb_dir=str(root), run_name="demo",
    )
    history: list[dict[str, Any]] = []
    for index, name in enumerate(("healthy", "drifted")):
        window = load_texts(paths[name], text_column="prompt", response_column="response", timestamp_column="timestamp")
        stamp = window.timestamps[-1] if window.timestamps else None
        report = compare(
            built, window, embedder=embedder,
            window_info={"index": index, "name": name, "timestamp": stamp, "source": str(paths[name])},
        )
        report_path = root / f"report_{name}.json"
        report_path.write_text(report.to_json())
        click.echo(click.style(f"== {name} window ({paths[name].name})", bold=True))
        click.echo(format_report(report))
        click.echo(f"Report written to {report_path}\n")
        emit(report, sinks, history=history)
        history.append(report.to_dict())
    close_sinks(sinks)
    if use_mlflow:
        click.echo(f"See the MLflow run with: mlflow ui --backend-store-uri {tracking_uri}")


from drift_tracking.cli_gate import gate  # noqa: E402 - registered last; imports no SDK until run

main.add_command(gate)

if __name__ == "__main__":  # pragma: no cover
    main()
