#!/usr/bin/env python3
"""Runs gccl's perf tools beside Gloo and Open MPI on the same sweep and tabulates them.

For every collective in --collectives (default allreduce) and rank count in --np, one "set"
runs gccl's <collective>_perf, each Gloo algorithm of the collective, MPI over TCP and MPI over
shared memory, and for allreduce tcp_stream_perf (the raw TCP ring: the same bytes per link with
no reduction, i.e. the wire's limit); the set is repeated --reps times, interleaved, so slow
drifts of the machine hit every library alike. Per library and size the median time across reps
is kept, and bus bandwidth is recomputed from it with the collective's nccl-tests factor. Tables
are grouped by collective (the JSON's "collective" key; allreduce where it is absent). Standard
library only.

  perf/baselines/compare.py --np "2 4" --reps 3 --markdown /tmp/benchmarks.md
  perf/baselines/compare.py --collectives "broadcast allgather" --np 4 -b 16M -e 16M
"""
import argparse
import ctypes
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIVES = ["allreduce", "broadcast", "reduce", "allgather", "reduce_scatter", "alltoall"]
# gccl's tool per collective (nccl-tests names), beside allreduce_perf.
GCCL_TOOLS = {"allreduce": "allreduce_perf", "broadcast": "broadcast_perf",
              "reduce": "reduce_perf", "allgather": "all_gather_perf",
              "reduce_scatter": "reduce_scatter_perf", "alltoall": "alltoall_perf"}
ROOTED = {"broadcast", "reduce"}
# Gloo's implementations per collective (gloo_collectives.h).
GLOO_ALGORITHMS = {"allreduce": ["ring_chunked", "halving_doubling", "bcube"],
                   "broadcast": ["binomial_tree"], "reduce": ["ring"], "allgather": ["ring"],
                   "reduce_scatter": ["halving_doubling"], "alltoall": ["pairwise"]}
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe"]


def mpi_binding(bind, nranks):
    """mpirun's flags for the placement the other tools' --bind gives (perf/cpu_binding.h): each
    rank a block of floor(cpus / ranks) hardware threads, or one each, round robin, when there
    are more ranks than CPUs."""
    if bind == "none":
        return ["--bind-to", "none"]
    cpus = len(os.sched_getaffinity(0))
    if nranks > cpus:
        return ["--use-hwthread-cpus", "--map-by", "hwthread",
                "--bind-to", "hwthread:overload-allowed"]
    return ["--use-hwthread-cpus", "--map-by", f"slot:PE={cpus // nranks}", "--bind-to", "hwthread"]
# pml ob1 matters: with UCX installed Open MPI would otherwise pick the UCX pml.
MPI_TRANSPORTS = {
    "tcp": ["--mca", "pml", "ob1", "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo"],
    "sm": ["--mca", "pml", "ob1", "--mca", "btl", "vader,self"],
}
# glibc hands allocations over 32 MiB back to the kernel on free, so a library that
# allocates a message-sized temporary per call page-faults it in again every call.
NO_MMAP_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 40)}
NO_MMAP_TEXT = " ".join(f"{k}={v}" for k, v in NO_MMAP_ENV.items())


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--np", default="2 4", help='rank counts, e.g. "2 4"')
    p.add_argument("--collectives", default="allreduce",
                   help='collectives, e.g. "allreduce broadcast" (of: ' + " ".join(COLLECTIVES) + ")")
    p.add_argument("-r", "--root", default="0", help="root of broadcast and reduce")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("-b", default="4")
    p.add_argument("-e", default="64M")
    p.add_argument("-f", default="4")
    p.add_argument("-n", default="20")
    p.add_argument("-w", default="5")
    p.add_argument("--mode", choices=["ip", "oop"], default="ip",
                   help="compare in-place (default) or out-of-place times")
    p.add_argument("--small-max", type=int, default=64 << 10,
                   help="sizes up to this many bytes also get a latency table")
    bin_dir = os.path.join(REPO, "build", "bin")
    p.add_argument("--gccl-binary", default=os.path.join(bin_dir, "allreduce_perf"),
                   help="allreduce_perf; the other collectives' tools are taken beside it")
    p.add_argument("--gloo-binary", default=os.path.join(bin_dir, "gloo_allreduce_perf"))
    p.add_argument("--mpi-binary", default=os.path.join(bin_dir, "mpi_allreduce_perf"))
    p.add_argument("--stream-binary", default=os.path.join(bin_dir, "tcp_stream_perf"))
    p.add_argument("--stream-congestion", default="auto",
                   help="congestion control of the raw TCP stream (auto: reno, as gccl picks "
                        "within one machine; system: the kernel default)")
    p.add_argument("--timeout", type=int, default=900, help="seconds per tool run")
    p.add_argument("--bind", choices=["cpus", "none"], default="cpus",
                   help="every library's ranks pinned each to its own CPUs (default), or left "
                        "to the scheduler")
    p.add_argument("--glibc-no-mmap", action="store_true",
                   help="run every tool with " + NO_MMAP_TEXT)
    p.add_argument("--gccl-tool",
                   help="gccl's tool, beside --gccl-binary, in place of <collective>_perf: "
                        "alltoallv_perf (with --collectives alltoall) runs the all-to-all's "
                        "rows through gcclAllToAllV")
    p.add_argument("--markdown", help="also write the tables to this file")
    p.add_argument("--raw", help="write every library's median times (us) per size as JSON")
    return p.parse_args()


def gccl_binary(args, collective):
    if args.gccl_tool:
        return os.path.join(os.path.dirname(args.gccl_binary), args.gccl_tool)
    return os.path.join(os.path.dirname(args.gccl_binary), GCCL_TOOLS[collective]) \
        if collective != "allreduce" else args.gccl_binary


def library_runs(args, nranks, collective):
    """(key, label, argv) for every library/algorithm/transport in one set of `collective`.
    Allreduce's commands are those from before the other collectives."""
    sweep = ["-b", args.b, "-e", args.e, "-f", args.f, "-n", args.n, "-w", args.w]
    bind = ["--bind", args.bind]
    rooted = ["-r", args.root] if collective in ROOTED else []
    chosen = ["--collective", collective] + rooted if collective != "allreduce" else []
    suffix = "" if collective == "allreduce" else f" {collective}"
    runs = [("gccl", f"gccl{suffix}",
             [gccl_binary(args, collective), "--np", str(nranks)] + bind + rooted + sweep)]
    if collective == "allreduce":  # the stream is a ring allreduce's bytes
        runs.append(("stream", "tcp stream", [args.stream_binary, "--np", str(nranks),
                                              "--congestion", args.stream_congestion] + bind +
                     sweep))
    for algo in GLOO_ALGORITHMS[collective]:
        argv = [args.gloo_binary, "--np", str(nranks)] + bind + chosen + ["--algo", algo,
                "--timeout", str(max(1, args.timeout * 9 // 10))] + sweep  # fail before we kill
        runs.append((f"gloo:{algo}", f"gloo {algo}{suffix}", argv))
    for transport, mca in MPI_TRANSPORTS.items():
        argv = (MPIRUN + ["-np", str(nranks)] + mpi_binding(args.bind, nranks) + mca +
                [args.mpi_binary, "--transport-label", transport] + chosen + sweep)
        runs.append((f"mpi:{transport}", f"MPI {transport}{suffix}", argv))
    return runs


def run_tool(argv, timeout, env):
    """Runs one tool with --json; returns its parsed runs, or None after saying why."""
    with tempfile.TemporaryDirectory() as tmp:
        json_path = os.path.join(tmp, "result.json")
        # Own session, so a timeout can kill mpirun together with every rank it started.
        proc = subprocess.Popen(argv + ["--json", json_path], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            print(f"    timed out after {timeout} s", flush=True)
            return None
        if proc.returncode != 0 or not os.path.exists(json_path):
            tail = "\n".join(out.strip().splitlines()[-8:])
            print(f"    failed (exit {proc.returncode}):\n{tail}", flush=True)
            return None
        with open(json_path) as f:
            data = json.load(f)
    return data if isinstance(data, list) else [data]


def collect(args):
    """times[(collective, nranks, key)][bytes]: times (us) across reps;
    seconds[(nranks, label)]: run times."""
    env = dict(os.environ, **(NO_MMAP_ENV if args.glibc_no_mmap else {}))
    binaries = {"gccl": args.gccl_binary, "gloo": args.gloo_binary, "mpi": args.mpi_binary,
                "stream": args.stream_binary}
    missing = {k for k, path in binaries.items() if not os.access(path, os.X_OK)}
    for k in sorted(missing):
        print(f"skipping {k}: {binaries[k]} not found (or not executable)")
    if "mpi" not in missing and shutil.which(MPIRUN[0]) is None:
        print(f"skipping mpi: {MPIRUN[0]} not on PATH")
        missing.add("mpi")
    times, seconds = {}, {}
    for rep in range(args.reps):
        for collective, nranks in [(c, n) for c in args.collectives for n in args.nps]:
            for key, label, argv in library_runs(args, nranks, collective):
                if key.split(":")[0] in missing:
                    continue
                if key == "gccl" and not os.access(argv[0], os.X_OK):
                    print(f"skipping {label}: {argv[0]} not found (or not executable)")
                    continue
                start = time.monotonic()
                print(f"[rep {rep + 1}/{args.reps}] N={nranks} {label} ...", end="", flush=True)
                runs = run_tool(argv, args.timeout, env)
                if runs is None:
                    continue
                elapsed = time.monotonic() - start
                print(f" {elapsed:.1f} s", flush=True)
                seconds.setdefault((nranks, label), []).append(elapsed)
                # The command, not the JSON's library/algorithm keys, says what ran: gccl's
                # JSON may leave those out. Its collective key is checked, as a wrong binary
                # would otherwise land in the wrong table.
                ran = runs[0].get("collective", "allreduce")
                # --gccl-tool alltoallv_perf: the all-to-all's rows, under its own name.
                if key == "gccl" and args.gccl_tool and ran == f"{collective}v":
                    ran = collective
                if ran != collective:
                    print(f"    ran {ran}, not {collective}: left out", flush=True)
                    continue
                for result in runs[0]["results"]:
                    slot = times.setdefault((collective, nranks, key), {})
                    slot.setdefault(result["bytes"], []).append(result[args.mode]["time_us"])
    return times, seconds


def median_times(times):
    return {k: {b: statistics.median(v) for b, v in per.items()} for k, per in times.items()}


def bus_factor(collective, nranks):
    """nccl-tests' busbw / algbw (perf/collectives.cc, perf_collective.cc)."""
    if collective == "allreduce":
        return 2 * (nranks - 1) / nranks
    if collective in ("allgather", "reduce_scatter", "alltoall"):
        return (nranks - 1) / nranks
    return 1.0


def busbw(nbytes, time_us, nranks, collective="allreduce"):
    """`nbytes` is the size column: nccl-tests' convention, as every tool writes it."""
    if time_us <= 0:
        return 0.0
    return nbytes / (time_us * 1e3) * bus_factor(collective, nranks)


def human(nbytes):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if nbytes >= 1 << shift and nbytes % (1 << shift) == 0:
            return f"{nbytes >> shift} {unit}"
    return f"{nbytes} B"


def fmt(x, digits=2):
    return "—" if x is None else f"{x:.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def best_gloo(med, collective, nranks, nbytes):
    """(time, algorithm) of the fastest Gloo algorithm at this size, or (None, None)."""
    found = [(med[(collective, nranks, f"gloo:{a}")][nbytes], a)
             for a in GLOO_ALGORITHMS[collective]
             if nbytes in med.get((collective, nranks, f"gloo:{a}"), {})]
    return min(found) if found else (None, None)


def table(header, rows):
    """A markdown table: first column left-aligned, the numbers right-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    def line(cells):
        padded = [str(c).ljust(w) if i == 0 else str(c).rjust(w)
                  for i, (c, w) in enumerate(zip(cells, widths))]
        return "| " + " | ".join(padded) + " |"
    sep = "|:" + "-" * widths[0] + "-|" + "|".join("-" * (w + 1) + ":" for w in widths[1:]) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def tables_for(collective, nranks, med, args):
    get = lambda key, b: med.get((collective, nranks, key), {}).get(b)
    sizes = sorted({b for (c, n, _), per in med.items() if (c, n) == (collective, nranks)
                    for b in per})
    with_stream = collective == "allreduce"
    bw_rows, lat_rows = [], []
    for b in sizes:
        gccl, tcp, sm = get("gccl", b), get("mpi:tcp", b), get("mpi:sm", b)
        stream = get("stream", b)
        gloo, algo = best_gloo(med, collective, nranks, b)
        bw = lambda t: None if t is None else busbw(b, t, nranks, collective)
        bw_rows.append([human(b), fmt(bw(gccl)), f"{fmt(bw(gloo))} ({algo or '—'})",
                        fmt(bw(tcp)), fmt(bw(sm))]
                       + ([fmt(bw(stream))] if with_stream else [])
                       + [fmt(ratio(bw(gccl), bw(gloo))), fmt(ratio(bw(gccl), bw(tcp)))]
                       + ([fmt(ratio(bw(gccl), bw(stream)))] if with_stream else []))
        if b <= args.small_max:
            lat_rows.append([human(b), fmt(gccl, 1), f"{fmt(gloo, 1)} ({algo or '—'})",
                             fmt(tcp, 1), fmt(sm, 1), fmt(ratio(gloo, gccl)),
                             fmt(ratio(tcp, gccl))])
    mode = "in-place" if args.mode == "ip" else "out-of-place"
    # Allreduce alone keeps the titles it had before the other collectives.
    what = "" if args.collectives == ["allreduce"] else f"{collective}, "
    root = f", root {args.root}" if collective in ROOTED else ""
    title = f"### {what}{nranks} ranks{root} ({mode}, median of {args.reps} reps)"
    bw_table = table(["size", "gccl busbw", "best gloo busbw (algo)", "MPI-tcp busbw",
                      "MPI-sm busbw"] + (["TCP stream"] if with_stream else [])
                     + ["gccl/gloo", "gccl/MPI-tcp"] + (["gccl/stream"] if with_stream else []),
                     bw_rows)
    lat_table = table(["size", "gccl us", "best gloo us (algo)", "MPI-tcp us", "MPI-sm us",
                       "gloo/gccl", "MPI-tcp/gccl"], lat_rows)
    return (f"{title}\n\nBus bandwidth, GB/s (ratios > 1: gccl faster)\n\n{bw_table}\n\n"
            f"Latency up to {human(args.small_max)}, us (ratios > 1: gccl faster)\n\n{lat_table}\n")


def system_congestion():
    try:
        with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def memcpy_gbps(size=64 << 20, reps=5):
    """One core's memcpy of `size` bytes, best of `reps`: the ceiling of any transfer between
    the ranks of one machine."""
    src = ctypes.create_string_buffer(b"\1" * size, size)
    dst = ctypes.create_string_buffer(size)
    ctypes.memmove(dst, src, size)  # fault the pages in first
    best = min(timed(lambda: ctypes.memmove(dst, src, size)) for _ in range(reps))
    return size / best / 1e9


def timed(action):
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def preamble(args):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), platform.processor())
    env = " with " + NO_MMAP_TEXT if args.glibc_no_mmap else ""
    return (f"Host: {cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}.\n"
            f"Sweep: -b {args.b} -e {args.e} -f {args.f} -n {args.n} -w {args.w}{env}, "
            f"ranks {'bound, each to its own CPUs' if args.bind == 'cpus' else 'not bound'}. "
            "Gloo: TCP on 127.0.0.1; MPI: Open MPI, pml ob1, btl tcp (lo) or vader (sm). "
            "TCP stream: tcp_stream_perf, the same bytes per link over raw loopback TCP with "
            f"no reduction (what the wire allows), congestion control {args.stream_congestion}. "
            f"System congestion control: {system_congestion()}. "
            f"memcpy, one core, 64 MiB (the ceiling within a machine): {memcpy_gbps():.2f} GB/s.\n")


def run_times(seconds):
    rows = [[f"N={n} {label}", f"{statistics.median(v):.1f}"]
            for (n, label), v in sorted(seconds.items())]
    return "Seconds per tool run (median over reps)\n\n" + table(["run", "s"], rows) + "\n"


def main():
    args = parse_args()
    args.nps = [int(x) for x in args.np.split()]
    args.collectives = args.collectives.split()
    unknown = [c for c in args.collectives if c not in COLLECTIVES]
    if unknown:
        print(f"unknown collective(s) {' '.join(unknown)} (of: {' '.join(COLLECTIVES)})")
        return 2
    times, seconds = collect(args)
    med = median_times(times)
    text = preamble(args) + "\n" + "\n".join(tables_for(c, n, med, args)
                                              for c in args.collectives for n in args.nps)
    print("\n" + text + "\n" + run_times(seconds))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    if args.raw:
        # Allreduce's keys as before the other collectives: "4 gccl".
        raw = {(f"{n} {key}" if c == "allreduce" else f"{c} {n} {key}"): per
               for (c, n, key), per in med.items()}
        with open(args.raw, "w") as f:
            json.dump(raw, f, indent=1, sort_keys=True)
    return 0 if times else 1


if __name__ == "__main__":
    sys.exit(main())
