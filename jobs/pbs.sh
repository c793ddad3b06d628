#!/usr/bin/env bash
# PBS Pro / Torque: 2 nodes with 4 GPUs each, one worker per GPU plus the coordinator.
#PBS -N fersweep
#PBS -l select=2:ncpus=20:ngpus=4:mpiprocs=5
#PBS -l walltime=04:00:00
#PBS -j oe
set -euo pipefail
cd "${PBS_O_WORKDIR:-.}"
sweep=${SWEEP:-sweeps/paper.yaml}
out=${OUT:-runs/paper}
# Open MPI reads the node list from PBS ($PBS_NODEFILE). 10 slots: 1 coordinator + 8 workers used.
# Before the walltime, send SIGUSR1 to mpirun (e.g. `qsig -s USR1 JOBID`) for a graceful stop.
exec mpirun -np 9 --bind-to none fersweep run "$sweep" --out "$out" --threads 4
