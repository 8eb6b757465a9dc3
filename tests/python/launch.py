#!/usr/bin/env python3
"""Runs a test script as N ranks: real processes meeting through gccl's TCP store on
127.0.0.1, as a launcher would start them. Exits 0 only when every rank exits 0 within the
time limit; otherwise prints every rank's output and exits 1 (124 on the time limit, after
killing the ranks it started).

  launch.py --np 3 [--timeout 120] [--env K=V ...] [--torchrun] script.py [args...]

Each rank gets GCCL_RANK, GCCL_WORLD_SIZE, GCCL_ROOT_ADDR and GCCL_ROOT_PORT (a port that was
free a moment before), or with --torchrun the variables torchrun sets instead (RANK,
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--np", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--env", action="append", default=[], help="K=V for every rank")
    parser.add_argument("--torchrun", action="store_true", help="torchrun's variables")
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()

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

    deadline = time.monotonic() + options.timeout
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
    failed = timed_out or any(process.returncode != 0 for process, _ in ranks)
    for rank, (process, log) in enumerate(ranks):
        log.seek(0)
        text = log.read().decode(errors="replace")
        if failed or os.environ.get("LAUNCH_VERBOSE"):
            print(f"--- rank {rank} (exit {process.returncode})\n{text}", end="")
    if timed_out:
        print(f"launch.py: killed the ranks after {options.timeout} s", file=sys.stderr)
        return 124
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
