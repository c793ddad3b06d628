#!/usr/bin/python3
"""End-to-end orchestration tests: the real coordinator, journal and results store driven through
`fersweep synthetic-run` (no-op / sleeping tasks) alone and under mpirun.

Usage: test_orchestration.py FERSWEEP_EXE SCRATCH_DIR [test-name-substring]
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import h5py

from harness import run_tests

EXE, SCRATCH = sys.argv[1], sys.argv[2]
ONLY = sys.argv[3] if len(sys.argv) > 3 else ""
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
ENV.pop("FERSWEEP_INJECT_FAILURE", None)


def fresh(name):
    d = os.path.join(SCRATCH, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(SCRATCH, exist_ok=True)
    return d


def synthetic(out, *args, ranks=1, env=None, **popen):
    cmd = [EXE, "synthetic-run", "--out", out, "--no-progress", *map(str, args)]
    if ranks > 1:
        cmd = ["mpirun", "--oversubscribe", "-np", str(ranks), *cmd]
    return subprocess.Popen(cmd, env=env or ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def finish(proc, timeout=120):
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def journal(out):
    """Valid records of a journal, checking each line's checksum independently of fersweep."""
    import hashlib
    records = []
    path = os.path.join(out, "journal.jsonl")
    if not os.path.exists(path):
        return records
    with open(path, "rb") as f:
        for line in f.read().split(b"\n"):
            if not line:
                continue
            body, _, check = line.rpartition(b"\t")
            if hashlib.sha256(body).hexdigest()[:16].encode() == check:
                records.append(json.loads(body))
    return records


def done_ids(out):
    ids = [r["id"] for r in journal(out) if r["status"] == "done"]
    return ids


def wait_for_records(out, count, timeout=60):
    """Waits until the journal holds `count` records (the run is under way)."""
    end = time.time() + timeout
    while time.time() < end:
        if len(journal(out)) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"no {count} journal records after {timeout} s")


def assert_results_open(out):
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        assert f.attrs["format"] == "fersweep-results-1", dict(f.attrs)
        return int(f["results"].attrs["synthetic_tasks_done"])


def test_same_results_alone_and_with_2_and_4_ranks():
    outs = {}
    for ranks in (1, 2, 4):
        out = fresh(f"ranks{ranks}")
        rc, log = finish(synthetic(out, "--tasks", 300, ranks=ranks))
        assert rc == 0, log
        ids = done_ids(out)
        assert len(ids) == 300 and len(set(ids)) == 300, (ranks, len(ids), len(set(ids)))
        values = {r["id"]: r["result"]["value"] for r in journal(out)}
        outs[ranks] = values
        assert assert_results_open(out) == 300
    assert outs[1] == outs[2] == outs[4]


def test_kill_9_of_the_coordinator_then_resume_loses_nothing_and_repeats_nothing():
    out = fresh("kill9")
    rng = random.Random(7)
    kills = 0
    for attempt in range(10):
        records = len(journal(out))
        p = synthetic(out, "--tasks", 400, "--sleep-ms", 20)
        # Killed at a random moment once it runs tasks (its start-up alone, under the
        # sanitizers, takes seconds: a kill by the clock would only ever hit that). The journal
        # shows them in batches (about 16 tasks of 10 ms here): 20 ms tasks keep every attempt
        # well inside the 400.
        while p.poll() is None and len(journal(out)) <= records:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.communicate()
        if os.path.exists(os.path.join(out, "results.h5")):
            assert_results_open(out)  # readable after every kill
        done = len(set(done_ids(out)))
        assert done == len(done_ids(out)), "a task appears twice in the journal"
    assert done < 400, "every run finished before its kill"
    # A kill in the middle of an event's write leaves a line without its newline: made certain
    # here. The resume drops it, so every line of the event log parses.
    events = os.path.join(out, "events.jsonl")
    with open(events, "rb") as f:
        data = f.read()
    torn = len(data) - (data.rfind(b"\n") + 1) + 26  # a kill above may have torn it already
    with open(events, "ab") as f:
        f.write(b'{"event":"done","id":"torn')
    rc, log = finish(synthetic(out, "--tasks", 400, "--sleep-ms", 20))
    assert rc == 0, log
    assert f"dropped a torn last line ({torn} bytes)" in log, log
    with open(events, "rb") as f:
        parsed = [json.loads(line) for line in f.read().split(b"\n") if line]
    assert parsed[-1]["event"] == "finished", parsed[-1]
    ids = done_ids(out)
    assert len(ids) == 400 and len(set(ids)) == 400, (len(ids), len(set(ids)))
    assert assert_results_open(out) == 400
    assert kills >= 8, kills


def test_kill_9_under_mpirun_then_resume():
    out = fresh("kill9mpi")
    for delay in (0.0, 0.5):
        records = len(journal(out))
        p = synthetic(out, "--tasks", 600, "--sleep-ms", 20, ranks=3, start_new_session=True)
        while p.poll() is None and len(journal(out)) <= records:  # under way, not starting up
            time.sleep(0.01)
        time.sleep(delay)
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
    assert len(done_ids(out)) < 600, "the run finished before its kill"
    rc, log = finish(synthetic(out, "--tasks", 600, "--sleep-ms", 20, ranks=3))
    assert rc == 0, log
    ids = done_ids(out)
    assert len(ids) == 600 and len(set(ids)) == 600, (len(ids), len(set(ids)))


def test_sigterm_exits_3_and_resume_completes():
    out = fresh("sigterm")
    p = synthetic(out, "--tasks", 400, "--sleep-ms", 10)
    wait_for_records(out, 5)
    p.send_signal(signal.SIGTERM)
    rc, log = finish(p)
    assert rc == 3, (rc, log)
    assert "run the same command again to resume" in log, log
    partial = len(done_ids(out))
    assert 0 < partial < 400, partial
    assert assert_results_open(out) == partial
    rc, log = finish(synthetic(out, "--tasks", 400, "--sleep-ms", 10))
    assert rc == 0, log
    assert f"resuming: {partial} of 400 tasks already done" in log, log
    assert len(set(done_ids(out))) == 400


def test_sigusr1_under_mpirun_drains_and_exits_3():
    out = fresh("sigusr1_mpi")
    p = synthetic(out, "--tasks", 2000, "--sleep-ms", 10, ranks=3, start_new_session=True)
    wait_for_records(out, 20)
    p.send_signal(signal.SIGUSR1)  # mpirun forwards SIGUSR1 to every rank
    rc, log = finish(p)
    assert rc == 3, (rc, log)
    assert "run the same command again to resume" in log, log
    rc, log = finish(synthetic(out, "--tasks", 2000, "--sleep-ms", 10, ranks=3))
    assert rc == 0, log
    assert len(set(done_ids(out))) == 2000


def test_grace_period_bounds_the_exit_time_of_long_tasks():
    # Tasks of 60 s; a stop 1 s in with --grace 2: the running tasks are abandoned at their next
    # cancellation point once the grace is over, nothing is journaled for them, and they run again
    # on resume. Under mpirun the workers are told to stop and MPI ends cleanly (no MPI_Abort).
    for ranks in (1, 3):
        out = fresh(f"grace{ranks}")
        start = time.monotonic()
        p = synthetic(out, "--tasks", 4, "--sleep-ms", 60000, "--grace", 2, ranks=ranks,
                      start_new_session=True)
        # Signalled only once every rank catches it: a rank still starting (ASan, a loaded CI
        # machine) would die of SIGUSR1's default action instead of draining.
        wait_for_handlers(p.pid, ranks, signal.SIGTERM if ranks == 1 else signal.SIGUSR1)
        time.sleep(1)  # the coordinator hands out the first tasks
        signaled = time.monotonic()
        p.send_signal(signal.SIGTERM if ranks == 1 else signal.SIGUSR1)
        rc, log = finish(p, timeout=60)
        took = time.monotonic() - signaled
        assert rc == 3, (ranks, rc, log)
        assert took < 2 + 8, (ranks, took, log)  # the grace, a 10 ms step, start-up slack
        assert "abandoned at the end of the grace period; it runs again on resume" in log, log
        assert "MPI_ABORT" not in log and "Killed" not in log, (ranks, log)
        assert not journal(out), (ranks, journal(out))
        print(f"ranks {ranks}: exit 3 {took:.1f} s after the signal ({time.monotonic() - start:.1f} s in all)")


def catches(pid, sig):
    """Whether process `pid` has a handler for `sig` (the SigCgt mask in /proc/PID/status)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            mask = next(int(l.split()[1], 16) for l in f if l.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return False
    return bool(mask >> (int(sig) - 1) & 1)


def wait_for_handlers(launcher, ranks, sig, timeout=60):
    """Waits until fersweep (ranks == 1) or each of the launcher's `ranks` ranks catches `sig`."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            pids = [launcher] if ranks == 1 else [rank_pid(launcher, r) for r in range(ranks)]
        except AssertionError:
            pids = []
        if pids and all(catches(pid, sig) for pid in pids):
            return
        time.sleep(0.05)
    raise AssertionError(f"not every rank catches signal {int(sig)} after {timeout} s")


def rank_pid(launcher, rank):
    """The pid of MPI rank `rank` among the launcher's child processes."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if ppid == launcher and f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            return int(entry)
    raise AssertionError(f"no rank {rank} under pid {launcher}")


def test_a_worker_stopped_on_its_own_hands_its_tasks_to_the_others():
    # SIGTERM to worker rank 1 only (not to mpirun): after its grace period it abandons its
    # task; the coordinator gives it to rank 2, stops rank 1 and the run still completes.
    out = fresh("worker_alone")
    p = synthetic(out, "--tasks", 40, "--sleep-ms", 400, "--grace", 1, ranks=3,
                  start_new_session=True)
    wait_for_records(out, 2)
    os.kill(rank_pid(p.pid, 1), signal.SIGTERM)
    rc, log = finish(p, timeout=120)
    assert rc == 0, (rc, log)
    assert "rank 1 was stopped by a signal of its own" in log, log
    ids = done_ids(out)
    assert len(ids) == 40 and len(set(ids)) == 40, len(ids)
    ranks = {r["rank"] for r in journal(out)}
    assert 2 in ranks, ranks


def test_sigterm_to_mpirun_kills_the_job_but_nothing_acknowledged_is_lost():
    out = fresh("sigterm_mpi")
    p = synthetic(out, "--tasks", 2000, "--sleep-ms", 10, ranks=3, start_new_session=True)
    wait_for_records(out, 20)
    p.send_signal(signal.SIGTERM)  # mpirun kills every rank within a second
    finish(p)
    partial = done_ids(out)
    assert len(partial) == len(set(partial)) and partial, len(partial)
    rc, log = finish(synthetic(out, "--tasks", 2000, "--sleep-ms", 10, ranks=3))
    assert rc == 0, log
    ids = done_ids(out)
    assert len(ids) == 2000 and len(set(ids)) == 2000, (len(ids), len(set(ids)))


def test_failing_tasks_are_retried_reported_and_exit_4():
    out = fresh("failing")
    rc, log = finish(synthetic(out, "--tasks", 50, "--fail-every", 10, "--retries", 2))
    assert rc == 4, (rc, log)
    assert "5 of 50 tasks failed after all retries" in log, log
    failed = [r for r in journal(out) if r["status"] == "failed"]
    assert len(failed) == 15, len(failed)  # 5 tasks x 3 attempts
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        assert f["failures"].attrs["count"] == 15
        assert sum(f["failures/final"][()]) == 5
        assert "synthetic failure" in f["failures/message"].asstr()[0]
    st = subprocess.run([EXE, "status", out], env=ENV, capture_output=True, text=True)
    assert st.returncode == 0, st.stderr
    assert "tasks failed for good: 5" in st.stdout, st.stdout
    # "updated" is the time the last task finished, not when run.json was written.
    last = max(r["finished"] for r in journal(out))
    with open(os.path.join(out, "run.json")) as f:
        created = json.load(f)["created"]
    assert f"started / updated: {created} / {last}\n" in st.stdout, st.stdout


def test_transient_failure_is_retried_and_recovers():
    out = fresh("transient")
    env = dict(ENV, FERSWEEP_INJECT_FAILURE="synthetic:1")  # each task fails once
    rc, log = finish(synthetic(out, "--tasks", 20, env=env))
    assert rc == 0, (rc, log)
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        assert f["failures"].attrs["count"] == 20
        assert all(f["failures/recovered"][()] == 1)


def test_second_coordinator_on_the_same_directory_is_refused():
    out = fresh("locked")
    first = synthetic(out, "--tasks", 100, "--sleep-ms", 30)
    time.sleep(0.8)
    rc, log = finish(synthetic(out, "--tasks", 100, "--sleep-ms", 30))
    assert rc == 1, (rc, log)
    assert "in use by another fersweep coordinator (pid" in log, log
    rc, log = finish(first)
    assert rc == 0, log


def test_a_different_sweep_in_the_same_directory_is_refused_unless_force_new():
    out = fresh("identity")
    rc, log = finish(synthetic(out, "--tasks", 10))
    assert rc == 0, log
    rc, log = finish(synthetic(out, "--tasks", 11))
    assert rc == 2, (rc, log)
    assert "holds a different sweep" in log and "synthetic_tasks: was 10, now 11" in log, log
    assert len(done_ids(out)) == 10  # nothing touched
    rc, log = finish(synthetic(out, "--tasks", 11, "--force-new"))
    assert rc == 0, log
    assert len(done_ids(out)) == 11


if __name__ == "__main__":
    sys.exit(run_tests(globals(), ONLY))
