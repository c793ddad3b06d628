#!/usr/bin/python3
"""Reference files for the model tests, written with python3-torch/torchvision (Debian's).

  make_reference.py parity OUT ARCH SIZE BATCH [--script]
      OUT/ARCH.pth           torch.save(model.state_dict()) of a seeded random torchvision model
                             whose BatchNorm affine parameters and running statistics are random too
      OUT/ARCH_script.pt     torch.jit.save(torch.jit.script(model)) (with --script)
      OUT/input.f32          [BATCH,3,SIZE,SIZE] float32 inputs (raw little-endian)
      OUT/ARCH_features.f32  [BATCH,D] penultimate features, computed in float64 then stored float32
      OUT/ARCH_logits.f32    [BATCH,1000] logits, same
  make_reference.py bad OUT
      malformed and mismatched weight files for the error tests
"""
import os
import sys
import zipfile

import torch
import torchvision


def random_model(arch, seed):
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)()
    # A fresh torchvision model has trivial BatchNorm (1, 0, mean 0, var 1), which would leave
    # BatchNorm folding untested: randomise it.
    g = torch.Generator().manual_seed(seed + 1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.num_batches_tracked.fill_(1234)
    return model.eval()


def parity(out, arch, size, batch, script):
    os.makedirs(out, exist_ok=True)
    model = random_model(arch, {"resnet18": 18, "resnet34": 34, "resnet50": 50}[arch])
    torch.save(model.state_dict(), os.path.join(out, arch + ".pth"))
    if script:
        torch.jit.save(torch.jit.script(model), os.path.join(out, arch + "_script.pt"))
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(7))
    x.numpy().astype("<f4").tofile(os.path.join(out, "input.f32"))
    m64 = model.double()
    with torch.no_grad():
        logits = m64(x.double())
        m64.fc = torch.nn.Identity()
        features = m64(x.double())
    features.float().numpy().astype("<f4").tofile(os.path.join(out, arch + "_features.f32"))
    logits.float().numpy().astype("<f4").tofile(os.path.join(out, arch + "_logits.f32"))


def rewrite_zip(src, dst, edit):
    """Copies a torch.save archive, letting edit(name, bytes) change each record."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for name in zin.namelist():
            zout.writestr(name, edit(name, zin.read(name)))


def bad(out):
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    open(p("empty.pth"), "wb").close()
    with open(p("notzip.pth"), "w") as f:
        f.write("these are not weights\n" * 10)
    r18 = random_model("resnet18", 18)
    sd = r18.state_dict()
    torch.save(sd, p("r18.pth"))
    # The same network as TorchScript archives (scripted and traced; eval mode, so tracing leaves
    # the BatchNorm statistics alone): both hold the same tensors under the same keys.
    r18.eval()
    torch.jit.save(torch.jit.script(r18), p("r18_script.pt"))
    torch.jit.save(torch.jit.trace(r18, torch.zeros(1, 3, 32, 32)), p("r18_trace.pt"))
    # A TorchScript module whose attribute is the module itself.
    cycle = b"\x80\x02c__torch__.M\nM\n)\x81q\x00}(X\x04\x00\x00\x00selfh\x00ub."
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), p("linear_script.pt"))
    rewrite_zip(p("linear_script.pt"), p("script_cycle.pt"),
                lambda name, b: cycle if name.endswith("/data.pkl") else b)
    data = open(p("r18.pth"), "rb").read()
    open(p("truncated.pth"), "wb").write(data[: len(data) // 2])
    torch.save(random_model("resnet50", 50).state_dict(), p("r50.pth"))
    torch.save(r18.double().state_dict(), p("r18_double.pth"))
    missing = r18.float().state_dict()
    del missing["bn1.running_var"]
    del missing["layer4.1.conv2.weight"]
    missing["extra.weight"] = torch.zeros(3)
    torch.save(missing, p("r18_missing.pth"))
    torch.save({"conv1.weight": torch.zeros(2), "lr": 0.5}, p("opcode.pth"))
    torch.save({"conv1.weight": torch.zeros(2), "hook": os.getcwd}, p("global.pth"))
    torch.save({"w": torch.zeros(2)}, p("legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({"conv1.weight": torch.zeros(2, 3, 3, 3)}, p("small.pth"))
    # The size tuple (2, 3, 3, 3) becomes (9, 3, 3, 3): 243 elements over a 54-element storage.
    def grow(name, b):
        if name.endswith("/data.pkl"):
            old = b"(K\x02K\x03K\x03K\x03t"
            assert b.count(old) == 1
            return b.replace(old, b"(K\x09K\x03K\x03K\x03t")
        return b
    rewrite_zip(p("small.pth"), p("oversize.pth"), grow)
    # data.pkl cut in the middle.
    rewrite_zip(p("r18.pth"), p("pickle_cut.pth"),
                lambda name, b: b[: len(b) // 2] if name.endswith("/data.pkl") else b)
    # The storage record loses bytes: 54 floats declared, 10 stored.
    rewrite_zip(p("small.pth"), p("short_storage.pth"),
                lambda name, b: b[:40] if name.endswith("/data/0") else b)


if __name__ == "__main__":
    if sys.argv[1] == "parity":
        parity(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), "--script" in sys.argv)
    elif sys.argv[1] == "bad":
        bad(sys.argv[2])
    else:
        sys.exit("usage: make_reference.py parity|bad ...")
