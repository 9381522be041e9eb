"""Deployment pieces without a container engine: the scheduled job's windows and loop, the
health check, and the Dockerfiles, compose files and .env.example read as files.

The compose file is validated by ``docker compose config`` where the Compose plugin is
installed, else by a YAML parser; the test's id says which ran.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from drift_tracking import demo, healthcheck
from drift_tracking.errors import DataError
from drift_tracking.scheduled import (
    JobOptions,
    Window,
    check_window,
    due_windows,
    last_boundary,
    last_done,
    parse_time,
    rows_in,
    run_forever,
)

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
SIX_HOURS, GRACE = timedelta(hours=6), timedelta(minutes=10)


def _t(text: str) -> datetime:
    return parse_time(text)


# -- the scheduled job's windows --------------------------------------------------------------
def test_windows_end_on_epoch_aligned_boundaries_after_the_grace_period():
    assert last_boundary(_t("2026-02-01T06:15:00Z"), SIX_HOURS, GRACE) == _t("2026-02-01T06:00:00Z")
    assert last_boundary(_t("2026-02-01T06:05:00Z"), SIX_HOURS, GRACE) == _t("2026-02-01T00:00:00Z")
    assert last_boundary(_t("2026-02-01T06:10:00Z"), SIX_HOURS, GRACE) == _t("2026-02-01T06:00:00Z")
    assert last_boundary(_t("2026-02-01T03:10:00+02:00"), timedelta(hours=1), GRACE) == _t("2026-02-01T01:00:00Z")
    assert parse_time("2026-02-01T06:00:00") == _t("2026-02-01T06:00:00Z")  # no zone: UTC
    with pytest.raises(DataError, match="ISO 8601"):
        parse_time("yesterday")


def test_due_windows_catch_up_oldest_first_and_never_go_back():
    now = _t("2026-02-01T18:20:00Z")
    due = due_windows(now, SIX_HOURS, GRACE, catch_up=2, last_done=None)
    assert [(w.start, w.end) for w in due] == [
        (_t("2026-02-01T00:00:00Z"), _t("2026-02-01T06:00:00Z")),
        (_t("2026-02-01T06:00:00Z"), _t("2026-02-01T12:00:00Z")),
        (_t("2026-02-01T12:00:00Z"), _t("2026-02-01T18:00:00Z")),
    ]
    assert [w.end for w in due_windows(now, SIX_HOURS, GRACE, 2, _t("2026-02-01T06:00:00Z"))] == [
        _t("2026-02-01T12:00:00Z"), _t("2026-02-01T18:00:00Z")]
    assert due_windows(now, SIX_HOURS, GRACE, 2, _t("2026-02-01T18:00:00Z")) == []
    assert due[0].stamp == "20260201T000000Z-20260201T060000Z"


def test_only_checked_or_empty_windows_count_as_done():
    records = [{"end": "2026-02-01T06:00:00Z", "outcome": "checked"},
               {"end": "2026-02-01T12:00:00Z", "outcome": "no-traffic"},
               {"end": "2026-02-01T18:00:00Z", "outcome": "failed"}]
    assert last_done(records) == _t("2026-02-01T12:00:00Z")
    assert last_done([]) is None


def test_rows_in_a_window_are_half_open_and_undated_rows_are_counted():
    import pandas as pd

    table = pd.DataFrame({"prompt": ["a", "b", "c", "d", "e"],
                          "timestamp": ["2026-02-01T00:00:00Z", "2026-02-01T05:59:59Z", "2026-02-01T06:00:00Z",
                                        "not a time", None]})
    window = Window(_t("2026-02-01T00:00:00Z"), _t("2026-02-01T06:00:00Z"))
    rows, undated = rows_in(table, "timestamp", window)
    assert list(rows["prompt"]) == ["a", "b"] and undated == 2
    with pytest.raises(DataError, match="--timestamp-column"):
        rows_in(table, "time", window)


def test_a_window_with_too_few_rows_is_recorded_without_running_a_check(tmp_path):
    import pandas as pd

    table = pd.DataFrame({"prompt": ["a", "b", "c"], "timestamp": ["2026-02-01T01:00:00Z"] * 3})
    options = JobOptions(log=tmp_path / "unused.jsonl", baseline="unused", state=tmp_path / "state")
    lines: list[str] = []
    record = check_window(Window(_t("2026-02-01T00:00:00Z"), _t("2026-02-01T06:00:00Z")), table, options,
                          lines.append)
    assert record["outcome"] == "too-few-rows" and record["rows"] == 3
    assert "fewer than --min-rows 20" in lines[0]
    assert last_done(options.ledger.read()) == _t("2026-02-01T06:00:00Z")  # not retried at the next tick
    assert not (tmp_path / "state" / "windows").exists()  # no check was started


def test_the_loop_ticks_once_per_window_and_survives_a_failing_tick(tmp_path):
    """A fake clock stands in for time; the log has no traffic, so no check process starts."""
    clock = [_t("2026-02-01T06:15:00Z")]
    stop = [_t("2026-02-01T06:20:00Z")]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += timedelta(seconds=seconds)
        if clock[0] > stop[0]:
            raise KeyboardInterrupt

    log = tmp_path / "logs" / "traffic.jsonl"
    options = JobOptions(log=log, baseline="unused", state=tmp_path / "state", catch_up=1)
    lines: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        run_forever(options, clock=lambda: clock[0], sleep=sleep, echo=lines.append)
    assert lines[0].startswith("Error: data file") and "not found" in lines[0]  # no log yet: reported, not fatal
    assert lines[1:] == ["next check at 2026-02-01T12:10:00Z"]

    demo.write(demo.generate(3, seed=0, start="2025-01-01T00:00:00Z"), log)  # traffic from long ago only
    clock[0], stop[0] = _t("2026-02-01T06:15:00Z"), _t("2026-02-01T18:30:00Z")
    with pytest.raises(KeyboardInterrupt):
        run_forever(options, clock=lambda: clock[0], sleep=sleep, echo=lines.append)
    ledger = [json.loads(line) for line in (tmp_path / "state" / "scheduled_windows.jsonl").read_text().splitlines()]
    assert [(r["end"], r["outcome"]) for r in ledger] == [  # catch-up 1 at the first tick, then one per tick
        ("2026-02-01T00:00:00Z", "no-traffic"), ("2026-02-01T06:00:00Z", "no-traffic"),
        ("2026-02-01T12:00:00Z", "no-traffic"), ("2026-02-01T18:00:00Z", "no-traffic")]
    assert lines[-1] == "next check at 2026-02-02T00:10:00Z"
    assert max(slept) <= 60 and (tmp_path / "state" / "heartbeat").exists()


# -- the health check ------------------------------------------------------------------------
def test_healthcheck_reports_each_problem(tmp_path):
    import socket

    assert healthcheck.problems({}) == []  # the bundled model is installed with the package
    beat = tmp_path / "heartbeat"
    assert "has not started" in healthcheck.heartbeat_problem(beat, 300)
    beat.touch()
    assert healthcheck.heartbeat_problem(beat, 300) is None
    assert "s old" in healthcheck.heartbeat_problem(beat, 300, now=beat.stat().st_mtime + 301)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    found = healthcheck.problems({"DRIFT_HEALTH_URL": f"http://127.0.0.1:{port}/health",
                                  "DRIFT_HEARTBEAT_FILE": str(tmp_path / "none")})
    assert len(found) == 2 and "not answering" in found[0] and "no heartbeat" in found[1]


# -- the files Docker reads --------------------------------------------------------------------
def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    kept = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    lines = [line.strip() for line in "\n".join(kept).replace("\\\n", " ").splitlines() if line.strip()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.cpu"])
def test_dockerfiles_pin_their_base_run_as_non_root_and_check_health(name):
    steps = _instructions(DOCKER / name)
    base = next(args for op, args in steps if op == "FROM")
    assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+-[\w.-]+(@sha256:[0-9a-f]{64})?", base), base
    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert steps[-1] == ("CMD", '["--help"]') and ("ENTRYPOINT", '["drift-tracking"]') in steps
    assert any(op == "HEALTHCHECK" and "drift_tracking.healthcheck" in args for op, args in steps)
    run = " ".join(args for op, args in steps if op in ("RUN", "ARG"))
    assert "TORCH_VERSION=2.13.0" in run and '"torch==${TORCH_VERSION}"' in run
    assert "Embedder(device='cpu').encode" in run  # the bundled model must load at build time


def test_the_cuda_image_takes_the_torch_build_of_its_base_images_cuda():
    steps = _instructions(DOCKER / "Dockerfile")
    base = next(args for op, args in steps if op == "FROM")
    major, minor = re.match(r"nvidia/cuda:(\d+)\.(\d+)\.\d+-runtime-", base).groups()
    index = next(args for op, args in steps if op == "ARG" and args.startswith("TORCH_INDEX="))
    assert index == f"TORCH_INDEX=https://download.pytorch.org/whl/cu{major}{minor}"
    cpu = " ".join(args for _, args in _instructions(DOCKER / "Dockerfile.cpu"))
    assert "--index-url https://download.pytorch.org/whl/cpu" in cpu and base not in cpu


def test_dockerignore_sends_only_the_package():
    patterns = [p for p in (ROOT / ".dockerignore").read_text().splitlines() if p and not p.startswith("#")]
    assert patterns[0] == "*"
    kept = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert kept == {"pyproject.toml", "README.md", "drift_tracking"}


def _variables(text: str) -> dict[str, str]:
    """``${NAME...}`` references in a compose file: name -> the operator after it (``:-``, ``:?`` or '')."""
    return {m.group(1): m.group(2) or "" for m in re.finditer(r"(?<!\$)\$\{([A-Z0-9_]+)(:[-?])?", text)}


def _env_example() -> dict[str, str]:
    lines = (DOCKER / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_env_example_documents_every_variable_and_no_other():
    used = {name: op for path in ("compose.gpu.yaml", "compose.yaml")
            for name, op in _variables((DOCKER / path).read_text()).items()}
    documented = _env_example()
    assert set(used) == set(documented)
    lines = (DOCKER / ".env.example").read_text().splitlines()
    for name in documented:  # each has a comment right above it, or shares one with its group
        above = lines[lines.index(next(line for line in lines if line.startswith(f"{name}="))) - 1]
        assert above.startswith("#") or above.split("=")[0] in documented, name
    assert all(documented[name] for name, op in used.items() if op == ":?")  # required ones have example values


def test_compose_structure():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "mlflow", "gate", "gate-webhook", "monitor"}
    assert re.fullmatch(r"postgres:\d+\.\d+-\w+", services["postgres"]["image"])
    mlflow = services["mlflow"]
    assert mlflow["entrypoint"] == ["mlflow", "server"]
    assert mlflow["environment"]["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg2://")
    assert "@postgres:5432/" in mlflow["environment"]["MLFLOW_BACKEND_STORE_URI"]
    assert "/mlartifacts" in mlflow["command"] and "mlflow-artifacts:/mlartifacts" in mlflow["volumes"]
    assert services["gate"]["command"][:2] == ["gate", "serve"]
    assert "http://gate:8585/" in services["gate-webhook"]["command"]
    monitor = services["monitor"]
    assert monitor["entrypoint"] == ["python", "-m", "drift_tracking.scheduled"]
    baseline = monitor["command"][monitor["command"].index("--baseline") + 1]
    assert re.fullmatch(r"models:/\$\{[A-Z_]+:-[\w-]+\}@\$\{[A-Z_]+:-production\}", baseline)
    assert monitor["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    for name in ("mlflow", "gate", "gate-webhook", "monitor"):
        assert services[name]["image"] == "${DRIFT_IMAGE:-drift-tracking:cpu}" and services[name]["init"] is True
    for name in ("mlflow", "gate", "gate-webhook"):
        assert services[name]["depends_on"]["mlflow" if name != "mlflow" else "postgres"]["condition"] \
            == "service_healthy"


def _compose_validator() -> str:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return "docker compose config"
    return "yaml parser (docker compose plugin not installed)"


@pytest.mark.parametrize("validator", [_compose_validator()])
def test_compose_config_validates(validator, tmp_path):
    """``docker compose config`` with .env.example where Compose is installed, else a YAML parse."""
    files = ["-f", str(DOCKER / "compose.yaml"), "-f", str(DOCKER / "compose.gpu.yaml")]
    if validator == "docker compose config":
        done = subprocess.run(["docker", "compose", *files, "--env-file", str(DOCKER / ".env.example"),
                               "config", "--format", "json"], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        services = json.loads(done.stdout)["services"]
        env = _env_example()
        assert f":{env['POSTGRES_PASSWORD']}@postgres:5432/" in services["mlflow"]["environment"][
            "MLFLOW_BACKEND_STORE_URI"]
        assert services["monitor"]["image"] == env["DRIFT_GPU_IMAGE"]
        unset = subprocess.run(["docker", "compose", *files, "config", "-q"], capture_output=True, text=True,
                               cwd=tmp_path, env={k: v for k, v in os.environ.items() if k not in _env_example()})
        assert unset.returncode != 0 and "required variable" in unset.stderr  # no silent empty password
    else:
        for path in (DOCKER / "compose.yaml", DOCKER / "compose.gpu.yaml"):
            document = yaml.safe_load(path.read_text())
            assert isinstance(document["services"], dict) and document["services"]
            for service in document["services"].values():
                assert set(service) <= {"image", "build", "entrypoint", "command", "environment", "volumes",
                                        "ports", "expose", "depends_on", "healthcheck", "restart", "init",
                                        "deploy"}
                assert all(isinstance(v, (str, int)) for v in service.get("command", []))
