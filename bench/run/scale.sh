#!/usr/bin/env bash
# Scale (issue #10): synthetic no-op sweeps of growing size on 4 ranks. Prints, per size, the
# coordinator's peak RSS (goal < 300 MB at 100,000 tasks) and the cost of rewriting results.h5 from
# the journal (read + verify every checksum + write; `fersweep status --rewrite` does the same),
# with the cost per task, which must stay flat (linear growth). Peer: the same process's RSS
# right after start-up (libraries loaded, nothing planned), so the growth per task is visible.
# Usage: bench/run/scale.sh   (env: SIZES="10000 30000 100000" RANKS=4 BUILD=build/release)
set -euo pipefail
source "$(dirname "$0")/common.sh"
SIZES="${SIZES:-10000 30000 100000}" RANKS="${RANKS:-4}"
printf '%-8s %12s %14s %16s %16s %12s\n' tasks "run s" "peak RSS MiB" "rewrite s" "rewrite us/task" "journal MiB"
base_rss=""
for n in $SIZES; do
  "${MPIRUN[@]}" -np "$RANKS" "$FERSWEEP" --quiet synthetic-run --tasks "$n" --out "$WORK/run$n" \
    --no-progress --stats "$WORK/stats$n.json"
  f="$WORK/stats$n.json"
  printf '%-8s %12.2f %14.0f %16.3f %16.2f %12.1f\n' "$n" "$(json_field "$f" seconds)" \
    "$(json_field "$f" coordinator_peak_rss_mib)" "$(json_field "$f" rewrite_seconds)" \
    "$(echo "$(json_field "$f" rewrite_seconds) * 1000000 / $n" | bc -l)" \
    "$(echo "$(json_field "$f" journal_bytes) / 1048576" | bc -l)"
  rm -rf "$WORK/run$n"
done
# The floor: a 1-task run's peak RSS (libraries and MPI, no tasks to speak of).
"${MPIRUN[@]}" -np "$RANKS" "$FERSWEEP" --quiet synthetic-run --tasks 1 --out "$WORK/run1" \
  --no-progress --stats "$WORK/stats1.json"
printf 'peer: 1-task run peak RSS %.0f MiB (libraries, MPI)\n' \
  "$(json_field "$WORK/stats1.json" coordinator_peak_rss_mib)"
echo "goal: peak RSS < 300 MB at 100000 tasks; rewrite us/task flat across sizes (linear cost)"
