#!/usr/bin/env python3
"""Runs a test script as N ranks: real processes meeting through gccl's TCP store on
127.0.0.1, as a launcher would start them. Exits 0 only when every rank exits 0 within the
time limit; otherwise prints every rank's output and exits 1 (124 on the time limit, after
killing the ranks it started).

  launch.py --np 3 [--timeout 120] [--env K=V ...] [--torchrun] script.py [args...]

Each rank gets GCCL_RANK, GCCL_WORLD_SIZE, GCCL_ROOT_ADDR and GCCL_ROOT_PORT (a port that was
free a moment before: a launch that finds it taken meanwhile is started again, twice at
most), or with --torchrun the variables torchrun sets instead (RANK,
WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT: gccl's store then takes
MASTER_PORT + 1), and a PYTHONPATH that finds the checkout's python/gccl.
"""
import argparse
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

PYTHON_DIR = pathlib.Path(__file__).resolve().parents[2] / "python"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--np", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--env", action="append", default=[], help="K=V for every rank")
    parser.add_argument("--torchrun", action="store_true", help="torchrun's variables")
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    return parser.parse_args()


def launch(options, deadline):
    """Starts the ranks once; returns (exit status, every rank's output)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PYTHON_DIR), env.get("PYTHONPATH")]))
    if options.torchrun:
        env.update(WORLD_SIZE=str(options.np), LOCAL_WORLD_SIZE=str(options.np),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port() - 1))
    else:
        env.update(GCCL_WORLD_SIZE=str(options.np), GCCL_ROOT_ADDR="127.0.0.1",
                   GCCL_ROOT_PORT=str(free_port()))
    env.update(item.split("=", 1) for item in options.env)
    ranks = []
    for rank in range(options.np):
        log = tempfile.TemporaryFile()
        mine = {"RANK": str(rank), "LOCAL_RANK": str(rank)} if options.torchrun \
            else {"GCCL_RANK": str(rank)}
        process = subprocess.Popen([sys.executable, options.script, *options.args],
                                   env={**env, **mine}, stdout=log, stderr=subprocess.STDOUT)
        ranks.append((process, log))
    timed_out = False
    for process, _ in ranks:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            break
    if timed_out:
        for process, _ in ranks:
            if process.poll() is None:
                process.kill()
                process.wait()
    outputs = []
    for process, log in ranks:
        log.seek(0)
        outputs.append((process.returncode, log.read().decode(errors="replace")))
    status = 124 if timed_out else int(any(code != 0 for code, _ in outputs))
    return status, outputs


def main():
    options = parse_args()
    deadline = time.monotonic() + options.timeout
    for attempt in range(3):
        status, outputs = launch(options, deadline)
        # The store's port was free when picked, and taken (another test) when rank 0 bound it.
        if status != 1 or not any("Address already in use" in text for _, text in outputs):
            break
        print(f"launch.py: the store's port was taken meanwhile; again ({attempt + 1})")
    for rank, (code, text) in enumerate(outputs):
        if status or os.environ.get("LAUNCH_VERBOSE"):
            print(f"--- rank {rank} (exit {code})\n{text}", end="")
    if status == 124:
        print(f"launch.py: killed the ranks after {options.timeout} s", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
