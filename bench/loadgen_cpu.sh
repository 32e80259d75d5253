#!/usr/bin/env bash
# The client CPU `spillway loadgen` spends per request (issue 12 §1): user + system time
# from getrusage over the run (startup and payload encoding excluded), divided by the
# requests sent, as summary.json's client_cpu_us_per_request gives it.
#
# The server is bench/kserve_upstream running the Fashion-MNIST model in process, so no
# worker processes compete with the client for the machine's cores; then `spillway
# serve` with a static pool of one local worker, as a user would load it. Each answer is
# checked against the model (--check-model), as a careful user would run it.
#
# Usage: bench/loadgen_cpu.sh [BUILD_DIR] [RUNS]   (default build-rel, 3; Release)
# Prints one line per run; figures go to bench/README.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-rel}
runs=${2:-3}
secs=${SW_BENCH_SECONDS:-5}
cmake --build "$build" -j"$(nproc)" --target spillway kserve_upstream default_model >/dev/null
spillway=$PWD/$build/spillway
upstream=$PWD/$build/bench/kserve_upstream
model=$PWD/$build/fashion-mlp.pb
trace=$PWD/data/traces/twitter-2021-08/twitter_day00_per_second.txt

source bench/lib.sh  # the script runs from the repository root (cd above)
bench_scratch sw_loadgen_cpu


# One loadgen run: prints the mode, answers/s and CPU per request.
measure() {
    local label=$1
    shift
    "$spillway" loadgen --no-progress --check-model "$model" --out "$tmp/out" "$@" >"$tmp/lg.txt" || {
        cat "$tmp/lg.txt" >&2
        exit 1
    }
    python3 - "$label" "$tmp/out/summary.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[2]))
print(f"{sys.argv[1]:<44} {s['requests']:>7} requests  {s['answered_ok_rps']:8.0f} answers/s"
      f"  {s['client_cpu_us_per_request']:6.1f} us CPU/request  p50 {s['latency_ms']['p50']:.2f} ms")
EOF
}

run_all() {
    local url=$1 name=$2
    for _ in $(seq "$runs"); do
        measure "$name closed loop, 1 connection" --url "$url" --concurrency 1 --duration "$secs"
        measure "$name closed loop, 8 connections" --url "$url" --concurrency 8 --duration "$secs"
        measure "$name closed loop, 64 connections" --url "$url" --concurrency 64 --duration "$secs"
        # Twitter day 0 from 10:00, 60 s of it at 16x: ~1,000 requests/s, open loop.
        measure "$name open loop, Twitter day 0 x16" --url "$url" --trace "$trace" \
            --start 36000 --duration 60 --speedup 16
    done
}

"$upstream" --listen 127.0.0.1:0 --model "$model" >"$tmp/upstream.log" 2>&1 &
pids+=($!)
run_all "http://127.0.0.1:$(wait_listen "$tmp/upstream.log")" "kserve_upstream"

cat >"$tmp/policy.yaml" <<EOF
slo: {latency_ms: 50, target: 0.99}
instance_types:
  - name: cpu
    price_per_hour_usd: 0.085
    provider: local
    boot_s: {dist: constant, mean: 0.1}
    worker_threads: 1
    max_batch: 16
    batch_latency_ms: [0.09, 0.16, 0.24, 0.24, 0.24, 0.32, 0.45, 0.45, 0.45, 0.48, 0.48, 0.48, 0.48, 0.48, 0.48, 0.48]
faas: {enabled: false}
policy: {name: static, static: {pool: [{type: cpu, count: 1}]}}
serve: {listen: 127.0.0.1:0, worker_listen: 127.0.0.1:0, model_path: $model}
EOF
"$spillway" serve --config "$tmp/policy.yaml" --out "$tmp/serve-out" >"$tmp/serve.log" 2>&1 &
pids+=($!)
port=$(wait_listen "$tmp/serve.log")
sleep 2 # the worker dials in
run_all "http://127.0.0.1:$port" "serve, 1 local worker"
