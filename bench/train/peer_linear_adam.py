#!/usr/bin/python3
"""The benchmark peer: a linear head trained with torch.nn.Linear + torch.optim.Adam in a plain
loop over cached features (one thread), evaluated at each requested epoch. Prints the best
CPU seconds per run over the repeats, and the test accuracy of the last run at the last epoch.
Usage: peer_linear_adam.py DIR REPEATS EPOCHS,... (DIR holds x.f32, y.i64, train.i64, test.i64)"""
import sys
import time

import numpy as np
import torch

torch.set_num_threads(1)
d, repeats = sys.argv[1], int(sys.argv[2])
epochs = [int(e) for e in sys.argv[3].split(",")]
y = torch.from_numpy(np.fromfile(f"{d}/y.i64", dtype=np.int64))
x = torch.from_numpy(np.fromfile(f"{d}/x.f32", dtype=np.float32).reshape(len(y), -1))
train = torch.from_numpy(np.fromfile(f"{d}/train.i64", dtype=np.int64))
test = torch.from_numpy(np.fromfile(f"{d}/test.i64", dtype=np.int64))
c = int(y.max()) + 1
xtr, ytr, xte, yte = x[train], y[train], x[test], y[test]

best, acc = float("inf"), 0.0
for r in range(repeats):
    torch.manual_seed(r)
    start = time.process_time()
    model = torch.nn.Linear(x.shape[1], c)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=0.001)
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(1, epochs[-1] + 1):
        perm = torch.randperm(len(ytr))
        for s in range(0, len(ytr), 256):
            idx = perm[s:s + 256]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
        if epoch in epochs:
            with torch.no_grad():
                acc = (model(xte).argmax(1) == yte).float().mean().item()
    best = min(best, time.process_time() - start)
print(f"{best:.6f} {acc:.4f}")
