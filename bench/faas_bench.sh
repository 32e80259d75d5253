#!/usr/bin/env bash
# The FaaS path on loopback (issue 5): Invoke client -> spillway faas-local -> warm
# `spillway function` environments, with the two anchors measured in the same run (raw
# sockets, bare libcurl). Release build. Usage: bench/faas_bench.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
build=build-bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSW_SANITIZE=OFF -DSW_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target spillway faas_bench default_model >/dev/null
run() { # label, faas_bench args...
  local label=$1; shift
  echo "== $label"
  "$build/bench/faas_bench" --spillway "$build/spillway" --seconds "$seconds" "$@" 2>&1 |
    grep -av ' INFO '
}
for k in 1 2 4 8; do
  run "small payload (4-input model), $k in flight over $k environments" --tiny --envs "$k" \
      --in-flight "$k"
done
run "small payload, 4 in flight, no log tail" --tiny --envs 4 --in-flight 4 --no-log-tail
run "Fashion-MNIST, one 784-float row, 4 in flight" --model "$build/fashion-mlp.pb" --envs 4 \
    --in-flight 4
