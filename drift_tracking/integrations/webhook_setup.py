"""Register the registry webhook that feeds ``drift-tracking gate serve``, and prove it works.

``python -m drift_tracking.integrations.webhook_setup --url http://gate:8585/`` makes sure
the tracking server has one webhook of that name sending ``model_version_alias.created``
to the receiver, signed with the secret in ``$MLFLOW_WEBHOOK_SECRET`` (created, or updated
in place when it exists: safe to run at every start of the stack). It then has the
server send a signed test delivery and exits 1 unless the receiver accepted it, so a
mismatched secret or an unreachable receiver shows up when the stack starts, not after
the first alias that was never audited.

The test delivery uses the ``registered_model.created`` event, which the receiver
verifies and then ignores: no audit runs for the example model in the test payload.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from drift_tracking.integrations.webhook import ALIAS_CREATED

EVENT = ".".join(ALIAS_CREATED)
PROBE_EVENT = "registered_model.created"


def find_webhook(client: Any, name: str) -> Any | None:
    """The webhook called ``name``, or ``None``; reads every page of the list."""
    token = None
    while True:
        page = client.list_webhooks(page_token=token)
        for webhook in page:
            if webhook.name == name:
                return webhook
        token = page.token
        if not token:
            return None


def ensure_webhook(client: Any, name: str, url: str, secret: str) -> tuple[Any, str]:
    """Create or update the webhook ``name``; returns it and ``"created"`` or ``"updated"``."""
    existing = find_webhook(client, name)
    fields = {"url": url, "events": [EVENT], "secret": secret, "status": "ACTIVE"}
    if existing is None:
        return client.create_webhook(name=name, description="drift-tracking alias audit", **fields), "created"
    return client.update_webhook(existing.webhook_id, **fields), "updated"


def probe(client: Any, webhook: Any) -> str | None:
    """Why the receiver did not accept a signed test delivery, or ``None`` when it did."""
    result = client.test_webhook(webhook.webhook_id, event=PROBE_EVENT)
    if result.success:
        return None
    if result.response_status == 401:
        return ("the receiver refused the server's signature (401): MLFLOW_WEBHOOK_SECRET must be the same "
                "for gate serve and this command")
    detail = result.error_message or f"HTTP {result.response_status}: {(result.response_body or '')[:200]}"
    return f"the test delivery to {webhook.url} failed ({detail})"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", required=True, help="Where the receiver listens, e.g. http://gate:8585/.")
@click.option("--name", default="drift-audit", show_default=True, help="The webhook's name on the server.")
@click.option("--tracking-uri", default=None, help="MLflow server [default: $MLFLOW_TRACKING_URI].")
@click.option("--secret-env", default="MLFLOW_WEBHOOK_SECRET", show_default=True,
              help="Environment variable holding the shared secret (never on the command line).")
@click.option("--probe/--no-probe", "check", default=True, show_default=True,
              help="Send a signed test delivery and fail unless the receiver accepts it.")
def main(url: str, name: str, tracking_uri: str | None, secret_env: str, check: bool) -> None:
    """Register (or update) the alias-audit webhook for `drift-tracking gate serve`."""
    from mlflow import MlflowClient

    secret = os.environ.get(secret_env, "")
    if not secret:
        raise click.UsageError(f"${secret_env} is empty: set it to the secret gate serve verifies with")
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    webhook, action = ensure_webhook(client, name, url, secret)
    click.echo(f"Webhook {name} {action}: {EVENT} -> {url}")
    if check:
        problem = probe(client, webhook)
        if problem:
            click.echo(f"Error: {problem}", err=True)
            sys.exit(1)
        click.echo("Test delivery accepted by the receiver.")


if __name__ == "__main__":  # pragma: no cover
    main()
