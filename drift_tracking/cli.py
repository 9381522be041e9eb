"""The ``drift-tracking`` command line: thin click commands over the library.

Exit codes scripts can rely on are :data:`drift_tracking.cli_common.EXIT_CODES`
(0 success, 1 the ``--fail-on`` tier reached, 2 usage or input error, 3 a sink failed);
every command's help ends with them and the README lists the same.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from drift_tracking.baseline import Baseline
from drift_tracking.cli_common import (
    EXIT_CODES_EPILOG,
    TRACKING_URI_HELP,
    WANDB_DIR_HELP,
    check_output_dir,
    check_output_file,
    library_logging,
    tracking_store,
)
from drift_tracking.cli_demo import demo
from drift_tracking.cli_gate import gate
from drift_tracking.cli_report import (
    REPORT_FOLDER_FILES,
    close_sinks,
    emit,
    exit_if_reached,
    format_report,
    format_window_line,
    open_sinks,
    write_report_dir,
)
from drift_tracking.config import Config, load_config
from drift_tracking.data import TextData, load_texts
from drift_tracking.cli_ray import build_on_ray, check_on_ray, engine_options, monitor_on_ray
from drift_tracking.embedding import BACKENDS, Embedder, embedder_for_baseline
from drift_tracking.errors import DriftTrackingError
from drift_tracking.integrations import load_baseline
from drift_tracking.integrations.mlflow_registry import register_baseline
from drift_tracking.integrations.relog import relog as relog_reports
from drift_tracking.integrations.wandb_logger import log_baseline_artifact
from drift_tracking.monitor import History, Monitor
from drift_tracking.quality import QualitySource, reference_values

__all__ = ["main", "emit", "format_report"]
_MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")


class _Group(click.Group):
    """Turns library errors into one-line messages with exit code 2, like click's usage errors."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DriftTrackingError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=EXIT_CODES_EPILOG)
@click.version_option(package_name="drift-tracking")
@click.option("-v", "--verbose", is_flag=True,
              help="Show MLflow's, W&B's and the model's own INFO messages (hidden below WARNING otherwise).")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Detect when a deployed LLM's traffic or answer quality drifts from a good baseline.

    \b
    Typical use:
      drift-tracking baseline build good_period.jsonl --text-column prompt --out baseline/
      drift-tracking check last_week.jsonl --baseline baseline/ --text-column prompt
    Try `drift-tracking demo` first: it runs the whole flow on generated data.
    """
    ctx.with_resource(library_logging(verbose))


# -- shared options ------------------------------------------------------------------
_BASELINE_OPTION = click.option(
    "--baseline", "baseline_uri", required=True,
    help="The baseline: the folder `baseline build --out` wrote, or models:/NAME@ALIAS, models:/NAME/VERSION, "
    "runs:/RUN_ID/PATH, mlflow-artifacts:/... (MLflow) or wandb:ENTITY/PROJECT/NAME:ALIAS (W&B).")
_MODEL_OPTION = click.option("--model", default=None,
                             help="Embedding model (name or folder) when the baseline's is not the bundled one or "
                             "on [embedding] allowed_models; its files must hash to the baseline's pinned weights.")
_FORMAT_OPTION = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                              show_default=True,
                              help="text: the decision and its numbers for people; json: one JSON object on stdout.")
_STRICT_OPTION = click.option("--strict", is_flag=True,
                              help="Refuse (exit 2) a window where more than half the rows are invalid, "
                                   "instead of deciding on the rest with a warning.")
_REPORT_OPTION = click.option(
    "--report", "report_dir", type=click.Path(file_okay=False), default=None,
    help="Also write a report folder to open without MLflow or W&B: report.html (one self-contained page: "
    "figures and tables), report.json and the figures as PNG.")
_FORCE_OPTION = click.option("--force", is_flag=True,
                             help="Write --report into a folder that holds other files (report files there are "
                             "replaced).")


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
                          "window's cost [default: the config's embedding.price_per_1k_tokens, else none]."),
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
        click.option("--wandb-dir", type=click.Path(file_okay=False), default=None, help=WANDB_DIR_HELP),
        click.option("--wandb-project", default="drift-tracking", show_default=True, help="W&B project."),
        click.option("--wandb", "use_wandb", is_flag=True,
                     help="Log to Weights & Biases (offline unless WANDB_API_KEY is set)."),
        click.option("--experiment", default="drift-tracking", show_default=True, help="MLflow experiment name."),
        click.option("--tracking-uri", default=None, help=TRACKING_URI_HELP),
        click.option("--mlflow", "use_mlflow", is_flag=True, help="Log the report to an MLflow run."),
    ]
    for option in options:
        func = option(func)
    return func


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


def _policy_options(history_help: str) -> Callable[[Any], Any]:
    """Quality and policy options; ``--history`` means something different for check and monitor."""
    options = [
        click.option("--feedback", "feedback_path", type=click.Path(dir_okay=False), default=None,
                     help="User flags per response id (.jsonl/.csv: id, flag); reports flag rate vs baseline."),
        click.option("--reward-column", default=None,
                     help="Column of reward-model scores; reports the mean's relative drop from the baseline."),
        click.option("--golden", "golden_path", type=click.Path(dir_okay=False), default=None,
                     help="Golden set (.jsonl/.csv: prompt, expected, answer); reports accuracy vs baseline."),
        click.option("--history", "history_dir", type=click.Path(file_okay=False), default=None, help=history_help),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                     help="TOML file: thresholds mode and levels, persistence, golden set, reward, feedback."),
    ]

    def decorate(func: Any) -> Any:
        for option in options:
            func = option(func)
        return func

    return decorate


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


def _load_baseline(uri: str, tracking_uri: str | None) -> Baseline:
    """The baseline ``--baseline`` names; a registry or run URI must name a store that exists."""
    if uri.startswith(_MLFLOW_SCHEMES):
        tracking_uri = tracking_store(tracking_uri, lookup=True)
    elif "://" not in uri and Path(uri).is_file():
        raise click.BadParameter(
            f"{uri} is a file; a baseline is the folder `drift-tracking baseline build --out DIR` writes "
            "(or an MLflow / W&B URI)", param_hint="--baseline")
    return load_baseline(uri, tracking_uri=tracking_uri)


# -- baseline ------------------------------------------------------------------------
@main.group()
def baseline() -> None:
    """Build and inspect baselines (the reference a window is compared to)."""


@baseline.command("build", epilog=EXIT_CODES_EPILOG)
@click.argument("data", type=click.Path())
@_data_options
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Folder to write the baseline to; it must be new or empty (see --force).")
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
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds K-means, the plot projection and the calibration draws (same data + seed = same baseline).")
@click.option("--force", is_flag=True, help="Replace an earlier baseline in --out (a folder holding anything else "
              "is never deleted).")
@click.option("--register", "register_name", default=None,
              help="Also log the baseline to MLflow and register it under this model name.")
@click.option("--alias", "aliases", multiple=True,
              help="Alias for the registered baseline (MLflow) or artifact (W&B), e.g. production. Repeatable.")
@click.option("--tracking-uri", default=None, help=TRACKING_URI_HELP + " Used with --register.")
@click.option("--wandb", "use_wandb", is_flag=True, help="Also log the baseline as a W&B Artifact (drift-baseline).")
@click.option("--wandb-project", default="drift-tracking", show_default=True, help="W&B project for --wandb.")
@click.option("--wandb-dir", type=click.Path(file_okay=False), default=None, help=WANDB_DIR_HELP)
@engine_options
def baseline_build(
    data: str, text_column: str, response_column: str | None, out: str, clusters: int | None,
    window_size: int | None, golden_path: str | None, reward_column: str | None, feedback_path: str | None,
    model: str | None, device: str, batch_size: int, seed: int, force: bool, register_name: str | None,
    aliases: tuple[str, ...], tracking_uri: str | None, use_wandb: bool, wandb_project: str, wandb_dir: str | None,
    embedding: dict[str, Any], engine: str, ray_address: str | None,
) -> None:
    """Embed DATA (.jsonl, .csv, .parquet) and save a checksummed baseline to --out.

    10k-50k rows from a good period are recommended; on 2 CPU cores embedding takes
    about 6 s per 1,000 prompts (twice that with --response-column).
    """
    _check_baseline_out(out, force)
    config = _config(None, golden_path=golden_path, reward_column=reward_column, feedback_path=feedback_path)
    if engine == "ray":
        built = build_on_ray(data, config, model=model, batch_size=batch_size, device=device, ray_address=ray_address,
                             text_column=text_column, response_column=response_column, clusters=clusters,
                             window_size=window_size, seed=seed, embedding=embedding)
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


def _check_baseline_out(out: str, force: bool) -> None:
    """Before any embedding: --out can take a baseline; --force replaces only an earlier baseline."""
    check_output_dir(out, "--out", force=force)
    target = Path(out)
    if force and target.is_dir() and any(target.iterdir()) and not (target / "manifest.json").is_file():
        raise click.BadParameter(
            f"{out} is not empty and holds no baseline (no manifest.json); --force only replaces an earlier "
            "baseline: choose another folder", param_hint="--out")


@baseline.command("show", epilog=EXIT_CODES_EPILOG)
@click.argument("uri")
@click.option("--tracking-uri", default=None, help=TRACKING_URI_HELP + " Used for an MLflow URI.")
def baseline_show(uri: str, tracking_uri: str | None) -> None:
    """Verify a baseline's checksums and print what it holds, as JSON.

    URI is anything --baseline accepts: a folder, models:/NAME@ALIAS, runs:/..., wandb:...
    Prints the content hash (version), sizes, calibrated window sizes, the good period's
    quality and the embedding model it pins; exit 2 if any byte was changed.
    """
    loaded = _load_baseline(uri, tracking_uri)
    click.echo(json.dumps({**loaded.describe(), "model": loaded.identity_.to_dict()}, indent=2))


# -- check ---------------------------------------------------------------------------
_CHECK_HISTORY = ("Record the window in this folder's drift_history.jsonl and decide with the windows recorded before it: "
                  "drift that persists (persistence.windows, default 2) becomes critical [default: no history; "
                  "one check alone says critical only for extreme drift].")


@main.command(epilog=EXIT_CODES_EPILOG)
@click.argument("data", type=click.Path())
@_BASELINE_OPTION
@_data_options
@_FORMAT_OPTION
@_STRICT_OPTION
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Also write the JSON report to this file (replaced if it exists).")
@_REPORT_OPTION
@_FORCE_OPTION
@click.option("--fail-on", type=click.Choice(["review", "critical"]), default=None,
              help="Exit 1 when the tier reaches this level (for CI and cron).")
@_MODEL_OPTION
@_policy_options(_CHECK_HISTORY)
@_model_options
@_backend_options
@_sink_options
@engine_options
def check(
    data: str, baseline_uri: str, text_column: str, response_column: str | None, fmt: str, strict: bool,
    out: str | None, report_dir: str | None, force: bool, fail_on: str | None, model: str | None,
    config_path: str | None, history_dir: str | None, golden_path: str | None, reward_column: str | None,
    feedback_path: str | None, device: str, batch_size: int, use_mlflow: bool, tracking_uri: str | None,
    experiment: str, use_wandb: bool, wandb_project: str, wandb_dir: str | None, embedding: dict[str, Any],
    engine: str, ray_address: str | None,
) -> None:
    """Compare the production window in DATA to a baseline and print the decision.

    \b
    What one check can conclude: `critical` only when the drift is extreme (30% or more
    of the window unexplained by the baseline, in novel clusters or beyond the outlier
    cut-off, or another metric far past its critical level); other critical-level drift
    is `review` until it persists, which needs --history (or `monitor`).
    """
    check_output_file(out, "--out")
    check_output_dir(report_dir, "--report", force=force, ours=REPORT_FOLDER_FILES)
    config = _config(config_path, golden_path=golden_path, reward_column=reward_column,
                     feedback_path=feedback_path, history_dir=history_dir)
    if engine == "ray":
        monitor, report = check_on_ray(data, _load_baseline(baseline_uri, tracking_uri), text_column, response_column,
                                       config, model, device, batch_size, strict, ray_address, embedding)
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
    if report_dir:
        click.echo(f"Report: {write_report_dir(report, report_dir, monitor.decided_with)}", err=True)
    sinks = open_sinks(
        use_mlflow=use_mlflow, use_wandb=use_wandb, tracking_uri=tracking_uri, experiment=experiment,
        wandb_project=wandb_project, wandb_dir=wandb_dir,
    )
    failures = emit(report, sinks, history=monitor.decided_with)
    failures += close_sinks(sinks)
    click.echo(report.to_json() if fmt == "json" else format_report(report))
    exit_if_reached(fail_on, [report.tier], failures)


# -- monitor -------------------------------------------------------------------------
_MONITOR_HISTORY = ("Folder of the append-only window history (drift_history.jsonl) that persistence counts on "
                    "[default: next to a local baseline, or the config's monitor.history].")


@main.command(epilog=EXIT_CODES_EPILOG)
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
@_REPORT_OPTION
@_FORCE_OPTION
@click.option("--fail-on", type=click.Choice(["review", "critical"]), default=None,
              help="Exit 1 when any window reaches this tier (for CI and cron).")
@_MODEL_OPTION
@_policy_options(_MONITOR_HISTORY)
@_model_options
@_backend_options
@_sink_options
@engine_options
def monitor(
    data: str, baseline_uri: str, text_column: str, response_column: str | None, freq: str | None,
    timestamp_column: str | None, min_window: int | None, fmt: str, strict: bool, report_dir: str | None,
    force: bool, fail_on: str | None, model: str | None, config_path: str | None, history_dir: str | None,
    golden_path: str | None, reward_column: str | None, feedback_path: str | None, device: str, batch_size: int,
    use_mlflow: bool, tracking_uri: str | None, experiment: str, use_wandb: bool, wandb_project: str,
    wandb_dir: str | None, embedding: dict[str, Any], engine: str, ray_address: str | None,
) -> None:
    """Split the log in DATA into consecutive time windows and check each against the baseline.

    Each window is decided with the history of the ones before it (drift must persist
    over `persistence.windows` windows to go critical, unless extreme), recorded in an
    append-only history and logged to the sinks with its index as the step. --report
    keeps the latest window at the folder's root and every window in windows/<index>/.
    """
    check_output_dir(report_dir, "--report", force=force, ours=REPORT_FOLDER_FILES)
    config = _config(config_path, golden_path=golden_path, reward_column=reward_column, feedback_path=feedback_path,
                     history_dir=history_dir, freq=freq, timestamp_column=timestamp_column, min_window=min_window)
    if engine == "ray":
        runner, windows = monitor_on_ray(data, _load_baseline(baseline_uri, tracking_uri), text_column,
                                         response_column, config, model, device, batch_size, strict, ray_address,
                                         embedding)
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
            if report_dir:
                write_report_dir(result.report, report_dir, runner.decided_with, per_window=True)
            failures += emit(result.report, sinks, history=runner.decided_with)
            if fmt == "text":
                click.echo(format_window_line(result.report))
    finally:
        failures += close_sinks(sinks)
    click.echo(f"History: {history.path} ({len(runner.records)} windows)", err=True)
    if report_dir and reports:
        click.echo(f"Report: {Path(report_dir) / 'report.html'} (latest window; all in {report_dir}/windows/)",
                   err=True)
    if fmt == "json":
        click.echo(json.dumps({"windows": [r.to_dict() for r in reports], "skipped": skipped,
                               "history": str(history.path)}, indent=2))
    exit_if_reached(fail_on, [r.tier for r in reports], failures)


def _window_inputs(
    baseline_uri: str, tracking_uri: str | None, data: str, text_column: str, response_column: str | None,
    config: Config, model: str | None, device: str, batch_size: int, *, embedding: dict[str, Any],
    **columns: str | None,
) -> tuple[Baseline, TextData, Embedder]:
    """What check and monitor start from: the baseline, the rows of DATA and an embedder matching the baseline."""
    loaded = _load_baseline(baseline_uri, tracking_uri)
    texts = _load(data, text_column, response_column, config, tracking_uri, **columns)
    price = embedding["price_per_1k_tokens"]
    embedding = {**embedding, "price_per_1k_tokens": config.embedding.price_per_1k_tokens if price is None else price}
    return loaded, texts, embedder_for_baseline(loaded.identity_, model, allowed_models=config.embedding.allowed_models,
                                                device=device, batch_size=batch_size, **embedding)


# -- relog ---------------------------------------------------------------------------
@main.command(epilog=EXIT_CODES_EPILOG)
@click.argument("spool", type=click.Path(exists=True))
@click.option("--tracking-uri", default=None,
              help="Send to this MLflow server instead of the one each report was meant for "
                   "[default: the tracking URI recorded with each report].")
def relog(spool: str, tracking_uri: str | None) -> None:
    """Re-send reports spooled while a tracking server was down.

    SPOOL is a spool directory (all its pending reports) or one spooled report. Reports
    from one run go back into one run, in window order; each sent report moves to
    SPOOL/sent/ so it is never sent twice.
    """
    sent = relog_reports(spool, tracking_uri=tracking_uri, echo=lambda line: click.echo(line, err=True))
    click.echo(f"Re-logged {len(sent)} report(s) from {spool}")


main.add_command(demo)
main.add_command(gate)

if __name__ == "__main__":  # pragma: no cover
    main()
