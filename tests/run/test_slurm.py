#!/usr/bin/python3
"""The Slurm job scripts against a real Slurm: Debian's munge, slurmctld and slurmd started here on
private ports (one node, `SlurmdParameters=config_overrides` for 4 CPUs; `cred_expire=10`, so a
requeued job becomes eligible after 10 s instead of Slurm's default 120, and `sched_interval=2`,
so it starts then rather than at the next of the scheduler's 60-second passes). Each script is submitted
with its GPU lines overridden for this CPU-only node (`--gpus-per-node=0 --nodes=1 --ntasks=3`),
signalled in the middle of the sweep the way Slurm signals at its time limit (srun: SIGTERM to
every task; mpirun: SIGUSR1 to the batch script), and must exit 3, requeue itself, resume in the
requeued run and end with results bit-identical to an uninterrupted run. The srun script runs a
sweep of head tasks, signalled between tasks; the mpirun script a fine-tuning sweep, signalled in
the middle of its one long task: the requeued job continues that task from its checkpoint.
(One sweep per script rather than both on each: every job costs about a minute of Slurm's
requeue and start-up, most of it idle.)

Exits 77 (ctest: skipped) with the reason when Slurm cannot run here (not root, packages missing,
daemons not starting).

Usage: test_slurm.py FERSWEEP_EXE SCRATCH_DIR [test-name-substring]
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import h5py

from harness import run_tests

EXE, SCRATCH = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ONLY = sys.argv[3] if len(sys.argv) > 3 else ""
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKIP = 77
CONF = os.path.join(SCRATCH, "slurm", "slurm.conf")
BIN = os.path.join(SCRATCH, "bin")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           SLURM_CONF=CONF, PATH=BIN + ":" + os.environ["PATH"])
ENV.pop("FERSWEEP_INJECT_FAILURE", None)
for k in [k for k in ENV if k.startswith("SLURM_") and k != "SLURM_CONF"]:
    ENV.pop(k)  # a test run inside a Slurm job must not take that job's settings
SWEEP = """name: slurm
dataset: {root: demo, image_size: 96}
variants: {original: {}}
weights: random:3
cv: {folds: 5, seed: 1}
train: {batch_size: 64}
grid:
  backbone: [resnet18, resnet34]
  epochs: [50, 100]
  lr: [0.01, 0.001, 0.0001]
  fold: all
"""
# One fine-tuning task, checkpointed at every epoch end; a short grace period so that the signal
# stops it mid-task (its state saved at the epoch end after the signal).
FINETUNE_SWEEP = """name: slurm-finetune
dataset: {root: demo, image_size: 32}
variants: {original: {}}
weights: random:3
cv: {folds: 2, seed: 1}
train: {batch_size: 32, finetune: layer4}
run: {finetune_threads: 1, checkpoint_every: 0, grace_period: 1}
grid:
  backbone: [resnet18]
  epochs: [1, 3]
  fold: [0]
"""


def sh(cmd, **kw):
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, **kw)


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def free_port():
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def start_cluster():
    """munged (unless one answers already), slurmctld and slurmd with a private configuration."""
    if os.geteuid() != 0:
        skip("the Slurm daemons are started as root here, and this test is not root")
    for tool in ("munged", "slurmctld", "slurmd", "sbatch", "scontrol", "squeue", "scancel"):
        if not shutil.which(tool, path=ENV["PATH"] + ":/usr/sbin:/sbin"):
            skip(f"{tool} is missing (scripts/install-deps installs slurmctld, slurmd, slurm-client, munge)")
    d = os.path.dirname(CONF)
    for sub in ("state", "spool", "log"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    host = socket.gethostname()
    # slurmd takes the node's name from the short host name.
    node = host.split(".")[0]
    with open(CONF, "w") as f:
        f.write(f"""ClusterName=fersweep-test
SlurmctldHost={node}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName={node} CPUs=4 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    if subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode != 0:
        os.makedirs("/run/munge", exist_ok=True)
        p = sh(["munged", "--force", f"--pid-file={d}/munged.pid"])
        if p.returncode != 0:
            skip(f"munged does not start: {p.stderr.strip()}")
    for daemon in ("slurmctld", "slurmd"):
        p = sh([daemon])
        if p.returncode != 0:
            skip(f"{daemon} does not start: {p.stderr.strip()}")
    deadline = time.time() + 30
    while time.time() < deadline:
        p = sh(["sinfo", "-h", "-o", "%t"])
        if p.returncode == 0 and p.stdout.strip() == "idle":
            break
        time.sleep(0.5)
    else:
        skip("the Slurm node did not become idle within 30 s: " + sh(["sinfo"]).stdout)
    # A cluster that starts but cannot launch a PMIx step here (no PMIx, name resolution, ...) is
    # this machine's limit, not the scripts' fault.
    try:
        p = sh(["srun", "--mpi=pmix", "-n", "1", "-t", "1", "true"], timeout=60)
    except subprocess.TimeoutExpired:
        skip("this Slurm cannot run a one-task PMIx step within 60 s")
    if p.returncode != 0:
        skip("this Slurm cannot run a one-task PMIx step: " + (p.stderr or p.stdout).strip())


def stop_cluster():
    for pid_file in ("slurmd.pid", "slurmctld.pid", "munged.pid"):  # munged.pid: if started here
        try:
            os.kill(int(open(os.path.join(os.path.dirname(CONF), pid_file)).read()), signal.SIGTERM)
        except (OSError, ValueError):
            pass


def job_field(job, field):
    p = sh(["scontrol", "show", "job", job])
    m = re.search(rf"\b{field}=(\S+)", p.stdout)
    return m.group(1) if m else ""


def wait_for(what, test, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if test():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def finished(job, log):
    state = job_field(job, "JobState")
    assert state in ("PENDING", "RUNNING", "COMPLETING", "COMPLETED"), (state, open(log).read())
    return state == "COMPLETED"


def results(out):
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        g = f["results"]
        return {(t, int(e)): (a, c.tobytes()) for t, e, a, c in
                zip(g["task_id"].asstr()[()], g["epoch"][()], g["accuracy"][()], g["confusion"][()])}


def start_reference(sweep):
    """The same sweep uninterrupted, alone (one thread, as each job rank), started in the
    background: it runs while the job waits on Slurm. Its output goes to a file (a pipe nobody
    reads until the end could fill and stall it)."""
    out = os.path.join(SCRATCH, "reference-" + sweep)
    shutil.rmtree(out, ignore_errors=True)
    cmd = [EXE, "run", sweep, "--out", out, "--no-progress", "--threads", "1", "--no-feature-cache"]
    with open(out + ".log", "w") as log:
        return out, subprocess.Popen(cmd, env=ENV, cwd=SCRATCH, stdout=log,
                                     stderr=subprocess.STDOUT)


def reference_results(started):
    out, proc = started
    proc.wait(timeout=900)
    assert proc.returncode == 0, open(out + ".log").read()
    return results(out)


def interrupted_job(script, signal_args, sweep="sweep.yaml"):
    """Submits `script`, signals it once its first task is journaled (a fine-tuning sweep: once
    its task has a checkpoint), and checks the requeue, the resume and the results."""
    name = os.path.basename(script).split(".")[0] + "-" + sweep.split(".")[0]
    out = os.path.join(SCRATCH, "out-" + name)
    log = os.path.join(SCRATCH, name + ".log")
    shutil.rmtree(out, ignore_errors=True)
    env_list = f"ALL,SWEEP={sweep},OUT={out},FERSWEEP_FEATURE_CACHE={SCRATCH}/cache-{name}"
    p = sh(["sbatch", "--parsable", "--gpus-per-node=0", "--nodes=1", "--ntasks=3",
            "--cpus-per-task=1", f"--export={env_list}", f"--output={log}", script], cwd=SCRATCH)
    assert p.returncode == 0, p.stdout + p.stderr
    job = p.stdout.strip().split(";")[0]
    reference = start_reference(sweep)
    try:
        check_job(job, signal_args, log, out, sweep)
        assert results(out) == reference_results(reference)
    finally:
        reference[1].kill()  # a failed check must not leave it running into the next test
        reference[1].wait()


def check_job(job, signal_args, log, out, sweep):
    """Signals the job once under way, then follows its requeue and resume to the end."""
    journal = os.path.join(out, "journal.jsonl")
    wait_for("the first journaled task",
             lambda: os.path.exists(journal) and os.path.getsize(journal) > 0)
    checkpoints = os.path.join(out, "checkpoints")
    if sweep != "sweep.yaml":
        wait_for("a checkpoint", lambda: os.path.isdir(checkpoints) and any(
            n.endswith(".ckpt") for n in os.listdir(checkpoints)))
    p = sh(["scancel", *signal_args, job])
    assert p.returncode == 0, p.stderr
    # The script saw exit 3 and requeued the job: pending again, one restart.
    wait_for("the requeue", lambda: job_field(job, "Restarts") == "1"
             and job_field(job, "JobState") == "PENDING")
    text = open(log).read()
    assert "fersweep: interrupted (exit 3); requeueing job" in text, text
    first = re.search(r"(\d+) of (\d+) tasks done \(0 from earlier runs\)", text)
    assert first and int(first.group(1)) < int(first.group(2)), text
    # No one resubmits: Slurm starts the requeued job again by itself.
    wait_for("the resumed job", lambda: finished(job, log))
    text = open(log).read()
    resumed = re.search(r"(\d+) of (\d+) tasks done \((\d+) from earlier runs\)", text.split("requeueing")[-1])
    assert resumed and resumed.group(1) == resumed.group(2) and int(resumed.group(3)) == int(first.group(1)), text
    if sweep != "sweep.yaml":
        assert re.search(r"task \w+ continues from its checkpoint at epoch \d+", text.split("requeueing")[-1]), text
        assert not os.listdir(checkpoints), os.listdir(checkpoints)


def test_srun_script_requeues_on_sigterm_and_resumes():
    interrupted_job(os.path.join(ROOT, "jobs", "slurm-srun.sbatch"), ["--signal=TERM"])


def test_mpirun_script_requeues_on_usr1_and_its_fine_tuning_task_continues_from_its_checkpoint():
    interrupted_job(os.path.join(ROOT, "jobs", "slurm-mpirun.sbatch"), ["--batch", "--signal=USR1"],
                    sweep="finetune.yaml")


if __name__ == "__main__":
    shutil.rmtree(SCRATCH, ignore_errors=True)
    os.makedirs(BIN)
    os.symlink(EXE, os.path.join(BIN, "fersweep"))  # the scripts call `fersweep`
    start_cluster()
    try:
        p = sh([EXE, "make-demo-data", "demo", "--seed", "5"], cwd=SCRATCH)
        assert p.returncode == 0, p.stdout + p.stderr
        with open(os.path.join(SCRATCH, "sweep.yaml"), "w") as f:
            f.write(SWEEP)
        with open(os.path.join(SCRATCH, "finetune.yaml"), "w") as f:
            f.write(FINETUNE_SWEEP)
        rc = run_tests(globals(), ONLY, ordered=False)
    finally:
        stop_cluster()
    sys.exit(rc)
