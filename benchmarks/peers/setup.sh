#!/usr/bin/env bash
# Create one virtual environment per peer detector under benchmarks/peers/.venvs/.
#
# The peers pin versions that conflict with drift-tracking's own environment and with
# each other (alibi-detect 0.11.4 needs numpy<2 and scipy 1.11; Evidently 0.7 needs
# pandas<3; NannyML 0.13 needs statsmodels), so each gets its own venv and runs in a
# subprocess that reads embeddings from .npy files. None of them is a dependency of
# drift-tracking. A peer whose install fails is reported and skipped; the others go on.
#
#   bash benchmarks/peers/setup.sh            # all peers
#   bash benchmarks/peers/setup.sh evidently  # one peer
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
venvs="$here/.venvs"
mkdir -p "$venvs"

# alibi-detect 0.11.4 is the last Apache-2.0 release. MMDDrift runs on its PyTorch
# backend (the CPU wheel of torch 2.13; TensorFlow would add ~500 MB for nothing).
# numba and numpy are pinned because alibi-detect allows numba<0.58, whose only
# Python 3.11 wheels (0.57.x) need numpy<1.25; unpinned, pip backtracks to numba
# 0.56.4's source release, which refuses to build on Python 3.11.
declare -A specs=(
  [alibi]="alibi-detect==0.11.4 numpy==1.24.4 numba==0.57.1 scipy==1.11.4 torch==2.13.0"
  [evidently]="evidently==0.7.* pandas<3"
  [nannyml]="nannyml==0.13.* statsmodels"
)
failed=()
for peer in ${@:-alibi evidently nannyml}; do
  if [ -z "${specs[$peer]:-}" ]; then
    echo "unknown peer '$peer'; choose from: ${!specs[*]}" >&2
    exit 2
  fi
  dir="$venvs/$peer"
  echo "== $peer: ${specs[$peer]}"
  if [ ! -x "$dir/bin/python" ]; then
    "$python" -m venv "$dir" || { failed+=("$peer"); continue; }
  fi
  # shellcheck disable=SC2086
  if "$dir/bin/python" -m pip install -q ${specs[$peer]} > "$dir/install.log" 2>&1; then
    "$dir/bin/python" -m pip freeze > "$dir/freeze.txt"
    echo "   ok ($dir)"
  else
    echo "   FAILED: see $dir/install.log (last lines below); the benchmark skips this peer" >&2
    tail -5 "$dir/install.log" >&2
    failed+=("$peer")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "peers not installed: ${failed[*]}" >&2
fi
exit 0
