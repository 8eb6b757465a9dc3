#!/usr/bin/env python3
"""PyTorch's torch.distributed allreduce on the "gloo" backend, swept like gccl's allreduce_perf.

Issue 15's reference for GPU buffers: with --device cuda every rank's tensors live in GPU memory
(rank r on cuda:(r % device count), as gccl's allreduce_perf --device cuda places its ranks) and
ProcessGroupGloo stages them through host memory itself. --device cpu runs the same sweep on
host tensors, which is how it is tested on machines without a GPU.

Method, as gccl's tools and the other baselines (perf/baselines/README.md): sizes stepped as
gccl steps them; per size and mode one checked call on exact small-integer inputs (every rank
compares its whole output with the exact sum on the host), then -w warm-up and -n timed calls
back to back; a call's time is its maximum over ranks, the reported time the median call (the
upper one for even -n). For CUDA each timed call ends with torch.cuda.synchronize(), so it
includes the copies back into device memory.

Out-of-place: torch.distributed.all_reduce works in place only. Like gloo_allreduce_perf's, the
out-of-place column copies the input into a separate output tensor inside the timed call and
then allreduces that output in place; in-place allreduces the output alone. Compare in-place.

Each rank is pinned to its own block of the CPUs the launcher may use, as gccl's tools pin
theirs (perf/cpu_binding.h: floor(CPUs / ranks) each, or one CPU round robin when the ranks
outnumber them), every thread it has by then included; --bind none leaves them to the scheduler.

#wrong sums every rank's wrong elements; any wrong element makes the tool exit 1. The ranks are
local processes (spawned) meeting through a TCPStore on 127.0.0.1 that the parent holds. Every
rank and the parent are gone within --timeout seconds: the parent kills the ranks it started
(exit 124), and each rank also has an alarm and dies with its parent.

  python3 perf/baselines/torch_gloo_allreduce_perf.py --device cpu --np 2 -b 4 -e 16M -f 4
  python3 perf/baselines/torch_gloo_allreduce_perf.py --device cuda --np 4 -b 16M -e 64M \\
      -f 4 -n 10 -w 3 --json /tmp/torch_gloo.json
"""
import argparse
import ctypes
import datetime
import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
import traceback

try:
    import torch
    import torch.distributed as dist
except ImportError as e:  # a clear line rather than a traceback on a machine without PyTorch
    print(f"torch_gloo_allreduce_perf: cannot import torch ({e})", file=sys.stderr)
    sys.exit(2)

DTYPES = {"float32": torch.float32, "float16": torch.float16}
ITEMSIZE = {"float32": 4, "float16": 2}  # torch.dtype.itemsize is newer than some torch builds
# Inputs repeat every PERIOD elements, as perf/verifiable.cc's do: a prime, so that no slice
# or segment size lines them up, and data landing at a wrong offset is caught.
PERIOD = 251
EXIT_WRONG, EXIT_USAGE, EXIT_ERROR, EXIT_TIMEOUT = 1, 2, 3, 124


def parse_size(text):
    """"64M", "4K", "1.5G", "512B" (powers of 1024), as perf/byte_size.h reads them."""
    scales = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    body = text[:-1] if text.endswith("B") else text
    scale = scales.get(body[-1:].upper(), 1) if body else 1
    number = body[:-1] if scale != 1 else body
    try:
        value = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size: {text}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"bad size: {text}")
    return int(value * scale)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--np", type=int, default=2, help="local ranks (processes)")
    p.add_argument("-b", type=parse_size, default=parse_size("4"), help="min bytes")
    p.add_argument("-e", type=parse_size, default=parse_size("64M"), help="max bytes")
    p.add_argument("-f", type=float, default=2.0, help="size factor")
    p.add_argument("-n", type=int, default=20, help="timed calls per size and mode")
    p.add_argument("-w", type=int, default=5, help="warm-up calls per size and mode")
    p.add_argument("-d", choices=sorted(DTYPES), default="float32", help="data type")
    p.add_argument("--json", help="write the results as gccl's tools do")
    p.add_argument("--timeout", type=int, default=300, help="seconds for the whole run")
    p.add_argument("--bind", choices=["cpus", "none"], default="cpus",
                   help="pin each rank to its own CPUs, as gccl's tools do (default), or leave "
                        "the ranks to the scheduler")
    args = p.parse_args(argv)
    problems = [text for bad, text in [
        (args.np < 1, "--np must be >= 1"), (args.n < 1, "-n must be >= 1"),
        (args.w < 0, "-w must be >= 0"), (args.timeout < 1, "--timeout must be >= 1"),
        (args.b > args.e, "-b must not exceed -e"),
        (args.f <= 1.0 and args.b != args.e, "-f must be > 1"),
    ] if bad]
    if problems:
        p.error("; ".join(problems))
    return args


def sweep_sizes(args):
    """The row sizes in bytes, stepped exactly as perf/sweep.cc steps them."""
    sizes, size = [], float(args.b)
    while True:
        sizes.append(int(size))
        if size >= args.e or args.f <= 1.0:
            return sizes
        size = min(size * args.f, float(args.e))


# --- exact inputs and expected sums (perf/verifiable.cc's sum scheme) -------------------------

def value_bound(nranks):
    """Inputs stay below this, so that every partial sum is exact, even in float16."""
    return min(max(256 // nranks, 2), 16)


def input_value(rank, nranks, c):
    return ((c + 1) * (rank + 1) + rank) % value_bound(nranks)


def pattern(values, count, dtype):
    """`values` (one period) repeated to `count` elements, on the host."""
    period = torch.tensor(values, dtype=dtype)
    return period.repeat(count // PERIOD + 1)[:count].contiguous()


def rank_input(rank, nranks, count, dtype):
    return pattern([input_value(rank, nranks, c) for c in range(PERIOD)], count, dtype)


def expected_sum(nranks, count, dtype):
    sums = [sum(input_value(r, nranks, c) for r in range(nranks)) for c in range(PERIOD)]
    return pattern(sums, count, dtype)


# --- one rank ---------------------------------------------------------------------------------

class Rank:
    """One rank's sweep: buffers, the checked call, the timed calls, the report."""

    def __init__(self, rank, nranks, args, placement):
        self.rank, self.nranks, self.args, self.placement = rank, nranks, args, placement
        self.dtype, self.itemsize = DTYPES[args.d], ITEMSIZE[args.d]
        self.device = self._pick_device()
        max_count = max(args.e // self.itemsize, 1)
        self.input = rank_input(rank, nranks, max_count, self.dtype).to(self.device)
        self.output = torch.empty(max_count, dtype=self.dtype, device=self.device)
        self.expected = expected_sum(nranks, max_count, self.dtype)  # host: checked there

    def _pick_device(self):
        if self.args.device == "cpu":
            return torch.device("cpu")
        # One GPU per rank where there are enough; several ranks share one where not (gloo,
        # unlike NCCL, does not refuse that).
        index = self.rank % torch.cuda.device_count()
        torch.cuda.set_device(index)
        return torch.device("cuda", index)

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def call(self, count, in_place):
        out = self.output[:count]
        if not in_place:
            out.copy_(self.input[:count])  # out-of-place: see the module docstring
        dist.all_reduce(out, op=dist.ReduceOp.SUM)

    def check(self, count, in_place):
        """One call on freshly placed inputs; returns all ranks' wrong elements together."""
        out = self.output[:count]
        out.fill_(-1)  # no sum of these inputs is -1: what the call does not write is wrong
        if in_place:
            out.copy_(self.input[:count])
        self.call(count, in_place)
        self.sync()
        wrong = int((out.cpu() != self.expected[:count]).sum())
        if wrong:
            mode = "in-place" if in_place else "out-of-place"
            print(f"rank {self.rank}: {wrong} wrong elements at {count * self.itemsize} "
                  f"bytes ({mode})", file=sys.stderr, flush=True)
        return int(self.across_ranks(torch.tensor([wrong], dtype=torch.int64),
                                     dist.ReduceOp.SUM)[0])

    @staticmethod
    def across_ranks(values, op):
        """Bookkeeping through the backend under test, on host tensors, after the timed calls."""
        dist.all_reduce(values, op=op)
        return values

    def time_mode(self, count, in_place):
        """{time_us, algbw, busbw, wrong} of one size and mode."""
        wrong = self.check(count, in_place)
        if in_place:
            self.output[:count].copy_(self.input[:count])
        for _ in range(self.args.w):
            self.call(count, in_place)
        self.sync()
        times = []
        for _ in range(self.args.n):
            start = time.perf_counter()
            self.call(count, in_place)
            self.sync()
            times.append((time.perf_counter() - start) * 1e6)
        slowest = self.across_ranks(torch.tensor(times, dtype=torch.float64), dist.ReduceOp.MAX)
        return timing(count * self.itemsize, sorted(slowest.tolist()), self.nranks, wrong)

    def sweep(self, all_bound):
        """Every row; rank 0 prints them (`all_bound`: whether every rank runs where the
        placement meant it to). Returns the rows."""
        if self.rank == 0:
            print_header(self.args, self.nranks, self.placement, all_bound)
        rows = []
        for size in sweep_sizes(self.args):
            count = size // self.itemsize
            if count == 0:  # below one element: nothing to reduce (gccl prints a 0-count row)
                continue
            row = {"bytes": count * self.itemsize, "count": count,
                   "oop": self.time_mode(count, False), "ip": self.time_mode(count, True)}
            rows.append(row)
            if self.rank == 0:
                print_row(self.args, row)
        if self.rank == 0:
            print_footer(rows)
        return rows


def timing(nbytes, sorted_times_us, nranks, wrong):
    median = sorted_times_us[len(sorted_times_us) // 2]  # the upper median, as gccl takes it
    algbw = nbytes / (median * 1e3) if median > 0 else 0.0
    return {"time_us": round(median, 3), "algbw": round(algbw, 6),
            "busbw": round(algbw * 2 * (nranks - 1) / nranks, 6), "wrong": wrong}


# --- report: gccl's table (perf/table_header.h, perf/report.cc) and JSON ----------------------

def print_header(args, nranks, ranks, all_bound):
    print(f"# torch.distributed allreduce_perf: nranks {nranks}, dtype {args.d}, op sum, "
          f"backend gloo, device {args.device}, iters {args.n}, warmup {args.w}, check 1")
    print(f"# torch {torch.__version__}{device_note(args, nranks)}")
    print(f"# {describe(ranks, all_bound)}")
    print("# out-of-place: input copied into the output inside the timed call, then allreduced "
          "in place\n# (torch's allreduce is in place only). #wrong: wrong elements over all "
          "ranks' outputs.")
    print("#")
    print("#%47s%37s" % ("out-of-place", "in-place"))
    fmt = "#%11s %12s %8s %6s %8s %8s %8s %7s %8s %8s %8s %7s"
    print(fmt % ("size", "count", "type", "redop", "time", "algbw", "busbw", "#wrong",
                 "time", "algbw", "busbw", "#wrong"))
    print(fmt % ("(B)", "(elements)", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)",
                 "(GB/s)", ""), flush=True)


def device_note(args, nranks):
    if args.device != "cuda":
        return ""
    count = torch.cuda.device_count()
    names = sorted({torch.cuda.get_device_name(i) for i in range(count)})
    return (f", {count} GPU(s): {', '.join(names)}; rank r on cuda:(r % {count}), "
            f"{(nranks + count - 1) // count} rank(s) per GPU at most")


def print_row(args, row):
    cells = " %11d %12d %8s %6s" % (row["bytes"], row["count"], args.d, "sum")
    for mode in ("oop", "ip"):
        t = row[mode]
        cells += " %8.2f %8.3f %8.3f %7d" % (t["time_us"], t["algbw"], t["busbw"], t["wrong"])
    print(cells, flush=True)


def print_footer(rows):
    wrong = sum(r["oop"]["wrong"] + r["ip"]["wrong"] for r in rows)
    avg = sum((r["oop"]["busbw"] + r["ip"]["busbw"]) / 2 for r in rows) / max(len(rows), 1)
    print(f"# Out of bounds values : {wrong} {'OK' if wrong == 0 else 'FAILED'} (all ranks)")
    print(f"# Avg bus bandwidth    : {avg:.4f}", flush=True)


def write_json(path, args, nranks, rows):
    run = {"library": "torch-gloo", "algorithm": "gloo", "transport": args.device,
           "device": args.device, "torch": torch.__version__, "nranks": nranks,
           "dtype": args.d, "op": "sum", "results": rows}
    with open(path, "w") as f:
        json.dump(run, f)
        f.write("\n")


# --- where the ranks run (perf/cpu_binding.h's placement) -------------------------------------

def placement(cpus, nranks):
    """Per rank, the CPUs it is pinned to: the r-th block of floor(len(cpus) / nranks) of
    `cpus`, or with more ranks than CPUs the r-th CPU round robin; empty sets without CPUs."""
    if not cpus or nranks < 1:
        return [[] for _ in range(max(nranks, 0))]
    block = len(cpus) // nranks if nranks <= len(cpus) else 1
    return [[cpus[(r * block + i) % len(cpus)] for i in range(block)] for r in range(nranks)]


def placement_for(bind, nranks):
    return placement(sorted(os.sched_getaffinity(0)) if bind == "cpus" else [], nranks)


def cpu_list(cpus):
    """"0-3,6": consecutive runs as ranges."""
    runs = []
    for cpu in cpus:
        if runs and cpu == runs[-1][1] + 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def describe(ranks, all_bound=True):
    """The header's line on placement; `all_bound` False: some rank's binding was refused."""
    if not ranks or any(not cpus for cpus in ranks):
        return "ranks not bound to CPUs"
    cpus = " ".join(cpu_list(cpus) for cpus in ranks)
    if not all_bound:
        return "ranks meant for CPUs " + cpus + ", not all bound (see stderr)"
    return "ranks bound to CPUs " + cpus


def bind_rank(rank, cpus):
    """Pins every thread of this rank to `cpus`: the spawned child imported torch before this
    runs, and a math library may have started its pool then (threads started later inherit the
    mask). Warns and goes on if refused: an unbound rank measures correctly, only less
    repeatably. Returns whether the rank runs where the placement meant it to."""
    if not cpus:
        return True
    try:
        for tid in sorted(int(t) for t in os.listdir("/proc/self/task")):
            try:
                os.sched_setaffinity(tid, cpus)
            except ProcessLookupError:
                pass  # that thread has ended since the listing
        if sorted(os.sched_getaffinity(0)) != sorted(set(cpus)):
            raise OSError("the affinity mask read back differs from the one set")
    except OSError as e:
        print(f"rank {rank}: not bound: {e}", file=sys.stderr, flush=True)
        return False
    return True


# --- processes --------------------------------------------------------------------------------

def die_with_parent(parent_pid, timeout):
    """A rank must not outlive its launcher (killed by `timeout`, say) nor the run's bound."""
    try:
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass  # not glibc/Linux: the alarm below still bounds the rank
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(EXIT_TIMEOUT)
    signal.alarm(timeout)  # SIGALRM's default action ends the process


def run_rank(rank, nranks, port, args, ranks, bound_here):
    """Joins the group, sweeps, and returns the wrong elements of all ranks."""
    cpus = ranks[rank]
    # Ranks share the machine's cores; PyTorch's own threads would oversubscribe them.
    torch.set_num_threads(len(cpus) if cpus else max(1, (os.cpu_count() or 1) // nranks))
    bound = datetime.timedelta(seconds=args.timeout)
    store = dist.TCPStore("127.0.0.1", port, nranks + 1, False, bound)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=nranks, timeout=bound)
    all_bound = Rank.across_ranks(torch.tensor([int(bound_here)]), dist.ReduceOp.MIN)[0] == 1
    rows = Rank(rank, nranks, args, ranks).sweep(all_bound)
    if rank == 0 and args.json:
        write_json(args.json, args, nranks, rows)
    dist.barrier()  # no peer still reads this rank's tensors when the group goes
    dist.destroy_process_group()
    return sum(r["oop"]["wrong"] + r["ip"]["wrong"] for r in rows)


def rank_main(rank, nranks, port, args, parent_pid, ranks):
    """`ranks`: every rank's CPUs (placement()), so that rank 0's header can print them."""
    die_with_parent(parent_pid, args.timeout)
    bound_here = bind_rank(rank, ranks[rank])
    try:
        wrong = run_rank(rank, nranks, port, args, ranks, bound_here)
    except Exception:  # an error, not wrong results: its own exit code, and the trace
        print(f"rank {rank} failed:", file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(EXIT_ERROR)  # skip torch's atexit handlers, which may wait on dead peers
    sys.exit(EXIT_WRONG if wrong else 0)


def cuda_problem():
    """Why --device cuda cannot run here, or None."""
    if torch.cuda.is_available():
        return None
    built = torch.version.cuda or "none (a CPU-only build)"
    return f"--device cuda: no usable CUDA device (torch {torch.__version__}, CUDA {built})"


def stop(procs):
    for p in procs:
        if p.is_alive():
            p.kill()
    for p in procs:
        p.join(5)


def wait_all(procs, deadline, tool="torch_gloo_allreduce_perf"):
    """Exit code of the run: 0, 1 when every rank finished but some elements were wrong, a
    failed rank's code (the others are then stopped by the caller at once), or 124."""
    pending, code = list(procs), 0
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            return EXIT_TIMEOUT
        multiprocessing.connection.wait([p.sentinel for p in pending], timeout=left)
        for p in [p for p in pending if not p.is_alive()]:
            p.join()
            pending.remove(p)
            if p.exitcode == EXIT_WRONG:  # the sweep ran to its end: let the others finish too
                code = EXIT_WRONG
            elif p.exitcode != 0:  # an error, or < 0: killed by a signal
                print(f"{tool}: {p.name} failed (exit {p.exitcode}); stopping the other "
                      "ranks", file=sys.stderr, flush=True)
                return p.exitcode if p.exitcode > 0 else EXIT_ERROR
    return code


def launch(args):
    problem = cuda_problem() if args.device == "cuda" else None
    if not dist.is_available() or not dist.is_gloo_available():
        problem = "this torch build has no gloo backend"
    if problem:
        print(f"torch_gloo_allreduce_perf: {problem}", file=sys.stderr)
        return EXIT_USAGE
    deadline = time.monotonic() + args.timeout
    bound = datetime.timedelta(seconds=args.timeout)
    # Port 0: the kernel picks a free one, so concurrent runs cannot collide. The parent counts
    # as one more store client (world size nranks + 1) but does not wait for the ranks.
    store = dist.TCPStore("127.0.0.1", 0, args.np + 1, True, bound, wait_for_workers=False)
    context = multiprocessing.get_context("spawn")  # CUDA cannot be used in a forked child
    ranks = placement_for(args.bind, args.np)
    procs = [context.Process(target=rank_main, name=f"rank {r}",
                             args=(r, args.np, store.port, args, os.getpid(), ranks))
             for r in range(args.np)]
    # `timeout` sends SIGTERM; turn it into an exit that runs the `finally` below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        for p in procs:
            p.start()
        code = wait_all(procs, deadline)
        if code == EXIT_TIMEOUT:
            print(f"torch_gloo_allreduce_perf: timed out after {args.timeout} s; killing the "
                  "ranks", file=sys.stderr, flush=True)
        return code
    finally:
        stop(procs)
        del store


def main():
    return launch(parse_args())


if __name__ == "__main__":
    sys.exit(main())
