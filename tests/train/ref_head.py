#!/usr/bin/python3
"""Reference for the train module's tests: trains the same head with torch.nn + torch.optim from
given initial weights and batch orders, and writes the final weights and losses as JSON.
Usage: ref_head.py IN.json OUT.json [IN2.json OUT2.json ...] (one interpreter start for all)"""
import json
import sys

import numpy as np
import torch

torch.set_num_threads(1)


def linear(n_out, n_in, w, b):
    layer = torch.nn.Linear(n_in, n_out)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(w, dtype=torch.float32).reshape(n_out, n_in))
        layer.bias.copy_(torch.tensor(b, dtype=torch.float32))
    return layer


def run(in_path, out_path):
    with open(in_path) as f:
        d = json.load(f)
    cfg = d["config"]
    x = np.asarray(d["x"], dtype=np.float32)
    y = torch.tensor(d["y"], dtype=torch.int64)
    train_idx, test_idx = d["train_idx"], d["test_idx"]
    if cfg["standardize"]:
        xt = x[train_idx].astype(np.float64)
        mean, std = xt.mean(axis=0), xt.std(axis=0)
        std[std <= 1e-12] = 1.0
        x = ((x.astype(np.float64) - mean) / std).astype(np.float32)
    x = torch.from_numpy(x)
    n_in, c, hidden = x.shape[1], int(d["num_classes"]), int(cfg["hidden"])
    if hidden > 0:
        model = torch.nn.Sequential(linear(hidden, n_in, d["w1"], d["b1"]), torch.nn.ReLU(),
                                    linear(c, hidden, d["w2"], d["b2"]))
    else:
        model = linear(c, n_in, d["w1"], d["b1"])
    name, lr, wd = cfg["optimizer"], cfg["lr"], cfg["weight_decay"]
    if name == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    elif name == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=wd, momentum=cfg["momentum"])
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg["label_smoothing"])

    train_loss = []
    for order in d["orders"]:
        total = 0.0
        for s in range(0, len(order), cfg["batch_size"]):
            rows = [train_idx[i] for i in order[s:s + cfg["batch_size"]]]
            opt.zero_grad()
            loss = loss_fn(model(x[rows]), y[rows])
            loss.backward()
            opt.step()
            total += loss.item() * len(rows)
        train_loss.append(total / len(order))
    with torch.no_grad():
        logits = model(x[test_idx])
        test_loss = torch.nn.functional.cross_entropy(logits, y[test_idx]).item()
        pred = logits.argmax(dim=1).tolist()
    layers = [model] if hidden == 0 else [model[0], model[2]]
    out = {"train_loss": train_loss, "test_loss": test_loss, "pred": pred}
    for k, layer in enumerate(layers):
        out[f"w{k + 1}"] = layer.weight.detach().flatten().tolist()
        out[f"b{k + 1}"] = layer.bias.detach().tolist()
    with open(out_path, "w") as f:
        json.dump(out, f)


for i in range(1, len(sys.argv), 2):
    run(sys.argv[i], sys.argv[i + 1])
