#!/usr/bin/env python3
"""gccl's allreduce algorithms side by side, and auto against them, in one run.

Runs allreduce_perf once per algorithm (auto, ring, recursive_doubling, tree, halving_doubling,
direct), and Gloo's allreduce algorithms, interleaved over --reps repetitions (each repetition
in an order rotated by one), and prints per size the median time of each, the best fixed
algorithm, auto's ratio to it, auto's speed-up over the ring and over the best Gloo algorithm,
then how the medians stand against issue 12's targets. Auto's runs log their choices
(GCCL_DEBUG=INFO GCCL_DEBUG_SUBSYS=COLL): the table shows what auto ran at each size, and a
miss says how auto compares with the forced run of that very algorithm, i.e. how much of the
miss is two launches of one schedule differing rather than the choice. Used for docs/benchmarks.md:

  perf/baselines/compare_algorithms.py --np 4 --reps 3 --tune-file /tmp/gccl.tune

Gloo: --gloo native runs gloo_allreduce_perf (Debian's libgloo, every algorithm it has), torch
runs torch_gloo_allreduce_perf.py (PyTorch's gloo, which picks its own; --python names the
interpreter that has PyTorch), auto the native tool where it was built, else PyTorch's where it
imports, else none.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ALGOS = ["auto", "ring", "recursive_doubling", "tree", "halving_doubling", "direct"]
FIXED = [a for a in ALGOS if a != "auto"]
# Issue 12: auto within this factor of the best fixed algorithm and of the ring at every size;
# at SMALL_BYTES and below, at least RING_SPEEDUP times the ring's speed and faster than Gloo.
WITHIN = 1.10
SMALL_BYTES = 64 << 10
RING_SPEEDUP = 2.0


# What GCCL_DEBUG=INFO GCCL_DEBUG_SUBSYS=COLL logs of each choice (src/core/communicator.cc).
CHOICE = re.compile(r"rank 0: allreduce of (\d+) bytes on \d+ ranks [^:]*: (\w+)")


def run_json(argv, env, stderr=None):
    """One tool's JSON document(s), a list of runs; its standard error into `stderr` (a list)
    when given, else left to this script's."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    try:
        done = subprocess.run(argv + ["--json", path], env=env, check=True,
                              stdout=subprocess.DEVNULL, timeout=1800,
                              stderr=subprocess.PIPE if stderr is not None else None, text=True)
        if stderr is not None:
            stderr.append(done.stderr)
        with open(path) as f:
            doc = json.load(f)
        return doc if isinstance(doc, list) else [doc]
    finally:
        os.unlink(path)


def times(doc, mode):
    """bytes -> time_us of one tool's JSON document."""
    return {r["bytes"]: r[mode]["time_us"] for r in doc["results"]}


def gloo_flavour(args):
    """native, torch or none, for --gloo auto: what this machine has."""
    if args.gloo != "auto":
        return args.gloo
    if os.access(os.path.join(args.bin, "gloo_allreduce_perf"), os.X_OK):
        return "native"
    probe = subprocess.run([args.python, "-c", "import torch.distributed"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return "torch" if probe.returncode == 0 else "none"


def commands(args, gloo):
    """name -> argv of every run of one repetition (a Gloo run yields one row per algorithm)."""
    sweep = ["--np", str(args.np), "-b", args.b, "-e", args.e, "-f", args.f, "-n", args.n,
             "-w", args.w, "--bind", args.bind]
    runs = {a: [os.path.join(args.bin, "allreduce_perf"), "-a", a] + sweep for a in ALGOS}
    if gloo == "native":
        runs["gloo"] = [os.path.join(args.bin, "gloo_allreduce_perf"), "--algo", "all"] + sweep
    elif gloo == "torch":
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "torch_gloo_allreduce_perf.py")
        runs["gloo"] = [args.python, script, "--device", "cpu"] + sweep
    return runs


def measure(args, env, runs):
    """(name -> bytes -> [time_us], bytes -> the algorithm auto ran) over --reps interleaved
    repetitions; auto's choices as its runs logged them."""
    samples, choices = {}, {}
    names = list(runs)
    # The choice is logged once per power of two of the size: the sweep's sizes, -f >= 2.
    auto_env = dict(env, GCCL_DEBUG="INFO", GCCL_DEBUG_SUBSYS="COLL")
    # Each repetition starts one run later in the order: a run's figures depend on what ran just
    # before it (the previous job's ranks still exiting, where the scheduler left the cores),
    # and a fixed order would give one algorithm that handicap every time.
    for rep in range(args.reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            logged = [] if name == "auto" else None
            docs = run_json(runs[name], auto_env if name == "auto" else env, logged)
            for size, algo in CHOICE.findall("".join(logged or [])):
                choices.setdefault(int(size), set()).add(algo)
            for doc in docs:
                row = name if name != "gloo" else "gloo " + (
                    "torch" if doc.get("library") == "torch-gloo" else doc["algorithm"])
                for size, t in times(doc, args.mode).items():
                    samples.setdefault(row, {}).setdefault(size, []).append(t)
    return samples, {size: "/".join(sorted(algos)) for size, algos in choices.items()}


def best_gloo(med, size):
    gloo = [n for n in med if n.startswith("gloo ") and size in med[n]]
    return min(gloo, key=lambda n: med[n][size]) if gloo else None


def print_table(med, choices):
    has_gloo = any(n.startswith("gloo ") for n in med)
    head = ["bytes", "auto ran"] + ALGOS + ["best fixed", "auto / best", "ring / auto"]
    if has_gloo:
        head += ["best Gloo", "Gloo / auto"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for size in sorted(med["auto"]):
        row = [str(size), choices.get(size, "?")] + ["%.1f" % med[a][size] for a in ALGOS]
        best = min(FIXED, key=lambda a: med[a][size])
        row += [best, "%.2f" % (med["auto"][size] / med[best][size]),
                "%.2f" % (med["ring"][size] / med["auto"][size])]
        if has_gloo:
            g = best_gloo(med, size)
            row += [g[5:], "%.2f" % (med[g][size] / med["auto"][size])] if g else ["-", "-"]
        print("| " + " | ".join(row) + " |")


def target_checks(med):
    """Issue 12's targets on these medians: [(target, sizes it holds at, sizes it misses at)],
    a size given with its ratio."""
    sizes = sorted(med["auto"])
    small = [s for s in sizes if s <= SMALL_BYTES]
    auto = med["auto"]
    checks = [
        ("auto within %.0f%% of the best fixed algorithm" % ((WITHIN - 1) * 100), sizes,
         lambda s: auto[s] / min(med[a][s] for a in FIXED), lambda r: r <= WITHIN),
        ("auto never slower than the ring by more than %.0f%%" % ((WITHIN - 1) * 100), sizes,
         lambda s: auto[s] / med["ring"][s], lambda r: r <= WITHIN),
        ("auto >= %.0fx the ring's speed up to %d KiB" % (RING_SPEEDUP, SMALL_BYTES >> 10), small,
         lambda s: med["ring"][s] / auto[s], lambda r: r >= RING_SPEEDUP),
    ]
    if any(n.startswith("gloo ") for n in med):
        checks.append(("auto faster than every Gloo algorithm up to %d KiB" % (SMALL_BYTES >> 10),
                       [s for s in small if best_gloo(med, s)],
                       lambda s: med[best_gloo(med, s)][s] / auto[s], lambda r: r > 1.0))
    verdicts = []
    for name, at, ratio, holds in checks:
        met = [(s, ratio(s)) for s in at if holds(ratio(s))]
        missed = [(s, ratio(s)) for s in at if not holds(ratio(s))]
        verdicts.append((name, met, missed))
    return verdicts


def miss_text(size, ratio, med, choices):
    """"1048576 B (1.16; ran ring, 1.16x the forced ring)": where auto ran the very schedule it
    is compared with, a miss is the spread between two launches of it, not the choice."""
    text = "%d B (%.2f" % (size, ratio)
    ran = choices.get(size)
    if ran in med and size in med[ran]:
        text += "; ran %s, %.2fx the forced %s" % (ran, med["auto"][size] / med[ran][size], ran)
    return text + ")"


def print_targets(verdicts, med, choices):
    print("\nIssue 12's targets on these medians:")
    for name, met, missed in verdicts:
        if not met and not missed:
            print("- %s: no such size in this sweep" % name)
            continue
        state = "MET" if not missed else "MISSED"
        print("- %s: %s, held at %d of %d sizes" % (name, state, len(met), len(met) + len(missed)) +
              ("" if not missed else "; missed at " +
               ", ".join(miss_text(s, r, med, choices) for s, r in missed)))


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
    p.add_argument("--gloo", choices=["auto", "native", "torch", "none"], default="auto",
                   help="the Gloo baseline (see above)")
    p.add_argument("--no-gloo", dest="gloo", action="store_const", const="none",
                   help="the same as --gloo none")
    p.add_argument("--python", default=os.environ.get("PYTHON", "python3"),
                   help="the interpreter that runs torch_gloo_allreduce_perf.py (default: "
                        "$PYTHON, else python3)")
    p.add_argument("--bind", choices=["cpus", "none"], default="cpus",
                   help="every tool's ranks pinned each to its own CPUs (the tools' default), "
                        "or left to the scheduler")
    p.add_argument("--json", help="also write every median and the targets' verdicts here")
    args = p.parse_args()

    env = dict(os.environ)
    if args.tune_file:
        env["GCCL_TUNE_FILE"] = os.path.abspath(args.tune_file)
    gloo = gloo_flavour(args)
    samples, choices = measure(args, env, commands(args, gloo))
    med = {name: {s: statistics.median(v) for s, v in by.items()} for name, by in samples.items()}
    print_table(med, choices)
    print("\n%s, %d ranks, median of %d runs, times in us (%s); Gloo: %s" %
          (" ".join(sys.argv), args.np, args.reps, args.mode, gloo))
    verdicts = target_checks(med)
    print_targets(verdicts, med, choices)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"nranks": args.np, "reps": args.reps, "mode": args.mode, "gloo": gloo,
                       "auto_ran": {str(s): a for s, a in choices.items() if s in med["auto"]},
                       "median_us": {n: {str(s): t for s, t in by.items()}
                                     for n, by in med.items()},
                       "targets": [{"target": n, "met": [s for s, _ in met],
                                    "missed": {str(s): round(r, 3) for s, r in missed}}
                                   for n, met, missed in verdicts]}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
