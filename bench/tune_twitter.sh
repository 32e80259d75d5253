#!/usr/bin/env bash
# `spillway tune` on the Twitter per-minute trace (issue 14, section 4): fits `last` on
# days 0-10, searches the default keys of mark on days 0-10 and reports the choice
# against the defaults on days 11-14, as README ("Tuning a policy") and bench/README.md
# show it. Prints tune's table; the runs, tuned.yaml and tune.json stay in OUT_DIR.
# Usage: bench/tune_twitter.sh [OUT_DIR]   (default: bench/results/tune-twitter)
#        BUILD=DIR JOBS=N bench/tune_twitter.sh ...   an existing Release build, N at a time
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results/tune-twitter}
build=${BUILD:-build-bench}
trace=data/traces/twitter-2021-08/twitter_per_minute_days00-14.csv
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSW_SANITIZE=OFF -DSW_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target spillway >/dev/null
mkdir -p "$out"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
# The forecaster sees days 0-10 only (minutes [0, 15840)), as in bench/baselines.py.
"$build/spillway" predict fit --config config/example.yaml --trace "$trace" \
  --trace-format counts-per-minute --interval 60 --horizon 5 --quantile 0.98 --model last \
  --train-until 15840 --save "$out/last.pb" >/dev/null
printf 'predictor:\n  name: last\n  model_path: last.pb\n' >"$out/twitter.yaml"
exec "$build/spillway" tune --config "$out/twitter.yaml" --trace "$trace" \
  --trace-format counts-per-minute --train-until 950400 --jobs "${JOBS:-$(nproc)}" \
  --out "$out/tune"
