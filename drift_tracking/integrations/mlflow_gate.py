"""The registry gate: a model version becomes ``champion`` / ``Production`` only if its drift allows.

MLflow cannot refuse an alias change (its webhooks fire afterwards), so the decision is
taken here, in the client, *before* the alias is set or the stage transitioned. Whatever
the outcome, the version carries the decision as tags, so the registry itself answers
"which versions passed the gate, on which evaluation?"::

    client.search_model_versions("name='support-bot' and tags.drift.gate='passed'")

Tags written on the model version (values are strings):

* ``drift.gate``: ``passed``, ``blocked`` or ``overridden`` (``audited-...`` when the
  webhook receiver checked an alias set outside the gate, see :meth:`Gate.audit`);
* ``drift.tier``, ``drift.kind``, ``drift.baseline_version``, ``drift.evaluation_run_id``;
* ``drift.gate_target`` (``alias:champion`` / ``stage:Production``), ``drift.gate_at``,
  ``drift.gate_reasons``, ``drift.gate_warning`` (a ``review`` tier that was let through);
* ``drift.gate_aliases``: the aliases the gate itself set on this version (the webhook
  receiver uses it to tell the gate's own alias changes from changes made around it);
* on an override: ``drift.override_by``, ``drift.override_at``, ``drift.override_reason``,
  also written on the evaluation run, which gets ``drift.gate`` and ``drift.gate_target``
  too, so the run links back to the decision it was used for.

Tags are written before the alias moves: a webhook that fires on the alias change
then already sees the gate's record.
"""

from __future__ import annotations

import getpass
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drift_tracking.artifact import utc_now
from drift_tracking.integrations.gate_evaluation import (
    Evaluation,
    GateError,
    evaluation_from_run,
    latest_evaluation,
    run_evaluation,
)
from drift_tracking.integrations.mlflow_logging import TAG_MAX, first_line
from drift_tracking.report import TIER_LEVEL, TIERS

if TYPE_CHECKING:
    from mlflow import MlflowClient

GATE_OUTCOMES = ("passed", "blocked", "overridden")
AUDIT_PREFIX = "audited-"
BLOCKABLE_KINDS = ("degradation", "unknown", "benign")
STAGES = ("Staging", "Production")
STAGE_NOTE = (
    "MLflow deprecated stages in 2.9: the transition was made and its FutureWarning silenced. "
    "Move to aliases with --alias champion when you can (load with models:/NAME@champion)."
)


# -- the rule ------------------------------------------------------------------------
@dataclass(frozen=True)
class GateRule:
    """Which evaluations block a promotion.

    ``block_on`` is the lowest tier that blocks (``critical`` by default, ``review`` for a
    strict gate); any drift kind in ``block_kinds`` blocks whatever the tier (by default
    ``degradation``: answer quality dropped). A ``review`` tier below ``block_on`` passes
    with a warning tag, so the weekly review still sees it.
    """

    block_on: str = "critical"
    block_kinds: frozenset[str] = frozenset({"degradation"})

    def __post_init__(self) -> None:
        if self.block_on not in ("review", "critical"):
            raise GateError(f"block_on must be 'review' or 'critical', got {self.block_on!r}")
        unknown = set(self.block_kinds) - set(BLOCKABLE_KINDS)
        if unknown:
            raise GateError(f"unknown drift kind(s) {sorted(unknown)} in block_kinds; use {', '.join(BLOCKABLE_KINDS)}")
        object.__setattr__(self, "block_kinds", frozenset(self.block_kinds))

    def decide(self, tier: str, kind: str) -> tuple[bool, list[str], list[str]]:
        """``(blocked, reasons, warnings)`` for an evaluation of ``tier`` and drift ``kind``."""
        if tier not in TIER_LEVEL:
            raise GateError(f"the evaluation's tier {tier!r} is not one of {', '.join(TIERS)}; re-run the evaluation")
        reasons: list[str] = []
        if TIER_LEVEL[tier] >= TIER_LEVEL[self.block_on]:
            reasons.append(f"drift tier is {tier} (the gate blocks from {self.block_on})")
        if kind in self.block_kinds:
            reasons.append(f"drift kind is {kind} (the gate blocks {', '.join(sorted(self.block_kinds))})")
        notes = [] if reasons or tier == "ok" else [f"drift tier is {tier}: allowed, but look at it in the next review"]
        return bool(reasons), reasons, notes

    def describe(self) -> str:
        kinds = ", ".join(sorted(self.block_kinds)) or "none"
        return f"block on tier >= {self.block_on} or drift kind in [{kinds}]"


# -- the gate ------------------------------------------------------------------------
@dataclass
class GateResult:
    """What the gate decided and what it did (or, in a dry run, would do)."""

    name: str
    version: str
    target: str
    outcome: str
    allowed: bool
    applied: bool
    evaluation: Evaluation
    reasons: list[str]
    warnings: list[str]
    tags: dict[str, str]
    previous: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return not self.allowed

    def summary(self) -> list[str]:
        """Lines for a terminal or a CI log: the decision first, then why."""
        verb = {"passed": "PROMOTED", "overridden": "PROMOTED (override)", "blocked": "BLOCKED"}[self.outcome]
        if not self.applied:
            verb = f"DRY RUN: would be {verb.lower()}" if self.outcome != "blocked" else "DRY RUN: would be blocked"
        ev = self.evaluation
        lines = [
            f"{verb}: {self.name} version {self.version} -> {self.target}",
            f"  evaluation: run {ev.run_id or '(not logged, dry run)'}, tier {ev.tier}, kind {ev.kind}, "
            f"baseline version {ev.baseline_version or '?'}",
        ]
        lines += [f"  reason: {r}" for r in self.reasons]
        if self.outcome == "overridden":
            lines.append(f"  override by {self.tags['drift.override_by']}: {self.tags['drift.override_reason']}")
        lines += [f"  drift: {r}" for r in ev.reasons[:5]]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  note: {n}" for n in self.notes]
        if self.previous is not None and self.allowed:
            lines.append(f"  {self.target} was on version {self.previous}")
        return lines


class Gate:
    """Promotes model versions in an MLflow registry only when their drift evaluation allows it."""

    def __init__(
        self,
        tracking_uri: str | None = None,
        *,
        rule: GateRule | None = None,
        client: "MlflowClient | None" = None,
    ) -> None:
        if client is None:
            from mlflow import MlflowClient

            client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.client = client
        self.rule = rule or GateRule()

    # -- evaluations -------------------------------------------------------------------
    def evaluation(self, name: str, version: str | int, run_id: str | None = None) -> Evaluation:
        """The evaluation of a version: ``run_id`` if given, else the newest run tagged for it."""
        version = str(version)
        if run_id:
            found = evaluation_from_run(self.client, run_id)
            if found.model_name not in (None, name) or found.model_version not in (None, version):
                raise GateError(
                    f"run {run_id} evaluates {found.model_name} version {found.model_version}, not {name} "
                    f"version {version}: pass the evaluation run of the version you promote"
                )
            return found
        found = latest_evaluation(self.client, name, version)
        if found is None:
            raise GateError(
                f"no drift evaluation found for {name} version {version} (no run tagged drift.model_name={name}, "
                f"drift.model_version={version}); pass --evaluation-run RUN_ID, or --baseline URI --window FILE "
                "to run one"
            )
        return found

    def version(self, name: str, version: str | int) -> Any:
        """The registry's model version, or a :class:`GateError` saying why it cannot be read."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version(name, str(version))
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise GateError(
                    f"model {name!r} version {version} is not in the registry: {first_line(exc)}; "
                    "register it first (mlflow.register_model) or check --model / --version"
                ) from exc
            raise GateError(
                f"could not read model {name!r} version {version} from the registry ({first_line(exc)}); "
                "nothing was changed: check the tracking URI and credentials, then run the gate again"
            ) from exc

    # -- promotion ---------------------------------------------------------------------
    def promote(
        self,
        name: str,
        version: str | int,
        *,
        alias: str | None = None,
        stage: str | None = None,
        evaluation: Evaluation | None = None,
        override_reason: str | None = None,
        dry_run: bool = False,
        user: str | None = None,
        archive_existing: bool = False,
    ) -> GateResult:
        """Decide, record the decision on the version, and promote only if allowed.

        An ``override_reason`` promotes a blocked version anyway and records who, when and
        why on the version and on the evaluation run. ``dry_run`` changes nothing.
        """
        version = str(version)
        if not alias and not stage:
            raise GateError("nothing to promote to: give an alias (e.g. champion) or a stage (Production)")
        if stage is not None and stage not in STAGES:
            raise GateError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
        if override_reason is not None and not override_reason.strip():
            raise GateError("an override needs a reason: say why the drift is acceptable (--reason TEXT)")
        self.version(name, version)
        evaluation = evaluation or self.evaluation(name, version)
        blocked, reasons, notes = self.rule.decide(evaluation.tier, evaluation.kind)
        target = ", ".join(t for t in (alias and f"alias:{alias}", stage and f"stage:{stage}") if t)
        now = utc_now()
        outcome = "passed"
        tags = {
            **_evaluation_tags(evaluation),
            "drift.gate_target": target,
            "drift.gate_at": now,
            "drift.gate_rule": self.rule.describe(),
            "drift.gate_reasons": "; ".join(reasons or evaluation.reasons or ["within the gate's rule"]),
            "drift.gate_warning": "; ".join(notes),
        }
        override: dict[str, str] = {}
        if blocked and override_reason is not None:
            outcome = "overridden"
            override = {
                "drift.override_by": user or current_user(),
                "drift.override_at": now,
                "drift.override_reason": override_reason.strip(),
            }
        elif blocked:
            outcome = "blocked"
        elif override_reason is not None:
            notes = [*notes, "--override was not needed: the evaluation passes the gate, no override recorded"]
        allowed = outcome != "blocked"
        tags["drift.gate"] = outcome
        tags.update(override)
        if allowed and alias:
            tags["drift.gate_aliases"] = _add_alias(self._tag(name, version, "drift.gate_aliases"), alias)
        tags = {k: v[:TAG_MAX] for k, v in tags.items()}
        result = GateResult(
            name, version, target, outcome, allowed, not dry_run, evaluation, reasons, notes, tags,
            previous=self._alias_holder(name, alias) if alias else None,
        )
        if stage:
            result.notes.append(STAGE_NOTE)
        if dry_run:
            return result
        for key, value in tags.items():
            self.client.set_model_version_tag(name, version, key, value)
        if evaluation.run_id:
            run_tags = {"drift.gate": outcome, "drift.gate_target": f"{name} v{version} {target}", **override}
            run_tags.setdefault("drift.model_name", name)
            run_tags.setdefault("drift.model_version", version)
            for key, value in run_tags.items():
                self.client.set_tag(evaluation.run_id, key, value[:TAG_MAX])
        if allowed:
            if alias:
                self.client.set_registered_model_alias(name, alias, version)
            if stage:
                self._transition(name, version, stage, archive_existing)
        return result

    def _transition(self, name: str, version: str, stage: str, archive_existing: bool) -> None:
        """Stages still work in MLflow 3 but warn on every call; the note in the result tells the user."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, message=r".*[Ss]tage.*")
            self.client.transition_model_version_stage(
                name, version, stage, archive_existing_versions=archive_existing
            )

    def _alias_holder(self, name: str, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            return None

    def _tag(self, name: str, version: str, key: str) -> str:
        return self.version(name, version).tags.get(key, "")

    # -- audit (webhook follow-up) -------------------------------------------------------
    def audit(self, name: str, alias: str, version: str | int, evaluation: Evaluation | None = None) -> str | None:
        """Check a version an alias was set on; returns the audit outcome, or ``None`` if the gate set it.

        Called after the fact (registry webhooks fire once the alias has moved), so it
        cannot undo anything: it records ``drift.gate = audited-passed`` /
        ``audited-blocked`` (the rule would have refused it) / ``audited-unevaluated`` (no
        evaluation exists for the version), with ``drift.audit_alias`` and ``drift.audit_at``.
        """
        version = str(version)
        tags = self.version(name, version).tags
        if tags.get("drift.gate") in ("passed", "overridden") and alias in _aliases(tags.get("drift.gate_aliases", "")):
            return None
        if evaluation is None:
            try:
                evaluation = self.evaluation(name, version)
            except GateError:
                evaluation = None
        record = {"drift.audit_alias": alias, "drift.audit_at": utc_now()}
        if evaluation is None:
            outcome = AUDIT_PREFIX + "unevaluated"
            record["drift.gate_reasons"] = f"alias {alias} was set outside the gate and no drift evaluation exists"
        else:
            blocked, reasons, notes = self.rule.decide(evaluation.tier, evaluation.kind)
            outcome = AUDIT_PREFIX + ("blocked" if blocked else "passed")
            record.update(_evaluation_tags(evaluation))
            record["drift.gate_reasons"] = "; ".join(reasons or notes or ["within the gate's rule"])
        record["drift.gate"] = outcome
        for key, value in record.items():
            self.client.set_model_version_tag(name, version, key, value[:TAG_MAX])
        return outcome


def current_user() -> str:
    """Who is overriding: the login name from the environment ($USER, $LOGNAME, ...) or the OS."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no name anywhere must not make the audit trail empty
        return "unknown"


def _evaluation_tags(evaluation: Evaluation) -> dict[str, str]:
    """The evaluation a decision (or an audit) was taken on, as version tags."""
    return {
        "drift.tier": evaluation.tier,
        "drift.kind": evaluation.kind,
        "drift.baseline_version": evaluation.baseline_version,
        "drift.evaluation_run_id": evaluation.run_id or "",
    }


def _aliases(text: str) -> list[str]:
    return [a for a in (p.strip() for p in text.split(",")) if a]


def _add_alias(text: str, alias: str) -> str:
    found = _aliases(text)
    return ",".join(found if alias in found else [*found, alias])


__all__: Sequence[str] = (
    "Evaluation",
    "Gate",
    "GateError",
    "GateResult",
    "GateRule",
    "current_user",
    "evaluation_from_run",
    "latest_evaluation",
    "run_evaluation",
)
