"""Writes results.h5 fixtures exactly per docs/results-schema.md (format fersweep-results-1), with
known numbers, for the report tests; run with Debian's /usr/bin/python3 (h5py, numpy).

    make_fixture.py OUT.h5 full|empty|failed [--random-weights]

`full`: 3 backbones x 2 variants x 5 folds, evaluated at epochs 50/100/200, 7 classes; resnet50/faces
fold 4 failed for good (so that configuration has 4 folds) and resnet18/original fold 0 failed once
and was recovered. Writes OUT.h5.json beside it: the fold accuracies per configuration and the
test-fold sizes, as the tests' independent expectation.
"""
import hashlib
import json
import sys

import h5py
import numpy as np

CLASSES = ["Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"]
BACKBONES = ["resnet18", "resnet34", "resnet50"]
VARIANTS = ["faces", "original"]
EPOCHS = [50, 100, 200]
FOLD_SIZES = [136, 135, 135, 135, 134]
CLASS_SHARE = np.array([0.15, 0.08, 0.12, 0.2, 0.17, 0.15, 0.13])
STR = h5py.string_dtype("utf-8")

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


def write_table(group, rows):
    """Columns typed as the writer types them: str / int64 / float64."""
    keys = sorted({k for r in rows for k in r})
    for k in keys:
        vals = [r.get(k) for r in rows]
        if all(isinstance(v, str) for v in vals):
            group.create_dataset(k, data=np.array(vals, dtype=object), dtype=STR)
        elif all(isinstance(v, (bool, int, np.integer)) for v in vals):
            group.create_dataset(k, data=np.array([int(v) for v in vals], dtype=np.int64))
        else:
            group.create_dataset(k, data=np.array(vals, dtype=np.float64))


def main():
    out, mode = sys.argv[1], sys.argv[2]
    random_weights = "--random-weights" in sys.argv
    rng = np.random.default_rng(7)
    f = h5py.File(out, "w")
    a = f.attrs
    a["format"] = "fersweep-results-1"
    a["created"] = "2026-11-28T10:00:00Z"
    a["updated"] = "2026-11-28T11:00:00Z"
    a["identity"] = json.dumps({"sweep_hash": "ab" * 32, "dataset_fingerprint": "cd" * 32})
    a["sweep_name"] = "fixture"
    a["sweep_file"] = "sweeps/fixture.yaml"
    a["sweep_text"] = SWEEP_TEXT
    a["sweep_hash"] = "ab" * 32
    a["dataset_root"] = "data/sfew"
    a["dataset_fingerprint"] = "cd" * 32
    a["dataset_images"] = np.int64(sum(FOLD_SIZES))
    a["dataset_bad_images"] = np.int64(0)
    a["classes"] = json.dumps(CLASSES)
    a["fersweep_version"] = "0.1.0"
    a["libtorch_version"] = "1.13.1"

    rows, curves, failures, expected = [], [], [], {"configs": {}, "fold_sizes": FOLD_SIZES}
    extracts = []
    if mode == "full":
        base_acc = {"resnet18": 0.36, "resnet34": 0.38, "resnet50": 0.41}
        for b in BACKBONES:
            for v in VARIANTS:
                ext = task_id("extract", b, v)
                extracts.append({"backbone": b, "variant": v, "weights": "auto", "image_size": 224,
                                 "normalize": "imagenet", "task_id": ext, "host": "node1",
                                 "seconds": 12.5, "result_weights_origin": "random" if random_weights else "torchvision",
                                 "result_weights_sha256": "ef" * 32,
                                 "result_random_weights": bool(random_weights), "result_n": 675,
                                 "result_dim": 2048 if b == "resnet50" else 512,
                                 "result_device": "cpu", "result_images_per_second": 40.5,
                                 "result_features_file": f"cache/features/{ext}.h5"})
                for fold in range(5):
                    tid = task_id("train", b, v, fold)
                    if b == "resnet18" and v == "original" and fold == 0:
                        failures.append({"task_id": tid, "kind": "train", "attempt": 1, "final": False,
                                         "recovered": True, "message": "worker 2 lost", "rank": 2,
                                         "host": "node2"})
                    if b == "resnet50" and v == "faces" and fold == 4:
                        for attempt in (1, 2):
                            failures.append({"task_id": tid, "kind": "train", "attempt": attempt,
                                             "final": attempt == 2, "recovered": False,
                                             "message": "CUDA out of memory, tried to allocate 2 GiB",
                                             "rank": 1, "host": "node1"})
                        continue
                    curve = len(curves)
                    loss = 2.0 * np.exp(-np.arange(1, 201) / (60 + 10 * fold)) + 0.5 + 0.01 * fold
                    curves.append((tid, loss, 1 - loss / 3))
                    for e in EPOCHS:
                        target = base_acc[b] + (0.02 if v == "original" else 0.0) + 0.01 * EPOCHS.index(e)
                        cm = confusion_for(rng, FOLD_SIZES[fold], target)
                        acc, f1, recall = metrics(cm)
                        key = f"{b}|{v}|{e}"
                        cfg = expected["configs"].setdefault(key, {"accuracy": {}, "macro_f1": {}, "n_test": {}})
                        cfg["accuracy"][fold] = acc
                        cfg["macro_f1"][fold] = f1
                        cfg["n_test"][fold] = int(cm.sum())
                        rows.append({
                            "params": {"backbone": b, "variant": v, "weights": "auto", "image_size": 224,
                                       "normalize": "imagenet", "head": "linear", "hidden": -1,
                                       "optimizer": "adam", "lr": 0.01, "weight_decay": 0.001,
                                       "momentum": float("nan"), "batch_size": 256, "standardize": 1,
                                       "label_smoothing": 0.0, "seed": 0, "fold": fold, "repeat": 0,
                                       "folds": 5, "cv_seed": 0, "extract": ext,
                                       "train_seed": 1000 + fold, "epochs": "[50,100,200]"},
                            "task_id": tid, "epoch": e, "accuracy": acc, "macro_f1": f1,
                            "test_loss": 1.7 - 0.1 * EPOCHS.index(e), "per_class_recall": recall,
                            "confusion": cm, "n_train": sum(FOLD_SIZES) - FOLD_SIZES[fold],
                            "n_test": FOLD_SIZES[fold], "curve": curve, "host": "node1", "rank": 1,
                            "seconds": 3.25, "finished": "2026-11-28T10:30:00Z"})
    elif mode == "failed":
        for fold in range(3):
            tid = task_id("train", "resnet18", "original", fold)
            failures.append({"task_id": tid, "kind": "train", "attempt": 1, "final": True,
                             "recovered": False, "message": "features file missing", "rank": 1,
                             "host": "node1"})
        failures.append({"task_id": task_id("extract", "resnet18"), "kind": "extract", "attempt": 1,
                         "final": True, "recovered": False,
                         "message": "weights file 'resnet18-f37072fd.pth' not found", "rank": 1,
                         "host": "node1"})
    elif mode != "empty":
        raise SystemExit(f"unknown mode {mode}")

    g = f.create_group("results")
    n = len(rows)
    g.create_dataset("task_id", data=np.array([r["task_id"] for r in rows], dtype=object), dtype=STR)
    g.create_dataset("epoch", data=np.array([r["epoch"] for r in rows], dtype=np.int64))
    for k in ("accuracy", "macro_f1", "test_loss", "seconds"):
        g.create_dataset(k, data=np.array([r[k] for r in rows], dtype=np.float64))
    for k in ("n_train", "n_test", "rank", "curve"):
        g.create_dataset(k, data=np.array([r[k] for r in rows], dtype=np.int64))
    for k in ("host", "finished"):
        g.create_dataset(k, data=np.array([r[k] for r in rows], dtype=object), dtype=STR)
    if rows:
        write_table(g, [r["params"] for r in rows])
    classes = 7 if rows else 0
    g.create_dataset("per_class_recall",
                     data=np.array([r["per_class_recall"] for r in rows], dtype=np.float64).reshape(n, classes))
    g.create_dataset("confusion",
                     data=np.array([r["confusion"] for r in rows], dtype=np.int64).reshape(n, classes, classes))
    g.attrs["rows"] = np.int64(n)
    g.attrs["synthetic_tasks_done"] = np.int64(0)

    c = f.create_group("curves")
    c.create_dataset("task_id", data=np.array([x[0] for x in curves], dtype=object), dtype=STR)
    width = 200 if curves else 0
    c.create_dataset("train_loss", data=np.array([x[1] for x in curves], dtype=np.float64).reshape(len(curves), width))
    c.create_dataset("train_accuracy", data=np.array([x[2] for x in curves], dtype=np.float64).reshape(len(curves), width))

    e = f.create_group("extracts")
    if extracts:
        write_table(e, extracts)
    e.attrs["count"] = np.int64(len(extracts))
    f.create_group("crops").attrs["count"] = np.int64(0)
    fl = f.create_group("failures")
    if failures:
        write_table(fl, failures)
    fl.attrs["count"] = np.int64(len(failures))
    f.close()
    with open(out + ".json", "w") as j:
        json.dump(expected, j, indent=1)


if __name__ == "__main__":
    main()
