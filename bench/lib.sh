# Sourced by the benchmark scripts that start servers: a scratch folder, the processes
# to stop on exit, and waiting for a server's "listening on" line.

# Makes $tmp (mktemp -d /tmp/PREFIX.XXXXXX) and an EXIT trap that stops every PID a
# script appends to `pids` and removes $tmp.
bench_scratch() { # PREFIX
    tmp=$(mktemp -d "/tmp/$1.XXXXXX")
    pids=()
    trap bench_cleanup EXIT
}

bench_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}

# Waits up to 20 s for a line "[spillway serve: ]listening on [http://]127.0.0.1:PORT" in
# a file; prints the port, or the file and exits 1.
wait_listen() { # FILE
    for _ in $(seq 200); do
        if grep -Eq "^(spillway serve: )?listening on" "$1" 2>/dev/null; then
            sed -En 's/^(spillway serve: )?listening on [a-z:/]*127\.0\.0\.1:([0-9]+).*/\2/p' "$1" | head -1
            return
        fi
        sleep 0.1
    done
    echo "$0: no 'listening on' in $1:" >&2
    cat "$1" >&2
    exit 1
}
