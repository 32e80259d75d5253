#!/bin/sh
# A stand-in for `spillway worker` in tests/backends/test_provider.c. It takes its
# behaviour from $FAKE_MODE, then records its arguments (one a line) and its environment
# in $FAKE_OUT/worker-ID.args and .env, ID being its --id, after it says it started on
# stdout (the provider's per-worker log). The .args file appears last and whole, so a test
# that sees it knows the mode is in force and the log line is written.
#   sleep (default)  wait for a signal (the process becomes `sleep`, same pid)
#   ignore-term      the same, with SIGTERM ignored: only SIGKILL ends it
#   exit:N           exit with status N at once
out=${FAKE_OUT:?FAKE_OUT is not set}
id=unknown
prev=
for a in "$@"; do
    [ "$prev" = "--id" ] && id=$a
    prev=$a
done
mode=${FAKE_MODE:-sleep}
[ "$mode" = ignore-term ] && trap '' TERM
echo "fake worker $id started"
env > "$out/worker-$id.env"
printf '%s\n' "$0" "$@" > "$out/worker-$id.args.tmp"
mv "$out/worker-$id.args.tmp" "$out/worker-$id.args"
case $mode in
exit:*) exit "${mode#exit:}" ;;
esac
exec sleep 600
