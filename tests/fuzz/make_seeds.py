#!/usr/bin/python3
"""Seed inputs for the weights fuzzers, written with python3-torch (Debian's): small torch.save
archives shaped like real state dicts (OrderedDict with _metadata, nested under "state_dict",
several dtypes, views with offsets and strides), TorchScript archives, and each archive's data.pkl
alone for fuzz_state_pickle.

Usage: make_seeds.py OUT_DIR   (writes OUT_DIR/checkpoint/*.pth and OUT_DIR/state_pickle/*.pkl)
"""
import collections
import os
import sys
import zipfile

import torch

out = sys.argv[1]
ckpt, pkl = os.path.join(out, "checkpoint"), os.path.join(out, "state_pickle")
os.makedirs(ckpt, exist_ok=True)
os.makedirs(pkl, exist_ok=True)
torch.manual_seed(0)

net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1), torch.nn.BatchNorm2d(2), torch.nn.Linear(2, 3))
base = torch.arange(12, dtype=torch.float32)
seeds = {
    "module_state_dict": net.state_dict(),  # OrderedDict with _metadata, int64 counter
    "plain_dict": {"conv1.weight": torch.randn(2, 3, 1, 1), "fc.bias": torch.zeros(3)},
    "nested": {"state_dict": collections.OrderedDict(w=torch.ones(2)), "epoch": 3},
    "views": {"a": base[2:8].view(2, 3), "b": base.view(3, 4).t(), "c": base},  # shared storage
    "dtypes": {"f64": torch.ones(2, dtype=torch.float64), "i64": torch.arange(3),
               "u8": torch.zeros(4, dtype=torch.uint8), "f16": torch.ones(2, dtype=torch.float16),
               "b": torch.tensor([True, False])},
    "empty_and_scalar": {"e": torch.zeros(0, 5), "s": torch.tensor(2.5)},
}
for name, obj in seeds.items():
    path = os.path.join(ckpt, name + ".pth")
    torch.save(obj, path)
    with zipfile.ZipFile(path) as z:
        data = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        open(os.path.join(pkl, name + ".pkl"), "wb").write(z.read(data))
# TorchScript archives (a scripted and a traced module tree) and their data.pkl.
scripts = {"torchscript": torch.jit.script(torch.nn.Linear(2, 2)),
           "torchscript_traced": torch.jit.trace(net.eval(), torch.zeros(1, 3, 1, 2))}
for name, module in scripts.items():
    path = os.path.join(ckpt, name + ".pt")
    torch.jit.save(module, path)
    with zipfile.ZipFile(path) as z:
        data = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        open(os.path.join(pkl, name + ".pkl"), "wb").write(z.read(data))
