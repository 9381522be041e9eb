#!/usr/bin/env bash
# Promote a model version in CI only if its drift evaluation allows it.
#
# The job fails (exit 1) when the gate blocks the promotion, and the alias stays where it
# was; a configuration error exits 2. The decision is on the model version either way
# (tags drift.gate, drift.tier, drift.kind, drift.evaluation_run_id) and written to
# $DECISION_FILE for the job's artifacts.
#
# Required:  MLFLOW_TRACKING_URI, MODEL, VERSION
# Optional:  ALIAS (default champion)          STAGE (e.g. Production, instead of ALIAS)
#            DRIFT_TRACKING_GATE_KEY (secret)  decide on the version's signed evaluation, and sign
#                                              the ones this job runs; without it BASELINE + WINDOW
#                                              are required (the gate trusts no logged run)
#            BASELINE + WINDOW                 run a fresh evaluation of this version
#            GOLDEN                            this version's golden-set answers (with BASELINE/WINDOW)
#            EVALUATION_RUN                    decide on this run instead
#            BLOCK_ON (critical|review)        OVERRIDE_REASON (promote anyway, recorded)
#            DECISION_FILE (default gate-decision.json)
#
# Example:
#   MODEL=support-bot VERSION=7 BASELINE=models:/support-bot-baseline@production \
#   WINDOW=eval/answers_v7.jsonl GOLDEN=eval/golden_v7.jsonl examples/ci_gate.sh
set -euo pipefail

: "${MLFLOW_TRACKING_URI:?set MLFLOW_TRACKING_URI to the MLflow tracking server}"
: "${MODEL:?set MODEL to the registered model name}"
: "${VERSION:?set VERSION to the model version to promote}"
DECISION_FILE="${DECISION_FILE:-gate-decision.json}"

args=(--model "$MODEL" --version "$VERSION" --block-on "${BLOCK_ON:-critical}" --format json)
if [[ -n "${STAGE:-}" ]]; then
  args+=(--stage "$STAGE")
else
  args+=(--alias "${ALIAS:-champion}")
fi
if [[ -n "${EVALUATION_RUN:-}" ]]; then
  args+=(--evaluation-run "$EVALUATION_RUN")
elif [[ -n "${BASELINE:-}" ]]; then
  args+=(--baseline "$BASELINE" --window "${WINDOW:?WINDOW goes with BASELINE}" --response-column response)
  [[ -n "${GOLDEN:-}" ]] && args+=(--golden "$GOLDEN")
fi
if [[ -n "${OVERRIDE_REASON:-}" ]]; then
  args+=(--override --reason "$OVERRIDE_REASON")
fi

status=0
drift-tracking gate promote "${args[@]}" > "$DECISION_FILE" || status=$?
case "$status" in
  0) echo "Gate passed: $MODEL version $VERSION promoted (decision in $DECISION_FILE)." ;;
  1) echo "::error title=Promotion blocked by drift::$MODEL version $VERSION was not promoted; see $DECISION_FILE"
     cat "$DECISION_FILE" ;;
  *) echo "::error title=Gate could not decide::drift-tracking gate promote exited $status (see the message above)" ;;
esac
exit "$status"
