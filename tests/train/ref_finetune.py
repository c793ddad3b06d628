#!/usr/bin/python3
"""Reference for the fine-tuning tests, with python3-torch/torchvision (Debian's).

  ref_finetune.py make DIR ARCH CUT SIZE N
      DIR/weights.pth   torch.save(state_dict()) of a seeded random torchvision ARCH (random BatchNorm)
      DIR/input.f32     [N,3,SIZE,SIZE] float32 images
      DIR/frozen.f32    the frozen part's output for CUT (layer4: layer3's output, layer3: layer2's,
                        all: the images), computed in float64, stored float32
  ref_finetune.py train DIR
      reads DIR/run.json (config, initial head w1/b1, per-epoch orders of the training rows) and
      DIR/frozen.f32, trains the tail with torch.nn + torch.optim (+ torch's CosineAnnealingLR or
      StepLR, stepped per epoch), evaluates it on the test rows, and writes DIR/ref.json
      ({"step_losses", "params": [[name, shape], ...], "test_loss", "predicted"}) and
      DIR/ref_params.f32 (the tail's parameters and BatchNorm statistics after training, in that
      order, float32)
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "model"))
from make_reference import random_model  # noqa: E402

torch.set_num_threads(1)
SEEDS = {"resnet18": 18, "resnet34": 34, "resnet50": 50}


def stem(model, x):
    return model.maxpool(model.relu(model.bn1(model.conv1(x))))


def frozen(model, cut, x):
    """torchvision's own modules up to the cut."""
    if cut == "all":
        return x
    x = model.layer2(model.layer1(stem(model, x)))
    return x if cut == "layer3" else model.layer3(x)


def tail_modules(model, cut):
    if cut == "all":
        return [model.conv1, model.bn1, model.layer1, model.layer2, model.layer3, model.layer4]
    return [model.layer3, model.layer4] if cut == "layer3" else [model.layer4]


def tail_forward(model, cut, x):
    if cut == "all":
        return model(x)
    if cut == "layer3":
        x = model.layer3(x)
    x = model.layer4(x)
    return model.fc(torch.flatten(model.avgpool(x), 1))


def make(out, arch, cut, size, n):
    os.makedirs(out, exist_ok=True)
    model = random_model(arch, SEEDS[arch])
    torch.save(model.state_dict(), os.path.join(out, "weights.pth"))
    x = torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(7))
    x.numpy().astype("<f4").tofile(os.path.join(out, "input.f32"))
    with torch.no_grad():
        act = frozen(model.double().eval(), cut, x.double()).float()
    act.numpy().astype("<f4").tofile(os.path.join(out, "frozen.f32"))


def train(out):
    run = json.load(open(os.path.join(out, "run.json")))
    cfg = run["config"]
    arch, cut = run["arch"], cfg["finetune"]
    model = random_model(arch, SEEDS[arch])
    model.load_state_dict(torch.load(os.path.join(out, "weights.pth")))
    model.fc = torch.nn.Linear(model.fc.in_features, run["num_classes"])
    with torch.no_grad():
        model.fc.weight.copy_(torch.tensor(run["w1"]).reshape(model.fc.weight.shape))
        model.fc.bias.copy_(torch.tensor(run["b1"]))
    x = torch.from_numpy(np.fromfile(os.path.join(out, "frozen.f32"), dtype="<f4").reshape(run["shape"]))
    y = torch.tensor(run["labels"], dtype=torch.int64)
    train_idx = run["train_idx"]

    tail = tail_modules(model, cut)
    backbone = [p for m in tail for p in m.parameters()]
    groups = [{"params": backbone, "lr": cfg["lr"] * cfg["backbone_lr"]},
              {"params": list(model.fc.parameters()), "lr": cfg["lr"]}]
    name, wd = cfg["optimizer"], cfg["weight_decay"]
    if name == "adam":
        opt = torch.optim.Adam(groups, lr=cfg["lr"], weight_decay=wd)
    elif name == "adamw":
        opt = torch.optim.AdamW(groups, lr=cfg["lr"], weight_decay=wd)
    else:
        opt = torch.optim.SGD(groups, lr=cfg["lr"], weight_decay=wd, momentum=cfg["momentum"])
    # torch's own schedulers, stepped once per epoch.
    if cfg["schedule"] == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["lr_horizon"])
    elif cfg["schedule"] == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg["lr_step"], gamma=cfg["lr_gamma"])
    else:
        sched = None
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg["label_smoothing"])

    def set_mode():
        model.train()
        if cfg["bn"] == "frozen":
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.eval()

    losses = []
    bs = cfg["batch_size"]
    for order in run["orders"]:
        set_mode()
        for start in range(0, len(order), bs):
            idx = [train_idx[k] for k in order[start:start + bs]]
            loss = loss_fn(tail_forward(model, cut, x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        if sched:
            sched.step()

    # The evaluation after the last epoch: eval mode, mean cross-entropy without smoothing.
    model.eval()
    test_idx = run["test_idx"]
    with torch.no_grad():
        logits = tail_forward(model, cut, x[test_idx])
        test_loss = torch.nn.functional.cross_entropy(logits, y[test_idx]).item()
        predicted = logits.argmax(1).tolist()

    # The tail's parameters and float buffers (BatchNorm statistics), and fc's, sorted by name.
    tail_ids = {id(t) for m in tail for t in list(m.parameters()) + list(m.buffers())}
    state = {n: t for n, t in list(model.named_parameters()) + list(model.named_buffers())
             if (id(t) in tail_ids or n.startswith("fc.")) and t.is_floating_point()}
    names = [[n, list(state[n].shape)] for n in sorted(state)]
    chunks = [state[n].detach().float().numpy().ravel() for n in sorted(state)]
    np.concatenate(chunks).astype("<f4").tofile(os.path.join(out, "ref_params.f32"))
    json.dump({"step_losses": losses, "params": names, "test_loss": test_loss, "predicted": predicted},
              open(os.path.join(out, "ref.json"), "w"))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    else:
        train(sys.argv[2])
