#!/usr/bin/env bash
# Simulator throughput and memory: `mark` over the Twitter trace, release build.
# Prints simulated requests per wall-clock second and peak RSS (both from summary.json,
# measured by the simulator itself) for 1 day and 15 days, to show that memory does not
# grow with the trace's length. Usage: bench/sim_throughput.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
build=build-bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSW_SANITIZE=OFF -DSW_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target spillway >/dev/null
traces=data/traces/twitter-2021-08
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

field() { sed -n "s/.*\"$1\": \([0-9.e+-]*\).*/\1/p" "$2" | head -1; }

run() { # label, extra args...
  local label=$1; shift
  for i in $(seq "$repeats"); do
    "$build/spillway" simulate --config config/example.yaml --policy mark --no-progress \
      --out "$out/$label" "$@" >/dev/null
    printf '%-22s run %d: %12s requests  %6.2f M req/s  peak RSS %5.1f MB  wall %6.2f s\n' \
      "$label" "$i" "$(field requests "$out/$label/summary.json")" \
      "$(echo "$(field requests_per_s "$out/$label/summary.json") / 1000000" | bc -l)" \
      "$(field peak_rss_mb "$out/$label/summary.json")" "$(field wall_s "$out/$label/summary.json")"
  done
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
run day0-per-second --trace "$traces/twitter_day00_per_second.txt"
run days0-14-per-minute --trace "$traces/twitter_per_minute_days00-14.csv"
run days0-14-x4 --trace "$traces/twitter_per_minute_days00-14.csv" --rate-scale 4
