#!/usr/bin/python3
"""The bad-input corpus (tests/data/bad/cases.json): runs every case through the real `fersweep`
and checks its exit code and message, that it neither crashed nor hung nor printed a library's
raw error (LibTorch INTERNAL ASSERT, HDF5 error stack, sanitizer report), and that no results file
was created or changed.

Usage: test_bad_inputs.py FERSWEEP_EXE SCRATCH_DIR [case-name-substring]
"""
import filecmp
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "run"))
from harness import run_tests  # noqa: E402

BAD = os.path.join(os.path.dirname(HERE), "data", "bad")
MAKE_WEIGHTS = os.path.join(os.path.dirname(HERE), "model", "make_reference.py")
EXE, SCRATCH = sys.argv[1], os.path.abspath(sys.argv[2])
ONLY = sys.argv[3] if len(sys.argv) > 3 else ""
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
ENV.pop("FERSWEEP_INJECT_FAILURE", None)
TIMEOUT_S = 90  # per case; a hang fails the case
# Output that means a library error escaped fersweep's error handling, or a crash.
FORBIDDEN = ["INTERNAL ASSERT", "HDF5-DIAG", "Exception raised from", "terminate called",
             "Segmentation fault", "AddressSanitizer", "runtime error:", "Traceback", "core dumped"]

DATA = os.path.join(SCRATCH, "data")        # a valid tiny dataset
WEIGHTS = os.path.join(SCRATCH, "weights")  # make_reference.py bad
GOOD_RUN = os.path.join(SCRATCH, "good_run")  # a finished run: the "existing" results directory


def noise(h, w, seed):
    return (np.random.RandomState(seed).rand(h, w, 3) * 255).astype("uint8")


def make_dataset(root):
    """Classes A (4 PNGs) and B (2 PNGs, 2 JPEGs) of 40x40 noise: enough for 2 folds."""
    for c, files in (("A", ["0.png", "1.png", "2.png", "3.png"]), ("B", ["0.png", "1.png", "2.jpg", "3.jpg"])):
        os.makedirs(os.path.join(root, c), exist_ok=True)
        for i, f in enumerate(files):
            assert cv2.imwrite(os.path.join(root, c, f), noise(40, 40, i + 10 * ord(c)))


def cut(path, n):
    data = open(path, "rb").read()
    open(path, "wb").write(data[:n if n >= 0 else len(data) // 2])


def root_can_read_anyway(path):
    """chmod 000 does not stop root (CAP_DAC_OVERRIDE): such a case cannot be provoked here."""
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").close()
        return True
    except PermissionError:
        return False


# Recipes: build the case's inputs under `case` (the dataset is case/data). Return a reason to skip
# the case, or None.
def fer_row(emotion, pixels, usage="Training"):
    return f"{emotion},{' '.join(str(p) for p in pixels)},{usage}\n"


def format_recipe(name, data):
    """Datasets in the FER formats, each with one line that breaks the format's rules."""
    os.makedirs(data)
    w = lambda rel, text: (os.makedirs(os.path.dirname(os.path.join(data, rel)) or data, exist_ok=True),
                           open(os.path.join(data, rel), "w").write(text))
    good = [fer_row(e % 2, [e * 10] * 2304) for e in range(4)]
    if name == "fer2013_short_row":
        w("fer2013.csv", "emotion,pixels,Usage\n" + "".join(good) + fer_row(1, [5] * 2303))
    elif name == "fer2013_pixel_256":
        w("fer2013.csv", "emotion,pixels,Usage\n" + "".join(good) + fer_row(1, [5] * 100 + [256] + [5] * 2203))
    elif name == "fer2013_label_7":
        w("fer2013.csv", "emotion,pixels,Usage\n" + "".join(good) + fer_row(7, [5] * 2304))
    elif name == "rafdb_missing_image":
        os.makedirs(os.path.join(data, "Image/aligned"))
        for i in range(1, 5):
            assert cv2.imwrite(os.path.join(data, f"Image/aligned/train_{i:05d}_aligned.jpg"), noise(40, 40, i))
        w("EmoLabel/list_patition_label.txt", "".join(f"train_{i:05d}.jpg {i % 2 + 1}\n" for i in range(1, 6)))
    elif name == "ckplus_two_numbers":
        for s in ("S005", "S010"):
            d = os.path.join(data, "cohn-kanade-images", s, "001")
            os.makedirs(d)
            for f in range(1, 4):
                assert cv2.imwrite(os.path.join(d, f"{s}_001_{f:08d}.png"), noise(40, 40, f))
        w("Emotion/S005/001/S005_001_00000003_emotion.txt", "   3.0000000e+00\n")
        w("Emotion/S010/001/S010_001_00000003_emotion.txt", "   3.0000000e+00    5.0000000e+00\n")
    elif name == "expw_box_outside":
        os.makedirs(os.path.join(data, "image/origin"))
        assert cv2.imwrite(os.path.join(data, "image/origin/a.jpg"), noise(40, 60, 1))
        w("label/label.lst", "a.jpg 0 5 5 30 30 0.9 3\na.jpg 1 10 20 70 35 0.9 4\n")
    else:
        raise AssertionError(f"unknown recipe {name}")
    return None


def recipe(name, case):
    data = os.path.join(case, "data")
    if name in ("root_missing",):
        return None
    if name.split("_")[0] in ("fer2013", "rafdb", "ckplus", "expw"):
        return format_recipe(name, data)
    if name == "root_is_file":
        open(data, "w").write("not a folder\n")
        return None
    if name == "no_class_folders":
        os.makedirs(data)
        return None
    make_dataset(data)
    p = lambda rel: os.path.join(data, rel)
    if name == "zero_byte":
        open(p("A/0.png"), "wb").close()
    elif name == "truncated_png":
        cut(p("A/1.png"), 200)
    elif name == "truncated_jpeg":
        cut(p("B/2.jpg"), -1)
    elif name == "garbage_jpeg":
        open(p("B/3.jpg"), "wb").write(b"\xff\xd8" + os.urandom(3000).replace(b"\xff", b"\x00") + b"\xff\xd9")
    elif name == "text_named_png":
        open(p("A/2.png"), "w").write("this is not an image\n" * 20)
    elif name == "tiny_1x1":
        assert cv2.imwrite(p("A/3.png"), noise(1, 1, 1))
    elif name == "dir_named_like_image":
        shutil.rmtree(p("B"))
        os.makedirs(p("B/b.png"))
    elif name == "unreadable_file":
        os.chmod(p("A/1.png"), 0)
        if root_can_read_anyway(p("A/1.png")):
            return "running as root: chmod 000 does not stop root from reading the file"
    elif name == "unreadable_class_dir":
        os.chmod(p("B"), 0)
        if root_can_read_anyway(p("B")):
            return "running as root: chmod 000 does not stop root from listing the folder"
    elif name == "empty_class":
        shutil.rmtree(p("B"))
        os.makedirs(p("B"))
    elif name == "too_few_images_for_folds":
        for f in ("1.png", "2.jpg", "3.jpg"):
            os.remove(p("B/" + f))
    elif name not in ("missing_class_run", "missing_class_plan"):
        raise AssertionError(f"unknown recipe {name}")
    return None


def run_fersweep(args):
    start = time.time()
    try:
        p = subprocess.run([EXE, *args], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, errors="replace", timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"no answer within {TIMEOUT_S} s (hang): fersweep {' '.join(args)}")
    return p.returncode, p.stdout, time.time() - start


def tree_bytes(root):
    """{relative path: bytes} of every file under root."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            path = os.path.join(d, f)
            out[os.path.relpath(path, root)] = open(path, "rb").read()
    return out


def prepare_shared(cases):
    shutil.rmtree(SCRATCH, ignore_errors=True)
    os.makedirs(SCRATCH)
    make_dataset(DATA)
    if any(c.get("needs") == "weights" for c in cases):
        p = subprocess.run([sys.executable, MAKE_WEIGHTS, "bad", WEIGHTS], capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
    if any(c.get("out") == "existing" for c in cases):
        rc, log, _ = run_fersweep(["run", os.path.join(BAD, "base.yaml"), "--no-progress", "--out", GOOD_RUN,
                                   "--set", "dataset.root=" + DATA])
        assert rc == 0, log
        assert os.path.exists(os.path.join(GOOD_RUN, "results.h5")), os.listdir(GOOD_RUN)


def check_case(c):
    """Runs one case; returns None when it passed, "skip: why" when it could not be provoked."""
    case_dir = os.path.join(SCRATCH, "cases", c["name"].replace("/", "_"))
    out = os.path.join(SCRATCH, "out", c["name"].replace("/", "_"))
    os.makedirs(case_dir)
    if "recipe" in c:
        skip = recipe(c["recipe"], case_dir)
        if skip:
            return "skip: " + skip
    before = None
    if c.get("out") == "existing":
        shutil.copytree(GOOD_RUN, out)
        before = tree_bytes(out)
    subst = {"{bad}": BAD, "{case}": case_dir, "{data}": DATA, "{weights}": WEIGHTS, "{out}": out}
    args = []
    for a in c["cmd"]:
        for k, v in subst.items():
            a = a.replace(k, v)
        args.append(a)
    rc, log, seconds = run_fersweep(args)
    where = f"fersweep {' '.join(args)}\n--- output ({seconds:.1f} s) ---\n{log}"
    assert rc >= 0, f"killed by signal {-rc}\n{where}"
    assert rc == c["exit"], f"exit code {rc}, expected {c['exit']}\n{where}"
    assert re.search(c["match"], log), f"message does not match /{c['match']}/\n{where}"
    for bad in FORBIDDEN:
        assert bad not in log, f"output contains '{bad}'\n{where}"
    if before is not None:
        after = tree_bytes(out)
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        assert not changed, f"the existing results directory changed: {changed}\n{where}"
    elif "{out}" in " ".join(c["cmd"]):
        for f in ("results.h5", "journal.jsonl"):
            assert not os.path.exists(os.path.join(out, f)), f"{f} was created in {out}\n{where}"
    return None


def test_bad_input_corpus():
    manifest = json.load(open(os.path.join(BAD, "cases.json")))
    cases = [c for c in manifest["cases"] if ONLY in c["name"]]
    names = [c["name"] for c in manifest["cases"]]
    assert len(names) == len(set(names)), "duplicate case names"
    assert ONLY or len(cases) >= 30, len(cases)
    prepare_shared(cases)
    failures, skipped = [], []
    for c in cases:
        start = time.time()
        try:
            skip = check_case(c)
        except Exception as e:  # collect every failing case, then fail once
            failures.append(f"{c['name']}: {e}")
            print(f"  FAIL {c['name']}", flush=True)
            continue
        if skip:
            skipped.append(f"{c['name']}: {skip}")
        print(f"  {'SKIP' if skip else 'ok  '} {c['name']} ({time.time() - start:.1f} s){'  ' + skip if skip else ''}",
              flush=True)
    # Permission cases are made readable again so the scratch folder can be deleted.
    for d, dirs, files in os.walk(SCRATCH):
        for n in dirs + files:
            os.chmod(os.path.join(d, n), stat.S_IRWXU)
    print(f"{len(cases) - len(failures) - len(skipped)} cases passed, {len(failures)} failed, "
          f"{len(skipped)} skipped")
    assert not failures, "\n\n".join(failures)


if __name__ == "__main__":
    sys.exit(run_tests(globals()))
