#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz in their own clang build directory and runs
# each on its seed corpus, failing on any crash, leak, timeout or out-of-memory.
#
#   tests/fuzz/run.sh [-t SECONDS] [-n RUNS] [-j JOBS] [-p PROCS] [TARGET...]
#
#   -t SECONDS  time per target (default $SW_FUZZ_SECONDS, else 30)
#   -n RUNS     executions per target (the long campaign: -n 10000000); with -t too, a
#               target stops at whichever comes first, else -n alone sets no time limit
#   -j JOBS     targets run at once (default $SW_FUZZ_JOBS, else 2)
#   -p PROCS    processes per target on one corpus (default 1); -n RUNS is then split
#               among them, each logs to logs/TARGET.pN.log, and the executions are summed
#   TARGET      fuzz_* names or suffixes (config_load, http, ...); default: every target
#
# Environment: SW_FUZZ_BUILD_DIR (default build-fuzz), SW_FUZZ_WORK (new corpus units,
# logs and crash artifacts; default $SW_FUZZ_BUILD_DIR/fuzz-work), SW_FUZZ_NO_BUILD=1 to
# run the targets as built (several runs at once must not build at once). The committed seeds in
# tests/fuzz/corpus/ are only read; what a run finds goes to the work directory, and
# `-merge=1` can fold it into the seeds (bench/README.md, Fuzzing).
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=""
jobs=${SW_FUZZ_JOBS:-2}
runs=""
procs=1
while getopts "t:n:j:p:" opt; do
  case $opt in
    t) seconds=$OPTARG ;;
    n) runs=$OPTARG ;;
    j) jobs=$OPTARG ;;
    p) procs=$OPTARG ;;
    *) sed -n '2,19p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ -z "$runs" ] && seconds=${seconds:-${SW_FUZZ_SECONDS:-30}}

build=${SW_FUZZ_BUILD_DIR:-build-fuzz}
work=${SW_FUZZ_WORK:-$build/fuzz-work}
# A separate build directory: the flags apply to every library, and the gcc build
# (build-test) must stay as it is.
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=${SW_FUZZ_CC:-clang} cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSW_FUZZ=ON \
    -DSW_BUILD_TESTS=OFF -DSW_BUILD_BENCH=OFF >/dev/null
fi
[ "${SW_FUZZ_NO_BUILD:-0}" = 1 ] || cmake --build "$build" --target fuzz -j"$(nproc)"

all=$(cd "$build/tests/fuzz" && ls fuzz_* | grep -v make_seeds | sort)
targets=()
if [ $# -eq 0 ]; then
  targets=($all)
else
  for t in "$@"; do
    t=fuzz_${t#fuzz_}
    grep -qx "$t" <<<"$all" || { echo "run.sh: no target $t (have: $(echo $all))" >&2; exit 2; }
    targets+=("$t")
  done
fi

dict_of() {
  case $1 in
    fuzz_config_*) echo config ;;
    fuzz_trace_*) echo trace ;;
    fuzz_kserve_*) echo kserve ;;
    fuzz_frame_*) echo frame ;;
    fuzz_http) echo http ;;
    fuzz_lambda_response) echo lambda ;;
    fuzz_aws_creds) echo aws_creds ;;
  esac
}

mkdir -p "$work/logs" "$work/artifacts"
# The same sanitizer settings as the unit tests (scripts/test.sh), whatever the caller had.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_one() {
  local t=$1 d
  d=$(dict_of "$t")
  mkdir -p "$work/corpus/$t"
  # -timeout: one input over 10 s is a hang. -rss_limit_mb / -malloc_limit_mb: an input
  # may not make the process grow past 2 GiB, nor ask for 1 GiB in one allocation.
  local args=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1
              -artifact_prefix="$work/artifacts/$t-")
  [ -n "$runs" ] && args+=(-runs="$(( (runs + procs - 1) / procs ))")
  [ -n "$seconds" ] && args+=(-max_total_time="$seconds")
  [ -n "$d" ] && args+=(-dict="tests/fuzz/dict/$d.dict")
  # frame_worker restarts the worker thread (and it its compute thread) within an input,
  # and libFuzzer's leak check after an input can stop the world while that thread is in
  # pthread_create: it then named three buffers held only in the worker's stack frame
  # (freed by worker_deinit; the input run alone leaks nothing). The per-input check is
  # off for it, as libFuzzer turns it off itself after a while; LeakSanitizer still checks
  # the whole process at exit.
  [ "$t" = fuzz_frame_worker ] && args+=(-detect_leaks=0)
  # config_set applies one --set per line, and each accepted line is a check of the
  # whole config: left to grow to libFuzzer's 4 KB, its inputs reached 2.6 KB (~60 lines)
  # and the rate fell to 190/s. 1 KB still holds 30 or more assignments in a row, more
  # than a command line carries, at 1.4 times the rate. (ClusterFuzz varies -max_len
  # the same way; its first 1.8 million inputs ran uncapped: bench/README.md.)
  [ "$t" = fuzz_config_set ] && args+=(-max_len=1024)
  # Several processes share the target's work corpus: libFuzzer reloads it now and then,
  # so each picks up what the others found (how the 10-million campaigns use both cores).
  local logs=() pids=() i failed=0
  for ((i = 1; i <= procs; i++)); do
    if [ "$procs" -eq 1 ]; then logs+=("$work/logs/$t.log"); else logs+=("$work/logs/$t.p$i.log"); fi
    "$build/tests/fuzz/$t" "${args[@]}" "$work/corpus/$t" "tests/fuzz/corpus/$t" \
      >"${logs[-1]}" 2>&1 &
    pids+=($!)
  done
  local rcs=()
  for i in "${!pids[@]}"; do
    rcs[$i]=0
    wait "${pids[$i]}" || { rcs[$i]=$?; failed=$((failed + 1)); }
  done
  if [ "$failed" -eq 0 ]; then
    local execs
    execs=$(grep -h '^stat::number_of_executed_units:' "${logs[@]}" | awk '{n += $2} END {print n + 0}')
    local how=""
    [ "$procs" -gt 1 ] && how=" in $procs processes"
    echo "ok    $t  $execs executions$how, $(grep -E '^#[0-9]+' "${logs[0]}" | tail -1 | sed 's/  */ /g')"
    return 0
  fi
  local log
  for i in "${!logs[@]}"; do
    [ "${rcs[$i]}" -eq 0 ] && continue
    log=${logs[$i]}
    echo "FAIL  $t  (log: $log)"
    # What the target said before it stopped (its own message, the sanitizer's report
    # head), the artifact's name, and the input itself as libFuzzer's Base64 line: on a
    # CI machine the log is gone after the run, and the input is what reproduces it.
    # libFuzzer's seed is printed too: with it and the same corpus, -seed=N replays the
    # run's mutations when the input alone does not reproduce (state kept between inputs).
    grep -m1 '^INFO: Seed:' "$log" | sed 's/^/      /'
    grep -vE '^(#[0-9]|INFO:|MS:|Running|Executed|[[:space:]]+#[0-9]|[[:space:]]+NEW_FUNC|0x|[[:space:]]*$)' \
      "$log" | cut -c1-600 | head -16 | sed 's/^/      /'
  done
  return 1
}
export -f run_one dict_of
export build work seconds runs procs

each="$jobs at a time"
[ "$procs" -gt 1 ] && each+=", $procs processes each"
echo "fuzz: ${#targets[@]} targets, ${runs:+$runs runs }${seconds:+$seconds s }each, $each"
# This run's own summary: several runs may share one work directory.
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
start=$(date +%s)
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}' | tee "$summary" || true
passed=$(grep -c '^ok ' "$summary" || true)
failed=$((${#targets[@]} - passed))
echo "fuzz: took $(( $(date +%s) - start )) s"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
