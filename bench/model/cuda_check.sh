#!/usr/bin/env bash
# Proves the CUDA path on a GPU machine: builds bench_model against the LibTorch bundled with a
# CUDA PyTorch (only the model module; see cuda/CMakeLists.txt) and prints img/s on cuda:0 for
# ResNet-18/34/50, next to that PyTorch's own torchvision eager and optimize_for_inference.
#
#   bench/model/cuda_check.sh [PYTHON]        (default: python3; needs torch with CUDA, torchvision)
#   env: BUILD_DIR (default /tmp/fersweep-cuda-check), BATCHES (default "32 256"), THREADS (4)
# Needs cmake >= 3.18, a C++17 compiler and the headers of fmt, CLI11 and nlohmann_json.
set -euo pipefail
PY=${1:-python3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-/tmp/fersweep-cuda-check}
BATCHES=${BATCHES:-"32 256"}
THREADS=${THREADS:-4}

"$PY" - <<'PYEOF'
import torch, torchvision
assert torch.cuda.is_available(), f"torch {torch.__version__} sees no CUDA device"
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), torchvision {torchvision.__version__}, "
      f"{torch.cuda.get_device_name(0)}")
PYEOF
PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
PYBIN=$("$PY" -c 'import sys; print(sys.executable)')

cmake -S "$ROOT/bench/model/cuda" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$PREFIX" -DFERSWEEP_PYTHON="$PYBIN" ${CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j "$(nproc)"

for b in $BATCHES; do
  echo "== batch $b"
  "$BUILD_DIR/bench_model_cuda" --device cuda --batch "$b" --threads "$THREADS" --reps 10 \
      --rss-images 0
done
echo "== CPU vs CUDA features of the same random weights (batch 4)"
"$BUILD_DIR/bench_model_cuda" --compare-devices --threads "$THREADS"
