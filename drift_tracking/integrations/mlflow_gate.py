"""The registry gate: a model version becomes ``champion`` / ``Production`` only if its drift allows.

MLflow cannot refuse an alias change (its webhooks fire afterwards), so the decision is
taken here, in the client, *before* the alias is set or the stage transitioned. Whatever
the outcome, the version carries the decision as tags, so the registry itself answers
"which versions passed the gate, on which evaluation?"::

    client.search_model_versions("name='support-bot' and tags.drift.gate='passed'")

The gate decides only on evaluations it can trust (see
:mod:`drift_tracking.integrations.gate_evaluation`): with a key (``DRIFT_TRACKING_GATE_KEY``)
it verifies the version's signed evaluation (mode ``signed-evaluation``) and refuses a
forged, unsigned, re-tagged, stale or mismatched one; without a key it trusts no logged
run, and the caller hands it an evaluation it just computed (mode ``re-evaluated``).

Tags written on the model version (values are strings):

* ``drift.gate``: ``passed``, ``blocked``, ``refused`` (the evaluation could not be
  trusted) or ``overridden`` (``audited-...`` when the webhook receiver checked an alias
  set outside the gate, see :meth:`Gate.audit`);
* ``drift.gate_mode``: ``signed-evaluation`` or ``re-evaluated``;
* ``drift.tier``, ``drift.kind``, ``drift.baseline_version``, ``drift.baseline_sha256``,
  ``drift.baseline_registry``, ``drift.window_sha256``, ``drift.report_sha256``,
  ``drift.evaluated_at``, ``drift.evaluation_run_id`` (empty but the run id on a refusal);
* ``drift.gate_target`` (``alias:champion`` / ``stage:Production``), ``drift.gate_at``,
  ``drift.gate_reasons`` (for a refusal, its one-line reason), ``drift.gate_warning``
  (a ``review`` tier that was let through);
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
    DEFAULT_MAX_AGE_S,
    KEY_ENV,
    REEVALUATED,
    SIGNED,
    Evaluation,
    EvaluationRefused,
    GateError,
    gate_key,
    latest_evaluation_run,
    run_evaluation,
    verify_evaluation,
)
from drift_tracking.integrations.mlflow_logging import TAG_MAX, first_line
from drift_tracking.report import TIER_LEVEL, TIERS

if TYPE_CHECKING:
    from mlflow import MlflowClient

GATE_OUTCOMES = ("passed", "blocked", "refused", "overridden")
AUDIT_PREFIX = "audited-"
BLOCKABLE_KINDS = ("degradation", "unknown", "benign")
STAGES = ("Staging", "Production")
STAGE_NOTE = (
    "MLflow deprecated stages in 2.9: the transition was made and its FutureWarning silenced. "
    "Move to aliases with --alias champion when you can (load with models:/NAME@champion)."
)
NO_KEY = (
    f"no {KEY_ENV} is set, so the gate trusts no logged evaluation (anyone who can log a run can write its tags): "
    "give --baseline URI and --window FILE and the gate evaluates the version itself, or set "
    f"{KEY_ENV} to the key evaluations are signed with"
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
    """What the gate decided and what it did (or, in a dry run, would do).

    ``evaluation`` is ``None`` when it was refused; ``refused_run`` then names the run.
    """

    name: str
    version: str
    target: str
    outcome: str
    allowed: bool
    applied: bool
    evaluation: Evaluation | None
    reasons: list[str]
    warnings: list[str]
    tags: dict[str, str]
    previous: str | None = None
    notes: list[str] = field(default_factory=list)
    mode: str = SIGNED
    refused_run: str | None = None

    @property
    def blocked(self) -> bool:
        return not self.allowed

    def summary(self) -> list[str]:
        """Lines for a terminal or a CI log: the decision first, then why."""
        verb = {"passed": "PROMOTED", "overridden": "PROMOTED (override)", "blocked": "BLOCKED",
                "refused": "REFUSED"}[self.outcome]
        if not self.applied:
            verb = "DRY RUN: would be " + ("promoted" if self.allowed and self.outcome == "passed" else verb.lower())
        ev = self.evaluation
        lines = [f"{verb}: {self.name} version {self.version} -> {self.target}", f"  mode: {self.mode}"]
        if ev is not None:
            registry = f" ({ev.baseline_registry})" if ev.baseline_registry else ""
            lines.append(f"  evaluation: run {ev.run_id or '(not logged, dry run)'}, tier {ev.tier}, kind {ev.kind}, "
                         f"baseline version {ev.baseline_version or '?'}{registry}")
        else:
            lines.append(f"  evaluation: run {self.refused_run} (refused)")
        lines += [f"  reason: {r}" for r in self.reasons]
        if self.outcome == "overridden":
            lines.append(f"  override by {self.tags['drift.override_by']}: {self.tags['drift.override_reason']}")
        lines += [f"  drift: {r}" for r in (ev.reasons[:5] if ev else [])]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  note: {n}" for n in self.notes]
        if self.previous is not None and self.allowed:
            lines.append(f"  {self.target} was on version {self.previous}")
        return lines


class Gate:
    """Promotes model versions in an MLflow registry only when a drift evaluation it trusts allows it.

    ``key`` signs and verifies evaluations (default ``$DRIFT_TRACKING_GATE_KEY``); a signed
    evaluation older than ``max_age_s`` is refused as stale.
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        *,
        rule: GateRule | None = None,
        client: "MlflowClient | None" = None,
        key: str | bytes | None = None,
        max_age_s: float = DEFAULT_MAX_AGE_S,
    ) -> None:
        if client is None:
            from mlflow import MlflowClient

            client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.client = client
        self.rule = rule or GateRule()
        self.key = gate_key(key)
        if max_age_s <= 0:
            raise GateError(f"the maximum evaluation age must be positive, got {max_age_s} s")
        self.max_age_s = max_age_s

    # -- evaluations -------------------------------------------------------------------
    def evaluation(self, name: str, version: str | int, run_id: str | None = None, *,
                   baseline: str | None = None) -> Evaluation:
        """The version's signed evaluation, verified: ``run_id`` if given, else the newest run tagged for it.

        ``baseline`` is the baseline it must have been evaluated against (default: the
        registry URI the evaluation names, resolved now). Raises :class:`EvaluationRefused`
        when the evaluation cannot be trusted, :class:`GateError` when there is none or
        no key to verify it with.
        """
        if self.key is None:
            raise GateError(NO_KEY)
        version = str(version)
        run_id = run_id or latest_evaluation_run(self.client, name, version)
        if run_id is None:
            raise GateError(
                f"no drift evaluation found for {name} version {version} (no run tagged drift.model_name={name}, "
                f"drift.model_version={version}); pass --evaluation-run RUN_ID, or --baseline URI --window FILE "
                "to run one"
            )
        return verify_evaluation(self.client, run_id, name, version, key=self.key, max_age_s=self.max_age_s,
                                 baseline_uri=baseline, tracking_uri=self.client.tracking_uri)

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
        run_id: str | None = None,
        baseline: str | None = None,
        override_reason: str | None = None,
        dry_run: bool = False,
        user: str | None = None,
        archive_existing: bool = False,
    ) -> GateResult:
        """Decide, record the decision on the version, and promote only if allowed.

        The evaluation is ``evaluation`` when the caller just computed it
        (:func:`run_evaluation`, mode ``re-evaluated``), else the version's signed
        evaluation (``run_id``, or the newest run tagged for the version), verified against
        ``baseline`` (see :meth:`evaluation`); one that cannot be trusted is ``refused``.
        An ``override_reason`` promotes a blocked or refused version anyway and records
        who, when and why on the version and on the evaluation run. ``dry_run`` changes nothing.
        """
        version = str(version)
        target = _target(alias, stage, override_reason)
        self.version(name, version)
        evaluation, refusal = self._trusted(name, version, evaluation, run_id, baseline)
        if refusal is not None:
            blocked, reasons, notes = True, [str(refusal)], []
        else:
            assert evaluation is not None
            blocked, reasons, notes = self.rule.decide(evaluation.tier, evaluation.kind)
        outcome = "passed" if not blocked else "refused" if refusal else "blocked"
        if blocked and override_reason is not None:
            outcome = "overridden"
        elif override_reason is not None:
            notes = [*notes, "--override was not needed: the evaluation passes the gate, no override recorded"]
        result = GateResult(
            name, version, target, outcome, outcome in ("passed", "overridden"), not dry_run, evaluation,
            reasons, notes, {}, previous=self._alias_holder(name, alias) if alias else None,
            mode=evaluation.mode if evaluation else SIGNED, refused_run=refusal.run_id if refusal else None,
        )
        result.tags = self._decision_tags(result, alias, override_reason, user)
        if stage:
            result.notes.append(STAGE_NOTE)
        if not dry_run:
            self._apply(result, alias, stage, archive_existing)
        return result

    def _trusted(self, name: str, version: str, evaluation: Evaluation | None, run_id: str | None,
                 baseline: str | None) -> tuple[Evaluation | None, EvaluationRefused | None]:
        """The evaluation to decide on, or why the one found cannot be trusted."""
        if evaluation is not None:
            if evaluation.mode not in (SIGNED, REEVALUATED):
                raise GateError("the gate decides only on an evaluation from Gate.evaluation (verified) or "
                                "run_evaluation (computed now), not on one read from a run's tags")
            return evaluation, None
        try:
            return self.evaluation(name, version, run_id, baseline=baseline), None
        except EvaluationRefused as exc:
            return None, exc

    def _decision_tags(self, result: GateResult, alias: str | None, override_reason: str | None,
                       user: str | None) -> dict[str, str]:
        now, ev = utc_now(), result.evaluation
        tags = {
            **_evaluation_tags(ev, result.refused_run),
            "drift.gate": result.outcome,
            "drift.gate_mode": result.mode,
            "drift.gate_target": result.target,
            "drift.gate_at": now,
            "drift.gate_rule": self.rule.describe(),
            "drift.gate_reasons": "; ".join(result.reasons or (ev.reasons if ev else []) or ["within the gate's rule"]),
            "drift.gate_warning": "; ".join(result.warnings),
        }
        if result.outcome == "overridden":
            tags.update({"drift.override_by": user or current_user(), "drift.override_at": now,
                         "drift.override_reason": (override_reason or "").strip()})
        if result.allowed and alias:
            tags["drift.gate_aliases"] = _add_alias(self._tag(result.name, result.version, "drift.gate_aliases"), alias)
        return {k: v[:TAG_MAX] for k, v in tags.items()}

    def _apply(self, result: GateResult, alias: str | None, stage: str | None, archive_existing: bool) -> None:
        """Tags first (the version, then the evaluation run), the alias or stage last."""
        for key, value in result.tags.items():
            self.client.set_model_version_tag(result.name, result.version, key, value)
        run_id = result.evaluation.run_id if result.evaluation else result.refused_run
        if run_id:
            run_tags = {"drift.gate": result.outcome, "drift.gate_target": f"{result.name} v{result.version} "
                        f"{result.target}", **{k: v for k, v in result.tags.items() if k.startswith("drift.override_")}}
            for key, value in run_tags.items():
                self.client.set_tag(run_id, key, value[:TAG_MAX])
        if result.allowed:
            if alias:
                self.client.set_registered_model_alias(result.name, alias, result.version)
            if stage:
                self._transition(result.name, result.version, stage, archive_existing)

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
        ``audited-blocked`` (the rule would have refused it) / ``audited-refused`` (its
        evaluation cannot be trusted) / ``audited-unevaluated`` (no evaluation exists,
        or no key to verify one), with ``drift.audit_alias`` and ``drift.audit_at``.
        """
        version = str(version)
        tags = self.version(name, version).tags
        if tags.get("drift.gate") in ("passed", "overridden") and alias in _aliases(tags.get("drift.gate_aliases", "")):
            return None
        record = {"drift.audit_alias": alias, "drift.audit_at": utc_now()}
        why = ""
        if evaluation is None:
            try:
                evaluation = self.evaluation(name, version)
            except EvaluationRefused as exc:
                outcome, why = "refused", str(exc)
            except GateError:
                outcome = "unevaluated"
                why = "no drift evaluation exists" if self.key else f"no {KEY_ENV} is set to verify an evaluation"
        if evaluation is not None:
            blocked, reasons, notes = self.rule.decide(evaluation.tier, evaluation.kind)
            outcome = "blocked" if blocked else "passed"
            record.update(_evaluation_tags(evaluation))
            record["drift.gate_reasons"] = "; ".join(reasons or notes or ["within the gate's rule"])
        else:
            record["drift.gate_reasons"] = f"alias {alias} was set outside the gate and {why}"
        record["drift.gate"] = AUDIT_PREFIX + outcome
        for key, value in record.items():
            self.client.set_model_version_tag(name, version, key, value[:TAG_MAX])
        return AUDIT_PREFIX + outcome


def current_user() -> str:
    """Who is overriding: the login name from the environment ($USER, $LOGNAME, ...) or the OS."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no name anywhere must not make the audit trail empty
        return "unknown"


def _target(alias: str | None, stage: str | None, override_reason: str | None) -> str:
    """``alias:X, stage:Y`` after checking the promotion's options."""
    if not alias and not stage:
        raise GateError("nothing to promote to: give an alias (e.g. champion) or a stage (Production)")
    if stage is not None and stage not in STAGES:
        raise GateError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    if override_reason is not None and not override_reason.strip():
        raise GateError("an override needs a reason: say why the drift is acceptable (--reason TEXT)")
    return ", ".join(t for t in (alias and f"alias:{alias}", stage and f"stage:{stage}") if t)


def _evaluation_tags(evaluation: Evaluation | None, refused_run: str | None = None) -> dict[str, str]:
    """The evaluation a decision (or an audit) was taken on, as version tags; empty for a refused one."""
    ev = evaluation or Evaluation(run_id=refused_run, tier="", kind="")
    return {
        "drift.tier": ev.tier,
        "drift.kind": ev.kind,
        "drift.baseline_version": ev.baseline_version,
        "drift.baseline_sha256": ev.baseline_sha256,
        "drift.baseline_registry": ev.baseline_registry,
        "drift.window_sha256": ev.window_sha256,
        "drift.report_sha256": ev.report_sha256,
        "drift.evaluated_at": ev.evaluated_at,
        "drift.evaluation_run_id": ev.run_id or "",
    }


def _aliases(text: str) -> list[str]:
    return [a for a in (p.strip() for p in text.split(",")) if a]


def _add_alias(text: str, alias: str) -> str:
    found = _aliases(text)
    return ",".join(found if alias in found else [*found, alias])


__all__: Sequence[str] = (
    "Evaluation",
    "EvaluationRefused",
    "Gate",
    "GateError",
    "GateResult",
    "GateRule",
    "current_user",
    "run_evaluation",
)
