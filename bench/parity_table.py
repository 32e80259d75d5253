#!/usr/bin/env python3
"""The live-against-simulated table of bench/parity.sh.

Usage: parity_table.py OUT_DIR full|loose

Reads OUT_DIR/live (serve's run directory), OUT_DIR/loadgen (the client's summary) and
OUT_DIR/sim (simulate's), prints one row per figure with live, simulated and live /
simulated, then the targets. Exit status 1 when `loose` and a loose bound fails, or when a
run directory is missing or damaged (named), else 0.
"""
import collections
import json
import os
import sys

# Issue 12's targets, and the test suite's loose bounds (bad divergence only).
FULL = {"cost_ratio": (0.9, 1.1), "slo_points": 2.0, "spill_points": 3.0, "launches": 1}
LOOSE = {"cost_ratio": (0.5, 2.0), "slo_points": 20.0, "spill_points": 20.0, "launches": 3}


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"parity_table: {path}: {e}")


def per_type(path, action):
    """Launches or terminations by instance type, from a decision log."""
    counts = collections.Counter()
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                try:
                    d = json.loads(line)
                except ValueError:
                    sys.exit(f"parity_table: {path}:{n}: not a JSON line")
                if d.get("action") == action and d.get("reason") != "adopted":
                    counts[d.get("type", "?")] += 1
    except OSError as e:
        sys.exit(f"parity_table: {path}: {e}")
    return counts


def figures(run_dir):
    s = load(os.path.join(run_dir, "summary.json"))
    req = s["requests"]
    share = lambda k: 100.0 * s[k] / req if req else 0.0
    f = collections.OrderedDict()
    f["requests"] = req
    f["VM share %"] = share("served_vm")
    f["function share %"] = share("served_faas")
    f["spill share %"] = share("spilled")
    f["rejected"] = s["rejected"]
    launches = per_type(os.path.join(run_dir, "decisions.jsonl"), "launch")
    terms = per_type(os.path.join(run_dir, "decisions.jsonl"), "terminate")
    for t in sorted(set(launches) | set(s["cost_usd"]["by_type"])):
        f[f"launches {t}"] = launches[t]
        f[f"terminations {t}"] = terms[t]
    f["peak VMs running"] = s["vm"]["peak_running"]
    f["VM billed s"] = s["vm"]["billed_seconds"]
    f["function cold starts"] = s["faas"]["cold_starts"]
    f["function throttles"] = s["faas"]["throttled"]
    f["SLO attainment %"] = 100.0 * s["slo_attainment"]
    f["latency p50 ms"] = s["latency_ms"]["p50"]
    f["latency p99 ms"] = s["latency_ms"]["p99"]
    c = s["cost_usd"]
    f["cost $"] = c["total"]
    f["cost VMs $"] = c["vm"]
    f["cost functions $"] = c["faas"]
    for t, v in sorted(c["by_type"].items()):
        f[f"cost {t} $"] = v
    return f


def fmt(v):
    if isinstance(v, int):
        return f"{v:,}"
    if abs(v) < 1:
        return f"{v:.6f}"
    return f"{v:,.2f}"


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("full", "loose"):
        sys.exit("usage: parity_table.py OUT_DIR full|loose")
    out, mode = sys.argv[1], sys.argv[2]
    live, sim = figures(os.path.join(out, "live")), figures(os.path.join(out, "sim"))
    client = load(os.path.join(out, "loadgen", "summary.json"))
    rows = list(live.keys()) + [k for k in sim if k not in live]
    print(f"{'figure':<28} {'live':>14} {'simulated':>14} {'live/sim':>9}")
    for k in rows:
        a, b = live.get(k, 0), sim.get(k, 0)
        ratio = f"{a / b:.3f}" if b else ("=" if a == b else "-")
        print(f"{k:<28} {fmt(a):>14} {fmt(b):>14} {ratio:>9}")
    print(f"{'client: requests':<28} {fmt(client['requests']):>14}")
    print(f"{'client: SLO attainment %':<28} {fmt(100.0 * client['slo_attainment']):>14}")
    print(f"{'client: latency p50 ms':<28} {fmt(client['latency_ms']['p50']):>14}")
    print(f"{'client: latency p99 ms':<28} {fmt(client['latency_ms']['p99']):>14}")
    errors = {k: v for k, v in client["errors_by_status"].items() if v}
    print(f"{'client: errors':<28} {json.dumps(errors) if errors else 'none':>14}"
          f"  (late sends {client['late_sends']}, max {client['max_send_lateness_ms']:.1f} ms)")

    results = []
    for name, bounds in (("target", FULL), ("loose bound", LOOSE)):
        cost = live["cost $"] / sim["cost $"] if sim["cost $"] else float("inf")
        lo, hi = bounds["cost_ratio"]
        checks = [
            (f"cost ratio {cost:.3f} in [{lo}, {hi}]", lo <= cost <= hi),
            (f"SLO attainment {live['SLO attainment %'] - sim['SLO attainment %']:+.2f} points "
             f"(within {bounds['slo_points']:g})",
             abs(live["SLO attainment %"] - sim["SLO attainment %"]) <= bounds["slo_points"]),
            (f"spill share {live['spill share %'] - sim['spill share %']:+.2f} points "
             f"(within {bounds['spill_points']:g})",
             abs(live["spill share %"] - sim["spill share %"]) <= bounds["spill_points"]),
        ]
        for k in rows:
            if k.startswith("launches "):
                d = live.get(k, 0) - sim.get(k, 0)
                checks.append((f"{k} {d:+d} (within {bounds['launches']})",
                               abs(d) <= bounds["launches"]))
        print(f"{name}s:")
        for text, ok in checks:
            print(f"  {'met ' if ok else 'MISS'}  {text}")
        results.append(all(ok for _, ok in checks))
    if mode == "loose" and not results[1]:
        print("parity: live and simulated diverge beyond the loose bounds")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
