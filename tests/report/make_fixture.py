"""Writes results.h5 fixtures with known numbers for the report tests; run with Debian's
/usr/bin/python3 (numpy). The fixture is what a run would journal — run.json and journal.jsonl
records in the documented layout (docs/results-schema.md) — and results.h5 is written from them
by fersweep's own writer (`fersweep status DIR --rewrite`), so the report tests read exactly
what the C++ writer writes.

    make_fixture.py FERSWEEP_EXE OUT.h5 full|empty|failed [--random-weights]

`full`: 3 backbones x 2 variants x 5 folds, evaluated at epochs 50/100/200, 7 classes; resnet50/faces
fold 4 failed for good (so that configuration has 4 folds) and resnet18/original fold 0 failed once
and was recovered. Writes OUT.h5.json beside it: the fold accuracies per configuration and the
test-fold sizes, as the tests' independent expectation.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np

CLASSES = ["Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"]
BACKBONES = ["resnet18", "resnet34", "resnet50"]
VARIANTS = ["faces", "original"]
EPOCHS = [50, 100, 200]
FOLD_SIZES = [136, 135, 135, 135, 134]
CLASS_SHARE = np.array([0.15, 0.08, 0.12, 0.2, 0.17, 0.15, 0.13])

SWEEP_TEXT = """name: fixture
dataset: {root: data/sfew, image_size: 224, normalize: imagenet}
grid: {backbone: [resnet18, resnet34, resnet50], variant: [original, faces], epochs: [50, 100, 200], fold: all}
"""


def task_id(*parts):
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def class_counts(n):
    counts = np.floor(CLASS_SHARE * n).astype(np.int64)
    counts[0] += n - counts.sum()
    return counts


def confusion_for(rng, n, target_acc):
    """A confusion matrix with row sums = class counts of a fold of size n, trace ~ target."""
    truth = class_counts(n)
    cm = np.zeros((7, 7), dtype=np.int64)
    for c in range(7):
        correct = int(round(truth[c] * np.clip(target_acc + rng.normal(0, 0.08), 0.02, 0.98)))
        cm[c, c] = correct
        wrong = truth[c] - correct
        others = [k for k in range(7) if k != c]
        split = rng.multinomial(wrong, np.ones(6) / 6)
        for k, w in zip(others, split):
            cm[c, k] += w
    return cm


def metrics(cm):
    n = cm.sum()
    acc = np.trace(cm) / n
    recall = np.array([cm[c, c] / cm[c].sum() if cm[c].sum() else np.nan for c in range(7)])
    f1 = []
    for c in range(7):
        tp = cm[c, c]
        p = tp / cm[:, c].sum() if cm[:, c].sum() else 0.0
        r = tp / cm[c].sum() if cm[c].sum() else 0.0
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
    return acc, float(np.mean(f1)), recall


def journal_line(record):
    """One journal line: the record's JSON, a tab, 16 hex digits of its sha256."""
    body = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return body + "\t" + hashlib.sha256(body.encode()).hexdigest()[:16] + "\n"


def record(kind, tid, params, attempt=1, final=True, result=None, error=None, rank=1,
           host="node1", seconds=3.25):
    r = {"v": 1, "id": tid, "kind": kind, "status": "failed" if error else "done",
         "attempt": attempt, "final": final, "rank": rank, "host": host, "seconds": seconds,
         "finished": "2026-11-28T10:30:00Z", "params": params}
    if error:
        r["error"] = error
    else:
        r["result"] = result
    return r


def nan_to_none(values):
    return [None if np.isnan(v) else float(v) for v in values]


def main():
    exe, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    random_weights = "--random-weights" in sys.argv
    rng = np.random.default_rng(7)
    run_info = {
        "format": 1,
        "created": "2026-11-28T10:00:00Z",
        "updated": "2026-11-28T11:00:00Z",
        "identity": {"sweep_hash": "ab" * 32, "dataset_fingerprint": "cd" * 32},
        "provenance": {"sweep_name": "fixture", "sweep_file": "sweeps/fixture.yaml",
                       "sweep_text": SWEEP_TEXT, "sweep_hash": "ab" * 32,
                       "dataset_root": "data/sfew", "dataset_fingerprint": "cd" * 32,
                       "dataset_images": sum(FOLD_SIZES), "dataset_bad_images": 0,
                       "classes": json.dumps(CLASSES), "feature_cache": "",
                       "fersweep_version": "0.1.0", "libtorch_version": "1.13.1"},
    }

    records, expected = [], {"configs": {}, "fold_sizes": FOLD_SIZES}
    if mode == "full":
        base_acc = {"resnet18": 0.36, "resnet34": 0.38, "resnet50": 0.41}
        for b in BACKBONES:
            for v in VARIANTS:
                ext = task_id("extract", b, v)
                records.append(record("extract", ext, {
                    "backbone": b, "variant": v, "weights": "auto", "image_size": 224,
                    "normalize": "imagenet", "crop": None}, seconds=12.5, result={
                    "weights_origin": "random" if random_weights else "torchvision",
                    "weights_sha256": "ef" * 32, "random_weights": bool(random_weights),
                    "n": 675, "dim": 2048 if b == "resnet50" else 512, "device": "cpu",
                    "images_per_second": 40.5, "features_file": f"cache/features/{ext}.h5"}))
                for fold in range(5):
                    tid = task_id("train", b, v, fold)
                    params = {"backbone": b, "variant": v, "weights": "auto", "image_size": 224,
                              "normalize": "imagenet", "head": "linear", "optimizer": "adam",
                              "lr": 0.01, "weight_decay": 0.001, "batch_size": 256,
                              "standardize": True, "label_smoothing": 0.0, "seed": 0,
                              "fold": fold, "repeat": 0, "folds": 5, "cv_seed": 0, "extract": ext}
                    if b == "resnet18" and v == "original" and fold == 0:
                        records.append(record("train", tid, params, final=False, rank=2,
                                              host="node2", error="worker 2 lost"))
                    if b == "resnet50" and v == "faces" and fold == 4:
                        for attempt in (1, 2):
                            records.append(record(
                                "train", tid, params, attempt=attempt, final=attempt == 2,
                                error="CUDA out of memory, tried to allocate 2 GiB"))
                        continue
                    loss = 2.0 * np.exp(-np.arange(1, 201) / (60 + 10 * fold)) + 0.5 + 0.01 * fold
                    evals = []
                    for e in EPOCHS:
                        target = base_acc[b] + (0.02 if v == "original" else 0.0) + 0.01 * EPOCHS.index(e)
                        cm = confusion_for(rng, FOLD_SIZES[fold], target)
                        acc, f1, recall = metrics(cm)
                        key = f"{b}|{v}|{e}"
                        cfg = expected["configs"].setdefault(key, {"accuracy": {}, "macro_f1": {}, "n_test": {}})
                        cfg["accuracy"][fold] = acc
                        cfg["macro_f1"][fold] = f1
                        cfg["n_test"][fold] = int(cm.sum())
                        evals.append({"epoch": e, "accuracy": acc, "macro_f1": f1,
                                      "test_loss": 1.7 - 0.1 * EPOCHS.index(e),
                                      "per_class_recall": nan_to_none(recall),
                                      "confusion": [int(x) for x in cm.flatten()]})
                    attempt = 2 if (b == "resnet18" and v == "original" and fold == 0) else 1
                    records.append(record("train", tid, params, attempt=attempt, result={
                        "evals": evals, "train_loss": [float(x) for x in loss],
                        "train_accuracy": [float(x) for x in 1 - loss / 3],
                        "n_train": sum(FOLD_SIZES) - FOLD_SIZES[fold],
                        "n_test": FOLD_SIZES[fold]}))
    elif mode == "failed":
        params = {"backbone": "resnet18", "variant": "original"}
        for fold in range(3):
            tid = task_id("train", "resnet18", "original", fold)
            records.append(record("train", tid, dict(params, fold=fold),
                                  error="features file missing"))
        records.append(record("extract", task_id("extract", "resnet18"), params,
                              error="weights file 'resnet18-f37072fd.pth' not found"))
    elif mode != "empty":
        raise SystemExit(f"unknown mode {mode}")

    # The results directory a run would leave, and fersweep's writer turning it into results.h5.
    run_dir = out + ".run"
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "run.json"), "w") as f:
        json.dump(run_info, f, indent=2)
    with open(os.path.join(run_dir, "journal.jsonl"), "w") as f:
        f.writelines(journal_line(r) for r in records)
    p = subprocess.run([exe, "status", run_dir, "--rewrite"], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"fersweep status --rewrite failed ({p.returncode}): {p.stdout}{p.stderr}")
    os.replace(os.path.join(run_dir, "results.h5"), out)
    shutil.rmtree(run_dir)
    with open(out + ".json", "w") as j:
        json.dump(expected, j, indent=1)


if __name__ == "__main__":
    main()
