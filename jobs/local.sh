#!/usr/bin/env bash
# Run a sweep on this machine under mpirun: 1 coordinator + (N-1) workers.
# Usage: jobs/local.sh SWEEP.yaml OUT_DIR [RANKS=3] [extra fersweep run options...]
set -euo pipefail
sweep=${1:?sweep file}; out=${2:?results directory}; ranks=${3:-3}; shift $(( $# < 3 ? $# : 3 ))
exe=${FERSWEEP:-$(command -v fersweep || echo build/release/src/fersweep)}
# Root needs Open MPI's explicit consent; more ranks than cores need --oversubscribe.
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
exec mpirun --oversubscribe --bind-to none -np "$ranks" "$exe" run "$sweep" --out "$out" "$@"
