#!/usr/bin/python3
"""`fersweep extract` end to end on the demo dataset (64 px, ResNet-18): the feature file decodes
with h5py into the dataset's paths and labels, its values match an independent torchvision
computation, the shared feature cache serves a repeated call, and bad input fails cleanly with
no output file.

Usage: test_extract.py FERSWEEP_EXE SCRATCH_DIR
"""
import hashlib
import os
import re
import subprocess
import sys

import cv2
import h5py
import numpy as np
import torch
import torchvision

from harness import fresh_demo_data, run_tests

EXE, SCRATCH = sys.argv[1], sys.argv[2]
ENV = dict(os.environ)
DATA = os.path.join(SCRATCH, "demo-data")
CACHE = os.path.join(SCRATCH, "cache")
WEIGHTS = os.path.join(SCRATCH, "resnet18.pth")
SIZE = 64
# Features from C++ (oneDNN, float32, BatchNorm folded) against torchvision in float64 on the
# same decoded pixels (cv2): max |difference| / max |reference|. The model parity tests hold
# 1e-4 on fixed inputs; decoding and resizing agree to 2e-6 (tests/data).
TOLERANCE = 1e-4


def extract(out, *args, backbone="resnet18", size=SIZE):
    cmd = [EXE, "extract", DATA, "--backbone", backbone, "--image-size", str(size),
           "--threads", "2", "--out", out, *args]
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout + p.stderr


def read(path):
    with h5py.File(path, "r") as f:
        return (f["features"][()], f["labels"][()], list(f["paths"].asstr()[()]),
                {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()})


def dataset_listing():
    classes = sorted(d for d in os.listdir(DATA) if os.path.isdir(os.path.join(DATA, d)))
    items = []
    for label, c in enumerate(classes):
        for root, _, files in os.walk(os.path.join(DATA, c)):
            for name in files:
                if name.lower().endswith((".jpg", ".jpeg", ".png")):
                    items.append((os.path.relpath(os.path.join(root, name), DATA), label))
    return classes, sorted(items)


def reference_features(paths):
    """torchvision ResNet-18 from WEIGHTS (fc removed), float64, on cv2-decoded images."""
    model = torchvision.models.resnet18()
    model.load_state_dict(torch.load(WEIGHTS))
    model.fc = torch.nn.Identity()
    model = model.double().eval()
    mean = np.array([0.485, 0.456, 0.406]).reshape(3, 1, 1)
    std = np.array([0.229, 0.224, 0.225]).reshape(3, 1, 1)
    batch = []
    for p in paths:
        rgb = cv2.cvtColor(cv2.imread(os.path.join(DATA, p), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        interp = cv2.INTER_AREA if (w >= SIZE and h >= SIZE) else cv2.INTER_LINEAR
        rgb = cv2.resize(rgb, (SIZE, SIZE), interpolation=interp)
        x = rgb.astype(np.float32).transpose(2, 0, 1) / np.float32(255.0)
        batch.append((x.astype(np.float64) - mean) / std)
    with torch.no_grad():
        return model(torch.from_numpy(np.stack(batch))).numpy()


def setup():
    fresh_demo_data(EXE, SCRATCH, DATA, 2, ENV)
    torch.manual_seed(11)
    model = torchvision.models.resnet18()
    g = torch.Generator().manual_seed(12)  # non-trivial BatchNorm, so folding is exercised
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    torch.save(model.state_dict(), WEIGHTS)


def test_features_paths_labels_and_values():
    out = os.path.join(SCRATCH, "r18.h5")
    rc, log = extract(out, "--weights", WEIGHTS, "--feature-cache", CACHE, "--batch-size", "16")
    assert rc == 0, log
    features, labels, paths, attrs = read(out)
    classes, items = dataset_listing()
    assert features.dtype == np.float32 and features.shape == (675, 512), features.shape
    assert paths == [p for p, _ in items]
    assert labels.tolist() == [l for _, l in items]
    assert attrs["classes"] == '["' + '","'.join(classes) + '"]', attrs["classes"]
    assert attrs["backbone"] == "resnet18" and attrs["image_size"] == SIZE
    assert attrs["normalize"] == "imagenet" and attrs["random_weights"] == 0
    assert attrs["weights_sha256"] == hashlib.sha256(open(WEIGHTS, "rb").read()).hexdigest()
    assert attrs["weights_origin"] == WEIGHTS and attrs["from_cache"] == 0
    assert len(attrs["dataset_fingerprint"]) == 64
    assert re.fullmatch(r"1\.[0-9]+\.[0-9]+", attrs["libtorch_version"]), attrs["libtorch_version"]
    assert attrs["fersweep_version"]
    rows = [0, 101, 350, 674]
    ref = reference_features([paths[i] for i in rows])
    err = np.abs(features[rows].astype(np.float64) - ref).max() / np.abs(ref).max()
    print(f"max relative error vs torchvision: {err:.2e} (tolerance {TOLERANCE:g})")
    assert err <= TOLERANCE, err
    assert not [n for n in os.listdir(SCRATCH) if n.endswith(".tmp")]


def test_repeated_call_is_served_by_the_feature_cache():
    first = os.path.join(SCRATCH, "r18.h5")
    again = os.path.join(SCRATCH, "r18-again.h5")
    rc, log = extract(again, "--weights", WEIGHTS, "--feature-cache", CACHE)
    assert rc == 0, log
    assert "found in the feature cache" in log, log
    f1, l1, p1, a1 = read(first)
    f2, l2, p2, a2 = read(again)
    assert a2["from_cache"] == 1 and a2["feature_cache"].startswith(CACHE)
    assert f1.tobytes() == f2.tobytes() and l1.tolist() == l2.tolist() and p1 == p2
    assert a1["weights_sha256"] == a2["weights_sha256"]
    # Another image size is another feature set.
    rc, log = extract(os.path.join(SCRATCH, "r18-48.h5"), "--weights", WEIGHTS, "--feature-cache",
                      CACHE, size=48)
    assert rc == 0 and "found in the feature cache" not in log, log


def test_auto_checks_torchvision_checksum_whatever_the_cache_holds():
    # The cache holds features of WEIGHTS' bytes (test_features_paths_labels_and_values ran with
    # the same cache). The same bytes under torchvision's file name are not torchvision's file:
    # `auto` must refuse them on a warm cache exactly as on a cold one.
    home = os.path.join(SCRATCH, "torch-home")
    os.makedirs(os.path.join(home, "hub", "checkpoints"), exist_ok=True)
    fake = os.path.join(home, "hub", "checkpoints", "resnet18-f37072fd.pth")
    with open(WEIGHTS, "rb") as src, open(fake, "wb") as dst:
        dst.write(src.read())
    env = dict(ENV, TORCH_HOME=home)
    rc, log = extract(os.path.join(SCRATCH, "r18.h5"), "--weights", WEIGHTS, "--feature-cache",
                      CACHE)
    assert rc == 0, log
    for cache in (["--feature-cache", CACHE], ["--no-feature-cache"]):
        out = os.path.join(SCRATCH, "auto.h5")
        cmd = [EXE, "extract", DATA, "--backbone", "resnet18", "--image-size", str(SIZE),
               "--weights", "auto", "--out", out, *cache]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        log = p.stdout + p.stderr
        assert p.returncode == 1, (cache, p.returncode, log)
        assert "resnet18-f37072fd.pth' is corrupt or incomplete" in log, (cache, log)
        assert "found in the feature cache" not in log and not os.path.exists(out), log


def test_random_weights_are_flagged():
    out = os.path.join(SCRATCH, "random.h5")
    rc, log = extract(out, "--weights", "random:3", "--no-feature-cache", "--normalize", "minmax")
    assert rc == 0, log
    assert "random weights" in log, log
    features, _, _, attrs = read(out)
    assert attrs["random_weights"] == 1 and "random weights (seed 3)" in attrs["weights_origin"]
    assert attrs["normalize"] == "minmax" and np.isfinite(features).all()


def check_fails(name, code, message, args, out=None, backbone="resnet18"):
    out = out or os.path.join(SCRATCH, name + ".h5")
    rc, log = extract(out, "--no-feature-cache", *args, backbone=backbone)
    assert rc == code, (name, rc, log)
    assert message in log, (name, log)
    assert "INTERNAL ASSERT" not in log and "HDF5-DIAG" not in log, log
    if not os.path.isdir(out):
        assert not os.path.exists(out), out
    parent = os.path.dirname(out)
    if os.path.isdir(parent):
        assert not [n for n in os.listdir(parent) if n.endswith(".tmp")], os.listdir(parent)


def test_bad_input_fails_with_a_clear_message_and_no_file():
    global DATA
    check_fails("backbone", 2, "did you mean 'resnet18'", ["--weights", "random"],
                backbone="resnet19")
    garbage = os.path.join(SCRATCH, "garbage.pth")
    with open(garbage, "w") as f:
        f.write("not a checkpoint")
    check_fails("weights", 1, garbage, ["--weights", garbage])
    check_fails("weights_missing", 1, os.path.join(SCRATCH, "nope.pth"),
                ["--weights", os.path.join(SCRATCH, "nope.pth")])
    check_fails("out_dir", 2, "does not exist", ["--weights", "random"],
                out=os.path.join(SCRATCH, "no-such-folder", "f.h5"))
    check_fails("out_is_dir", 2, "is a directory", ["--weights", "random"], out=SCRATCH)
    check_fails("normalize", 2, "--normalize dataset", ["--weights", "random", "--normalize",
                                                        "dataset"])
    saved, DATA = DATA, os.path.join(SCRATCH, "no-such-dataset")
    try:
        check_fails("dataset", 1, DATA, ["--weights", "random"])
    finally:
        DATA = saved


if __name__ == "__main__":
    setup()
    sys.exit(run_tests(globals(), ordered=False))
