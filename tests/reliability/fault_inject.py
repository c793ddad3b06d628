#!/usr/bin/python3
"""Fault injection on a real (small) sweep: `fersweep run` on a generated dataset with random
ResNet-18 weights, interrupted again and again, must end with exactly the results of an
uninterrupted run.

  kill_coordinator  SIGKILL to the coordinator (alone) at N random moments, resuming each time
  kill_worker       SIGKILL to a worker rank under mpirun -np 3 at N random moments (mpirun then
                    ends the job), resuming each time
  sigterm_extract   SIGTERM while the first extraction runs: exit 3, then a clean resume
  read_only         the results directory made read-only mid-run (as an unprivileged user when
                    run as root, since root ignores permissions): clear error naming the path,
                    journal intact, resumable once writable again
  disk_full         the file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) lowered mid-run so writes
                    fail with EFBIG as on a full disk: same expectations

After every kill: results.h5 (when present) opens with h5py, no task is done twice in the journal,
and every task the journal held just before the kill is still there. At the end: the
results.h5 metrics (/results, /curves, /extracts results) and the cached features are
bit-identical to the uninterrupted run's.

Usage: fault_inject.py FERSWEEP_EXE SCRATCH_DIR [--kills N] [--seed S] [--only NAME,...]
"""
import argparse
import hashlib
import json
import os
import pwd
import random
import resource
import shutil
import signal
import subprocess
import sys
import time

import cv2
import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "run"))
from harness import run_tests  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("exe")
ap.add_argument("scratch")
ap.add_argument("--kills", type=int, default=10, help="SIGKILLs per kill scenario (at least)")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--only", default="", help="comma-separated scenario names")
ARGS = ap.parse_args()
EXE, SCRATCH = os.path.abspath(ARGS.exe), os.path.abspath(ARGS.scratch)
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
ENV.pop("FERSWEEP_INJECT_FAILURE", None)
DATA = os.path.join(SCRATCH, "data")
SWEEP = os.path.join(SCRATCH, "sweep.yaml")
REFERENCE = os.path.join(SCRATCH, "reference")
RNG = random.Random(ARGS.seed)
REFERENCE_SECONDS = [5.0]  # how long the uninterrupted run took: kills land within it

# 6 feature sets (3 seeds of random weights x 2 normalisations) and 90 training tasks.
SWEEP_TEXT = """
name: faults
dataset: {root: data, image_size: 32}
weights: random:1
cv: {folds: 3, seed: 1}
train: {head: linear, optimizer: adam, batch_size: 16, standardize: true}
grid:
  backbone: [resnet18]
  weights: ["random:1", "random:2", "random:3"]
  normalize: [imagenet, minmax]
  lr: [0.03, 0.01, 0.003, 0.001, 0.0003]
  epochs: [10, 60]
run: {grace_period: 30}
"""


def log(msg):
    print(msg, flush=True)


def setup():
    shutil.rmtree(SCRATCH, ignore_errors=True)
    os.makedirs(SCRATCH)
    os.chmod(SCRATCH, 0o777)  # the unprivileged read-only scenario writes here too
    rng = np.random.RandomState(3)
    for c in ("Angry", "Happy", "Sad"):
        os.makedirs(os.path.join(DATA, c))
        for i in range(24):
            img = (rng.rand(40, 40, 3) * 255).astype("uint8")
            img[:, :, "AHS".index(c[0])] //= 2  # some class signal
            assert cv2.imwrite(os.path.join(DATA, c, f"{i:02d}.png"), img)
    for d, dirs, files in os.walk(SCRATCH):
        for n in dirs:
            os.chmod(os.path.join(d, n), 0o777)
        for n in files:
            os.chmod(os.path.join(d, n), 0o666)
    open(SWEEP, "w").write(SWEEP_TEXT)
    os.chmod(SWEEP, 0o666)


def command(out, ranks=1):
    # Without the shared feature cache: every scenario must really extract (so kills land in
    # extraction too) and write the same results as the reference run (no cache columns).
    cmd = [EXE, "run", SWEEP, "--out", out, "--no-progress", "--threads", "1", "--no-feature-cache"]
    return ["mpirun", "--oversubscribe", "-np", str(ranks), *cmd] if ranks > 1 else cmd


def start(out, ranks=1, **popen):
    return subprocess.Popen(command(out, ranks), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", start_new_session=True, **popen)


def finish(p, timeout=600):
    out, _ = p.communicate(timeout=timeout)
    return p.returncode, out


def journal(out):
    """Valid journal records, each line's checksum checked independently of fersweep; a torn last
    line (a write cut short) is not a record."""
    records = []
    path = os.path.join(out, "journal.jsonl")
    if not os.path.exists(path):
        return records
    for line in open(path, "rb").read().split(b"\n"):
        body, _, check = line.rpartition(b"\t")
        if line and hashlib.sha256(body).hexdigest()[:16].encode() == check:
            records.append(json.loads(body))
    return records


def done_ids(out):
    return [r["id"] for r in journal(out) if r["status"] == "done"]


def check_after_interruption(out, acknowledged):
    """results.h5 opens, no task is done twice, nothing acknowledged before was lost."""
    path = os.path.join(out, "results.h5")
    if os.path.exists(path):
        with h5py.File(path, "r") as f:
            assert f.attrs["format"] == "fersweep-results-1"
    ids = done_ids(out)
    assert len(ids) == len(set(ids)), f"a task is done twice in the journal: {len(ids)} vs {len(set(ids))}"
    lost = set(acknowledged) - set(ids)
    assert not lost, f"{len(lost)} acknowledged task(s) vanished from the journal: {sorted(lost)[:3]}"
    return set(ids)


def metrics(out):
    """Everything computed, keyed independently of row order: training rows by (task, epoch),
    curves by task, extraction results by task, feature files by name."""
    m = {}
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        g = f["results"]
        tids = g["task_id"].asstr()[()]
        epochs = g["epoch"][()]
        for col in ("accuracy", "macro_f1", "test_loss", "per_class_recall", "confusion", "n_train", "n_test"):
            values = g[col][()]
            for i, (t, e) in enumerate(zip(tids, epochs)):
                m[("results", col, t, int(e))] = np.asarray(values[i]).tobytes()
        for name in f["curves"]:
            d = f["curves"][name]
            if d.ndim and d.shape[0] == len(f["curves"]["task_id"]) and name != "task_id":
                ct = f["curves"]["task_id"].asstr()[()]
                for i, t in enumerate(ct):
                    m[("curves", name, t)] = np.asarray(d[i]).tobytes()
        e = f["extracts"]
        et = e["task_id"].asstr()[()]
        for name in e:
            if name.startswith("result_") and "second" not in name:  # timings differ by nature
                for i, t in enumerate(et):
                    m[("extracts", name, t)] = np.asarray(e[name][i]).tobytes()
    feats = os.path.join(out, "cache", "features")
    for name in sorted(os.listdir(feats)):
        with h5py.File(os.path.join(feats, name), "r") as f:
            m[("features", name)] = f["features"][()].tobytes() + f["labels"][()].tobytes()
    return m


def assert_same_as_reference(out):
    ref, got = metrics(REFERENCE), metrics(out)
    assert set(ref) == set(got), f"different entries: {sorted(set(ref) ^ set(got))[:5]}"
    diff = [k for k in ref if ref[k] != got[k]]
    assert not diff, f"{len(diff)} values differ from the uninterrupted run, e.g. {diff[:3]}"
    ids = done_ids(out)
    assert len(ids) == len(set(ids)) == len(set(done_ids(REFERENCE))), (len(ids), len(set(ids)))
    return len(ref)


def worker_pids(mpirun_pid):
    """fersweep ranks >= 1 started by this mpirun (read from /proc)."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == mpirun_pid and any(v.startswith(b"OMPI_COMM_WORLD_RANK=") and v != b"OMPI_COMM_WORLD_RANK=0"
                                      for v in env):
            pids.append(int(pid))
    return pids


def kill_loop(name, ranks, victim):
    out = os.path.join(SCRATCH, name)
    kills = rounds = 0
    acknowledged = set()
    while kills < ARGS.kills:
        rounds += 1
        assert rounds < 4 * ARGS.kills, f"only {kills} kills in {rounds} rounds: the run ends too soon"
        p = start(out, ranks)
        time.sleep(RNG.uniform(0.3, 0.9 * REFERENCE_SECONDS[0]))
        target = victim(p)
        if p.poll() is None and target:
            acknowledged = set(done_ids(out))  # read before the kill: must all survive it
            os.kill(target, signal.SIGKILL)
            kills += 1
        rc, text = finish(p)
        if rc == 0:  # finished before the kill: start over so every kill lands in a live run
            log(f"  round {rounds}: finished before the kill; starting over")
            shutil.rmtree(out)
            acknowledged = set()
            continue
        assert rc != 0
        acknowledged = check_after_interruption(out, acknowledged)
        log(f"  kill {kills}: {len(acknowledged)} tasks done so far")
    rc, text = finish(start(out, ranks))
    assert rc == 0, text
    check_after_interruption(out, acknowledged)
    n = assert_same_as_reference(out)
    log(f"  {kills} kills, then resumed: {n} values bit-identical to the uninterrupted run")


def test_0_reference_run():
    setup()
    t0 = time.time()
    rc, text = finish(start(REFERENCE))
    assert rc == 0, text
    REFERENCE_SECONDS[0] = max(2.0, time.time() - t0)
    log(f"  reference: {len(done_ids(REFERENCE))} tasks in {REFERENCE_SECONDS[0]:.1f} s")


def test_kill_coordinator():
    kill_loop("kill_coordinator", 1, lambda p: p.pid)


def test_kill_worker():
    def victim(p):
        pids = worker_pids(p.pid)
        return RNG.choice(pids) if pids else None
    kill_loop("kill_worker", 3, victim)


def wait_for(predicate, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_sigterm_extract():
    out = os.path.join(SCRATCH, "sigterm_extract")
    p = start(out)
    # The first tasks are extractions (no face variant, so no crops); the executor logs "using
    # random weights" as it builds the backbone for one: SIGTERM right then.
    seen = []
    for line in p.stdout:
        seen.append(line)
        if "using random weights" in line:
            p.send_signal(signal.SIGTERM)
            break
    else:
        raise AssertionError("no extraction started:\n" + "".join(seen))
    rc, text = finish(p)
    text = "".join(seen) + text
    assert rc == 3, (rc, text)
    assert "run the same command again to resume" in text, text
    done = check_after_interruption(out, set())
    rc, text = finish(start(out))
    assert rc == 0, text
    assert f"resuming: {len(done)} of" in text, text
    assert_same_as_reference(out)


def drop_privileges():
    """preexec_fn: run as nobody when we are root, so that permissions apply."""
    if os.getuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.setgroups([])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)


def interrupted_then_resumed(name, break_it, repair, expect_in_message, unprivileged=False,
                             fsize_limit=None, min_done=3, ready=None):
    out = os.path.join(SCRATCH, name)
    os.makedirs(out)
    os.chmod(out, 0o777)

    def preexec():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so writes fail with EFBIG instead
        if fsize_limit:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))
        if unprivileged:
            drop_privileges()

    p = start(out, preexec_fn=preexec)
    # `ready(out)`: the moment to break the run, if not after `min_done` journaled tasks.
    progressed = (lambda: ready(out)) if ready else (lambda: len(done_ids(out)) >= min_done)
    assert wait_for(progressed), "the run made no progress"
    before = set(done_ids(out))
    break_it(out, p.pid)
    rc, text = finish(p)
    after = check_after_interruption(out, before)
    repair(out)
    assert rc not in (0, 3) and rc > 0, (rc, text)
    assert any(s in text for s in expect_in_message), text
    assert out in text, f"the message does not name the results directory\n{text}"
    for bad in ("INTERNAL ASSERT", "HDF5-DIAG", "terminate called", "Segmentation"):
        assert bad not in text, text
    log(f"  exit {rc}: " + next(line for line in text.splitlines() if line.startswith("error")))
    rc, text = finish(start(out))
    assert rc == 0, text
    if after:  # with nothing journaled yet the rerun is a plain start in the same directory
        assert f"resuming: {len(after)} of" in text, text
    assert_same_as_reference(out)


def test_read_only():
    if os.getuid() == 0:
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            log("  SKIP: running as root without a 'nobody' user; chmod does not stop root")
            return

    def make_read_only(out, pid):
        for d, dirs, files in os.walk(out):
            for n in files:
                os.chmod(os.path.join(d, n), 0o444)
            os.chmod(d, 0o555)

    def writable(out):
        for d, dirs, files in os.walk(out):
            os.chmod(d, 0o777)
            for n in files:
                os.chmod(os.path.join(d, n), 0o666)

    # Broken when the first feature file is written: early enough that the rest of the run
    # (5 extractions, 90 trainings: a second or more) cannot finish before the chmod; journaled
    # records only show when the journal is flushed, so waiting for them could be too late.
    def first_features(out):
        folder = os.path.join(out, "cache", "features")
        return os.path.isdir(folder) and any(n.endswith(".h5") for n in os.listdir(folder))

    interrupted_then_resumed("read_only", make_read_only, writable, ("Permission denied", "permission denied"),
                             unprivileged=True, ready=first_features)


def test_disk_full():
    # A file-size limit from the start that the run's small files fit under but no feature file
    # (about 120 KB) does: the first feature file write fails with EFBIG, as on a full disk, with
    # the run under way (run.json, lock, journal, events written; extractions dispatched). Set at
    # the start, not after some progress: a whole run can finish between two polls of the journal.
    limit = 100_000

    def wait_for_failure(out, pid):
        pass

    interrupted_then_resumed("disk_full", wait_for_failure, lambda out: None,
                             ("File too large", "EFBIG", "No space"), fsize_limit=limit, min_done=0)


def test_disk_full_journal():
    # A file-size limit from the start that every feature file (about 125 KB) fits under but the
    # journal (about 230 KB when complete) outgrows two thirds into the run: an append is cut
    # short (a torn last line) and the run must stop cleanly with the journal still valid.
    limit = 160_000

    def wait_for_failure(out, pid):
        pass

    interrupted_then_resumed("disk_full_journal", wait_for_failure, lambda out: None,
                             ("File too large", "EFBIG", "No space"), fsize_limit=limit, min_done=0)


if __name__ == "__main__":
    only = [s for s in ARGS.only.split(",") if s]
    namespace = {k: v for k, v in globals().items()
                 if k.startswith("test_") and (not only or k == "test_0_reference_run" or any(o in k for o in only))}
    sys.exit(run_tests(namespace))
