#!/usr/bin/env bash
# Efficiency (issue #7, benchmark 2): 2,000 tasks that each sleep 50 ms, 16 ranks on this machine
# (--oversubscribe). Rank 0 coordinates, so 15 ranks work: the ideal time is
# TASKS x SLEEP / 15 = 6.67 s. Measured: the coordinator's run time (first dispatch to results.h5
# written; process start excluded). Efficiency = ideal / measured; goal >= 98 %.
# Usage: bench/run/efficiency.sh   (env: TASKS=2000 SLEEP_MS=50 RANKS=16 REPEAT=1 BUILD=build/release)
set -euo pipefail
source "$(dirname "$0")/common.sh"
TASKS="${TASKS:-2000}" SLEEP_MS="${SLEEP_MS:-50}" RANKS="${RANKS:-16}" REPEAT="${REPEAT:-1}"
ideal=$(echo "$TASKS * $SLEEP_MS / 1000 / ($RANKS - 1)" | bc -l)
effs=()
for ((i = 1; i <= REPEAT; i++)); do
  "${MPIRUN[@]}" -np "$RANKS" "$FERSWEEP" --quiet synthetic-run --tasks "$TASKS" \
    --sleep-ms "$SLEEP_MS" --out "$WORK/run" --force-new --no-progress --stats "$WORK/stats.json"
  secs=$(json_field "$WORK/stats.json" seconds)
  effs+=("$(echo "$ideal / $secs" | bc -l)")
  printf 'run %d: %.3f s, efficiency %.2f %%\n' "$i" "$secs" "$(echo "${effs[-1]} * 100" | bc -l)"
done
m=$(median "${effs[@]}")
echo
echo "efficiency: $TASKS tasks x $SLEEP_MS ms, $RANKS ranks ($((RANKS - 1)) workers), $(nproc) cores"
printf 'goal                 >= 98 %% of ideal\n'
printf 'peer: ideal time     %.3f s (tasks x sleep / workers)\n' "$ideal"
printf 'measured (median)    %.3f s\n' "$(echo "$ideal / $m" | bc -l)"
printf 'ratio ideal/measured %.2f %%   goal met: %s\n' "$(echo "$m * 100" | bc -l)" \
  "$(echo "$m >= 0.98" | bc | sed 's/1/yes/;s/0/no/')"
