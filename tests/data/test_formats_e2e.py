#!/usr/bin/python3
"""Every FER format end to end: `fersweep make-demo-data --format F` writes the demo in the
format's exact layout; this script reads those files itself (an independent reader of each
format's label map), runs a small sweep with `fersweep run`, and checks, sample by sample, that
the labels fersweep trained on are the format's, that row samples are named FILE:LINE, that
left-out samples are counted in results.h5, that subject-grouped folds keep every subject on one
side, and that the official split gives one "fold" whose test part is the dataset's own. The fold
assignment stored in results.h5 (/samples, /folds) is checked against every result row's counts,
the independent reader's subjects and splits, and the feature files' rows.

Usage: test_formats_e2e.py FERSWEEP_EXE SCRATCH_DIR [format]
"""
import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run"))
from harness import run_tests  # noqa: E402

EXE, SCRATCH = sys.argv[1], os.path.abspath(sys.argv[2])
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ONLY = sys.argv[3] if len(sys.argv) > 3 else ""
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
ENV.pop("FERSWEEP_INJECT_FAILURE", None)

# Each format's own label numbers (from the datasets' documentation), written out independently
# of fersweep's tables.
FER2013 = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
FERPLUS = ["Neutral", "Happy", "Surprise", "Sad", "Angry", "Disgust", "Fear", "Contempt", "unknown", "NF"]
RAFDB = {1: "Surprise", 2: "Fear", 3: "Disgust", 4: "Happy", 5: "Sad", 6: "Angry", 7: "Neutral"}
AFFECTNET = ["Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Angry", "Contempt"]
CKPLUS = ["Neutral", "Angry", "Contempt", "Disgust", "Fear", "Happy", "Sad", "Surprise"]
JAFFE = {"NE": "Neutral", "AN": "Angry", "DI": "Disgust", "FE": "Fear", "HA": "Happy", "SA": "Sad", "SU": "Surprise"}


def sh(cmd, timeout=600):
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def make(fmt, per_class):
    data = os.path.join(SCRATCH, "data-" + fmt)
    rc, log = sh([EXE, "make-demo-data", data, "--format", fmt, "--per-class", str(per_class), "--seed", "4"])
    assert rc == 0, log
    return data


# ---- independent readers: identity -> (class, subject or None, split or None) ----

def read_fer(data, plus):
    out, left = {}, {}
    with open(os.path.join(data, "fer2013.csv"), newline="") as f:
        rows = list(csv.reader(f))
    votes = None
    if plus:
        with open(os.path.join(data, "fer2013new.csv"), newline="") as f:
            votes = list(csv.reader(f))
    for i, row in enumerate(rows[1:]):
        ident = f"fer2013.csv:{i + 2}"
        if not plus:
            out[ident] = (FER2013[int(row[0])], None, row[2])
            continue
        v = votes[i + 1]
        if v[1] == "":
            left["FER+ blank image name"] = left.get("FER+ blank image name", 0) + 1
            continue
        counts = [int(x) if int(x) > 1 else 0 for x in v[2:]]
        best = int(np.argmax(counts))
        if 2 * counts[best] <= sum(counts):
            key = "FER+ no majority"
        elif FERPLUS[best] in ("unknown", "NF"):
            key = {"unknown": "FER+ unknown", "NF": "FER+ not a face"}[FERPLUS[best]]
        else:
            out[ident] = (FERPLUS[best], None, v[0])
            continue
        left[key] = left.get(key, 0) + 1
    return out, left


def read_rafdb(data):
    out = {}
    for line in open(os.path.join(data, "EmoLabel", "list_patition_label.txt")):
        name, label = line.split()
        out[f"Image/aligned/{name[:-4]}_aligned.jpg"] = (RAFDB[int(label)], None, name.split("_")[0])
    return out, {}


def read_affectnet(data):
    out, left = {}, {}
    for part in ("training", "validation"):
        with open(os.path.join(data, part + ".csv"), newline="") as f:
            for row in list(csv.reader(f))[1:]:
                e = int(row[6])
                if e >= 8:
                    key = ["AffectNet None", "AffectNet Uncertain", "AffectNet No-Face"][e - 8]
                    left[key] = left.get(key, 0) + 1
                else:
                    out["Manually_Annotated_Images/" + row[0]] = (AFFECTNET[e], None, part)
    return out, left


def read_ckplus(data, peak=3):
    out, left = {}, {}
    for seq in sorted(glob.glob(os.path.join(data, "cohn-kanade-images", "S*", "*"))):
        frames = sorted(os.listdir(seq))
        rel = os.path.relpath(seq, data)
        subject = rel.split("/")[1]
        emo = glob.glob(os.path.join(data, "Emotion", *rel.split("/")[1:], "*_emotion.txt"))
        if not emo:
            left["CK+ unlabelled sequence"] = left.get("CK+ unlabelled sequence", 0) + 1
            continue
        label = CKPLUS[int(float(open(emo[0]).read()))]
        for fr in frames[-peak:]:
            out[f"{rel}/{fr}"] = (label, subject, None)
    return out, left


def read_jaffe(data):
    out = {}
    for name in os.listdir(data):
        m = re.match(r"^([A-Z]+)\.([A-Z]{2})\d*\.\d+\.tiff$", name)
        if m:
            out[name] = (JAFFE[m.group(2)], m.group(1), None)
    return out, {}


def read_expw(data):
    out = {}
    for n, line in enumerate(open(os.path.join(data, "label", "label.lst")), start=1):
        t = line.split()
        out[f"label/label.lst:{n}#{t[1]}"] = (FER2013[int(t[7])], None, None)
    return out, {}


READERS = {"fer2013": lambda d: read_fer(d, False), "ferplus": lambda d: read_fer(d, True),
           "rafdb": read_rafdb, "affectnet": read_affectnet, "ckplus": read_ckplus,
           "jaffe": read_jaffe, "expw": read_expw}


def sweep(fmt, data, cv, extra_dataset="", variants="{original: {}}"):
    path = os.path.join(SCRATCH, f"{fmt}.yaml")
    with open(path, "w") as f:
        f.write(f"""name: {fmt}
dataset: {{root: {data}, format: {fmt}, image_size: 32{extra_dataset}}}
variants: {variants}
weights: random:2
cv: {cv}
train: {{epochs: [3], batch_size: 32}}
grid: {{backbone: [resnet18], fold: all}}
""")
    return path


def run_sweep(fmt, cv, extra_dataset="", per_class=6, ranks=1, variants="{original: {}}"):
    data = make(fmt, per_class)
    path = sweep(fmt, data, cv, extra_dataset, variants)
    out = os.path.join(SCRATCH, "run-" + fmt)
    shutil.rmtree(out, ignore_errors=True)
    cmd = [EXE, "run", path, "--out", out, "--no-progress", "--no-feature-cache"]
    if ranks > 1:
        cmd = ["mpirun", "-np", str(ranks), *cmd]
    rc, log = sh(cmd)
    assert rc == 0, log
    return data, out, log


def feature_labels(out, variant="original"):
    """identity -> class name, from the feature file fersweep trained on."""
    with h5py.File(os.path.join(out, "results.h5"), "r") as r:
        e = r["extracts"]
        ids = [t for t, v in zip(e["task_id"].asstr()[()], e["result_variant"].asstr()[()]) if v == variant]
    assert len(ids) == 1, ids
    files = [os.path.join(out, "cache", "features", ids[0] + ".h5")]
    with h5py.File(files[0], "r") as f:
        paths = [p.decode() if isinstance(p, bytes) else p for p in f["paths"][()]]
        labels = f["labels"][()]
    with h5py.File(os.path.join(out, "results.h5"), "r") as r:
        classes = json.loads(r.attrs["classes"])
    return {p: classes[int(l)] for p, l in zip(paths, labels)}


def results(out):
    with h5py.File(os.path.join(out, "results.h5"), "r") as r:
        g = r["results"]
        rows = [(int(g["fold"][i]), int(g["n_test"][i]), int(g["n_train"][i])) for i in range(len(g["fold"]))]
        return rows, dict(r.attrs)


def check_labels_and_left_out(fmt, data, out):
    expected, left = READERS[fmt](data)
    got = feature_labels(out)
    assert set(got) == set(expected), (sorted(set(got) ^ set(expected)))[:10]
    wrong = [p for p in got if got[p] != expected[p][0]]
    assert not wrong, [(p, got[p], expected[p][0]) for p in wrong[:10]]
    _, attrs = results(out)
    assert json.loads(attrs["dataset_left_out"]) == left, (attrs["dataset_left_out"], left)
    assert attrs["dataset_format"] == fmt
    return expected


def stored_folds(out):
    """/samples and /folds of results.h5: (samples, [(extract, folds, cv_seed, cv, assignment)])."""
    with h5py.File(os.path.join(out, "results.h5"), "r") as r:
        s = r["samples"]
        samples = {"id": list(s["id"].asstr()[()]), "label": s["label"][()],
                   "subject": list(s["subject"].asstr()[()]), "split": list(s["split"].asstr()[()])}
        f = r["folds"]
        n = int(f.attrs["count"])
        cv = list(f["cv"].asstr()[()]) if "cv" in f else [""] * n
        splits = [(f["extract"].asstr()[i], int(f["folds"][i]), int(f["cv_seed"][i]), cv[i],
                   f["assignment"][i]) for i in range(n)]
        g = r["results"]
        rcv = list(g["cv"].asstr()[()]) if "cv" in g else [""] * len(g["fold"])
        rows = [(g["extract"].asstr()[i], int(g["folds"][i]), int(g["cv_seed"][i]), rcv[i],
                 int(g["fold"][i]), int(g["n_train"][i]), int(g["n_test"][i]))
                for i in range(len(g["fold"]))]
        classes = json.loads(r.attrs["classes"])
    return samples, splits, rows, classes


def check_stored_folds(out, expected, scheme):
    """The assignment in results.h5 explains every result row and keeps the scheme's rule."""
    samples, splits, rows, classes = stored_folds(out)
    ids = samples["id"]
    assert sorted(ids) == sorted(expected), sorted(set(ids) ^ set(expected))[:10]
    for i, p in enumerate(ids):
        assert classes[samples["label"][i]] == expected[p][0], p
        assert samples["subject"][i] == (expected[p][1] or ""), p
        assert samples["split"][i] == (expected[p][2] or ""), p
    by_key = {k[:4]: k[4] for k in splits}
    assert len(by_key) == len(splits), "two fold records for one (feature set, split)"
    for extract, folds, seed, cv, fold, n_train, n_test in rows:
        a = by_key[(extract, folds, seed, cv)]
        assert (int((a == fold).sum()), int(((a >= 0) & (a != fold)).sum())) == (n_test, n_train)
        with h5py.File(os.path.join(out, "cache", "features", extract + ".h5"), "r") as f:
            rows_in_set = set(f["paths"].asstr()[()])
        # A sample outside the feature set (no face) is in no part.
        assert all(a[i] == -1 for i, p in enumerate(ids) if p not in rows_in_set), extract
        subjects = np.array(samples["subject"])
        for k in range(folds):
            if scheme == "group":  # no subject on both sides of any fold
                test, train = set(subjects[a == k]), set(subjects[(a >= 0) & (a != k)])
                assert not test & train, (extract, k, test & train)
        if scheme == "kfold":  # stratified: a class's count in each test fold differs by <= 1
            for c in range(len(classes)):
                per_fold = [int(((a == k) & (samples["label"] == c)).sum()) for k in range(folds)]
                assert max(per_fold) - min(per_fold) <= 1, (extract, c, per_fold)
    return samples, splits


def check_official_folds(out, expected, test, train):
    samples, splits = check_stored_folds(out, expected, "official")
    for *_, a in splits:
        want = [0 if s == test else 1 if s == train else -1 for s in samples["split"]]
        assert list(a) == want


def official(expected, test, train):
    n_test = sum(1 for v in expected.values() if v[2] == test)
    n_train = sum(1 for v in expected.values() if v[2] == train)
    return n_test, n_train


def test_fer2013_official_split_rows_named_file_line():
    data, out, log = run_sweep("fer2013", "{split: official}")
    expected = check_labels_and_left_out("fer2013", data, out)
    assert all(re.fullmatch(r"fer2013\.csv:\d+", p) for p in expected)
    rows, _ = results(out)
    # One "fold": PublicTest against Training; PrivateTest is in neither part.
    assert rows == [(0, *official(expected, "PublicTest", "Training"))], rows
    check_official_folds(out, expected, "PublicTest", "Training")
    # No image file was written for a row.
    assert not [f for f in os.listdir(out) if f.endswith((".png", ".jpg"))]
    # results.h5 rebuilt from the journal alone keeps the folds.
    before = stored_folds(out)
    os.remove(os.path.join(out, "results.h5"))
    rc, log = sh([EXE, "status", out, "--rewrite"])
    assert rc == 0, log
    after = stored_folds(out)
    assert before[0]["id"] == after[0]["id"] and before[2] == after[2]
    assert len(after[1]) == len(before[1]) > 0
    assert all(x[:4] == y[:4] and (x[4] == y[4]).all() for x, y in zip(before[1], after[1]))


def test_extract_command_reads_a_format_like_the_sweep():
    """`fersweep extract --format fer2013` gives the sweep's feature set: the same rows, named
    FILE:LINE, and bit-identical features."""
    data, out, _ = run_sweep("fer2013", "{split: official}")
    expected, _ = READERS["fer2013"](data)
    mine = os.path.join(SCRATCH, "fer2013-extract.h5")
    rc, log = sh([EXE, "extract", data, "--format", "fer2013", "--backbone", "resnet18",
                  "--weights", "random:2", "--image-size", "32", "--out", mine, "--no-feature-cache"])
    assert rc == 0, log
    sweep_set = glob.glob(os.path.join(out, "cache", "features", "*.h5"))
    assert len(sweep_set) == 1, sweep_set
    with h5py.File(mine, "r") as f, h5py.File(sweep_set[0], "r") as g:
        paths = list(f["paths"].asstr()[()])
        assert paths == list(g["paths"].asstr()[()]) and sorted(paths) == sorted(expected)
        classes = json.loads(f.attrs["classes"])
        assert [classes[l] for l in f["labels"][()]] == [expected[p][0] for p in paths]
        assert np.array_equal(f["features"][()], g["features"][()])
    # An option of another format is refused before anything is read or written.
    rc, log = sh([EXE, "extract", data, "--format", "fer2013", "--images", "original", "--backbone",
                  "resnet18", "--weights", "random:2", "--out", mine + ".x"])
    assert rc == 2 and "--images: only format rafdb reads this option (--format is fer2013)" in log, log
    assert not os.path.exists(mine + ".x")


def test_crop_faces_command_writes_a_folders_dataset_from_boxes():
    data = make("affectnet", 8)
    expected, _ = READERS["affectnet"](data)
    out = os.path.join(SCRATCH, "affectnet-faces")
    shutil.rmtree(out, ignore_errors=True)
    rc, log = sh([EXE, "crop-faces", data, "--format", "affectnet", "--detector", "dataset",
                  "--out", out])
    assert rc == 0, log
    # One folder per class holding each sample's crop, named by its identity.
    got = sorted(os.path.relpath(p, out) for p in glob.glob(os.path.join(out, "*", "*.png")))
    want = sorted(f"{c}/" + re.sub(r"[/:#]", "_", os.path.splitext(p)[0]) + ".png"
                  for p, (c, _, _) in expected.items())
    assert got == want, (got[:3], want[:3])
    assert json.load(open(os.path.join(out, "qc.json")))["summary"]["iou"]["mean"] == 1.0
    # Rows and faces have no file of their own: every one gets its identity as its name.
    for fmt, detector in (("fer2013", "haar"), ("expw", "dataset")):
        data = make(fmt, 3)
        expected, _ = READERS[fmt](data)
        out = os.path.join(SCRATCH, fmt + "-faces")
        shutil.rmtree(out, ignore_errors=True)
        rc, log = sh([EXE, "crop-faces", data, "--format", fmt, "--detector", detector, "--out", out])
        assert rc == 0, log
        got = sorted(os.path.relpath(p, out) for p in glob.glob(os.path.join(out, "*", "*.png")))
        assert got == sorted(f"{c}/" + re.sub(r"[/:#]", "_", p) + ".png"
                             for p, (c, _, _) in expected.items()), got[:3]


def test_ferplus_private_test_and_left_out_votes():
    data, out, log = run_sweep("ferplus", "{split: official, test: PrivateTest}", per_class=25)
    expected = check_labels_and_left_out("ferplus", data, out)
    rows, _ = results(out)
    assert rows == [(0, *official(expected, "PrivateTest", "Training"))], rows
    check_official_folds(out, expected, "PrivateTest", "Training")
    rc, plan = sh([EXE, "plan", os.path.join(SCRATCH, "ferplus.yaml")])
    assert rc == 0, plan
    assert re.search(r"left out\s+FER\+ blank image name \d+, FER\+ unknown \d+", plan), plan


def test_rafdb_official_split():
    data, out, log = run_sweep("rafdb", "{split: official}")
    expected = check_labels_and_left_out("rafdb", data, out)
    rows, _ = results(out)
    assert rows == [(0, *official(expected, "test", "train"))], rows
    check_official_folds(out, expected, "test", "train")


FACES = "{original: {}, faces: {detector: dataset, margin: 0.1}}"


def crops_of(out):
    """Images and kept crops of the sweep's one crop task, and its QC report's summary."""
    with h5py.File(os.path.join(out, "results.h5"), "r") as r:
        c = r["crops"]
        images, kept = int(c["result_images"][0]), int(c["result_kept"][0])
    qc = glob.glob(os.path.join(out, "**", "qc.json"), recursive=True)
    assert len(qc) == 1, qc
    return images, kept, json.load(open(qc[0]))["summary"]


def test_affectnet_kfold_with_left_out_none_and_dataset_boxes():
    data, out, log = run_sweep("affectnet", "{folds: 3, seed: 1}", per_class=20, variants=FACES)
    expected = check_labels_and_left_out("affectnet", data, out)
    rows, _ = results(out)
    assert sorted(r[0] for r in rows) == [0, 0, 1, 1, 2, 2], rows  # two variants
    check_stored_folds(out, expected, "kfold")
    # detector: dataset crops every sample at its own box: every face found, each at IoU 1 with
    # the true box (the same box).
    images, kept, summary = crops_of(out)
    assert images == kept == len(expected), (images, kept, len(expected))
    assert summary["with_face"] == images and summary["iou"]["mean"] == 1.0, summary


def test_expw_faces_cut_from_shared_frames():
    data, out, log = run_sweep("expw", "{folds: 2, seed: 1}", variants=FACES)
    expected = check_labels_and_left_out("expw", data, out)
    images, kept, summary = crops_of(out)
    assert images == kept == len(expected), (images, kept, len(expected))
    assert any(p.endswith("#1") for p in expected), "no frame with a second face"


def subject_disjoint(fmt, expected, out, folds):
    rows, _ = results(out)
    assert sorted(r[0] for r in rows) == list(range(folds)), rows
    assert sum(r[1] for r in rows) == len(expected), rows
    check_stored_folds(out, expected, "group")


def test_ckplus_subject_folds_under_mpirun():
    data, out, log = run_sweep("ckplus", "{folds: 3, group: subject, seed: 2}", per_class=3, ranks=2)
    expected = check_labels_and_left_out("ckplus", data, out)
    subject_disjoint("ckplus", expected, out, 3)


def test_jaffe_subject_folds():
    # A face variant that drops the images without a face: its feature set lacks some samples.
    drop = "{original: {}, faces: {detector: haar, fallback: drop}}"
    data, out, log = run_sweep("jaffe", "{folds: 5, group: subject}", per_class=10, variants=drop)
    expected = check_labels_and_left_out("jaffe", data, out)
    rows, _ = results(out)
    assert sorted(r[0] for r in rows) == sorted(list(range(5)) * 2), rows
    samples, splits = check_stored_folds(out, expected, "group")
    outside = [int((a == -1).sum()) for *_, a in splits]
    assert sorted(outside)[0] == 0 and sorted(outside)[1] > 0, outside  # original: none; faces: some
    # analysis/load_results.py's fold_samples gives each row's parts, by identity.
    sys.path.insert(0, os.path.join(ROOT, "analysis"))
    import load_results
    df, _, _ = load_results.load(os.path.join(out, "results.h5"))
    for _, row in df.iterrows():
        train, test = load_results.fold_samples(os.path.join(out, "results.h5"), row)
        assert (len(train), len(test)) == (row["n_train"], row["n_test"])
        assert not {expected[p][1] for p in train} & {expected[p][1] for p in test}


def test_group_folds_refused_without_subjects_and_with_too_few():
    data = make("rafdb", 2)
    rc, log = sh([EXE, "plan", sweep("rafdb", data, "{folds: 3, group: subject}", variants=FACES)])
    assert rc == 2 and "cv.group: format rafdb names no subjects" in log, log
    assert "variants.faces.detector: format rafdb gives no face boxes" in log, log
    data = make("jaffe", 10)
    path = sweep("jaffe", data, "{folds: 12, group: subject}")
    rc, log = sh([EXE, "run", path, "--out", os.path.join(SCRATCH, "too-few"), "--no-progress"])
    assert rc == 2 and "10 subjects cannot fill 12 subject-disjoint folds" in log, log
    assert not os.path.exists(os.path.join(SCRATCH, "too-few", "results.h5"))


if __name__ == "__main__":
    shutil.rmtree(SCRATCH, ignore_errors=True)
    os.makedirs(SCRATCH)
    sys.exit(run_tests(globals(), ONLY))
