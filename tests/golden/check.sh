#!/usr/bin/env bash
# Golden decision logs: each policy replays tests/data/golden/policy.yaml (two minutes of
# the Twitter trace) and its decisions.jsonl must equal the one checked in, byte for byte.
# The determinism tests compare two runs of one build, which cannot see a change of
# behaviour; these logs can. When a change of decisions is meant, regenerate them and
# say why in the commit:
#   tests/golden/check.sh build/spillway . --regen
# Usage: check.sh SPILLWAY_BINARY SOURCE_DIR [--regen]
set -euo pipefail
bin=${1:?usage: check.sh SPILLWAY_BINARY SOURCE_DIR [--regen]}
src=${2:?usage: check.sh SPILLWAY_BINARY SOURCE_DIR [--regen]}
regen=${3:-}
golden=$src/tests/data/golden
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for policy in static reactive faas-only mark oracle; do
    if ! "$bin" simulate --config "$golden/policy.yaml" --set "policy.name=$policy" \
            --decisions --out "$tmp/$policy" >"$tmp/$policy.log" 2>&1; then
        echo "golden: $policy: simulate failed:"; cat "$tmp/$policy.log"; status=1; continue
    fi
    want=$golden/$policy.decisions.jsonl
    if [ "$regen" = --regen ]; then
        cp "$tmp/$policy/decisions.jsonl" "$want"
        echo "golden: wrote $want ($(wc -l <"$want") decisions)"
    elif [ ! -f "$want" ]; then
        echo "golden: $want is missing; run: tests/golden/check.sh $bin $src --regen"; status=1
    elif ! cmp -s "$want" "$tmp/$policy/decisions.jsonl"; then
        echo "golden: $policy decides differently from $want (first differences below)."
        echo "If the change is meant, regenerate: tests/golden/check.sh $bin $src --regen"
        diff "$want" "$tmp/$policy/decisions.jsonl" | head -20
        status=1
    else
        echo "golden: $policy: $(wc -l <"$want") decisions as recorded"
    fi
done
exit $status
