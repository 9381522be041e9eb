"""``--engine ray`` for check, monitor and baseline build: the same commands, read, embedded
and measured on a Ray cluster, decided and reported here.

Kept apart so the local commands read without the cluster's plumbing; nothing here
imports Ray until a command asks for the engine.
"""

from __future__ import annotations

from typing import Any

import click

from drift_tracking.baseline import Baseline
from drift_tracking.config import Config
from drift_tracking.engines import ENGINES
from drift_tracking.errors import ConfigError
from drift_tracking.monitor import History, Monitor
from drift_tracking.quality import QualitySource, reference_values
from drift_tracking.report import DriftReport


def engine_options(func: Any) -> Any:
    func = click.option("--ray-address", default=None,
                        help="Ray cluster for --engine ray (auto, ray://HOST:10001) [default: $RAY_ADDRESS, else a "
                             "local one].")(func)
    func = click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
                        help="Where to read, embed and measure: this process, or a Ray cluster (pip install "
                             "'drift-tracking[ray]'; DATA may then be a folder, a glob or a URL such as s3://...).")(func)
    return func


def in_process_backend_only(embedding: dict[str, Any]) -> None:
    """Ray's actors embed with the in-process torch model; other backends run on the local engine."""
    if (embedding.get("backend") or "torch") != "torch" or embedding.get("endpoint"):
        raise click.UsageError("--engine ray embeds with the in-process torch model: drop --backend and "
                               "--embedding-endpoint, or use --engine local")


def _ray_engine(address: str | None, device: str) -> Any:
    from drift_tracking.engines.ray_engine import RayEngine  # imports no Ray until it connects

    return RayEngine(address, gpus=device != "cpu")


def _ray_inputs(loaded: Baseline, data: str, config: Config, model: str | None, batch_size: int,
                embedding: dict[str, Any]) -> tuple[Any, QualitySource | None]:
    """What check and monitor on Ray start from: the actors' embedder for the baseline, the golden set."""
    from drift_tracking.engines.ray_engine import embedder_factory

    in_process_backend_only(embedding)
    make_embedder = embedder_factory(model, baseline=loaded, allowed_models=config.embedding.allowed_models,
                                     batch_size=batch_size)
    return make_embedder, _ray_quality(config, data, make_embedder)


def _ray_quality(config: Config, data: str, make_embedder: Any) -> QualitySource | None:
    """The golden set on the Ray engine (scored here); per-row rewards and flags are local-engine only."""
    if config.reward.column or config.feedback.path:
        raise ConfigError("--reward-column and --feedback read every row's value: use --engine local for them")
    if not config.golden.path:
        return None
    return QualitySource.from_config(config, data, None, embedder=make_embedder())


def build_on_ray(data: str, config: Config, *, model: str | None, batch_size: int, device: str,
                 ray_address: str | None, text_column: str, response_column: str | None, clusters: int | None,
                 window_size: int | None, seed: int, embedding: dict[str, Any]) -> Baseline:
    """``baseline build --engine ray``: the log embedded on the cluster, the baseline fitted here."""
    from drift_tracking.engines.ray_engine import embedder_factory

    in_process_backend_only(embedding)
    make_embedder = embedder_factory(model, batch_size=batch_size)
    quality = _ray_quality(config, data, make_embedder)
    reference = reference_values(golden=quality.golden) if quality else {}
    click.echo(f"Embedding {data} on Ray ...", err=True)
    return _ray_engine(ray_address, device).build_baseline(
        data, make_embedder, text_column=text_column, response_column=response_column, n_clusters=clusters,
        window_size=window_size, seed=seed, quality=reference)


def check_on_ray(
    data: str, loaded: Baseline, text_column: str, response_column: str | None, config: Config,
    model: str | None, device: str, batch_size: int, strict: bool, ray_address: str | None, embedding: dict[str, Any],
) -> tuple[Monitor, DriftReport]:
    """``check --engine ray``: the window is read, embedded and measured on the cluster, decided here."""
    make_embedder, quality = _ray_inputs(loaded, data, config, model, batch_size, embedding)
    history = History.for_baseline(loaded, config.monitor.history) if config.monitor.history else None
    monitor = Monitor(loaded, policy=config.policy(), history=history, strict=strict)
    report = _ray_engine(ray_address, device).check(
        loaded, data, make_embedder=make_embedder, monitor=monitor, text_column=text_column,
        response_column=response_column, window_info={"source": str(data)},
        quality=quality.for_rows() if quality else None)
    return monitor, report


def monitor_on_ray(
    data: str, loaded: Baseline, text_column: str, response_column: str | None, config: Config,
    model: str | None, device: str, batch_size: int, strict: bool, ray_address: str | None, embedding: dict[str, Any],
) -> tuple[Monitor, Any]:
    """``monitor --engine ray``: the monitor and its windows, each measured on the cluster as it comes."""
    make_embedder, quality = _ray_inputs(loaded, data, config, model, batch_size, embedding)
    runner = Monitor(loaded, policy=config.policy(), history=History.for_baseline(loaded, config.monitor.history),
                     min_window=config.monitor.min_window, strict=strict)
    windows = _ray_engine(ray_address, device).monitor(
        loaded, data, config.monitor.window, monitor=runner, make_embedder=make_embedder, text_column=text_column,
        response_column=response_column, timestamp_column=config.monitor.timestamp_column,
        quality=quality.for_rows() if quality else None)
    return runner, windows
