#!/usr/bin/env bash
# The demo sweep end to end (issue #7, benchmark 3): sweeps/demo.yaml on `fersweep make-demo-data`
# data with 1, 2 and 3 ranks, and where the time goes, from results.h5: crop, extract and train
# seconds (summed over tasks, as the workers measured them), the workers' share of that
# (busy / workers), and the overhead = wall - busy / workers (start-up, dispatch, feature
# transfer, idle workers while the DAG unlocks). Peer: the 1-rank run (speed-up column).
# Each full run takes minutes on 2 cores. Extra --set options reduce the grid, e.g.
#   SET="grid.backbone=[resnet18]" bench/run/demo_scaling.sh
# Usage: bench/run/demo_scaling.sh   (env: RANKS="1 2 3" SET=... DATA=dir BUILD=build/release)
set -euo pipefail
source "$(dirname "$0")/common.sh"
RANKS="${RANKS:-1 2 3}"
DATA="${DATA:-$WORK/demo-data}"
[[ -f "$DATA/face_boxes.csv" ]] || "$FERSWEEP" --quiet make-demo-data "$DATA" --seed 0
sets=(--set "dataset.root=$DATA")
for s in ${SET:-}; do sets+=(--set "$s"); done
"$FERSWEEP" plan "$ROOT/sweeps/demo.yaml" "${sets[@]}" | grep -E "^(grid|tasks)"
printf '\n%-6s %9s %9s %10s %9s %12s %10s %9s\n' ranks "wall s" "crop s" "extract s" "train s" \
  "busy/wkr s" "overhead" "speed-up"
first=""
for np in $RANKS; do
  out="$WORK/run-np$np"
  start=$(date +%s.%N)
  if [[ "$np" == 1 ]]; then
    "$FERSWEEP" --quiet run "$ROOT/sweeps/demo.yaml" --out "$out" --no-feature-cache "${sets[@]}" >/dev/null
  else
    "${MPIRUN[@]}" -np "$np" "$FERSWEEP" --quiet run "$ROOT/sweeps/demo.yaml" --out "$out" --no-feature-cache \
      "${sets[@]}" >/dev/null
  fi
  wall=$(echo "$(date +%s.%N) - $start" | bc -l)
  [[ -n "$first" ]] || first="$wall"
  /usr/bin/python3 - "$out/results.h5" "$wall" "$np" "$first" <<'PY'
import sys
import h5py
import numpy as np

path, wall, ranks, first = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
with h5py.File(path, "r") as f:
    def total(group):
        return float(np.sum(f[group + "/seconds"][()])) if group + "/seconds" in f else 0.0
    crop, extract = total("/crops"), total("/extracts")
    # /results has one row per (train task, epoch): count each task once.
    ids = [x.decode() if isinstance(x, bytes) else x for x in f["/results/task_id"][()]]
    secs = f["/results/seconds"][()]
    train = float(sum(dict(zip(ids, secs)).values()))
workers = max(1, ranks - 1)
busy = (crop + extract + train) / workers
over = wall - busy
print(f"{ranks:<6d} {wall:9.1f} {crop:9.1f} {extract:10.1f} {train:9.1f} {busy:12.1f} "
      f"{over:6.1f} ({100 * over / wall:3.0f}%) {first / wall:6.2f}x")
PY
done
echo
echo "busy/wkr = (crop + extract + train) / worker ranks (1 rank: the coordinator works alone;"
echo "2 ranks: 1 worker, so no faster than 1 rank by design; 3 ranks: 2 workers)"
