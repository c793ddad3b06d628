#!/bin/bash
# Successive halving against the full grid (issue #18): 243 head configurations (lr 9 x weight
# decay 9 x label smoothing 3) on the demo features, trained to 200 epochs, once with
# `early_stop: {rungs: [25, 50, 100, 200], eta: 3}` and once without. Prints the head-epochs each
# trained (goal: halving at most a third of the grid's), both wall times, and whether both pick
# the same configuration by validation accuracy at epoch 200. The halving run's survivors have
# the grid's task ids, so their rows must equal the grid's bit for bit (checked too).
#
#   bench/sweep/halving.sh            # FERSWEEP=build/release/src/fersweep by default; FOLDS=1
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FERSWEEP="${FERSWEEP:-$ROOT/build/release/src/fersweep}"
FOLDS="${FOLDS:-1}"  # outer folds run (brackets): 1..5
[[ -x "$FERSWEEP" ]] || { echo "missing $FERSWEEP: build first" >&2; exit 2; }
WORK="$(mktemp -d /tmp/fersweep-bench-halving.XXXXXX)"
[[ -n "${KEEP:-}" ]] && echo "keeping $WORK" || trap 'rm -rf "$WORK"' EXIT

"$FERSWEEP" make-demo-data "$WORK/data" --seed 5 >/dev/null 2>&1
fold_list=$(seq -s, 0 $((FOLDS - 1)))
sweep() {  # sweep NAME EXTRA-LINE
  cat >"$WORK/$1.yaml" <<EOF
name: $1
dataset: {root: $WORK/data, image_size: 64, normalize: imagenet}
weights: random:3
cv: {folds: 5, seed: 0}
train: {head: linear, optimizer: adam, batch_size: 256, standardize: true}
select: {metric: val_accuracy, val_fraction: 0.2}
$2
grid:
  backbone: [resnet18]
  lr: [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
  weight_decay: [0.0, 0.00001, 0.00003, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03]
  label_smoothing: [0.0, 0.1, 0.2]
  epochs: [25, 50, 100, 200]
  fold: [$fold_list]
EOF
}
sweep grid ""
sweep halving "early_stop: {method: halving, rungs: [25, 50, 100, 200], eta: 3}"
# Extract once (the shared cache), so the two timed runs train heads only.
"$FERSWEEP" run "$WORK/grid.yaml" --out "$WORK/warm" --feature-cache "$WORK/cache" --no-progress \
  --set 'grid.lr=[0.01]' --set 'grid.weight_decay=[0.0]' --set 'grid.label_smoothing=[0.0]' >/dev/null 2>&1
for name in grid halving; do
  start=$(date +%s.%N)
  "$FERSWEEP" run "$WORK/$name.yaml" --out "$WORK/$name" --feature-cache "$WORK/cache" \
    --no-progress >"$WORK/$name.log" 2>&1 || { cat "$WORK/$name.log"; exit 1; }
  echo "$(date +%s.%N) - $start" | bc >"$WORK/$name.seconds"
done

"${PYTHON:-/usr/bin/python3}" - "$WORK" <<'EOF'
import sys, h5py
work = sys.argv[1]

def rows(name):
    with h5py.File(f"{work}/{name}/results.h5", "r") as f:
        g = f["results"]
        ids = g["task_id"].asstr()[()]
        cols = {c: g[c][()] for c in ("epoch", "fold", "lr", "weight_decay", "label_smoothing",
                                      "val_accuracy", "accuracy", "stopped_at")}
    return [dict(task_id=ids[i], **{c: cols[c][i] for c in cols}) for i in range(len(ids))]

grid, halving = rows("grid"), rows("halving")
def head_epochs(rs):
    last = {}
    for r in rs:
        last[r["task_id"]] = max(last.get(r["task_id"], 0), int(r["epoch"]))
    return sum(last.values()), len(last)

g_epochs, g_tasks = head_epochs(grid)
h_epochs, h_tasks = head_epochs(halving)
g_s = float(open(f"{work}/grid.seconds").read())
h_s = float(open(f"{work}/halving.seconds").read())
print(f"tasks: grid {g_tasks}, halving {h_tasks}")
print(f"head-epochs: halving {h_epochs} vs grid {g_epochs}: {h_epochs / g_epochs:.3f} (goal <= 0.333)")
print(f"wall: halving {h_s:.1f} s vs grid {g_s:.1f} s: {h_s / g_s:.3f}")
by_key = {(r["task_id"], int(r["epoch"])): r for r in grid}
same = all(r[c] == by_key[(r["task_id"], int(r["epoch"]))][c]
           for r in halving for c in ("val_accuracy", "accuracy"))
print(f"halving rows equal the grid's rows of the same task and epoch: {same}")
same_top, picks = 0, {"grid": [], "halving": []}
for fold in sorted({int(r["fold"]) for r in grid}):
    def ranked(rs):  # epoch-200 rows of this fold, best validation accuracy first, then task id
        at = [r for r in rs if int(r["epoch"]) == 200 and int(r["fold"]) == fold]
        return sorted(at, key=lambda r: (-r["val_accuracy"], r["task_id"]))
    g, h = ranked(grid), ranked(halving)
    place = [r["task_id"] for r in g].index(h[0]["task_id"]) + 1
    same_top += place == 1
    picks["grid"].append(g[0]["accuracy"])
    picks["halving"].append(h[0]["accuracy"])
    cfg = lambda r: (r["lr"], r["weight_decay"], r["label_smoothing"])
    print(f"fold {fold}: grid picks {cfg(g[0])} (val {g[0]['val_accuracy']:.4f}, test "
          f"{g[0]['accuracy']:.4f}); halving picks {cfg(h[0])} (val {h[0]['val_accuracy']:.4f}, "
          f"test {h[0]['accuracy']:.4f}), the grid's #{place} of {len(g)} by validation")
n = len(picks["grid"])
print(f"same top configuration by validation: {same_top} of {n} folds; mean test accuracy of the "
      f"pick: halving {sum(picks['halving']) / n:.4f} vs grid {sum(picks['grid']) / n:.4f}")
EOF
