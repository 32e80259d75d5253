#!/usr/bin/env bash
# The frontend against nginx (issue 12 §3), in one run on one machine, wrk the client of
# both, the same pinning:
#   added latency at one connection: wrk -> serve -> worker minus the worker's compute,
#       against wrk -> nginx proxy_pass -> keep-alive upstream minus wrk -> upstream;
#   throughput at 32 connections: serve with one worker against nginx with one worker
#       process, both in front of the same kind of backend;
#   memory: serve's peak RSS with 10,000 open connections and with 100,000 rows queued.
# The model is the tests' tiny one (3 inputs, 2 outputs), so that the frontends, not the
# model, are timed. The upstream (bench/kserve_upstream.c) answers with that model from
# the same HTTP layer serve uses, so both paths end in the same work.
#
# Usage: bench/frontend_vs_nginx.sh [BUILD_DIR]   (default build-rel; Release)
# SW_BENCH_ROUNDS=N measures the one-connection paths N times in turn (medians reported);
# SW_BENCH_OTHER=/path/to/spillway adds another build's serve (say, before a change) to
# each round, under the same load.
# Needs wrk, nginx (nginx-light is enough) and python3. Prints a table; figures go to
# bench/README.md by hand. Pinning: the frontend (serve or nginx) on CPU 0; the backend
# (worker or upstream) and wrk on CPU 1. On a machine with more cores, set SW_CPU_FRONT,
# SW_CPU_BACK and SW_CPU_CLIENT.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-rel}
front=${SW_CPU_FRONT:-0}
back=${SW_CPU_BACK:-1}
client=${SW_CPU_CLIENT:-1}
secs=${SW_BENCH_SECONDS:-10}
for tool in wrk nginx python3 taskset; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is not installed (apt-get install wrk nginx-light python3 util-linux)" >&2; exit 2; }
done
cmake --build "$build" -j"$(nproc)" --target spillway kserve_upstream >/dev/null
spillway=$PWD/$build/spillway
upstream=$PWD/$build/bench/kserve_upstream
[ -x "$upstream" ] || upstream=$PWD/$build/kserve_upstream

source bench/lib.sh  # the script runs from the repository root (cd above)
bench_scratch sw_vs_nginx
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

"$upstream" --write-tiny-model "$tmp/tiny.pb"
body='{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}'
cat >"$tmp/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
EOF

# A free TCP port on 127.0.0.1 (nginx cannot be told port 0 and report it back).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }


# Runs wrk pinned; prints "p50_us p99_us rps".
run_wrk() { # URL CONNECTIONS
    taskset -c "$client" wrk -t1 -c"$2" -d"${secs}s" --latency -s "$tmp/post.lua" "$1" >"$tmp/wrk.out"
    python3 - "$tmp/wrk.out" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
def us(v):
    n, u = float(re.match(r"[\d.]+", v).group()), re.sub(r"[\d.]+", "", v)
    return n * {"us": 1, "ms": 1e3, "s": 1e6}[u]
p = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", t, re.M))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
if errs or "Socket errors" in t:
    sys.exit("wrk saw errors:\n" + t)
print(f"{us(p['50']):.1f} {us(p['99']):.1f} {rps:.0f}")
EOF
}

# ---- the upstream alone, and nginx in front of it ----
up_port=$(free_port)
taskset -c "$back" "$upstream" --listen "127.0.0.1:$up_port" --model "$tmp/tiny.pb" >"$tmp/up.out" 2>"$tmp/up.err" &
pids+=($!)
wait_listen "$tmp/up.out" >/dev/null
ng_port=$(free_port)
mkdir -p "$tmp/ng"
cat >"$tmp/ng/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
error_log $tmp/ng/error.log warn;
pid $tmp/ng/nginx.pid;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $tmp/ng/body;
  proxy_temp_path $tmp/ng/proxy;
  upstream up { server 127.0.0.1:$up_port; keepalive 64; }
  server {
    listen 127.0.0.1:$ng_port backlog=4096;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
EOF
taskset -c "$front" nginx -c "$tmp/ng/nginx.conf" -p "$tmp/ng" 2>"$tmp/ng/stderr" &
pids+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$ng_port/v2" && break; sleep 0.1; done

url_up="http://127.0.0.1:$up_port/v2/models/tiny/infer"
url_ng="http://127.0.0.1:$ng_port/v2/models/tiny/infer"

# ---- serve with one local worker, pinned like nginx and the upstream ----
# The profile grows linearly with the batch, so the core never holds a request back for
# a fuller batch (waiting does not pay): a request goes to an idle worker at once, and
# batches form from what arrives while the worker is busy, as with Triton's dynamic
# batcher at max_queue_delay 0. With a flat profile the core would, by design, hold a lone
# request until its slack runs out, since a fuller batch is cheaper per request.
cat >"$tmp/policy.yaml" <<EOF
slo: {latency_ms: 1000, target: 0.99}
instance_types:
  - name: tiny
    price_per_hour_usd: 0.085
    provider: local
    boot_s: {dist: constant, mean: 0}
    max_batch: 64
    batch_latency_ms: [$(python3 -c 'print(", ".join(str(round(0.05 * b, 3)) for b in range(1, 65)))')]
faas: {enabled: false}
policy: {name: static, max_queue_delay_ms: 604800000, static: {pool: [{type: tiny, count: 1}]}}
serve:
  model_path: $tmp/tiny.pb
  max_connections: 20000
  request_timeout_ms: 3600000
  client_timeout_s: 3600
EOF
start_serve() { # OUTDIR [ENV...]
    local out=$1; shift
    env "$@" taskset -c "$front" "${serve_bin:-$spillway}" serve --config "$tmp/policy.yaml" \
        --listen 127.0.0.1:0 --worker-listen 127.0.0.1:0 --out "$out" --log-level warn \
        >"$out.stdout" 2>"$out.stderr" &
    serve_pid=$!
    pids+=($serve_pid)
    serve_port=$(wait_listen "$out.stdout")
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$serve_port/v2/health/ready")" = 200 ] && break
        sleep 0.1
    done
    # The worker is serve's child: move it (all its threads) to the backend's CPU.
    for w in $(pgrep -P "$serve_pid" -f 'spillway worker'); do taskset -apc "$back" "$w" >/dev/null; done
}
metric() {
    curl -s -o "$tmp/metrics" "http://127.0.0.1:$serve_port/metrics"
    awk -v m="$1" 'index($0, m) == 1 { print $NF; exit }' "$tmp/metrics"
}

other=${SW_BENCH_OTHER:-}
if [ -n "$other" ]; then
    serve_bin=$other start_serve "$tmp/serve_other"
    other_pid=$serve_pid
    url_other="http://127.0.0.1:$serve_port/v2/models/tiny/infer"
fi
start_serve "$tmp/serve1"
url_sv="http://127.0.0.1:$serve_port/v2/models/tiny/infer"

# ---- one connection: the three paths in turn, SW_BENCH_ROUNDS times (default 1), so that
# on a shared machine each round compares them under the same load; each figure reported
# is the median over rounds, and each round's ratio is printed. Then 32 connections. ----
rounds=${SW_BENCH_ROUNDS:-1}
c0=$(metric 'nv_inference_compute_infer_duration_us{'); n0=$(metric 'nv_inference_exec_count{')
: >"$tmp/rounds"
for _ in $(seq "$rounds"); do
    echo "$(run_wrk "$url_up" 1) $(run_wrk "$url_ng" 1) $(run_wrk "$url_sv" 1)" \
        "$([ -z "$other" ] || run_wrk "$url_other" 1)" >>"$tmp/rounds"
done
if [ -n "$other" ]; then
    kill -TERM "$other_pid"; wait "$other_pid" || true
fi
c1=$(metric 'nv_inference_compute_infer_duration_us{'); n1=$(metric 'nv_inference_exec_count{')
read -r up_p50 up_p99 up_rps1 ng_p50 ng_p99 ng_rps1 sv_p50 sv_p99 sv_rps1 ot_p50 ot_p99 _ < <(python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
print(" ".join(f"{statistics.median(c):.1f}" for c in zip(*rows)))' "$tmp/rounds")
read -r _ _ ng_rps32 < <(run_wrk "$url_ng" 32)
read -r _ _ sv_rps32 < <(run_wrk "$url_sv" 32)
compute=$(python3 -c "print(f'{($c1 - $c0) / max(1, $n1 - $n0):.1f}')")
kill -TERM "$serve_pid"; wait "$serve_pid" || true

# ---- memory: 10,000 idle connections, then 100,000 rows queued ----
hold_conns() { # PORT N: opens N connections, waits for a line on stdin, closes them
    python3 - "$1" "$2" <<'EOF'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port)); socks.append(s)
print("open", flush=True); time.sleep(3)
EOF
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

start_serve "$tmp/serve2"
idle_kb=$(rss_kb "$serve_pid")
hold_conns "$serve_port" 10000 | { read -r _; sleep 1; rss_kb "$serve_pid" >"$tmp/conn_kb"; cat >/dev/null; }
conn_kb=$(cat "$tmp/conn_kb")
ng_idle_kb=$(rss_kb "$(pgrep -P "$(cat "$tmp/ng/nginx.pid")" | head -1)")
hold_conns "$ng_port" 10000 | { read -r _; sleep 1; rss_kb "$(pgrep -P "$(cat "$tmp/ng/nginx.pid")" | head -1)" >"$tmp/ngconn_kb"; cat >/dev/null; }
ng_conn_kb=$(cat "$tmp/ngconn_kb")
kill -TERM "$serve_pid"; wait "$serve_pid" || true

# A worker that takes ten minutes per batch: after its first batch, every row waits.
start_serve "$tmp/serve3" SW_DEBUG_COMPUTE_DELAY_MS=600000
q_idle_kb=$(rss_kb "$serve_pid")
python3 - "$serve_port" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
rows = 64
body = ('{"inputs":[{"name":"input","shape":[%d,3],"datatype":"FP32","data":[%s]}]}'
        % (rows, ",".join(["0.5"] * (3 * rows)))).encode()
req = (b"POST /v2/models/tiny/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       b"Content-Length: %d\r\n\r\n" % len(body)) + body
socks = []
for _ in range(100000 // rows + 1):
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(req); socks.append(s)
time.sleep(3)
EOF
# Calls open, of 64 rows each; the worker holds one batch of at most 64 of them.
queued=$(( $(metric 'nv_inference_pending_request_count{') * 64 ))
q_kb=$(hwm_kb "$serve_pid")
kill -KILL "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
pkill -KILL -f "$tmp/tiny.pb" 2>/dev/null || true

python3 - <<EOF
up50, up99, ng50, ng99, sv50, sv99 = $up_p50, $up_p99, $ng_p50, $ng_p99, $sv_p50, $sv_p99
compute = $compute
ng_add50, ng_add99 = ng50 - up50, ng99 - up99
sv_add50, sv_add99 = sv50 - compute, sv99 - compute
rounds = [list(map(float, l.split())) for l in open("$tmp/rounds") if l.strip()]
if len(rounds) > 1:
    for i, r in enumerate(rounds, 1):
        other = f", other serve {r[9]:.0f}" if len(r) > 9 else ""
        ratio = f"{(r[6] - compute) / (r[3] - r[0]):.2f}"
        if len(r) > 9:
            ratio += f", other {(r[9] - compute) / (r[3] - r[0]):.2f}"
        print(f"round {i}: p50 upstream {r[0]:.0f}, nginx {r[3]:.0f}, serve {r[6]:.0f}{other} µs; "
              f"added serve/nginx {ratio}")
    print(f"medians over {len(rounds)} rounds:")
print("one connection (µs)        p50      p99")
print(f"wrk -> upstream         {up50:8.1f} {up99:8.1f}   ({$up_rps1} req/s)")
print(f"wrk -> nginx -> up      {ng50:8.1f} {ng99:8.1f}   ({$ng_rps1} req/s)")
print(f"wrk -> serve -> worker  {sv50:8.1f} {sv99:8.1f}   ({$sv_rps1} req/s; worker compute {compute} µs/batch)")
print(f"added by nginx          {ng_add50:8.1f} {ng_add99:8.1f}")
print(f"added by serve          {sv_add50:8.1f} {sv_add99:8.1f}   ratio serve/nginx p50 {sv_add50 / ng_add50:.2f}, p99 {sv_add99 / ng_add99:.2f}")
if "$other":
    print(f"other serve ($other), p50 / p99: {${ot_p50:-0}:.1f} / {${ot_p99:-0}:.1f} "
          f"(its compute not subtracted; about the same)")
print(f"32 connections: serve {$sv_rps32} req/s, nginx {$ng_rps32} req/s: serve/nginx {$sv_rps32 / $ng_rps32:.2f}")
print(f"10,000 idle connections: serve RSS {$idle_kb} -> {$conn_kb} kB ({($conn_kb - $idle_kb) * 1024 / 10000:.0f} B/connection); "
      f"nginx worker {$ng_idle_kb} -> {$ng_conn_kb} kB ({($ng_conn_kb - $ng_idle_kb) * 1024 / 10000:.0f} B/connection)")
print(f"{int($queued)} rows open (64 per call): serve peak RSS {$q_idle_kb} -> {$q_kb} kB ({($q_kb - $q_idle_kb) * 1024 / max(1, $queued):.0f} B/queued row)")
EOF
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'); $(nginx -v 2>&1); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2); spillway $(git rev-parse --short HEAD)"
