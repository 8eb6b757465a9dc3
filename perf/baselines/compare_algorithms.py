#!/usr/bin/env python3
"""gccl's allreduce algorithms side by side, and auto against them, in one run.

Runs gccl's allreduce algorithms (auto, ring, recursive_doubling, tree, halving_doubling,
direct, one_shot; --algos picks some, auto and ring always among them) and Gloo's, over --reps
repetitions, and prints per size the median time of each, the best fixed algorithm, auto's ratio
to it, auto's speed-up over the ring and over the best Gloo algorithm, then how the medians
stand against issue 12's targets. gccl's algorithms run in turn: one allreduce_perf launch per
repetition with -a A,B,..., each on its own communicator, their calls taken in turn (the
order rotated by one each repetition), so that they are compared on the same CPUs, pages and
minute; --apart runs one launch per algorithm instead (launches of one schedule differ by
10-30% at 1-64 MiB on a 2-vCPU VM). Gloo runs in launches of its own. The launches of a
repetition run in an order rotated by one. Used for docs/benchmarks.md:

  perf/baselines/compare_algorithms.py --np 4 --reps 3 --tune-file /tmp/gccl.tune

What each algorithm ran at each size comes from one launch more, of every algorithm together
and one call per size, that logs the choices (GCCL_DEBUG=INFO GCCL_DEBUG_SUBSYS=COLL; a choice
depends on the size and the tune file only). Where a forced algorithm cannot run a size
(recursive doubling cannot above 16 MiB), gccl runs auto's choice instead: those sizes are left
out of its column. A miss says how auto compares with the forced run of the algorithm it ran:
a miss where auto ran the best algorithm itself is two measurements of one schedule differing,
not the choice. Stopped (SIGTERM, as `timeout` stops it), it prints what the repetitions so far
measured.

Gloo: --gloo native runs gloo_allreduce_perf (Debian's libgloo, every algorithm it has), torch
runs torch_gloo_allreduce_perf.py (PyTorch's gloo, which picks its own; --python names the
interpreter that has PyTorch), auto the native tool where it was built, else PyTorch's where it
imports, else none.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile

ALGOS = ["auto", "ring", "recursive_doubling", "tree", "halving_doubling", "direct", "one_shot"]
# Issue 12: auto within this factor of the best fixed algorithm and of the ring at every size;
# at SMALL_BYTES and below, at least RING_SPEEDUP times the ring's speed and faster than Gloo.
WITHIN = 1.10
SMALL_BYTES = 64 << 10
RING_SPEEDUP = 2.0
# What GCCL_DEBUG=INFO GCCL_DEBUG_SUBSYS=COLL logs of each choice (src/core/communicator.cc).
# A forced algorithm's line ends in "(GCCL_ALGO=<name>)".
CHOICE = re.compile(r"rank 0: allreduce of (\d+) bytes on \d+ ranks [^:]*: (\w+)"
                    r"(?:[^\n(]*\(GCCL_ALGO=(\w+)\))?")


class Stopped(Exception):
    """SIGTERM arrived: report what was measured so far."""


def on_sigterm(*_):
    raise Stopped()


def run_tool(argv, env, capture_stderr=False):
    """(the tool's JSON documents as a list, its standard error or None). A tool that fails
    raises CalledProcessError, its captured standard error printed first."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    try:
        done = subprocess.run(argv + ["--json", path], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE if capture_stderr else None, text=True,
                              timeout=1800)
        if done.returncode != 0:
            sys.stderr.write(done.stderr or "")
            done.check_returncode()
        with open(path) as f:
            doc = json.load(f)
        return (doc if isinstance(doc, list) else [doc]), done.stderr
    finally:
        os.unlink(path)


def doc_times(doc, run, mode):
    """(row name, bytes, time_us) of one tool's JSON document from the run named `run`: a
    launch of gccl's algorithms together names each row's algorithm; Gloo's, its own."""
    for r in doc["results"]:
        if "algorithm" in r:
            name = r["algorithm"]
        elif run == "gloo":
            name = "gloo " + ("torch" if doc.get("library") == "torch-gloo" else doc["algorithm"])
        else:
            name = run
        yield name, r["bytes"], r[mode]["time_us"]


def gloo_flavour(args):
    """native, torch or none, for --gloo auto: what this machine has."""
    if args.gloo != "auto":
        return args.gloo
    if os.access(os.path.join(args.bin, "gloo_allreduce_perf"), os.X_OK):
        return "native"
    probe = subprocess.run([args.python, "-c", "import torch.distributed"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return "torch" if probe.returncode == 0 else "none"


def sweep_args(args, calls, warmup):
    return ["--np", str(args.np), "-b", args.b, "-e", args.e, "-f", args.f, "-n", str(calls),
            "-w", str(warmup), "--bind", args.bind]


def commands(args, gloo, rep):
    """name -> argv of every run of repetition `rep` (gccl's algorithms together, or one run
    each with --apart; a Gloo run yields one row per algorithm)."""
    sweep = sweep_args(args, args.n, args.w)
    perf = os.path.join(args.bin, "allreduce_perf")
    if args.apart:
        runs = {a: [perf, "-a", a] + sweep for a in args.algos}
    else:
        shift = rep % len(args.algos)
        order = args.algos[shift:] + args.algos[:shift]
        runs = {"gccl": [perf, "-a", ",".join(order)] + sweep}
    if gloo == "native":
        runs["gloo"] = [os.path.join(args.bin, "gloo_allreduce_perf"), "--algo", "all"] + sweep
    elif gloo == "torch":
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "torch_gloo_allreduce_perf.py")
        runs["gloo"] = [args.python, script, "--device", "cpu"] + sweep
    return runs


def ran_choices(args, env):
    """algorithm asked for -> bytes -> the algorithm it runs at that size. One call per size:
    the choice is logged once per power of two of the size, and the perf tool's own allreduce
    of its call times (8 bytes a call) must not take a swept size's power of two first."""
    argv = [os.path.join(args.bin, "allreduce_perf"), "-a", ",".join(args.algos)]
    _, log = run_tool(argv + sweep_args(args, 1, 0),
                      dict(env, GCCL_DEBUG="INFO", GCCL_DEBUG_SUBSYS="COLL"), capture_stderr=True)
    ran = {}
    for size, algo, forced in CHOICE.findall(log):
        ran.setdefault(forced or "auto", {})[int(size)] = algo
    return ran


def drop_substitutes(med, ran):
    """Leaves out of a forced algorithm's column the sizes where it ran another; returns
    {algorithm: [(bytes, what ran)]} of them."""
    dropped = {}
    for name, by_size in med.items():
        if name == "auto":
            continue
        for size in [s for s in by_size if ran.get(name, {}).get(s, name) != name]:
            dropped.setdefault(name, []).append((size, ran[name][size]))
            del by_size[size]
    return dropped


def measure(args, env, gloo, samples):
    """Fills `samples` (name -> bytes -> [time_us]) over --reps interleaved repetitions."""
    # Each repetition starts one run later in the order: a run's figures depend on what ran just
    # before it (the previous job's ranks still exiting, where the scheduler left the cores),
    # and a fixed order would give one algorithm that handicap every time.
    for rep in range(args.reps):
        runs = commands(args, gloo, rep)
        names = list(runs)
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            docs, _ = run_tool(runs[name], env)
            for doc in docs:
                for row, size, t in doc_times(doc, name, args.mode):
                    samples.setdefault(row, {}).setdefault(size, []).append(t)


def fixed_at(med, size):
    """The forced algorithms measured at `size`."""
    return [a for a in ALGOS[1:] if size in med.get(a, {})]


def best_gloo(med, size):
    gloo = [n for n in med if n.startswith("gloo ") and size in med[n]]
    return min(gloo, key=lambda n: med[n][size]) if gloo else None


def print_table(med, choices, algos):
    has_gloo = any(n.startswith("gloo ") for n in med)
    head = ["bytes", "auto ran"] + algos + ["best fixed", "auto / best", "ring / auto"]
    if has_gloo:
        head += ["best Gloo", "Gloo / auto"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for size in sorted(med["auto"]):
        auto = med["auto"][size]
        row = [str(size), choices.get(size, "?")]
        row += ["%.1f" % med[a][size] if size in med.get(a, {}) else "-" for a in algos]
        best = min(fixed_at(med, size), key=lambda a: med[a][size], default=None)
        row += [best, "%.2f" % (auto / med[best][size])] if best else ["-", "-"]
        row += ["%.2f" % (med["ring"][size] / auto) if size in med.get("ring", {}) else "-"]
        if has_gloo:
            g = best_gloo(med, size)
            row += [g[5:], "%.2f" % (med[g][size] / auto)] if g else ["-", "-"]
        print("| " + " | ".join(row) + " |")


def target_checks(med):
    """Issue 12's targets on these medians: [(target, [(size, ratio)] held, [(size, ratio)]
    missed)], each over the sizes where what it compares was measured."""
    auto = med["auto"]
    sizes = sorted(auto)
    ring = [s for s in sizes if s in med.get("ring", {})]
    small = [s for s in ring if s <= SMALL_BYTES]
    checks = [
        ("auto within %.0f%% of the best fixed algorithm" % ((WITHIN - 1) * 100),
         [s for s in sizes if fixed_at(med, s)],
         lambda s: auto[s] / min(med[a][s] for a in fixed_at(med, s)), lambda r: r <= WITHIN),
        ("auto never slower than the ring by more than %.0f%%" % ((WITHIN - 1) * 100), ring,
         lambda s: auto[s] / med["ring"][s], lambda r: r <= WITHIN),
        ("auto >= %.0fx the ring's speed up to %d KiB" % (RING_SPEEDUP, SMALL_BYTES >> 10), small,
         lambda s: med["ring"][s] / auto[s], lambda r: r >= RING_SPEEDUP),
    ]
    if any(n.startswith("gloo ") for n in med):
        checks.append(("auto faster than every Gloo algorithm up to %d KiB" % (SMALL_BYTES >> 10),
                       [s for s in sizes if s <= SMALL_BYTES and best_gloo(med, s)],
                       lambda s: med[best_gloo(med, s)][s] / auto[s], lambda r: r > 1.0))
    verdicts = []
    for name, at, ratio, holds in checks:
        met = [(s, ratio(s)) for s in at if holds(ratio(s))]
        missed = [(s, ratio(s)) for s in at if not holds(ratio(s))]
        verdicts.append((name, met, missed))
    return verdicts


def miss_text(size, ratio, med, choices):
    """"1048576 B (1.16; ran ring, 1.16x the forced ring)"."""
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


def parse_args():
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
    p.add_argument("--algos", default=",".join(ALGOS),
                   help="the algorithms to run, comma-separated (auto and ring always)")
    p.add_argument("--tune-file", help="GCCL_TUNE_FILE for every gccl run")
    p.add_argument("--apart", action="store_true",
                   help="one allreduce_perf launch per algorithm instead of one for all")
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
    wanted = set(args.algos.split(",")) | {"auto", "ring"}
    unknown = wanted - set(ALGOS)
    if unknown:
        p.error("unknown algorithm(s): " + ", ".join(sorted(unknown)))
    args.algos = [a for a in ALGOS if a in wanted]
    return args


def main():
    args = parse_args()
    env = dict(os.environ)
    if args.tune_file:
        env["GCCL_TUNE_FILE"] = os.path.abspath(args.tune_file)
    gloo = gloo_flavour(args)
    signal.signal(signal.SIGTERM, on_sigterm)
    samples, ran, stopped = {}, {}, False
    try:
        ran = ran_choices(args, env)
        measure(args, env, gloo, samples)
    except Stopped:
        stopped = True
    if "auto" not in samples:
        print("stopped before auto was measured" if stopped else "auto was not measured")
        return 1
    med = {name: {s: statistics.median(v) for s, v in by.items()} for name, by in samples.items()}
    dropped = drop_substitutes(med, ran)
    choices = ran.get("auto", {})
    print_table(med, choices, args.algos)
    print("\n%s, %d ranks, median of %d runs, gccl's algorithms %s, times in us (%s); Gloo: %s%s" %
          (" ".join(sys.argv), args.np, args.reps,
           "in a launch each" if args.apart else "in turn in one launch", args.mode, gloo,
           "; STOPPED early: medians of the runs that finished" if stopped else ""))
    for name, sizes in dropped.items():
        print("%s forced ran another algorithm (left out): %s" %
              (name, ", ".join("%d B ran %s" % (size, other) for size, other in sizes)))
    verdicts = target_checks(med)
    print_targets(verdicts, med, choices)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"nranks": args.np, "reps": args.reps, "mode": args.mode, "gloo": gloo,
                       "in_turn": not args.apart,
                       "stopped": stopped,
                       "auto_ran": {str(s): a for s, a in choices.items() if s in med["auto"]},
                       "left_out": {n: {str(s): o for s, o in sizes}
                                    for n, sizes in dropped.items()},
                       "median_us": {n: {str(s): t for s, t in by.items()}
                                     for n, by in med.items()},
                       "targets": [{"target": n, "met": [s for s, _ in met],
                                    "missed": {str(s): round(r, 3) for s, r in missed}}
                                   for n, met, missed in verdicts]}, f, indent=1)
            f.write("\n")
    return 1 if stopped else 0


if __name__ == "__main__":
    sys.exit(main())
