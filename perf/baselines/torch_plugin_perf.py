#!/usr/bin/env python3
"""gccl's PyTorch plugin (gccl.torch) beside torch.distributed's gloo backend, in the same
rank processes, on the same host tensors.

Part 1, allreduce: one float32 tensor per call, sizes stepped as gccl's tools step them (-b -e
-f); per size and library one checked call on exact small-integer inputs (every rank compares
its whole output with the exact sum), then -w warm-up and -n timed calls back to back, in
place: gccl.torch.allreduce_(t, op=Sum), torch.distributed.all_reduce(t) on a "gccl" process
group (gccl's torch.distributed backend) and on "gloo". A call's time is its maximum over ranks,
the reported time the median call (the upper one for even -n), as
perf/baselines/torch_gloo_allreduce_perf.py takes them (its helpers are reused). The libraries
take turns size by size, which one goes first rotating.

Part 2, a data-parallel training step: a stack of --layers Linear(width, width) layers with
biases (2 x layers parameter tensors; 40 x 576: 13.3 M parameters, 80 tensors) under SGD with
momentum, one forward + backward + optimizer.step() on --batch samples per rank, each rank its
own samples (--batch 4 by default: communication then weighs more beside the compute).
Variants, each on a model of its own (--variants picks some), in this order:
  floor-all       no communication, every rank at once (compute under the same CPU sharing)
  floor-solo      no communication, rank 0 alone while the others sleep in a gloo barrier
  gccl-opt        gccl.torch.DistributedOptimizer (bucketed, overlapped with backward), fp32
  ddp-gloo        torch.nn.parallel.DistributedDataParallel on the gloo process group
  ddp-gccl        the same DDP on a "gccl" process group (gccl's torch.distributed backend)
  gccl-opt-fp16   DistributedOptimizer with compression=Compression.fp16
  naive-gccl      after backward, gccl.torch.allreduce_(p.grad) (average) tensor by tensor
  naive-gloo      after backward, dist.all_reduce(p.grad) then p.grad /= n, tensor by tensor
Every variant's model is built and given --warmup-steps untimed steps first, and all stay
alive; then --rounds rounds each run a block of --steps timed steps of every variant, back to
back from a common start (a gloo barrier), the list's order in even rounds and reversed in odd
ones, so that drift on a shared machine falls on every variant alike. A step's time is its
maximum over ranks, the reported time the median of all blocks' steps (each block's median is
printed too). The distributed variants start from rank 0's weights (each broadcasts them its
own way; every rank draws different ones before) and see the same data. After the rounds every
rank hashes each distributed variant's parameters (SHA-256 of their bytes): the hashes must
all be equal, or the tool exits 1. The table also gives the largest parameter difference from
ddp-gloo's result (float32 rounding, or fp16's), which shows that every variant averages
alike. The ratios printed are gloo's median over gccl's: DDP against DistributedOptimizer
(fp32 and fp16), DDP on gloo against DDP on gccl, and the two per-tensor loops.

Each rank is pinned to its own block of the CPUs (one CPU round robin when ranks outnumber
them) with as many torch threads, as the other baselines do (--bind none: unpinned). gccl's
ranks meet through its TCP store (GCCL_ROOT_PORT, a port that was free a moment before) and
talk over its default transport (shared memory within one machine); gloo's meet through a
TCPStore the parent holds and talk over loopback TCP. Every rank and the parent are gone within
--timeout seconds (exit 124); a rank's error exits 3, wrong results or diverged parameters 1.

  /usr/bin/python3 perf/baselines/torch_plugin_perf.py --np 4 -b 4 -e 64M -f 4 -n 10 -w 3 \\
      --json /tmp/torch_plugin.json        # about 2 minutes with 4 ranks on 2 vCPUs
  /usr/bin/python3 perf/baselines/torch_plugin_perf.py --np 2 --parts train --rounds 2

libgccl.so: GCCL_LIBRARY, else where gccl's Python package looks (the checkout's build/lib).
"""
import argparse
import datetime
import gc
import hashlib
import json
import multiprocessing
import os
import pathlib
import signal
import socket
import sys
import time
import traceback

STARTED = time.monotonic()  # --timeout counts from here, before torch is imported
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the gloo baseline's helpers (spawned ranks import this too)
PYTHON_DIR = HERE.parents[1] / "python"
if (PYTHON_DIR / "gccl").is_dir() and str(PYTHON_DIR) not in sys.path:
    sys.path.insert(1, str(PYTHON_DIR))  # the checkout's gccl package

import torch_gloo_allreduce_perf as base  # noqa: E402  (exits 2 without torch)
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

EXIT_WRONG, EXIT_USAGE, EXIT_ERROR, EXIT_TIMEOUT = 1, 2, 3, 124
VARIANTS = ["floor-all", "floor-solo", "gccl-opt", "ddp-gloo", "ddp-gccl", "gccl-opt-fp16",
            "naive-gccl", "naive-gloo"]
DESCRIPTION = {
    "floor-all": "compute only, all ranks at once",
    "floor-solo": "compute only, rank 0 alone",
    "gccl-opt": "gccl.torch DistributedOptimizer fp32",
    "ddp-gloo": "torch DDP, gloo",
    "ddp-gccl": "torch DDP, gccl process group",
    "gccl-opt-fp16": "gccl.torch DistributedOptimizer fp16",
    "naive-gccl": "per-tensor gccl.torch.allreduce_",
    "naive-gloo": "per-tensor dist.all_reduce (gloo)",
}
# (gloo variant, gccl variant) pairs whose ratio the report gives.
PAIRS = [("ddp-gloo", "gccl-opt"), ("ddp-gloo", "gccl-opt-fp16"), ("ddp-gloo", "ddp-gccl"),
         ("naive-gloo", "naive-gccl")]
# part 1's libraries: gccl.torch's own call, torch's all_reduce on a gccl group, on gloo.
LIBRARIES = ("gccl", "torch-gccl", "gloo")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--np", type=int, default=4, help="local ranks (processes)")
    p.add_argument("-b", type=base.parse_size, default=base.parse_size("4"), help="min bytes")
    p.add_argument("-e", type=base.parse_size, default=base.parse_size("64M"), help="max bytes")
    p.add_argument("-f", type=float, default=4.0, help="size factor")
    p.add_argument("-n", type=int, default=20, help="timed allreduce calls per size and library")
    p.add_argument("-w", type=int, default=5, help="warm-up allreduce calls per size and library")
    p.add_argument("--steps", type=int, default=5,
                   help="timed training steps per variant and round")
    p.add_argument("--warmup-steps", type=int, default=3, help="untimed steps before them")
    p.add_argument("--rounds", type=int, default=4,
                   help="rounds over all variants, so that drift on a shared machine falls on "
                        "every variant alike; the median pools their steps")
    p.add_argument("--layers", type=int, default=40, help="Linear layers of the model")
    p.add_argument("--width", type=int, default=576, help="their input and output features")
    p.add_argument("--batch", type=int, default=4, help="samples per rank and step")
    p.add_argument("--bucket-mb", type=float, default=25.0,
                   help="DistributedOptimizer's bucket_bytes and DDP's bucket_cap_mb (MiB)")
    p.add_argument("--parts", choices=["all", "allreduce", "train"], default="all")
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help="training variants, comma-separated, of: " + ",".join(VARIANTS))
    p.add_argument("--json", help="write the results here")
    p.add_argument("--timeout", type=int, default=300, help="seconds for the whole run")
    p.add_argument("--bind", choices=["cpus", "none"], default="cpus",
                   help="pin each rank to its own CPUs (default), or leave them to the scheduler")
    args = p.parse_args(argv)
    args.d = "float32"  # what the reused helpers read
    args.variant_list = [v for v in args.variants.split(",") if v]
    problems = [text for bad, text in [
        (args.np < 1, "--np must be >= 1"), (args.n < 1, "-n must be >= 1"),
        (args.w < 0, "-w must be >= 0"), (args.timeout < 1, "--timeout must be >= 1"),
        (args.b > args.e, "-b must not exceed -e"),
        (args.f <= 1.0 and args.b != args.e, "-f must be > 1"),
        (args.steps < 1, "--steps must be >= 1"), (args.rounds < 1, "--rounds must be >= 1"),
        (args.warmup_steps < 0, "--warmup-steps must be >= 0"),
        (args.layers < 1 or args.width < 1 or args.batch < 1,
         "--layers, --width and --batch must be >= 1"),
        (any(v not in VARIANTS for v in args.variant_list),
         "--variants: each of " + ",".join(VARIANTS)),
    ] if bad]
    if problems:
        p.error("; ".join(problems))
    return args


def upper_median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def slowest(times):
    """Each entry's maximum over ranks, through gloo (bookkeeping, after the timed calls)."""
    t = torch.tensor(times, dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.tolist()


def total(value):
    t = torch.tensor([value], dtype=torch.int64)
    dist.all_reduce(t)
    return int(t[0])


# --- part 1: allreduce --------------------------------------------------------------------

class Allreduce:
    def __init__(self, hvd, group, rank, nranks, args):
        self.hvd, self.group, self.rank, self.nranks, self.args = hvd, group, rank, nranks, args
        count = max(args.e // 4, 1)
        self.input = base.rank_input(rank, nranks, count, torch.float32)
        self.expected = base.expected_sum(nranks, count, torch.float32)
        self.buffer = torch.empty(count, dtype=torch.float32)

    def call(self, library, t):
        if library == "gccl":
            self.hvd.allreduce_(t, op=self.hvd.Sum)
        elif library == "torch-gccl":
            dist.all_reduce(t, op=dist.ReduceOp.SUM, group=self.group)
        else:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)

    def time_library(self, library, count):
        t = self.buffer[:count]
        t.copy_(self.input[:count])
        self.call(library, t)
        wrong = int((t != self.expected[:count]).sum())
        if wrong:
            print(f"rank {self.rank}: {library}: {wrong} wrong elements at {count * 4} bytes",
                  file=sys.stderr, flush=True)
        wrong = total(wrong)
        for _ in range(self.args.w):
            self.call(library, t)
        times = []
        for _ in range(self.args.n):
            start = time.perf_counter()
            self.call(library, t)
            times.append((time.perf_counter() - start) * 1e6)
        return base.timing(count * 4, sorted(slowest(times)), self.nranks, wrong)

    def sweep(self):
        rows = []
        sizes = [s for s in base.sweep_sizes(self.args) if s // 4]
        for index, size in enumerate(sizes):
            count = size // 4
            shift = index % len(LIBRARIES)
            order = LIBRARIES[shift:] + LIBRARIES[:shift]
            row = {"bytes": count * 4, "count": count, "first": order[0]}
            for library in order:
                row[library] = self.time_library(library, count)
            gloo_t = row["gloo"]["time_us"]
            for library in ("gccl", "torch-gccl"):
                t = row[library]["time_us"]
                row[f"gloo_over_{library}"] = round(gloo_t / t, 3) if t > 0 else None
            rows.append(row)
            if self.rank == 0:
                print_allreduce_row(row)
        return rows


def print_allreduce_header(args, nranks):
    print(f"\n## allreduce, float32 sum, in place, {nranks} ranks: median of {args.n} calls "
          f"(each the slowest rank's), after {args.w} warm-up; one exact check per size\n")
    print("| size (B) | gccl.torch.allreduce_ (us) | all_reduce, gccl group (us) "
          "| all_reduce, gloo (us) | gloo/gccl | gloo/gccl group | gccl busbw (GB/s) "
          "| gccl group busbw (GB/s) | gloo busbw (GB/s) | #wrong gccl, gccl group, gloo |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)


def print_allreduce_row(row):
    g, t, o = row["gccl"], row["torch-gccl"], row["gloo"]

    def ratio(key):
        return "n/a" if row[key] is None else f"{row[key]:.2f}"

    print(f"| {row['bytes']} | {g['time_us']:.1f} | {t['time_us']:.1f} | {o['time_us']:.1f} "
          f"| {ratio('gloo_over_gccl')} | {ratio('gloo_over_torch-gccl')} | {g['busbw']:.3f} "
          f"| {t['busbw']:.3f} | {o['busbw']:.3f} | {g['wrong']}, {t['wrong']}, {o['wrong']} |",
          flush=True)


# --- part 2: training step ----------------------------------------------------------------

def make_model(args, seed):
    torch.manual_seed(seed)
    layers = []
    for i in range(args.layers):
        layers.append(torch.nn.Linear(args.width, args.width))
        if i + 1 < args.layers:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def make_batches(args, rank, how_many=4):
    """This rank's samples: its own, so that the ranks' gradients differ."""
    g = torch.Generator().manual_seed(12345 + rank)
    return [(torch.randn(args.batch, args.width, generator=g),
             torch.randn(args.batch, args.width, generator=g)) for _ in range(how_many)]


def flat_parameters(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


class Trainer:
    def __init__(self, hvd, group, rank, nranks, args):
        self.hvd, self.group, self.rank, self.nranks, self.args = hvd, group, rank, nranks, args
        self.batches = make_batches(args, rank)
        self.finals = {}  # rank 0: variant -> final parameters

    def build(self, variant):
        """(model to call, its parameters' owner, optimizer, after-backward hook)."""
        args, hvd, n = self.args, self.hvd, self.nranks
        # Different weights on every rank until the variant's own broadcast makes them equal.
        model = make_model(args, 1000 + (self.rank if variant.startswith(("gccl", "naive", "ddp"))
                                         else 0))
        sgd = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        if variant in ("gccl-opt", "gccl-opt-fp16", "naive-gccl"):
            hvd.broadcast_parameters(model.state_dict(), root_rank=0)
        if variant == "naive-gloo":
            for p in model.state_dict().values():
                dist.broadcast(p, src=0)
        if variant in ("gccl-opt", "gccl-opt-fp16"):
            compression = hvd.Compression.fp16 if variant.endswith("fp16") else \
                hvd.Compression.none
            sgd = hvd.DistributedOptimizer(sgd, model.named_parameters(), compression=compression,
                                           bucket_bytes=int(args.bucket_mb * (1 << 20)))

        def gccl_loop():
            for p in model.parameters():
                hvd.allreduce_(p.grad)  # the average, Horovod's default

        def gloo_loop():
            for p in model.parameters():
                dist.all_reduce(p.grad)  # gloo has no average: the sum, then divided
                p.grad.div_(n)

        after_backward = {"naive-gccl": gccl_loop, "naive-gloo": gloo_loop}.get(variant)
        runner = model
        if variant in ("ddp-gloo", "ddp-gccl"):  # broadcasts rank 0's parameters itself
            group = self.group if variant == "ddp-gccl" else None
            runner = torch.nn.parallel.DistributedDataParallel(
                model, bucket_cap_mb=args.bucket_mb, process_group=group)
        return runner, model, sgd, after_backward

    def step(self, setup, i):
        runner, _, optimizer, after_backward = setup
        x, y = self.batches[i % len(self.batches)]
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(runner(x), y).backward()
        if after_backward is not None:
            after_backward()
        optimizer.step()

    def steps(self, variant, setup, count, first):
        """`count` steps of `variant` back to back, from a common start; their times (ms), each
        the slowest rank's. floor-solo: rank 0 steps, the others sleep in gloo's barrier."""
        dist.barrier()
        times = []
        if variant != "floor-solo" or self.rank == 0:
            for i in range(first, first + count):
                start = time.perf_counter()
                self.step(setup, i)
                times.append((time.perf_counter() - start) * 1e3)
        else:
            times = [0.0] * count
        dist.barrier()
        return slowest(times) if count else []

    def check(self, variant, model):
        """{finite, identical}: whether every rank's parameters are finite, and (distributed
        variants) the same bits on every rank."""
        params = flat_parameters(model)
        result = {"finite": total(int(not torch.isfinite(params).all())) == 0,
                  "identical": None}  # floors: no communication, the ranks' parameters differ
        if not variant.startswith("floor"):
            digest = torch.tensor(list(hashlib.sha256(params.numpy().tobytes()).digest()),
                                  dtype=torch.uint8)
            digests = [torch.empty_like(digest) for _ in range(self.nranks)]
            dist.all_gather(digests, digest)
            result["identical"] = all(torch.equal(d, digests[0]) for d in digests)
            if not result["identical"] and self.rank == 0:
                print(f"{variant}: the ranks' parameters differ after training (hashes "
                      f"{sorted({bytes(d.tolist()).hex()[:16] for d in digests})})",
                      file=sys.stderr, flush=True)
            if self.rank == 0:
                self.finals[variant] = params.clone()
        return result

    def sweep(self):
        """Every variant's model is built and warmed up first and stays alive; then each round
        runs a block of --steps steps of every variant, in the list's order in even rounds and
        reversed in odd ones."""
        args, variants = self.args, self.args.variant_list
        setups, done, times = {}, {}, {v: [] for v in variants}
        for v in variants:
            setups[v] = self.build(v)
            self.steps(v, setups[v], args.warmup_steps, 0)
            done[v] = args.warmup_steps
        for r in range(args.rounds):
            for v in (variants if r % 2 == 0 else variants[::-1]):
                times[v].append(self.steps(v, setups[v], args.steps, done[v]))
                done[v] += args.steps
        results = []
        for v in variants:
            pooled = [t for block in times[v] for t in block]
            results.append({
                "variant": v, "what": DESCRIPTION[v], "median_ms": round(upper_median(pooled), 3),
                "min_ms": round(min(pooled), 3), "max_ms": round(max(pooled), 3),
                "round_medians_ms": [round(upper_median(b), 3) for b in times[v]],
                "times_ms": [[round(t, 3) for t in b] for b in times[v]],
                **self.check(v, setups[v][1])})
        setups.clear()
        gc.collect()  # the gccl optimizers' pools go now, before gccl shuts down
        if self.rank == 0 and "ddp-gloo" in self.finals:
            ref = self.finals["ddp-gloo"]
            for r in results:
                if r["variant"] in self.finals:
                    diff = (self.finals[r["variant"]] - ref).abs().max()
                    r["max_abs_diff_vs_ddp"] = float(diff)
        return results


def model_summary(args):
    params = args.layers * (args.width * args.width + args.width)
    return {"layers": args.layers, "width": args.width, "tensors": 2 * args.layers,
            "parameters": params, "gradient_bytes": 4 * params, "batch_per_rank": args.batch,
            "optimizer": "SGD(lr=0.01, momentum=0.9)", "bucket_mb": args.bucket_mb}


def print_train_table(args, nranks, results):
    m = model_summary(args)
    print(f"\n## training step, {nranks} ranks: {m['layers']} x Linear({m['width']}, "
          f"{m['width']}) + ReLU, {m['parameters'] / 1e6:.1f} M parameters in {m['tensors']} "
          f"tensors ({m['gradient_bytes'] / (1 << 20):.1f} MiB of fp32 gradients), batch "
          f"{m['batch_per_rank']} per rank, SGD momentum 0.9, buckets {args.bucket_mb:g} MiB; "
          f"median of {args.rounds} rounds x {args.steps} steps (each the slowest rank's), "
          f"after {args.warmup_steps} warm-up steps\n")
    floor = next((r["median_ms"] for r in results if r["variant"] == "floor-all"), None)
    print("| variant | what | median (ms) | min (ms) | max (ms) | block medians (ms) "
          "| minus floor-all (ms) | identical on all ranks | max abs diff vs ddp-gloo |")
    print("|---|---|---:|---:|---:|---|---:|---|---:|")
    for r in results:
        over = "" if floor is None or r["variant"].startswith("floor") else \
            f"{r['median_ms'] - floor:.1f}"
        same = {None: "n/a", True: "yes", False: "**NO**"}[r["identical"]]
        diff = r.get("max_abs_diff_vs_ddp")
        rounds = " / ".join(f"{m:.0f}" if m >= 100 else f"{m:.1f}" for m in r["round_medians_ms"])
        print(f"| {r['variant']} | {r['what']} | {r['median_ms']:.1f} | {r['min_ms']:.1f} "
              f"| {r['max_ms']:.1f} | {rounds} | {over} | {same} | "
              f"{'' if diff is None else f'{diff:.2e}'} |")
    by = {r["variant"]: r for r in results}
    lines = []
    for gloo_v, gccl_v in PAIRS:
        if gloo_v in by and gccl_v in by:
            a, b = by[gloo_v]["median_ms"], by[gccl_v]["median_ms"]
            text = f"- {gloo_v} / {gccl_v}: {a / b:.2f}"
            if floor is not None:  # a ratio of these would blow up when gccl's is near 0
                text += f" (beyond floor-all: {a - floor:.1f} ms and {b - floor:.1f} ms)"
            lines.append(text)
    if lines:
        print("\nratios gloo/gccl of the median step times:\n" + "\n".join(lines))
    sys.stdout.flush()


def ratios(results):
    by = {r["variant"]: r["median_ms"] for r in results}
    return {f"{a}/{b}": round(by[a] / by[b], 3) for a, b in PAIRS if a in by and b in by}


# --- one rank -------------------------------------------------------------------------------

def run_rank(rank, nranks, args, ranks, bound_here, gloo_port, gccl_port, machine_cpus):
    cpus = ranks[rank]
    torch.set_num_threads(len(cpus) if cpus else max(1, (os.cpu_count() or 1) // nranks))
    os.environ.update(GCCL_RANK=str(rank), GCCL_WORLD_SIZE=str(nranks),
                      GCCL_ROOT_ADDR="127.0.0.1", GCCL_ROOT_PORT=str(gccl_port))
    import gccl.torch as hvd  # after pinning: gccl's threads inherit this rank's CPUs
    bound = datetime.timedelta(seconds=args.timeout)
    store = dist.TCPStore("127.0.0.1", gloo_port, nranks + 1, False, bound)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=nranks, timeout=bound)
    hvd.init()
    assert hvd.size() == nranks and hvd.rank() == rank
    group = dist.new_group(backend="gccl")  # gccl's torch.distributed backend, every rank
    all_bound = total(int(bound_here)) == nranks
    if rank == 0:
        print(f"# torch_plugin_perf: {nranks} ranks, torch {torch.__version__}, "
              f"{machine_cpus} usable CPUs; {base.describe(ranks, all_bound)}, "
              f"{torch.get_num_threads()} torch thread(s) each")
        if nranks > machine_cpus:
            print(f"# {nranks} ranks share {machine_cpus} CPUs: ranks take turns on cores, and "
                  "every figure (compute included) reflects that", flush=True)
    out = {"tool": "torch_plugin_perf", "torch": torch.__version__, "nranks": nranks,
           "cpus": machine_cpus, "placement": ranks, "all_bound": all_bound}
    bad = 0
    if args.parts in ("all", "allreduce"):
        if rank == 0:
            print_allreduce_header(args, nranks)
        rows = Allreduce(hvd, group, rank, nranks, args).sweep()
        out["allreduce"] = {"dtype": "float32", "op": "sum", "mode": "in-place",
                            "iters": args.n, "warmup": args.w, "results": rows}
        bad += sum(r[library]["wrong"] for r in rows for library in LIBRARIES)
    if args.parts in ("all", "train"):
        results = Trainer(hvd, group, rank, nranks, args).sweep()
        if rank == 0:
            print_train_table(args, nranks, results)
        out["train"] = {"model": model_summary(args), "steps": args.steps,
                        "rounds": args.rounds, "warmup_steps": args.warmup_steps,
                        "results": results,
                        "gloo_over_gccl": ratios(results)}
        bad += sum(1 for r in results if r["identical"] is False or not r["finite"])
    if rank == 0 and args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
    hvd.shutdown()
    group.shutdown()
    dist.barrier()  # no peer still reads this rank's tensors when the group goes
    dist.destroy_process_group()
    return bad


def rank_main(rank, nranks, args, parent_pid, ranks, gloo_port, gccl_port, machine_cpus):
    base.die_with_parent(parent_pid, args.timeout)
    bound_here = base.bind_rank(rank, ranks[rank])
    try:
        bad = run_rank(rank, nranks, args, ranks, bound_here, gloo_port, gccl_port,
                       machine_cpus)
    except Exception:
        print(f"rank {rank} failed:", file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(EXIT_ERROR)  # skip atexit handlers, which may wait on dead peers
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_WRONG if bad else 0)


# --- the parent -----------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args):
    if not dist.is_available() or not dist.is_gloo_available():
        print("torch_plugin_perf: this torch build has no gloo backend", file=sys.stderr)
        return EXIT_USAGE
    deadline = STARTED + args.timeout
    bound = datetime.timedelta(seconds=args.timeout)
    store = dist.TCPStore("127.0.0.1", 0, args.np + 1, True, bound, wait_for_workers=False)
    gccl_port = free_port()
    context = multiprocessing.get_context("spawn")
    ranks = base.placement_for(args.bind, args.np)
    procs = [context.Process(target=rank_main, name=f"rank {r}",
                             args=(r, args.np, args, os.getpid(), ranks, store.port, gccl_port,
                                   len(os.sched_getaffinity(0))))
             for r in range(args.np)]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        for p in procs:
            p.start()
        code = base.wait_all(procs, deadline, tool="torch_plugin_perf")
        if code == EXIT_TIMEOUT:
            print(f"torch_plugin_perf: timed out after {args.timeout} s; killing the ranks",
                  file=sys.stderr, flush=True)
        return code
    finally:
        base.stop(procs)
        del store


def main():
    return launch(parse_args())


if __name__ == "__main__":
    sys.exit(main())
