#!/usr/bin/env bash
# Installs dependencies, builds with AddressSanitizer and UndefinedBehaviorSanitizer and
# warnings as errors, and runs every test. Any sanitizer report fails the run. Then builds
# the libFuzzer targets with clang in their own directory and runs each briefly on its
# seed corpus (tests/fuzz/run.sh): SW_FUZZ_SECONDS per target (default 30, as issue 13
# asks; 0 skips the step), SW_FUZZ_JOBS at a time (default 2). CI's whole run took 7.2
# minutes with 10 s; 17 targets two at a time add about 3 minutes more at 30 s
# (bench/README.md, Fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
build=${SW_TEST_BUILD_DIR:-build-test}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSW_SANITIZE=ON -DSW_WERROR=ON \
      -DSW_BUILD_TESTS=ON -DSW_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$build" && ctest --output-on-failure --timeout 900)

fuzz_seconds=${SW_FUZZ_SECONDS:-30}
if [ "$fuzz_seconds" != 0 ]; then
  SW_FUZZ_BUILD_DIR=${SW_FUZZ_BUILD_DIR:-build-fuzz} ./tests/fuzz/run.sh -t "$fuzz_seconds" \
    -j "${SW_FUZZ_JOBS:-2}"
fi
