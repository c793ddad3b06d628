#!/usr/bin/python3
"""End-to-end sweep on the demo dataset: `fersweep run` alone and under mpirun -np 3 (two
workers) gives bit-identical results (orchestration_e2e covers 2 and 4 ranks on a smaller
sweep); results.h5 decodes with h5py into consistent rows; resume repeats nothing. A sampled
search with select: sets aside the documented validation part and the report's nested
cross-validation table picks by validation score only. Successive halving (early_stop:) stops
the tasks the documented ranking says, identically for any rank count and across a resume.

Usage: test_sweep_e2e.py FERSWEEP_EXE SCRATCH_DIR
"""
import json
import os
import shutil
import struct
import subprocess
import sys

import csv

import h5py
import numpy as np

from harness import run_tests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
import folds_reference  # noqa: E402  (the independent validation-part algorithm)

EXE, SCRATCH = sys.argv[1], sys.argv[2]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
ENV.pop("FERSWEEP_INJECT_FAILURE", None)
DATA = os.path.join(SCRATCH, "demo-data")
SWEEP = os.path.join(SCRATCH, "tiny.yaml")

SWEEP_TEXT = f"""
name: tiny
dataset: {{root: {DATA}, image_size: 64, normalize: imagenet}}
variants: {{original: {{}}, faces: {{detector: haar, margin: 0.2, fallback: drop}}}}
weights: random:3
cv: {{folds: 3, seed: 1}}
train: {{head: linear, optimizer: adam, lr: 0.01, weight_decay: 0.001, batch_size: 64, standardize: true}}
grid:
  backbone: [resnet18]
  variant: [original, faces]
  epochs: [5, 10, 20]
  lr: [0.01, 0.001]
  fold: all
"""


def sampled_sweep(name, samples, lr_range, epochs, extra):
    """A Sobol search of the head's learning rate on the demo features, 3 folds."""
    return f"""
name: {name}
dataset: {{root: {DATA}, image_size: 64, normalize: imagenet}}
weights: random:3
cv: {{folds: 3, seed: 1}}
train: {{head: linear, batch_size: 64, standardize: true}}
search: {{method: sobol, samples: {samples}, seed: 2}}
space: {{lr: "loguniform({lr_range})"}}
{extra}
grid:
  backbone: [resnet18]
  epochs: {epochs}
  fold: all
"""


SELECT = os.path.join(SCRATCH, "select.yaml")
SELECT_TEXT = sampled_sweep("selected", 4, "1e-3, 1e-1", "[5, 10]",
                            "select: {metric: val_accuracy, val_fraction: 0.2}")
HALVING = os.path.join(SCRATCH, "halving.yaml")
HALVING_TEXT = sampled_sweep("halving", 9, "1e-4, 1", "[8]",
                             "select: {val_fraction: 0.2}\nearly_stop: {rungs: [2, 4], eta: 3}")


def run(out, ranks=1, extra=(), sweep=SWEEP):
    cmd = [EXE, "run", sweep, "--out", out, "--no-progress", *extra]
    if ranks > 1:
        cmd = ["mpirun", "--oversubscribe", "-np", str(ranks), *cmd]
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=900)
    return p.returncode, p.stdout + p.stderr


def load(out):
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        g = f["results"]
        rows = {}
        for i, tid in enumerate(g["task_id"].asstr()[()]):
            rows[(tid, int(g["epoch"][i]))] = (float(g["accuracy"][i]), g["confusion"][i].tolist(),
                                              int(g["n_test"][i]), float(g["macro_f1"][i]))
        attrs = dict(f.attrs)
        extracts = {k: f["extracts"][k][()] for k in f["extracts"]}
        return rows, attrs, extracts, g["lr"][()], g["fold"][()]


def setup():
    shutil.rmtree(SCRATCH, ignore_errors=True)
    os.makedirs(SCRATCH)
    p = subprocess.run([EXE, "make-demo-data", DATA, "--seed", "5"], env=ENV, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    with open(SWEEP, "w") as f:
        f.write(SWEEP_TEXT)
    with open(SELECT, "w") as f:
        f.write(SELECT_TEXT)
    with open(HALVING, "w") as f:
        f.write(HALVING_TEXT)


def test_results_are_consistent_and_identical_for_1_and_3_ranks():
    results = {}
    for ranks in (1, 3):
        out = os.path.join(SCRATCH, f"run{ranks}")
        # Every run extracts its own features (on the workers): the shared cache is off here and
        # tested in test_feature_cache.py.
        rc, log = run(out, ranks, extra=["--no-feature-cache"])
        assert rc == 0, log
        assert "Test accuracy (%) per fold" in log, log
        rows, attrs, extracts, lrs, folds = load(out)
        # 2 variants x 2 lrs x 3 folds training tasks, each evaluated at 3 epoch counts.
        assert len(rows) == 36, len(rows)
        assert sorted(set(lrs)) == [0.001, 0.01]
        assert sorted(set(folds)) == [0, 1, 2]
        total_test = {}
        for (tid, epoch), (acc, conf, n_test, f1) in rows.items():
            conf = np.array(conf)
            assert conf.shape == (7, 7)
            assert conf.sum() == n_test, (conf.sum(), n_test)
            assert abs(np.trace(conf) / n_test - acc) < 1e-12
            assert 0 <= f1 <= 1
        assert attrs["sweep_name"] == "tiny"
        assert "random weights" in extracts["result_weights_origin"].astype(str)[0]
        assert extracts["result_random_weights"][0] == 1
        results[ranks] = rows
    assert results[1] == results[3], "results differ between 1 and 3 ranks"


def test_test_folds_cover_each_variant_once_and_crops_were_checked():
    out = os.path.join(SCRATCH, "run1")
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        g = f["results"]
        variant = g["variant"].asstr()[()]
        epoch, n_test = g["epoch"][()], g["n_test"][()]
        kept = int(f["crops/result_kept"][0])
    for v, expected in (("original", 675), ("faces", kept)):
        n = sum(n_test[i] for i in range(len(n_test)) if variant[i] == v and epoch[i] == 5) / 2  # two lrs
        assert n == expected, (v, n, expected)
    assert 600 < kept < 675, kept  # the Haar detector misses a few; fallback drop leaves them out
    crop_dir = [d for d in os.listdir(os.path.join(out, "cache", "crop"))]
    assert len(crop_dir) == 1
    qc = json.load(open(os.path.join(out, "cache", "crop", crop_dir[0], "qc.json")))
    assert qc, "empty qc.json"
    png = open(os.path.join(out, "cache", "crop", crop_dir[0], "contact_sheet.png"), "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_resumes_without_repeating_work():
    out = os.path.join(SCRATCH, "run1")
    before = open(os.path.join(out, "journal.jsonl")).read().count("\n")
    rc, log = run(out)
    assert rc == 0, log
    assert "resuming: 15 of 15 tasks already done" in log, log
    after = open(os.path.join(out, "journal.jsonl")).read().count("\n")
    assert before == after


def test_changed_sweep_is_refused():
    out = os.path.join(SCRATCH, "run1")
    rc, log = run(out, extra=["--set", "train.batch_size=32"])
    assert rc == 2, (rc, log)
    assert "holds a different sweep" in log and "sweep_hash" in log, log


def selection_rows(out):
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        g = f["results"]
        cols = ("task_id", "fold", "epoch", "lr", "accuracy", "val_accuracy", "val_macro_f1",
                "val_loss", "n_train", "n_val", "n_test", "val_fraction")
        data = {c: (g[c].asstr()[()] if c == "task_id" else g[c][()]) for c in cols}
        labels = f["samples/label"][()]
        folds = [(f["folds/cv_seed"][i], f["folds/assignment"][i]) for i in range(f["folds"].attrs["count"])]
        select_metric = f.attrs["select_metric"]
    rows = [dict((c, data[c][i]) for c in cols) for i in range(len(data["task_id"]))]
    return rows, labels, folds, select_metric


def test_selection_sets_aside_the_documented_validation_part_and_chooses_by_it():
    outs = [os.path.join(SCRATCH, f"select{n}") for n in (1, 2)]
    for n, out in zip((1, 2), outs):
        rc, log = run(out, n, extra=["--no-feature-cache"], sweep=SELECT)
        assert rc == 0, log
    rows, labels, folds, metric = selection_rows(outs[0])
    assert metric in ("val_accuracy", b"val_accuracy"), metric
    assert len(rows) == 4 * 3 * 2, len(rows)  # 4 points x 3 folds x 2 epoch counts
    # The same bits under mpirun -np 2, validation columns included.
    other = selection_rows(outs[1])[0]
    key = lambda r: (r["task_id"], int(r["epoch"]))
    for a, b in zip(sorted(rows, key=key), sorted(other, key=key)):
        for c in ("accuracy", "val_accuracy", "val_macro_f1", "val_loss", "n_val"):
            assert a[c] == b[c], (c, a, b)
    # The validation part: the documented algorithm over the training fold, recomputed here.
    assert len(folds) == 1, len(folds)
    cv_seed, assignment = folds[0]
    for r in rows:
        k = int(r["fold"])
        train_labels = [int(labels[i]) for i in range(len(labels)) if assignment[i] >= 0 and assignment[i] != k]
        part = folds_reference.validation(train_labels, 0.2, folds_reference.validation_seed(int(cv_seed), k))
        assert int(r["n_val"]) == len(part), (r, len(part))
        assert int(r["n_train"]) + int(r["n_val"]) + int(r["n_test"]) == len(labels), r
        assert r["val_fraction"] == 0.2
        assert 0 <= r["val_accuracy"] <= 1 and 0 <= r["val_macro_f1"] <= 1 and r["val_loss"] > 0, r
    # The report: per fold, the (lr, epoch) with the highest validation accuracy, its test score.
    report = os.path.join(SCRATCH, "select-report")
    p = subprocess.run([EXE, "report", outs[0], "--out", report, "--format", "csv,md"], env=ENV,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    md = open(os.path.join(report, "report.md")).read()
    assert "Nested cross-validation" in md and "optimistic" in md, md
    table = list(csv.reader(open(os.path.join(report, "csv", "selected.csv"))))
    assert table[0] == ["variant", "outer fold", "chosen by validation", "validation", "test"], table[0]
    tests = []
    for k in range(3):
        mine = sorted((r for r in rows if int(r["fold"]) == k), key=lambda r: (r["lr"], int(r["epoch"])))
        best = max(mine, key=lambda r: r["val_accuracy"])  # max keeps the first of equals
        line = table[1 + k]
        assert line[1] == f"fold {k + 1}", line
        chosen = dict(part.split("=") for part in line[2].split(", "))
        assert set(chosen) == {"lr", "epoch"}, line
        assert abs(float(chosen["lr"]) / best["lr"] - 1) < 1e-9, (line, best)
        assert int(chosen["epoch"]) == int(best["epoch"]), (line, best)
        assert abs(float(line[3]) - 100 * best["val_accuracy"]) < 0.051, (line, best)
        assert abs(float(line[4]) - 100 * best["accuracy"]) < 0.051, (line, best)
        tests.append(best["accuracy"])
    assert table[4][1] == "nested CV estimate (3 folds)", table[4]
    assert abs(float(table[4][4]) - 100 * np.mean(tests)) < 0.051, (table[4], tests)
    # The sampled key's scatter plot: test and validation panels side by side.
    with h5py.File(os.path.join(outs[0], "results.h5"), "r") as f:
        space = json.loads(f.attrs["search_space"])
        assert space == {"lr": {"kind": "loguniform", "lo": 0.001, "hi": 0.1, "text": "loguniform(1e-3, 1e-1)"}}, space
    header = open(os.path.join(report, "figures", "search_lr.png"), "rb").read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", header
    assert struct.unpack(">II", header[16:24])[0] == 2 * 640, header
    assert "figures/search_lr.png" in md and "against lr (log10 axis)" in md, md


def halving_rows(out):
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        g = f["results"]
        cols = ("fold", "epoch", "lr", "accuracy", "val_accuracy", "stopped_at")
        data = {c: g[c][()] for c in cols}
        data["task_id"] = g["task_id"].asstr()[()]
        assert json.loads(f.attrs["early_stop"]) == {"method": "halving", "rungs": [2, 4], "eta": 3,
                                                     "metric": "val_accuracy"}, f.attrs["early_stop"]
    return {(data["task_id"][i], int(data["epoch"][i])): {c: data[c][i] for c in data}
            for i in range(len(data["task_id"]))}


def check_halving_decisions(rows):
    """Recomputes every rung of every bracket (one extract, so a bracket is a fold): the tasks
    that reached the rung, ranked by validation accuracy there (higher first, then lower id); the
    first max(1, n // 3) continue, the others stop at that rung and have no later row."""
    tasks = {}
    for (tid, epoch), r in rows.items():
        tasks.setdefault(tid, {})[epoch] = r
    for fold in (0, 1, 2):
        alive = sorted(t for t, e in tasks.items() if int(e[min(e)]["fold"]) == fold)
        assert len(alive) == 9, (fold, alive)
        for rung, next_epoch in ((2, 4), (4, 8)):
            ranked = sorted(alive, key=lambda t: (-tasks[t][rung]["val_accuracy"], t))
            keep = max(1, len(ranked) // 3)
            for t in ranked[:keep]:
                assert next_epoch in tasks[t], (fold, rung, t, sorted(tasks[t]))
            for t in ranked[keep:]:
                assert max(tasks[t]) == rung, (fold, rung, t, sorted(tasks[t]))
                assert all(int(r["stopped_at"]) == rung for r in tasks[t].values()), (t, tasks[t])
            alive = ranked[:keep]
        assert len(alive) == 1 and all(int(r["stopped_at"]) == -1 for r in tasks[alive[0]].values())
    return tasks


def test_halving_stops_the_documented_tasks_alike_on_any_rank_count_and_resume():
    outs = {n: os.path.join(SCRATCH, f"halving{n}") for n in (1, 3)}
    for n, out in outs.items():
        rc, log = run(out, n, extra=["--no-feature-cache"], sweep=HALVING)
        assert rc == 0, log
    rows = halving_rows(outs[1])
    assert halving_rows(outs[3]) == rows, "halving differs between 1 and 3 ranks"
    tasks = check_halving_decisions(rows)
    assert len(tasks) == 27 and len(rows) == 27 + 9 + 3, (len(tasks), len(rows))
    # The report's rung table counts what results.h5 holds.
    report = os.path.join(SCRATCH, "halving-report")
    p = subprocess.run([EXE, "report", outs[1], "--out", report, "--format", "csv,md"], env=ENV,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    table = list(csv.reader(open(os.path.join(report, "csv", "rungs.csv"))))
    assert table == [["rung (epoch)", "reached", "continued", "stopped here"],
                     ["2", "27", "9", "18"], ["4", "9", "3", "6"]], table
    assert "84 head-epochs trained for 27 tasks, against 216" in open(os.path.join(report, "report.md")).read()
    # A bracket cut short by a crash runs again whole: drop the journal's last train record.
    journal = os.path.join(outs[1], "journal.jsonl")
    lines = open(journal).read().splitlines(keepends=True)
    last_train = max(i for i, line in enumerate(lines) if '"kind":"train"' in line)
    open(journal, "w").writelines(lines[:last_train] + lines[last_train + 1:])
    rc, log = run(outs[1], 1, extra=["--no-feature-cache"], sweep=HALVING)
    assert rc == 0, log
    assert "resuming: 19 of 28 tasks already done" in log, log
    assert halving_rows(outs[1]) == rows, "the resumed bracket differs"


if __name__ == "__main__":
    setup()
    sys.exit(run_tests(globals(), ordered=False))
