#!/usr/bin/env python3
"""The one summary of scripts/gpu_check.sh: the GPU, every step's outcome, and per rank count
and size the in-place bus bandwidth of gccl with host buffers, gccl with device buffers and
torch.distributed's gloo, with issue 15's two ratios against their targets.

Reads what gpu_check.sh leaves in --dir: steps.tsv, gpu.txt and json/*.json (the perf tools'
--json). Exit status: 0 when every step that ran passed, 1 when a step failed, timed out or was
not reached, 2 when there was no GPU (and no --dry-run). Standard library only.

  scripts/gpu_summary.py --dir /tmp/gccl-gpu-check --np "2 4" --have-gpu 1
"""
import argparse
import json
import os
import sys

# Issue 15's targets: staged device buffers cost at most 10% against host buffers, and beat
# PyTorch's gloo on the same CUDA tensors by 20%.
DEVICE_VS_HOST_TARGET = 0.9
DEVICE_VS_TORCH_TARGET = 1.2
BAD_STATUSES = ("FAIL", "TIMEOUT", "NOTRUN")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dir", required=True, help="gpu_check.sh's output folder")
    p.add_argument("--np", default="2 4", help='rank counts, e.g. "2 4"')
    p.add_argument("--have-gpu", type=int, choices=[0, 1], default=1)
    p.add_argument("--dry-run", type=int, choices=[0, 1], default=0)
    p.add_argument("--torch-device", choices=["cuda", "cpu"], default="cuda",
                   help="where the torch-gloo runs kept their tensors (cpu without a GPU)")
    p.add_argument("--mode", choices=["ip", "oop"], default="ip",
                   help="in-place (default) or out-of-place times")
    return p.parse_args()


def read_steps(folder):
    """[(name, status, seconds, detail)] in the order the steps ran."""
    steps = []
    try:
        with open(os.path.join(folder, "steps.tsv")) as f:
            for line in f:
                fields = line.rstrip("\n").split("\t") + ["", "", ""]
                steps.append(tuple(fields[:4]))
    except OSError as e:
        steps.append(("steps.tsv", "FAIL", "0", str(e)))
    return steps


def read_gpu(folder):
    try:
        with open(os.path.join(folder, "gpu.txt")) as f:
            return "; ".join(line.strip() for line in f if line.strip()) or "unknown"
    except OSError:
        return "unknown (no gpu.txt)"


def busbw_by_size(path, mode):
    """{bytes: busbw} of one run's JSON, or {} when the run left none."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    run = data[0] if isinstance(data, list) else data
    return {r["bytes"]: r[mode]["busbw"] for r in run.get("results", [])}


def human(nbytes):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if nbytes >= 1 << shift and nbytes % (1 << shift) == 0:
            return f"{nbytes >> shift} {unit}"
    return f"{nbytes} B"


def ratio_cell(numerator, denominator, target):
    """The cell, e.g. '0.95 (met)', and whether the target is met; '—' and None when a side
    is missing."""
    if numerator is None or not denominator:
        return "—", None
    value = numerator / denominator
    met = value >= target
    return f"{value:.2f} ({'met' if met else 'NOT met'})", met


def bandwidth_rows(folder, nps, mode, device):
    """Table rows, and per target the list of met/unmet outcomes."""
    rows, outcomes = [], {"host": [], "torch": []}
    for n in nps:
        load = lambda name: busbw_by_size(os.path.join(folder, "json", f"{name}_np{n}.json"), mode)
        host, dev, gloo = load("gccl_host"), load("gccl_device"), load(f"torch_gloo_{device}")
        for size in sorted(set(host) | set(dev) | set(gloo)):
            h, d, t = host.get(size), dev.get(size), gloo.get(size)
            vs_host, met_host = ratio_cell(d, h, DEVICE_VS_HOST_TARGET)
            vs_torch, met_torch = ratio_cell(d, t, DEVICE_VS_TORCH_TARGET)
            for key, met in (("host", met_host), ("torch", met_torch)):
                if met is not None:
                    outcomes[key].append(met)
            rows.append([str(n), human(size), fmt(h), fmt(d), fmt(t), vs_host, vs_torch])
    return rows, outcomes


def fmt(x):
    return "—" if x is None else f"{x:.2f}"


def table(header, rows):
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).rjust(w) for c, w in zip(cells, widths)) + " |"
    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(header), rule] + [line(r) for r in rows])


def target_line(name, outcomes):
    if not outcomes:
        return f"  {name}: not measured"
    met = sum(outcomes)
    return f"  {name}: met in {met} of {len(outcomes)} rows"


def grad_rows(folder):
    """grad_bench's step times per mode, gradients in host memory beside device memory."""
    times = {}
    for device in ("host", "cuda"):
        try:
            with open(os.path.join(folder, "json", f"grad_bench_{device}.json")) as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        for r in data.get("results", []):
            times.setdefault(r["mode"], {})[device] = r["step_ms"]
    return [[mode, fmt(t.get("host")), fmt(t.get("cuda"))] for mode, t in times.items()]


def verdict(steps, have_gpu, dry_run):
    """(exit status, line) from the steps' outcomes."""
    bad = [f"{name} ({status})" for name, status, _, _ in steps if status in BAD_STATUSES]
    failed = f"; not passed: {', '.join(bad)}" if bad else ""
    if not have_gpu and not dry_run:
        return 2, f"NO GPU: the device checks did not run{failed}"
    if bad:
        return 1, f"FAIL{failed}"
    if not have_gpu:
        return 0, "DRY RUN without a GPU: the host steps passed, the device steps were skipped"
    return 0, "PASS: every step passed"


def main():
    args = parse_args()
    nps = [int(n) for n in args.np.split()]
    steps = read_steps(args.dir)
    device = args.torch_device
    mode = "in-place" if args.mode == "ip" else "out-of-place"
    print("\n==== gccl GPU check (issue 15) ====")
    print(f"GPU: {read_gpu(args.dir)}")
    print("Steps:")
    for name, status, seconds, detail in steps:
        print(f"  {status:<7} {seconds:>4} s  {name}{'  — ' + detail if detail else ''}")
    rows, outcomes = bandwidth_rows(args.dir, nps, args.mode, device)
    print(f"\nAllreduce bus bandwidth, GB/s ({mode}, float32 sum; a call's time is its slowest "
          "rank's, the figure the median call)\n")
    header = ["ranks", "size", "gccl host", "gccl device", f"torch-gloo {device}",
              f"device/host (>= {DEVICE_VS_HOST_TARGET})",
              f"device/torch (>= {DEVICE_VS_TORCH_TARGET})"]
    print(table(header, rows) if rows else "(no results)")
    print("\nTargets:")
    print(target_line(f"gccl device / gccl host >= {DEVICE_VS_HOST_TARGET}", outcomes["host"]))
    print(target_line(f"gccl device / torch-gloo {device} >= {DEVICE_VS_TORCH_TARGET}",
                      outcomes["torch"]))
    grads = grad_rows(args.dir)
    if grads:
        print("\nGradient sync step, ms (grad_bench, ResNet-50, 2 ranks, median; device: copy "
              "mode from GPU memory, lazy_fp16 converting on the GPU)\n")
        print(table(["mode", "host memory", "GPU memory"], grads))
    status, line = verdict(steps, args.have_gpu, args.dry_run)
    print(f"\nResult: {line}")
    print(f"Logs and JSON: {args.dir}")
    return status


if __name__ == "__main__":
    sys.exit(main())
