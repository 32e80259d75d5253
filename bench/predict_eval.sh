#!/usr/bin/env bash
# Forecaster evaluation and its cost effect (issue #3), on the Twitter per-minute trace:
# train on days 0-10, test on days 11-14, per minute, horizon 5, target = max over the next
# 5 minutes, upper quantile 0.98, gap minutes excluded from scoring. Then `mark` on days
# 11-14 with each forecaster fitted on days 0-10, against the oracle and the clairvoyant
# bound, same config.
# Usage: bench/predict_eval.sh [OUT_DIR]   (default: bench/results)
#        COST_ONLY=1 bench/predict_eval.sh ...   skips the accuracy part
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results}
mkdir -p "$out"
build=${BUILD:-build-bench}  # BUILD=DIR: an existing Release build
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSW_SANITIZE=OFF -DSW_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target spillway >/dev/null
bin=$build/spillway
trace=data/traces/twitter-2021-08/twitter_per_minute_days00-14.csv
train_until=15840          # 11 days x 1440 minutes: days 0-10
test_start_s=950400        # day 11, 00:00
models="last seasonal-naive ewma holt-winters ar lstm recent-max"
common=(--trace "$trace" --trace-format counts-per-minute --interval 60 --horizon 5 --quantile 0.98)

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
if [ -z "${COST_ONLY:-}" ]; then
echo "== accuracy: target max over 5 minutes, train days 0-10, test days 11-14"
"$bin" predict eval "${common[@]}" --model "$(echo $models | tr ' ' ',')" \
  --train-until $train_until --target max --json "$out/predict_eval_max.json"
echo "== with calendar features (minute of hour, hour of day; quantiles per minute of the hour)"
"$bin" predict eval "${common[@]}" --model "$(echo $models | tr ' ' ',')" --calendar \
  --train-until $train_until --target max --json "$out/predict_eval_max_calendar.json"
echo "== accuracy: target next minute"
"$bin" predict eval "${common[@]}" --model "$(echo $models | tr ' ' ',')" \
  --train-until $train_until --target next --json "$out/predict_eval_next.json"
fi

echo "== cost: mark on days 11-14 with each forecaster fitted on days 0-10"
printf '%-15s %10s %10s %10s %10s %10s %12s\n' forecaster cost_usd vm_usd faas_usd slo_met% \
  vs_oracle vs_clairvoyant
sim() { # label, extra simulate args...
  local label=$1; shift
  "$bin" simulate --config config/example.yaml --trace "$trace" --trace-format counts-per-minute \
    --start $test_start_s --set predictor.quantile=0.98 --no-progress --out "$out/sim-$label" "$@" \
    >/dev/null
}
field() { python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
sim oracle --policy oracle
oracle=$(field "$out/sim-oracle/summary.json" "s['cost_usd']['total']")
sim clairvoyant --policy clairvoyant
clairvoyant=$(field "$out/sim-clairvoyant/summary.json" "s['cost_usd']['total']")
row() {
  local label=$1 f="$out/sim-$1/summary.json"
  printf '%-15s %10.2f %10.2f %10.2f %10.3f %10.3f %12.3f\n' "$label" \
    "$(field "$f" "s['cost_usd']['total']")" "$(field "$f" "s['cost_usd']['vm']")" \
    "$(field "$f" "s['cost_usd']['faas']")" "$(field "$f" "s['slo_attainment']*100")" \
    "$(field "$f" "s['cost_usd']['total']/$oracle")" \
    "$(field "$f" "s['cost_usd']['total']/$clairvoyant")"
}
for spec in $models ar+calendar lstm+calendar; do
  m=${spec%+calendar}
  extra=(); [ "$spec" != "$m" ] && extra=(--calendar)
  if [ "$m" = recent-max ]; then
    sim "$spec" --policy mark --set predictor.name=$m
  else
    "$bin" predict fit "${common[@]}" --model "$m" "${extra[@]}" --train-until $train_until \
      --save "$out/model-$spec.pb" >/dev/null
    sim "$spec" --policy mark --set predictor.name=$m \
      --set predictor.model_path="$out/model-$spec.pb"
  fi
  row "$spec"
done
row oracle
row clairvoyant
