#!/usr/bin/env python3
"""simulate against this machine: calibrate, measure, predict, compare (docs/benchmarks.md).

  python3 perf/simulate/validate.py --reps 5 --save m.json     measure, then compare
  python3 perf/simulate/validate.py --load m.json               compare saved measurements

Calibration, on loopback TCP, from runs other than the ones predicted:
  alpha        4-byte allreduce, 2 ranks, recursive doubling: one message each way
  beta(size)   tcp_stream_perf, 2 ranks: bytes per link / (time - alpha). A rank's core copies
               both ways (--intra-on-core), so its one-way rate is twice the stream's. 1 MiB
               buffers stay in cache and stream ~2x faster than 64 MiB ones: each size its own.
  gamma(size)  kernels_bench sum/float32 at that size (GB/s of traffic / 3: two reads, a write)
  wakeup(N)    N ranks on 2 cores do not spin (they yield, then sleep): what a 4-byte allreduce
               at N ranks takes beyond the model without it, per receive on its critical path
Validation: allreduce_perf --np N -b 1M -e 64M -f 64 -n 10 -w 3 under GCCL_ALGO=ring and
recursive_doubling for N = 2, 3, 4; the engine runs ring where recursive doubling does not
apply (N = 3; above 16 MiB), and the row says so. Medians over --reps of out-of-place and
in-place times together.

The machine may be shared: a run counts only if other processes used less than --quiet cores
while it ran (/proc/stat against our children's rusage); otherwise it is repeated.
"""
import argparse, json, os, resource, statistics, subprocess, sys, tempfile, time

BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../build/bin')
SIZES = (1 << 20, 64 << 20)
RANKS = (2, 3, 4)
ALGOS = ('ring', 'recursive_doubling')
CORES = 2


def busy_seconds():
    fields = list(map(int, open('/proc/stat').readline().split()[1:9]))
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf('SC_CLK_TCK')


def quiet_run(cmd, env, quiet):
    """stdout of `cmd` from a run that others did not disturb (or the last try)."""
    for attempt in range(60):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy0, t0 = busy_seconds(), time.time()
        out = subprocess.run(cmd, shell=True, env={**os.environ, **env}, capture_output=True,
                             text=True).stdout
        busy1, t1 = busy_seconds(), time.time()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        ours = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        others = (busy1 - busy0 - ours) / (t1 - t0)
        if others < quiet:
            break
        time.sleep(5)
    settings = ' '.join(f'{k}={v}' for k, v in env.items())
    print(f'# {settings} {cmd}: others {others:.2f} cores, try {attempt}', file=sys.stderr)
    return out


def table_rows(text):
    """{bytes: [out-of-place us, in-place us]} from an nccl-tests shaped table."""
    rows = {}
    for line in text.splitlines():
        fields = line.split()
        if not line.startswith('#') and len(fields) >= 12:
            rows[int(fields[0])] = [float(fields[4]), float(fields[8])]
    return rows


def plan():
    perf = f'{BIN}/allreduce_perf'
    # The model is calibrated on a TCP stream: the ranks must talk TCP too, not the shared
    # memory that local ranks take by default.
    tcp = {'GCCL_TRANSPORT': 'tcp'}
    doubling = {**tcp, 'GCCL_ALGO': 'recursive_doubling'}
    runs = [(f'lat{n}', f'{perf} --np {n} -b 4 -e 4 -n 200 -w 20', doubling) for n in RANKS]
    runs.append(('stream2', f'{BIN}/tcp_stream_perf --np 2 -b 1M -e 64M -f 64 -n 10 -w 3', {}))
    for n in RANKS:
        for algo in ALGOS:
            runs.append((f'ar{n}_{algo}', f'{perf} --np {n} -b 1M -e 64M -f 64 -n 10 -w 3',
                         {**tcp, 'GCCL_ALGO': algo}))
    return runs


def reduce_rates(quiet):
    """{size: bytes/s} of the float32 sum, per byte of one operand."""
    out = quiet_run(f"{BIN}/kernels_bench --benchmark_filter='^sum/float32/(1048576|67108864)$' "
                    '--benchmark_repetitions=5 --benchmark_report_aggregates_only=true '
                    '--benchmark_format=json', {}, quiet)
    return {int(b['name'].split('/')[2].split('_')[0]): b['bytes_per_second'] / 3
            for b in json.loads(out)['benchmarks'] if b['name'].endswith('_median')}


def measure(reps, quiet, path):
    saved = {'gamma': reduce_rates(quiet), 'runs': []}
    for rep in range(reps):
        for name, cmd, env in plan():
            saved['runs'].append({'rep': rep, 'name': name, 'rows': table_rows(
                quiet_run(cmd, env, quiet))})
            if path:
                json.dump(saved, open(path, 'w'))
    return saved


def samples(runs):
    """{(name, bytes): [us]} over every repetition, out-of-place and in-place together."""
    found = {}
    for r in runs:
        for size, times in r['rows'].items():
            found.setdefault((r['name'], int(size)), []).extend(times)
    return found


def simulate(n, algo, size, alpha, beta, gamma, wakeup):
    """(command, simulated us, the algorithm the engine runs)."""
    args = ['--nranks', str(n), '--ranks-per-host', str(n), '--cores-per-host', str(CORES),
            '--intra-on-core', '1', '--algo', algo, '--intra-alpha-us', f'{alpha:.2f}',
            '--intra-bandwidth-gbps', f'{2 * beta * 8 / 1e9:.2f}',
            '--reduce-gbps', f'{gamma * 8 / 1e9:.1f}', '--wakeup-us', f'{wakeup:.2f}',
            '-b', str(size), '-e', str(size)]
    with tempfile.NamedTemporaryFile(suffix='.json') as f:
        subprocess.run([f'{BIN}/simulate', *args, '--json', f.name], check=True,
                       capture_output=True)
        row = json.load(open(f.name))['results'][0]
    return 'simulate ' + ' '.join(args), row['time_us'], row.get('selected', algo)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--quiet', type=float, default=0.12)
    parser.add_argument('--save')
    parser.add_argument('--load')
    args = parser.parse_args()
    saved = json.load(open(args.load)) if args.load else measure(args.reps, args.quiet, args.save)
    gamma = {int(k): v for k, v in saved['gamma'].items()}
    times = samples(saved['runs'])
    m = {k: statistics.median(v) for k, v in times.items()}
    alpha = m[('lat2', 4)]
    beta = {s: s / ((m[('stream2', s)] - alpha) * 1e-6) for s in SIZES}
    # The 4-byte runs time log2(N) or 2(N-1) receives: the simulated time grows by that many
    # microseconds per microsecond of wakeup.
    wakeup = {2: 0.0}
    for n in RANKS[1:]:
        base = simulate(n, 'recursive_doubling', 4, alpha, beta[SIZES[0]], gamma[SIZES[0]], 0)[1]
        per = simulate(n, 'recursive_doubling', 4, alpha, beta[SIZES[0]], gamma[SIZES[0]], 1)[1]
        wakeup[n] = max(0.0, (m[(f'lat{n}', 4)] - base) / (per - base))
    print(f'calibration: alpha {alpha:.1f} us; ' + '; '.join(
        f'{s >> 20} MiB: stream {beta[s] / 1e9:.2f} GB/s, reduce {gamma[s] / 1e9:.1f} GB/s'
        for s in SIZES) + '; ' + ', '.join(f'wakeup at {n} ranks {wakeup[n]:.1f} us'
                                          for n in RANKS[1:]) + '\n')
    print('| ranks | size | GCCL_ALGO (runs) | measured µs: median (min-max) | simulated µs | '
          'sim / measured |')
    print('|---:|---:|---|---:|---:|---:|')
    commands = []
    for n in RANKS:
        for size in SIZES:
            for algo in ALGOS:
                cmd, sim, runs = simulate(n, algo, size, alpha, beta[size], gamma[size], wakeup[n])
                commands.append(cmd)
                key = (f'ar{n}_{algo}', size)
                label = algo if runs == algo else f'{algo} ({runs})'
                print(f'| {n} | {size >> 20} MiB | {label} | {m[key]:.0f} ({min(times[key]):.0f}-'
                      f'{max(times[key]):.0f}) | {sim:.0f} | {sim / m[key]:.2f} |')
    print('\n```sh\n' + '\n'.join(commands) + '\n```')


if __name__ == '__main__':
    main()
