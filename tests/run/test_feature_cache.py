#!/usr/bin/python3
"""The feature cache shared across runs, end to end: a second run of a tiny sweep into another
--out dispatches no extract task and gives bit-identical results; `fersweep extract` reuses a
sweep's entry; a damaged entry is warned about and recomputed; an unwritable cache only warns;
another image size or other weights miss; a killed run's unfinished temp file is swept, a live
writer's is not.

Usage: test_feature_cache.py FERSWEEP_EXE SCRATCH_DIR
"""
import glob
import json
import os
import socket
import subprocess
import sys
import time

import h5py
import numpy as np

from harness import fresh_demo_data, run_tests

EXE, SCRATCH = sys.argv[1], sys.argv[2]
ENV = dict(os.environ)
ENV.pop("FERSWEEP_INJECT_FAILURE", None)
DATA = os.path.join(SCRATCH, "demo-data")
SWEEP = os.path.join(SCRATCH, "tiny.yaml")
CACHE = os.path.join(SCRATCH, "cache")

SWEEP_TEXT = f"""
name: tiny-cache
dataset: {{root: {DATA}, image_size: 64, normalize: imagenet}}
variants: {{original: {{}}, faces: {{detector: boxes, boxes: {DATA}/face_boxes.csv, margin: 0.2}}}}
weights: random:3
cv: {{folds: 3, seed: 1}}
train: {{head: linear, optimizer: adam, lr: 0.01, weight_decay: 0.001, batch_size: 64, standardize: true}}
grid:
  backbone: [resnet18]
  variant: [original, faces]
  epochs: [5]
  fold: all
"""
SECONDS = {}


def run(name, *extra, cache=CACHE):
    out = os.path.join(SCRATCH, name)
    cmd = [EXE, "run", SWEEP, "--out", out, "--no-progress", "--threads", "2", *extra]
    if cache:
        cmd += ["--feature-cache", cache]
    start = time.time()
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    SECONDS[name] = time.time() - start
    return out, p.returncode, p.stdout + p.stderr


def journal(out, kind):
    recs = [json.loads(line.split("\t")[0]) for line in open(os.path.join(out, "journal.jsonl"))]
    return [r for r in recs if r["kind"] == kind]


def events(out):
    return [json.loads(line) for line in open(os.path.join(out, "events.jsonl"))]


def results(out):
    """Every column of /results as raw bytes, keyed by name, rows in task order."""
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        g = f["results"]
        order = np.lexsort((g["epoch"][()], g["task_id"].asstr()[()]))
        skip = {"host", "rank", "seconds", "finished"}
        return {k: g[k][()][order].tobytes() if g[k].dtype.kind != "O"
                else list(g[k].asstr()[()][order]) for k in g if k not in skip}


def from_cache_column(out):
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        return sorted(f["extracts/result_from_cache"][()].tolist())


def setup():
    fresh_demo_data(EXE, SCRATCH, DATA, 4, ENV)
    with open(SWEEP, "w") as f:
        f.write(SWEEP_TEXT)


def test_1_second_run_dispatches_no_extraction_and_gives_identical_results():
    first, rc, log = run("first")
    assert rc == 0, log
    assert [r["result"]["from_cache"] for r in journal(first, "extract")] == [False, False]
    assert len([n for n in os.listdir(CACHE) if n.endswith(".h5")]) == 2, os.listdir(CACHE)
    # A temp file of a store killed on this machine, and one another process is still writing.
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open("/proc/sys/kernel/random/boot_id") as f:
        domain = f"{f.read()[:8]}.{os.stat('/proc/self/ns/pid').st_ino}"
    prefix = f".tmp-{socket.gethostname()}@{domain}@"
    killed = os.path.join(CACHE, f"{prefix}{dead.pid}-0-{'a' * 64}.h5")
    live = os.path.join(CACHE, f"{prefix}{os.getpid()}-0-{'b' * 64}.h5")
    for path in (killed, live):
        with open(path, "wb") as f:
            f.write(b"\0" * (3 << 20))
    second, rc, log = run("second")
    assert rc == 0, log
    assert f"feature cache '{CACHE}': removed 1 unfinished temp file(s) of killed runs (3.0 MiB)" \
        in log, log
    assert not os.path.exists(killed) and os.path.exists(live)
    os.remove(live)
    assert log.count("reused from") == 2, log
    ex = journal(second, "extract")
    assert len(ex) == 2 and all(r["result"]["from_cache"] for r in ex), ex
    assert all(r["result"]["feature_cache"].startswith(CACHE) for r in ex)
    ev = events(second)
    assert not [e for e in ev if e["event"] == "done" and e["kind"] == "extract"], ev
    assert len([e for e in ev if e["event"] == "cached"]) == 2
    assert results(first) == results(second)
    assert from_cache_column(first) == [0, 0] and from_cache_column(second) == [1, 1]
    # The results directory stays self-contained: its own copy of every feature set.
    for r in ex:
        mine = os.path.join(second, r["result"]["features_file"])
        with h5py.File(mine, "r") as a, h5py.File(os.path.join(first, r["result"]["features_file"]),
                                                    "r") as b:
            assert a["features"][()].tobytes() == b["features"][()].tobytes()
            assert a.attrs["id"] == r["id"]
    print(f"first run {SECONDS['first']:.1f} s (extracts computed), second run "
          f"{SECONDS['second']:.1f} s (extracts from the cache)")


def test_2_extract_command_reuses_the_sweep_entry():
    out = os.path.join(SCRATCH, "extract.h5")
    cmd = [EXE, "extract", DATA, "--backbone", "resnet18", "--weights", "random:3",
           "--image-size", "64", "--feature-cache", CACHE, "--out", out]
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    original = [r for r in journal(os.path.join(SCRATCH, "first"), "extract")
                if r["params"]["crop"] is None][0]
    with h5py.File(out, "r") as a, h5py.File(
            os.path.join(SCRATCH, "first", original["result"]["features_file"]), "r") as b:
        assert a.attrs["from_cache"] == 1
        assert a["features"][()].tobytes() == b["features"][()].tobytes()


def test_3_damaged_entry_is_warned_about_and_recomputed():
    ex = journal(os.path.join(SCRATCH, "second"), "extract")
    damaged = [r for r in ex if r["params"]["crop"] is None][0]["result"]["feature_cache"]
    data = open(damaged, "rb").read()
    with open(damaged, "wb") as f:
        f.write(data[: len(data) // 2])
    out, rc, log = run("third")
    assert rc == 0, log
    assert f"feature cache entry '{damaged}' is damaged" in log and "recomputing" in log, log
    assert sorted(r["result"]["from_cache"] for r in journal(out, "extract")) == [False, True]
    assert results(out) == results(os.path.join(SCRATCH, "first"))
    with h5py.File(damaged, "r") as f:  # replaced by a whole entry
        assert f["features"].shape == (675, 512) and "cache_key" in f.attrs


def test_4_unwritable_cache_only_warns():
    blocker = os.path.join(SCRATCH, "a-file")
    open(blocker, "w").close()
    out, rc, log = run("fourth", cache=os.path.join(blocker, "cache"))
    assert rc == 0, log
    assert "cannot store features" in log and "continuing without caching" in log, log
    assert log.count("cannot store features") == 1, log  # one warning, not one per task
    assert results(out) == results(os.path.join(SCRATCH, "first"))
    if os.geteuid() != 0:  # root writes into read-only folders anyway
        ro = os.path.join(SCRATCH, "read-only")
        os.makedirs(ro)
        os.chmod(ro, 0o555)
        out, rc, log = run("fifth", cache=ro)
        assert rc == 0 and "cannot store features" in log, log


def test_5_other_image_size_or_weights_miss():
    for name, override in (("size48", "dataset.image_size=48"), ("weights4", "weights=random:4")):
        out, rc, log = run(name, "--set", override, "--set", "grid.variant=[original]")
        assert rc == 0, log
        assert "reused from" not in log, log
        assert not [r for r in journal(out, "extract") if r["result"]["from_cache"]]


def test_6_fold_keys_keep_their_layout():
    """normalize: dataset keys name the fold as {cv_seed, fold, folds, repeat}, exactly as fersweep
    versions before cv schemes did, so their cached entries still hit (a `cv` key is added only
    for group or official-split schemes)."""
    out, rc, log = run("fold-keys", "--set", "dataset.normalize=dataset", "--set", "grid.variant=[original]",
                       "--set", "grid.fold=[1]")
    assert rc == 0, log
    keys = []
    for entry in glob.glob(os.path.join(CACHE, "*.h5")):
        with h5py.File(entry, "r") as f:
            key = json.loads(f.attrs["cache_key"])
        if key.get("fold") is not None:
            keys.append(key["fold"])
    assert keys and all(k == {"cv_seed": 1, "fold": 1, "folds": 3, "repeat": 0} for k in keys), keys


if __name__ == "__main__":
    setup()
    sys.exit(run_tests(globals()))
