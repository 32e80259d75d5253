#!/usr/bin/env python3
"""mark against the simple answers and the two bounds on every trace (issue #14).

For each trace: faas-only, the best static pool that meets the SLO (searched), reactive,
oracle, clairvoyant, and mark with each candidate forecaster (fitted on a training part
that the run does not replay). Prints the bench/README.md table and writes
OUT/baselines.json. Usage (bench/baselines.sh builds and calls it):

    bench/baselines.py --bin build-bench/spillway --synth build-bench/bench/synth_trace \
        [--out DIR] [--jobs N] [--only NAME,...] [--set KEY=VALUE]...
"""
import argparse
import concurrent.futures as cf
import json
import math
import os
import shutil
import subprocess
import sys

TW = "data/traces/twitter-2021-08"
DAY0 = f"{TW}/twitter_day00_per_second.txt"
MINUTES = f"{TW}/twitter_per_minute_days00-14.csv"
AZURE = "data/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv"
TYPES = ["c5.large", "c5.xlarge", "c5.2xlarge", "c5.4xlarge", "p2.xlarge"]
SYNTH = ["flat-low", "flat-high", "sine", "sine-bursts", "step"]
FITTED = ["last", "ar"]  # fitted forecasters tried beside recent-max


class Bench:
    def __init__(self, args):
        self.bin, self.synth, self.out = args.bin, args.synth, args.out
        self.sets = [x for s in args.set for x in ("--set", s)]
        self.reuse = args.reuse
        self.pool = cf.ThreadPoolExecutor(max_workers=args.jobs)
        self.two_pools = self.two_pool_config()

    def two_pool_config(self):
        """The example with a static pool of two entries, which --set cannot add: mixed
        pools are tried with it. Beside it, the instance types it loads from its folder."""
        with open("config/example.yaml") as f:
            text = f.read()
        one = "      - type: p2.xlarge\n        # In [1, 10000]. Required.\n        count: 2\n"
        if one not in text:
            sys.exit("bench/baselines.py: config/example.yaml's static pool moved; update me")
        text = text.replace(one, "      - {type: p2.xlarge, count: 1}\n" * 2)
        path = os.path.join(self.out, "example-two-pools.yaml")
        with open(path, "w") as f:
            f.write(text)
        shutil.copy("config/instance-types.yaml", self.out)
        return path

    def sim(self, name, trace, fmt, extra, config="config/example.yaml"):
        """Runs one simulation into OUT/name; returns its summary."""
        out = os.path.join(self.out, name)
        done = os.path.join(out, "summary.json")
        if self.reuse and os.path.exists(done):
            with open(done) as f:  # --reuse: a run of an interrupted bench
                return json.load(f)
        cmd = [self.bin, "simulate", "--config", config, "--trace", trace,
               "--no-progress", "--out", out] + (["--trace-format", fmt] if fmt else [])
        if subprocess.run(cmd + self.sets + extra, stdout=subprocess.DEVNULL).returncode:
            return None  # reported as "—" in the table
        with open(os.path.join(out, "summary.json")) as f:
            return json.load(f)

    def fit(self, name, trace, fmt, model, until):
        path = os.path.join(self.out, f"{name}-{model}.pb")
        cmd = [self.bin, "predict", "fit", "--config", "config/example.yaml", "--trace", trace,
               "--interval", "60", "--horizon", "5", "--quantile", "0.98", "--model", model,
               "--save", path] + (["--trace-format", fmt] if fmt else [])
        cmd += ["--train-until", str(until)] if until else []
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return path


def met(s):
    return bool(s) and s["requests"] > 0 and s["slo_met"]


def static_search(b, name, trace, fmt, extra):
    """The cheapest static pool found that meets the SLO: for each type the fewest
    instances that meet it (doubling, then bisection), then the best of those with one
    instance fewer and 1..k of another type added."""
    def run(pool):
        sets = []
        for i, (t, n) in enumerate(pool):
            sets += ["--set", f"policy.static.pool[{i}].type={t}",
                     "--set", f"policy.static.pool[{i}].count={n}"]
        tag = "+".join(f"{n}x{t}" for t, n in pool)
        config = b.two_pools if len(pool) == 2 else "config/example.yaml"
        s = b.sim(f"{name}/static-{tag}", trace, fmt, extra + ["--policy", "static"] + sets,
                  config)
        return s, tag

    def fewest(t):
        lo, hi = 0, 1
        while not met(run([(t, hi)])[0]):
            lo, hi = hi, hi * 2
            if hi > 4096:
                return None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if met(run([(t, mid)])[0]) else (mid, hi)
        return hi

    counts = dict(zip(TYPES, b.pool.map(fewest, TYPES)))
    best = min(((run([(t, n)])[0]["cost_usd"]["total"], [(t, n)]) for t, n in counts.items()
                if n), default=None)
    if best is None:
        return None
    t0, n0 = best[1][0]

    def mix(u):
        """One fewer of the best type and the fewest of u that meet the SLO (at most
        what would replace it twice over), or None."""
        for k in range(1, 1 + math.ceil(2 * {"p2.xlarge": 14}.get(t0, 2))):
            s, _ = run([(t0, n0 - 1), (u, k)])
            if met(s):
                return (s["cost_usd"]["total"], [(t0, n0 - 1), (u, k)])
        return None

    others = [u for u in TYPES if u != t0 and n0 >= 2]
    best = min([best] + [m for m in b.pool.map(mix, others) if m])
    s, tag = run(best[1])
    s["pool"] = tag
    return s


def cases(b, only):
    """(name, trace, format, simulate args, {forecaster: model file or None})."""
    c = []
    day1_10 = os.path.join(b.out, "twitter_days01-10.csv")
    with open(MINUTES) as f, open(day1_10, "w") as o:
        o.write(f.readline())
        for line in f:
            i, n = line.strip().split(",")
            if 1440 <= int(i) < 15840:
                o.write(f"{int(i) - 1440},{n}\n")
    c.append(("twitter-day0", DAY0, "counts-per-second", [],
              {m: (day1_10, "counts-per-minute", 0) for m in FITTED}))
    c.append(("twitter-days11-14", MINUTES, "counts-per-minute", ["--start", "950400"],
              {m: (MINUTES, "counts-per-minute", 15840) for m in FITTED}))
    c.append(("azure-conv", AZURE, "timestamps", [], {"last": None}))
    for shape in SYNTH:
        path = os.path.join(b.out, f"{shape}.txt")
        train = os.path.join(b.out, f"{shape}-train.txt")
        for p, seed in ((path, "1"), (train, "2")):
            with open(p, "w") as f:
                subprocess.run([b.synth, shape, "86400", seed], stdout=f, check=True)
        c.append((shape, path, "counts-per-second", [],
                  {m: (train, "counts-per-second", 0) for m in FITTED}))
    return [x for x in c if not only or x[0] in only]


def mark_runs(b, name, trace, fmt, extra, fits):
    runs = {"recent-max": (b.pool.submit(b.sim, f"{name}/mark-recent-max", trace, fmt,
                                         extra + ["--policy", "mark"]))}
    for m, spec in fits.items():
        args = extra + ["--policy", "mark", "--set", f"predictor.name={m}"]
        if spec:
            model = b.fit(name, spec[0], spec[1], m, spec[2])
            args += ["--set", f"predictor.model_path={os.path.abspath(model)}"]
        runs[m] = b.pool.submit(b.sim, f"{name}/mark-{m}", trace, fmt, args)
    return {m: f.result() for m, f in runs.items()}


def row(b, case):
    name, trace, fmt, extra, fits = case
    os.makedirs(os.path.join(b.out, name), exist_ok=True)
    pol = {p: b.pool.submit(b.sim, f"{name}/{p}", trace, fmt, extra + ["--policy", p])
           for p in ("faas-only", "reactive", "oracle", "clairvoyant")}
    marks = mark_runs(b, name, trace, fmt, extra, fits)
    st = static_search(b, name, trace, fmt, extra)
    r = {p: f.result() for p, f in pol.items()}
    r["static"] = st
    ok = {m: s for m, s in marks.items() if met(s)} or {m: s for m, s in marks.items() if s}
    best = min(ok, key=lambda m: ok[m]["cost_usd"]["total"])
    r["mark"], r["mark_forecaster"], r["mark_all"] = marks[best], best, marks
    return name, r


def cost(s):
    return s["cost_usd"]["total"] if s else math.inf


def table(results):
    print("| trace | policy | cost $ | SLO met % | VMs launched/h | × simple | × oracle | "
          "× clairvoyant |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results:
        simple = min(cost(r["faas-only"]), cost(r["static"]) if met(r["static"]) else math.inf)
        for p in ("mark", "faas-only", "static", "reactive", "oracle", "clairvoyant"):
            s = r[p]
            if not s:
                print(f"| {name} | {p} | — | — | — | — | — | — |")
                continue
            label = {"mark": f"mark ({r['mark_forecaster']})",
                     "static": f"static {s.get('pool', '')}"}.get(p, p)
            hours = s.get("sim", {}).get("simulated_s", 0) / 3600 or math.nan
            print(f"| {name} | {label} | {cost(s):.2f} | {100 * s['slo_attainment']:.2f}"
                  f"{'' if met(s) else ' (missed)'} | {s['vm']['launched'] / hours:.1f} | "
                  f"{cost(s) / simple:.3f} | {cost(s) / cost(r['oracle']):.3f} | "
                  f"{cost(s) / cost(r['clairvoyant']):.3f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--synth", required=True)
    ap.add_argument("--out", default="bench/results/baselines")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--only", default="")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--reuse", action="store_true",
                    help="keep the runs already in OUT (same binary and config only)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    b = Bench(args)
    only = set(filter(None, args.only.split(",")))
    results = [row(b, c) for c in cases(b, only)]
    with open(os.path.join(args.out, "baselines.json"), "w") as f:
        json.dump(dict(results), f, indent=1)
    table(results)


if __name__ == "__main__":
    sys.exit(main())
