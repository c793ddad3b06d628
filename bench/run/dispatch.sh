#!/usr/bin/env bash
# Dispatch throughput (issue #7, benchmark 1): no-op tasks through the real coordinator (task
# encoding, checksummed journal with batched fsync, scheduler bookkeeping, events, results.h5
# rewritten at the end) on 4 ranks, against a bare MPI farm (bench_run_farm: 64-byte messages, one
# task per request, no journal) measured in the same run, alternating, REPEAT times each.
# Figure: tasks / the coordinator's run time (first dispatch to final results.h5 written); process
# start and building the task list are excluded on both sides (shown separately as wall time).
# LOAD=N runs N busy loops meanwhile (both sides), to see the figures on a node shared with other
# work: every hand-off between ranks then waits for the OS scheduler, for the farm as for us.
# Usage: bench/run/dispatch.sh   (env: TASKS=50000 BATCH=16 RANKS=4 REPEAT=3 LOAD=0 BUILD=build/release)
set -euo pipefail
source "$(dirname "$0")/common.sh"
TASKS="${TASKS:-50000}" BATCH="${BATCH:-16}" RANKS="${RANKS:-4}" REPEAT="${REPEAT:-3}"
LOAD="${LOAD:-0}"
hogs=()
for ((k = 0; k < LOAD; k++)); do
  (while :; do :; done) &
  hogs+=($!)
done
trap '((${#hogs[@]})) && kill "${hogs[@]}" 2>/dev/null; rm -rf "$WORK"' EXIT
ours=() peer=() walls=()
for ((i = 1; i <= REPEAT; i++)); do
  line=$("${MPIRUN[@]}" -np "$RANKS" "$FARM" "$TASKS" | grep farm_tasks_per_s)
  peer+=("${line##* }")
  start=$(date +%s.%N)
  "${MPIRUN[@]}" -np "$RANKS" "$FERSWEEP" --quiet synthetic-run --tasks "$TASKS" --batch "$BATCH" \
    --out "$WORK/run" --force-new --no-progress --stats "$WORK/stats.json"
  walls+=("$(echo "$(date +%s.%N) - $start" | bc)")
  ours+=("$(json_field "$WORK/stats.json" tasks_per_s)")
  printf 'run %d: fersweep %8.0f tasks/s   bare farm %8.0f tasks/s\n' "$i" "${ours[-1]}" "${peer[-1]}"
done
m_ours=$(median "${ours[@]}") m_peer=$(median "${peer[@]}") m_wall=$(median "${walls[@]}")
echo
echo "dispatch: $TASKS no-op tasks, $RANKS ranks (--oversubscribe), batch $BATCH, median of $REPEAT," \
  "$LOAD busy loops alongside"
printf 'goal                      >= 50000 tasks/s\n'
printf 'fersweep synthetic-run    %8.0f tasks/s   (whole command incl. start-up: %.2f s wall)\n' \
  "$m_ours" "$m_wall"
printf 'peer: bare MPI farm       %8.0f tasks/s\n' "$m_peer"
printf 'ratio fersweep / peer     %8.3f\n' "$(echo "$m_ours / $m_peer" | bc -l)"
printf 'goal met                  %s\n' "$(echo "$m_ours >= 50000" | bc | sed 's/1/yes/;s/0/no/')"
