"""What every ``drift-tracking`` command shares: exit codes, defaults, output checks, quiet libraries.

Kept apart from the commands so that ``cli`` and ``cli_gate`` state each default and
each rule once, and the help, the README and the tests read them from one place.
Nothing here imports MLflow, W&B or torch.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import click

from drift_tracking.integrations.common import scoped_env
from drift_tracking.integrations.mlflow_sink import default_tracking_uri

#: Exit codes scripts can rely on (the README lists the same, a test compares them).
EXIT_CODES = {
    0: "success, whatever the tier (a gate: promoted, or would be with --dry-run)",
    1: "the --fail-on tier was reached (a gate: blocked or refused)",
    2: "usage or input error, one line on stderr (--strict: a mostly invalid window)",
    3: "a sink (MLflow, W&B) failed: the report was printed, written and spooled for relog",
}
EXIT_SINK_FAILED = 3
EXIT_CODES_EPILOG = "\b\nExit codes:\n" + "\n".join(f"  {code}  {text}" for code, text in EXIT_CODES.items())

#: The one wording of the tracking URI's default, for every command that talks to MLflow.
DEFAULT_TRACKING_URI_TEXT = "$MLFLOW_TRACKING_URI, else sqlite:///mlruns.db in the working directory"
TRACKING_URI_HELP = f"MLflow tracking and registry URI [default: {DEFAULT_TRACKING_URI_TEXT}]."
#: W&B writes its runs in a ``wandb/`` folder inside the directory it is given.
DEFAULT_WANDB_DIR_TEXT = "$WANDB_DIR, else the working directory"
WANDB_DIR_HELP = f"Offline W&B runs are written in this folder's wandb/ subfolder [default: {DEFAULT_WANDB_DIR_TEXT}]."

_SQLITE = "sqlite:///"
_CHATTY_LOGGERS = ("mlflow", "alembic", "wandb", "urllib3", "sentence_transformers", "transformers")


def tracking_store(uri: str | None, *, lookup: bool) -> str:
    """The tracking URI a command uses; for a lookup, refuse a local store that does not exist yet.

    MLflow creates a SQLite store the moment a client touches it, so reading a baseline
    or a model version from a store that is not there would leave an empty database in
    the working directory before failing. A lookup in a missing store is a usage error.
    """
    resolved = uri or default_tracking_uri()
    if lookup and resolved.startswith(_SQLITE):
        path = Path(resolved[len(_SQLITE):])
        if not path.exists():
            given = ("from --tracking-uri" if uri else "from $MLFLOW_TRACKING_URI" if os.environ.get(
                "MLFLOW_TRACKING_URI") else "the default, as neither --tracking-uri nor $MLFLOW_TRACKING_URI is set")
            raise click.UsageError(
                f"there is no MLflow store at {path} ({given}): pass --tracking-uri with the server or "
                "store that holds it, or set MLFLOW_TRACKING_URI"
            )
    return resolved


@contextlib.contextmanager
def library_logging(verbose: bool) -> Iterator[None]:
    """MLflow, W&B and Hugging Face at WARNING (their INFO lines are not ours to print), INFO with ``-v``.

    MLflow sets its level from ``MLFLOW_LOGGING_LEVEL`` when it is imported and W&B reads
    ``WANDB_SILENT``, so both are set for the command (a user's own values win); the
    loggers already created are set too. Everything is restored when the command ends.
    """
    level = logging.INFO if verbose else logging.WARNING
    env = {} if verbose else {k: v for k, v in (("MLFLOW_LOGGING_LEVEL", "WARNING"), ("WANDB_SILENT", "true"))
                              if k not in os.environ}
    loggers = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("drift_tracking").setLevel(logging.INFO)
    try:
        with scoped_env(env):
            yield
    finally:
        for lg, old in zip(loggers, saved):
            lg.setLevel(old)


def check_output_file(path: str | None, option: str) -> None:
    """Before any work: ``path`` can be written as a file (its folder exists and is writable)."""
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise click.BadParameter(f"{path} is a directory; give a file name", param_hint=option)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise click.BadParameter(f"the folder {parent} does not exist; create it first", param_hint=option)
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise click.BadParameter(f"{path} cannot be written (permission denied)", param_hint=option)


def check_output_dir(path: str | None, option: str, *, force: bool, ours: Iterable[str] | None = None) -> None:
    """Before any work: ``path`` is a folder this command may fill.

    It must be new, empty, or (with ``--force``) any folder; ``ours`` names entries a
    previous run of the same command wrote, which may be replaced without ``--force``.
    The nearest existing parent must be writable, so nothing is computed for nothing.
    """
    if path is None:
        return
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise click.BadParameter(f"{path} exists and is not a folder; choose another", param_hint=option)
    existing = _nearest_existing(target)
    if not os.access(existing, os.W_OK):
        raise click.BadParameter(f"{existing} cannot be written (permission denied)", param_hint=option)
    if force or not target.exists():
        return
    foreign = sorted(p.name for p in target.iterdir() if p.name not in set(ours or ()))
    if foreign and ours is None:
        raise click.BadParameter(f"{path} already exists and is not empty; choose another folder or pass --force "
                                 "to overwrite it", param_hint=option)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise click.BadParameter(
            f"{path} already holds files this command did not write ({shown}); choose another folder or pass "
            "--force to write into it anyway", param_hint=option,
        )


def _nearest_existing(path: Path) -> Path:
    current = path.absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    return current
