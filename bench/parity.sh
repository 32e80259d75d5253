#!/usr/bin/env bash
# Live against simulated (issue 12 §2): profiles the emulated model through a real worker,
# replays one trace window live (`spillway serve` with local workers and faas-local, loaded
# by `spillway loadgen`) and with `spillway simulate` (same policy, seed and window), and
# prints one table of both with the ratio live / simulated, and the targets.
#
# Usage: bench/parity.sh [--build DIR] [--out DIR] [--policy FILE] [--no-profile]
#                        [--start S] [--duration S] [--bounds full|loose]
#   --build DIR    a built tree with spillway and fashion-mlp.pb (default build-rel,
#                  configured Release and built here when missing)
#   --out DIR      where the runs go (default bench/results/parity); it ends with
#                  policy-set.txt, profile.yaml, live/, loadgen/, sim/ and table.txt
#   --no-profile   use the batch profile in the policy file instead of measuring it
#   --start, --duration   the window (default: the policy's trace.start_s/duration_s)
#   --bounds       which bounds decide the exit status: `full` (default) prints the
#                  issue's targets and exits 0; `loose` (the test suite's short run) exits
#                  1 when live and simulated diverge badly: cost ratio outside [0.5, 2],
#                  SLO attainment or spill share more than 20 points apart, launches more
#                  than 3 apart per type.
#
# The workers and the functions sleep SW_DEBUG_COMPUTE_DELAY_MS (default 5+8) after each
# forward pass, standing in for a heavier model (see bench/parity.yaml). Live and
# simulated replay the same arrivals at the same speed (no --speedup): loadgen's schedule
# is simulate's, and serve's core runs on the wall clock. Everything listens on
# 127.0.0.1 port 0 and is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=build-rel out=bench/results/parity policy=bench/parity.yaml profile=1 bounds=full
window=()
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --policy) policy=$2; shift 2 ;;
    --no-profile) profile=0; shift ;;
    --start | --duration) window+=("$1" "$2"); shift 2 ;;
    --bounds) bounds=$2; shift 2 ;;
    *) echo "parity.sh: unknown option $1 (see the head of bench/parity.sh)" >&2; exit 2 ;;
    esac
done
case $bounds in full | loose) ;; *) echo "parity.sh: --bounds full|loose" >&2; exit 2 ;; esac
export SW_DEBUG_COMPUTE_DELAY_MS=${SW_DEBUG_COMPUTE_DELAY_MS:-5+8}

if [ ! -x "$build/spillway" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j"$(nproc)" --target spillway default_model >/dev/null
fi
spillway=$(cd "$build" && pwd)/spillway
model=$(cd "$build" && pwd)/fashion-mlp.pb
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)

serve_pid=
cleanup() {
    if [ -n "$serve_pid" ]; then kill -TERM "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

# 1. The batch profile, measured as serve's driver times a batch, under the same delay.
sets=()
max_batch=$(sed -n 's/^ *max_batch: *\([0-9]*\).*/\1/p' "$policy" | head -1)
if [ "$profile" = 1 ]; then
    echo "parity: profiling (SW_DEBUG_COMPUTE_DELAY_MS=$SW_DEBUG_COMPUTE_DELAY_MS, max batch $max_batch) ..." >&2
    "$spillway" profile --model "$model" --out "$out/profile.yaml" --max-batch "$max_batch" \
        --via-worker 2>"$out/profile.log"
    values=$(sed -n 's/^batch_latency_ms: *\[\(.*\)\]/\1/p' "$out/profile.yaml" | tr -d ' ')
    i=0
    for v in ${values//,/ }; do
        sets+=(--set "instance_types[0].batch_latency_ms[$i]=$v")
        i=$((i + 1))
    done
    # The service-time noise, from the same profile: the median over batch sizes of
    # p99 / p50, read as a lognormal's (p99 / median = exp(2.326 sigma)).
    cv=$(python3 -c 'import math, re, statistics, sys
text = open(sys.argv[1]).read()
p99 = [float(x) for x in re.search(r"p99s, as measured.*?\[([^]]*)\]", text, re.S).group(1).split(",")]
p50 = [float(x) for x in re.search(r"^batch_latency_ms: *\[([^]]*)\]", text, re.M).group(1).split(",")]
ratio = max(1.0001, statistics.median(b / a for a, b in zip(p50, p99)))
sigma = math.log(ratio) / 2.326
print("%.3f" % math.sqrt(math.exp(sigma * sigma) - 1))' "$out/profile.yaml")
    sets+=(--set "instance_types[0].service_variation.cv=$cv")
fi
printf '%s\n' "${sets[@]}" >"$out/policy-set.txt"

# 2. Live: serve, then loadgen on the same window as soon as serve listens.
"$spillway" serve --config "$policy" "${sets[@]}" --model "$model" --out "$out/live" \
    --decisions >"$out/serve.log" 2>&1 &
serve_pid=$!
url=
for _ in $(seq 300); do
    url=$(sed -n 's/^spillway serve: listening on \(http:[^,]*\),.*/\1/p' "$out/serve.log" 2>/dev/null || true)
    [ -n "$url" ] && break
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "parity: serve did not start:" >&2
    cat "$out/serve.log" >&2
    exit 1
fi
# The window opens with the first worker ready, as simulate's does when given the same
# lead: otherwise both start by spilling to cold functions while it boots, and how fast
# 16 cold starts at once go on a shared machine decides the first launches (see
# bench/README.md).
until grep -q 'serve: ready worker=' "$out/serve.log" 2>/dev/null; do
    kill -0 "$serve_pid" 2>/dev/null || { echo "parity: serve exited:" >&2; cat "$out/serve.log" >&2; exit 1; }
    sleep 0.1
done
echo "parity: live run on $url ..." >&2
lg_status=0
"$spillway" loadgen --url "$url" --config "$policy" "${window[@]}" --check-model "$model" \
    --no-progress --out "$out/loadgen" >"$out/loadgen.txt" 2>&1 || lg_status=$?
kill -TERM "$serve_pid"
wait "$serve_pid" || { echo "parity: serve exited with an error:" >&2; tail -20 "$out/serve.log" >&2; exit 1; }
serve_pid=
if [ "$lg_status" -gt 1 ]; then
    echo "parity: loadgen failed (status $lg_status):" >&2
    cat "$out/loadgen.txt" >&2
    exit 1
fi

# 3. Simulated: the same policy, profile, seed and window. Serve's clock starts when it
# does and the load came later (its first worker's boot, loadgen's start-up): simulate is
# told that lead, so both cores see the arrivals at the same times of their intervals,
# with their first workers booted as long before.
lead=$(sed -n 's/.*serve: first call core_time_s=\([0-9.]*\).*/\1/p' "$out/serve.log" | head -1)
lead=${lead:-0}
echo "parity: the load came ${lead} s after serve started; simulating with --lead $lead ..." >&2
"$spillway" simulate --config "$policy" "${sets[@]}" "${window[@]}" --lead "$lead" \
    --decisions --out "$out/sim" >"$out/sim.txt"
echo "$lead" >"$out/lead.txt"

# 4. The table.
python3 "$src/bench/parity_table.py" "$out" "$bounds" | tee "$out/table.txt"
