#!/usr/bin/env python3
"""gccl's allreduce algorithms side by side, and auto against them, in one run.

Runs allreduce_perf once per algorithm (auto, ring, recursive_doubling, tree, halving_doubling,
direct), and Gloo's allreduce algorithms, interleaved over --reps repetitions (each repetition
in an order rotated by one), and prints per size the median time of each, the best fixed
algorithm, auto's ratio to it, auto's speed-up over the ring and over the best Gloo algorithm.
Used for docs/benchmarks.md:

  perf/baselines/compare_algorithms.py --np 4 --reps 3 --tune-file /tmp/gccl.tune
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ALGOS = ["auto", "ring", "recursive_doubling", "tree", "halving_doubling", "direct"]


def run_json(argv, env):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    try:
        subprocess.run(argv + ["--json", path], env=env, check=True, stdout=subprocess.DEVNULL,
                       timeout=1800)
        with open(path) as f:
            return json.load(f)
    finally:
        os.unlink(path)


def times(doc, mode):
    """bytes -> time_us of one tool's JSON document."""
    return {r["bytes"]: r[mode]["time_us"] for r in doc["results"]}


def main():
    bin_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bin")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--np", type=int, default=4)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("-b", default="4")
    p.add_argument("-e", default="64M")
    p.add_argument("-f", default="4")
    p.add_argument("-n", default="20")
    p.add_argument("-w", default="5")
    p.add_argument("--mode", choices=["ip", "oop"], default="oop")
    p.add_argument("--tune-file", help="GCCL_TUNE_FILE for every gccl run")
    p.add_argument("--bin", default=bin_dir)
    p.add_argument("--no-gloo", action="store_true")
    p.add_argument("--bind", choices=["cpus", "none"], default="cpus",
                   help="every tool's ranks pinned each to its own CPUs (the tools' default), "
                        "or left to the scheduler")
    args = p.parse_args()

    env = dict(os.environ)
    if args.tune_file:
        env["GCCL_TUNE_FILE"] = os.path.abspath(args.tune_file)
    sweep = ["--np", str(args.np), "-b", args.b, "-e", args.e, "-f", args.f, "-n", args.n,
             "-w", args.w, "--bind", args.bind]
    samples = {}  # name -> bytes -> [time_us]
    # Each repetition starts one run later in the order: a run's figures depend on what ran just
    # before it (the previous job's ranks still exiting, where the scheduler left the cores),
    # and a fixed order would give one algorithm that handicap every time.
    runs = ALGOS + ([] if args.no_gloo else ["gloo"])
    for rep in range(args.reps):
        shift = rep % len(runs)
        for name in runs[shift:] + runs[:shift]:
            if name != "gloo":
                doc = run_json([os.path.join(args.bin, "allreduce_perf"), "-a", name] + sweep, env)
                for size, t in times(doc, args.mode).items():
                    samples.setdefault(name, {}).setdefault(size, []).append(t)
                continue
            docs = run_json([os.path.join(args.bin, "gloo_allreduce_perf"), "--algo", "all"] + sweep,
                            env)
            for doc in docs:
                for size, t in times(doc, args.mode).items():
                    samples.setdefault("gloo " + doc["algorithm"], {}).setdefault(size, []).append(t)

    med = {name: {s: statistics.median(v) for s, v in by.items()} for name, by in samples.items()}
    fixed = [a for a in ALGOS if a != "auto"]
    gloo = sorted(n for n in med if n.startswith("gloo "))
    head = ["bytes"] + ALGOS + ["best fixed", "auto / best", "ring / auto"]
    if gloo:
        head += ["best Gloo", "Gloo / auto"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for size in sorted(med["auto"]):
        row = [str(size)] + ["%.1f" % med[a][size] for a in ALGOS]
        best = min(fixed, key=lambda a: med[a][size])
        row += [best, "%.2f" % (med["auto"][size] / med[best][size]),
                "%.2f" % (med["ring"][size] / med["auto"][size])]
        if gloo:
            g = min(gloo, key=lambda n: med[n][size] if size in med[n] else float("inf"))
            row += [g[5:], "%.2f" % (med[g][size] / med["auto"][size])]
        print("| " + " | ".join(row) + " |")
    print("\n%s, %d ranks, median of %d runs, times in us (%s)" %
          (" ".join(sys.argv), args.np, args.reps, args.mode))


if __name__ == "__main__":
    main()
