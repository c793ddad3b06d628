#!/usr/bin/python3
"""The fine-tuning benchmark's peer: torchvision's own blocks from the cut on plus a new fc,
trained with torch.optim.Adam (two groups, the blocks at lr * 0.1) on the same cached activations,
BatchNorm frozen, the same batch size and thread count. Prints the best wall seconds of one epoch
over the repeats (after one warm-up epoch).
Usage: peer_finetune.py DIR ARCH CUT BATCH REPEATS THREADS (DIR holds x.f32 [N,C,H,W], shape.txt, y.i64)"""
import sys
import time

import numpy as np
import torch
import torchvision

d, arch, cut = sys.argv[1], sys.argv[2], sys.argv[3]
batch, repeats, threads = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
torch.set_num_threads(threads)
shape = [int(v) for v in open(f"{d}/shape.txt").read().split()]
x = torch.from_numpy(np.fromfile(f"{d}/x.f32", dtype=np.float32).reshape(shape))
y = torch.from_numpy(np.fromfile(f"{d}/y.i64", dtype=np.int64))
model = getattr(torchvision.models, arch)()
model.fc = torch.nn.Linear(model.fc.in_features, int(y.max()) + 1)
blocks = [model.layer3, model.layer4] if cut == "layer3" else [model.layer4]
tail = torch.nn.Sequential(*blocks, model.avgpool, torch.nn.Flatten(1), model.fc)
opt = torch.optim.Adam([{"params": [p for b in blocks for p in b.parameters()], "lr": 0.001},
                        {"params": model.fc.parameters(), "lr": 0.01}], weight_decay=0.001)
loss_fn = torch.nn.CrossEntropyLoss()


def epoch():
    tail.train()
    for m in tail.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    perm = torch.randperm(len(y))
    for start in range(0, len(y), batch):
        idx = perm[start:start + batch]
        loss = loss_fn(tail(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


epoch()
best = float("inf")
for _ in range(repeats):
    t0 = time.perf_counter()
    epoch()
    best = min(best, time.perf_counter() - t0)
print(best)
