#!/usr/bin/env bash
# The command line from scratch: a baseline from a good week, then two production windows.
#
#   bash examples/cli_quickstart.sh [DIR]          # writes everything under DIR (./drift-quickstart)
#
# It generates support-bot traffic (drift_tracking.demo), so it runs anywhere and offline; with your own logs,
# start at step 2. Sizes: N_BASELINE (default 3000 rows) and N_WINDOW (default 1000).
# Exit 0 when the healthy window passes and the drifted one is caught.
set -euo pipefail

DIR="${1:-drift-quickstart}"
N_BASELINE="${N_BASELINE:-3000}"
N_WINDOW="${N_WINDOW:-1000}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$DIR"

# 1. Logs as JSON lines (prompt, response, timestamp, id): a good week, a healthy window
#    and a window where 40% of the prompts are about topics the good week never saw.
"$PYTHON" - "$DIR" "$N_BASELINE" "$N_WINDOW" <<'PY'
import sys

from drift_tracking import demo

out, n_baseline, n_window = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
demo.write(demo.generate(n_baseline, seed=1), f"{out}/good_week.jsonl")
demo.write(demo.generate(n_window, seed=11, start="2026-02-01T00:00:00Z"), f"{out}/healthy_window.jsonl")
demo.write(demo.generate(n_window, seed=12, novel_share=0.4, start="2026-02-08T00:00:00Z"),
              f"{out}/drifted_window.jsonl")
PY
echo "== 1. generated $N_BASELINE good-week rows and two windows of $N_WINDOW in $DIR/"

# 2. The baseline: embeddings, clusters and thresholds calibrated for windows of this size.
echo "== 2. baseline"
drift-tracking baseline build "$DIR/good_week.jsonl" --text-column prompt --response-column response \
    --window-size "$N_WINDOW" --out "$DIR/baseline" --force

# 3. A healthy window: the text report; --fail-on critical is what a cron job or CI step uses.
echo "== 3. healthy window"
drift-tracking check "$DIR/healthy_window.jsonl" --baseline "$DIR/baseline" --response-column response \
    --fail-on critical

# 4. The drifted window: a JSON report for machines, and an exit code scripts act on.
echo "== 4. drifted window"
status=0
drift-tracking check "$DIR/drifted_window.jsonl" --baseline "$DIR/baseline" --response-column response \
    --format json --out "$DIR/drifted_report.json" --fail-on critical > /dev/null || status=$?
"$PYTHON" - "$DIR/drifted_report.json" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1]))
print(f"tier {report['tier']}: {report['tier_reasons'][0]}")
print(f"novel_cluster_share {report['metrics']['novel_cluster_share']:.2f}, "
      f"js_divergence {report['metrics']['js_divergence']:.3f} (report: {sys.argv[1]})")
PY
if [[ "$status" -eq 1 ]]; then
  echo "drift-tracking check exited 1: the drifted window reached critical, as a scheduled job would report."
  exit 0
fi
echo "expected exit 1 for the drifted window, got $status" >&2
exit 1
