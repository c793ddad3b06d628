# Shared by the bench/run drivers: paths, mpirun flags, small helpers.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${BUILD:-$ROOT/build/release}"
FERSWEEP="${FERSWEEP:-$BUILD/src/fersweep}"
FARM="${FARM:-$BUILD/bench/run/bench_run_farm}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# --bind-to none: with 2 ranks mpirun binds each to one core, so a worker could not use the rest.
MPIRUN=(mpirun --oversubscribe --bind-to none)
WORK="$(mktemp -d /tmp/fersweep-bench-run.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
for exe in "$FERSWEEP" "$FARM"; do
  [[ -x "$exe" ]] || { echo "missing $exe: build first (cmake --build $BUILD)" >&2; exit 2; }
done

# json_field FILE KEY: one number from a --stats file.
json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
# median of the arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
