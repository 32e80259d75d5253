#!/usr/bin/env bash
# mark against faas-only, the best static pool, reactive, the oracle and the clairvoyant
# bound on every trace of data/traces and on the synthetic shapes of sim/synth.h (issue 14).
# Prints the table of bench/README.md and writes OUT_DIR/baselines.json.
# Usage: bench/baselines.sh [OUT_DIR]   (default: bench/results/baselines)
#        BUILD=DIR bench/baselines.sh ...   uses an existing Release build
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results/baselines}
build=${BUILD:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSW_SANITIZE=OFF -DSW_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target spillway synth_trace >/dev/null
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
exec python3 bench/baselines.py --bin "$build/spillway" --synth "$build/bench/synth_trace" \
  --out "$out"
